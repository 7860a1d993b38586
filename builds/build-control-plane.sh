#!/usr/bin/env bash
# Builds the control plane that test/apiserver.test.ts runs (kube-apiserver and etcd, no kubelet)
# from the Go module proxy, once, and caches it.
#   build-control-plane.sh          (npm run control-plane:build)
# Prints the directory holding both binaries as the last line on stdout (progress goes to stderr).
# Honours KUBEBUILDER_ASSETS: a directory with envtest's kube-apiserver and etcd is used as it is.
# The versions are pinned by the wrapper modules' go.mod/go.sum in builds/control-plane/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/cache-dir.sh"
modules="$here/control-plane"

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
    echo "using kube-apiserver and etcd from KUBEBUILDER_ASSETS" >&2
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  echo "error: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks an executable kube-apiserver or etcd" >&2
  exit 1
fi

# required_version MODULE_DIR MODULE_PATH: the version the wrapper's go.mod pins.
required_version() {
  awk -v m="$2" '$1 == m { print $2; exit }' "$modules/$1/go.mod"
}
kubernetes_version="$(required_version kube-apiserver k8s.io/kubernetes)"
etcd_version="$(required_version etcd go.etcd.io/etcd/server/v3)"
# tools/apiserver/binaries.ts derives the same directory name from the same go.mod files.
bin_dir="$LETTA_K8S_CACHE/control-plane/kubernetes-$kubernetes_version-etcd-$etcd_version"

if [ -x "$bin_dir/kube-apiserver" ] && [ -x "$bin_dir/etcd" ]; then
  echo "$bin_dir"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: building kube-apiserver and etcd needs Go >= 1.25 (https://go.dev/dl/), which is not on PATH;" >&2
  echo "       alternatively point KUBEBUILDER_ASSETS at a directory holding envtest's kube-apiserver and etcd" >&2
  exit 1
fi

# build NAME MODULE_DIR PACKAGE [GO BUILD FLAGS...]: builds PACKAGE in the wrapper module into
# $bin_dir/NAME, printing a progress line every 100 compiled packages.
build() {
  local name="$1" dir="$modules/$2" package="$3"
  shift 3
  local started=$SECONDS total
  echo "[$name] downloading modules..." >&2
  (cd "$dir" && go mod download)
  total="$(cd "$dir" && go list -deps "$package" | wc -l)"
  echo "[$name] compiling $total packages (the first build takes minutes)..." >&2
  # Written next to the final path and renamed, so that an interrupted build leaves no binary that
  # looks complete.
  (cd "$dir" && go build -v -trimpath -o "$bin_dir/$name.partial" "$@" "$package") 2>&1 |
    awk -v name="$name" -v total="$total" '
      !/^[a-zA-Z0-9._~\/-]+$/ { print; fflush(); next }  # anything but a package path: an error
      ++n % 100 == 0 { printf "[%s] %d/%d packages\n", name, n, total; fflush() }' >&2
  mv "$bin_dir/$name.partial" "$bin_dir/$name"
  echo "[$name] built in $((SECONDS - started)) s" >&2
}

echo "building kube-apiserver $kubernetes_version and etcd $etcd_version from the Go module proxy" >&2
echo "(once; cached in $bin_dir)" >&2
mkdir -p "$bin_dir"
# The version variables are what Kubernetes' own build (hack/lib/version.sh) stamps; without them
# the server reports v0.0.0-master.
version_pkg=k8s.io/component-base/version
minor="${kubernetes_version#v*.}"
minor="${minor%%.*}"
build kube-apiserver kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver \
  -ldflags "-s -w -X $version_pkg.gitVersion=$kubernetes_version -X $version_pkg.gitMajor=1 \
-X $version_pkg.gitMinor=$minor -X $version_pkg.gitTreeState=clean"
build etcd etcd go.etcd.io/etcd/server/v3 -ldflags "-s -w"
echo "$bin_dir"
