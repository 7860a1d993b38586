#!/usr/bin/env bash
# Builds np-guard's netpol-analyzer CLI (`netpolicy`), which test/netpol-analyzer.test.ts runs to
# cross-check lib/netpol/evaluator.ts, from the Go module proxy, once, and caches it.
#   build-netpol-analyzer.sh
# Prints the binary's path as the last line on stdout (progress goes to stderr).
# The version is pinned by the wrapper module's go.mod/go.sum in test/tools/netpol-analyzer/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/cache-dir.sh"
module="$here/netpol-analyzer"
package=github.com/np-guard/netpol-analyzer/cmd/netpolicy

version="$(awk '$1 == "github.com/np-guard/netpol-analyzer" { print $2; exit }' "$module/go.mod")"
# test/support/netpol-analyzer.ts derives the same path from the same go.mod.
binary="$LETTA_K8S_CACHE/go-tools/netpolicy-$version/netpolicy"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: building netpolicy needs Go >= 1.26 (https://go.dev/dl/), which is not on PATH" >&2
  exit 1
fi

echo "building netpolicy $version from the Go module proxy (once; cached in $(dirname "$binary"))..." >&2
mkdir -p "$(dirname "$binary")"
started=$SECONDS
# GOSUMDB=off: the module proxy reachable here serves modules but not the checksum database;
# go.sum in the wrapper module still pins every module's hash.
# Written next to the final path and renamed, so that an interrupted build leaves no binary that
# looks complete.
(cd "$module" && GOSUMDB=off go build -trimpath -ldflags "-s -w" -o "$binary.partial" "$package") >&2
mv "$binary.partial" "$binary"
echo "built netpolicy in $((SECONDS - started)) s" >&2
echo "$binary"
