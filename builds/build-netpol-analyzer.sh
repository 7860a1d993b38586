#!/usr/bin/env bash
# Builds np-guard's netpol-analyzer CLI (`netpolicy`), which test/netpol-analyzer.test.ts runs to
# cross-check tools/netpol/evaluator.ts, once, and prints its path. The version is pinned by the
# wrapper module builds/netpol-analyzer/ (the proxy here refuses the version list that
# `go install pkg@version` needs); test/support/netpol-analyzer.ts reads the same go.mod.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$here/netpol-analyzer"
version="$(awk '$1 == "github.com/np-guard/netpol-analyzer" { print $2; exit }' "$module/go.mod")"
exec "$here/build-go-tool.sh" netpolicy github.com/np-guard/netpol-analyzer/cmd/netpolicy "$version" "$module"
