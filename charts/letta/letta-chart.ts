import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentChart } from '../../lib/kit/component-chart';
import { DatabaseConnection } from '../../lib/kit/database-connection';
import { BACKUP_KIND_LABEL } from '../backup/backup-pod';
import { BACKUP_ENV } from '../backup/scripts';
import { DATABASE_PASSWORD_KEY } from '../database/database-secret';
import { exceptionAnnotations, LETTA_SCRIPTS_EXCEPTIONS } from '../../lib/kit/lint-exceptions';
import { MIGRATE_ENV, MIGRATE_PY, REDACT_ENV, REDACT_OUTPUT_PY, WAIT_FOR_MODELS_ENV, WAIT_FOR_MODELS_PY } from './scripts';
import { listeningProbe } from '../../lib/kit/probes';
import { containerResources, ResourceRequirements } from '../../lib/kit/resources';
import { SecretKeyRef } from '../../lib/kit/secret-key-ref';
import { StackChartProps } from '../../lib/kit/stack-chart';
import { StackComponent } from '../../lib/kit/stack-component';
import { healthOf, portOf } from '../../lib/model/topology';
import { databaseCaMounts, scratchVolume } from '../../lib/kit/volumes';

/**
 * The upstream image has no USER and runs as root; nothing in it needs root once HOME and
 * LETTA_DIR point at writable volumes, so it runs as an unprivileged uid.
 */
const LETTA_UID = 10001;
const HOME = '/home/letta';
/** The image's WORKDIR, where its code, alembic.ini and bundled conf.yaml live. */
const APP_DIR = '/app';
const SCRIPTS_DIR = '/opt/letta-k8s';
const DATABASE_TLS_DIR = '/run/secrets/postgres-tls';
/**
 * How long a stopping server keeps accepting requests before it gets SIGTERM: the pod has left
 * the Service's endpoints at once, but the ingress controller learns it a moment later.
 */
const PRESTOP_PAUSE_SECONDS = 10;

export interface LettaChartProps extends StackChartProps {
  /** Letta's image. */
  readonly image: string;
  /** Server replicas; above 1 they spread over nodes and get a PodDisruptionBudget. */
  readonly replicas: number;
  /** Password auth (`letta server --secure`). @default false */
  readonly secure?: boolean;
  /** Secret key holding LETTA_SERVER_PASSWORD. @default none */
  readonly serverPassword?: SecretKeyRef;
  /** Secret key holding LETTA_ENCRYPTION_KEY. @default none */
  readonly encryptionKey?: SecretKeyRef;
  /** Provider API keys: environment variable name to the Secret key holding it. @default none */
  readonly providerApiKeys?: Readonly<Record<string, SecretKeyRef>>;
  /** ACCEPTABLE_ORIGINS of the server's CORS. @default none */
  readonly corsOrigins?: readonly string[];
  /** LETTA_UVICORN_WORKERS. @default Letta's own */
  readonly uvicornWorkers?: number;
  /** Seconds the server may take to start before it counts as failed. */
  readonly startupTimeoutSeconds: number;
  /** Seconds a migration waits for another pod's before the container fails and is retried. */
  readonly migrationLockWaitSeconds: number;
  /** Seconds a stopping server may finish its open streams, after the pre-stop pause. */
  readonly drainSeconds: number;
  /** Requests and limits of the migration and server containers. */
  readonly resources: ResourceRequirements;
  /** The database Letta connects to. */
  readonly database: DatabaseConnection;
  /** Set: a migration waits this long for the backup's pre-migration dump. @default no wait */
  readonly preMigrationBackupWaitSeconds?: number;
  /** Seconds a starting pod waits for vLLM to answer (vLLM's own start-up budget); used with vLLM only. */
  readonly modelsWaitSeconds: number;
}

/**
 * The Letta agent server: Deployment, Service, migration lock and disruption budget. Of the
 * database settings it reads what the connection needs: user, name, password Secret, TLS, and the
 * image, whose pg_isready waits for the server.
 */
export class LettaChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: LettaChartProps) {
    super(scope, id, props, 'letta', props.image);
    const { database } = props;
    const topology = this.topology;
    const http = portOf(this.component, 'http');

    const secretValue = (id: string, ref: SecretKeyRef) =>
      kplus.EnvValue.fromSecretValue({ secret: kplus.Secret.fromSecretName(this, id, ref.name), key: ref.key });

