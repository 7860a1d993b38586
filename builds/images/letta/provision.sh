#!/usr/bin/env bash
# Runs inside a copy of the postgres twin's file system (chroot, as root), in two passes that
# mirror the two stages of upstream's Dockerfile (letta 0.16.8):
#   builder  BUILD_ROOT SDIST UV : Debian's python3 (3.11) and build tools, the sdist's tree as
#                                  /app, then `uv sync --frozen --no-dev --all-extras --python 3.11`
#   runtime  SDIST : curl, python3, python3-venv, libpq-dev, redis-server and Node.js, as upstream's
#              runtime stage installs them (Node.js from Debian: 18, not nodesource's 22),
#              /etc/otel/config-*.yaml and /docker-entrypoint-initdb.d/init.sql from the sdist;
#              build.sh then moves the builder's /app in
# uv's cache is /cache/uv (kept by build.sh), so a rebuild downloads no wheel again.
set -euo pipefail
pass=$1
shift
case "$pass" in
  builder)
    sdist=$1 uv=$2
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv python3-full build-essential \
      libpq-dev python3-dev >/dev/null
    rm -rf /var/lib/apt/lists/*
    export LETTA_ENVIRONMENT=DEV UV_NO_PROGRESS=1 UV_PYTHON_PREFERENCE=system UV_PYTHON_DOWNLOADS=never \
      UV_CACHE_DIR=/cache/uv UV_LINK_MODE=copy
    # The build machine's CA bundle (build.sh puts it there): PyPI as this machine reaches it.
    export SSL_CERT_FILE=/tmp/build-ca-certificates.crt UV_NATIVE_TLS=1
    python3 -m venv /opt/venv
    export PATH="/opt/venv/bin:$PATH"
    install -m 0755 "$uv" /usr/local/bin/uv
    # COPY . . of the repository tree (the sdist holds it whole), less what .dockerignore drops.
    mkdir -p /app
    tar -C /app --strip-components=1 -xzf "$sdist"
    (cd /app && find . \( -name __pycache__ -o -name .pytest_cache \) -prune -exec rm -rf {} + &&
      find . \( -name '*.pyc' -o -name '*.pyo' -o -name '*.pyd' -o -name '*.log' \) -type f -delete &&
      rm -rf .git .gitignore .env)
    cd /app
    uv sync --frozen --no-dev --all-extras --python 3.11
    /app/.venv/bin/python -c 'import letta, alembic, pg8000, psycopg2; print("letta", letta.__version__)'
    ;;
  runtime)
    sdist=$1
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends curl ca-certificates python3 python3-venv libpq-dev \
      redis-server nodejs npm >/dev/null
    # The collector configurations and init.sql, as upstream copies them.
    mkdir -p /etc/otel /tmp/src
    tar -C /tmp/src --strip-components=1 -xzf "$sdist" --wildcards '*/init.sql' '*/otel/*'
    cp /tmp/src/otel/otel-collector-config-file.yaml /etc/otel/config-file.yaml
    cp /tmp/src/otel/otel-collector-config-clickhouse.yaml /etc/otel/config-clickhouse.yaml
    cp /tmp/src/otel/otel-collector-config-signoz.yaml /etc/otel/config-signoz.yaml
    cp /tmp/src/init.sql /docker-entrypoint-initdb.d/
    rm -rf /tmp/src
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log
    ;;
  *) echo "unknown pass $pass" >&2; exit 2 ;;
esac
