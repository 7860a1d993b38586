# Sourced (after cache-dir.sh) by install-linters.sh, tools/linters.ts and test/scripts-lint.test.ts:
# the one place that pins the linters and says where their cached installs live.
KUBE_LINTER_VERSION=v0.7.6
CHECKOV_VERSION=3.3.30
KUBE_SCORE_VERSION=v1.20.0
TRIVY_VERSION=v0.74.0
# The scripts' Python linter; shellcheck, their shell linter, is the distribution's package.
RUFF_VERSION=0.17.6
# build-go-tool.sh caches NAME at $LETTA_K8S_CACHE/go-tools/NAME-VERSION/NAME. KUBE_LINTER_BIN and
# KUBE_SCORE_BIN, TRIVY_BIN may name a kube-linter, kube-score or trivy of that version installed
# some other way.
KUBE_LINTER_BIN="${KUBE_LINTER_BIN:-$LETTA_K8S_CACHE/go-tools/kube-linter-$KUBE_LINTER_VERSION/kube-linter}"
KUBE_SCORE_BIN="${KUBE_SCORE_BIN:-$LETTA_K8S_CACHE/go-tools/kube-score-$KUBE_SCORE_VERSION/kube-score}"
TRIVY_BIN="${TRIVY_BIN:-$LETTA_K8S_CACHE/go-tools/trivy-$TRIVY_VERSION/trivy}"
CHECKOV_VENV="$LETTA_K8S_CACHE/checkov-$CHECKOV_VERSION"
CHECKOV_BIN="$CHECKOV_VENV/bin/checkov"
RUFF_VENV="$LETTA_K8S_CACHE/ruff-$RUFF_VERSION"
RUFF_BIN="$RUFF_VENV/bin/ruff"