    const db = topology.address('database', 'postgres');
    const tls = database.tls;
    // The password as a reference, never the value: Kubernetes expands $(LETTA_PG_PASSWORD).
    const uri = `postgresql://${database.user}:$(LETTA_PG_PASSWORD)@${db.host}:${db.port}/${database.databaseName}`;
    // verify-full checks the server's certificate against the CA of its TLS Secret.
    const caMounts = databaseCaMounts(this, tls, DATABASE_TLS_DIR);
    // What every Letta process needs; the migration and the server each add their own.
    const commonEnv: Record<string, kplus.EnvValue> = {
      HOME: kplus.EnvValue.fromValue(HOME),
      LETTA_DIR: kplus.EnvValue.fromValue(`${HOME}/.letta`),
      // The working directory is writable (the server writes openapi_letta.json there), so the
      // image's conf.yaml, which Letta reads from its working directory, is named explicitly.
      LETTA_CONFIG_PATH: kplus.EnvValue.fromValue(`${APP_DIR}/conf.yaml`),
      // NLTK fetches punkt_tab at every start; it lands in the writable home, not the image.
      NLTK_DATA: kplus.EnvValue.fromValue(`${HOME}/nltk_data`),
      // Declared before LETTA_PG_URI, which refers to it.
      LETTA_PG_PASSWORD: secretValue('db-password', { name: database.passwordSecretName, key: DATABASE_PASSWORD_KEY }),
      ...(caMounts.length > 0 ? { [MIGRATE_ENV.sslRootCert]: kplus.EnvValue.fromValue(`${DATABASE_TLS_DIR}/ca.crt`) } : {}),
    };
    // alembic's pg8000 rejects any query parameter (sslmode included) and takes TLS only as an
    // SSLContext, which migrate.py builds from LETTA_K8S_PG_SSLMODE.
    const databaseEnv: Record<string, kplus.EnvValue> = {
      ...commonEnv,
      LETTA_PG_URI: kplus.EnvValue.fromValue(uri),
      [MIGRATE_ENV.sslMode]: kplus.EnvValue.fromValue(tls.mode),
      [MIGRATE_ENV.lockWaitSeconds]: kplus.EnvValue.fromValue(String(props.migrationLockWaitSeconds)),
    };
    if (props.preMigrationBackupWaitSeconds !== undefined) {
      // A new schema only after the backup component's Job has dumped the current one.
      const jobs = { ...topology.component('backup').selector, [BACKUP_KIND_LABEL]: 'pre-migration' };
      databaseEnv[MIGRATE_ENV.preMigrationWaitSeconds] = kplus.EnvValue.fromValue(String(props.preMigrationBackupWaitSeconds));
      databaseEnv[MIGRATE_ENV.preMigrationJobs] = kplus.EnvValue.fromValue(Object.entries(jobs).map(([key, value]) => `${key}=${value}`).join(','));
      databaseEnv[BACKUP_ENV.lettaImage] = kplus.EnvValue.fromValue(props.image);
    }
    // The server's asyncpg takes the mode as ?ssl=; without it Letta forces ssl=require whenever
    // SQLAlchemy pooling is on, which a Postgres without TLS refuses.
    const env: Record<string, kplus.EnvValue> = {
      ...commonEnv,
      LETTA_PG_URI: kplus.EnvValue.fromValue(`${uri}?ssl=${tls.mode}`),
      // /v1/ready/ answers 503 until the server's start-up (scheduler, providers) has completed.
      LETTA_READINESS_ENFORCEMENT_ENABLED: kplus.EnvValue.fromValue('true'),
    };
    if (topology.has('redis')) {
      const redis = topology.address('redis', 'redis');
      env.LETTA_REDIS_HOST = kplus.EnvValue.fromValue(redis.host);
      env.LETTA_REDIS_PORT = kplus.EnvValue.fromValue(String(redis.port));
    }
    if (topology.has('telemetry')) {
      env.LETTA_OTEL_EXPORTER_OTLP_ENDPOINT = kplus.EnvValue.fromValue(topology.url('telemetry', 'otlp-grpc'));
    }
    const inference = topology.has('vllm');
    // Letta appends /v1 itself.
    if (inference) env.VLLM_API_BASE = kplus.EnvValue.fromValue(topology.url('vllm', 'http'));
    const corsOrigins = props.corsOrigins ?? [];
    if (corsOrigins.length > 0) env.ACCEPTABLE_ORIGINS = kplus.EnvValue.fromValue(corsOrigins.join(','));
    if (props.uvicornWorkers) env.LETTA_UVICORN_WORKERS = kplus.EnvValue.fromValue(String(props.uvicornWorkers));
    if (props.serverPassword) env.LETTA_SERVER_PASSWORD = secretValue('server-password', props.serverPassword);
    if (props.encryptionKey) env.LETTA_ENCRYPTION_KEY = secretValue('encryption-key', props.encryptionKey);
    for (const [name, ref] of Object.entries(props.providerApiKeys ?? {})) env[name] = secretValue(`provider-${name}`, ref);

