#!/usr/bin/env bash
# Builds the node's Kubernetes binaries (kubelet, kubeadm, kubectl and the control-plane/kube-proxy
# commands that become kubeadm's images) from the Go module proxy through the wrapper module
# go/kubernetes (the technique of test/tools/build-control-plane.sh, the same k8s.io/kubernetes pin).
#   build-kubernetes.sh OUT_DIR
# The default Go build cache is kept on purpose: it is the one build-control-plane.sh fills, so
# whichever of the two builds runs second only compiles what the other did not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="${1:?usage: build-kubernetes.sh OUT_DIR}"
require_go
commands="kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl"
packages=""
for c in $commands; do packages="$packages k8s.io/kubernetes/cmd/$c"; done

cd "$lc_dir/go/kubernetes"
log kubernetes "downloading modules..."
go mod download
total="$(go list -deps $packages | wc -l)"
log kubernetes "compiling $total packages for $commands (a cold build takes ~10 min on 2 cores)..."
# What Kubernetes' own build (hack/lib/version.sh) stamps; without it `kubectl version` and kubeadm
# report v0.0.0-master, and kubeadm then picks the wrong image tags.
vp=k8s.io/component-base/version minor="${K8S_VERSION#v*.}"
minor="${minor%%.*}"
# Built beside the final directory and renamed: an interrupted build leaves nothing that looks done.
rm -rf "$out.partial"
mkdir -p "$out.partial"
go build -v -trimpath -o "$out.partial/" \
  -ldflags "-s -w -X $vp.gitVersion=$K8S_VERSION -X $vp.gitMajor=1 -X $vp.gitMinor=$minor -X $vp.gitTreeState=clean" \
  $packages 2>&1 |
  awk -v total="$total" '
    !/^[a-zA-Z0-9._~\/-]+$/ { print; fflush(); next }  # anything but a package path: an error
    ++n % 200 == 0 { printf "[kubernetes] %d/%d packages\n", n, total; fflush() }' >&2
for c in $commands; do [ -x "$out.partial/$c" ] || die "kubernetes: $c was not built"; done
rm -rf "$out"
mv "$out.partial" "$out"
