/**
 * End-to-end test on kind (issue #5): `npm run e2e:kind [-- --keep] [--profile gpu]`.
 *
 * Creates a kind cluster from kind-config.yaml, installs ingress-nginx, applies `npx cdk8s synth`'s
 * dist/ for the kind profile, waits for every workload and then checks, through the ingress and
 * from inside the cluster: Letta's health, an idle SSE stream, an idle WebSocket, the
 * NetworkPolicies, the database's persistence, a backup's restore and a migration that waits for
 * its pre-migration dump. `--profile gpu` installs the gpu profile instead, on kind-config.yaml's
 * control plane plus a plain and a simulated GPU worker (gpu-profile.ts). The cluster is deleted
 * at the end, also on failure, unless --keep or E2E_KEEP_CLUSTER=1. E2E_CLUSTER_NAME names the cluster (CI uses it to
 * collect diagnostics).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadSettings } from '../../lib/config/load';
import { available } from '../../tools/requirements';
import { Topology } from '../../lib/model/topology';
import { KindCluster, type KindOptions, missingPrerequisites, withFreeHostPorts } from './cluster';
import { lettaCall, type LettaClient, readBackWithin, type WrittenData, writeLettaData } from './letta-api';
import { backupRoundTrip, preMigrationOnUpgrade } from './backup';
import { secretsInLogs } from './logs';
import { runGatewayVariant } from './gateway-variant';
import { gpuClusterConfig, simulateGpuNode, toleratesGpuTaint } from './gpu-cluster';
import { GPU_PROFILE, gpuRunValues, runGpuProfile } from './gpu-profile';
import { type CheckResult, type VariantOptions, writeValuesOver } from './variant';
import { rollingRestartUnderLoad } from './rollout';
import { type Conversation, heldStream, lettaSdk, plainTurn, releaseHeldTool, startConversation, storedReplyProblems, streamThroughDrain } from './agent-turns';
import { fillModelCache, localModelValues, readyPod, specDrift, startupSeconds, vllmSpec, workingSetBytes } from './local-model';
import { collectorTraceFiles, spansByService, spansOf } from './traces';
import type { IngressTarget } from './http';
import { Kubectl, labelSelector, KINDS } from './kubectl';
import { type KubeObject, podSpecOf } from '../../tools/kube';
import { E2E_NAMESPACE } from './manifests';
import { processShell, type Shell } from './shell';
import {
  applyStack,
  componentPodAddresses,
  databasePersistence,
  type E2eEnvironment,
  GITHUB_KIND,
  deployStreamBackend,
  healthThroughIngress,
  imagesOf,
  STREAM_IDLE_SECONDS,
  installIngressNginx,
  probeCases,
  removeStreamBackend,
  runNetworkProbes,
  type StepContext,
  streamProblems,
  synthesize,
  waitForStack,
} from './steps';
import { pollUntil, waitForWorkloads } from './readiness';
import { MINUTE } from '../../tools/support';

const PROFILE = 'kind';
/** What a run installs: the kind profile on kind-config.yaml's cluster, or the gpu profile on three nodes, one a simulated GPU node. */
export type E2eProfile = typeof PROFILE | typeof GPU_PROFILE;
export const E2E_PROFILES: readonly E2eProfile[] = [PROFILE, GPU_PROFILE];
/** The collector's trace volume (charts/telemetry-chart.ts). */
const TRACE_VOLUME = 'traces';

/**
 * The cluster a run creates and what differs between clusters: GitHub's kind pulls kindest/node,
 * ingress-nginx and the images; a machine without a registry builds all of them (local-e2e.ts).
 */
export interface ClusterPlan {
  readonly kind: KindOptions;
  /** Docker images copied onto the nodes after creation. */
  readonly preloadImages: readonly string[];
  /** The ingress data plane in front of the stack's Ingress, as the report names it. */
  readonly ingressController: string;
  /** Installs that data plane and waits until it serves. */
  readonly installIngress: (context: StepContext) => Promise<void>;
  readonly environment: E2eEnvironment;
  /** A values file merged over the profile (LETTA_VALUES), e.g. for a cluster without a registry. */
  readonly valuesFile?: string;
  /** Runs once the cluster exists (test hosts beside it, say); undone by `beforeDelete`. */
  readonly afterCreate?: (cluster: KindCluster) => Promise<void>;
  readonly beforeDelete?: (cluster: KindCluster) => Promise<void>;
  /** The Gateway API controller that installIngress set up, for the gateway-api variant; unset: none, the variant is not run. */
  readonly gatewayApiController?: string;
}

