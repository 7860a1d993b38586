#!/usr/bin/env bash
# Runs the twins as the synthesized manifests run them (pod-run.js turns each container into
# docker run options: uid/gid, read-only root, no capabilities, env, mounts, command) on a
# user-defined docker network whose container names are the Services' names, and checks:
#   postgres  initialises (POSTGRES_PASSWORD_FILE, init SQL: CREATE EXTENSION vector), restarts
#             on its data; the Letta pod's wait-for-database container (pg_isready) passes
#   redis     answers PING from another container
#   collector `validate` passes on the synthesized config; it starts and accepts OTLP/HTTP
#   letta     `alembic upgrade head` (URI without query string), the manifests' migrate init
#             container, then the server container answers GET /v1/health/ with status ok
# Removes its containers, network and files afterwards (images and caches stay).
#   builds/images/verify.sh [DIST_DIR]      (default: dist/ of this repository; synthesize first)
set -euo pipefail
IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$IMAGES_DIR/../cache-dir.sh"
source "$IMAGES_DIR/lib.sh"
DIST=$(cd "${1:-$IMAGES_DIR/../../dist}" && pwd) || die "no dist directory: run npx cdk8s synth first"
COLLECTOR_TWIN=otel/opentelemetry-collector-contrib:0.161.0

NET=letta-k8s-twins-$$
mkdir -p "$CACHE_ROOT"
WORK=$(mktemp -d "$CACHE_ROOT/verify.XXXXXX")
CONTAINERS=()
cleanup() {
  [ "${#CONTAINERS[@]}" -eq 0 ] || docker rm -f -v "${CONTAINERS[@]}" >/dev/null 2>&1 || :
  docker network rm "$NET" >/dev/null 2>&1 || :
  rm -rf "$WORK"
}
trap cleanup EXIT
docker network create "$NET" >/dev/null

# pod_spec WORKLOAD CONTAINER: sets IMAGE, OPTS and CMD from the manifests.
pod_spec() {
  local words=() w i=0
  mapfile -d '' words < <(node "$IMAGES_DIR/pod-run.js" "$DIST" "$1" "$2" "$WORK")
  [ "${#words[@]}" -gt 0 ] || die "pod-run.js found nothing for $1/$2"
  IMAGE=${words[0]} OPTS=() CMD=()
  for w in "${words[@]:1}"; do
    if [ "$w" = ::command:: ]; then i=1; continue; fi
    if [ "$i" = 0 ]; then OPTS+=("$w"); else CMD+=("$w"); fi
  done
  # The manifests still pin the collector release that cannot be built here.
  if [[ "$IMAGE" == otel/opentelemetry-collector-contrib:* ]] && ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE is not built here: using $COLLECTOR_TWIN"
    IMAGE=$COLLECTOR_TWIN
  fi
}

# wait_for SECONDS COMMAND...: polls COMMAND every second; prints the seconds it took.
wait_for() {
  local limit=$1 started=$SECONDS
  shift
  until "$@" >/dev/null 2>&1; do
    [ $((SECONDS - started)) -lt "$limit" ] || return 1
    sleep 1
  done
  echo $((SECONDS - started))
}

mem_of() { docker stats --no-stream --format '{{.MemUsage}}' "$1" | cut -d/ -f1 | tr -d ' '; }

# --- postgres -------------------------------------------------------------------------------
pod_spec letta-db postgres
PG_CMD=(docker exec letta-db pg_isready -h 127.0.0.1 -p 5432 -U letta -d letta)
docker run -d --name letta-db --network "$NET" "${OPTS[@]}" "$IMAGE" "${CMD[@]}" >/dev/null
CONTAINERS+=(letta-db)
t=$(wait_for 120 "${PG_CMD[@]}") || { docker logs letta-db >&2; die "postgres did not become ready"; }
log "postgres: ready after initialisation in ${t} s"
# (grep on a variable: grep -q in a pipe would stop docker logs early, which pipefail reports)
pg_logs=$(docker logs letta-db 2>&1)
grep -q 'running /docker-entrypoint-initdb.d/init.sql' <<<"$pg_logs" || { echo "$pg_logs" >&2; die "init.sql did not run"; }
q() { docker exec letta-db psql -U letta -d letta -v ON_ERROR_STOP=1 -tAc "$1"; }
log "postgres: server $(q 'SHOW server_version'), vector extension $(q "SELECT extversion || ' in schema ' || extnamespace::regnamespace FROM pg_extension WHERE extname = 'vector'")"
log "postgres: search_path $(q 'SHOW search_path'), '[1,2,3]' <-> '[3,2,1]' = $(q "SELECT '[1,2,3]'::vector <-> '[3,2,1]'::vector")"
log "postgres: password auth over TCP: $(docker exec -e PGPASSWORD="$(cat "$WORK"/letta-db-credentials-volume/password)" letta-db \
  psql -h 127.0.0.1 -U letta -d letta -tAc 'SELECT current_user')"
docker restart letta-db >/dev/null
t=$(wait_for 60 "${PG_CMD[@]}") || { docker logs letta-db >&2; die "postgres did not restart"; }
pg_logs=$(docker logs letta-db 2>&1)
grep -q 'Skipping initialization' <<<"$pg_logs" || { echo "$pg_logs" >&2; die "restart initialised again"; }
log "postgres: restarted on its data (initialisation skipped) in ${t} s, memory $(mem_of letta-db)"

