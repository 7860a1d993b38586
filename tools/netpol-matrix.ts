// npm run netpol:matrix: prints who may open which port on whom, computed from the synthesized
// NetworkPolicies of every profile. With --write, also replaces the copy in README.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MATRIX_END, MATRIX_START, matrixSection } from './stack-netpol';

const section = matrixSection();
console.log(section);
if (process.argv.includes('--write')) {
  const readme = path.resolve(__dirname, '..', 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const start = text.indexOf(MATRIX_START);
  const end = text.indexOf(MATRIX_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${MATRIX_START} ... ${MATRIX_END} block`);
  fs.writeFileSync(readme, text.slice(0, start) + section + text.slice(end + MATRIX_END.length));
  console.error('README.md updated');
}
