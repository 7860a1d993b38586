/**
 * The kind profile on a kind cluster (issue #5), project e2e-kind: `npm run e2e:local` or
 * `npm run e2e:kind` (README, "End-to-end on kind").
 *
 * Creates a kind cluster from kind-config.yaml, installs the ingress data plane, applies
 * `npx cdk8s synth`'s dist/ with vLLM on the node's CPUs, waits for every workload and then
 * checks, through the ingress and from inside the cluster: Letta's health, idle SSE and WebSocket
 * streams, the NetworkPolicies, an agent's turns, the database's persistence, a rolling restart
 * under load, a backup's restore, a migration waiting for its pre-migration dump, the traces and
 * the logs; then the same stack behind Gateway API where the plan has a controller for it.
 */
import { MINUTE } from '../../tools/support';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { GATEWAY_API_VALUES } from '../../tools/fixtures';
import { type Conversation, heldStream, lettaSdk, plainTurn, releaseHeldTool, startConversation, storedReplyProblems, streamThroughDrain } from './agent-turns';
import { backupRoundTrip, preMigrationOnUpgrade } from './backup';
import { gatewayRouteProblems } from './gateway-variant';
import { KINDS, labelSelector } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { lettaCall, type LettaClient, readBackWithin, type WrittenData, writeLettaData } from './letta-api';
import { fillModelCache, readyPod, specDrift, startupSeconds, vllmSpec, workingSetBytes } from './local-model';
import { secretsInLogs } from './logs';
import { E2E_NAMESPACE, findStackEntry } from './manifests';
import { pollUntil, waitForWorkloads } from './readiness';
import { rollingRestartUnderLoad } from './rollout';
import { installIngress, log, madeBy, noProblems, plannedRun, ROOT, runSettings, type RunningCluster, startCluster, stopCluster } from './run';
import { processShell } from './shell';
import {
  applyStack,
  componentPodAddresses,
  databasePersistence,
  deployStreamBackend,
  healthThroughIngress,
  probeCases,
  removeStreamBackend,
  runNetworkProbes,
  type StepContext,
  STREAM_IDLE_SECONDS,
  streamProblems,
  synthesize,
  waitForStack,
} from './steps';
import { collectorTraceFiles, spansByService, spansOf } from './traces';
import { variantStack, writeValuesOver } from './variant';

const PROFILE = 'kind';
/** The collector's trace volume (charts/telemetry-chart.ts). */
const TRACE_VOLUME = 'traces';
/** Turns the plain agent answers, for a median latency through the ingress. */
const AGENT_TURNS = 5;
/**
 * vLLM's lines about its compile cache, reported as they are: 0.32.0 writes its compiled model
 * there but fails to load it back ("'function' object has no attribute 'finalize_loading'") and
 * compiles again, while torch's inductor cache beside it is reused.
 */
const COMPILE_CACHE_LINE = /torch\.compile|compile cache|compiled graph|finalize_loading/i;
/** Letta's agent loop (LettaAgentV3.step / .stream and their inner steps), as its trace_method names spans. */
const AGENT_STEP_SPAN = /^LettaAgent\w*\.(_?step|stream)$/;
/** The LLM client's request (OpenAIClient.request_async / stream_async, which Letta's vLLM provider uses). */
const LLM_REQUEST_SPAN = /Client\.(request_async|stream_async|request)$/;

const { run, skip } = plannedRun();
const { settings, topology } = runSettings(run, PROFILE);
const controller = run?.ingressController ?? 'the ingress';
const served = settings.vllm.servedModelName ?? settings.vllm.model;
const on = `${controller}, vllm/${served} on ${settings.vllm.device === 'cpu' ? 'CPUs' : 'GPUs'} (${settings.vllm.image})`;

