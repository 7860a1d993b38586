import { ApiObject, App, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { addBackupSteps, BACKUP_KIND_LABEL, backupClaimName, backupPodSettings, BackupStep, listSteps, restoreSteps } from './backup-pod';
import { BackupChartProps } from './backup-chart';
import { DUMP_FOLDERS } from './scripts';
import { componentLabels } from '../../lib/kit/labels';
import { StackChart } from '../../lib/kit/stack-chart';

/*
 * The Jobs a user runs by hand against the backups of a synthesized stack: a listing of the
 * dumps, and the restore of one of them. They are not part of dist/ (applying dist/ must never
 * restore anything); `npm run backup -- list|restore` prints them for `kubectl create -f -`.
 */

/** A dump's path as the backup Jobs log it: FOLDER/letta-<UTC time>[-<revision>].dump. */
const DUMP_PATH = new RegExp(`^(${DUMP_FOLDERS.scheduled}|${DUMP_FOLDERS.preMigration})/letta-[0-9]{8}T[0-9]{6}Z(-[0-9A-Za-z_+]+)?\\.dump$`);

export type BackupTask = { readonly task: 'list' } | { readonly task: 'restore'; readonly dump: string; readonly overwrite: boolean };

/** A task the settings cannot run: the message names the setting or the argument. */
export class BackupTaskError extends Error {}

/**
 * What a task needs of the backup component: where the dumps are, the database and the
 * containers' resources, as the backup chart has them (its `retention` is stated in the Job's
 * environment as in the scheduled backup's; a listing or a restore deletes no dump).
 */
export type BackupTaskProps = Pick<BackupChartProps, 'topology' | 'imagePullPolicy' | 'database' | 'bucket' | 'resources' | 'retention'>;

/** The Job of a task as YAML, named by the API server (generateName): each `kubectl create` is a new run. */
export function backupTaskManifest(props: BackupTaskProps, task: BackupTask): string {
  if (task.task === 'restore' && !DUMP_PATH.test(task.dump)) {
    throw new BackupTaskError(
      `--dump ${JSON.stringify(task.dump)}: must be a dump's path as the backup Jobs log it, such as ${DUMP_FOLDERS.scheduled}/letta-20261202T030000Z.dump (npm run backup -- list shows them)`,
    );
  }
  const { topology, bucket } = props;
  const component = topology.component('backup');
  const app = new App();
  const chart = new StackChart(app, task.task, { topology, imagePullPolicy: props.imagePullPolicy });
  const labels = { ...componentLabels(component, props.database.image), [BACKUP_KIND_LABEL]: task.task };
  const job = new kplus.Job(chart, 'job', {
    metadata: { name: `${component.name}-${task.task}`, labels },
    podMetadata: { labels },
    select: false,
    serviceAccount: kplus.ServiceAccount.fromServiceAccountName(chart, 'service-account', component.name),
    ...backupPodSettings,
    // A refused or failed restore is looked at, not retried.
    backoffLimit: 0,
    activeDeadline: Duration.hours(6),
  });
  const target = bucket ? 's3' : 'claim';
  const steps: BackupStep[] = task.task === 'list' ? listSteps(target) : restoreSteps(target, task.dump);
  addBackupSteps(
    job,
    {
      database: props.database,
      topology,
      scripts: kplus.ConfigMap.fromConfigMapName(chart, 'scripts', `${component.name}-scripts`),
      claim: bucket ? undefined : kplus.PersistentVolumeClaim.fromClaimName(chart, 'claim', backupClaimName(component.name)),
      bucket,
      resources: props.resources,
      retention: props.retention,
      overwrite: task.task === 'restore' && task.overwrite,
      imagePullPolicy: props.imagePullPolicy,
    },
    steps,
  );
  ApiObject.of(job).addJsonPatch(JsonPatch.remove('/metadata/name'), JsonPatch.add('/metadata/generateName', `${component.name}-${task.task}-`));
  return app.synthYaml();
}
