#!/usr/bin/env bash
# Installs the manifest linters that `npm run lint:manifests` and test/lint-manifests.test.ts run,
# pinned in linter-versions.sh and cached in $LETTA_K8S_CACHE so that every clone on the machine
# installs them once:
#   kube-linter  built from the Go module proxy (needs Go)
#   kube-score   built from the Go module proxy (needs Go)
#   checkov      installed from PyPI into its own venv (needs Python 3.9+)
# Progress goes to stderr; stdout prints "NAME<TAB>PATH" for each installed tool. Idempotent.
# Tries every tool even when one fails, then exits non-zero naming every tool that failed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/cache-dir.sh"
source "$here/linter-versions.sh"

failed=()

install_kube_linter() {
  if [ -x "$KUBE_LINTER_BIN" ]; then
    printf 'kube-linter\t%s\n' "$KUBE_LINTER_BIN"
    return
  fi
  # GOSUMDB=off: the module proxy reachable here serves modules but not the checksum database.
  if GOSUMDB=off "$here/build-go-tool.sh" kube-linter \
      golang.stackrox.io/kube-linter/cmd/kube-linter "$KUBE_LINTER_VERSION" >/dev/null; then
    printf 'kube-linter\t%s\n' "$KUBE_LINTER_BIN"
  else
    echo "error: could not build kube-linter $KUBE_LINTER_VERSION from the Go module proxy (see above);" \
      "set KUBE_LINTER_BIN to a kube-linter $KUBE_LINTER_VERSION installed another way" >&2
    failed+=(kube-linter)
  fi
}

install_kube_score() {
  if [ -x "$KUBE_SCORE_BIN" ]; then
    printf 'kube-score\t%s\n' "$KUBE_SCORE_BIN"
    return
  fi
  # GOSUMDB=off: as for kube-linter.
  if GOSUMDB=off "$here/build-go-tool.sh" kube-score \
      github.com/zegl/kube-score/cmd/kube-score "$KUBE_SCORE_VERSION" >/dev/null; then
    printf 'kube-score\t%s\n' "$KUBE_SCORE_BIN"
  else
    echo "error: could not build kube-score $KUBE_SCORE_VERSION from the Go module proxy (see above);" \
      "set KUBE_SCORE_BIN to a kube-score $KUBE_SCORE_VERSION installed another way" >&2
    failed+=(kube-score)
  fi
}

install_checkov() {
  # The marker is written last, so an interrupted install is redone rather than reused.
  if [ -f "$CHECKOV_VENV/.installed" ]; then
    printf 'checkov\t%s\n' "$CHECKOV_BIN"
    return
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "error: installing checkov needs Python 3.9+ (python3), which is not on PATH" >&2
    failed+=(checkov)
    return
  fi
  echo "installing checkov $CHECKOV_VERSION from PyPI into $CHECKOV_VENV (once)..." >&2
  local started=$SECONDS
  rm -rf "$CHECKOV_VENV"
  if python3 -m venv "$CHECKOV_VENV" >&2 \
      && "$CHECKOV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
         "checkov==$CHECKOV_VERSION" >&2; then
    touch "$CHECKOV_VENV/.installed"
    echo "installed checkov in $((SECONDS - started)) s" >&2
    printf 'checkov\t%s\n' "$CHECKOV_BIN"
  else
    echo "error: could not install checkov $CHECKOV_VERSION from PyPI (see above)" >&2
    failed+=(checkov)
  fi
}

install_kube_linter
install_kube_score
install_checkov

if [ ${#failed[@]} -ne 0 ]; then
  echo "error: not installed: ${failed[*]}" >&2
  exit 1
fi
