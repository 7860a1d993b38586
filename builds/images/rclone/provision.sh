#!/usr/bin/env bash
# Runs inside a copy of the Debian base tree (chroot, as root): the packages upstream's Alpine
# image adds to rclone (ca-certificates and tzdata; fuse3 is left out: nothing here mounts).
set -euo pipefail
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates tzdata >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log
