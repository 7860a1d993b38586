#!/usr/bin/env bash
# Installs the linters that `npm run lint:manifests`, test/lint-manifests.test.ts and
# test/scripts-lint.test.ts run, pinned in linter-versions.sh and cached in $LETTA_K8S_CACHE so
# that every clone on the machine installs them once (shellcheck, also run by the last, is the
# distribution's package: .ci/run installs it with apt-get):
#   kube-linter  built from the Go module proxy (needs Go)
#   kube-score   built from the Go module proxy (needs Go)
#   trivy        built from the Go module proxy (needs Go); its misconfiguration checks are
#                compiled in, so it scans offline
#   checkov      installed from PyPI into its own venv (needs Python 3.9+)
#   ruff         the charts' Python scripts' linter, installed from PyPI into its own venv
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

# install_pypi_linter NAME VERSION VENV BIN: installs NAME==VERSION into its own venv unless the
# venv is complete. The marker is written last, so an interrupted install is redone rather than reused.
install_pypi_linter() {
  local name="$1" version="$2" venv="$3" bin="$4"
  if [ -f "$venv/.installed" ]; then
    printf '%s\t%s\n' "$name" "$bin"
    return
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "error: installing $name needs Python 3.9+ (python3), which is not on PATH" >&2
    failed+=("$name")
    return
  fi
  echo "installing $name $version from PyPI into $venv (once)..." >&2
  local started=$SECONDS
  rm -rf "$venv"
  if python3 -m venv "$venv" >&2 \
      && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$name==$version" >&2; then
    touch "$venv/.installed"
    echo "installed $name in $((SECONDS - started)) s" >&2
    printf '%s\t%s\n' "$name" "$bin"
  else
    echo "error: could not install $name $version from PyPI (see above)" >&2
    failed+=("$name")
  fi
}

install_go_linter kube-linter golang.stackrox.io/kube-linter/cmd/kube-linter "$KUBE_LINTER_VERSION" "$KUBE_LINTER_BIN" KUBE_LINTER_BIN
install_go_linter kube-score github.com/zegl/kube-score/cmd/kube-score "$KUBE_SCORE_VERSION" "$KUBE_SCORE_BIN" KUBE_SCORE_BIN
# Trivy builds with encoding/json/v2, which Go 1.25 and 1.26 hide behind GOEXPERIMENT=jsonv2; as in
# upstream's release build, static (CGO off) and stamped, so `trivy --version` prints the release.
CGO_ENABLED=0 GOEXPERIMENT=jsonv2 GO_TOOL_LDFLAGS="-X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
  install_go_linter trivy github.com/aquasecurity/trivy/cmd/trivy "$TRIVY_VERSION" "$TRIVY_BIN" TRIVY_BIN
install_pypi_linter checkov "$CHECKOV_VERSION" "$CHECKOV_VENV" "$CHECKOV_BIN"
install_pypi_linter ruff "$RUFF_VERSION" "$RUFF_VENV" "$RUFF_BIN"

if [ ${#failed[@]} -ne 0 ]; then
  echo "error: not installed: ${failed[*]}" >&2
  exit 1
fi
