#!/usr/bin/env bash
# Entrypoint of the letta-k8s twin of pgvector/pgvector:0.8.1-pg15. Written for this project to
# behave like the official postgres image's entrypoint (docker-library/postgres) in what users
# rely on:
#   - POSTGRES_PASSWORD / POSTGRES_USER / POSTGRES_DB / POSTGRES_INITDB_ARGS, each also as a
#     *_FILE variable naming a file that holds the value (not both at once);
#   - POSTGRES_HOST_AUTH_METHOD (default: the server's password_encryption, scram-sha-256),
#     POSTGRES_INITDB_WALDIR, PGDATA, PGPORT;
#   - on an empty PGDATA: initdb (through nss_wrapper when the uid has no passwd entry, so any
#     --user works), a "host all all all <method>" line in pg_hba.conf, a socket-only temporary
#     server, CREATE DATABASE POSTGRES_DB, then /docker-entrypoint-initdb.d/* in name order
#     (*.sh run if executable, else sourced; *.sql, *.sql.gz, *.sql.xz, *.sql.zst through psql
#     with ON_ERROR_STOP), and a fast stop;
#   - started as root it fixes ownership and steps down to "postgres" with gosu;
#   - a first argument starting with "-" means "postgres <args>"; anything else is exec'd.
# It can be sourced (the functions only) by docker-ensure-initdb.sh and by init scripts.
set -Eeo pipefail

pg_err() { printf 'error: %s\n' "$*" >&2; exit 1; }

# read_setting NAME [DEFAULT]: NAME from the environment, or from the file named by NAME_FILE.
read_setting() {
  local name=$1 file_name="${1}_FILE" value=${2:-}
  if [ -n "${!name:-}" ] && [ -n "${!file_name:-}" ]; then
    pg_err "both $name and $file_name are set (but are exclusive)"
  fi
  if [ -n "${!name:-}" ]; then
    value=${!name}
  elif [ -n "${!file_name:-}" ]; then
    value=$(< "${!file_name}")
  fi
  export "$name=$value"
  unset "$file_name"
}

