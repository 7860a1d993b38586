/**
 * The scripts the stack ships (charts/<component>/*.py and *.sh, mounted from ConfigMaps) are
 * linted like code: ruff (pinned in builds/linter-versions.sh, installed by
 * builds/install-linters.sh) and shellcheck (the distribution's package). Their settings are
 * charts/ruff.toml and charts/.shellcheckrc; any finding fails.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKUP_ENV, DATABASE_SH, OBJECT_STORE_SH, PRE_MIGRATION_RECORD } from '../charts/backup/scripts';
import { MIGRATE_ENV, MIGRATE_PY, REDACT_ENV, REDACT_OUTPUT_PY, WAIT_FOR_MODELS_ENV, WAIT_FOR_MODELS_PY } from '../charts/letta/scripts';
import { projectRoot } from '../lib/kit/project-file';
import { missingReason, pinnedTools } from '../tools/linters';
import { available } from '../tools/requirements';

const ROOT = projectRoot();
const CHARTS = path.join(ROOT, 'charts');

/** Every file under charts/ whose name ends with `extension`, as a path from the repository root. */
function shipped(extension: string): string[] {
  return (fs.readdirSync(CHARTS, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((file) => file.endsWith(extension))
    .map((file) => path.join('charts', file))
    .sort();
}

function run(bin: string, args: string[]) {
  return spawnSync(bin, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

describe('the scripts the charts ship', () => {
  it('GIVEN the environment names the charts set WHEN the scripts are read THEN each script reads the names set for it', () => {
    for (const name of Object.values(MIGRATE_ENV)) expect(MIGRATE_PY).toContain(`"${name}"`);
    expect(MIGRATE_PY).toContain(`"${BACKUP_ENV.lettaImage}"`);
    expect(MIGRATE_PY).toContain(`${PRE_MIGRATION_RECORD.schema}.${PRE_MIGRATION_RECORD.table}`);
    expect(REDACT_OUTPUT_PY).toContain(`"${REDACT_ENV}"`);
    for (const name of Object.values(WAIT_FOR_MODELS_ENV)) expect(WAIT_FOR_MODELS_PY).toContain(`"${name}"`);
    const { remotePath, ...databaseNames } = BACKUP_ENV;
    for (const name of Object.values(databaseNames)) expect(DATABASE_SH).toContain(`\${${name}`);
    expect(DATABASE_SH).toContain(`${PRE_MIGRATION_RECORD.schema}.${PRE_MIGRATION_RECORD.table}`);
    for (const name of [remotePath, BACKUP_ENV.retention]) expect(OBJECT_STORE_SH).toContain(`\${${name}}`);
  });

  const { ruff } = pinnedTools({ ruff: 'RUFF' });
  it.runIf(available('scripts-lint ruff', missingReason(ruff), 'ruff'))('GIVEN every Python script WHEN ruff checks it THEN there is no finding', () => {
    const result = run(ruff.bin, ['check', '--no-cache', '--output-format=concise', ...shipped('.py')]);
    expect(result.stdout + result.stderr, 'ruff findings').toContain('All checks passed!');
    expect(result.status).toBe(0);
  });

  const shellcheckMissing = run('shellcheck', ['--version']).status === 0 ? undefined : 'shellcheck is not on PATH; install the distribution package (apt-get install shellcheck)';
  it.runIf(available('scripts-lint shellcheck', shellcheckMissing, 'shellcheck'))('GIVEN every shell script WHEN shellcheck checks it THEN there is no finding', () => {
    const result = run('shellcheck', ['--format=gcc', ...shipped('.sh')]);
    expect(result.stdout + result.stderr, 'shellcheck findings').toBe('');
    expect(result.status).toBe(0);
  });
});
