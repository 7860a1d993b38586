import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { k8s } from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentService } from '../lib/component-service';
import { SecretKeyRef } from '../lib/config/schema';
import { componentWorkload, containerResources, hardenedContainer, listeningProbe, scratchVolume, selectComponentPods } from '../lib/hardening';
import { componentLabels } from '../lib/labels';
import { StackChart, StackChartProps } from '../lib/stack-chart';
import { portOf } from '../lib/topology';
import { DATABASE_PASSWORD_KEY } from './database-chart';

/**
 * The upstream image has no USER and runs as root; nothing in it needs root once HOME and
 * LETTA_DIR point at writable volumes, so it runs as an unprivileged uid.
 */
const LETTA_UID = 10001;
const HOME = '/home/letta';
const MIGRATE_SCRIPT = '/opt/letta-k8s/migrate.py';

/*
 * Upstream's startup.sh runs `alembic upgrade head` on every start with no lock (and logs the
 * database URI, password included). Instead an init container migrates while holding a Postgres
 * advisory lock, so replicas that start together migrate one at a time; the later ones find the
 * schema at head and do nothing. The server container then starts without migrating.
 */
const MIGRATE_PY = `import os
import subprocess
import sys

import sqlalchemy

MIGRATION_LOCK = "SELECT pg_advisory_lock(hashtext('letta-k8s/alembic'))"

engine = sqlalchemy.create_engine(os.environ["LETTA_PG_URI"], poolclass=sqlalchemy.pool.NullPool)
with engine.connect() as connection:
    print("waiting for the migration lock", flush=True)
    connection.execute(sqlalchemy.text(MIGRATION_LOCK))
    print("holding the migration lock: alembic upgrade head", flush=True)
    # The session-level lock is released when this connection closes.
    status = subprocess.call(["alembic", "upgrade", "head"], cwd="/app")
sys.exit(status)
`;

