#!/usr/bin/env bash
# Assembles the kind node image from local parts, replaying what kind's images/base/Dockerfile and
# `kind build node-image` (pkg/build/nodeimage) do, with the kind module zip's own files:
# Debian node rootfs + containerd/crictl/CNI plugins + kubelet/kubeadm/kubectl + kind's files, then
# the component images pre-loaded into the node's containerd (nothing can be pulled at run time).
#   node-image.sh IMAGE RECIPE_HASH   with, in the environment:
#     LC_NODE_ROOTFS  node rootfs (rootfs.sh node)
#     LC_K8S_DIR      Kubernetes binaries (build-kubernetes.sh)
#     LC_TOOLS_DIR    directory holding the containerd, crictl and cni-plugins builds
#     LC_IMAGES_TAR   component images (images.sh)
# The image gets the label letta-k8s.recipe=RECIPE_HASH, by which build.sh recognises it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$lc_dir/kind-files.sh"
image="${1:?usage: node-image.sh IMAGE RECIPE_HASH}" recipe="${2:?usage: node-image.sh IMAGE RECIPE_HASH}"
: "${LC_NODE_ROOTFS:?}" "${LC_K8S_DIR:?}" "${LC_TOOLS_DIR:?}" "${LC_IMAGES_TAR:?}"
kind_dir="$(kind_module_dir)"
files="$kind_dir/images/base/files"
work="$LC_CACHE/node-image.work"
stage="letta-k8s/kind-node-stage:$recipe" container="letta-k8s-node-build-$recipe"
cleanup() {
  "$DOCKER" rm -f "$container" >/dev/null 2>&1 || true
  "$DOCKER" rmi "$stage" "$stage-committed" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cleanup

# --- the file system (kind's images/base/Dockerfile, "base" and "build" stages) ---
n="$work/rootfs"
mkdir -p "$work"
cp -a "$LC_NODE_ROOTFS" "$n"
install -m 0755 "$files"/usr/local/bin/* "$n/usr/local/bin/"
install -m 0755 "$lc_dir/node/pre-entrypoint" "$n/usr/local/bin/letta-k8s-pre-entrypoint"
mkdir -p "$n/kind/bin" "$n/kind/manifests" "$n/LICENSES" "$n/etc/containerd" "$n/etc/default" \
  "$n/etc/sysctl.d" "$n/etc/systemd/system/kubelet.service.d" "$n/etc/kubernetes/manifests" "$n/opt/cni/bin"
chmod 0755 "$n/kind" "$n/kind/bin"
install -m 0644 "$files/kind/README.txt" "$n/kind/"
install -m 0755 "$files"/kind/bin/* "$n/kind/bin/"
install -m 0644 "$files"/LICENSES/* "$n/LICENSES/"
install -m 0644 "$files/etc/crictl.yaml" "$n/etc/"
install -m 0644 "$files/etc/containerd/config.toml" "$n/etc/containerd/"
install -m 0644 "$files/etc/default/kubelet" "$n/etc/default/"
install -m 0644 "$files"/etc/sysctl.d/* "$n/etc/sysctl.d/"
find "$files/etc/systemd/system" -maxdepth 1 -type f -exec install -m 0644 {} "$n/etc/systemd/system/" \;
install -m 0644 "$files"/etc/systemd/system/kubelet.service.d/* "$n/etc/systemd/system/kubelet.service.d/"
# Host workaround: without CAP_SYS_RESOURCE (see shim/docker) no process may lower its
# oom_score_adj; the CRI asks -998 for static pods and runc then fails ("can't get final child's PID
# from pipe: EOF"). containerd's rootless knob clamps the value instead. Harmless elsewhere.
grep -q 'restrict_oom_score_adj = false' "$n/etc/containerd/config.toml" ||
  die "node-image: kind's containerd config no longer has restrict_oom_score_adj"
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$n/etc/containerd/config.toml"
# Host workaround: Kubernetes 1.35's kubelet refuses cgroup v1 unless told otherwise (failCgroupV1).
# A flag beats the config file kubeadm writes, so the project's kind-config.yaml needs no patch; on
# cgroup v2 hosts it changes nothing.
sed -i 's#^KUBELET_EXTRA_ARGS=.*#& --fail-cgroupv1=false#' "$n/etc/default/kubelet"
find "$n/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "$n"/lib/systemd/system/multi-user.target.wants/* "$n"/etc/systemd/system/*.wants/* \
  "$n"/lib/systemd/system/local-fs.target.wants/* "$n"/lib/systemd/system/sockets.target.wants/*udev* \
  "$n"/lib/systemd/system/sockets.target.wants/*initctl* "$n"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >> "$n/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$n/sbin/init"
install -m 0755 "$LC_TOOLS_DIR"/containerd/{containerd,containerd-shim-runc-v2,ctr} "$LC_TOOLS_DIR/crictl/crictl" "$n/usr/local/bin/"
install -m 0755 "$LC_TOOLS_DIR"/cni-plugins/* "$n/opt/cni/bin/"
ln -sf /usr/sbin/runc "$n/usr/local/sbin/runc"  # Debian's runc, where kind's containerd config looks
chroot "$n" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
chroot "$n" systemctl mask systemd-binfmt.service >/dev/null 2>&1
chroot "$n" sh -ec 'ctr oci spec |
  jq ".hooks.createContainer[.hooks.createContainer | length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" |
  jq "del(.process.rlimits)" > /etc/containerd/cri-base.json'
# --- what `kind build node-image` adds ---
install -m 0755 "$LC_K8S_DIR"/{kubelet,kubeadm,kubectl} "$n/usr/bin/"
printf '%s' "$K8S_VERSION" > "$n/kind/version"
install -m 0644 "$lc_dir/manifests/default-cni.yaml" "$n/kind/manifests/default-cni.yaml"
kind_storage_manifest > "$n/kind/manifests/default-storage.yaml"
# docker manages resolv.conf in the running node; the build host's must not leak into the image
rm -f "$n/etc/resolv.conf"
: > "$n/etc/resolv.conf"
log node-image "file system assembled, importing"
tar -C "$n" -c . | "$DOCKER" import --change 'ENV container=docker' - "$stage" >/dev/null
rm -rf "$work"

# --- pre-load the component images like kind does (ctr import into namespace k8s.io) ---
# Through the shim: --privileged where the host allows it, its closest equivalent where it does not.
"$lc_dir/shim/docker" run -d --privileged --name "$container" --entrypoint sleep "$stage" infinity >/dev/null
"$DOCKER" exec "$container" sh -c 'mkdir -p /run/containerd && (containerd >/var/log/containerd-build.log 2>&1 &)'
for _ in $(seq 60); do "$DOCKER" exec "$container" ctr version >/dev/null 2>&1 && break; sleep 1; done
"$DOCKER" exec "$container" ctr version >/dev/null 2>&1 || {
  "$DOCKER" exec "$container" cat /var/log/containerd-build.log >&2 || true
  die "node-image: containerd did not start in the build container"
}
"$DOCKER" exec -i "$container" ctr --namespace=k8s.io images import --all-platforms --no-unpack \
  --label=io.cri-containerd.pinned=pinned --digests - < "$LC_IMAGES_TAR" >/dev/null
log node-image "pre-loaded: $("$DOCKER" exec "$container" ctr --namespace=k8s.io images list -q | grep -v '^sha256:' | tr '\n' ' ')"
# (PID 1 is `sleep`, which reaps nobody: wait until containerd is a zombie, not until it is gone)
"$DOCKER" exec "$container" sh -c 'pkill -x containerd
  while ps -o stat= -C containerd | grep -qv Z; do sleep 0.2; done; rm -f /var/log/containerd-build.log'
"$DOCKER" stop -t 1 "$container" >/dev/null
"$DOCKER" commit "$container" "$stage-committed" >/dev/null
# docker 20.10's import/commit --change knows no STOPSIGNAL; a build without new layers sets the
# runtime config (kind's: systemd stops on SIGRTMIN+3) and the recipe label.
mkdir -p "$work"
printf '%s\n' "FROM $stage-committed" 'STOPSIGNAL SIGRTMIN+3' \
  'ENTRYPOINT [ "/usr/local/bin/letta-k8s-pre-entrypoint", "/usr/local/bin/entrypoint", "/sbin/init" ]' \
  'CMD []' "LABEL letta-k8s.recipe=$recipe letta-k8s.kubernetes=$K8S_VERSION" > "$work/Dockerfile"
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$image" "$work" >/dev/null
log node-image "built $image ($("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{ printf "%d MB", $1 / 1e6 }'))"
