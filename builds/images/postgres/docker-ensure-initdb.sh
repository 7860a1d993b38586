#!/usr/bin/env bash
# Initialises PGDATA as the entrypoint would, without starting the server afterwards (for an
# init container). Called as docker-enforce-initdb.sh (a symlink), it fails when PGDATA is
# already initialised instead of doing nothing. Same behaviour as the official image's scripts
# of these names; written for this project.
set -Eeo pipefail
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/docker-entrypoint.sh"

[ "$#" -gt 0 ] || set -- postgres
if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
[ "$1" = postgres ] || pg_err "$0 takes only postgres arguments"

pg_load_settings
pg_prepare_directories
if [ "$(id -u)" = 0 ]; then exec gosu postgres "${BASH_SOURCE[0]}" "$@"; fi
if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
  pg_initialize "$@"
elif [ "$(basename "$0")" = docker-enforce-initdb.sh ]; then
  pg_err "PGDATA ($PGDATA) is already initialized"
else
  echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
fi
