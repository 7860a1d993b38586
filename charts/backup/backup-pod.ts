import { ApiObject, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { BACKUP_ENV, DUMP_FOLDERS } from './scripts';
import { DATABASE_PASSWORD_KEY } from '../database/database-secret';
import { DatabaseConnection } from '../../lib/kit/database-connection';
import { hardenedContainer, hardenedPodSecurity, ImagePullPolicySetting } from '../../lib/kit/hardening';
import { containerResources, ResourceRequirements } from '../../lib/kit/resources';
import { Topology } from '../../lib/model/topology';
import { databaseCaMounts, scratchVolume, secretFile } from '../../lib/kit/volumes';

/** The database's uid: its image's pg_dump, psql and pg_restore run as any uid. */
const BACKUP_UID = 10999;
/** Where the dumps are: the backup claim, or a staging emptyDir for the s3 target. */
const BACKUPS_DIR = '/backups';
const SCRIPTS_DIR = '/opt/letta-k8s';
const SECRETS_DIR = '/run/secrets/postgres';
const DATABASE_TLS_DIR = '/run/secrets/postgres-tls';
const STATE_DIR = '/run/letta-k8s-backup';
/** rclone's name for the bucket, configured by RCLONE_CONFIG_STORE_* variables. */
const RCLONE_REMOTE = 'STORE';

/** Label telling the backup pods apart: scheduled, pre-migration or restore. */
export const BACKUP_KIND_LABEL = 'letta-k8s.dev/backup';

/** The backup claim's name, for the chart and the restore Job. */
export function backupClaimName(componentName: string): string {
  return `${componentName}s`;
}

/** One step of a backup pod: a program of the scripts ConfigMap, in the image that has its tools. */
export interface BackupStep {
  /** Container name. */
  readonly name: string;
  /** database.sh in the database image, or object-store.sh in the S3 client's image. */
  readonly program: 'database' | 'object-store';
  readonly args: readonly string[];
}

/** Where the dumps are kept: a claim of the backup's own, or an S3-compatible bucket. */
export type BackupTarget = 'claim' | 's3';

/** An S3-compatible bucket of the dumps, reached with rclone. */
export interface BackupBucket {
  /** The S3 endpoint's URL. */
  readonly endpoint: string;
  /** The bucket; it must exist (the backup never creates one). */
  readonly bucket: string;
  /** Key prefix of every dump: path segments ending in "/". @default "": the bucket's root */
  readonly prefix?: string;
  /** The store's region. @default the store's default */
  readonly region?: string;
  /** The Secret, in the stack's namespace, holding the access key pair. */
  readonly credentialsSecretName: string;
  /** Key of that Secret holding the access key id. */
  readonly accessKeyIdKey: string;
  /** Key of that Secret holding the secret access key. */
  readonly secretAccessKeyKey: string;
  /** The S3 client's image (rclone), which uploads, lists and downloads the dumps. */
  readonly clientImage: string;
}

export interface BackupPodProps {
  /** The database the steps connect to, in whose image they run pg_dump, psql and pg_restore. */
  readonly database: DatabaseConnection;
  /** The topology of the stack: the database's address. */
  readonly topology: Topology;
  /** The ConfigMap holding database.sh and object-store.sh. */
  readonly scripts: kplus.IConfigMap;
  /** The backup claim (claim target). @default none: a staging emptyDir of limits.ephemeralStorage, for the s3 target */
  readonly claim?: kplus.IPersistentVolumeClaim;
  /** The bucket of the object-store steps (s3 target). @default none: no object-store step allowed */
  readonly bucket?: BackupBucket;
  /** Requests and limits of every step; limits.ephemeralStorage also bounds the staging emptyDir. */
  readonly resources: ResourceRequirements;
  /** Dumps kept in the folder the steps write to. */
  readonly retention: number;
  /** The Letta image a pre-migration dump is recorded for. @default none */
  readonly lettaImage?: string;
  /** A restore may replace a database that holds tables. @default false */
  readonly overwrite?: boolean;
  /** Pull policy of both images. @default Always for a tag, IfNotPresent for a digest */
  readonly imagePullPolicy?: ImagePullPolicySetting;
}

/** The pod-level settings of every backup pod: hardened like the stack's, no API token. */
export const backupPodSettings = {
  securityContext: hardenedPodSecurity(BACKUP_UID),
  automountServiceAccountToken: false,
  enableServiceLinks: false,
  restartPolicy: kplus.RestartPolicy.NEVER,
} satisfies Partial<kplus.JobProps>;

/**
 * Adds the steps to a backup pod (a Job's or a CronJob's), in order: every step but the last is
 * an init container, so each starts only once the one before succeeded. The pod mounts the
 * scripts, the database password as a file and the dumps' folder; object-store steps get the
 * bucket as rclone's remote STORE.
 */
export function addBackupSteps(pod: kplus.Job | kplus.CronJob, props: BackupPodProps, steps: readonly BackupStep[]): void {
  // The pod's own volumes and references: a chart may hold several backup pods.
  const scope: Construct = pod;
  const { database, topology } = props;
  const db = topology.address('database', 'postgres');
  const backups: kplus.VolumeMount = props.claim
    ? { path: BACKUPS_DIR, volume: kplus.Volume.fromPersistentVolumeClaim(scope, 'backups', props.claim, { name: 'backups' }) }
    : scratchVolume(scope, 'backups', BACKUPS_DIR, Size.gibibytes(Number(props.resources.limits.ephemeralStorage.replace('Gi', ''))));
  const scripts: kplus.VolumeMount = {
    path: SCRIPTS_DIR,
    readOnly: true,
    volume: kplus.Volume.fromConfigMap(scope, 'scripts', props.scripts, { name: 'scripts' }),
  };
  const shared = [backups, scripts, scratchVolume(scope, 'tmp', '/tmp'), scratchVolume(scope, 'state', STATE_DIR, Size.mebibytes(1))];
  const common: Record<string, kplus.EnvValue> = {
    HOME: kplus.EnvValue.fromValue('/tmp'),
    [BACKUP_ENV.retention]: kplus.EnvValue.fromValue(String(props.retention)),
    [BACKUP_ENV.stateDir]: kplus.EnvValue.fromValue(STATE_DIR),
  };

  const caMounts = databaseCaMounts(scope, database.tls, DATABASE_TLS_DIR);
  const databaseEnv: Record<string, kplus.EnvValue> = {
    ...common,
    PGHOST: kplus.EnvValue.fromValue(db.host),
    PGPORT: kplus.EnvValue.fromValue(String(db.port)),
    PGUSER: kplus.EnvValue.fromValue(database.user),
    PGDATABASE: kplus.EnvValue.fromValue(database.databaseName),
    // libpq names the modes as the settings do.
    PGSSLMODE: kplus.EnvValue.fromValue(database.tls.mode),
    ...(caMounts.length > 0 ? { PGSSLROOTCERT: kplus.EnvValue.fromValue(`${DATABASE_TLS_DIR}/ca.crt`) } : {}),
    [BACKUP_ENV.passwordFile]: kplus.EnvValue.fromValue(`${SECRETS_DIR}/${DATABASE_PASSWORD_KEY}`),
    ...(props.lettaImage ? { [BACKUP_ENV.lettaImage]: kplus.EnvValue.fromValue(props.lettaImage) } : {}),
    ...(props.overwrite ? { [BACKUP_ENV.overwrite]: kplus.EnvValue.fromValue('true') } : {}),
  };
  const databaseMounts = [
    ...shared,
    ...caMounts,
    secretFile(scope, 'database-password', { secretName: database.passwordSecretName, key: DATABASE_PASSWORD_KEY, directory: SECRETS_DIR }),
  ];

  const bucket = (): BackupBucket => {
    if (!props.bucket) throw new Error('backup: an object-store step needs a bucket');
    return props.bucket;
  };
  // Made once per pod, by the first object-store step that needs it.
  let objectStore: Record<string, kplus.EnvValue> | undefined;
  const objectStoreEnv = (): Record<string, kplus.EnvValue> => (objectStore ??= bucketEnv());
  const bucketEnv = (): Record<string, kplus.EnvValue> => {
    const target = bucket();
    const secret = kplus.Secret.fromSecretName(scope, 'object-store-credentials', target.credentialsSecretName);
    const rclone = (name: string) => `RCLONE_CONFIG_${RCLONE_REMOTE}_${name}`;
    return {
      ...common,
      [rclone('TYPE')]: kplus.EnvValue.fromValue('s3'),
      [rclone('PROVIDER')]: kplus.EnvValue.fromValue('Other'),
      [rclone('ENDPOINT')]: kplus.EnvValue.fromValue(target.endpoint),
      ...(target.region ? { [rclone('REGION')]: kplus.EnvValue.fromValue(target.region) } : {}),
      [rclone('ACCESS_KEY_ID')]: kplus.EnvValue.fromSecretValue({ secret, key: target.accessKeyIdKey }),
      [rclone('SECRET_ACCESS_KEY')]: kplus.EnvValue.fromSecretValue({ secret, key: target.secretAccessKeyKey }),
      // Configured by environment alone: no config file to look for.
      RCLONE_CONFIG: kplus.EnvValue.fromValue('/dev/null'),
      [BACKUP_ENV.remotePath]: kplus.EnvValue.fromValue(`${RCLONE_REMOTE}:${target.bucket}${target.prefix ? `/${target.prefix.replace(/\/$/, '')}` : ''}`),
    };
  };

  // The runtime's seccomp profile for the whole pod too: cdk8s-plus sets it per container only,
  // and checkov reads a CronJob's at pod level.
  const podSpec = pod instanceof kplus.CronJob ? '/spec/jobTemplate/spec/template/spec' : '/spec/template/spec';
  ApiObject.of(pod).addJsonPatch(JsonPatch.add(`${podSpec}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }));

  steps.forEach((step, index) => {
    const image = step.program === 'database' ? database.image : bucket().clientImage;
    const container: kplus.ContainerProps = {
      name: step.name,
      ...hardenedContainer(image, BACKUP_UID, props.imagePullPolicy),
      command: [step.program === 'database' ? 'bash' : 'sh', `${SCRIPTS_DIR}/${step.program}.sh`, ...step.args],
      envVariables: {
        ...(step.program === 'database' ? databaseEnv : objectStoreEnv()),
        USER: kplus.EnvValue.fromValue('backup'),
        LOGNAME: kplus.EnvValue.fromValue('backup'),
      },
      resources: containerResources(props.resources),
      volumeMounts: step.program === 'database' ? databaseMounts : shared,
    };
    if (index < steps.length - 1) pod.addInitContainer(container);
    else pod.addContainer(container);
  });
}

/** The folders of the dumps, under BACKUPS_DIR and under the bucket prefix. */
const folderPath = (folder: string) => `${BACKUPS_DIR}/${folder}`;

/** The scheduled backup: a dump, then the oldest pruned, on the claim or in the bucket. */
export function scheduledSteps(target: BackupTarget): BackupStep[] {
  const dir = folderPath(DUMP_FOLDERS.scheduled);
  return target === 'claim'
    ? [{ name: 'backup', program: 'database', args: ['scheduled', dir] }]
    : [
        { name: 'dump', program: 'database', args: ['dump', dir] },
        { name: 'upload', program: 'object-store', args: ['upload', dir, DUMP_FOLDERS.scheduled] },
      ];
}

/** The pre-migration backup: a dump of Letta's current schema, recorded only once it is stored. */
export function preMigrationSteps(target: BackupTarget): BackupStep[] {
  const dir = folderPath(DUMP_FOLDERS.preMigration);
  return target === 'claim'
    ? [{ name: 'backup', program: 'database', args: ['store-pre-migration', dir] }]
    : [
        { name: 'dump', program: 'database', args: ['pre-migration', dir] },
        { name: 'upload', program: 'object-store', args: ['upload', dir, DUMP_FOLDERS.preMigration] },
        { name: 'record', program: 'database', args: ['record'] },
      ];
}

/** A restore of one dump, named by its path under the claim or the bucket prefix. */
export function restoreSteps(target: BackupTarget, dump: string): BackupStep[] {
  if (target === 'claim') return [{ name: 'restore', program: 'database', args: ['restore', `${BACKUPS_DIR}/${dump}`] }];
  const staged = `${BACKUPS_DIR}/restore.dump`;
  return [
    { name: 'download', program: 'object-store', args: ['download', dump, staged] },
    { name: 'restore', program: 'database', args: ['restore', staged] },
  ];
}

/** A listing of every dump that a restore can name, with its size. */
export function listSteps(target: BackupTarget): BackupStep[] {
  const folders = [DUMP_FOLDERS.scheduled, DUMP_FOLDERS.preMigration];
  return target === 'claim'
    ? [{ name: 'list', program: 'database', args: ['list', ...folders.map(folderPath)] }]
    : [{ name: 'list', program: 'object-store', args: ['list', ...folders] }];
}
