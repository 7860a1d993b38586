#!/usr/bin/env bash
# Runs inside the Debian bookworm tree (chroot, as root): the steps of the official
# redis:7.4-alpine Dockerfile, on Debian, from Debian bookworm's redis source package (upstream's
# 7.0.15 tarball plus Debian's security fixes). Arguments: the source tarball and Debian's
# debian.tar.xz (from /cache/redis, fetched and checked by build.sh).
set -euo pipefail
SOURCE_TARBALL=$1 DEBIAN_TARBALL=$2

# User and group as in the alpine image: uid 999, gid 1000.
groupadd -r -g 1000 redis
useradd -r -g redis -u 999 -d /home/redis -s /sbin/nologin redis

apt-get update -qq
# tzdata as upstream (issue 138); gosu from Debian for the step-down from root.
apt-get install -y -qq --no-install-recommends tzdata gosu libssl3 >/dev/null
apt-mark showmanual > /tmp/manual-packages
apt-get install -y -qq --no-install-recommends build-essential dpkg-dev libssl-dev pkg-config patch xz-utils >/dev/null

src=/usr/src/redis
mkdir -p "$src" /tmp/debian
tar -C "$src" --strip-components=1 -xzf "$SOURCE_TARBALL"
tar -C /tmp/debian -xJf "$DEBIAN_TARBALL"
# Debian's security fixes (every CVE fix since 7.0.15), not its packaging: neither its defaults
# (debian-packaging/*) nor its build changes (system jemalloc, CPPFLAGS, kFreeBSD, PATH_MAX),
# so that the build is upstream's.
grep -v -e '^#' -e '^debian-packaging/' -e '^0001-Fix-FTBFS-on-kFreeBSD' -e '^0002-Add-CPPFLAGS' \
  -e '^0003-Use-get_current_dir_name' -e '^0004-Add-support-for-USE_SYSTEM_JEMALLOC' \
  /tmp/debian/debian/patches/series | while read -r p; do
  if [ -n "$p" ]; then patch -s -d "$src" -p1 < "/tmp/debian/debian/patches/$p"; fi
done

# Protected mode off by default, as upstream's image does it (in the source, so that "save on
# SIGTERM" and every other default stay as without arguments).
grep -qE '^ *createBoolConfig[(]"protected-mode",.*, *1 *,.*[)],$' "$src/src/config.c"
sed -ri 's!^( *createBoolConfig[(]"protected-mode",.*, *)1( *,.*[)],)$!\10\2!' "$src/src/config.c"
grep -qE '^ *createBoolConfig[(]"protected-mode",.*, *0 *,.*[)],$' "$src/src/config.c"

# The bundled jemalloc configured as Debian builds it, as upstream's image does.
gnu_arch=$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)
jemalloc_flags="--build=$gnu_arch"
case "$(dpkg --print-architecture)" in
  amd64 | i386 | x32) jemalloc_flags="$jemalloc_flags --with-lg-page=12" ;;
  *) jemalloc_flags="$jemalloc_flags --with-lg-page=16" ;;
esac
jemalloc_flags="$jemalloc_flags --with-lg-hugepage=21"
grep -qF 'cd jemalloc && ./configure ' "$src/deps/Makefile"
sed -ri 's!cd jemalloc && ./configure !&'"$jemalloc_flags"' !' "$src/deps/Makefile"

export BUILD_TLS=yes
make -s -C "$src" -j "$(nproc)" all >/dev/null
make -s -C "$src" install >/dev/null
# redis-check-aof, redis-check-rdb and redis-sentinel are the server binary: symlinks to it.
server_sum=$(md5sum /usr/local/bin/redis-server | cut -d' ' -f1)
for f in /usr/local/bin/redis*; do
  if [ "$f" != /usr/local/bin/redis-server ] && [ ! -L "$f" ] &&
    [ "$(md5sum "$f" | cut -d' ' -f1)" = "$server_sum" ]; then
    ln -sfT redis-server "$f"
  fi
done
rm -rf "$src" /tmp/debian

apt-mark auto '.*' >/dev/null
apt-mark manual $(cat /tmp/manual-packages) >/dev/null
rm /tmp/manual-packages
# Suggests too: otherwise packages that suggest gcc or make keep the whole tool chain.
apt-get purge -y -qq --auto-remove -o APT::AutoRemove::RecommendsImportant=false \
  -o APT::AutoRemove::SuggestsImportant=false >/dev/null
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/* /var/log/apt/* /var/log/dpkg.log

mkdir /data
chown redis:redis /data
redis-cli --version
redis-server --version
