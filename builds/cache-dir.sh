# Sourced by the build scripts: one cache for tools built from the registries, shared by every
# clone on the machine so that CI and developers build each tool once.
LETTA_K8S_CACHE="${LETTA_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/letta-k8s}"
export LETTA_K8S_CACHE
