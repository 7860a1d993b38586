import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPU_RESOURCE, type GpuClusterNodes } from './gpu-cluster';
import { backupRoundTrip } from './backup';
import type { KubeObject } from '../../tools/kube';
import { KINDS } from './kubectl';
import { lettaCall, type LettaClient, readBackWithin, type WrittenData, writeLettaData } from './letta-api';
import { secretsInLogs } from './logs';
import { E2E_NAMESPACE, isStandIn, openAiStandIn, outsideNamespace } from './manifests';
import { pollUntil } from './readiness';
import { check, type Shell } from './shell';
import { applyWithWebhookRetry, componentPodAddresses, environmentOf, type ObjectStore, probeCases, runNetworkProbes, type StepContext, waitForStack } from './steps';
import type { IngressTarget } from './http';
import { type CheckResult, variantRecorder } from './variant';
import { MINUTE } from '../../tools/support';

/*
 * The gpu profile on the three-node cluster of gpu-cluster.ts, installed by running the README's
 * "Run it on a GPU cluster" commands as written. vLLM's image cannot be had without a registry,
 * so its pod is scheduled and mounts its volumes but its container waits for the image; what
 * Letta asks of vLLM is answered by a stand-in (manifests.ts) placed where vLLM would run.
 */

export const GPU_PROFILE = 'gpu';
/** The README section whose commands install the stack. */
export const README_GPU_SECTION = 'Run it on a GPU cluster';
/** The README's last command; the run starts its stand-in for vLLM just before it. */
const APPLY_ALL = 'kubectl apply -f dist/';
/** The Secret of the bucket's keys, created as the README's backup section says. */
const S3_SECRET = 'letta-backup-s3';
const S3_PREFIX = 'e2e/';
const STAND_IN_NAME = 'vllm-stand-in';
const IMAGE_PULL_WAITS = ['ErrImagePull', 'ImagePullBackOff'];

/**
 * Over the gpu profile: vLLM requests 100m CPU instead of 2 (each simulated node has this
 * machine's 2 cores, and the node's daemons request some); with an object store beside the
 * cluster, the backups go to its bucket instead of the profile's claim.
 */
export function gpuRunValues(store: ObjectStore | undefined): unknown {
  const values = { vllm: { resources: { requests: { cpu: '100m' } } } };
  if (!store) return values;
  // The store beside the cluster serves plain HTTP, and no packet of it leaves the machine.
  const s3 = { endpoint: store.endpoint, plainHttp: true, bucket: store.bucket, prefix: S3_PREFIX, credentials: { secretName: S3_SECRET } };
  return { ...values, backup: { target: 's3', s3 } };
}

/** The shell commands of the README's GPU section, in order, comments and blank lines left out. */
export function readmeGpuCommands(readme: string): string[] {
  const heading = `\n## ${README_GPU_SECTION}\n`;
  const start = readme.indexOf(heading);
  if (start < 0) throw new Error(`README.md has no section "## ${README_GPU_SECTION}"`);
  const section = readme.slice(start + heading.length).split('\n## ')[0];
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`README.md, "${README_GPU_SECTION}": no \`\`\`sh block`);
  const commands = block[1]
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  if (commands.at(-1) !== APPLY_ALL) {
    throw new Error(`README.md, "${README_GPU_SECTION}": the block must end with \`${APPLY_ALL}\` (the e2e starts its vLLM stand-in just before it)`);
  }
  return commands;
}

export interface GpuRunOptions {
  readonly shell: Shell;
  readonly repoRoot: string;
  /** The values file the run synthesizes with (LETTA_VALUES for the README's synth). */
  readonly valuesFile: string;
  readonly kubeconfig: string;
  readonly nodes: GpuClusterNodes;
  /** How the host's ingress is reached from here. */
  readonly ingress: (host: string) => IngressTarget;
}