pg_load_settings() {
  read_setting POSTGRES_PASSWORD
  read_setting POSTGRES_USER postgres
  read_setting POSTGRES_DB "$POSTGRES_USER"
  read_setting POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  : "${PGDATA:?PGDATA must be set}"
  declare -g DATABASE_ALREADY_EXISTS=${DATABASE_ALREADY_EXISTS:-}
  # PG_VERSION is the file every initialised data directory has.
  if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

pg_prepare_directories() {
  mkdir -p "$PGDATA"
  # Postgres insists on 0700; a volume may not allow changing it (Postgres then says why).
  chmod 0700 "$PGDATA" 2>/dev/null || :
  mkdir -p /var/run/postgresql 2>/dev/null || :
  chmod 3775 /var/run/postgresql 2>/dev/null || :
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    [ "$(id -u)" != 0 ] || find "$POSTGRES_INITDB_WALDIR" ! -user postgres -exec chown postgres {} +
    chmod 0700 "$POSTGRES_INITDB_WALDIR"
  fi
  if [ "$(id -u)" = 0 ]; then
    find "$PGDATA" /var/run/postgresql ! -user postgres -exec chown postgres {} +
  fi
}

pg_check_settings() {
  if [ "${#POSTGRES_PASSWORD}" -ge 100 ]; then
    echo 'WARNING: POSTGRES_PASSWORD has 100 or more characters, which psql cannot use through PGPASSWORD.' >&2
  fi
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value,
       or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password
       (not recommended).
EOF
    exit 1
  fi
  if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
    echo 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust lets anyone who reaches the port in without a password.' >&2
  fi
}

# initdb checks that the current uid has a passwd entry: give an arbitrary uid one through
# nss_wrapper for the duration of initdb.
pg_initdb() {
  local uid gid lib nss_dir=
  uid=$(id -u) gid=$(id -g)
  if ! getent passwd "$uid" >/dev/null 2>&1; then
    for lib in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so /lib/*/libnss_wrapper.so; do
      [ -s "$lib" ] || continue
      nss_dir=$(mktemp -d)
      printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$uid" "$gid" "$PGDATA" > "$nss_dir/passwd"
      printf 'postgres:x:%s:\n' "$gid" > "$nss_dir/group"
      export LD_PRELOAD=$lib NSS_WRAPPER_PASSWD=$nss_dir/passwd NSS_WRAPPER_GROUP=$nss_dir/group
      break
    done
  fi
  local extra=()
  [ -z "${POSTGRES_INITDB_WALDIR:-}" ] || extra+=(--waldir "$POSTGRES_INITDB_WALDIR")
  # POSTGRES_INITDB_ARGS is a shell word list (as upstream: evaluated); initdb's --pwfile needs a
  # newline even for an empty password.
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "${extra[@]}" "$@"'
  if [ -n "$nss_dir" ]; then
    rm -rf "$nss_dir"
    unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  fi
}

# pg_hba_allow_hosts [postgres] [ARGS...]: every host may connect with the auth method.
pg_hba_allow_hosts() {
  [ "${1:-}" != postgres ] || shift
  if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
    POSTGRES_HOST_AUTH_METHOD=$(postgres -C password_encryption "$@")
  fi
  {
    echo
    [ "$POSTGRES_HOST_AUTH_METHOD" != trust ] || echo '# trust: any host connects without a password'
    echo "host all all all $POSTGRES_HOST_AUTH_METHOD"
  } >> "$PGDATA/pg_hba.conf"
}

# psql_run [PSQL ARGS...]: psql as POSTGRES_USER on the local socket, stopping at the first error.
psql_run() {
  local cmd=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  [ -z "$POSTGRES_DB" ] || cmd+=(--dbname "$POSTGRES_DB")
  PGHOST='' PGHOSTADDR='' "${cmd[@]}" "$@"
}
# The official entrypoint's names, for init scripts that call them.
docker_process_sql() { psql_run "$@"; }

pg_temp_start() {
  [ "${1:-}" != postgres ] || shift
  set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

pg_temp_stop() {
  PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

pg_create_database() {
  local found
  found=$(POSTGRES_DB='' psql_run --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<'EOF'
SELECT 1 FROM pg_database WHERE datname = :'db';
EOF
)
  if [ -z "$found" ]; then
    POSTGRES_DB='' psql_run --dbname postgres --set db="$POSTGRES_DB" <<'EOF'
CREATE DATABASE :"db";
EOF
  fi
}

# run_init_files FILE...: the initdb.d scripts, by kind.
run_init_files() {
  local f
  # psql as an array, as scripts written for the official image expect.
  psql=(docker_process_sql)
  echo
  for f in "$@"; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
      *.sql) echo "$0: running $f"; psql_run -f "$f" ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql_run ;;
      *.sql.xz) echo "$0: running $f"; xzcat "$f" | psql_run ;;
      *.sql.zst) echo "$0: running $f"; zstd -dc "$f" | psql_run ;;
      *) echo "$0: ignoring $f" ;;
    esac
    echo
  done
}
docker_process_init_files() { run_init_files "$@"; }

# pg_initialize [postgres ARGS...]: a new cluster in the empty PGDATA, set up as described above.
pg_initialize() {
  pg_check_settings
  # Fails early (before initdb) when the init directory is unreadable.
  ls /docker-entrypoint-initdb.d/ >/dev/null
  pg_initdb
  pg_hba_allow_hosts "$@"
  # For 'local' connections when POSTGRES_INITDB_ARGS made them need a password.
  export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
  pg_temp_start "$@"
  pg_create_database
  run_init_files /docker-entrypoint-initdb.d/*
  pg_temp_stop
  unset PGPASSWORD
  printf '\nPostgreSQL init process complete; ready for start up.\n\n'
}

# Arguments that make postgres print something and exit: no initialisation for those.
pg_only_informs() {
  local a
  for a; do
    case "$a" in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
  done
  return 1
}

pg_main() {
  if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
  if [ "$1" = postgres ] && ! pg_only_informs "$@"; then
    pg_load_settings
    pg_prepare_directories
    if [ "$(id -u)" = 0 ]; then exec gosu postgres "${BASH_SOURCE[0]}" "$@"; fi
    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      pg_initialize "$@"
    else
      printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
    fi
  fi
  exec "$@"
}

# Sourced (by docker-ensure-initdb.sh or an init script): define the functions only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  pg_main "$@"
fi
