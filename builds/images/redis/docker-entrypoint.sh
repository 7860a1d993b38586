#!/bin/sh
# Entrypoint of the letta-k8s twin of redis:7.4.2-alpine, written for this project to behave like
# the official image's: options (or a *.conf file) as first argument mean "redis-server ...";
# as root, redis-server runs as the redis user after taking ownership of the working directory;
# a default umask of 0022 becomes 0077 (redis writes its data files private).
set -e

case "$1" in
  -*|*.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . ! -user redis -exec chown redis {} +
  exec gosu redis "$0" "$@"
fi

if [ "$(umask)" = 0022 ]; then
  umask 0077
fi

exec "$@"
