#!/usr/bin/env bash
# Makes sure a Docker engine answers (for kind and the local-cluster build). Idempotent:
#   docker-engine.sh
# If `docker info` fails: installs docker.io from apt when dockerd is missing, starts dockerd in
# the background (log in $LETTA_K8S_CACHE/dockerd.log) and waits up to 60 s for it to answer.
# Starting an engine needs root; without root it can only report what is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/cache-dir.sh"
# docker.io's own client matches its engine; a newer client elsewhere on PATH may not.
if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker="$(command -v docker || echo docker)"; fi

answers() { "$docker" info >/dev/null 2>&1; }
answers && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "error: no Docker engine answers 'docker info', and starting one needs root" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 ||
    { echo "error: dockerd is not installed and there is no apt-get to install docker.io" >&2; exit 1; }
  echo "installing docker.io from apt..." >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >&2
  docker=/usr/bin/docker
fi
if ! pgrep -x dockerd >/dev/null; then
  mkdir -p "$LETTA_K8S_CACHE" 2>/dev/null || true
  log="$LETTA_K8S_CACHE/dockerd.log"
  touch "$log" 2>/dev/null || log=/var/log/dockerd.log
  echo "starting dockerd (log: $log)..." >&2
  # setsid + nohup: the engine outlives this script and the shell that started it, so it takes
  # no caller's temporary folder either (.ci/run removes its own at the end).
  TMPDIR=/tmp setsid nohup dockerd >>"$log" 2>&1 < /dev/null &
else
  log="a running dockerd's own log"
fi
for _ in $(seq 60); do
  answers && { echo "docker engine is up" >&2; exit 0; }
  sleep 1
done
echo "error: the Docker engine did not answer within 60 s; see $log" >&2
[ -f "$log" ] && tail -n 20 "$log" >&2
exit 1