export const GITHUB_PLAN: ClusterPlan = {
  kind: {},
  preloadImages: [],
  ingressController: 'ingress-nginx v1.15.1',
  installIngress: (context) => installIngressNginx(context, 5 * MINUTE),
  environment: GITHUB_KIND,
};

export interface RunOptions {
  readonly shell: Shell;
  /** @default GITHUB_PLAN */
  readonly plan?: ClusterPlan;
  readonly repoRoot: string;
  /** Leave the cluster running at the end. */
  readonly keep: boolean;
  readonly clusterName: string;
  /** Where kind writes the cluster's kubeconfig; the user's own is never touched. */
  readonly kubeconfig: string;
  readonly log: (line: string) => void;
  /** @default a connection attempt on loopback */
  readonly portInUse?: (port: number) => Promise<boolean>;
  /** Where to write the checks' names and outcomes as JSON (E2E_RESULTS). */
  readonly resultsFile?: string;
  /** @default "kind" */
  readonly profile?: E2eProfile;
}

/** Progress lines prefixed with the time since the start. */
export function progressLog(write: (line: string) => void = console.log, started = Date.now()): (line: string) => void {
  return (line) => {
    const elapsed = Math.round((Date.now() - started) / 1000);
    write(`[e2e ${String(Math.floor(elapsed / 60)).padStart(2, '0')}:${String(elapsed % 60).padStart(2, '0')}] ${line}`);
  };
}

/**
 * The whole run. Returns the exit code: 0 when every check passed or the machine cannot run kind
 * (a skip, unless LETTA_K8S_REQUIRE_ALL=1), 1 when a step or check failed.
 */
export async function runKindE2e(options: RunOptions): Promise<number> {
  const { shell, log } = options;
  const plan = options.plan ?? GITHUB_PLAN;
  const step = async <T>(title: string, run: () => Promise<T>): Promise<T> => {
    log(`${title} ...`);
    const from = Date.now();
    const result = await run();
    log(`${title}: done in ${Math.round((Date.now() - from) / 1000)} s`);
    return result;
  };

  const profile = options.profile ?? PROFILE;
  const profileRun = PROFILE_RUNS[profile];
  const userConfig = join(options.repoRoot, 'kind-config.yaml');
  const missing = await missingPrerequisites(shell, { kind: plan.kind.binary });
  if (!available('e2e:kind', missing.length ? `this machine lacks:\n${missing.map((m) => `  - ${m}`).join('\n')}` : undefined)) {
    return 0;
  }
  const userText = readFileSync(userConfig, 'utf8');
  const runConfig = await withFreeHostPorts(profileRun.clusterConfig(userText), options.portInUse);
  const httpPort = runConfig.hostPorts.get(80);
  if (httpPort === undefined) throw new Error(`${userConfig} maps no host port to the node's port 80`);
  for (const line of runConfig.moved) log(line);
  // A moved port or added nodes get a configuration of the run's own, beside its kubeconfig; the user's stays as it is.
  const runDir = dirname(options.kubeconfig);
  const kindConfig = runConfig.text !== userText ? join(runDir, 'kind-config.e2e.yaml') : userConfig;
  if (kindConfig !== userConfig) writeFileSync(kindConfig, runConfig.text);

  const environment = plan.environment;
  const valuesFile = profileRun.values ? writeValuesOver(join(runDir, `values.${profile}.yaml`), plan.valuesFile, profileRun.values(environment)) : plan.valuesFile;
  const settings = loadSettings({ profile, valuesFile });
  const topology = new Topology(settings);
  const { dir, objects } = await step(`synthesizing dist/ (npx cdk8s synth, ${profile} profile${valuesFile ? ` + ${valuesFile}` : ''})`, () =>
    synthesize(shell, options.repoRoot, profile, valuesFile),
  );
  const cluster = new KindCluster(shell, options.clusterName, options.kubeconfig, plan.kind);
  const kubectl = new Kubectl(shell, options.kubeconfig);
  const context: StepContext = { kubectl, settings, topology, log, environment };
  const ingress = (host: string) => ({ host, address: '127.0.0.1', port: httpPort });

  try {
    await step(`creating kind cluster ${cluster.name}${plan.kind.nodeImage ? ` from ${plan.kind.nodeImage}` : ''}`, () => cluster.create(kindConfig));
    if (plan.afterCreate) await step('preparing the machine around the cluster', () => plan.afterCreate!(cluster));
    const checks = await profileRun.prepare({ context, cluster, shell, dir, objects, repoRoot: options.repoRoot, valuesFile, kubeconfig: options.kubeconfig, plan, ingress, step });
    await step(`installing ${plan.ingressController}`, () => plan.installIngress(context));
    const results = await checks();
    const failed = results.filter((r) => r.problems.length > 0);
    log(`${results.length - failed.length} passed, ${failed.length} failed`);
    // For CI's closing count: every check by name and whether it passed.
    if (options.resultsFile) writeFileSync(options.resultsFile, JSON.stringify(results.map((r) => ({ name: r.name, passed: r.problems.length === 0 }))));
    return failed.length === 0 ? 0 : 1;
  } catch (error) {
    log(`FAILED: ${(error as Error).message}`);
    return 1;
  } finally {
    if (options.keep) {
      log(`keeping cluster ${cluster.name}: kubectl --kubeconfig ${cluster.kubeconfig}; delete it with \`kind delete cluster --name ${cluster.name}\``);
    } else {
      if (plan.beforeDelete) await plan.beforeDelete(cluster).catch((error: Error) => log(`could not clean up around the cluster: ${error.message}`));
      await step(`deleting cluster ${cluster.name}`, () => cluster.delete()).catch((error: Error) => log(`could not delete the cluster: ${error.message}`));
    }
  }
}