export async function runGpuProfile(stack: StepContext, options: GpuRunOptions): Promise<CheckResult[]> {
  const vllm = stack.topology.component('vllm');
  // Its image cannot be had here, so it never becomes ready (checked below instead).
  const context: StepContext = { ...stack, notWaitedFor: [`Deployment/${vllm.name}`] };
  const { kubectl, log, settings, topology } = context;
  const namespace = topology.namespace;
  const store = environmentOf(context).objectStore;
  const letta = topology.component('letta');
  const { results, record } = variantRecorder(log);
  const secretValue = async (name: string, key: string) =>
    Buffer.from(await kubectl.check(['get', 'secret', name, '--namespace', namespace, '--output', `jsonpath={.data.${key}}`]), 'base64').toString('utf8');

  const commands = readmeGpuCommands(readFileSync(join(options.repoRoot, 'README.md'), 'utf8'));
  let installed = false;
  await record(`gpu profile: the README's "${README_GPU_SECTION}" commands, run as written, install the stack (every workload but vLLM Ready)`, async () => {
    // A token of the run's own: the Secret the README creates for gated models is mounted, and looked for in the logs.
    const env = { KUBECONFIG: options.kubeconfig, LETTA_VALUES: options.valuesFile, HF_TOKEN: randomBytes(20).toString('hex'), CDK8S_CHECK_UPGRADE: 'false' };
    for (const command of commands) {
      if (command === APPLY_ALL) await startStandIn(context);
      if (command === APPLY_ALL && store) {
        await kubectl.check([
          '--namespace', namespace, 'create', 'secret', 'generic', S3_SECRET,
          `--from-literal=AWS_ACCESS_KEY_ID=${store.accessKeyId}`, `--from-literal=AWS_SECRET_ACCESS_KEY=${store.secretAccessKey}`,
        ]);
      }
      log(`  $ ${command}`);
      await applyWithWebhookRetry(() => check(options.shell, 'bash', ['-euo', 'pipefail', '-c', command], { cwd: options.repoRoot, env, timeoutMs: 5 * MINUTE }));
    }
    log(`  vLLM's Deployment is not waited for: its image cannot be had here (checked below)`);
    await waitForStack(context, 20 * MINUTE);
    installed = true;
    return [];
  });
  if (!installed) return results;

  const lettaPods = () => kubectl.pods(letta.selector, namespace);
  const vllmPods = async () => (await kubectl.pods(vllm.selector, namespace)).filter((p) => !isStandIn(p));
  const target = options.ingress(settings.ingress.host);
  const client: LettaClient = { target, password: await secretValue(settings.letta.serverPassword!.name, settings.letta.serverPassword!.key) };
  const { nodes } = options;

  await record(`gpu profile: vLLM lands on the GPU node and nowhere else; a second replica stays Pending for want of ${GPU_RESOURCE}`, async () => {
    const problems: string[] = [];
    const [pod] = await vllmPods();
    if (!pod) return [`no pod of ${vllm.name}`];
    if (pod.spec.nodeName !== nodes.gpuWorker) problems.push(`${pod.metadata.name} is on ${pod.spec.nodeName ?? 'no node'}, not the GPU node ${nodes.gpuWorker}`);
    const gpus = pod.spec.containers.find((c: KubeObject) => c.name === 'vllm')?.resources?.limits?.[GPU_RESOURCE];
    if (gpus !== String(settings.vllm.gpus)) problems.push(`the vllm container's ${GPU_RESOURCE} limit is ${gpus}`);
    log(`  ${pod.metadata.name} on ${pod.spec.nodeName} with ${GPU_RESOURCE} ${gpus}`);
    // One more replica: the GPU node's only GPU is taken and the other nodes have none.
    await kubectl.check(['scale', 'deployment', vllm.name, '--namespace', namespace, '--replicas=2']);
    try {
      const message = await pollUntil(
        async () =>
          (await vllmPods())
            .flatMap((p) => p.status?.conditions ?? [])
            .find((c: KubeObject) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable')?.message as string | undefined,
        { timeoutMs: 2 * MINUTE, intervalMs: 3_000 },
      );
      log(`  the second replica: Pending: ${message ?? 'never reported unschedulable'}`);
      if (!message) problems.push('the second replica was not reported unschedulable within 2 minutes');
      else {
        if (!message.includes(`Insufficient ${GPU_RESOURCE}`)) problems.push(`the scheduler's reason does not name ${GPU_RESOURCE}: ${message}`);
        if (!message.includes("2 node(s) didn't match Pod's node affinity/selector")) problems.push(`the two nodes without a GPU are not excluded by the node selector: ${message}`);
      }
    } finally {
      await kubectl.check(['scale', 'deployment', vllm.name, '--namespace', namespace, '--replicas=1']);
      const settled = await pollUntil(async () => ((await vllmPods()).length === 1 ? true : undefined), { timeoutMs: 2 * MINUTE, intervalMs: 3_000 });
      if (!settled) problems.push(`${vllm.name} did not return to one pod after scaling back`);
    }
    return problems;
  });

  await record(`gpu profile: vLLM's own container cannot start here: its volumes mount, then it waits for its image (${settings.vllm.image}, no registry reachable)`, async () => {
    const [pod] = await vllmPods();
    if (!pod) return [`no pod of ${vllm.name}`];
    const problems: string[] = [];
    const started = (pod.status?.conditions ?? []).find((c: KubeObject) => c.type === 'PodReadyToStartContainers');
    if (started?.status !== 'True') problems.push(`${pod.metadata.name}: its sandbox and volumes are not set up (PodReadyToStartContainers ${started?.status ?? 'absent'})`);
    const state = (pod.status?.containerStatuses ?? []).find((s: KubeObject) => s.name === 'vllm')?.state ?? {};
    const waiting = state.waiting;
    log(`  ${pod.metadata.name}: container vllm ${waiting ? `waiting (${waiting.reason}): ${String(waiting.message ?? '').slice(0, 160)}` : JSON.stringify(state)}`);
    if (!waiting || !IMAGE_PULL_WAITS.includes(waiting.reason)) problems.push(`container vllm is not waiting for its image: ${JSON.stringify(state)}`);
    return problems;
  });

  await record('gpu profile: the collector DaemonSet runs a Ready pod on every node, the tainted GPU node included', async () => {
    const collector = topology.component('telemetry');
    const daemonSet = await kubectl.get(KINDS.daemonSet, collector.name, namespace);
    const pods = (await kubectl.pods(collector.selector, namespace)).filter((p) => (p.status?.conditions ?? []).some((c: KubeObject) => c.type === 'Ready' && c.status === 'True'));
    const on = new Set(pods.map((p) => p.spec.nodeName as string));
    log(`  ${collector.name}: ${daemonSet?.status?.numberReady}/${daemonSet?.status?.desiredNumberScheduled} ready, on ${[...on].sort().join(', ')}`);
    return Object.values(nodes)
      .filter((node) => !on.has(node))
      .map((node) => `no Ready ${collector.name} pod on ${node}`);
  });

  await record(`gpu profile: the ${settings.letta.replicas} Letta replicas run on different nodes, none on the GPU node`, async () => {
    const on = (await lettaPods()).map((p) => p.spec.nodeName as string);
    log(`  ${letta.name} pods on ${on.join(', ')}`);
    const problems: string[] = [];
    if (on.length !== settings.letta.replicas) problems.push(`${on.length} pods of ${letta.name}, expected ${settings.letta.replicas}`);
    if (new Set(on).size !== on.length) problems.push(`two replicas share a node: ${on.join(', ')}`);
    if (on.includes(nodes.gpuWorker)) problems.push(`a replica runs on the GPU node ${nodes.gpuWorker}`);
    return problems;
  });

  await record(`gpu profile: the ${settings.letta.replicas} Letta replicas started together and each migrated, one at a time`, async () => {
    const pods = await lettaPods();
    const problems: string[] = [];
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

  await record('gpu profile: password auth answers 401 without the password and 200 with it', async () => {
    const without = await lettaCall({ target }, 'GET', '/v1/agents/?limit=1');
    const withPassword = await lettaCall(client, 'GET', '/v1/agents/?limit=1');
    const problems: string[] = [];
    if (without.status !== 401) problems.push(`without the password: status ${without.status}, expected 401`);
    if (withPassword.status !== 200) problems.push(`with the password: status ${withPassword.status}: ${withPassword.body.slice(0, 200)}`);
    return problems;
  });

  let written: WrittenData | undefined;
  await record('gpu profile: data written through one replica reads back through the Service', async () => {
    written = await writeLettaData(client);
    return readBackWithin(client, written, MINUTE);
  });

  await record("gpu profile: Letta's VLLM_API_BASE resolves to the vLLM Service, and every replica listed the model through it at start-up", async () =>
    vllmReachedThroughService(context, client),
  );

  await record('gpu profile: NetworkPolicies: every edge connects (Letta to vLLM among them), every other client is denied', async () => {
    await kubectl.apply([outsideNamespace()]);
    try {
      const cases = probeCases(context, await componentPodAddresses(context));
      const verdicts = await runNetworkProbes(context, cases, 8 * MINUTE);
      verdicts.filter((v) => v.ok && v.message.includes(vllm.name)).forEach((v) => log(`  ok: ${v.message}`));
      log(`  ${verdicts.filter((v) => v.ok).length} of ${verdicts.length} probes as the topology says`);
      return verdicts.filter((v) => !v.ok).map((v) => v.message);
    } finally {
      await kubectl.check(['delete', 'namespace', E2E_NAMESPACE, '--ignore-not-found', '--wait=false']);
    }
  });

  if (store) {
    await record(`gpu profile: backups to an S3 bucket (${store.endpoint}): the dump lands in the bucket, a restore with --overwrite brings both replicas' data back`, async () => {
      if (!written) return ['nothing was written through the API to read back'];
      const problems = await backupRoundTrip(context, {
        shell: options.shell, repoRoot: options.repoRoot, profile: GPU_PROFILE, valuesFile: options.valuesFile, letta: client, written, overwrite: true,
      });
      // Looked at from the store's side, not through the project's own client.
      const folder = `${store.dataDir}/${store.bucket}/${S3_PREFIX}scheduled`;
      const objects = await check(options.shell, 'docker', ['exec', store.container, 'ls', folder], { timeoutMs: MINUTE }).catch((error: Error) => error.message);
      log(`  the bucket's ${S3_PREFIX}scheduled/ holds: ${objects.trim().split('\n').join(', ')}`);
      if (!/letta-[0-9]{8}T[0-9]{6}Z\.dump/.test(objects)) problems.push(`no dump in ${folder} of the store: ${objects}`);
      return problems;
    });
  } else {
    log('gpu profile: no object store beside this cluster, so the s3 backup target is not run (npm run e2e:local runs it)');
  }

  await record('gpu profile: the PodDisruptionBudget lets one Letta replica be evicted, not both', async () => {
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
    await waitForStack(context, 10 * MINUTE);
    return problems;
  });

  await record('gpu profile: no Secret value (server password, database password, Hugging Face token) in any container\'s log', async () => {
    const scan = await secretsInLogs(kubectl, [namespace]);
    log(`  read ${scan.linesRead} log lines of ${scan.containers} containers`);
    return scan.problems;
  });
  return results;
}

/** The stand-in, on the node vLLM's settings select, Ready before Letta starts and asks it for its models. */
async function startStandIn(context: StepContext): Promise<void> {
  const { kubectl, settings, topology } = context;
  const vllm = topology.component('vllm');
  const pod = openAiStandIn({
    name: STAND_IN_NAME,
    namespace: topology.namespace,
    selector: vllm.selector,
    port: topology.address('vllm', 'http').port,
    model: settings.vllm.servedModelName ?? settings.vllm.model,
    maxModelLen: settings.vllm.maxModelLen,
    nodeSelector: settings.vllm.nodeSelector,
    tolerations: settings.vllm.tolerations,
    image: environmentOf(context).pythonImage,
  });
  context.log(`  (the run's own step) a stand-in for vLLM's OpenAI API, pod ${STAND_IN_NAME}, before Letta starts`);
  await kubectl.apply([pod]);
  await kubectl.check(['wait', '--for=condition=Ready', `pod/${STAND_IN_NAME}`, '--namespace', topology.namespace, '--timeout=180s'], { timeoutMs: 4 * MINUTE });
}

/**
 * From inside a Letta pod, VLLM_API_BASE's host is the vLLM Service's address; Letta's model list
 * holds the stand-in's model at that endpoint, and the stand-in logged a call from every replica.
 */
async function vllmReachedThroughService(context: StepContext, client: LettaClient): Promise<string[]> {
  const { kubectl, settings, topology } = context;
  const namespace = topology.namespace;
  const vllm = topology.component('vllm');
  const problems: string[] = [];
  const pods = await kubectl.pods(topology.component('letta').selector, namespace);
  const server = pods[0].spec.containers[0];
  const base = (server.env ?? []).find((e: KubeObject) => e.name === 'VLLM_API_BASE')?.value as string | undefined;
  if (!base) return [`${pods[0].metadata.name} has no VLLM_API_BASE`];
  const host = new URL(base).hostname;
  const resolved = (
    await kubectl.check(['exec', pods[0].metadata.name, '--namespace', namespace, '--container', server.name, '--', 'python3', '-c', 'import socket,sys; print(socket.gethostbyname(sys.argv[1]))', host])
  ).trim();
  const service = await kubectl.get(KINDS.service, vllm.name, namespace);
  context.log(`  VLLM_API_BASE=${base}: ${host} resolves to ${resolved} in ${pods[0].metadata.name}; Service ${vllm.name} has ${service?.spec?.clusterIP}`);
  if (resolved !== service?.spec?.clusterIP) problems.push(`${host} resolves to ${resolved}, not to Service ${vllm.name}'s ${service?.spec?.clusterIP}`);

  const model = settings.vllm.servedModelName ?? settings.vllm.model;
  const listed = await lettaCall(client, 'GET', '/v1/models/');
  const entries = listed.status === 200 ? (JSON.parse(listed.body) as KubeObject[]) : [];
  const entry = entries.find((m) => m.model === model);
  context.log(`  Letta lists ${entries.length} models; ${model}: ${entry ? `handle ${entry.handle}, endpoint ${entry.model_endpoint}` : 'absent'}`);
  if (listed.status !== 200) problems.push(`GET /v1/models/: status ${listed.status}: ${listed.body.slice(0, 200)}`);
  else if (!entry) problems.push(`Letta's model list has no ${model}`);
  else if (entry.model_endpoint !== `${base}/v1`) problems.push(`${model} is served from ${entry.model_endpoint}, not ${base}/v1`);

  const standInLog = await kubectl.check(['logs', STAND_IN_NAME, '--namespace', namespace]);
  for (const pod of pods) {
    if (!standInLog.includes(`request from ${pod.status.podIP}: "GET /v1/models`)) problems.push(`the stand-in logged no GET /v1/models from ${pod.metadata.name} (${pod.status.podIP})`);
  }
  return problems;
}
