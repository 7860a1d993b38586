#!/usr/bin/env bash
# Builds the Python image the e2e test backends run in (test/e2e/backends/stream_backend.py and
# connect_probe.py, standard library only) from Debian bookworm's own python3, because no image can
# be pulled here and python:3.12.12-alpine3.22 cannot be rebuilt from the registries available
# (Debian bookworm ships CPython 3.11.2; the backends need nothing newer than 3.8).
#   build-python.sh            prints the image tag as the last line on stdout (progress on stderr)
# Image: letta-k8s/e2e-python:3.11.2-bookworm, a local name on purpose: the official python image is
# CPython built from source under /usr/local, this is Debian's python3 package (/usr/bin/python3,
# plus `python` from python-is-python3, which the e2e pods call). debootstrap minbase + python3.
# The image carries the label dev.letta-k8s.recipe=<hash of this file>; an image with the current
# hash is reused. The root file system is cached as a tarball under $LETTA_K8S_CACHE/e2e-images/.
# Needs root (debootstrap, chroot) and a Docker engine; Debian mirror: $DEBIAN_MIRROR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../cache-dir.sh"

python_version=3.11.2            # CPython in Debian bookworm (package python3.11 3.11.2-6+deb12u8 on 2026-12-02)
image="letta-k8s/e2e-python:$python_version-bookworm"
suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages=python3,python-is-python3,ca-certificates
recipe="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
cache="$LETTA_K8S_CACHE/e2e-images"
# The root file system is keyed by what goes into it, so that edits elsewhere in this file re-use it.
rootfs_tar="$cache/python-$python_version-$suite-$(echo "$suite $packages" | sha256sum | cut -c1-12).rootfs.tar"

phase_started=$SECONDS
phase() { echo "[python image] $1 in $((SECONDS - phase_started)) s" >&2; phase_started=$SECONDS; }

if [ "$(docker image inspect -f '{{index .Config.Labels "dev.letta-k8s.recipe"}}' "$image" 2>/dev/null)" = "$recipe" ]; then
  echo "[python image] $image is up to date (recipe $recipe)" >&2
  echo "$image"
  exit 0
fi

if [ ! -f "$rootfs_tar" ]; then
  [ "$(id -u)" = 0 ] || { echo "error: debootstrap and chroot need root" >&2; exit 1; }
  command -v debootstrap >/dev/null || { echo "error: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  mkdir -p "$cache"
  root="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  echo "[python image] debootstrap $suite minbase + python3 from $mirror..." >&2
  debootstrap --variant=minbase --include="$packages" \
    "$suite" "$root" "$mirror" >&2
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log "$root"/tmp/*
  # Compiled bytecode of the standard library is kept (as python3 installs it); the pods run
  # with PYTHONDONTWRITEBYTECODE=1 on a read-only root.
  actual="$(chroot "$root" python3 -c 'import platform; print(platform.python_version())')"
  [ "$actual" = "$python_version" ] || {
    echo "error: $suite now ships Python $actual, not $python_version: update python_version (and the tag)" >&2
    exit 1
  }
  tar -C "$root" --numeric-owner -cf "$rootfs_tar.partial" .
  mv "$rootfs_tar.partial" "$rootfs_tar"
  rm -rf "$root"
  trap - EXIT
  phase "root file system ($(du -h "$rootfs_tar" | cut -f1))"
fi

docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change "LABEL dev.letta-k8s.recipe=$recipe" \
  --change "LABEL org.opencontainers.image.title=e2e-python org.opencontainers.image.version=$python_version-$suite" \
  --change "LABEL org.opencontainers.image.description=\"Debian $suite python3 $python_version for the letta-k8s e2e test backends\"" \
  "$rootfs_tar" "$image" >/dev/null
phase "docker import"
echo "[python image] $image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')" >&2
echo "$image"