/** What a profile's run does its own way: the cluster, the values, the nodes' preparation and the checks. */
interface ProfileRun {
  /** The run's kind configuration, from the user's kind-config.yaml. */
  readonly clusterConfig: (userText: string) => string;
  /** Values over the plan's own. @default none: the plan's values file as it is */
  readonly values?: (environment: E2eEnvironment) => unknown;
  /** Once the cluster exists: marks its nodes, loads the plan's images onto them, and returns the profile's checks. */
  readonly prepare: (scope: KindProfileScope) => Promise<() => Promise<CheckResult[]>>;
}

const KIND_RUN: ProfileRun = {
  clusterConfig: (userText) => userText,
  // vLLM on the node's CPUs, where the plan has a model for it.
  values: (environment) => (environment.localModel ? localModelValues(environment.localModel) : {}),
  prepare: async (scope) => {
    const images = scope.plan.preloadImages;
    if (images.length > 0) await scope.step(`loading ${images.length} images onto the node`, () => scope.cluster.loadImages(images));
    return () => runKindProfile(scope.context, scope);
  },
};

const GPU_RUN: ProfileRun = {
  clusterConfig: gpuClusterConfig,
  values: (environment) => gpuRunValues(environment.objectStore),
  prepare: async ({ context, cluster, plan, objects, step, ...scope }) => {
    const nodes = await step('making one worker a GPU node (label, taint, nvidia.com/gpu in its status) and untainting the control plane', () => simulateGpuNode(context.kubectl));
    context.log(`  control plane ${nodes.controlPlane}, plain worker ${nodes.plainWorker}, GPU worker ${nodes.gpuWorker}`);
    const images = plan.preloadImages;
    if (images.length > 0) {
      // The GPU node takes only pods that tolerate its taint: the DaemonSets, vLLM, and the run's stand-in for vLLM.
      const tolerating = new Set([...imagesOf(objects.filter((o) => toleratesGpuTaint(podSpecOf(o)))), plan.environment.pythonImage]);
      const gpuImages = images.filter((image) => tolerating.has(image));
      await step(`loading ${images.length} images onto ${nodes.controlPlane} and ${nodes.plainWorker}, ${gpuImages.length} onto ${nodes.gpuWorker}`, async () => {
        await cluster.loadImages(images, [nodes.controlPlane, nodes.plainWorker]);
        await cluster.loadImages(gpuImages, [nodes.gpuWorker]);
      });
    }
    return () =>
      step('the gpu profile on a simulated GPU node', () =>
        runGpuProfile(context, { shell: scope.shell, repoRoot: scope.repoRoot, valuesFile: scope.valuesFile!, kubeconfig: scope.kubeconfig, nodes, ingress: scope.ingress }).catch(
          (error: Error): CheckResult[] => [{ name: 'the gpu profile run', problems: [error.message] }],
        ),
      );
  },
};

