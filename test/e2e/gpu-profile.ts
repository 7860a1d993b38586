import type { Settings } from '../../lib/config/schema';
import type { Topology } from '../../lib/model/topology';
import type { KubeObject } from '../../tools/kube';
import { KINDS } from './kubectl';
import { MINUTE } from '../../tools/support';
import { lettaCall, type LettaClient } from './letta-api';
import { openAiStandIn } from './manifests';
import { environmentOf, type ObjectStore, type StepContext } from './steps';

/*
 * The gpu profile on the three-node cluster of gpu-cluster.ts, installed by running the README's
 * "Run it on a GPU cluster" commands as written. vLLM's image cannot be had without a registry,
 * so its pod is scheduled and mounts its volumes but its container waits for the image; what
 * Letta asks of vLLM is answered by a stand-in (manifests.ts) placed where vLLM would run.
 */

/** The README section whose commands install the stack. */
export const README_GPU_SECTION = 'Run it on a GPU cluster';
/** The README's last command; the run starts its stand-in for vLLM just before it. */
export const APPLY_ALL = 'kubectl apply -f dist/';
/** The Secret of the bucket's keys, created as the README's backup section says. */
export const S3_SECRET = 'letta-backup-s3';
export const S3_PREFIX = 'e2e/';
const STAND_IN_NAME = 'vllm-stand-in';
export const IMAGE_PULL_WAITS = ['ErrImagePull', 'ImagePullBackOff'];

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

/** The stand-in's pod: vLLM's labels, port, served model and placement. */
export function standInPod(settings: Settings, topology: Topology, image?: string): KubeObject {
  return openAiStandIn({
    name: STAND_IN_NAME,
    namespace: topology.namespace,
    selector: topology.component('vllm').selector,
    port: topology.address('vllm', 'http').port,
    model: settings.vllm.servedModelName ?? settings.vllm.model,
    maxModelLen: settings.vllm.maxModelLen,
    nodeSelector: settings.vllm.nodeSelector,
    tolerations: settings.vllm.tolerations,
    image,
  });
}

/** The stand-in, on the node vLLM's settings select, Ready before Letta starts and asks it for its models. */
export async function startStandIn(context: StepContext): Promise<void> {
  const { kubectl, settings, topology } = context;
  const pod = standInPod(settings, topology, environmentOf(context).pythonImage);
  context.log(`  (the run's own step) a stand-in for vLLM's OpenAI API, pod ${STAND_IN_NAME}, before Letta starts`);
  await kubectl.apply([pod]);
  await kubectl.check(['wait', '--for=condition=Ready', `pod/${STAND_IN_NAME}`, '--namespace', topology.namespace, '--timeout=180s'], { timeoutMs: 4 * MINUTE });
}

/**
 * From inside a Letta pod, VLLM_API_BASE's host is the vLLM Service's address; Letta's model list
 * holds the stand-in's model at that endpoint, and the stand-in logged a call from every replica.
 */
export async function vllmReachedThroughService(context: StepContext, client: LettaClient): Promise<string[]> {
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
