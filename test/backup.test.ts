import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as yaml from 'js-yaml';
import { loadSettings } from '../lib/config/load';
import { BACKUP_ENV, DATABASE_SH, DUMP_FOLDERS } from '../charts/backup/scripts';
import { BackupTaskError } from '../charts/backup/backup-tasks';
import { backupTaskFor } from '../lib/app/stack';
import { COMPONENTS, Topology } from '../lib/model/topology';
import { PROBE_ADDRESSES } from '../tools/netpol/evaluator';
import { expectedConnections, stackConnections } from '../tools/netpol/matrix';
import { findObject, renderProfile } from '../tools/render';
import { type KubeObject, podSpecOf } from '../tools/kube';
import { EXTERNAL, stackWithController } from '../tools/stack-netpol';
import { envOf, lettaPod, podOf, secretBehindFile } from './support/workloads';

/*
 * Backups (issue "Backups that restore"): what the CronJob, the pre-migration Job and the restore
 * Job are made of, and their policy; the settings' errors are in test/settings.test.ts. The e2e
 * runs them on a cluster.
 */

const S3_BUCKET = {
  endpoint: 'https://s3.eu-west-1.amazonaws.com',
  bucket: 'letta-backups',
  prefix: 'prod/',
  region: 'eu-west-1',
  credentials: { secretName: 'letta-backup-s3' },
};
const S3 = { backup: { target: 's3', s3: S3_BUCKET } };
const BACKUP = COMPONENTS.backup.name;

const byKind = (documents: readonly KubeObject[], kind: string) => documents.filter((doc) => doc.kind === kind);
const backupObjects = (documents: readonly KubeObject[]) => documents.filter((doc) => doc.metadata.labels?.['app.kubernetes.io/name'] === BACKUP);
const preMigrationJob = (documents: readonly KubeObject[]) => byKind(documents, 'Job').find((job) => job.metadata.name.startsWith(`${BACKUP}-pre-migration-`));
const migrateEnv = (documents: readonly KubeObject[]) => envOf(lettaPod(documents).migrate);

