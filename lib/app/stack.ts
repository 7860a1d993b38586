import { App, Chart } from 'cdk8s';
import { BackupChart, BackupChartProps } from '../../charts/backup/backup-chart';
import { BackupTask, BackupTaskError, backupTaskManifest } from '../../charts/backup/backup-tasks';
import { DatabaseChart } from '../../charts/database/database-chart';
import { HttpRouteChart } from '../../charts/ingress/http-route-chart';
import { IngressChart } from '../../charts/ingress/ingress-chart';
import { LettaChart } from '../../charts/letta/letta-chart';
import { NamespaceChart } from '../../charts/namespace/namespace-chart';
import { NetworkPolicyChart } from '../../charts/network-policy/network-policy-chart';
import { RedisChart } from '../../charts/redis/redis-chart';
import { TelemetryChart } from '../../charts/telemetry/telemetry-chart';
import { VllmChart } from '../../charts/vllm/vllm-chart';
import { DEFAULT_DRAIN_SECONDS, Settings } from '../config/schema';
import { StackChartProps } from '../kit/stack-chart';
import { ComponentId, Topology } from '../model/topology';

/** The database's connection as its clients see it. */
const databaseConnection = (database: Settings['database']) => ({
  image: database.image,
  user: database.user,
  databaseName: database.databaseName,
  passwordSecretName: database.credentials.secretName,
  tls: database.tls,
});

/** The backup component's props: those of its chart, and of the list and restore Jobs. */
function backupProps({ backup, database, letta }: Settings, base: StackChartProps): BackupChartProps {
  const { s3 } = backup;
  return {
    ...base,
    database: databaseConnection(database),
    schedule: backup.schedule,
    timeZone: backup.timeZone,
    retention: backup.retention,
    claim: backup.target === 'claim' ? backup.claim : undefined,
    bucket:
      backup.target === 's3' && s3
        ? {
            endpoint: s3.endpoint,
            bucket: s3.bucket,
            prefix: s3.prefix,
            region: s3.region,
            credentialsSecretName: s3.credentials.secretName,
            accessKeyIdKey: s3.credentials.accessKeyIdKey,
            secretAccessKeyKey: s3.credentials.secretAccessKeyKey,
            clientImage: backup.uploaderImage,
          }
        : undefined,
    preMigration: backup.preMigration.enabled ? { retention: backup.preMigration.retention, waitSeconds: backup.preMigration.waitSeconds } : undefined,
    lettaImage: letta.image,
    resources: backup.resources,
  };
}

/** How each component's chart is built: the settings mapped to the chart's own props. */
const COMPONENT_CHARTS: Readonly<Record<ComponentId, (app: App, settings: Settings, base: StackChartProps) => Chart>> = {
  database: (app, { database }, base) =>
    new DatabaseChart(app, 'database', {
      ...base,
      ...databaseConnection(database),
      developmentCredentials: database.credentials.development,
      tlsSecretName: database.tls.secretName,
      storage: database.storage,
      resources: database.resources,
    }),
  backup: (app, settings, base) => new BackupChart(app, 'backup', backupProps(settings, base)),
  redis: (app, { redis }, base) => new RedisChart(app, 'redis', { ...base, image: redis.image, resources: redis.resources }),
  telemetry: (app, { telemetry }, base) =>
    new TelemetryChart(app, 'telemetry', { ...base, image: telemetry.image, resources: telemetry.resources, exporter: telemetry.exporter }),
  vllm: (app, { vllm }, base) =>
    new VllmChart(app, 'vllm', {
      ...base,
      image: vllm.image,
      resources: vllm.resources,
      device: vllm.device,
      model: vllm.model,
      servedModelName: vllm.servedModelName,
      maxModelLen: vllm.maxModelLen,
      dtype: vllm.dtype,
      gpus: vllm.gpus,
      toolCallParser: vllm.toolCallParser,
      modelCache: vllm.modelCache,
      shmSize: vllm.shmSize,
      cpuKvCacheSpaceGiB: vllm.cpu.kvCacheSpaceGiB,
      hfToken: vllm.hfToken,
      offline: vllm.offline,
      startupTimeoutSeconds: vllm.startupTimeoutSeconds,
      extraArgs: vllm.extraArgs,
      nodeSelector: vllm.nodeSelector,
      tolerations: vllm.tolerations,
      runtimeClassName: vllm.runtimeClassName,
    }),
  letta: (app, { letta, database, backup, ingress, vllm }, base) =>
    new LettaChart(app, 'letta', {
      ...base,
      image: letta.image,
      replicas: letta.replicas,
      secure: letta.secure,
      serverPassword: letta.serverPassword,
      encryptionKey: letta.encryptionKey,
      providerApiKeys: letta.providerApiKeys,
      corsOrigins: letta.corsOrigins,
      uvicornWorkers: letta.uvicornWorkers,
      startupTimeoutSeconds: letta.startupTimeoutSeconds,
      migrationLockWaitSeconds: letta.migrationLockWaitSeconds,
      // Within the ingress's stream timeout, past which no stream lasts anyway.
      drainSeconds: letta.drainSeconds ?? Math.min(DEFAULT_DRAIN_SECONDS, ingress.streamTimeoutSeconds),
      resources: letta.resources,
      database: databaseConnection(database),
      // A new schema only after the backup component's Job has dumped the current one.
      preMigrationBackupWaitSeconds: base.topology.has('backup') && backup.preMigration.enabled ? backup.preMigration.waitSeconds : undefined,
      modelsWaitSeconds: vllm.startupTimeoutSeconds,
    }),
};

/**
 * Adds the stack's charts to an app, in apply order: the namespace, the policies, then the
 * topology's components (the topology alone decides which), then the entry if there is one. Each
 * chart depends on the previous one, so cdk8s numbers the files (0000-namespace.k8s.yaml, ...) and
 * `kubectl apply -f dist/`, which reads files in name order, creates the policies before any pod.
 */
export function addStack(app: App, settings: Settings): Chart[] {
  const base = stackChartProps(settings);
  const { topology } = base;
  const charts: Chart[] = [
    new NamespaceChart(app, 'namespace', { namespace: topology.namespace }),
    new NetworkPolicyChart(app, 'network-policies', base),
    ...topology.components.map((component) => COMPONENT_CHARTS[component.id](app, settings, base)),
  ];
  if (topology.entry) {
    const { ingress } = settings;
    const entryProps = { ...base, entry: topology.entry, backendImage: settings.letta.image, host: ingress.host, tlsSecretName: ingress.tlsSecretName };
    charts.push(
      ingress.entry === 'gateway-api'
        ? new HttpRouteChart(app, 'http-route', { ...entryProps, gateway: ingress.gateway })
        : new IngressChart(app, 'ingress', {
            ...entryProps,
            className: ingress.className,
            streamTimeoutSeconds: ingress.streamTimeoutSeconds,
            maxBodySize: ingress.maxBodySize,
          }),
    );
  }
  charts.slice(1).forEach((chart, index) => chart.addDependency(charts[index]));
  return charts;
}

/** What every chart of the stack is given: the settings' topology and pull policy. */
function stackChartProps(settings: Settings): StackChartProps {
  return { topology: new Topology(settings), imagePullPolicy: settings.imagePullPolicy };
}

/** The list or restore Job of the stack's backups as YAML, for `npm run backup`. */
export function backupTaskFor(settings: Settings, task: BackupTask): string {
  if (!settings.backup.enabled) {
    throw new BackupTaskError('backup.enabled is false in these settings: the stack takes no backups to list or restore');
  }
  return backupTaskManifest(backupProps(settings, stackChartProps(settings)), task);
}
