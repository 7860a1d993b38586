#!/usr/bin/env bash
# Builds the images a kind node needs before it can pull anything (nothing can be pulled here): the
# control plane, kube-proxy, etcd, CoreDNS, pause (under the tags kubeadm asks for), kube-router (the
# default CNI's tag) and local-path-provisioner + its helper (the tags kind's storage manifest uses),
# all from locally built binaries on a Debian base layer. Saves them as one docker archive for
# node-image.sh, which imports it into the node's containerd.
#   images.sh OUT_TAR   with, in the environment:
#     LC_K8S_DIR      Kubernetes binaries (build-kubernetes.sh)
#     LC_ETCD         etcd binary (test/tools/build-control-plane.sh)
#     LC_TOOLS_DIR    directory holding the coredns, kube-router and local-path-provisioner builds
#     LC_BASE_IMAGE   docker image of the Debian base rootfs (build.sh imports it)
# The host's docker keeps none of the registry tags afterwards: a tag that existed before is put back.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$lc_dir/kind-files.sh"
out="${1:?usage: images.sh OUT_TAR}"
: "${LC_K8S_DIR:?}" "${LC_ETCD:?}" "${LC_TOOLS_DIR:?}" "${LC_BASE_IMAGE:?}"

work="$out.work"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# The tags: kubeadm's own list for this version (the kubelet would otherwise try to pull), the
# sandbox image kind's containerd config pins, and the images kind's manifests reference.
kind_dir="$(kind_module_dir)"
mapfile -t kubeadm_images < <("$LC_K8S_DIR/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
[ "${#kubeadm_images[@]}" -ge 6 ] || die "images: kubeadm config images list gave: ${kubeadm_images[*]}"
kind_sandbox="$(sed -n 's/^ *sandbox_image *= *"\(.*\)"/\1/p' "$kind_dir/images/base/files/etc/containerd/config.toml")"
kube_router_image="$(awk '$1 == "image:" { print $2; exit }' "$lc_dir/manifests/default-cni.yaml")"
{ read -r lpp_image; read -r lpp_helper_image; } < <(kind_storage_images)
[ -n "$kind_sandbox" ] && [ -n "$kube_router_image" ] && [ -n "$lpp_helper_image" ] ||
  die "images: could not read the image names from kind's files or manifests/default-cni.yaml"

tags=()
# mk TAG FILE ENTRYPOINT: FILE on the base layer at ENTRYPOINT (also on PATH).
mk() {
  local tag="$1" file="$2" entrypoint="$3" d
  [ -x "$file" ] || die "images: $file is missing"
  d="$work/$(echo "$tag" | tr '/:' '__')"
  mkdir -p "$d"
  cp "$file" "$d/"
  printf 'FROM %s\nCOPY %s %s\nENTRYPOINT ["%s"]\n' "$LC_BASE_IMAGE" "$(basename "$file")" "$entrypoint" "$entrypoint" > "$d/Dockerfile"
  stash_tag "$tag"
  # The legacy builder: docker.io 20.10 has no buildx, and there is nothing here BuildKit would speed up.
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$tag" "$d" >/dev/null
  log images "built $tag"
}
# stash_tag TAG: remembers what TAG named before (if anything) so that restore_tags puts it back.
declare -A previous=()
stash_tag() {
  tags+=("$1")
  previous[$1]="$("$DOCKER" image inspect -f '{{.Id}}' "$1" 2>/dev/null || true)"
}
restore_tags() {
  local t
  for t in "${tags[@]}"; do
    if [ -n "${previous[$t]}" ]; then "$DOCKER" tag "${previous[$t]}" "$t"; else "$DOCKER" rmi "$t" >/dev/null 2>&1 || true; fi
  done
}
trap 'restore_tags; rm -rf "$work"' EXIT

for image in "${kubeadm_images[@]}"; do
  name="${image##*/}" name="${name%%:*}"
  case "$name" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kube-proxy)
      mk "$image" "$LC_K8S_DIR/$name" "/usr/local/bin/$name" ;;
    etcd) mk "$image" "$LC_ETCD" /usr/local/bin/etcd ;;  # the control-plane build's etcd, under kubeadm's tag
    coredns) mk "$image" "$LC_TOOLS_DIR/coredns/coredns" /coredns ;;  # kubeadm's Deployment passes only args
    pause) pause_image="$image" ;;
    *) die "images: kubeadm wants $image, which this script does not know how to build" ;;
  esac
done
mk "$kube_router_image" "$LC_TOOLS_DIR/kube-router/kube-router" /usr/local/bin/kube-router
mk "$lpp_image" "$LC_TOOLS_DIR/local-path-provisioner/local-path-provisioner" /usr/local/bin/local-path-provisioner
# The helper pod runs the setup/teardown `sh` scripts of kind's storage ConfigMap: the base suffices.
stash_tag "$lpp_helper_image"
"$DOCKER" tag "$LC_BASE_IMAGE" "$lpp_helper_image"

# pause: Kubernetes' own C source from the k8s.io/kubernetes module zip, static, on scratch.
pause_src="$(cd "$lc_dir/go/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
gcc -Os -Wall -static -DVERSION="${pause_image##*:}" -o "$work/pause" "$pause_src"
stash_tag "$pause_image"
tar -C "$work" -c pause | "$DOCKER" import --change 'ENTRYPOINT ["/pause"]' - "$pause_image" >/dev/null
if [ "$kind_sandbox" != "$pause_image" ]; then
  stash_tag "$kind_sandbox"
  "$DOCKER" tag "$pause_image" "$kind_sandbox"
fi
log images "built $pause_image (+ $kind_sandbox)"

"$DOCKER" save -o "$out.partial" "${tags[@]}"
mv "$out.partial" "$out"
log images "saved ${#tags[@]} images, $(du -m "$out" | cut -f1) MB"