describe('scheduled backups', () => {
  it('GIVEN the gpu profile WHEN synthesized THEN a CronJob dumps nightly, once a run, to a claim of its own, keeps 7 dumps and reads the password from a file', () => {
    // Hardening (restricted, no API token) is checked for every workload in stack.test.ts.
    const { documents } = renderProfile('gpu');
    expect(findObject(documents, 'CronJob', BACKUP).spec).toMatchObject({ schedule: '0 3 * * *', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 3600 });
    const pod = podOf(documents, 'CronJob', BACKUP);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.initContainers ?? []).toEqual([]);
    expect(pod.containers[0].command).toEqual(['bash', '/opt/letta-k8s/database.sh', 'scheduled', '/backups/scheduled']);
    const env = envOf(pod.containers[0]);
    expect(env.LETTA_K8S_BACKUP_RETENTION.value).toBe('7');
    expect(findObject(documents, 'PersistentVolumeClaim', `${BACKUP}s`).spec.resources.requests.storage).toBe('50Gi');
    expect(pod.volumes.find((v: any) => v.name === 'backups').persistentVolumeClaim.claimName).toBe(`${BACKUP}s`);
    // Not a variable of the manifest: database.sh reads the file at run time.
    expect(Object.values(env).some((entry) => entry.valueFrom?.secretKeyRef)).toBe(false);
    expect(secretBehindFile(pod, pod.containers[0], env.LETTA_K8S_PG_PASSWORD_FILE.value)).toEqual({ name: 'letta-db-credentials', key: 'password' });
  });

  it('GIVEN an s3 target WHEN synthesized THEN the dump is staged, uploaded by rclone with the Secret\'s keys, and no claim exists', () => {
    const { documents } = renderProfile('gpu', S3);
    const pod = podOf(documents, 'CronJob', BACKUP);
    expect(pod.initContainers.map((c: any) => [c.name, c.image])).toEqual([['dump', 'pgvector/pgvector:0.8.1-pg15']]);
    expect(pod.containers.map((c: any) => [c.name, c.image])).toEqual([['upload', 'rclone/rclone:1.76.0']]);
    const fromSecret = (key: string) => ({ valueFrom: { secretKeyRef: { name: 'letta-backup-s3', key } } });
    expect(envOf(pod.containers[0])).toMatchObject({
      RCLONE_CONFIG_STORE_ENDPOINT: { value: 'https://s3.eu-west-1.amazonaws.com' },
      RCLONE_CONFIG_STORE_REGION: { value: 'eu-west-1' },
      LETTA_K8S_BACKUP_REMOTE: { value: 'STORE:letta-backups/prod' },
      RCLONE_CONFIG_STORE_ACCESS_KEY_ID: fromSecret('AWS_ACCESS_KEY_ID'),
      RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY: fromSecret('AWS_SECRET_ACCESS_KEY'),
    });
    expect(byKind(documents, 'PersistentVolumeClaim').filter((claim) => claim.metadata.name === `${BACKUP}s`)).toEqual([]);
    // The staging emptyDir is bounded by the disk limit that the containers declare.
    expect(pod.volumes.find((v: any) => v.name === 'backups').emptyDir.sizeLimit).toBe('10240Mi');
  });

  it('GIVEN backups off WHEN synthesized THEN no backup object exists and only Letta reaches Postgres', () => {
    const { documents } = renderProfile('gpu', { backup: { enabled: false } });
    expect(backupObjects(documents)).toEqual([]);
    expect(migrateEnv(documents).LETTA_K8S_PRE_MIGRATION_WAIT_SECONDS).toBeUndefined();
    const db = findObject(documents, 'NetworkPolicy', COMPONENTS.database.name);
    expect(db.spec.ingress.map((rule: any) => rule.from[0].podSelector.matchLabels['app.kubernetes.io/name'])).toEqual([COMPONENTS.letta.name]);
  });
});

// Postgres and DNS only, with a claim target: test/netpol-topology.test.ts (backup Jobs).
describe('the backup\'s NetworkPolicy, from the topology', () => {
  it.each([
    ['https://s3.eu-west-1.amazonaws.com', 443, false],
    ['http://203.0.113.20:9000', 9000, true],
  ])('GIVEN an s3 target at %s WHEN the policies are evaluated THEN the backup alone gains the internet, on port %i', (endpoint, port, plainHttp) => {
    const values = { backup: { target: 's3', s3: { ...S3_BUCKET, endpoint, plainHttp } } };
    const { objects, topology } = stackWithController('gpu', values);
    const connections = stackConnections(objects, topology);
    expect(connections).toEqual(expectedConnections(topology, EXTERNAL));
    expect(connections.filter((c) => c.from === `letta/${BACKUP}` && c.to === PROBE_ADDRESSES.internet).map((c) => c.port)).toEqual([port]);
  });
});

