/*
 * Shell programs of the backup Jobs, run from a ConfigMap. `database.sh` runs in the database
 * image, whose pg_dump and pg_restore match the server's major version; `object-store.sh` runs in
 * the S3 client's image (rclone). The password is read from a Secret file at run time, never
 * passed as an argument or written to the log.
 */

import { readProjectFile } from '../../lib/kit/project-file';

/** Settings the programs read from their environment. */
export const BACKUP_ENV = {
  /** The file holding the database password (a Secret key mounted as a file). */
  passwordFile: 'LETTA_K8S_PG_PASSWORD_FILE',
  /** Dumps kept in a folder; older ones are deleted after each new dump. */
  retention: 'LETTA_K8S_BACKUP_RETENTION',
  /** The Letta image a pre-migration dump is taken for (the image about to migrate). */
  lettaImage: 'LETTA_K8S_LETTA_IMAGE',
  /** rclone's name of the bucket folder: remote:bucket/prefix. */
  remotePath: 'LETTA_K8S_BACKUP_REMOTE',
  /** A folder of the pod's own (emptyDir) where one step leaves the name of its dump for the next. */
  stateDir: 'LETTA_K8S_BACKUP_STATE',
  /** A restore may replace a database that holds tables. */
  overwrite: 'LETTA_K8S_RESTORE_OVERWRITE',
} as const;

/** The schema and table where a pre-migration dump is recorded; Letta's migration waits for its row. */
export const PRE_MIGRATION_RECORD = { schema: 'letta_k8s', table: 'pre_migration_backups' } as const;

/** Folders of the dumps, on the claim and under the bucket prefix. */
export const DUMP_FOLDERS = { scheduled: 'scheduled', preMigration: 'pre-migration' } as const;

/**
 * `database.sh COMMAND ...`, with libpq's PG* variables naming the server:
 *   dump DIR              a consistent dump (pg_dump, custom format) as DIR/letta-<UTC time>.dump
 *   pre-migration DIR     the same, named after Letta's schema revision, its name left in
 *                         $STATE; nothing when Letta has not migrated the database yet
 *   record                records that dump (named in $STATE) for $LETTA_IMAGE, once it is stored
 *   prune DIR             deletes all but the newest $RETENTION dumps in DIR
 *   scheduled DIR         dump, then prune (the scheduled backup on a claim)
 *   store-pre-migration DIR   pre-migration, record, prune (the pre-migration backup on a claim)
 *   list DIR...           the dumps in each DIR, as FOLDER/NAME and size
 *   restore FILE          restores FILE into a new database of the same name; refuses while
 *                         other sessions are connected, and refuses a database that holds tables
 *                         unless $OVERWRITE is "true"
 * A dump is written under a temporary name and renamed when complete, so a folder never holds a
 * partial dump under a dump's name.
 */
export const DATABASE_SH = readProjectFile('charts/backup/database.sh');

/**
 * `object-store.sh COMMAND ...` in the rclone image, the bucket configured through rclone's
 * RCLONE_CONFIG_STORE_* variables and reached as $REMOTE (store:bucket/prefix):
 *   upload DIR FOLDER     copies the dumps in DIR to FOLDER, then keeps the newest $RETENTION there
 *   list FOLDER...        the dumps in each FOLDER, as FOLDER/NAME and size
 *   download KEY FILE     copies the dump KEY (relative to the prefix) to FILE
 */
export const OBJECT_STORE_SH = readProjectFile('charts/backup/object-store.sh');
