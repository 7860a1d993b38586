import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { KubeObject } from './kubectl';
import { backupRoundTrip } from './backup';
import { lettaCall, type LettaClient, readBackWithin, type WrittenData, writeLettaData } from './letta-api';
import { secretsInLogs } from './logs';
import { waitForWorkloads } from './readiness';
import { check } from './shell';
import { applyStack, type ObjectStore, type StepContext } from './steps';
import { type CheckResult, type VariantOptions, variantRecorder, withVariantStack } from './variant';

/*
 * The second variant: the gpu profile without vLLM (no GPU here), so two Letta replicas, Redis
 * and password auth, installed the way the README's GPU section says (namespace first, then the
 * Secrets created by hand, then dist/).
 */

const MINUTE = 60_000;
export const REPLICAS_PROFILE = 'gpu';
/** Over the gpu profile: no vLLM, and CPU requests that let two replicas share a 2-core node. */
const REPLICAS_VALUES = { vllm: { enabled: false }, letta: { resources: { requests: { cpu: '100m' } } } };
/** The Secret of the bucket's keys, created as the README's backup section says. */
const S3_SECRET = 'letta-backup-s3';
const S3_PREFIX = 'e2e/';

/** With an object store beside the cluster, the backups go there instead of the gpu profile's claim. */
function replicasValues(store: ObjectStore | undefined): unknown {
  if (!store) return REPLICAS_VALUES;
  return {
    ...REPLICAS_VALUES,
    backup: { target: 's3', s3: { endpoint: store.endpoint, bucket: store.bucket, prefix: S3_PREFIX, credentials: { secretName: S3_SECRET } } },
  };
}

/** The README's `openssl rand -hex 24`. */
const newPassword = () => randomBytes(24).toString('hex');