const PROFILE_RUNS: Readonly<Record<E2eProfile, ProfileRun>> = { [PROFILE]: KIND_RUN, [GPU_PROFILE]: GPU_RUN };

interface CheckScope {
  readonly cluster: KindCluster;
  readonly shell: Shell;
  /** The synthesized dist/, for re-applying, and its objects. */
  readonly dir: string;
  readonly objects: readonly KubeObject[];
  readonly repoRoot: string;
  /** The values file over the kind profile, which the restore Job is made with too. */
  readonly valuesFile?: string;
}

interface KindProfileScope extends CheckScope {
  readonly context: StepContext;
  /** The run's kubeconfig, for the README's commands. */
  readonly kubeconfig: string;
  readonly plan: ClusterPlan;
  readonly ingress: (host: string) => IngressTarget;
  readonly step: <T>(title: string, run: () => Promise<T>) => Promise<T>;
}

/** The kind profile: dist/ applied, the checks, then the gateway-api variant where the plan serves Gateway API. */
async function runKindProfile(context: StepContext, scope: KindProfileScope): Promise<CheckResult[]> {
  const { kubectl, log, settings, topology } = context;
  const { plan, step } = scope;
  await step('applying dist/', () => applyStack(context, scope.dir));
  const model = context.environment?.localModel;
  if (topology.has('vllm') && model?.cacheArchive) {
    const archive = model.cacheArchive;
    await step(`filling vLLM's model cache claim with ${model.description}`, () => fillModelCache(context, scope.objects, archive));
  }
  const backendHost = await step('deploying the stream test backend', () => deployStreamBackend(context, scope.objects));
  await step(`waiting for the stack in namespace ${topology.namespace}`, () =>
    // The first start pulls Letta's image and runs its migrations.
    waitForStack(context, 20 * MINUTE),
  );
  await step(`waiting for the test backend in namespace ${E2E_NAMESPACE}`, () => waitForWorkloads(kubectl, E2E_NAMESPACE, { timeoutMs: 5 * MINUTE, log }));
  log(`checks run through ${plan.ingressController}`);
  const results = await runChecks(context, { host: settings.ingress.host, backendHost, ingress: scope.ingress, controller: plan.ingressController }, scope);
  await step('removing the test backend', () => removeStreamBackend(kubectl));
  const controller = plan.gatewayApiController;
  if (!controller) {
    log(`the gateway-api variant is not run: ${plan.ingressController} serves no Gateway API here (npm run e2e:local runs it on Traefik)`);
    return results;
  }
  // The variant reinstalls the stack; if it breaks off, that counts as one failed check.
  const variantOptions: VariantOptions = { shell: scope.shell, repoRoot: scope.repoRoot, baseValuesFile: plan.valuesFile, ingress: scope.ingress };
  const variant = await step(`the gateway-api variant (kind profile behind an HTTPRoute on ${controller})`, () =>
    runGatewayVariant(context, { ...variantOptions, controller }).catch((error: Error): CheckResult[] => [{ name: 'the gateway-api variant', problems: [error.message] }]),
  );
  return [...results, ...variant];
}

