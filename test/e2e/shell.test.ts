import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processShell } from './shell';

describe('processShell', () => {
  let dir = '';
  // Made by the hook, not the describe body, which `vitest list` also runs.
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'letta-shell-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('GIVEN a folder first on the PATH it is given WHEN a command is run THEN that folder\'s command runs (the run\'s docker shim, not the real docker)', async () => {
    writeFileSync(join(dir, 'docker'), '#!/bin/sh\necho shim "$@"\n');
    chmodSync(join(dir, 'docker'), 0o755);

    const result = await processShell.run('docker', ['version'], { env: { PATH: `${dir}${delimiter}${process.env.PATH}` }, timeoutMs: 60_000 });

    expect(result).toMatchObject({ code: 0, stdout: 'shim version\n' });
  });
});
