// Writes SETTINGS.md and values.schema.json from the settings schema.
// With --check, writes nothing and fails when either file is stale.
import * as fs from 'node:fs';
import { settingsJsonSchema, settingsReference } from '../lib/config/reference';

const outputs: Record<string, string> = {
  'SETTINGS.md': settingsReference(),
  'values.schema.json': `${JSON.stringify(settingsJsonSchema(), null, 2)}\n`,
};
const check = process.argv.includes('--check');
let stale = 0;
for (const [file, content] of Object.entries(outputs)) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current === content) continue;
  if (check) {
    console.error(`${file} is stale: run npm run docs`);
    stale++;
  } else {
    fs.writeFileSync(file, content);
    console.log(`wrote ${file}`);
  }
}
process.exitCode = stale ? 1 : 0;