/** The checks through the ingress and from inside the cluster; each runs whatever the others found. */
async function runChecks(
  context: StepContext,
  ingress: { host: string; backendHost: string; ingress: (host: string) => IngressTarget; controller: string },
  scope: CheckScope,
): Promise<CheckResult[]> {
  const { log, kubectl, topology } = context;
  const results: CheckResult[] = [];
  const record = (name: string, problems: readonly string[]) => {
    results.push({ name, problems });
    log(problems.length === 0 ? `PASS ${name}` : `FAIL ${name}\n${problems.map((p) => `    ${p}`).join('\n')}`);
  };
  const guarded = async (names: readonly string[], run: () => Promise<ReadonlyArray<readonly string[]>>) => {
    log(`checking: ${names.join('; ')} ...`);
    try {
      (await run()).forEach((problems, index) => record(names[index], problems));
    } catch (error) {
      names.forEach((name) => record(name, [(error as Error).message]));
    }
  };
  const target = ingress.ingress;
  const letta: LettaClient = { target: target(ingress.host) };

  await guarded(['health through the ingress'], async () => [await healthThroughIngress(target(ingress.host), 5 * MINUTE)]);
  await guarded(['Pod Security "restricted" enforced on the running namespace, every workload Ready'], async () => [
    await restrictedNamespaceProblems(context),
  ]);
  await guarded(
    [
      `SSE stream through the ingress stays open while idle ${STREAM_IDLE_SECONDS} s and is not buffered`,
      `WebSocket through the ingress echoes after ${STREAM_IDLE_SECONDS} s idle`,
    ],
    async () => {
      const { sse, webSocket } = await streamProblems(target(ingress.backendHost));
      return [sse, webSocket];
    },
  );
  await guarded(['NetworkPolicies: every edge connects, every other client is denied'], async () => {
    const cases = probeCases(context, await componentPodAddresses(context));
    if (context.environment?.internetAddress === undefined) log('  no internet address on this machine: the egress-to-internet probes are not run');
    const verdicts = await runNetworkProbes(context, cases, 6 * MINUTE);
    verdicts.filter((v) => v.ok).forEach((v) => log(`  ok: ${v.message}`));
    return [verdicts.filter((v) => !v.ok).map((v) => v.message)];
  });
  const agents = topology.has('vllm') ? await agentTurnChecks(context, { ...ingress, letta, objects: scope.objects, shell: scope.shell, cluster: scope.cluster }, guarded) : undefined;
  let written: WrittenData | undefined;
  await guarded(['an agent and a block written through Letta\'s REST API read back'], async () => {
    written = await writeLettaData(letta);
    return [await readBackWithin(letta, written, MINUTE)];
  });
  await guarded(['database persistence across a pod deletion (a row, and Letta\'s agent and block)'], async () => {
    const problems = await databasePersistence(context, 5 * MINUTE);
    if (written) problems.push(...(await readBackWithin(letta, written, 3 * MINUTE)));
    return [problems];
  });
  await guarded(['Letta\'s data after deleting the StatefulSet and applying dist/ again (claims retained)'], async () => {
    if (!written) return [['nothing was written through the API to read back']];
    const database = topology.component('database').name;
    await kubectl.check(['delete', 'statefulset', database, '--namespace', topology.namespace, '--wait=true', '--timeout=180s']);
    await applyStack(context, scope.dir);
    await waitForStack(context, 5 * MINUTE);
    return [await readBackWithin(letta, written, 3 * MINUTE)];
  });
  const drained = agents ? ` while an agent's stream is open on the pod being replaced, which ends it with its final events (${agents.conversation.model})` : '';
  await guarded([`a rolling restart of letta-server under load fails no request through ${ingress.controller}${drained}`], async () => {
    const lettaPods = topology.component('letta').selector;
    const podsBefore = (await kubectl.pods(lettaPods, topology.namespace)).map((pod) => pod.metadata.name);
    const result = await rollingRestartUnderLoad(kubectl, letta, {
      namespace: topology.namespace,
      deployment: topology.component('letta').name,
      timeoutMs: 10 * MINUTE,
      log,
      alongside: agents
        ? () => streamThroughDrain(kubectl, agents.sdk, agents.conversation, { namespace: topology.namespace, selector: lettaPods, podsBefore, log })
        : undefined,
    });
    log(`  ${result.requests} requests during the rollout`);
    return [result.problems];
  });
  if (topology.has('backup')) {
    const backupOptions = () => {
      if (!written) throw new Error('nothing was written through the API to read back');
      return { shell: scope.shell, repoRoot: scope.repoRoot, profile: PROFILE, valuesFile: scope.valuesFile, letta, written };
    };
    await guarded(['backup and restore: a dump, a refused restore over live data, the database dropped, the restore, Letta\'s agent and block back'], async () => [
      await backupRoundTrip(context, { ...backupOptions(), overwrite: false }),
    ]);
    await guarded(['an upgrade\'s migration waits for the pre-migration dump of the schema it changes, then migrates'], async () => [
      await preMigrationOnUpgrade(context, { ...backupOptions(), dir: scope.dir, objects: scope.objects }),
    ]);
  }
  if (topology.has('telemetry')) {
    await guarded(['the collector received Letta\'s traces'], async () => [await tracesProblems(context, scope, letta)]);
    if (agents) {
      await guarded([`the collector's file output holds an agent step's spans, its LLM request to ${agents.conversation.model} among them`], async () => [
        await agentStepSpanProblems(context, scope),
      ]);
    }
  }
  await guarded(['no Secret value in any container\'s log'], async () => {
    const scan = await secretsInLogs(kubectl, [topology.namespace]);
    log(`  read ${scan.linesRead} log lines of ${scan.containers} containers`);
    return [scan.containers === 0 ? ['no container log could be read'] : scan.problems];
  });
  return results;
}

