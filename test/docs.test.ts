import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingsJsonSchema, settingsReference } from '../lib/config/reference';

const root = path.resolve(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

describe('generated documentation', () => {
  it('GIVEN the settings schema WHEN SETTINGS.md is compared THEN it is current (run npm run docs)', () => {
    expect(read('SETTINGS.md')).toBe(settingsReference());
  });

  it('GIVEN the settings schema WHEN values.schema.json is compared THEN it is current (run npm run docs)', () => {
    expect(JSON.parse(read('values.schema.json'))).toEqual(settingsJsonSchema());
  });

  it('GIVEN the reference WHEN read THEN it documents the settings users change most', () => {
    const reference = settingsReference();
    for (const setting of ['letta.replicas', 'vllm.gpus', 'ingress.host', 'database.credentials.secretName', 'telemetry.exporter']) {
      expect(reference).toContain(`| \`${setting}\``);
    }
  });
});
