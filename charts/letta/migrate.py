"""letta-k8s: run Letta's migrations while holding a Postgres advisory lock."""
import os
import socket
import ssl
import sys
import time
import urllib.parse

import pg8000.native
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine

# A fixed key: the same for every pod and every release of the stack.
LOCK_KEY = 0x6C657474612D6B38  # "letta-k8" as bytes
POLL_SECONDS = 3
APP_DIR = "/app"


def log(message):
    print(f"letta-k8s migrate: {message}", flush=True)


def tls_context(mode):
    if mode == "disable":
        return None
    if mode == "require":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if mode == "verify-full":
        return ssl.create_default_context(cafile=os.environ.get("PGSSLROOTCERT") or None)
    raise SystemExit(f"letta-k8s migrate: LETTA_K8S_PG_SSLMODE={mode!r} is not one of disable, require, verify-full")


def lock_connection(uri, context):
    parts = urllib.parse.urlsplit(uri)
    connection = pg8000.native.Connection(
        user=urllib.parse.unquote(parts.username or ""),
        password=urllib.parse.unquote(parts.password or ""),
        host=parts.hostname,
        port=parts.port or 5432,
        database=parts.path.lstrip("/"),
        ssl_context=context,
        application_name=f"letta-k8s-migrate {socket.gethostname()}",
        timeout=30,
    )
    # Postgres drops the session, and with it the lock, about 30 s after its client's node vanished.
    for setting, value in (("tcp_keepalives_idle", 15), ("tcp_keepalives_interval", 5), ("tcp_keepalives_count", 3)):
        connection.run(f"SET {setting} = {value}")
    return connection


def lock_holder(connection):
    rows = connection.run(
        "SELECT a.application_name, now() - a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :high AND l.objid = :low AND l.objsubid = 1",
        high=LOCK_KEY >> 32,
        low=LOCK_KEY & 0xFFFFFFFF,
    )
    return f"{rows[0][0] or 'a session'} (connected {rows[0][1]} ago)" if rows else "a session that just ended"


def acquire(connection, wait_seconds):
    deadline = time.monotonic() + wait_seconds
    while not connection.run("SELECT pg_try_advisory_lock(:key)", key=LOCK_KEY)[0][0]:
        holder = lock_holder(connection)
        if time.monotonic() >= deadline:
            log(f"gave up after {wait_seconds} s: the migration lock is still held by {holder}; the pod retries")
            return False
        log(f"waiting for the migration lock, held by {holder}")
        time.sleep(POLL_SECONDS)
    return True


def current_revision(connection):
    if not connection.run("SELECT to_regclass('alembic_version') IS NOT NULL")[0][0]:
        return None
    return "+".join(sorted(row[0] for row in connection.run("SELECT version_num FROM alembic_version"))) or None


def wait_for_pre_migration_dump(connection, revision, wait_seconds):
    image = os.environ["LETTA_K8S_LETTA_IMAGE"]
    jobs = os.environ.get("LETTA_K8S_PRE_MIGRATION_JOBS", "")
    deadline = time.monotonic() + wait_seconds
    while True:
        if connection.run("SELECT to_regclass('letta_k8s.pre_migration_backups') IS NOT NULL")[0][0]:
            rows = connection.run(
                "SELECT location, taken_at FROM letta_k8s.pre_migration_backups WHERE revision = :revision AND letta_image = :image"
                " ORDER BY taken_at DESC LIMIT 1",
                revision=revision,
                image=image,
            )
            if rows:
                log(f"the pre-migration dump of revision {revision} is {rows[0][0]} (taken {rows[0][1]:%Y-%m-%d %H:%M:%S %Z})")
                return True
        if time.monotonic() >= deadline:
            log(
                f"gave up after {wait_seconds} s: no pre-migration dump of revision {revision} for {image};"
                f" the Job that takes it: kubectl get jobs -l {jobs}; set backup.preMigration.enabled to false"
                " to migrate without one; the pod retries"
            )
            return False
        log(f"waiting for the pre-migration dump of revision {revision} before migrating (kubectl logs -l {jobs})")
        time.sleep(POLL_SECONDS * 5)


def main():
    uri = os.environ["LETTA_PG_URI"]
    context = tls_context(os.environ.get("LETTA_K8S_PG_SSLMODE", "disable"))
    wait_seconds = int(os.environ.get("LETTA_K8S_MIGRATION_LOCK_WAIT_SECONDS", "600"))
    if context is not None:
        @event.listens_for(Engine, "do_connect")
        def use_tls(dialect, record, cargs, cparams):
            cparams["ssl_context"] = context

    connection = lock_connection(uri, context)
    try:
        if not acquire(connection, wait_seconds):
            return 3
        config = Config(os.path.join(APP_DIR, "alembic.ini"))
        config.set_main_option("script_location", os.path.join(APP_DIR, "alembic"))
        config.set_main_option("prepend_sys_path", APP_DIR)
        current = current_revision(connection)
        head = "+".join(sorted(ScriptDirectory.from_config(config).get_heads()))
        backup_wait = os.environ.get("LETTA_K8S_PRE_MIGRATION_WAIT_SECONDS")
        if backup_wait and current is not None and current != head:
            if not wait_for_pre_migration_dump(connection, current, int(backup_wait)):
                return 4
        log(f"holding the migration lock: alembic upgrade head (from {current or 'an empty database'} to {head})")
        command.upgrade(config, "head")
        log("migrations are at head")
        connection.run("SELECT pg_advisory_unlock(:key)", key=LOCK_KEY)
        return 0
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
