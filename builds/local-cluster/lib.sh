# Sourced by the local-cluster scripts: versions, cache paths, recipe hashes, phase timing.
# Every artifact lives under $LC_CACHE in a directory named after its version AND a hash of its
# recipe (the files and settings that produce it), so a changed recipe builds a new entry and an
# unchanged one is reused as it is.

lc_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$lc_dir/../cache-dir.sh"
LC_CACHE="$LETTA_K8S_CACHE/local-cluster"

# Go installed from go.dev/dl lands in /usr/local/go; prefer one already on PATH.
export PATH="$PATH:/usr/local/go/bin"
# The module proxy reachable here serves modules but not the checksum database; the wrapper
# modules' go.sum files pin every hash instead. No VCS stamping: sources come from module zips.
export GOSUMDB=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

# Pinned versions. Kubernetes' is the wrapper module's (go/kubernetes/go.mod); the Go tools' are in
# their wrapper modules under go/; these name cache entries and image tags.
K8S_VERSION="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$lc_dir/go/kubernetes/go.mod")"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_IMAGE_REPO="${LETTA_K8S_NODE_IMAGE_REPO:-letta-k8s/kind-node}"

# Docker: /usr/local/bin/docker may be a newer client than the engine; docker.io's own client is the
# one that matches it. Every script (and the kind shim) goes through $DOCKER.
if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER="$(command -v docker || true)"; fi
fi
export DOCKER

# die MESSAGE...: a clear error on stderr, exit 1.
die() { echo "error: $*" >&2; exit 1; }

# log PHASE MESSAGE...: progress on stderr (stdout carries only the results).
log() { local p="$1"; shift; echo "[$p] $*" >&2; }

# recipe_hash ARG...: 12 hex digits over the contents of every file argument (directories
# recursively, in name order) and the text of every other argument. Paths are hashed relative to
# this folder, so the hash does not depend on where the repository is checked out.
recipe_hash() {
  local a f
  for a in "$@"; do
    if [ -d "$a" ]; then
      while IFS= read -r -d '' f; do
        printf 'file %s\n' "${f#"$lc_dir"/}"; cat "$f"
      done < <(find "$a" -type f -print0 | LC_ALL=C sort -z)
    elif [ -f "$a" ]; then
      printf 'file %s\n' "${a#"$lc_dir"/}"; cat "$a"
    else
      printf 'text %s\n' "$a"
    fi
  done | sha256sum | cut -c1-12
}

# timed PHASE COMMAND...: runs COMMAND and prints "[PHASE] done in N s" (on stderr).
timed() {
  local p="$1" started=$SECONDS
  shift
  "$@"
  log "$p" "done in $((SECONDS - started)) s"
}

# require_go: Go is needed for every build phase (not for a fully cached re-run).
require_go() {
  command -v go >/dev/null 2>&1 || die "building the local cluster needs Go >= 1.25 (https://go.dev/dl/), not found on PATH"
}