describe.skipIf(!run)(skip ? `e2e skipped: ${skip}` : `the kind profile on kind cluster ${run!.clusterName}`, () => {
  let cluster: RunningCluster;
  let context: StepContext;
  let dir: string;
  let objects: KubeObject[];
  let backendHost: string;
  let letta: LettaClient;
  let agents: { sdk: ReturnType<typeof lettaSdk>; conversation: Conversation } | undefined;
  let written: WrittenData | undefined;

  beforeAll(async () => {
    log(`synthesizing dist/ (npx cdk8s synth, ${PROFILE} profile + ${run!.valuesFile})`);
    ({ dir, objects } = await synthesize(processShell, ROOT, PROFILE, run!.valuesFile));
    cluster = await startCluster(run!);
    context = cluster.context;
    if (run!.preloadImages.length > 0) {
      log(`loading ${run!.preloadImages.length} images onto the node`);
      await cluster.cluster.loadImages(run!.preloadImages);
    }
    await installIngress(run!, context);
    log('applying dist/');
    await applyStack(context, dir);
    const model = run!.environment.localModel;
    if (topology.has('vllm') && model?.cacheArchive) {
      log(`filling vLLM's model cache claim with ${model.description}`);
      await fillModelCache(context, objects, model.cacheArchive);
    }
    backendHost = await deployStreamBackend(context, objects);
    log(`waiting for the stack in namespace ${topology.namespace}`);
    // The first start pulls Letta's image and runs its migrations.
    await waitForStack(context, 20 * MINUTE);
    await waitForWorkloads(context.kubectl, E2E_NAMESPACE, { timeoutMs: 5 * MINUTE, log });
    letta = { target: cluster.ingress(settings.ingress.host) };
  }, 60 * MINUTE);
  afterAll(() => stopCluster(run!), 10 * MINUTE);

  it('health through the ingress', async () => noProblems(await healthThroughIngress(letta.target, 5 * MINUTE)), 6 * MINUTE);

  it('Pod Security "restricted" enforced on the running namespace, every workload Ready', async () => {
    const namespace = await context.kubectl.get(KINDS.namespace, topology.namespace, '');
    const enforce = namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'];
    const problems = enforce === 'restricted' ? [] : [`namespace ${topology.namespace} enforces ${JSON.stringify(enforce)}`];
    const statuses = await waitForWorkloads(context.kubectl, topology.namespace, { timeoutMs: MINUTE });
    noProblems([...problems, ...statuses.filter((s) => !s.ready).map((s) => `${s.kind}/${s.name} not ready: ${s.detail}`)]);
  }, 3 * MINUTE);

  // Both streams are mostly waiting through their silence, side by side: the WebSocket's check reads what the SSE check started.
  let streams: ReturnType<typeof streamProblems> | undefined;
  it(`SSE stream through the ingress stays open while idle ${STREAM_IDLE_SECONDS} s and is not buffered`, async () => {
    streams = streamProblems(cluster.ingress(backendHost));
    noProblems((await streams).sse);
  }, 5 * MINUTE);
  it(`WebSocket through the ingress echoes after ${STREAM_IDLE_SECONDS} s idle`, async () => {
    noProblems((await madeBy(streams, 'the SSE check, which starts both streams')).webSocket);
  }, 5 * MINUTE);

  it('NetworkPolicies: every edge connects, every other client is denied', async () => {
    const cases = probeCases(context, await componentPodAddresses(context));
    if (run!.environment.internetAddress === undefined) log('  no internet address on this machine: the egress-to-internet probes are not run');
    const verdicts = await runNetworkProbes(context, cases, 6 * MINUTE);
    verdicts.filter((v) => v.ok).forEach((v) => log(`  ok: ${v.message}`));
    noProblems(verdicts.filter((v) => !v.ok).map((v) => v.message));
  }, 8 * MINUTE);

  /*
   * The stack doing its job (issue 23): vLLM serving on the node's CPUs with the synthesized spec,
   * Letta listing its model, an agent answering through the ingress with Letta's SDK, a streamed
   * turn arriving while its run is in progress, the replies stored across a Letta pod's deletion,
   * and vLLM's compile cache reused from its claim after a restart.
   */
  describe.runIf(topology.has('vllm'))(`an agent on vllm/${served}`, () => {
    const vllm = () => topology.component('vllm');
    const sdk = () => madeBy(agents, 'the agent check').sdk;
    const container = () => vllmSpec(objects, vllm().name).container;

    it(`vLLM Ready under Pod Security "restricted" with the synthesized spec, and Letta lists vllm/${served} (${on})`, async () => {
      log(`agent checks: ${on}; ${run!.environment.localModel?.description ?? ''}`);
      const pod = await readyPod(context.kubectl, topology.namespace, vllm().selector, MINUTE);
      if (!pod) throw new Error(`no Ready ${vllm().name} pod`);
      const problems = specDrift(container(), pod.spec.containers[0]);
      log(`  vLLM's first start took ${startupSeconds(pod, container().name) ?? '?'} s (container start to Ready)`);
      const memory = await workingSetBytes(processShell, cluster.cluster.controlPlaneContainer, pod.metadata.name, container().name);
      const { requests, limits } = container().resources;
      log(`  vLLM's memory working set ${memory === undefined ? '?' : `${(memory / 1024 ** 3).toFixed(2)} GiB`}, request ${requests.memory}, limit ${limits.memory}`);
      const handles = (await lettaSdk(letta.target).models.list()).map((model) => model.handle);
      if (!handles.includes(`vllm/${served}`)) problems.push(`Letta lists ${handles.join(', ') || 'no model'}, not vllm/${served}`);
      noProblems(problems);
    }, 3 * MINUTE);

    it(`an agent on vllm/${served} answers a message through the ingress (POST /v1/agents/{id}/messages with Letta's SDK; ${on})`, async () => {
      const client = lettaSdk(letta.target);
      const conversation = await startConversation(client, served);
      agents = { sdk: client, conversation };
      const turns = [];
      for (let i = 0; i < AGENT_TURNS; i++) turns.push(await plainTurn(client, conversation));
      const seconds = turns.map((turn) => turn.seconds).sort((a, b) => a - b);
      log(`  ${AGENT_TURNS} turns through the ingress: p50 ${seconds[Math.floor(AGENT_TURNS / 2)].toFixed(2)} s (${seconds.map((t) => t.toFixed(2)).join(', ')} s)`);
      noProblems(turns.flatMap((turn) => turn.problems));
    }, 15 * MINUTE);

    it(`a streamed agent turn (SSE through the ingress, Letta's SDK): the tool call arrives while its run is in progress, the stream ends with the tool's return and a stop reason (${on})`, async () => {
      const lettaPod = await readyPod(context.kubectl, topology.namespace, topology.component('letta').selector, MINUTE);
      if (!lettaPod) throw new Error('no Ready Letta pod');
      const problems: string[] = [];
      const stream = await heldStream(sdk(), agents!.conversation, async ({ runId, runStatus }) => {
        if (runStatus !== 'running') problems.push(`run ${runId} was ${runStatus} when its tool call arrived: the events were held back`);
        await releaseHeldTool(context.kubectl, topology.namespace, lettaPod.metadata.name);
      });
      log(`  events: ${stream.events.join(' → ')}; the first after ${stream.firstEventSeconds?.toFixed(2)} s`);
      if (stream.toolPod !== lettaPod.metadata.name) problems.push(`the held tool answered ${JSON.stringify(stream.toolPod)}, not ${lettaPod.metadata.name}`);
      noProblems([...problems, ...stream.problems]);
    }, 10 * MINUTE);

    it("the agents' replies read back through the SDK after the Letta pod is deleted", async () => {
      const { conversation } = madeBy(agents, 'the agent check');
      const selector = labelSelector(topology.component('letta').selector);
      await context.kubectl.check(['delete', 'pod', '--namespace', topology.namespace, '--selector', selector, '--wait=true', '--timeout=180s'], { timeoutMs: 4 * MINUTE });
      await waitForStack(context, 10 * MINUTE);
      // Ready is not yet routed: the ingress learns the new endpoint a moment later (Traefik said 503 meanwhile).
      let problems: string[] = ['no attempt'];
      await pollUntil(
        async () => {
          problems = await storedReplyProblems(sdk(), conversation).catch((error: Error) => [error.message]);
          return problems.length === 0 ? true : undefined;
        },
        { timeoutMs: 3 * MINUTE, intervalMs: 5_000 },
      );
      noProblems(problems);
    }, 20 * MINUTE);

    it(`vLLM's compile caches outlive its pod on the model cache claim, and a restarted vLLM serves again (${on})`, async () => {
      const { kubectl } = context;
      const namespace = topology.namespace;
      const claimMount = container().volumeMounts.find((mount: KubeObject) => mount.name === 'model-cache')?.mountPath;
      const caches = ['VLLM_CACHE_ROOT', 'TORCHINDUCTOR_CACHE_DIR'].map((name) => container().env.find((variable: KubeObject) => variable.name === name)?.value as string);
      const problems = caches.filter((cache) => !cache?.startsWith(`${claimMount}/`)).map((cache) => `${cache} is not on the model cache claim (${claimMount})`);
      const filesIn = async (pod: string) =>
        (await kubectl.check(['exec', '--namespace', namespace, pod, '--', 'sh', '-c', `find ${caches.join(' ')} -type f 2>/dev/null | wc -l`])).trim();
      const before = await readyPod(kubectl, namespace, vllm().selector, MINUTE);
      if (!before) throw new Error(`no Ready ${vllm().name} pod`);
      const count = Number(await filesIn(before.metadata.name));
      if (!(count > 0)) problems.push(`the first start wrote no file into ${caches.join(' or ')}`);
      await kubectl.check(['delete', 'pod', '--namespace', namespace, before.metadata.name, '--wait=true', '--timeout=180s'], { timeoutMs: 4 * MINUTE });
      const after = await readyPod(kubectl, namespace, vllm().selector, settings.vllm.startupTimeoutSeconds * 1000);
      if (!after) throw new Error([...problems, `vLLM was not Ready again within ${settings.vllm.startupTimeoutSeconds} s`].join('\n'));
      log(`  ${count} compiled files on the claim; the restart took ${startupSeconds(after, container().name) ?? '?'} s (container start to Ready)`);
      const logs = await kubectl.check(['logs', '--namespace', namespace, after.metadata.name]);
      logs.split('\n').filter((line) => COMPILE_CACHE_LINE.test(line)).slice(0, 4).forEach((line) => log(`  vLLM: ${line.trim()}`));
      noProblems(problems);
    }, settings.vllm.startupTimeoutSeconds * 1000 + 10 * MINUTE);
  });

  it("an agent and a block written through Letta's REST API read back", async () => {
    written = await writeLettaData(letta);
    noProblems(await readBackWithin(letta, written, MINUTE));
  }, 3 * MINUTE);

  it("database persistence across a pod deletion (a row, and Letta's agent and block)", async () => {
    const problems = await databasePersistence(context, 5 * MINUTE);
    if (written) problems.push(...(await readBackWithin(letta, written, 3 * MINUTE)));
    noProblems(problems);
  }, 10 * MINUTE);

  it("Letta's data after deleting the StatefulSet and applying dist/ again (claims retained)", async () => {
    const data = madeBy(written, 'writing through the API');
    await context.kubectl.check(['delete', 'statefulset', topology.component('database').name, '--namespace', topology.namespace, '--wait=true', '--timeout=180s']);
    await applyStack(context, dir);
    await waitForStack(context, 5 * MINUTE);
    noProblems(await readBackWithin(letta, data, 3 * MINUTE));
  }, 12 * MINUTE);

  const drained = topology.has('vllm') ? ` while an agent's stream is open on the pod being replaced, which ends it with its final events (vllm/${served})` : '';
  it(`a rolling restart of letta-server under load fails no request through ${controller}${drained}`, async () => {
    const lettaPods = topology.component('letta').selector;
    const podsBefore = (await context.kubectl.pods(lettaPods, topology.namespace)).map((pod) => pod.metadata.name);
    const agent = agents;
    const problems = topology.has('vllm') && !agent ? ['the agent check made no agent: no stream was open through the drain'] : [];
    const result = await rollingRestartUnderLoad(context.kubectl, letta, {
      namespace: topology.namespace,
      deployment: topology.component('letta').name,
      timeoutMs: 10 * MINUTE,
      log,
      alongside: agent
        ? () => streamThroughDrain(context.kubectl, agent.sdk, agent.conversation, { namespace: topology.namespace, selector: lettaPods, podsBefore, log })
        : undefined,
    });
    log(`  ${result.requests} requests during the rollout`);
    noProblems([...problems, ...result.problems]);
  }, 15 * MINUTE);

  describe.runIf(topology.has('backup'))('backups', () => {
    const backupOptions = () => ({ shell: processShell, repoRoot: ROOT, profile: PROFILE, valuesFile: run!.valuesFile, letta, written: madeBy(written, 'writing through the API') });

    it("backup and restore: a dump, a refused restore over live data, the database dropped, the restore, Letta's agent and block back", async () => {
      noProblems(await backupRoundTrip(context, { ...backupOptions(), overwrite: false }));
    }, 20 * MINUTE);
    it("an upgrade's migration waits for the pre-migration dump of the schema it changes, then migrates", async () => {
      noProblems(await preMigrationOnUpgrade(context, { ...backupOptions(), dir, objects }));
    }, 20 * MINUTE);
  });

  describe.runIf(topology.has('telemetry'))('traces', () => {
    it("the collector received Letta's traces", async () => {
      for (let i = 0; i < 5; i++) await lettaCall(letta, 'GET', '/v1/agents/?limit=1');
      let counts = new Map<string, number>();
      const found = await pollUntil(
        async () => {
          counts = spansByService(await collectorTraceFiles(processShell, cluster.cluster.controlPlaneContainer, TRACE_VOLUME));
          return [...counts.keys()].some((service) => service.startsWith('letta-server')) ? true : undefined;
        },
        { timeoutMs: 2 * MINUTE, intervalMs: 5_000 },
      );
      log(`  spans by service: ${[...counts].map(([service, n]) => `${service} ${n}`).join(', ') || 'none'}`);
      if (!found) throw new Error("no span from letta-server in the collector's file output within 2 minutes");
    }, 4 * MINUTE);

    it.runIf(topology.has('vllm'))(`the collector's file output holds an agent step's spans, its LLM request to vllm/${served} among them`, async () => {
      madeBy(agents, 'the agent check');
      let found: { step: number; llm: number; names: string[] } | undefined;
      await pollUntil(
        async () => {
          const spans = spansOf(await collectorTraceFiles(processShell, cluster.cluster.controlPlaneContainer, TRACE_VOLUME));
          const steps = spans.filter((span) => AGENT_STEP_SPAN.test(span.name));
          const traces = new Set(steps.map((span) => span.traceId));
          const llm = spans.filter((span) => traces.has(span.traceId) && LLM_REQUEST_SPAN.test(span.name));
          found = { step: steps.length, llm: llm.length, names: [...new Set([...steps, ...llm].map((span) => span.name))] };
          return llm.length > 0 ? true : undefined;
        },
        { timeoutMs: 2 * MINUTE, intervalMs: 5_000 },
      );
      log(`  agent step spans ${found?.step ?? 0}, LLM request spans in their traces ${found?.llm ?? 0}: ${found?.names.join(', ')}`);
      if (!found || found.llm === 0) throw new Error(`no LLM request span in the trace of an agent step (step spans: ${found?.step ?? 0})`);
    }, 4 * MINUTE);
  });

  it("no Secret value in any container's log", async () => {
    const scan = await secretsInLogs(context.kubectl, [topology.namespace]);
    log(`  read ${scan.linesRead} log lines of ${scan.containers} containers`);
    noProblems(scan.containers === 0 ? ['no container log could be read'] : scan.problems);
  }, 5 * MINUTE);

  // The kind profile behind an HTTPRoute on the plan's Gateway API controller; GitHub's ingress-nginx serves none.
  const gateway = run?.gatewayApiController;
  describe.runIf(gateway)(`the gateway-api variant (kind profile behind an HTTPRoute on ${gateway})`, () => {
    let variant: Awaited<ReturnType<typeof variantStack>>;
    let variantBackend: string;
    beforeAll(async () => {
      await removeStreamBackend(context.kubectl);
      const valuesFile = writeValuesOver(join(dirname(run!.valuesFile), 'values.gateway-api.yaml'), run!.baseValuesFile, GATEWAY_API_VALUES);
      variant = await variantStack(context, { shell: processShell, repoRoot: ROOT, profile: PROFILE, valuesFile });
      await applyStack(variant.context, variant.dir);
      await waitForStack(variant.context, 20 * MINUTE);
      variantBackend = await deployStreamBackend(variant.context, variant.objects);
      await waitForWorkloads(context.kubectl, E2E_NAMESPACE, { timeoutMs: 5 * MINUTE, log });
    }, 45 * MINUTE);
    afterAll(() => variant && removeStreamBackend(context.kubectl));

    it(`gateway variant: dist/ holds an HTTPRoute and no Ingress, and ${gateway} accepts the route`, async () => {
      const route = findStackEntry(variant.objects, variant.context.topology.namespace);
      noProblems(await gatewayRouteProblems(context.kubectl, variant.objects, route, variant.context.topology.namespace));
    }, 3 * MINUTE);
    it(`gateway variant: Letta answers through the Gateway (${gateway}), its port open to the data plane only`, async () => {
      noProblems(await healthThroughIngress(cluster.ingress(variant.context.settings.ingress.host), 5 * MINUTE));
    }, 6 * MINUTE);
    let gatewayStreams: ReturnType<typeof streamProblems> | undefined;
    it(`gateway variant: SSE stream through the Gateway stays open while idle ${STREAM_IDLE_SECONDS} s and is not buffered`, async () => {
      gatewayStreams = streamProblems(cluster.ingress(variantBackend));
      noProblems((await gatewayStreams).sse);
    }, 5 * MINUTE);
    it(`gateway variant: WebSocket through the Gateway echoes after ${STREAM_IDLE_SECONDS} s idle`, async () => {
      noProblems((await madeBy(gatewayStreams, 'the SSE check, which starts both streams')).webSocket);
    }, 5 * MINUTE);
  });
});
