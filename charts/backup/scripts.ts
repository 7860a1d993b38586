/*
 * Shell programs of the backup Jobs, run from a ConfigMap. `database.sh` runs in the database
 * image, whose pg_dump and pg_restore match the server's major version; `object-store.sh` runs in
 * the S3 client's image (rclone). The password is read from a Secret file at run time, never
 * passed as an argument or written to the log.
 */

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

const record = `${PRE_MIGRATION_RECORD.schema}.${PRE_MIGRATION_RECORD.table}`;

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
export const DATABASE_SH = `#!/bin/bash
set -euo pipefail
log() { echo "letta-k8s backup: $*"; }
fail() { echo "letta-k8s backup: $*" >&2; exit 1; }
PGPASSWORD="$(cat "\${${BACKUP_ENV.passwordFile}}")"
export PGPASSWORD
database="$PGDATABASE"
sql() { psql --no-psqlrc --set ON_ERROR_STOP=1 --no-align --tuples-only --quiet "$@"; }

wait_for_server() {
  local tries=0
  until pg_isready --quiet --dbname postgres; do
    tries=$((tries + 1))
    [ "$tries" -lt 90 ] || fail "the database server $PGHOST:$PGPORT did not answer within 180 s"
    log "waiting for $PGHOST:$PGPORT"
    sleep 2
  done
}

# Letta's schema revision, empty when Letta has not migrated this database yet.
revision() {
  if [ "$(sql --dbname "$database" --command "SELECT to_regclass('alembic_version') IS NOT NULL")" = t ]; then
    sql --dbname "$database" --command "SELECT string_agg(version_num, '+' ORDER BY version_num) FROM alembic_version"
  fi
}

# A count from the maintenance database about database $database (psql interpolates :'db' only
# in what it reads from stdin).
count_about_database() { echo "$1" | sql --dbname postgres --set db="$database"; }

dump_as() {
  local dir=$1 name=$2
  mkdir -p "$dir"
  log "pg_dump of database $database to $dir/$name"
  pg_dump --dbname "$database" --format custom --file "$dir/.$name.partial"
  mv "$dir/.$name.partial" "$dir/$name"
  log "wrote $dir/$name ($(du -h "$dir/$name" | cut -f1))"
}

stamp() { date -u +%Y%m%dT%H%M%SZ; }

dump() {
  wait_for_server
  dump_as "$1" "letta-$(stamp).dump"
}

pre_migration() {
  wait_for_server
  local current
  current="$(revision)"
  if [ -z "$current" ]; then
    log "database $database has no Letta schema yet: nothing to back up before its first migration"
    return 0
  fi
  log "Letta's schema is at revision $current; dumping it before \${${BACKUP_ENV.lettaImage}} migrates it"
  local name="letta-$(stamp)-$current.dump"
  dump_as "$1" "$name"
  echo "$name" > "\${${BACKUP_ENV.stateDir}}/pre-migration-dump"
}

record() {
  local state="\${${BACKUP_ENV.stateDir}}/pre-migration-dump" name current
  if [ ! -s "$state" ]; then
    log "no pre-migration dump to record"
    return 0
  fi
  name="$(cat "$state")"
  current="\${name%.dump}"
  current="\${current#letta-*Z-}"
  wait_for_server
  sql --dbname "$database" \\
    --set revision="$current" --set image="\${${BACKUP_ENV.lettaImage}}" --set location="$name" <<'SQL'
CREATE SCHEMA IF NOT EXISTS ${PRE_MIGRATION_RECORD.schema};
CREATE TABLE IF NOT EXISTS ${record} (
  revision text NOT NULL,
  letta_image text NOT NULL,
  location text NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ${record} (revision, letta_image, location) VALUES (:'revision', :'image', :'location');
SQL
  log "recorded $name as the pre-migration dump of revision $current for \${${BACKUP_ENV.lettaImage}}"
}

prune() {
  local keep="\${${BACKUP_ENV.retention}}"
  [ -d "$1" ] || return 0
  find "$1" -maxdepth 1 -name 'letta-*.dump' -printf '%f\\n' | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
    log "deleting $1/$old (keeping the newest $keep)"
    rm -f "$1/$old"
  done
}

case "\${1:-}" in
  dump) dump "$2" ;;
  pre-migration) pre_migration "$2" ;;
  record) record ;;
  prune) prune "$2" ;;
  scheduled) dump "$2" && prune "$2" ;;
  list)
    # A folder appears with its first dump (no pre-migration/ before the first upgrade).
    for dir in "\${@:2}"; do
      [ -d "$dir" ] || continue
      find "$dir" -maxdepth 1 -name 'letta-*.dump' -printf "\${dir##*/}/%f %s bytes\\n" | sort
    done
    ;;
  store-pre-migration) pre_migration "$2" && record && prune "$2" ;;
  restore)
    file=$2
    [ -s "$file" ] || fail "$file does not exist or is empty: nothing restored"
    pg_restore --list "$file" >/dev/null || fail "$file is not a pg_dump archive: nothing restored"
    wait_for_server
    others="$(count_about_database "SELECT count(*) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid()")"
    [ "$others" = 0 ] || fail "$others other sessions are connected to database $database: scale letta-server to 0 replicas first; nothing restored"
    exists="$(count_about_database "SELECT count(*) FROM pg_database WHERE datname = :'db'")"
    if [ "$exists" = 1 ]; then
      tables="$(sql --dbname "$database" --command "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'")"
      if [ "$tables" != 0 ] && [ "\${${BACKUP_ENV.overwrite}:-false}" != true ]; then
        fail "database $database is not empty ($tables tables): nothing restored; restore with --overwrite to replace it"
      fi
      log "dropping database $database ($tables tables) to restore $file in its place"
      sql --dbname postgres --command "DROP DATABASE \\"$database\\""
    fi
    log "restoring $file as database $database"
    pg_restore --create --exit-on-error --dbname postgres "$file"
    log "restored database $database from $file: $(sql --dbname "$database" --command "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')") tables"
    ;;
  *)
    fail "usage: database.sh dump|pre-migration|prune|scheduled|store-pre-migration DIR, record, list DIR..., or restore FILE"
    ;;
esac
`;

