import { loadSettingsFromEnv, SettingsError } from '../config/load';
import { BackupTask, BackupTaskError } from '../../charts/backup/backup-tasks';
import { backupTaskFor } from './stack';

/*
 * `npm run --silent backup -- list` or `... restore --dump FOLDER/NAME.dump [--overwrite]`: prints
 * the Job for the profile in LETTA_PROFILE (and LETTA_VALUES), to pipe into `kubectl create -f -`.
 */
const USAGE = 'usage: npm run --silent backup -- list | restore --dump FOLDER/NAME.dump [--overwrite]';

function parse(argv: readonly string[]): BackupTask {
  const [task, ...rest] = argv;
  if (task === 'list' && rest.length === 0) return { task };
  if (task === 'restore') {
    const dumpAt = rest.indexOf('--dump');
    const dump = dumpAt >= 0 ? rest[dumpAt + 1] : undefined;
    const unknown = rest.filter((arg, index) => arg !== '--overwrite' && index !== dumpAt && index !== dumpAt + 1);
    if (!dump || dump.startsWith('--')) throw new BackupTaskError(`--dump: is required: name the dump to restore\n${USAGE}`);
    if (unknown.length > 0) throw new BackupTaskError(`${unknown[0]}: unknown argument\n${USAGE}`);
    return { task, dump, overwrite: rest.includes('--overwrite') };
  }
  throw new BackupTaskError(task ? `${task}: unknown task\n${USAGE}` : USAGE);
}

function main(): number {
  try {
    process.stdout.write(backupTaskFor(loadSettingsFromEnv(), parse(process.argv.slice(2))));
    return 0;
  } catch (error) {
    if (error instanceof SettingsError || error instanceof BackupTaskError) {
      console.error(`letta-k8s: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = main();