describe('the pre-migration backup', () => {
  it('GIVEN the gpu profile WHEN synthesized THEN a Job named after this Letta image dumps the schema for it, and Letta\'s migration waits for it', () => {
    const { documents } = renderProfile('gpu');
    const job = preMigrationJob(documents)!;
    expect(job.metadata.name).toMatch(/^letta-db-backup-pre-migration-[0-9a-f]{10}$/);
    expect(job.spec).toMatchObject({ backoffLimit: 6, activeDeadlineSeconds: 1800 });
    const [backup] = podSpecOf(job)!.containers;
    expect(backup.command).toEqual(['bash', '/opt/letta-k8s/database.sh', 'store-pre-migration', '/backups/pre-migration']);
    const image = { value: 'letta/letta:0.16.8' };
    expect(envOf(backup)).toMatchObject({ LETTA_K8S_LETTA_IMAGE: image, LETTA_K8S_BACKUP_RETENTION: { value: '3' } });
    expect(migrateEnv(documents)).toMatchObject({
      LETTA_K8S_PRE_MIGRATION_WAIT_SECONDS: { value: '1800' },
      LETTA_K8S_LETTA_IMAGE: image,
      LETTA_K8S_PRE_MIGRATION_JOBS: { value: `app.kubernetes.io/name=${BACKUP},app.kubernetes.io/part-of=letta,letta-k8s.dev/backup=pre-migration` },
    });
  });

  // The same settings keep the name: a synthesis repeats exactly (test/stack.test.ts).
  it('GIVEN a new Letta image WHEN synthesized THEN the pre-migration Job has a new name (a Job cannot change)', () => {
    const name = (values?: unknown) => preMigrationJob(renderProfile('gpu', values).documents)!.metadata.name;
    expect(name({ letta: { image: 'letta/letta:0.16.9' } })).not.toBe(name());
  });

  it('GIVEN an s3 target WHEN synthesized THEN the dump is recorded only after its upload', () => {
    const pod = podSpecOf(preMigrationJob(renderProfile('gpu', S3).documents)!)!;
    expect([...pod.initContainers, ...pod.containers].map((c: any) => `${c.name} ${c.command.slice(2).join(' ')}`)).toEqual([
      'dump pre-migration /backups/pre-migration',
      'upload upload /backups/pre-migration pre-migration',
      'record record',
    ]);
  });

  it('GIVEN preMigration off WHEN synthesized THEN no Job exists and the migration waits for none', () => {
    const { documents } = renderProfile('gpu', { backup: { preMigration: { enabled: false } } });
    expect(preMigrationJob(documents)).toBeUndefined();
    expect(migrateEnv(documents).LETTA_K8S_PRE_MIGRATION_WAIT_SECONDS).toBeUndefined();
    expect(findObject(documents, 'CronJob', BACKUP)).toBeDefined();
  });
});

describe('the list and restore Jobs (npm run backup)', () => {
  const gpu = () => loadSettings({ profile: 'gpu' });
  const jobOf = (text: string) => yaml.load(text) as KubeObject;

  it('GIVEN a dump WHEN the restore Job is made THEN it restores that file from the claim, once, under a name of the API server\'s choosing', () => {
    const job = jobOf(backupTaskFor(gpu(), { task: 'restore', dump: 'scheduled/letta-20261202T030000Z.dump', overwrite: false }));
    expect(job).toMatchObject({ metadata: { generateName: `${BACKUP}-restore-`, namespace: 'letta' }, spec: { backoffLimit: 0 } });
    expect(job.metadata.name).toBeUndefined();
    const pod = podSpecOf(job)!;
    expect(pod.containers[0].command).toEqual(['bash', '/opt/letta-k8s/database.sh', 'restore', '/backups/scheduled/letta-20261202T030000Z.dump']);
    expect(envOf(pod.containers[0]).LETTA_K8S_RESTORE_OVERWRITE).toBeUndefined();
    expect(pod.volumes.find((v: any) => v.name === 'backups').persistentVolumeClaim.claimName).toBe(`${BACKUP}s`);
    // Labelled as the backup component: the same NetworkPolicy admits it to Postgres.
    expect(pod.serviceAccountName).toBe(BACKUP);
    expect(job.spec.template.metadata.labels).toMatchObject(new Topology(gpu()).component('backup').selector);
  });

  it('GIVEN --overwrite and an s3 target WHEN the restore Job is made THEN rclone downloads the dump first and the restore may replace the database', () => {
    const settings = loadSettings({ profile: 'gpu', values: S3 });
    const pod = podSpecOf(jobOf(backupTaskFor(settings, { task: 'restore', dump: 'pre-migration/letta-20261202T030000Z-a08c972e781b.dump', overwrite: true })))!;
    expect(pod.initContainers.map((c: any) => c.command.slice(2))).toEqual([['download', 'pre-migration/letta-20261202T030000Z-a08c972e781b.dump', '/backups/restore.dump']]);
    expect(pod.containers[0].command.slice(2)).toEqual(['restore', '/backups/restore.dump']);
    expect(envOf(pod.containers[0]).LETTA_K8S_RESTORE_OVERWRITE.value).toBe('true');
  });

  it('GIVEN a path that is no dump\'s WHEN the restore Job is made THEN the error names --dump and shows a valid one', () => {
    const restore = () => backupTaskFor(gpu(), { task: 'restore', dump: '../etc/passwd', overwrite: false });
    expect(restore).toThrow(BackupTaskError);
    expect(restore).toThrow(`--dump "../etc/passwd": must be a dump's path as the backup Jobs log it, such as scheduled/letta-20261202T030000Z.dump`);
  });

  it('GIVEN backups off WHEN a listing is asked for THEN the error names backup.enabled', () => {
    expect(() => backupTaskFor(loadSettings({ profile: 'gpu', values: { backup: { enabled: false } } }), { task: 'list' })).toThrow('backup.enabled is false');
  });
});

