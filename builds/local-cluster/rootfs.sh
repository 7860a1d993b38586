#!/usr/bin/env bash
# Debian root file systems from the Debian mirror (debootstrap; the only "registry" for OS files here):
#   rootfs.sh base OUT_DIR           minbase + the network tools kube-proxy and kube-router call
#                                    (iptables, ipset, conntrack...): the layer under every component image
#   rootfs.sh node BASE_DIR OUT_DIR  base + systemd and the packages of kind's images/base/Dockerfile:
#                                    the kind node's file system
# Needs root (debootstrap, chroot).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kind="${1:-}"
[ "$(id -u)" = 0 ] || die "rootfs: debootstrap and chroot need root"
command -v debootstrap >/dev/null || die "rootfs: debootstrap is missing (apt-get install debootstrap)"

# tidy DIR: no package lists or caches in an image.
tidy() {
  chroot "$1" apt-get clean
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log "$1"/tmp/*
}

case "$kind" in
  base)
    out="${2:?usage: rootfs.sh base OUT_DIR}"
    rm -rf "$out.partial"
    debootstrap --variant=minbase \
      --include=iptables,nftables,conntrack,ipset,iproute2,ca-certificates \
      "$DEBIAN_SUITE" "$out.partial" "$DEBIAN_MIRROR" >&2
    tidy "$out.partial"
    ;;
  node)
    base="${2:?usage: rootfs.sh node BASE_DIR OUT_DIR}" out="${3:?usage: rootfs.sh node BASE_DIR OUT_DIR}"
    rm -rf "$out.partial"
    cp -a "$base" "$out.partial"
    cp /etc/resolv.conf "$out.partial/etc/resolv.conf"  # apt inside the chroot resolves the mirror
    chroot "$out.partial" apt-get update >&2
    # kind v0.33's images/base/Dockerfile list, minus what the local cluster does not use (NFS,
    # iSCSI, fuse-overlayfs), plus runc (Debian's 1.1, instead of kind's source build: same role).
    DEBIAN_FRONTEND=noninteractive chroot "$out.partial" apt-get install -y --no-install-recommends \
      systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool util-linux mount kmod \
      libseccomp2 pigz e2fsprogs bash ca-certificates curl jq procps ipset socat runc >&2
    tidy "$out.partial"
    ;;
  *) die "usage: rootfs.sh base OUT_DIR | rootfs.sh node BASE_DIR OUT_DIR" ;;
esac
rm -rf "$out"
mv "$out.partial" "$out"
