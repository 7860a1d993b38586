import { createHash } from 'node:crypto';
import { ApiObject, Cron, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { addBackupSteps, BACKUP_KIND_LABEL, backupClaimName, backupPodSettings, BackupPodProps, preMigrationSteps, scheduledSteps } from './backup-pod';
import { DATABASE_SH, OBJECT_STORE_SH } from './scripts';
import { Settings } from '../../lib/config/schema';
import { ComponentChart } from '../../lib/kit/component-chart';
import { StackChartProps } from '../../lib/kit/stack-chart';
import { lintSkipAnnotations } from '../../lib/kit/lint-exceptions';
import { storageSize } from '../../lib/kit/resources';

export interface BackupChartProps extends StackChartProps {
  /** The backup settings: schedule, target, retention, images and resources. */
  readonly backup: Settings['backup'];
  /** The database dumped: image, user, name, password Secret and TLS. */
  readonly database: Settings['database'];
  /** The Letta image a pre-migration dump is taken for. */
  readonly lettaImage: string;
}

/**
 * Database backups: a CronJob that dumps on a schedule, and a Job that dumps before a new Letta
 * image migrates the schema. Both write to a claim of their own or to an S3 bucket and prune old
 * dumps; the list and restore Jobs (charts/backup/backup-tasks.ts) read from the same place.
 */
export class BackupChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: BackupChartProps) {
    super(scope, id, props, 'backup', props.database.image);
    const { backup, database } = props;
    const name = this.component.name;
    const labels = (kind: string) => ({ ...this.componentLabels, [BACKUP_KIND_LABEL]: kind });

    const serviceAccount = new kplus.ServiceAccount(this, 'service-account', {
      metadata: { name, labels: this.componentLabels },
      automountToken: false,
    });
    const scripts = new kplus.ConfigMap(this, 'scripts', {
      metadata: { name: `${name}-scripts`, labels: this.componentLabels },
      data: { 'database.sh': DATABASE_SH, ...(backup.target === 's3' ? { 'object-store.sh': OBJECT_STORE_SH } : {}) },
    });
    const claim =
      backup.target === 'claim'
        ? new kplus.PersistentVolumeClaim(this, 'claim', {
            metadata: { name: backupClaimName(name), labels: this.componentLabels },
            storage: storageSize(backup.claim.size),
            accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
            storageClassName: backup.claim.storageClassName,
          })
        : undefined;
    const pod: Omit<BackupPodProps, 'retention'> = {
      backup,
      database,
      topology: this.topology,
      scripts,
      claim,
      imagePullPolicy: this.imagePullPolicy,
    };

    const images = [database.image, ...(backup.target === 's3' ? [backup.uploaderImage] : [])];
    const annotations = lintSkipAnnotations('backup', { images });
    const [minute, hour, day, month, weekDay] = backup.schedule.trim().split(/\s+/);
    const scheduled = new kplus.CronJob(this, 'scheduled', {
      metadata: { name, labels: labels('scheduled'), annotations },
      podMetadata: { labels: labels('scheduled') },
      select: false,
      serviceAccount,
      ...backupPodSettings,
      schedule: new Cron({ minute, hour, day, month, weekDay }),
      timeZone: backup.timeZone,
      // Never two dumps at once; a run missed by more than an hour waits for the next.
      concurrencyPolicy: kplus.ConcurrencyPolicy.FORBID,
      startingDeadline: Duration.hours(1),
      successfulJobsRetained: 3,
      failedJobsRetained: 3,
      backoffLimit: 2,
      activeDeadline: Duration.hours(6),
    });
    addBackupSteps(scheduled, { ...pod, retention: backup.retention }, scheduledSteps(backup.target));

    if (backup.preMigration.enabled) {
      const preMigration = new kplus.Job(this, 'pre-migration', {
        metadata: { name: `${name}-pre-migration`, labels: labels('pre-migration'), annotations },
        podMetadata: { labels: labels('pre-migration') },
        select: false,
        serviceAccount,
        ...backupPodSettings,
        // Retried while the database starts; done before the migration stops waiting for it.
        backoffLimit: 6,
        activeDeadline: Duration.seconds(backup.preMigration.waitSeconds),
      });
      addBackupSteps(preMigration, { ...pod, retention: backup.preMigration.retention, lettaImage: props.lettaImage }, preMigrationSteps(backup.target));
      // A Job's pod template cannot change, and `kubectl apply` of a changed one fails: the name
      // follows the spec, so a new Letta image (or any other change) is a new Job and a new dump.
      const spec = JSON.stringify(ApiObject.of(preMigration).toJson().spec);
      const suffix = createHash('sha256').update(spec).digest('hex').slice(0, 10);
      ApiObject.of(preMigration).addJsonPatch(JsonPatch.replace('/metadata/name', `${name}-pre-migration-${suffix}`));
    }
  }
}
