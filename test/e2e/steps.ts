import type { LocalModel } from './local-model';
import pRetry from 'p-retry';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../../lib/config/schema';
import type { ComponentId, Topology } from '../../lib/model/topology';
import { INGRESS_NGINX_MANIFEST } from '../../tools/fixtures';
import { loadManifests } from '../../tools/render';
import { MINUTE } from '../../tools/support';
import { healthProblem, httpRequest, type HttpResponse, type IngressTarget } from './http';
import { type Kubectl, KINDS } from './kubectl';
import { type KubeObject, podSpecOf } from '../../tools/kube';
import { BACKEND_HEALTH_PATH, E2E_NAMESPACE, findStackEntry, entryHost, PYTHON_IMAGE, streamBackendObjects } from './manifests';
import { judgeProbe, networkProbeCases, type ProbeCase, probePodFor, type ProbeVerdict } from './netpol';
import { persistenceProblems } from './persistence';
import { describePod, podReady, pollUntil, waitForWorkloads, type WorkloadStatus } from './readiness';
import { check, type Shell } from './shell';
import { recordSseStream, sseProblems } from './sse';
import { webSocketEchoProblems } from './websocket';

/*
 * The steps of the e2e run, each against any cluster a Kubectl reaches: kind in the real run, a
 * bare kube-apiserver or recorded answers in tests.
 */

/** proxy-read-timeout and proxy-send-timeout of ingress-nginx when no annotation sets them. */
export const INGRESS_DEFAULT_TIMEOUT_SECONDS = 60;
/** How long the stream checks stay silent: past the default timeout with a clear margin. */
export const STREAM_IDLE_SECONDS = 75;
export const INGRESS_NGINX_NAMESPACE = 'ingress-nginx';
/** A public address that answers HTTPS: the internet side of the egress probes on GitHub. */
const INTERNET_ADDRESS = '1.1.1.1';
const PROBE_SELECTOR = 'letta-e2e/probe=true';

/** Where the run happens: what differs between GitHub's kind and a cluster without a registry. */
export interface E2eEnvironment {
  /** Namespace of the ingress controller pods. */
  readonly ingressNamespace: string;
  /** Image with python3 for the test backend and the probes. */
  readonly pythonImage: string;
  /** The internet side of the egress probes; unset: no internet probes. */
  readonly internetAddress?: string;
  /** An S3-compatible store at a public address, for the backups' s3 target; unset: that round trip is not run. */
  readonly objectStore?: ObjectStore;
  /** The model vLLM serves on the node's CPUs in the kind profile's run; unset: that run has no vLLM. */
  readonly localModel?: LocalModel;
}

/** An S3 bucket outside the cluster, and the Docker container that serves it (to look inside). */
export interface ObjectStore {
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The container serving it, and the directory that holds the bucket's objects there. */
  readonly container: string;
  readonly dataDir: string;
  /** The image that serves it (rclone's). */
  readonly image?: string;
}

export const GITHUB_KIND: E2eEnvironment = {
  ingressNamespace: INGRESS_NGINX_NAMESPACE,
  pythonImage: PYTHON_IMAGE,
  internetAddress: INTERNET_ADDRESS,
  // GitHub's runners pull upstream's CPU image and download the product's model from the hub.
  localModel: { values: {}, description: 'Qwen/Qwen3-0.6B from the Hugging Face hub, as lib/profiles/local-model.values.yaml serves it' },
};

export interface StepContext {
  readonly kubectl: Kubectl;
  readonly settings: Settings;
  readonly topology: Topology;
  readonly log: (line: string) => void;
  /** @default GITHUB_KIND */
  readonly environment?: E2eEnvironment;
  /** Workloads (`Kind/name`) that cannot become ready in this run, so never waited for. */
  readonly notWaitedFor?: readonly string[];
}

/** Waits for every workload of the stack's namespace but those the context does not wait for. */
export const waitForStack = (context: StepContext, timeoutMs: number): Promise<WorkloadStatus[]> =>
  waitForWorkloads(context.kubectl, context.topology.namespace, { timeoutMs, log: context.log, notWaitedFor: context.notWaitedFor });

/** The run's environment, GitHub's kind when the context names none. */
export const environmentOf = (context: StepContext): E2eEnvironment => context.environment ?? GITHUB_KIND;

/** `npx cdk8s synth` as a user runs it, for one profile; returns the objects written to dist/. */
export async function synthesize(shell: Shell, repoRoot: string, profile: string, valuesFile?: string): Promise<{ dir: string; objects: KubeObject[] }> {
  // No upgrade check: it only delays the run.
  await check(shell, 'npx', ['cdk8s', 'synth'], {
    cwd: repoRoot,
    env: { LETTA_PROFILE: profile, CDK8S_CHECK_UPGRADE: 'false', ...(valuesFile ? { LETTA_VALUES: valuesFile } : {}) },
    timeoutMs: 300_000,
  });
  const dir = join(repoRoot, 'dist');
  return { dir, objects: readManifestDir(dir) };
}

