#!/usr/bin/env bash
# Installs the manifest linters that `npm run lint:manifests` and test/lint-manifests.test.ts run,
# pinned in linter-versions.sh and cached in $LETTA_K8S_CACHE so that every clone on the machine
# installs them once:
#   kube-linter  built from the Go module proxy (needs Go)
#   kube-score   built from the Go module proxy (needs Go)
#   trivy        built from the Go module proxy (needs Go); its misconfiguration checks are
#                compiled in, so it scans offline
#   checkov      installed from PyPI into its own venv (needs Python 3.9+)
# Progress goes to stderr; stdout prints "NAME<TAB>PATH" for each installed tool. Idempotent.
# Tries every tool even when one fails, then exits non-zero naming every tool that failed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/cache-dir.sh"
source "$here/linter-versions.sh"

failed=()

# install_go_linter NAME PACKAGE VERSION BIN VARIABLE: builds a Go linter into the cache unless
# BIN (which VARIABLE may point elsewhere) is already there.
install_go_linter() {
  local name="$1" package="$2" version="$3" bin="$4" variable="$5"
  if [ -x "$bin" ]; then
    printf '%s\t%s\n' "$name" "$bin"
    return
  fi
  if "$here/build-go-tool.sh" "$name" "$package" "$version" >/dev/null; then
    printf '%s\t%s\n' "$name" "$bin"
  else
    echo "error: could not build $name $version from the Go module proxy (see above);" \
      "set $variable to a $name $version installed another way" >&2
    failed+=("$name")
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

install_go_linter kube-linter golang.stackrox.io/kube-linter/cmd/kube-linter "$KUBE_LINTER_VERSION" "$KUBE_LINTER_BIN" KUBE_LINTER_BIN
install_go_linter kube-score github.com/zegl/kube-score/cmd/kube-score "$KUBE_SCORE_VERSION" "$KUBE_SCORE_BIN" KUBE_SCORE_BIN
# Trivy builds with encoding/json/v2, which Go 1.25 and 1.26 hide behind GOEXPERIMENT=jsonv2; as in
# upstream's release build, static (CGO off) and stamped, so `trivy --version` prints the release.
CGO_ENABLED=0 GOEXPERIMENT=jsonv2 GO_TOOL_LDFLAGS="-X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
  install_go_linter trivy github.com/aquasecurity/trivy/cmd/trivy "$TRIVY_VERSION" "$TRIVY_BIN" TRIVY_BIN
install_checkov

if [ ${#failed[@]} -ne 0 ]; then
  echo "error: not installed: ${failed[*]}" >&2
  exit 1
fi
