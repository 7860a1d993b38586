#!/usr/bin/env bash
# Builds every `tool` package of one wrapper module under go/ (its go.mod/go.sum pin the version and
# all dependencies) into a directory.
#   build-go-tools.sh MODULE OUT_DIR [GO BUILD FLAGS...]    e.g. build-go-tools.sh coredns DIR
# CGO is off unless the flags' caller exports CGO_ENABLED=1: static binaries run in any image.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ $# -ge 2 ] || die "usage: build-go-tools.sh MODULE OUT_DIR [GO BUILD FLAGS...]"
name="$1" out="$2"
shift 2
require_go
cd "$lc_dir/go/$name"
export CGO_ENABLED="${CGO_ENABLED:-0}"
go mod download
rm -rf "$out.partial"
mkdir -p "$out.partial"
# Built beside the final directory and renamed: an interrupted build leaves nothing that looks done.
go build -trimpath -o "$out.partial/" "$@" tool >&2
[ -n "$(ls -A "$out.partial")" ] || die "$name: nothing was built"
rm -rf "$out"
mv "$out.partial" "$out"
