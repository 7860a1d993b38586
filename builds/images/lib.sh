# Sourced by build.sh: helpers shared by the image recipes.
# Needs: IMAGES_DIR (this folder), LETTA_K8S_CACHE (from test/tools/cache-dir.sh).

CACHE_ROOT="$LETTA_K8S_CACHE/images"
# Created up front: temporary folders are made inside it (mktemp) before anything else writes there.
mkdir -p "$CACHE_ROOT"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SUITE=bookworm
RECIPE_LABEL=dev.letta-k8s.recipe
# Bump to debootstrap the base tree anew (its recipe is base_rootfs below).
BASE_RECIPE="$DEBIAN_SUITE-minbase-1"
export DOCKER_BUILDKIT=0

log() { echo "[images] $*" >&2; }
die() { echo "[images] error: $*" >&2; exit 1; }

# phase NAME COMMAND...: runs a build phase and prints how long it took.
phase() {
  local name=$1 started=$SECONDS
  shift
  log "$name ..."
  "$@"
  log "$name: $((SECONDS - started)) s"
}

# recipe_hash PATH...: one hash over the content and names of every file under the paths.
recipe_hash() {
  (cd "$IMAGES_DIR" && find "$@" -type f -not -name '*.md' -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# image_current IMAGE HASH: the image exists and was built from this recipe hash.
image_current() {
  local have
  have=$(docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$1" 2>/dev/null) || return 1
  [ "$have" = "$2" ]
}

# in_chroot ROOT COMMAND...: runs COMMAND inside ROOT with /proc, /dev and the download caches
# mounted, in a private mount namespace so that nothing stays mounted afterwards.
# Caches: apt's .deb archive (Debian packages are fetched once; one per image, APT_ARCHIVES, so
# that builds of different images can run at once) and /cache (tool caches).
in_chroot() {
  local root=$1
  shift
  local archives=${APT_ARCHIVES:-$CACHE_ROOT/apt-archives/base}
  mkdir -p "$archives/partial" "$CACHE_ROOT/tool-cache"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root/cache"
  unshare --mount --propagation private -- bash -euo pipefail -c '
    root=$1 archives=$2 tools=$3; shift 3
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --bind "$archives" "$root/var/cache/apt/archives"
    mount --bind "$tools" "$root/cache"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
  ' in_chroot "$root" "$archives" "$CACHE_ROOT/tool-cache" "$@"
  rmdir "$root/cache"
  : > "$root/etc/resolv.conf"
}

# base_rootfs: a Debian bookworm minbase tree, debootstrapped once (kept in the cache; its
# downloads too). Prints the tree's path.
base_rootfs() {
  local hash=$BASE_RECIPE tree
  tree="$CACHE_ROOT/rootfs/$DEBIAN_SUITE-minbase"
  if [ "$(cat "$tree/.recipe" 2>/dev/null)" != "$hash" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
    rm -rf "$tree" "$tree.partial"
    mkdir -p "$CACHE_ROOT/debootstrap" "$(dirname "$tree")"
    log "debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR"
    debootstrap --variant=minbase --cache-dir="$CACHE_ROOT/debootstrap" \
      "$DEBIAN_SUITE" "$tree.partial" "$DEBIAN_MIRROR" >&2
    # The sources the images' own apt uses: the same mirror (no security suite is reachable here).
    echo "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" > "$tree.partial/etc/apt/sources.list"
    echo "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" >> "$tree.partial/etc/apt/sources.list"
    # Keep apt's downloads (the cache is bind-mounted over the archive directory).
    rm -f "$tree.partial/etc/apt/apt.conf.d/docker-clean"
    in_chroot "$tree.partial" apt-get clean
    rm -rf "$tree.partial"/var/lib/apt/lists/*
    echo "$hash" > "$tree.partial/.recipe"
    mv "$tree.partial" "$tree"
  fi
  echo "$tree"
}

# stage_tree NAME: a fresh copy of the base tree to provision, under the cache's work folder.
stage_tree() {
  local work="$CACHE_ROOT/work/$1"
  rm -rf "$work"
  mkdir -p "$(dirname "$work")"
  cp -a "$(base_rootfs)" "$work"
  rm -f "$work/.recipe"
  echo "$work"
}

# import_tree TREE IMAGE: makes a one-layer image of TREE (no metadata) and removes TREE.
import_tree() {
  tar -C "$1" --numeric-owner -c . | docker import - "$2" >/dev/null
  rm -rf "$1"
}

# docker_build IMAGE HASH CONTEXT [ARG=VALUE...]: builds CONTEXT/Dockerfile with the recipe label.
docker_build() {
  local image=$1 hash=$2 context=$3 args=()
  shift 3
  for a in "$@"; do args+=(--build-arg "$a"); done
  docker build -q --label "$RECIPE_LABEL=$hash" "${args[@]}" -t "$image" "$context" >/dev/null
}