/**
 * `object-store.sh COMMAND ...` in the rclone image, the bucket configured through rclone's
 * RCLONE_CONFIG_STORE_* variables and reached as $REMOTE (store:bucket/prefix):
 *   upload DIR FOLDER     copies the dumps in DIR to FOLDER, then keeps the newest $RETENTION there
 *   list FOLDER...        the dumps in each FOLDER, as FOLDER/NAME and size
 *   download KEY FILE     copies the dump KEY (relative to the prefix) to FILE
 */
export const OBJECT_STORE_SH = `#!/bin/sh
set -eu
log() { echo "letta-k8s backup: $*"; }
remote="\${${BACKUP_ENV.remotePath}}"
case "\${1:-}" in
  upload)
    dir=$2 folder=$3
    if [ -z "$(find "$dir" -maxdepth 1 -name 'letta-*.dump' 2>/dev/null)" ]; then
      log "nothing to upload"
      exit 0
    fi
    log "uploading to $remote/$folder/"
    rclone copy --include 'letta-*.dump' --s3-no-check-bucket "$dir" "$remote/$folder"
    keep="\${${BACKUP_ENV.retention}}"
    rclone lsf --files-only --include 'letta-*.dump' "$remote/$folder" | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
      log "deleting $remote/$folder/$old (keeping the newest $keep)"
      rclone deletefile "$remote/$folder/$old"
    done
    log "$remote/$folder/ holds $(rclone lsf --files-only --include 'letta-*.dump' "$remote/$folder" | wc -l | tr -d ' ') dumps"
    ;;
  list)
    shift
    for folder in "$@"; do rclone lsf --files-only --include 'letta-*.dump' --format ps --separator ' ' "$remote/$folder" | sed "s|^|$folder/|; s|$| bytes|"; done
    ;;
  download)
    log "downloading $remote/$2"
    rclone copyto "$remote/$2" "$3"
    ;;
  *)
    echo "usage: object-store.sh upload DIR FOLDER, list FOLDER..., or download KEY FILE" >&2
    exit 1
    ;;
esac
`;