type Guarded = (names: readonly string[], run: () => Promise<ReadonlyArray<readonly string[]>>) => Promise<void>;

/**
 * The stack doing its job (issue 23): vLLM serving on the node's CPUs with the synthesized spec,
 * Letta listing its model, an agent answering through the ingress with Letta's SDK, a streamed turn
 * arriving while its run is in progress, the replies stored across a Letta pod's deletion, and
 * vLLM's compile cache reused from its claim after a restart. Returns the SDK and the agents for
 * the checks that follow (spans, the rolling restart), or undefined when the agents could not be made.
 */
async function agentTurnChecks(
  context: StepContext,
  scope: { host: string; controller: string; ingress: (host: string) => IngressTarget; letta: LettaClient; objects: readonly KubeObject[]; shell: Shell; cluster: KindCluster },
  guarded: Guarded,
): Promise<{ sdk: ReturnType<typeof lettaSdk>; conversation: Conversation } | undefined> {
  const { kubectl, topology, settings, log } = context;
  const namespace = topology.namespace;
  const vllm = topology.component('vllm');
  const served = settings.vllm.servedModelName ?? settings.vllm.model;
  const on = `${scope.controller}, vllm/${served} on ${settings.vllm.device === 'cpu' ? 'CPUs' : 'GPUs'} (${settings.vllm.image})`;
  log(`agent checks: ${on}; ${context.environment?.localModel?.description ?? ''}`);
  const sdk = lettaSdk(scope.ingress(scope.host));
  const { container } = vllmSpec(scope.objects, vllm.name);

  await guarded([`vLLM Ready under Pod Security "restricted" with the synthesized spec, and Letta lists vllm/${served} (${on})`], async () => {
    const problems: string[] = [];
    const pod = await readyPod(kubectl, namespace, vllm.selector, MINUTE);
    if (!pod) return [[`no Ready ${vllm.name} pod`]];
    problems.push(...specDrift(container, pod.spec.containers[0]));
    log(`  vLLM's first start took ${startupSeconds(pod, container.name) ?? '?'} s (container start to Ready)`);
    const memory = await workingSetBytes(scope.shell, scope.cluster.controlPlaneContainer, pod.metadata.name, container.name);
    log(`  vLLM's memory working set ${memory === undefined ? '?' : `${(memory / 1024 ** 3).toFixed(2)} GiB`}, request ${container.resources.requests.memory}, limit ${container.resources.limits.memory}`);
    const handles = (await sdk.models.list()).map((model) => model.handle);
    if (!handles.includes(`vllm/${served}`)) problems.push(`Letta lists ${handles.join(', ') || 'no model'}, not vllm/${served}`);
    return [problems];
  });

  let conversation: Conversation | undefined;
  await guarded([`an agent on vllm/${served} answers a message through the ingress (POST /v1/agents/{id}/messages with Letta's SDK; ${on})`], async () => {
    conversation = await startConversation(sdk, served);
    const turns = [];
    for (let i = 0; i < AGENT_TURNS; i++) turns.push(await plainTurn(sdk, conversation));
    const seconds = turns.map((turn) => turn.seconds).sort((a, b) => a - b);
    log(`  ${AGENT_TURNS} turns through the ingress: p50 ${seconds[Math.floor(AGENT_TURNS / 2)].toFixed(2)} s (${seconds.map((t) => t.toFixed(2)).join(', ')} s)`);
    return [turns.flatMap((turn) => turn.problems)];
  });
  if (!conversation) return undefined;
  const agents = { sdk, conversation };

  await guarded([`a streamed agent turn (SSE through the ingress, Letta's SDK): the tool call arrives while its run is in progress, the stream ends with the tool's return and a stop reason (${on})`], async () => {
    const lettaPod = await readyPod(kubectl, namespace, topology.component('letta').selector, MINUTE);
    if (!lettaPod) return [['no Ready Letta pod']];
    const problems: string[] = [];
    const stream = await heldStream(sdk, agents.conversation, async ({ runId, runStatus }) => {
      if (runStatus !== 'running') problems.push(`run ${runId} was ${runStatus} when its tool call arrived: the events were held back`);
      await releaseHeldTool(kubectl, namespace, lettaPod.metadata.name);
    });
    log(`  events: ${stream.events.join(' → ')}; the first after ${stream.firstEventSeconds?.toFixed(2)} s`);
    if (stream.toolPod !== lettaPod.metadata.name) problems.push(`the held tool answered ${JSON.stringify(stream.toolPod)}, not ${lettaPod.metadata.name}`);
    return [[...problems, ...stream.problems]];
  });

  await guarded(['the agents\' replies read back through the SDK after the Letta pod is deleted'], async () => {
    const selector = labelSelector(topology.component('letta').selector);
    await kubectl.check(['delete', 'pod', '--namespace', namespace, '--selector', selector, '--wait=true', '--timeout=180s'], { timeoutMs: 4 * MINUTE });
    await waitForStack(context, 10 * MINUTE);
    // Ready is not yet routed: the ingress learns the new endpoint a moment later (Traefik said 503 meanwhile).
    let problems: string[] = ['no attempt'];
    await pollUntil(
      async () => {
        problems = await storedReplyProblems(sdk, agents.conversation).catch((error: Error) => [error.message]);
        return problems.length === 0 ? true : undefined;
      },
      { timeoutMs: 3 * MINUTE, intervalMs: 5_000 },
    );
    return [problems];
  });

  await guarded([`vLLM's compile caches outlive its pod on the model cache claim, and a restarted vLLM serves again (${on})`], async () => {
    const claimMount = container.volumeMounts.find((mount: KubeObject) => mount.name === 'model-cache')?.mountPath;
    const caches = ['VLLM_CACHE_ROOT', 'TORCHINDUCTOR_CACHE_DIR'].map((name) => container.env.find((variable: KubeObject) => variable.name === name)?.value as string);
    const problems = caches.filter((dir) => !dir?.startsWith(`${claimMount}/`)).map((dir) => `${dir} is not on the model cache claim (${claimMount})`);
    const filesIn = async (pod: string) =>
      (await kubectl.check(['exec', '--namespace', namespace, pod, '--', 'sh', '-c', `find ${caches.join(' ')} -type f 2>/dev/null | wc -l`])).trim();
    const before = await readyPod(kubectl, namespace, vllm.selector, MINUTE);
    if (!before) return [[`no Ready ${vllm.name} pod`]];
    const written = Number(await filesIn(before.metadata.name));
    if (!(written > 0)) problems.push(`the first start wrote no file into ${caches.join(' or ')}`);
    await kubectl.check(['delete', 'pod', '--namespace', namespace, before.metadata.name, '--wait=true', '--timeout=180s'], { timeoutMs: 4 * MINUTE });
    const after = await readyPod(kubectl, namespace, vllm.selector, settings.vllm.startupTimeoutSeconds * 1000);
    if (!after) return [[...problems, `vLLM was not Ready again within ${settings.vllm.startupTimeoutSeconds} s`]];
    log(`  ${written} compiled files on the claim; the restart took ${startupSeconds(after, container.name) ?? '?'} s (container start to Ready)`);
    const logs = await kubectl.check(['logs', '--namespace', namespace, after.metadata.name]);
    logs.split('\n').filter((line) => COMPILE_CACHE_LINE.test(line)).slice(0, 4).forEach((line) => log(`  vLLM: ${line.trim()}`));
    return [problems];
  });
  return agents;
}