/** The Letta agent server: Deployment, Service, migration lock and disruption budget. */
export class LettaChart extends StackChart {
  constructor(scope: Construct, id: string, props: StackChartProps) {
    super(scope, id, props);
    const { letta, database } = this.settings;
    const topology = this.topology;
    const component = topology.component('letta');
    const labels = componentLabels(component, letta.image);
    const http = portOf(component, 'http');

    const secretValue = (id: string, ref: SecretKeyRef) =>
      kplus.EnvValue.fromSecretValue({ secret: kplus.Secret.fromSecretName(this, id, ref.name), key: ref.key });

    const db = topology.address('database', 'postgres');
    // What the migration needs; the server gets the rest on top.
    const databaseEnv: Record<string, kplus.EnvValue> = {
      HOME: kplus.EnvValue.fromValue(HOME),
      LETTA_DIR: kplus.EnvValue.fromValue(`${HOME}/.letta`),
      // Declared before LETTA_PG_URI, which refers to it: the URI carries a reference, never the value.
      LETTA_PG_PASSWORD: secretValue('db-password', { name: database.credentials.secretName, key: DATABASE_PASSWORD_KEY }),
      // sslmode=disable: the in-cluster database has no TLS, and Letta forces ssl=require otherwise.
      LETTA_PG_URI: kplus.EnvValue.fromValue(
        `postgresql://${database.user}:$(LETTA_PG_PASSWORD)@${db.host}:${db.port}/${database.databaseName}?sslmode=disable`,
      ),
    };
    const env = { ...databaseEnv };
    if (topology.has('redis')) {
      const redis = topology.address('redis', 'redis');
      env.LETTA_REDIS_HOST = kplus.EnvValue.fromValue(redis.host);
      env.LETTA_REDIS_PORT = kplus.EnvValue.fromValue(String(redis.port));
    }
    if (topology.has('telemetry')) {
      const otlp = topology.address('telemetry', 'otlp-grpc');
      env.LETTA_OTEL_EXPORTER_OTLP_ENDPOINT = kplus.EnvValue.fromValue(`http://${otlp.host}:${otlp.port}`);
    }
    if (topology.has('vllm')) {
      const vllm = topology.address('vllm', 'http');
      // Letta appends /v1 itself.
      env.VLLM_API_BASE = kplus.EnvValue.fromValue(`http://${vllm.host}:${vllm.port}`);
    }
    if (letta.corsOrigins.length > 0) env.ACCEPTABLE_ORIGINS = kplus.EnvValue.fromValue(letta.corsOrigins.join(','));
    if (letta.uvicornWorkers) env.LETTA_UVICORN_WORKERS = kplus.EnvValue.fromValue(String(letta.uvicornWorkers));
    if (letta.serverPassword) env.LETTA_SERVER_PASSWORD = secretValue('server-password', letta.serverPassword);
    if (letta.encryptionKey) env.LETTA_ENCRYPTION_KEY = secretValue('encryption-key', letta.encryptionKey);
    for (const [name, ref] of Object.entries(letta.providerApiKeys)) env[name] = secretValue(`provider-${name}`, ref);

    const migrateScript = new kplus.ConfigMap(this, 'migrate', {
      metadata: { name: `${component.name}-migrate`, labels },
      data: { 'migrate.py': MIGRATE_PY },
    });

    const serve = ['letta', 'server', '--host', '0.0.0.0', '--port', String(http.port), ...(letta.secure ? ['--secure'] : [])];
    const health = (options: kplus.HttpGetProbeOptions) =>
      kplus.Probe.fromHttpGet('/v1/health/', { port: http.port, timeoutSeconds: Duration.seconds(5), ...options });
    const pgIsReady = `until pg_isready -h ${db.host} -p ${db.port} -U ${database.user} -d ${database.databaseName}; do echo "waiting for ${db.host}"; sleep 2; done`;

    // Logs and traces under LETTA_DIR, temporary files under /tmp.
    const writablePaths = [scratchVolume(this, 'home', HOME, Size.gibibytes(1)), scratchVolume(this, 'tmp', '/tmp')];
    const deployment = new kplus.Deployment(this, 'deployment', {
      ...componentWorkload(this, component, { labels, uid: LETTA_UID, images: [letta.image, database.image], replicas: letta.replicas }),
      // Never below the desired replica count during a rollout.
      strategy: kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.absolute(1),
        maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
      }),
      initContainers: [
        {
          // compose: depends_on db with condition service_healthy (the same pg_isready check).
          name: 'wait-for-database',
          ...hardenedContainer(database.image, LETTA_UID),
          command: ['sh', '-c', pgIsReady],
          resources: containerResources({
            requests: { cpu: '10m', memory: '16Mi', ephemeralStorage: '1Gi' },
            limits: { cpu: '100m', memory: '64Mi', ephemeralStorage: '1Gi' },
          }),
        },
        {
          name: 'migrate',
          ...hardenedContainer(letta.image, LETTA_UID),
          command: ['python', MIGRATE_SCRIPT],
          envVariables: databaseEnv,
          resources: containerResources(letta.resources),
          volumeMounts: [
            { path: '/opt/letta-k8s', volume: kplus.Volume.fromConfigMap(this, 'migrate-volume', migrateScript, { name: 'migrate' }), readOnly: true },
            ...writablePaths,
          ],
        },
      ],
      containers: [
        {
          name: 'server',
          ...hardenedContainer(letta.image, LETTA_UID),
          command: serve,
          ports: [{ name: http.name, number: http.port }],
          envVariables: env,
          resources: containerResources(letta.resources),
          volumeMounts: writablePaths,
          startup: health({
            periodSeconds: Duration.seconds(10),
            failureThreshold: Math.ceil(letta.startupTimeoutSeconds / 10),
          }),
          readiness: health({ periodSeconds: Duration.seconds(10), failureThreshold: 3 }),
          liveness: listeningProbe(http.port, { periodSeconds: Duration.seconds(20), timeoutSeconds: Duration.seconds(5), failureThreshold: 3 }),
        },
      ],
    });
    selectComponentPods(deployment, component);

    new ComponentService(this, 'service', { component, labels });

    if (letta.replicas > 1) {
      // Replicas on different nodes where there are several, so one node's loss keeps the API up.
      deployment.scheduling.separate(deployment, { weight: 100, topology: kplus.Topology.HOSTNAME });
      new k8s.KubePodDisruptionBudget(this, 'disruption-budget', {
        metadata: { name: component.name, labels },
        spec: {
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: { ...component.selector } },
          // A crash-looping replica must not block node drains.
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }
  }
}
