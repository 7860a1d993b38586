#!/usr/bin/env bash
# Builds, once, everything a kind cluster needs on a machine that reaches no container registry
# (only package registries: the Go module proxy, the Debian mirror), and a kind node image:
#   bash builds/local-cluster/build.sh
# then, with the paths it prints (or `source "$LETTA_K8S_CACHE/local-cluster/env"`):
#   PATH="$DOCKER_SHIM_DIR:$PATH" "$KIND" create cluster --image "$NODE_IMAGE" --config kind-config.yaml
#
# What it builds (each cached under $LETTA_K8S_CACHE/local-cluster, in an entry named after its
# version and a hash of its recipe, so that a changed recipe rebuilds and an unchanged one is reused):
#   kubernetes-*    kubelet, kubeadm, kubectl, kube-apiserver/-controller-manager/-scheduler/-proxy
#                   (build-kubernetes.sh; wrapper module go/kubernetes)
#   go-tools/*      kind, containerd, crictl, CNI plugins, CoreDNS, kube-router, local-path-provisioner
#                   (build-go-tools.sh; one wrapper module each under go/, go.sum-pinned)
#   etcd            builds/build-control-plane.sh's (its own cache; same Kubernetes pin)
#   rootfs/*        Debian root file systems (rootfs.sh; debootstrap)
#   images/*        the component images under the tags kubeadm and kind ask for (images.sh)
#   the node image  $NODE_IMAGE, labelled letta-k8s.recipe=<hash> (node-image.sh), kept in docker
#   docker-shim-*   the docker shim for kind (shim/docker)
# Network-bound work (debootstrap) runs beside the CPU-bound Go builds. Each phase prints
# "[phase] done in N s"; full logs of background phases are in $LC_CACHE/logs.
#
# Output: KIND=, KUBECTL=, DOCKER_SHIM_DIR=, NODE_IMAGE= lines on stdout, also written to
# $LC_CACHE/env (sourceable), and as the LAST stdout line: node-image=<image>. Progress on stderr.
# Cold: 25-45 min on 2 cores (the Kubernetes compile dominates); everything cached: under a second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tools_dir="$(cd "$lc_dir/.." && pwd)"
started=$SECONDS

mkdir -p "$LC_CACHE/logs" "$LC_CACHE/go-tools" "$LC_CACHE/rootfs" "$LC_CACHE/images"
# One build at a time per cache (clones on a machine share it).
exec 9>"$LC_CACHE/build.lock"
flock 9 || die "cannot lock $LC_CACHE/build.lock"

bash "$tools_dir/docker-engine.sh" || die "a Docker engine is needed (kind runs its nodes in docker)"

# --- recipe keys (cheap: hashes of files; nothing is built here) ---
k8s_key="$(recipe_hash "$lc_dir/lib.sh" "$lc_dir/build-kubernetes.sh" "$lc_dir/go/kubernetes")"
k8s_dir="$LC_CACHE/kubernetes-$K8S_VERSION-$k8s_key"

# The Go tools: tool NAME MODULE CGO LDFLAGS [TAGS]; %v in LDFLAGS is the module's version. CGO only
# for containerd (as kind builds it); it then links the host's glibc, which the Debian node rootfs
# matches. Keys of other artifacts name a tool by "NAME=ENTRY" text (recipe_hash hashes existing
# paths by content, and a cache entry's name already is its recipe hash).
declare -A tool_module=() tool_cgo=() tool_ldflags=() tool_tags=() tool_dir=() tool_version=() tool_ref=()
tool() {
  local name="$1" module="$2" cgo="$3" ldflags="$4" tags="${5:-}" version key
  version="$(awk -v m="$module" '$1 == m { print $2; exit }' "$lc_dir/go/$name/go.mod")"
  [ -n "$version" ] || die "go/$name/go.mod does not require $module"
  ldflags="${ldflags//%v/$version}"
  key="$(recipe_hash "$lc_dir/lib.sh" "$lc_dir/build-go-tools.sh" "$lc_dir/go/$name" \
    "cgo=$cgo ldflags=$ldflags tags=$tags")"
  tool_module[$name]="$module" tool_cgo[$name]="$cgo" tool_ldflags[$name]="$ldflags" tool_tags[$name]="$tags"
  tool_version[$name]="$version" tool_dir[$name]="$LC_CACHE/go-tools/$name-$version-$key"
  tool_ref[$name]="tool $name=$name-$version-$key"
}
tool kind sigs.k8s.io/kind 0 '-s -w'
tool containerd github.com/containerd/containerd/v2 1 \
  '-s -w -X github.com/containerd/containerd/v2/version.Version=%v' no_aufs,no_zfs,no_btrfs,no_devmapper
