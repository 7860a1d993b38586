/**
 * The gpu profile on a simulated GPU node, project e2e-gpu: `npm run e2e:local -- --profile gpu`
 * (README, "End-to-end without a registry").
 *
 * kind-config.yaml's control plane plus a plain and a GPU-labelled worker, the GPU node tainted and
 * advertising nvidia.com/gpu (gpu-cluster.ts); the stack installed by running the README's
 * "Run it on a GPU cluster" commands as written. vLLM's image cannot be had without a registry,
 * so its pod is scheduled and mounts its volumes but its container waits for the image; what
 * Letta asks of vLLM is answered by a stand-in placed where vLLM would run (gpu-profile.ts).
 */
import { MINUTE } from '../../tools/support';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { backupRoundTrip } from './backup';
import { GPU_RESOURCE, type GpuClusterNodes, simulateGpuNode, toleratesGpuTaint } from './gpu-cluster';
import {
  APPLY_ALL,
  IMAGE_PULL_WAITS,
  README_GPU_SECTION,
  readmeGpuCommands,
  S3_PREFIX,
  S3_SECRET,
  startStandIn,
  vllmReachedThroughService,
} from './gpu-profile';
import { type KubeObject, podSpecOf } from '../../tools/kube';
import { KINDS } from './kubectl';
import { lettaCall, type LettaClient, readBackWithin, type WrittenData, writeLettaData } from './letta-api';
import { secretsInLogs } from './logs';
import { E2E_NAMESPACE, isStandIn, outsideNamespace } from './manifests';
import { podReady, pollUntil } from './readiness';
import { installIngress, log, madeBy, noProblems, plannedRun, ROOT, runSettings, type RunningCluster, startCluster, stopCluster } from './run';
import { check, processShell } from './shell';
import { applyWithWebhookRetry, componentPodAddresses, imagesOf, probeCases, runNetworkProbes, type StepContext, synthesize, waitForStack } from './steps';

const PROFILE = 'gpu';

const { run, skip } = plannedRun();
const { settings, topology } = runSettings(run, PROFILE);
const store = run?.environment.objectStore;