describe('npm run backup (the command the README shows)', () => {
  /** One tsx start takes about 1 s on an idle machine; a busy one may take many times that. */
  const BUDGET_MS = 90_000;
  const backupCommand = (args: readonly string[], env: Record<string, string> = {}) => {
    const result = spawnSync('npm', ['run', '--silent', 'backup', '--', ...args], {
      cwd: path.resolve(__dirname, '..'),
      encoding: 'utf8',
      timeout: BUDGET_MS,
      env: { ...process.env, LETTA_PROFILE: '', LETTA_VALUES: '', ...env },
    });
    return { status: result.status, stdout: result.stdout, stderr: `${result.stderr}${result.error ? `\n${result.error.message}` : ''}` };
  };

  it('GIVEN the gpu profile WHEN a restore is asked for THEN stdout is one Job for kubectl create, and nothing else', { timeout: BUDGET_MS + 10_000 }, () => {
    const { status, stdout, stderr } = backupCommand(['restore', '--dump', 'scheduled/letta-20261202T030000Z.dump'], { LETTA_PROFILE: 'gpu' });
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const documents = yaml.loadAll(stdout) as KubeObject[];
    expect(documents.map((doc) => `${doc.kind} ${doc.metadata.generateName}`)).toEqual([`Job ${BACKUP}-restore-`]);
  });

  it('GIVEN no --dump WHEN a restore is asked for THEN it exits 1 naming --dump, with the usage, and prints no Job', { timeout: BUDGET_MS + 10_000 }, () => {
    const { status, stdout, stderr } = backupCommand(['restore', '--overwrite']);
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('letta-k8s: --dump: is required: name the dump to restore');
    expect(stderr).toContain('usage: npm run --silent backup -- list | restore --dump FOLDER/NAME.dump [--overwrite]');
  });
});

describe('database.sh list, as the list Job runs it', () => {
  it('GIVEN a claim with scheduled dumps and no pre-migration folder yet WHEN listed THEN it succeeds and shows each dump with its size', () => {
    const claim = mkdtempSync(path.join(tmpdir(), 'letta-backup-list-'));
    try {
      mkdirSync(path.join(claim, DUMP_FOLDERS.scheduled));
      writeFileSync(path.join(claim, DUMP_FOLDERS.scheduled, 'letta-20261202T030000Z.dump'), 'x'.repeat(42));
      writeFileSync(path.join(claim, DUMP_FOLDERS.scheduled, '.letta-20261203T030000Z.dump.partial'), 'partial');
      writeFileSync(path.join(claim, 'password'), 'not-a-real-password');
      const result = spawnSync(
        'bash',
        ['--norc', '-c', DATABASE_SH, 'database.sh', 'list', ...Object.values(DUMP_FOLDERS).map((folder) => path.join(claim, folder))],
        { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, PGDATABASE: 'letta', [BACKUP_ENV.passwordFile]: path.join(claim, 'password') } },
      );
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toBe('scheduled/letta-20261202T030000Z.dump 42 bytes\n');
    } finally {
      rmSync(claim, { recursive: true, force: true });
    }
  });
});