# --- redis ----------------------------------------------------------------------------------
pod_spec letta-redis redis
docker run -d --name letta-redis --network "$NET" "${OPTS[@]}" "$IMAGE" "${CMD[@]}" >/dev/null
CONTAINERS+=(letta-redis)
t=$(wait_for 30 docker exec letta-redis redis-cli -p 6379 ping) || { docker logs letta-redis >&2; die "redis not ready"; }
REDIS_IMAGE=$IMAGE
pong=$(docker run --rm --network "$NET" --read-only --user 10001:10001 --cap-drop ALL "$REDIS_IMAGE" redis-cli -h letta-redis -p 6379 ping)
[ "$pong" = PONG ] || die "redis answered '$pong' to another container"
log "redis: $(docker exec letta-redis redis-server --version | cut -d' ' -f3) ready in ${t} s; PING from another container: $pong; appendonly $(docker exec letta-redis redis-cli config get appendonly | tail -1), protected-mode $(docker exec letta-redis redis-cli config get protected-mode | tail -1)"

# --- collector ------------------------------------------------------------------------------
pod_spec letta-otel-collector otel-collector
COLLECTOR_IMAGE=$IMAGE
docker run --rm "${OPTS[@]}" "$IMAGE" validate "${CMD[@]}" || die "collector: validate failed on the synthesized config"
log "collector: validate passed on the synthesized config ($(docker run --rm "$IMAGE" --version))"
docker run -d --name letta-otel-collector --network "$NET" "${OPTS[@]}" "$IMAGE" "${CMD[@]}" >/dev/null
CONTAINERS+=(letta-otel-collector)
pod_spec letta-server server
LETTA_IMAGE=$IMAGE
probe() { docker run --rm --network "$NET" --read-only --user 10001:10001 --cap-drop ALL "$LETTA_IMAGE" curl -fsS "$@"; }
t=$(wait_for 30 probe http://letta-otel-collector:13133/) || { docker logs letta-otel-collector >&2; die "collector not healthy"; }
code=$(probe -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"verify"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"verify","kind":1,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}' \
  http://letta-otel-collector:4318/v1/traces)
[ "$code" = 200 ] || die "collector: OTLP/HTTP export answered $code"
log "collector: healthy in ${t} s, OTLP/HTTP trace accepted (HTTP $code), memory $(mem_of letta-otel-collector)"

# --- letta ----------------------------------------------------------------------------------
pod_spec letta-server wait-for-database
timeout 60 docker run --rm --network "$NET" "${OPTS[@]}" "$IMAGE" "${CMD[@]}" >/dev/null ||
  die "wait-for-database (pg_isready from $IMAGE) failed"
log "letta: wait-for-database init container passed ($IMAGE)"

pod_spec letta-server migrate
MIGRATE_OPTS=("${OPTS[@]}") MIGRATE_CMD=("${CMD[@]}")
password=$(cat "$WORK"/letta-db-credentials-volume/password)
started=$SECONDS
# In /app, where alembic.ini is (upstream's startup.sh runs it from WORKDIR /app).
docker run --rm --network "$NET" "${OPTS[@]}" --workdir /app --entrypoint alembic \
  --env "LETTA_PG_URI=postgresql://letta:$password@letta-db:5432/letta" "$IMAGE" upgrade head > "$WORK/alembic.log" 2>&1 ||
  { tail -30 "$WORK/alembic.log" >&2; die "alembic upgrade head failed"; }
log "letta: alembic upgrade head (URI without query string) in $((SECONDS - started)) s; at $(docker exec letta-db psql -U letta -d letta -tAc 'SELECT version_num FROM alembic_version')"
started=$SECONDS
docker run --rm --network "$NET" "${MIGRATE_OPTS[@]}" "$IMAGE" "${MIGRATE_CMD[@]}" > "$WORK/migrate.log" 2>&1 ||
  { tail -30 "$WORK/migrate.log" >&2; die "the manifests' migrate init container failed"; }
log "letta: migrate init container (${MIGRATE_CMD[*]}) passed in $((SECONDS - started)) s"

pod_spec letta-server server
workdir=()
# Upstream's server writes openapi_letta.json into its working directory (WORKDIR /app, read-only).
printf '%s\n' "${OPTS[@]}" | grep -qx -- --workdir || workdir=(--workdir /tmp)
[ "${#workdir[@]}" -eq 0 ] || log "letta: the server container sets no workingDir: running it in /tmp (a tmpfs)"
started=$SECONDS
docker run -d --name letta-server --network "$NET" "${OPTS[@]}" "${workdir[@]}" "$IMAGE" "${CMD[@]}" >/dev/null
CONTAINERS+=(letta-server)
health() { docker exec letta-server curl -fsS http://127.0.0.1:8283/v1/health/ | grep -q '"status":"ok"'; }
t=$(wait_for 300 health) || { docker logs letta-server 2>&1 | tail -40 >&2; die "letta server not healthy"; }
log "letta: GET /v1/health/ -> $(docker exec letta-server curl -fsS http://127.0.0.1:8283/v1/health/) after ${t} s, memory $(mem_of letta-server)"
code=$(probe -o /dev/null -w '%{http_code}' http://letta-server:8283/v1/health/)
log "letta: reachable from another container on 8283 (HTTP $code)"
docker logs letta-server > "$WORK/server.log" 2>&1
grep -iE 'error|traceback' "$WORK/server.log" | head -10 >&2 || :
log "all checks passed"