/** Turns the plain agent answers, for a median latency through the ingress. */
const AGENT_TURNS = 5;

/**
 * vLLM's lines about its compile cache, reported as they are: 0.32.0 writes its compiled model
 * there but fails to load it back ("'function' object has no attribute 'finalize_loading'") and
 * compiles again, while torch's inductor cache beside it is reused.
 */
const COMPILE_CACHE_LINE = /torch\.compile|compile cache|compiled graph|finalize_loading/i;

/** An agent step's trace at the collector: the step's span and, in the same trace, the LLM request. */
async function agentStepSpanProblems(context: StepContext, scope: CheckScope): Promise<string[]> {
  let found: { step: number; llm: number; names: string[] } | undefined;
  await pollUntil(
    async () => {
      const spans = spansOf(await collectorTraceFiles(scope.shell, scope.cluster.controlPlaneContainer, TRACE_VOLUME));
      const steps = spans.filter((span) => AGENT_STEP_SPAN.test(span.name));
      const traces = new Set(steps.map((span) => span.traceId));
      const llm = spans.filter((span) => traces.has(span.traceId) && LLM_REQUEST_SPAN.test(span.name));
      found = { step: steps.length, llm: llm.length, names: [...new Set([...steps, ...llm].map((span) => span.name))] };
      return llm.length > 0 ? true : undefined;
    },
    { timeoutMs: 2 * MINUTE, intervalMs: 5_000 },
  );
  context.log(`  agent step spans ${found?.step ?? 0}, LLM request spans in their traces ${found?.llm ?? 0}: ${found?.names.join(', ')}`);
  return found && found.llm > 0 ? [] : [`no LLM request span in the trace of an agent step (step spans: ${found?.step ?? 0})`];
}

