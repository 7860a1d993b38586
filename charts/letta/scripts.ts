/*
 * Python programs the Letta pod runs from a ConfigMap, with the image's own interpreter (stdlib,
 * pg8000, SQLAlchemy and alembic are all in Letta's venv). They replace upstream's startup.sh,
 * which migrates without a lock and logs the database URI with its password.
 */

import { BACKUP_ENV, PRE_MIGRATION_RECORD } from '../backup/scripts';

const record = `${PRE_MIGRATION_RECORD.schema}.${PRE_MIGRATION_RECORD.table}`;

/** Environment variable naming the variables whose values the output filter hides. */
export const REDACT_ENV = 'LETTA_K8S_REDACT';
/** What the output filter writes in place of a secret value. */
export const REDACTED = '[redacted]';

/**
 * `redact_output.py -- COMMAND...`: runs COMMAND and copies its stdout and stderr line by line,
 * each value of the variables named in LETTA_K8S_REDACT (and its URL-encoded forms) replaced.
 * It works on the file descriptors, so child processes (uvicorn workers, alembic) are covered
 * too. Signals are passed on, so the server still shuts down gracefully; the exit status is the
 * command's.
 */
export const REDACT_OUTPUT_PY = `"""letta-k8s: run a command with every secret value removed from its output."""
import os
import signal
import subprocess
import sys
import threading
import urllib.parse

REDACTED = b"${REDACTED}"


def secret_values():
    values = set()
    for name in filter(None, os.environ.get("${REDACT_ENV}", "").split(",")):
        value = os.environ.get(name, "")
        if value:
            for form in (value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)):
                values.add(form.encode())
    # Longest first, so that a value containing another is replaced whole.
    return sorted(values, key=len, reverse=True)


def copy_redacted(source, target, secrets):
    for line in iter(source.readline, b""):
        for secret in secrets:
            line = line.replace(secret, REDACTED)
        target.write(line)
        target.flush()
    source.close()


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        print("usage: redact_output.py -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    secrets = secret_values()
    child = subprocess.Popen(argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda number, frame: child.send_signal(number))
    pumps = [
        threading.Thread(target=copy_redacted, args=(child.stdout, sys.stdout.buffer, secrets)),
        threading.Thread(target=copy_redacted, args=(child.stderr, sys.stderr.buffer, secrets)),
    ]
    for pump in pumps:
        pump.start()
    status = child.wait()
    for pump in pumps:
        pump.join()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
`;

/** Settings the migration program reads from its environment. */
export const MIGRATE_ENV = {
  /** libpq-style TLS mode for the lock connection and alembic: disable, require or verify-full. */
  sslMode: 'LETTA_K8S_PG_SSLMODE',
  /** CA bundle for verify-full (the same variable libpq and asyncpg read). */
  sslRootCert: 'PGSSLROOTCERT',
  /** How long to wait for another pod's migration before giving up. */
  lockWaitSeconds: 'LETTA_K8S_MIGRATION_LOCK_WAIT_SECONDS',
  /** Set: a migration waits this long for the pre-migration dump of the schema it changes. */
  preMigrationWaitSeconds: 'LETTA_K8S_PRE_MIGRATION_WAIT_SECONDS',
  /** The label selector of the Jobs that take that dump, for the log. */
  preMigrationJobs: 'LETTA_K8S_PRE_MIGRATION_JOBS',
} as const;

/**
 * `migrate.py`: alembic upgrade head, one pod at a time.
 *
 * The lock is polled with pg_try_advisory_lock on an autocommit connection: a migrator blocked
 * in pg_advisory_lock sits inside an open transaction, and migration 45402909a46b's CREATE INDEX
 * CONCURRENTLY waits for every open transaction, so two pods starting together deadlocked
 * forever. A session lock dies with its connection; server-side TCP keepalives make Postgres
 * notice a holder whose node vanished. Alembic runs in-process with absolute paths, so the
 * working directory can be any writable one. pg8000 takes TLS only as an SSLContext, never from
 * the URI, so the context is handed to every connection through SQLAlchemy's do_connect hook.
 * With pre-migration backups on, a schema behind the image's head is migrated only once the
 * backup's Job has recorded a dump of that revision for this image (charts/backup/scripts.ts).
 */
export const MIGRATE_PY = `"""letta-k8s: run Letta's migrations while holding a Postgres advisory lock."""
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
        return ssl.create_default_context(cafile=os.environ.get("${MIGRATE_ENV.sslRootCert}") or None)
    raise SystemExit(f"letta-k8s migrate: ${MIGRATE_ENV.sslMode}={mode!r} is not one of disable, require, verify-full")


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
    image = os.environ["${BACKUP_ENV.lettaImage}"]
    jobs = os.environ.get("${MIGRATE_ENV.preMigrationJobs}", "")
    deadline = time.monotonic() + wait_seconds
    while True:
        if connection.run("SELECT to_regclass('${record}') IS NOT NULL")[0][0]:
            rows = connection.run(
                "SELECT location, taken_at FROM ${record} WHERE revision = :revision AND letta_image = :image"
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
    context = tls_context(os.environ.get("${MIGRATE_ENV.sslMode}", "disable"))
    wait_seconds = int(os.environ.get("${MIGRATE_ENV.lockWaitSeconds}", "600"))
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
        backup_wait = os.environ.get("${MIGRATE_ENV.preMigrationWaitSeconds}")
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
`;

/** Environment of wait_for_models.py: the health URL of the inference server and how long to wait for it. */
export const WAIT_FOR_MODELS_ENV = { healthUrl: 'LETTA_K8S_MODELS_HEALTH_URL', waitSeconds: 'LETTA_K8S_MODELS_WAIT_SECONDS' } as const;

/**
 * `wait_for_models.py`: Letta lists a base provider's models once, at start, and never again
 * until it restarts; a server that starts before vLLM can serve never offers vLLM's models. So a
 * starting pod waits, within vLLM's own start-up budget, until vLLM answers its health check. When
 * the budget runs out it starts anyway, saying why the models are missing, rather than keep Letta
 * down for an inference server that may be gone for good.
 */
export const WAIT_FOR_MODELS_PY = `"""letta-k8s: wait until the inference server answers, so that Letta lists its models."""
import os
import sys
import time
import urllib.request

URL = os.environ["${WAIT_FOR_MODELS_ENV.healthUrl}"]
BUDGET = int(os.environ["${WAIT_FOR_MODELS_ENV.waitSeconds}"])
INTERVAL = 5


def answers():
    try:
        with urllib.request.urlopen(URL, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


deadline = time.monotonic() + BUDGET
while not answers():
    if time.monotonic() >= deadline:
        print(f"{URL} did not answer within {BUDGET} s: Letta starts without its models, which it lists after its next restart", flush=True)
        sys.exit(0)
    print(f"waiting for {URL}", flush=True)
    time.sleep(INTERVAL)
print(f"{URL} answers", flush=True)
`;