describe.skipIf(!run)(skip ? `e2e skipped: ${skip}` : `the gpu profile on kind cluster ${run!.clusterName} with a simulated GPU node`, () => {
  const namespace = topology.namespace;
  const vllm = topology.component('vllm');
  const letta = topology.component('letta');
  let cluster: RunningCluster;
  let context: StepContext;
  let nodes: GpuClusterNodes;
  let installed = false;
  let client: LettaClient | undefined;
  let written: WrittenData | undefined;
  const lettaPods = () => context.kubectl.pods(letta.selector, namespace);
  const vllmPods = async () => (await context.kubectl.pods(vllm.selector, namespace)).filter((p) => !isStandIn(p));
  const stack = () => madeBy(installed || undefined, `the README's "${README_GPU_SECTION}" commands`);

  beforeAll(async () => {
    // dist/ as the README's commands will make it, for the images the GPU node needs.
    const { objects } = await synthesize(processShell, ROOT, PROFILE, run!.valuesFile);
    cluster = await startCluster(run!);
    // vLLM's image cannot be had here, so it never becomes ready (checked below instead).
    context = { ...cluster.context, notWaitedFor: [`Deployment/${vllm.name}`] };
    log('making one worker a GPU node (label, taint, nvidia.com/gpu in its status) and untainting the control plane');
    nodes = await simulateGpuNode(context.kubectl);
    log(`  control plane ${nodes.controlPlane}, plain worker ${nodes.plainWorker}, GPU worker ${nodes.gpuWorker}`);
    const images = run!.preloadImages;
    if (images.length > 0) {
      // The GPU node takes only pods that tolerate its taint: the DaemonSets, vLLM, and the run's stand-in for vLLM.
      const tolerating = new Set([...imagesOf(objects.filter((o) => toleratesGpuTaint(podSpecOf(o)))), run!.environment.pythonImage]);
      const gpuImages = images.filter((image) => tolerating.has(image));
      log(`loading ${images.length} images onto ${nodes.controlPlane} and ${nodes.plainWorker}, ${gpuImages.length} onto ${nodes.gpuWorker}`);
      await cluster.cluster.loadImages(images, [nodes.controlPlane, nodes.plainWorker]);
      await cluster.cluster.loadImages(gpuImages, [nodes.gpuWorker]);
    }
    await installIngress(run!, context);
  }, 45 * MINUTE);
  afterAll(() => stopCluster(run!), 10 * MINUTE);

  it(`gpu profile: the README's "${README_GPU_SECTION}" commands, run as written, install the stack (every workload but vLLM Ready)`, async () => {
    const commands = readmeGpuCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    // A token of the run's own: the Secret the README creates for gated models is mounted, and looked for in the logs.
    const env = { KUBECONFIG: run!.kubeconfig, LETTA_VALUES: run!.valuesFile, HF_TOKEN: randomBytes(20).toString('hex'), CDK8S_CHECK_UPGRADE: 'false' };
    for (const command of commands) {
      if (command === APPLY_ALL) await startStandIn(context);
      if (command === APPLY_ALL && store) {
        await context.kubectl.check([
          '--namespace', namespace, 'create', 'secret', 'generic', S3_SECRET,
          `--from-literal=AWS_ACCESS_KEY_ID=${store.accessKeyId}`, `--from-literal=AWS_SECRET_ACCESS_KEY=${store.secretAccessKey}`,
        ]);
      }
      log(`  $ ${command}`);
      await applyWithWebhookRetry(() => check(processShell, 'bash', ['-euo', 'pipefail', '-c', command], { cwd: ROOT, env, timeoutMs: 5 * MINUTE }));
    }
    log("  vLLM's Deployment is not waited for: its image cannot be had here (checked below)");
    await waitForStack(context, 20 * MINUTE);
    installed = true;
    const password = settings.letta.serverPassword!;
    const secret = await context.kubectl.check(['get', 'secret', password.name, '--namespace', namespace, '--output', `jsonpath={.data.${password.key}}`]);
    client = { target: cluster.ingress(settings.ingress.host), password: Buffer.from(secret, 'base64').toString('utf8') };
  }, 40 * MINUTE);

  it(`gpu profile: vLLM lands on the GPU node and nowhere else; a second replica stays Pending for want of ${GPU_RESOURCE}`, async () => {
    stack();
    const { kubectl } = context;
    const problems: string[] = [];
    const [pod] = await vllmPods();
    if (!pod) throw new Error(`no pod of ${vllm.name}`);
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
    noProblems(problems);
  }, 6 * MINUTE);

  it(`gpu profile: vLLM's own container cannot start here: its volumes mount, then it waits for its image (${settings.vllm.image}, no registry reachable)`, async () => {
    stack();
    const [pod] = await vllmPods();
    if (!pod) throw new Error(`no pod of ${vllm.name}`);
    const problems: string[] = [];
    const started = (pod.status?.conditions ?? []).find((c: KubeObject) => c.type === 'PodReadyToStartContainers');
    if (started?.status !== 'True') problems.push(`${pod.metadata.name}: its sandbox and volumes are not set up (PodReadyToStartContainers ${started?.status ?? 'absent'})`);
    const state = (pod.status?.containerStatuses ?? []).find((s: KubeObject) => s.name === 'vllm')?.state ?? {};
    const waiting = state.waiting;
    log(`  ${pod.metadata.name}: container vllm ${waiting ? `waiting (${waiting.reason}): ${String(waiting.message ?? '').slice(0, 160)}` : JSON.stringify(state)}`);
    if (!waiting || !IMAGE_PULL_WAITS.includes(waiting.reason)) problems.push(`container vllm is not waiting for its image: ${JSON.stringify(state)}`);
    noProblems(problems);
  }, 2 * MINUTE);

  it('gpu profile: the collector DaemonSet runs a Ready pod on every node, the tainted GPU node included', async () => {
    stack();
    const collector = topology.component('telemetry');
    const daemonSet = await context.kubectl.get(KINDS.daemonSet, collector.name, namespace);
    const pods = (await context.kubectl.pods(collector.selector, namespace)).filter(podReady);
    const on = new Set(pods.map((p) => p.spec.nodeName as string));
    log(`  ${collector.name}: ${daemonSet?.status?.numberReady}/${daemonSet?.status?.desiredNumberScheduled} ready, on ${[...on].sort().join(', ')}`);
    noProblems(Object.values(nodes).filter((node) => !on.has(node)).map((node) => `no Ready ${collector.name} pod on ${node}`));
  }, 2 * MINUTE);

  it(`gpu profile: the ${settings.letta.replicas} Letta replicas run on different nodes, none on the GPU node`, async () => {
    stack();
    const on = (await lettaPods()).map((p) => p.spec.nodeName as string);
    log(`  ${letta.name} pods on ${on.join(', ')}`);
    const problems: string[] = [];
    if (on.length !== settings.letta.replicas) problems.push(`${on.length} pods of ${letta.name}, expected ${settings.letta.replicas}`);
    if (new Set(on).size !== on.length) problems.push(`two replicas share a node: ${on.join(', ')}`);
    if (on.includes(nodes.gpuWorker)) problems.push(`a replica runs on the GPU node ${nodes.gpuWorker}`);
    noProblems(problems);
  }, 2 * MINUTE);

  it(`gpu profile: the ${settings.letta.replicas} Letta replicas started together and each migrated, one at a time`, async () => {
    stack();
    const pods = await lettaPods();
    const problems: string[] = [];
    let holders = 0;
    for (const pod of pods) {
      const migrate = (pod.status?.initContainerStatuses ?? []).find((s: KubeObject) => s.name === 'migrate');
      const exit = migrate?.state?.terminated?.exitCode;
      if (exit !== 0) problems.push(`${pod.metadata.name}: migrate ${exit === undefined ? 'did not finish' : `exited ${exit}`}`);
      const logText = await context.kubectl.check(['logs', pod.metadata.name, '--namespace', namespace, '--container', 'migrate']);
      if (logText.includes('holding the migration lock')) holders++;
      if (!logText.includes('migrations are at head')) problems.push(`${pod.metadata.name}: migrate never reached head`);
      log(`  ${pod.metadata.name}: migrate exited ${exit}${logText.includes('waiting for the migration lock') ? ", after waiting for the other pod's lock" : ''}`);
    }
    if (holders !== pods.length) problems.push(`${holders} of ${pods.length} migrators logged holding the lock`);
    noProblems(problems);
  }, 2 * MINUTE);

  it('gpu profile: password auth answers 401 without the password and 200 with it', async () => {
    const withPassword = await lettaCall(madeBy(client, 'the install'), 'GET', '/v1/agents/?limit=1');
    const without = await lettaCall({ target: client!.target }, 'GET', '/v1/agents/?limit=1');
    const problems: string[] = [];
    if (without.status !== 401) problems.push(`without the password: status ${without.status}, expected 401`);
    if (withPassword.status !== 200) problems.push(`with the password: status ${withPassword.status}: ${withPassword.body.slice(0, 200)}`);
    noProblems(problems);
  }, 2 * MINUTE);

  it('gpu profile: data written through one replica reads back through the Service', async () => {
    written = await writeLettaData(madeBy(client, 'the install'));
    noProblems(await readBackWithin(client!, written, MINUTE));
  }, 3 * MINUTE);

  it("gpu profile: Letta's VLLM_API_BASE resolves to the vLLM Service, and every replica listed the model through it at start-up", async () => {
    noProblems(await vllmReachedThroughService(context, madeBy(client, 'the install')));
  }, 2 * MINUTE);

  it('gpu profile: NetworkPolicies: every edge connects (Letta to vLLM among them), every other client is denied', async () => {
    stack();
    await context.kubectl.apply([outsideNamespace()]);
    try {
      const cases = probeCases(context, await componentPodAddresses(context));
      const verdicts = await runNetworkProbes(context, cases, 8 * MINUTE);
      verdicts.filter((v) => v.ok && v.message.includes(vllm.name)).forEach((v) => log(`  ok: ${v.message}`));
      log(`  ${verdicts.filter((v) => v.ok).length} of ${verdicts.length} probes as the topology says`);
      noProblems(verdicts.filter((v) => !v.ok).map((v) => v.message));
    } finally {
      await context.kubectl.check(['delete', 'namespace', E2E_NAMESPACE, '--ignore-not-found', '--wait=false']);
    }
  }, 10 * MINUTE);

  // Only with an object store beside the cluster (npm run e2e:local has one).
  it.runIf(store)(`gpu profile: backups to an S3 bucket (${store?.endpoint}): the dump lands in the bucket, a restore with --overwrite brings both replicas' data back`, async () => {
    const problems = await backupRoundTrip(context, {
      shell: processShell, repoRoot: ROOT, profile: PROFILE, valuesFile: run!.valuesFile, letta: madeBy(client, 'the install'), written: madeBy(written, 'writing through one replica'), overwrite: true,
    });
    // Looked at from the store's side, not through the project's own client.
    const folder = `${store!.dataDir}/${store!.bucket}/${S3_PREFIX}scheduled`;
    const objects = await check(processShell, 'docker', ['exec', store!.container, 'ls', folder], { timeoutMs: MINUTE }).catch((error: Error) => error.message);
    log(`  the bucket's ${S3_PREFIX}scheduled/ holds: ${objects.trim().split('\n').join(', ')}`);
    if (!/letta-[0-9]{8}T[0-9]{6}Z\.dump/.test(objects)) problems.push(`no dump in ${folder} of the store: ${objects}`);
    noProblems(problems);
  }, 25 * MINUTE);

  it('gpu profile: the PodDisruptionBudget lets one Letta replica be evicted, not both', async () => {
    stack();
    const pods = (await lettaPods()).map((p) => p.metadata.name as string);
    const evict = (pod: string) =>
      context.kubectl.run(['create', '--raw', `/api/v1/namespaces/${namespace}/pods/${pod}/eviction`, '--filename', '-'], {
        input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace } }),
      });
    const first = await evict(pods[0]);
    const second = await evict(pods[1]);
    const problems: string[] = [];
    if (first.code !== 0) problems.push(`evicting ${pods[0]} was refused: ${first.stderr.trim()}`);
    if (second.code === 0) problems.push(`evicting ${pods[1]} too went through: the budget did not hold`);
    else if (!/disruption budget/i.test(second.stderr)) problems.push(`evicting ${pods[1]} failed for another reason: ${second.stderr.trim()}`);
    await waitForStack(context, 10 * MINUTE);
    noProblems(problems);
  }, 12 * MINUTE);

  it("gpu profile: no Secret value (server password, database password, Hugging Face token) in any container's log", async () => {
    stack();
    const scan = await secretsInLogs(context.kubectl, [namespace]);
    log(`  read ${scan.linesRead} log lines of ${scan.containers} containers`);
    noProblems(scan.problems);
  }, 5 * MINUTE);
});
