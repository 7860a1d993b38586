#!/usr/bin/env bash
# Builds a Go command from the Go module proxy once and caches it.
#   build-go-tool.sh NAME PACKAGE VERSION    e.g. netpolicy github.com/np-guard/netpol-analyzer/cmd/netpolicy v1.4.2
# Prints the binary's path on stdout (progress goes to stderr). Reuses the cached binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/cache-dir.sh"

if [ $# -ne 3 ]; then
  echo "usage: $0 NAME PACKAGE VERSION" >&2
  exit 2
fi
name="$1" package="$2" version="$3"
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
GOBIN="$bin_dir" GOFLAGS=-mod=mod go install "$package@$version" >&2
# go install names the binary after the package's last path element.
built="$bin_dir/$(basename "$package")"
[ "$built" = "$binary" ] || mv "$built" "$binary"
echo "built $name in $((SECONDS - started)) s" >&2
echo "$binary"