export function runReplicasVariant(base: StepContext, options: VariantOptions): Promise<CheckResult[]> {
  const store = base.environment?.objectStore;
  const variant = { ...options, label: 'replicas variant', profile: REPLICAS_PROFILE, values: replicasValues(store) };
  return withVariantStack(base, variant, async ({ context, dir, valuesFile }) => {
    const { kubectl, log } = base;
    const { settings, topology } = context;
    const namespace = topology.namespace;
    // The README's order: the namespace, the Secrets synth never generates, then everything.
    await kubectl.check(['apply', '--filename', join(dir, '0000-namespace.k8s.yaml')]);
    const serverPassword = newPassword();
    const serverSecret = settings.letta.serverPassword!;
    await kubectl.check(['--namespace', namespace, 'create', 'secret', 'generic', settings.database.credentials.secretName, `--from-literal=password=${newPassword()}`]);
    await kubectl.check(['--namespace', namespace, 'create', 'secret', 'generic', serverSecret.name, `--from-literal=${serverSecret.key}=${serverPassword}`]);
    if (store) {
      await kubectl.check([
        '--namespace', namespace, 'create', 'secret', 'generic', S3_SECRET,
        `--from-literal=AWS_ACCESS_KEY_ID=${store.accessKeyId}`, `--from-literal=AWS_SECRET_ACCESS_KEY=${store.secretAccessKey}`,
      ]);
    }
    await applyStack(context, dir);
    await waitForWorkloads(kubectl, namespace, { timeoutMs: 20 * MINUTE, log });

    const { results, record } = variantRecorder(log);
    const letta = topology.component('letta');
    const lettaPods = () => kubectl.pods(letta.selector, namespace);
    const target = options.ingress(settings.ingress.host);
    const client: LettaClient = { target, password: serverPassword };

    await record(`replicas variant: ${settings.letta.replicas} Letta replicas started together and each migrated, one at a time`, async () => {
      const pods = await lettaPods();
      const problems: string[] = [];
      if (pods.length !== settings.letta.replicas) problems.push(`${pods.length} pods of ${letta.name}, expected ${settings.letta.replicas}`);
      let holders = 0;
      for (const pod of pods) {
        const migrate = (pod.status?.initContainerStatuses ?? []).find((s: KubeObject) => s.name === 'migrate');
        const exit = migrate?.state?.terminated?.exitCode;
        if (exit !== 0) problems.push(`${pod.metadata.name}: migrate ${exit === undefined ? 'did not finish' : `exited ${exit}`}`);
        const logText = await kubectl.check(['logs', pod.metadata.name, '--namespace', namespace, '--container', 'migrate']);
        if (logText.includes('holding the migration lock')) holders++;
        if (!logText.includes('migrations are at head')) problems.push(`${pod.metadata.name}: migrate never reached head`);
        const waited = logText.includes('waiting for the migration lock');
        log(`  ${pod.metadata.name}: migrate exited ${exit}${waited ? ', after waiting for the other pod\'s lock' : ''}`);
      }
      if (holders !== pods.length) problems.push(`${holders} of ${pods.length} migrators logged holding the lock`);
      return problems;
    });
    await record('replicas variant: password auth answers 401 without the password and 200 with it', async () => {
      const without = await lettaCall({ target }, 'GET', '/v1/agents/?limit=1');
      const withPassword = await lettaCall(client, 'GET', '/v1/agents/?limit=1');
      const problems: string[] = [];
      if (without.status !== 401) problems.push(`without the password: status ${without.status}, expected 401`);
      if (withPassword.status !== 200) problems.push(`with the password: status ${withPassword.status}: ${withPassword.body.slice(0, 200)}`);
      return problems;
    });
    let written: WrittenData | undefined;
    await record('replicas variant: data written through one replica reads back through the Service', async () => {
      written = await writeLettaData(client);
      return readBackWithin(client, written, MINUTE);
    });
    if (store) {
      await record(`replicas variant: backups to an S3 bucket (${store.endpoint}): the dump lands in the bucket, a restore with --overwrite brings both replicas' data back`, async () => {
        if (!written) return ['nothing was written through the API to read back'];
        const problems = await backupRoundTrip(context, { shell: options.shell, repoRoot: options.repoRoot, profile: REPLICAS_PROFILE, valuesFile, letta: client, written, overwrite: true });
        // Looked at from the store's side, not through the project's own client.
        const folder = `${store.dataDir}/${store.bucket}/${S3_PREFIX}scheduled`;
        const objects = await check(options.shell, 'docker', ['exec', store.container, 'ls', folder], { timeoutMs: MINUTE }).catch((error: Error) => error.message);
        log(`  the bucket's ${S3_PREFIX}scheduled/ holds: ${objects.trim().split('\n').join(', ')}`);
        if (!/letta-[0-9]{8}T[0-9]{6}Z\.dump/.test(objects)) problems.push(`no dump in ${folder} of the store: ${objects}`);
        return problems;
      });
    } else {
      log('replicas variant: no object store beside this cluster, so the s3 backup target is not run (npm run e2e:local runs it)');
    }
    await record('replicas variant: the PodDisruptionBudget lets one replica be evicted, not both', async () => {
      const pods = (await lettaPods()).map((p) => p.metadata.name as string);
      const evict = (pod: string) =>
        kubectl.run(['create', '--raw', `/api/v1/namespaces/${namespace}/pods/${pod}/eviction`, '--filename', '-'], {
          input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace } }),
        });
      const first = await evict(pods[0]);
      const second = await evict(pods[1]);
      const problems: string[] = [];
      if (first.code !== 0) problems.push(`evicting ${pods[0]} was refused: ${first.stderr.trim()}`);
      if (second.code === 0) problems.push(`evicting ${pods[1]} too went through: the budget did not hold`);
      else if (!/disruption budget/i.test(second.stderr)) problems.push(`evicting ${pods[1]} failed for another reason: ${second.stderr.trim()}`);
      await waitForWorkloads(kubectl, namespace, { timeoutMs: 10 * MINUTE, log });
      return problems;
    });
    await record('replicas variant: no Secret value (the server password included) in any container\'s log', async () => {
      const scan = await secretsInLogs(kubectl, [namespace]);
      log(`  read ${scan.linesRead} log lines of ${scan.containers} containers`);
      return scan.problems;
    });
    return results;
  });
}