    const scripts = new kplus.ConfigMap(this, 'scripts', {
      metadata: { name: `${this.component.name}-scripts`, labels: this.componentLabels, annotations: exceptionAnnotations([LETTA_SCRIPTS_EXCEPTIONS]) },
      data: { 'migrate.py': MIGRATE_PY, 'redact_output.py': REDACT_OUTPUT_PY, ...(inference ? { 'wait_for_models.py': WAIT_FOR_MODELS_PY } : {}) },
    });
    const scriptsMount: kplus.VolumeMount = {
      path: SCRIPTS_DIR,
      volume: kplus.Volume.fromConfigMap(this, 'scripts-volume', scripts, { name: 'scripts' }),
      readOnly: true,
    };
    // alembic prints the database URI and `letta server --secure` the server password: every
    // Letta process runs behind a filter that hides the values of the Secret-backed variables.
    const redacted = (environment: Record<string, kplus.EnvValue>, command: string[]) => {
      const secretNames = Object.entries(environment)
        .filter(([, value]) => value.valueFrom?.secretKeyRef !== undefined)
        .map(([name]) => name);
      environment[REDACT_ENV] = kplus.EnvValue.fromValue(secretNames.join(','));
      return ['python', `${SCRIPTS_DIR}/redact_output.py`, '--', ...command];
    };

    const migrate = redacted(databaseEnv, ['python', `${SCRIPTS_DIR}/migrate.py`]);
    const serve = redacted(env, ['letta', 'server', '--host', '0.0.0.0', '--port', String(http.port), ...(props.secure ? ['--secure'] : [])]);
    const probe = (path: string, options: kplus.HttpGetProbeOptions) =>
      kplus.Probe.fromHttpGet(path, { port: http.port, timeoutSeconds: Duration.seconds(5), ...options });
    const pgIsReady = `until pg_isready -h ${db.host} -p ${db.port} -U ${database.user} -d ${database.databaseName}; do echo "waiting for ${db.host}"; sleep 2; done`;

    // Logs and traces under LETTA_DIR, temporary files under /tmp.
    const writablePaths = [scratchVolume(this, 'home', HOME, Size.gibibytes(1)), scratchVolume(this, 'tmp', '/tmp'), ...caMounts];
    const server = new StackComponent(this, 'server', {
      component: this.component,
      image: props.image,
      uid: LETTA_UID,
      userName: 'letta',
      imagePullPolicy: this.imagePullPolicy,
      workload: {
        kind: 'Deployment',
        replicas: props.replicas,
        // Never below the desired replica count during a rollout.
        strategy: kplus.DeploymentStrategy.rollingUpdate({
          maxSurge: kplus.PercentOrAbsolute.absolute(1),
          maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
        }),
        // uvicorn stops on SIGTERM only once its open responses have ended (Letta sets no shutdown
        // timeout): an agent stream finishes its run unless the grace period runs out first.
        terminationGracePeriod: Duration.seconds(PRESTOP_PAUSE_SECONDS + props.drainSeconds),
      },
    });
    // compose: depends_on db with condition service_healthy (the same pg_isready check).
    server.addInitContainer({
      name: 'wait-for-database',
      image: database.image,
      command: ['sh', '-c', pgIsReady],
      resources: containerResources({
        requests: { cpu: '10m', memory: '16Mi', ephemeralStorage: '1Gi' },
        limits: { cpu: '100m', memory: '64Mi', ephemeralStorage: '1Gi' },
      }),
    });
    if (inference) {
      // Letta lists vLLM's models only at start: a pod that starts first waits for vLLM.
      server.addInitContainer({
        name: 'wait-for-models',
        command: ['python', `${SCRIPTS_DIR}/wait_for_models.py`],
        envVariables: {
          [WAIT_FOR_MODELS_ENV.healthUrl]: kplus.EnvValue.fromValue(topology.healthUrl('vllm')),
          [WAIT_FOR_MODELS_ENV.waitSeconds]: kplus.EnvValue.fromValue(String(props.modelsWaitSeconds)),
        },
        resources: containerResources({
          requests: { cpu: '10m', memory: '32Mi', ephemeralStorage: '1Gi' },
          limits: { cpu: '100m', memory: '64Mi', ephemeralStorage: '1Gi' },
        }),
        volumeMounts: [scriptsMount],
      });
    }
    server.addInitContainer({
      name: 'migrate',
      command: migrate,
      workingDir: HOME,
      envVariables: databaseEnv,
      resources: containerResources(props.resources),
      volumeMounts: [scriptsMount, ...writablePaths],
    });
    server.addContainer({
      name: 'server',
      command: serve,
      workingDir: HOME,
      envVariables: env,
      resources: containerResources(props.resources),
      volumeMounts: [scriptsMount, ...writablePaths],
      startup: probe(healthOf(this.component).path, {
        periodSeconds: Duration.seconds(10),
        failureThreshold: Math.ceil(props.startupTimeoutSeconds / 10),
      }),
      readiness: probe('/v1/ready/', { periodSeconds: Duration.seconds(10), failureThreshold: 3 }),
      liveness: listeningProbe(http.port, { periodSeconds: Duration.seconds(20), timeoutSeconds: Duration.seconds(5), failureThreshold: 3 }),
      // Serving on while the ingress controller learns the pod has left keeps a rolling update
      // from failing new requests; SIGTERM then lets the open ones end (drainSeconds).
      lifecycle: { preStop: kplus.Handler.fromCommand(['sleep', String(PRESTOP_PAUSE_SECONDS)]) },
    });
  }
}
