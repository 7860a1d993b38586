import { BACKUP_KIND_LABEL } from '../../charts/backup/backup-pod';
import { type Kubectl, labelSelector, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { type LettaClient, readBackWithin, type WrittenData } from './letta-api';
import { databaseShell } from './persistence';
import { describePod, pollUntil } from './readiness';
import { check, type Shell } from './shell';
import { applyStack, type StepContext, waitForStack } from './steps';
import { MINUTE } from '../../tools/support';

/*
 * Backups on a running stack, as the README tells a user to do them: the CronJob's Job run by
 * hand, Letta scaled to zero, the restore Job from `npm run backup`, Letta back; and a simulated
 * upgrade whose migration must wait for the pre-migration dump.
 */

export interface BackupCheckOptions {
  readonly shell: Shell;
  readonly repoRoot: string;
  /** The profile and values file the stack was synthesized from: the restore Job comes from the same. */
  readonly profile: string;
  readonly valuesFile?: string;
  /** The Letta client (its password, if the profile has password auth) and what it wrote. */
  readonly letta: LettaClient;
  readonly written: WrittenData;
}

interface JobOutcome {
  readonly succeeded: boolean;
  readonly log: string;
}

/** Waits for a Job to succeed or fail and returns its containers' logs. */
async function finishedJob(kubectl: Kubectl, namespace: string, name: string, timeoutMs: number): Promise<JobOutcome> {
  const job = await pollUntil(
    async () => {
      const found = await kubectl.get(KINDS.job, name, namespace);
      return found && ((found.status?.succeeded ?? 0) > 0 || (found.status?.failed ?? 0) > 0) ? found : undefined;
    },
    { timeoutMs, intervalMs: 3_000 },
  );
  if (!job) throw new Error(`job ${namespace}/${name} did not finish within ${timeoutMs / 1000} s: ${await jobPodsState(kubectl, namespace, name)}`);
  const log = await kubectl.check(['logs', `job/${name}`, '--namespace', namespace, '--all-containers', '--prefix']);
  return { succeeded: (job.status?.succeeded ?? 0) > 0, log };
}

/** Where a Job's pods are stuck (describePod's line) and their logs so far. */
async function jobPodsState(kubectl: Kubectl, namespace: string, name: string): Promise<string> {
  const pods = await kubectl.pods({ 'job-name': name }, namespace);
  if (pods.length === 0) return 'it has no pod';
  const states = pods.map(async (pod) => {
    const log = (await kubectl.run(['logs', pod.metadata.name, '--namespace', namespace, '--all-containers', '--prefix', '--tail=20'])).stdout.trim();
    return `${describePod(pod)}${log ? `\n${log}` : ''}`;
  });
  return (await Promise.all(states)).join('\n');
}

/** `npm run --silent backup -- ARGS`, as the README runs it, piped into `kubectl create -f -`; the Job's name. */
async function createBackupTask(kubectl: Kubectl, options: BackupCheckOptions, args: readonly string[]): Promise<string> {
  const manifest = await check(options.shell, 'npm', ['run', '--silent', 'backup', '--', ...args], {
    cwd: options.repoRoot,
    env: { LETTA_PROFILE: options.profile, ...(options.valuesFile ? { LETTA_VALUES: options.valuesFile } : {}) },
    timeoutMs: 2 * MINUTE,
  });
  return (await kubectl.check(['create', '--filename', '-', '--output', 'name'], { input: manifest })).trim().replace(/^job\.batch\//, '');
}

async function scaleLetta(context: StepContext, replicas: number): Promise<void> {
  const { kubectl, topology } = context;
  const letta = topology.component('letta');
  await kubectl.check(['scale', 'deployment', letta.name, '--namespace', topology.namespace, `--replicas=${replicas}`]);
  if (replicas > 0) await waitForStack(context, 10 * MINUTE);
  else await kubectl.check(['wait', '--for=delete', 'pod', '--namespace', topology.namespace, '--selector', labelSelector(letta.selector), '--timeout=180s'], { timeoutMs: 4 * MINUTE });
}

/** The dump a backup Job wrote, as a restore names it (FOLDER/NAME.dump). */
function dumpWritten(log: string): string | undefined {
  return /wrote \/backups\/(\S+\.dump)/.exec(log)?.[1];
}

/**
 * The round trip: a backup, a refused restore over the live data, the database dropped, the
 * restore, Letta back with the same agent and block. With `overwrite`, the database is not
 * dropped but replaced by the restore (--overwrite).
 */
export async function backupRoundTrip(context: StepContext, options: BackupCheckOptions & { readonly overwrite: boolean }): Promise<string[]> {
  const { kubectl, topology, settings, log } = context;
  const namespace = topology.namespace;
  const backup = topology.component('backup');
  const run = `e2e-backup-${Date.now().toString(36)}`;
  await kubectl.check(['create', 'job', run, `--from=cronjob/${backup.name}`, '--namespace', namespace]);
  const taken = await finishedJob(kubectl, namespace, run, 5 * MINUTE);
  if (!taken.succeeded) return [`the backup Job ${run} failed:\n${taken.log}`];
  const dump = dumpWritten(taken.log);
  if (!dump) return [`the backup Job ${run} logged no dump it wrote:\n${taken.log}`];
  log(`  backup Job ${run} wrote ${dump}`);
  const listing = await finishedJob(kubectl, namespace, await createBackupTask(kubectl, options, ['list']), 3 * MINUTE);
  const problems: string[] = [];
  if (!listing.succeeded || !listing.log.includes(dump)) {
    problems.push(`the Job of npm run backup -- list ${listing.succeeded ? `does not show ${dump}` : 'failed'}:\n${listing.log}`);
  }

  const replicas = settings.letta.replicas;
  await scaleLetta(context, 0);
  try {
    const refusedJob = await createBackupTask(kubectl, options, ['restore', '--dump', dump]);
    const refused = await finishedJob(kubectl, namespace, refusedJob, 3 * MINUTE);
    if (refused.succeeded || !refused.log.includes('is not empty')) {
      problems.push(`a restore without --overwrite over a database that holds tables was not refused:\n${refused.log}`);
    } else log('  a restore without --overwrite was refused: the database is not empty');
    // A failed Job counts as a workload that is not ready in every later wait.
    await kubectl.check(['delete', 'job', refusedJob, '--namespace', namespace, '--wait=true', '--timeout=120s']);
    if (!options.overwrite) {
      const psql = databaseShell(kubectl, settings, topology, (await kubectl.get(KINDS.pod, `${topology.component('database').name}-0`, namespace))!);
      await psql(`DROP DATABASE "${settings.database.databaseName}" WITH (FORCE)`, 'postgres');
      log(`  dropped database ${settings.database.databaseName}`);
    }
    const restore = await createBackupTask(kubectl, options, ['restore', '--dump', dump, ...(options.overwrite ? ['--overwrite'] : [])]);
    const restored = await finishedJob(kubectl, namespace, restore, 5 * MINUTE);
    if (!restored.succeeded) problems.push(`the restore Job ${restore} failed:\n${restored.log}`);
    else log(`  ${restored.log.split('\n').filter((line) => line.includes('restored database')).join('; ')}`);
  } finally {
    await scaleLetta(context, replicas);
  }
  problems.push(...(await readBackWithin(options.letta, options.written, 3 * MINUTE)));
  return problems;
}

/**
 * A simulated upgrade: Letta's schema is set one revision back (the head migration of Letta 0.16.8
 * checks before it adds, so running it again is harmless), the pre-migration Job is removed as if
 * a new image had not been applied yet, and Letta restarts. Its migration must wait; applying
 * dist/ brings the Job back, which dumps that revision and records it; the migration then runs.
 */
export async function preMigrationOnUpgrade(context: StepContext, options: BackupCheckOptions & { readonly dir: string; readonly objects: readonly KubeObject[] }): Promise<string[]> {
  const { kubectl, topology, settings, log } = context;
  const namespace = topology.namespace;
  const letta = topology.component('letta');
  const job = options.objects.find((o) => o.kind === 'Job' && o.metadata.labels?.[BACKUP_KIND_LABEL] === 'pre-migration');
  if (!job) return ['dist/ holds no pre-migration Job'];
  const problems: string[] = [];
  const firstRun = await kubectl.check(['logs', `job/${job.metadata.name}`, '--namespace', namespace, '--all-containers']);
  if (!firstRun.includes('nothing to back up before its first migration')) problems.push(`the first install's pre-migration Job logged:\n${firstRun}`);

  const revisions = await kubectl.check([
    'exec', `deployment/${letta.name}`, '--namespace', namespace, '--container', 'server', '--',
    'python', '-c',
    "from alembic.config import Config\nfrom alembic.script import ScriptDirectory\nc = Config('/app/alembic.ini')\nc.set_main_option('script_location', '/app/alembic')\ns = ScriptDirectory.from_config(c)\nh = s.get_current_head()\nprint(h, s.get_revision(h).down_revision)",
  ]);
  const [head, previous] = revisions.trim().split(/\s+/);
  const psql = databaseShell(kubectl, settings, topology, (await kubectl.get(KINDS.pod, `${topology.component('database').name}-0`, namespace))!);
  if ((await psql('SELECT version_num FROM alembic_version')).trim() !== head) return [...problems, `the schema is not at Letta's head ${head}`];
  await psql(`UPDATE alembic_version SET version_num = '${previous}'`);
  log(`  schema set back from ${head} to ${previous}; restarting ${letta.name} without its pre-migration Job`);
  await kubectl.check(['delete', 'job', job.metadata.name, '--namespace', namespace, '--wait=true', '--timeout=120s']);
  await kubectl.check(['rollout', 'restart', `deployment/${letta.name}`, '--namespace', namespace]);

  const migrateLogs = () => kubectl.run(['logs', '--selector', labelSelector(letta.selector), '--namespace', namespace, '--container', 'migrate', '--tail=-1', '--prefix']);
  const waiting = await pollUntil(async () => ((await migrateLogs()).stdout.includes(`waiting for the pre-migration dump of revision ${previous}`) ? true : undefined), {
    timeoutMs: 5 * MINUTE,
    intervalMs: 5_000,
  });
  if (!waiting) problems.push(`no migration waited for the pre-migration dump of revision ${previous}`);
  else log(`  the new pod's migration waits for the dump of ${previous}; applying dist/ again`);

  await applyStack(context, options.dir);
  const dumped = await finishedJob(kubectl, namespace, job.metadata.name, 5 * MINUTE);
  if (!dumped.succeeded || !dumped.log.includes(`recorded letta-`) || !dumped.log.includes(`-${previous}.dump`)) {
    problems.push(`the pre-migration Job did not dump and record revision ${previous}:\n${dumped.log}`);
  }
  await kubectl.check(['rollout', 'status', `deployment/${letta.name}`, '--namespace', namespace, '--timeout=600s'], { timeoutMs: 11 * MINUTE });
  const migrated = (await migrateLogs()).stdout;
  if (!migrated.includes(`the pre-migration dump of revision ${previous} is letta-`)) problems.push(`no migration found the dump of ${previous}:\n${migrated.slice(-2000)}`);
  const now = (await psql('SELECT version_num FROM alembic_version')).trim();
  if (now !== head) problems.push(`after the upgrade the schema is at ${now}, not ${head}`);
  problems.push(...(await readBackWithin(options.letta, options.written, 3 * MINUTE)));
  return problems;
}
