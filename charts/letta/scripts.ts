/*
 * Python programs the Letta pod runs from a ConfigMap, with the image's own interpreter (stdlib,
 * pg8000, SQLAlchemy and alembic are all in Letta's venv). They replace upstream's startup.sh,
 * which migrates without a lock and logs the database URI with its password.
 */

import { readProjectFile } from '../../lib/kit/project-file';

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
export const REDACT_OUTPUT_PY = readProjectFile('charts/letta/redact_output.py');

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
export const MIGRATE_PY = readProjectFile('charts/letta/migrate.py');

/** Environment of wait_for_models.py: the health URL of the inference server and how long to wait for it. */
export const WAIT_FOR_MODELS_ENV = { healthUrl: 'LETTA_K8S_MODELS_HEALTH_URL', waitSeconds: 'LETTA_K8S_MODELS_WAIT_SECONDS' } as const;

/**
 * `wait_for_models.py`: Letta lists a base provider's models once, at start, and never again
 * until it restarts; a server that starts before vLLM can serve never offers vLLM's models. So a
 * starting pod waits, within vLLM's own start-up budget, until vLLM answers its health check. When
 * the budget runs out it starts anyway, saying why the models are missing, rather than keep Letta
 * down for an inference server that may be gone for good.
 */
export const WAIT_FOR_MODELS_PY = readProjectFile('charts/letta/wait_for_models.py');
