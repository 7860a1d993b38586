#!/usr/bin/env bash
# Builds a Go command from the Go module proxy once and caches it.
#   build-go-tool.sh NAME PACKAGE VERSION [MODULE_DIR]
#     e.g. kube-score github.com/zegl/kube-score/cmd/kube-score v1.20.0
# With MODULE_DIR, PACKAGE is built inside that wrapper module, whose go.mod/go.sum pin it and
# every dependency: for modules that `go install pkg@version` refuses (replace directives, or a
# proxy that does not list versions). VERSION then only names the cache entry.
# Prints the binary's path on stdout (progress goes to stderr). Reuses the cached binary.
# GO_TOOL_LDFLAGS adds linker flags (a version stamp, say); GOEXPERIMENT and other Go settings in
# the environment reach the build as they are.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/cache-dir.sh"

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  echo "usage: $0 NAME PACKAGE VERSION [MODULE_DIR]" >&2
  exit 2
fi
name="$1" package="$2" version="$3" module="${4:-}"
bin_dir="$LETTA_K8S_CACHE/go-tools/$name-$version"
binary="$bin_dir/$name"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: building $name needs Go (https://go.dev/dl/), which is not on PATH" >&2
  exit 1
fi

echo "building $name $version from the Go module proxy (once; cached in $bin_dir)..." >&2
mkdir -p "$bin_dir"
started=$SECONDS
# Built next to the final path and renamed, so an interrupted build leaves no binary that looks
# complete. GOSUMDB=off: the proxy reachable here serves modules but not the checksum database;
# a wrapper's go.sum still pins every hash.
if [ -n "$module" ]; then
  (cd "$module" && GOSUMDB=off go build -trimpath -ldflags "-s -w ${GO_TOOL_LDFLAGS:-}" -o "$binary.partial" "$package") >&2
else
  GOBIN="$bin_dir/partial" GOSUMDB=off GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w ${GO_TOOL_LDFLAGS:-}" "$package@$version" >&2
  # go install names the binary after the package's last path element.
  mv "$bin_dir/partial/$(basename "$package")" "$binary.partial"
  rmdir "$bin_dir/partial"
fi
mv "$binary.partial" "$binary"
echo "built $name in $((SECONDS - started)) s" >&2
echo "$binary"