/** The objects of a directory's YAML files, in `kubectl apply -f DIR` order. */
export function readManifestDir(dir: string): KubeObject[] {
  return loadManifests(
    readdirSync(dir)
      .filter((file) => /\.ya?ml$/.test(file))
      .sort()
      .map((file) => join(dir, file)),
  );
}

/** Every image the synthesized objects run. */
export function imagesOf(objects: readonly KubeObject[]): string[] {
  const images = new Set<string>();
  for (const spec of objects.map(podSpecOf)) {
    for (const container of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) images.add(container.image);
  }
  return [...images].sort();
}

/**
 * Runs an apply until it goes through. Only ingress-nginx's admission webhook is waited out: it
 * answers a little after its controller reports ready. Any other failure is the manifests' fault.
 */
export async function applyWithWebhookRetry(apply: () => Promise<unknown>, { attempts = 12, delayMs = 5_000 } = {}): Promise<void> {
  await pRetry(apply, {
    retries: attempts - 1,
    minTimeout: delayMs,
    factor: 1,
    // From kubectl (a CommandError, its stderr in the message) or from the API (the server's message).
    shouldRetry: ({ error }) => /failed calling webhook "validate\.nginx\.ingress\.kubernetes\.io"/.test(error.message),
  });
}

/** Installs the vendored ingress-nginx and waits for its controller and admission jobs. */
export async function installIngressNginx(context: StepContext, timeoutMs: number): Promise<void> {
  await context.kubectl.check(['apply', '--filename', INGRESS_NGINX_MANIFEST]);
  await waitForWorkloads(context.kubectl, INGRESS_NGINX_NAMESPACE, { timeoutMs, log: context.log });
}

/** `kubectl apply -f dist/`, the user's command. */
export async function applyStack(context: StepContext, dir: string): Promise<void> {
  await applyWithWebhookRetry(() => context.kubectl.check(['apply', '--filename', dir]));
}

/** The stream backend with an entry made like the stack's (Ingress or HTTPRoute). */
export async function deployStreamBackend(context: StepContext, stackObjects: readonly KubeObject[]): Promise<string> {
  const stackEntry = findStackEntry(stackObjects, context.topology.namespace);
  const host = `e2e.${entryHost(stackEntry)}`;
  const objects = streamBackendObjects({ stackEntry, host, idleSeconds: STREAM_IDLE_SECONDS, image: environmentOf(context).pythonImage });
  await applyWithWebhookRetry(() => context.kubectl.apply(objects));
  return host;
}

export async function removeStreamBackend(kubectl: Kubectl): Promise<void> {
  await kubectl.check(['delete', 'namespace', E2E_NAMESPACE, '--ignore-not-found', '--wait=false']);
}

/** GET `path` through the ingress, retried until `problemOf` finds no problem in the answer or the time runs out. */
async function answerThroughIngress(target: IngressTarget, path: string, problemOf: (response: HttpResponse) => string | undefined, timeoutMs: number, intervalMs: number): Promise<string[]> {
  let problem = 'no answer';
  const answered = await pollUntil(
    async () => {
      try {
        problem = problemOf(await httpRequest(target, 'GET', path, 10_000)) ?? '';
      } catch (error) {
        problem = (error as Error).message;
      }
      return problem === '' ? true : undefined;
    },
    { timeoutMs, intervalMs },
  );
  return answered ? [] : [`GET http://${target.host}${path} through the ingress: ${problem}`];
}

/** Letta's health endpoint through the ingress, retried until it answers or the time runs out. */
export function healthThroughIngress(target: IngressTarget, timeoutMs: number, intervalMs = 5_000): Promise<string[]> {
  return answerThroughIngress(target, '/v1/health/', healthProblem, timeoutMs, intervalMs);
}

/** The SSE and WebSocket checks, side by side: each is mostly waiting through its silence. */
export async function streamProblems(target: IngressTarget): Promise<{ sse: string[]; webSocket: string[] }> {
  // A controller may route a new Ingress or HTTPRoute a moment after its backend is Ready: the
  // streams start once the backend answers through it.
  const unrouted = await answerThroughIngress(target, BACKEND_HEALTH_PATH, (r) => (r.status === 200 ? undefined : `status ${r.status}`), 2 * MINUTE, 2_000);
  if (unrouted.length > 0) return { sse: unrouted, webSocket: unrouted };
  const [sse, webSocket] = await Promise.all([
    // The backend's silence, its two acknowledgement waits (30 s each at most) and a margin.
    recordSseStream(target, { timeoutMs: (STREAM_IDLE_SECONDS + 90) * 1_000 }).then((record) =>
      sseProblems(record, INGRESS_DEFAULT_TIMEOUT_SECONDS),
    ),
    webSocketEchoProblems(target, { idleMs: STREAM_IDLE_SECONDS * 1_000, stepTimeoutMs: 30_000 }),
  ]);
  return { sse, webSocket };
}