/** Letta's agent loop (LettaAgentV3.step / .stream and their inner steps), as its trace_method names spans. */
const AGENT_STEP_SPAN = /^LettaAgent\w*\.(_?step|stream)$/;
/** The LLM client's request (OpenAIClient.request_async / stream_async, which Letta's vLLM provider uses). */
const LLM_REQUEST_SPAN = /Client\.(request_async|stream_async|request)$/;

/** The live namespace enforces "restricted", and every workload in it is ready under it. */
async function restrictedNamespaceProblems(context: StepContext): Promise<string[]> {
  const namespace = await context.kubectl.get(KINDS.namespace, context.topology.namespace);
  const enforce = namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'];
  const problems = enforce === 'restricted' ? [] : [`namespace ${context.topology.namespace} enforces ${JSON.stringify(enforce)}`];
  const statuses = await waitForWorkloads(context.kubectl, context.topology.namespace, { timeoutMs: MINUTE });
  return [...problems, ...statuses.filter((s) => !s.ready).map((s) => `${s.kind}/${s.name} not ready: ${s.detail}`)];
}

/** Spans from Letta in the collector's file output, after requests that Letta traces. */
async function tracesProblems(context: StepContext, scope: CheckScope, letta: LettaClient): Promise<string[]> {
  for (let i = 0; i < 5; i++) await lettaCall(letta, 'GET', '/v1/agents/?limit=1');
  let counts = new Map<string, number>();
  const found = await pollUntil(
    async () => {
      counts = spansByService(await collectorTraceFiles(scope.shell, scope.cluster.controlPlaneContainer, TRACE_VOLUME));
      return [...counts.keys()].some((service) => service.startsWith('letta-server')) ? true : undefined;
    },
    { timeoutMs: 2 * MINUTE, intervalMs: 5_000 },
  );
  context.log(`  spans by service: ${[...counts].map(([service, n]) => `${service} ${n}`).join(', ') || 'none'}`);
  return found ? [] : ['no span from letta-server in the collector\'s file output within 2 minutes'];
}

/** `--profile NAME` or `--profile=NAME` among the arguments; the kind profile without it. */
export function profileArgument(argv: readonly string[]): E2eProfile {
  const index = argv.findIndex((arg) => arg === '--profile' || arg.startsWith('--profile='));
  if (index < 0) return 'kind';
  const value = argv[index].includes('=') ? argv[index].slice('--profile='.length) : argv[index + 1];
  if (!E2E_PROFILES.includes(value as E2eProfile)) {
    throw new Error(`--profile: ${value === undefined ? 'needs a value' : `unknown profile "${value}"`}; one of ${E2E_PROFILES.join(', ')}`);
  }
  return value as E2eProfile;
}

async function main(): Promise<number> {
  const shell = processShell;
  const profile = profileArgument(process.argv.slice(2));
  const keep = process.argv.includes('--keep') || process.env.E2E_KEEP_CLUSTER === '1';
  const clusterName = process.env.E2E_CLUSTER_NAME || `letta-e2e-${Date.now().toString(36)}`;
  const workDir = mkdtempSync(join(tmpdir(), 'letta-e2e-'));
  const kubeconfig = join(workDir, 'kubeconfig');
  const log = progressLog();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping${keep ? '' : ` and deleting cluster ${clusterName}`}`);
      const cleanUp = keep ? Promise.resolve() : new KindCluster(shell, clusterName, kubeconfig).delete();
      void cleanUp.catch(() => undefined).finally(() => process.exit(130));
    });
  }
  try {
    return await runKindE2e({ shell, repoRoot: join(__dirname, '..', '..'), keep, clusterName, kubeconfig, log, resultsFile: process.env.E2E_RESULTS, profile });
  } finally {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