tool crictl sigs.k8s.io/cri-tools 0 '-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=%v'
tool cni-plugins github.com/containernetworking/plugins 0 \
  '-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=%v'
tool coredns github.com/coredns/coredns 0 '-s -w'
tool kube-router github.com/cloudnativelabs/kube-router/v2 0 \
  '-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=%v'
tool local-path-provisioner github.com/rancher/local-path-provisioner 0 '-s -w -X main.VERSION=%v'
tool_names="kind containerd crictl cni-plugins coredns kube-router local-path-provisioner"
toolset_key="$(recipe_hash "${tool_ref[@]}")"
toolset_dir="$LC_CACHE/go-tools/set-$toolset_key"  # symlinks NAME -> its build, for images.sh / node-image.sh

base_key="$(recipe_hash "$lc_dir/lib.sh" "$lc_dir/rootfs.sh" "base $DEBIAN_SUITE")"
base_dir="$LC_CACHE/rootfs/base-$DEBIAN_SUITE-$base_key"
base_image="letta-k8s/debian-base:$DEBIAN_SUITE-$base_key"
node_rootfs_key="$(recipe_hash "$lc_dir/lib.sh" "$lc_dir/rootfs.sh" "node $DEBIAN_SUITE" "$base_key")"
node_rootfs_dir="$LC_CACHE/rootfs/node-$DEBIAN_SUITE-$node_rootfs_key"
# etcd is build-control-plane.sh's, whose cache entry is named by the pins of its wrapper module.
etcd_key="$(cat "$tools_dir/control-plane/etcd/go.mod" "$tools_dir/control-plane/etcd/go.sum" | sha256sum | cut -c1-12)"
images_key="$(recipe_hash "$lc_dir/lib.sh" "$lc_dir/kind-files.sh" "$lc_dir/images.sh" "$lc_dir/manifests" \
  "k8s=$k8s_key etcd=$etcd_key base=$base_key" "${tool_ref[kind]}" "${tool_ref[coredns]}" \
  "${tool_ref[kube-router]}" "${tool_ref[local-path-provisioner]}")"
images_tar="$LC_CACHE/images/components-$K8S_VERSION-$images_key.tar"
node_key="$(recipe_hash "$lc_dir/lib.sh" "$lc_dir/kind-files.sh" "$lc_dir/node-image.sh" "$lc_dir/node" \
  "$lc_dir/manifests" "$lc_dir/shim/docker" "rootfs=$node_rootfs_key images=$images_key k8s=$k8s_key tools=$toolset_key")"
node_image="$NODE_IMAGE_REPO:$K8S_VERSION"
shim_dir="$LC_CACHE/docker-shim-$(recipe_hash "$lc_dir/shim/docker")"

