#!/bin/bash
set -euo pipefail
log() { echo "letta-k8s backup: $*"; }
fail() { echo "letta-k8s backup: $*" >&2; exit 1; }
PGPASSWORD="$(cat "${LETTA_K8S_PG_PASSWORD_FILE}")"
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
  log "Letta's schema is at revision $current; dumping it before ${LETTA_K8S_LETTA_IMAGE} migrates it"
  local name="letta-$(stamp)-$current.dump"
  dump_as "$1" "$name"
  echo "$name" > "${LETTA_K8S_BACKUP_STATE}/pre-migration-dump"
}

record() {
  local state="${LETTA_K8S_BACKUP_STATE}/pre-migration-dump" name current
  if [ ! -s "$state" ]; then
    log "no pre-migration dump to record"
    return 0
  fi
  name="$(cat "$state")"
  current="${name%.dump}"
  current="${current#letta-*Z-}"
  wait_for_server
  sql --dbname "$database" \
    --set revision="$current" --set image="${LETTA_K8S_LETTA_IMAGE}" --set location="$name" <<'SQL'
CREATE SCHEMA IF NOT EXISTS letta_k8s;
CREATE TABLE IF NOT EXISTS letta_k8s.pre_migration_backups (
  revision text NOT NULL,
  letta_image text NOT NULL,
  location text NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO letta_k8s.pre_migration_backups (revision, letta_image, location) VALUES (:'revision', :'image', :'location');
SQL
  log "recorded $name as the pre-migration dump of revision $current for ${LETTA_K8S_LETTA_IMAGE}"
}

prune() {
  local keep="${LETTA_K8S_BACKUP_RETENTION}"
  [ -d "$1" ] || return 0
  find "$1" -maxdepth 1 -name 'letta-*.dump' -printf '%f\n' | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
    log "deleting $1/$old (keeping the newest $keep)"
    rm -f "$1/$old"
  done
}

case "${1:-}" in
  dump) dump "$2" ;;
  pre-migration) pre_migration "$2" ;;
  record) record ;;
  prune) prune "$2" ;;
  scheduled) dump "$2" && prune "$2" ;;
  list)
    # A folder appears with its first dump (no pre-migration/ before the first upgrade).
    for dir in "${@:2}"; do
      [ -d "$dir" ] || continue
      find "$dir" -maxdepth 1 -name 'letta-*.dump' -printf "${dir##*/}/%f %s bytes\n" | sort
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
      if [ "$tables" != 0 ] && [ "${LETTA_K8S_RESTORE_OVERWRITE:-false}" != true ]; then
        fail "database $database is not empty ($tables tables): nothing restored; restore with --overwrite to replace it"
      fi
      log "dropping database $database ($tables tables) to restore $file in its place"
      sql --dbname postgres --command "DROP DATABASE \"$database\""
    fi
    log "restoring $file as database $database"
    pg_restore --create --exit-on-error --dbname postgres "$file"
    log "restored database $database from $file: $(sql --dbname "$database" --command "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')") tables"
    ;;
  *)
    fail "usage: database.sh dump|pre-migration|prune|scheduled|store-pre-migration DIR, record, list DIR..., or restore FILE"
    ;;
esac
