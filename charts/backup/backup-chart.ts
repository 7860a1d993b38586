import { createHash } from 'node:crypto';
import { ApiObject, Cron, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { addBackupSteps, BACKUP_KIND_LABEL, BackupBucket, backupClaimName, backupPodSettings, BackupPodProps, preMigrationSteps, scheduledSteps } from './backup-pod';
import { DATABASE_SH, OBJECT_STORE_SH } from './scripts';
import { ComponentChart } from '../../lib/kit/component-chart';
import { DatabaseConnection } from '../../lib/kit/database-connection';
import { StackChartProps } from '../../lib/kit/stack-chart';
import { lintSkipAnnotations } from '../../lib/kit/lint-exceptions';
import { ResourceRequirements, storageSize } from '../../lib/kit/resources';

/** The claim of the dumps (claim target), in the stack's namespace. */
export interface BackupClaim {
  /** Its size: room for the kept dumps ("20Gi"). */
  readonly size: string;
  /** Its StorageClass. @default the cluster's default */
  readonly storageClassName?: string;
}

/** The dump taken before Letta migrates the database to a new schema. */
export interface PreMigrationBackup {
  /** Pre-migration dumps kept. */
  readonly retention: number;
  /** Seconds the Job may take; the migration waits as long for its dump. */
  readonly waitSeconds: number;
}

export interface BackupChartProps extends StackChartProps {
  /** The database dumped, in whose image pg_dump runs. */
  readonly database: DatabaseConnection;
  /** When the scheduled backup runs: five cron fields. */
  readonly schedule: string;
  /** IANA time zone of the schedule. @default the time zone of the cluster's controller manager */
  readonly timeZone?: string;
  /** Scheduled dumps kept; older ones are deleted after each new dump. */
  readonly retention: number;
  /** A claim of the backup's own holds the dumps. @default none: give `bucket` instead */
  readonly claim?: BackupClaim;
  /** An S3-compatible bucket holds the dumps. @default none: give `claim` instead */
  readonly bucket?: BackupBucket;
  /** Dump before each migration to a new schema. @default none: no pre-migration dump */
  readonly preMigration?: PreMigrationBackup;
  /** The Letta image a pre-migration dump is taken for. */
  readonly lettaImage: string;
  /** Requests and limits of every backup container. */
  readonly resources: ResourceRequirements;
}

/**
 * Database backups: a CronJob that dumps on a schedule, and a Job that dumps before a new Letta
 * image migrates the schema. Both write to a claim of their own or to an S3 bucket and prune old
 * dumps; the list and restore Jobs (charts/backup/backup-tasks.ts) read from the same place.
 */
export class BackupChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: BackupChartProps) {
    super(scope, id, props, 'backup', props.database.image);
    const { database, bucket } = props;
    if (!props.claim === !bucket) throw new Error('backup: give either a claim or a bucket for the dumps');
    const target = bucket ? 's3' : 'claim';
    const name = this.component.name;
    const labels = (kind: string) => ({ ...this.componentLabels, [BACKUP_KIND_LABEL]: kind });

    const serviceAccount = new kplus.ServiceAccount(this, 'service-account', {
      metadata: { name, labels: this.componentLabels },
      automountToken: false,
    });
    const scripts = new kplus.ConfigMap(this, 'scripts', {
      metadata: { name: `${name}-scripts`, labels: this.componentLabels },
      data: { 'database.sh': DATABASE_SH, ...(bucket ? { 'object-store.sh': OBJECT_STORE_SH } : {}) },
    });
    const claim = props.claim
      ? new kplus.PersistentVolumeClaim(this, 'claim', {
          metadata: { name: backupClaimName(name), labels: this.componentLabels },
          storage: storageSize(props.claim.size),
          accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
          storageClassName: props.claim.storageClassName,
        })
      : undefined;
    const pod: Omit<BackupPodProps, 'retention'> = {
      database,
      topology: this.topology,
      scripts,
      claim,
      bucket,
      resources: props.resources,
      imagePullPolicy: this.imagePullPolicy,
    };

    const images = [database.image, ...(bucket ? [bucket.clientImage] : [])];
    const annotations = lintSkipAnnotations('backup', { images });
    const [minute, hour, day, month, weekDay] = props.schedule.trim().split(/\s+/);
    const scheduled = new kplus.CronJob(this, 'scheduled', {
      metadata: { name, labels: labels('scheduled'), annotations },
      podMetadata: { labels: labels('scheduled') },
      select: false,
      serviceAccount,
      ...backupPodSettings,
      schedule: new Cron({ minute, hour, day, month, weekDay }),
      timeZone: props.timeZone,
      // Never two dumps at once; a run missed by more than an hour waits for the next.
      concurrencyPolicy: kplus.ConcurrencyPolicy.FORBID,
      startingDeadline: Duration.hours(1),
      successfulJobsRetained: 3,
      failedJobsRetained: 3,
      backoffLimit: 2,
      activeDeadline: Duration.hours(6),
    });
    addBackupSteps(scheduled, { ...pod, retention: props.retention }, scheduledSteps(target));

    if (props.preMigration) {
      const preMigration = new kplus.Job(this, 'pre-migration', {
        metadata: { name: `${name}-pre-migration`, labels: labels('pre-migration'), annotations },
        podMetadata: { labels: labels('pre-migration') },
        select: false,
        serviceAccount,
        ...backupPodSettings,
        // Retried while the database starts; done before the migration stops waiting for it.
        backoffLimit: 6,
        activeDeadline: Duration.seconds(props.preMigration.waitSeconds),
      });
      addBackupSteps(preMigration, { ...pod, retention: props.preMigration.retention, lettaImage: props.lettaImage }, preMigrationSteps(target));
      // A Job's pod template cannot change, and `kubectl apply` of a changed one fails: the name
      // follows the spec, so a new Letta image (or any other change) is a new Job and a new dump.
      const spec = JSON.stringify(ApiObject.of(preMigration).toJson().spec);
      const suffix = createHash('sha256').update(spec).digest('hex').slice(0, 10);
      ApiObject.of(preMigration).addJsonPatch(JsonPatch.replace('/metadata/name', `${name}-pre-migration-${suffix}`));
    }
  }
}