# --- phases; each returns at once when its output exists ---
ensure_kubernetes() {
  if [ -x "$k8s_dir/kubectl" ]; then log kubernetes "cached ($k8s_dir)"; return; fi
  timed kubernetes bash "$lc_dir/build-kubernetes.sh" "$k8s_dir"
}
ensure_tool() {
  local name="$1"
  if [ -d "${tool_dir[$name]}" ]; then log "$name" "cached (${tool_dir[$name]})"; return; fi
  log "$name" "building ${tool_module[$name]} ${tool_version[$name]}..."
  timed "$name" env CGO_ENABLED="${tool_cgo[$name]}" bash "$lc_dir/build-go-tools.sh" "$name" "${tool_dir[$name]}" \
    -ldflags="${tool_ldflags[$name]}" ${tool_tags[$name]:+-tags=${tool_tags[$name]}}
}
ensure_toolset() {
  local name
  [ -d "$toolset_dir" ] && return
  mkdir -p "$toolset_dir.partial"
  for name in $tool_names; do ln -sfn "${tool_dir[$name]}" "$toolset_dir.partial/$name"; done
  mv "$toolset_dir.partial" "$toolset_dir"
}
# run_logged PHASE COMMAND...: COMMAND's output goes to logs/PHASE.log; its tail is shown on failure.
run_logged() {
  local p="$1" logf="$LC_CACHE/logs/$1.log"
  shift
  log "$p" "running (log: $logf)"
  local s=$SECONDS
  "$@" >"$logf" 2>&1 || { tail -n 30 "$logf" >&2; die "$p failed; full log: $logf"; }
  log "$p" "done in $((SECONDS - s)) s"
}
ensure_rootfs() {
  if [ -d "$base_dir" ]; then log rootfs-base "cached ($base_dir)"
  else run_logged rootfs-base bash "$lc_dir/rootfs.sh" base "$base_dir"; fi
  if [ -d "$node_rootfs_dir" ]; then log rootfs-node "cached ($node_rootfs_dir)"
  else run_logged rootfs-node bash "$lc_dir/rootfs.sh" node "$base_dir" "$node_rootfs_dir"; fi
}
etcd_bin=""
ensure_etcd() {
  local s=$SECONDS dir
  dir="$(bash "$tools_dir/build-control-plane.sh")" || die "etcd: builds/build-control-plane.sh failed"
  etcd_bin="$dir/etcd"
  log etcd "done in $((SECONDS - s)) s ($etcd_bin)"
}
ensure_base_image() {
  if "$DOCKER" image inspect "$base_image" >/dev/null 2>&1; then log base-image "cached ($base_image)"; return; fi
  local s=$SECONDS
  tar -C "$base_dir" -c . | "$DOCKER" import --change "LABEL letta-k8s.recipe=$base_key" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$base_image" >/dev/null
  log base-image "done in $((SECONDS - s)) s ($base_image)"
}
ensure_images() {
  if [ -f "$images_tar" ]; then log images "cached ($images_tar)"; return; fi
  LC_K8S_DIR="$k8s_dir" LC_ETCD="$etcd_bin" LC_TOOLS_DIR="$toolset_dir" LC_BASE_IMAGE="$base_image" \
    timed images bash "$lc_dir/images.sh" "$images_tar"
}
node_image_current() {
  [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "letta-k8s.recipe"}}' "$node_image" 2>/dev/null)" = "$node_key" ]
}
ensure_node_image() {
  local old
  old="$("$DOCKER" image inspect -f '{{.Id}}' "$node_image" 2>/dev/null || true)"
  LC_NODE_ROOTFS="$node_rootfs_dir" LC_K8S_DIR="$k8s_dir" LC_TOOLS_DIR="$toolset_dir" LC_IMAGES_TAR="$images_tar" \
    timed node-image bash "$lc_dir/node-image.sh" "$node_image" "$node_key"
  # the image this recipe replaced is now untagged; drop it unless a container still uses it
  [ -z "$old" ] || [ "$old" = "$("$DOCKER" image inspect -f '{{.Id}}' "$node_image")" ] ||
    "$DOCKER" rmi "$old" >/dev/null 2>&1 || true
}
ensure_shim() {
  [ -x "$shim_dir/docker" ] && return
  mkdir -p "$shim_dir.partial"
  install -m 0755 "$lc_dir/shim/docker" "$shim_dir.partial/docker"
  rm -rf "$shim_dir"
  mv "$shim_dir.partial" "$shim_dir"
}

net_pid=""
stop_background() { [ -z "$net_pid" ] || kill -- -"$net_pid" 2>/dev/null || true; }
trap stop_background EXIT

if node_image_current; then
  log node-image "cached ($node_image, recipe $node_key)"
  # only what a caller runs: kubectl and kind
  ensure_kubernetes
  ensure_tool kind
else
  # debootstrap is network-bound: beside the Go builds, in its own process group (stopped with us).
  if [ ! -d "$node_rootfs_dir" ]; then
    set -m
    ( ensure_rootfs ) &
    net_pid=$!
    set +m
  fi
  ensure_kubernetes
  for name in $tool_names; do ensure_tool "$name"; done
  ensure_toolset
  [ -f "$images_tar" ] || ensure_etcd
  if [ -n "$net_pid" ]; then
    wait "$net_pid" || die "building the Debian root file systems failed (logs in $LC_CACHE/logs)"
    net_pid=""
  fi
  ensure_rootfs  # reports the cached entries (or builds them if the background run was skipped)
  [ -f "$images_tar" ] || ensure_base_image
  ensure_images
  ensure_node_image
fi
ensure_shim

env_file="$LC_CACHE/env"
cat > "$env_file.partial" <<EOF
KIND=${tool_dir[kind]}/kind
KUBECTL=$k8s_dir/kubectl
DOCKER_SHIM_DIR=$shim_dir
NODE_IMAGE=$node_image
EOF
mv "$env_file.partial" "$env_file"
log build "done in $((SECONDS - started)) s (env file: $env_file)"
cat "$env_file"
echo "node-image=$node_image"
