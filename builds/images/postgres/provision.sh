#!/usr/bin/env bash
# Runs inside the Debian bookworm tree (chroot, as root): the steps of the official
# postgres:15-bookworm Dockerfile, then those of pgvector's Dockerfile, with Debian's own
# packages where upstream uses apt.postgresql.org and a GitHub download (gosu).
# /cache/pgvector holds the pgvector source tarball (fetched and checked by build.sh).
set -euo pipefail
PG_MAJOR=15
PGVECTOR_TARBALL=$1

# The postgres user and group: uid/gid 999, home /var/lib/postgresql (mode 1777), as upstream.
groupadd -r postgres --gid=999
useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql

apt-get update -qq
# less (psql's pager), gosu (step-down from root), locales, nss_wrapper (initdb as any uid),
# xz/zstd (compressed init scripts): the official image's set.
apt-get install -y -qq --no-install-recommends less gosu locales libnss-wrapper xz-utils zstd >/dev/null
echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
locale-gen >/dev/null
locale -a | grep -qx 'en_US.utf8'

# postgresql-common first, told not to create a "main" cluster; then the server.
apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf
apt-get install -y -qq --no-install-recommends "postgresql-$PG_MAJOR" >/dev/null
# The sample configuration listens on every address, as upstream makes it.
dpkg-divert --quiet --add --rename --divert /usr/share/postgresql/postgresql.conf.sample.dpkg \
  "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"
cp /usr/share/postgresql/postgresql.conf.sample.dpkg /usr/share/postgresql/postgresql.conf.sample
ln -s ../postgresql.conf.sample "/usr/share/postgresql/$PG_MAJOR/"
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" /usr/share/postgresql/postgresql.conf.sample
grep -qF "listen_addresses = '*'" /usr/share/postgresql/postgresql.conf.sample

install -d -o postgres -g postgres -m 3777 /var/run/postgresql
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
mkdir -p /docker-entrypoint-initdb.d
ln -s docker-ensure-initdb.sh /usr/local/bin/docker-enforce-initdb.sh

# pgvector, as its Dockerfile builds it: OPTFLAGS="" (no -march=native, portable), build
# dependencies removed afterwards.
apt-mark showmanual > /tmp/manual-packages
apt-get install -y -qq --no-install-recommends build-essential "postgresql-server-dev-$PG_MAJOR" >/dev/null
mkdir /tmp/pgvector
tar -C /tmp/pgvector --strip-components=1 -xzf "$PGVECTOR_TARBALL"
make -s -C /tmp/pgvector clean
make -s -C /tmp/pgvector OPTFLAGS="" >/dev/null
make -s -C /tmp/pgvector install >/dev/null
mkdir -p /usr/share/doc/pgvector
cp /tmp/pgvector/LICENSE /tmp/pgvector/README.md /usr/share/doc/pgvector/
rm -rf /tmp/pgvector
apt-mark auto '.*' >/dev/null
apt-mark manual $(cat /tmp/manual-packages) >/dev/null
rm /tmp/manual-packages
# Suggests too: otherwise packages that suggest gcc or make keep the whole tool chain.
apt-get purge -y -qq --auto-remove -o APT::AutoRemove::RecommendsImportant=false \
  -o APT::AutoRemove::SuggestsImportant=false >/dev/null

# Byte code written by maintainer scripts, not owned by any package.
find /usr -name '*.pyc' -type f -exec sh -c 'for f; do dpkg -S "$f" >/dev/null 2>&1 || rm -f "$f"; done' sh {} +
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/* /var/log/apt/* /var/log/dpkg.log
postgres_bin=/usr/lib/postgresql/$PG_MAJOR/bin/postgres
"$postgres_bin" --version
ls "/usr/lib/postgresql/$PG_MAJOR/lib/vector.so" "/usr/share/postgresql/$PG_MAJOR/extension/vector.control" >/dev/null
dpkg-query -W -f '${Version}\n' "postgresql-$PG_MAJOR" > /pg-version