export function probeCases(context: StepContext, podAddresses: ReadonlyMap<ComponentId, string>): ProbeCase[] {
  const environment = environmentOf(context);
  return networkProbeCases(context.topology, {
    outsideNamespace: E2E_NAMESPACE,
    ingressNamespace: environment.ingressNamespace,
    internetAddress: environment.internetAddress,
    podAddresses,
  });
}

/** The pod IP of one ready pod of each component. */
export async function componentPodAddresses(context: StepContext): Promise<Map<ComponentId, string>> {
  const addresses = new Map<ComponentId, string>();
  // Only what serves a port is a probe target; the backup's Jobs serve nothing.
  for (const component of context.topology.components.filter((c) => c.ports.length > 0)) {
    const pod = (await context.kubectl.pods(component.selector, context.topology.namespace)).find((p: KubeObject) => p.status?.podIP && podReady(p));
    if (!pod) throw new Error(`no ready pod of ${component.name} to probe`);
    addresses.set(component.id, pod.status.podIP);
  }
  return addresses;
}

/** Owner of the probe pods in each namespace (see runNetworkProbes). */
const PROBE_OWNER = 'letta-e2e-probes';

/**
 * Starts one probe pod per case, waits until all have finished and judges their logs. The pods
 * are deleted afterwards, also when the wait runs out.
 *
 * A probe carries a component's labels, which are also its workload's selector; a DaemonSet
 * adopts such an orphan pod and deletes it as surplus. So every probe names a ConfigMap of its
 * namespace as its controller, and no workload claims a pod that has one.
 */
export async function runNetworkProbes(context: StepContext, cases: readonly ProbeCase[], timeoutMs: number): Promise<ProbeVerdict[]> {
  const { kubectl } = context;
  const namespaces = [...new Set(cases.map((c) => c.namespace))];
  try {
    await kubectl.apply(
      namespaces.map((namespace) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: PROBE_OWNER, namespace, labels: { 'letta-e2e/probe': 'true' } } })),
    );
    const owners = new Map<string, string>();
    for (const namespace of namespaces) owners.set(namespace, (await kubectl.get(KINDS.configMap, PROBE_OWNER, namespace))?.metadata.uid);
    await kubectl.apply(
      cases.map((probe) => {
        const pod = probePodFor(probe, environmentOf(context).pythonImage);
        pod.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: PROBE_OWNER, uid: owners.get(probe.namespace), controller: true }];
        return pod;
      }),
    );
    let pods: KubeObject[] = [];
    const finished = (pod: KubeObject) => ['Succeeded', 'Failed'].includes(pod.status?.phase);
    await pollUntil(
      async () => {
        pods = await kubectl.list(KINDS.pod, undefined, PROBE_SELECTOR);
        return cases.every((c) => pods.some((pod) => pod.metadata.name === c.name && pod.metadata.namespace === c.namespace && finished(pod)))
          ? true
          : undefined;
      },
      { timeoutMs, intervalMs: 3_000 },
    );
    const verdicts = new Map<string, ProbeVerdict>();
    // Allowed cases first: a denied case's rejection counts only if its control connected.
    for (const probe of [...cases].sort((a, b) => Number(a.expect !== 'connects') - Number(b.expect !== 'connects'))) {
      const pod = pods.find((p) => p.metadata.name === probe.name && p.metadata.namespace === probe.namespace);
      if (!pod || !finished(pod)) {
        const state = pod ? describePod(pod) : 'not created';
        verdicts.set(probe.name, { probe, ok: false, message: `${probe.namespace}/${probe.name} did not finish within ${timeoutMs} ms: ${state}` });
        continue;
      }
      const log = await kubectl.run(['logs', probe.name, '--namespace', probe.namespace]);
      const controlConnected = probe.control !== undefined && verdicts.get(probe.control)?.ok === true;
      verdicts.set(probe.name, judgeProbe(probe, log.code === 0 ? log.stdout : log.stderr, controlConnected));
    }
    return cases.map((probe) => verdicts.get(probe.name)!);
  } finally {
    await kubectl.run(['delete', 'pods,configmaps', '--all-namespaces', '--selector', PROBE_SELECTOR, '--wait=false']);
  }
}

export function databasePersistence(context: StepContext, timeoutMs: number): Promise<string[]> {
  return persistenceProblems(context.kubectl, context.settings, context.topology, {
    timeoutMs,
    log: context.log,
  });
}
