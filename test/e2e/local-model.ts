import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { mergeValues } from '../../lib/config/load';
import type { Kubectl } from './kubectl';
import { type KubeObject, podSpecOf } from '../../tools/kube';
import type { Shell } from './shell';
import { labelSelector } from './kubectl';
import { type StepContext } from './steps';
import { podReady, pollUntil } from './readiness';
import { MINUTE } from '../../tools/support';

/*
 * vLLM on the node's CPUs in the kind run: the values that turn it on (the product's own
 * lib/profiles/local-model.values.yaml, with the run's model over it), the model cache claim filled
 * the way README "A local model on CPUs" fills it for a cluster that cannot reach the hub, and
 * what the running server shows of the synthesized spec.
 */

/** The product's values for a local model on CPUs. */
export const LOCAL_MODEL_VALUES = join(__dirname, '..', '..', 'lib', 'profiles', 'local-model.values.yaml');
/** The pod that holds the claim while the model is copied in (README, "A local model on CPUs"). */
const LOADER_POD = 'vllm-model-loader';

/** The model vLLM serves in a run, and where its weights come from. */
export interface LocalModel {
  /** Values over lib/profiles/local-model.values.yaml (model, offline, resources for the machine). */
  readonly values: unknown;
  /** A gzipped tar archive whose one top folder is a Hugging Face home (huggingface/hub/models--ORG--NAME/...) holding the model; unset: vLLM downloads it. */
  readonly cacheArchive?: string;
  /** What the model is, for the report. */
  readonly description: string;
}

/** The run's values for vLLM: the product's local-model values with the run's model over them. */
export function localModelValues(model: LocalModel): unknown {
  return mergeValues(load(readFileSync(LOCAL_MODEL_VALUES, 'utf8')), model.values);
}

/** The synthesized vLLM Deployment and its container. */
export function vllmSpec(objects: readonly KubeObject[], name: string): { deployment: KubeObject; container: KubeObject } {
  const deployment = objects.find((object) => object.kind === 'Deployment' && object.metadata.name === name);
  if (!deployment) throw new Error(`dist/ holds no Deployment ${name}`);
  return { deployment, container: podSpecOf(deployment)!.containers[0] };
}

/**
 * Copies the model into vLLM's cache claim as README "A local model on CPUs" does: vLLM scaled to
 * zero, a pod of vLLM's image, uid and security context holding the claim, `tar` through
 * `kubectl exec`, the pod deleted, vLLM scaled back to one.
 */
export async function fillModelCache(context: StepContext, objects: readonly KubeObject[], archive: string): Promise<void> {
  const { kubectl, topology } = context;
  const namespace = topology.namespace;
  const vllm = topology.component('vllm');
  const { deployment, container } = vllmSpec(objects, vllm.name);
  const pod = podSpecOf(deployment)!;
  const hfHome = container.env.find((variable: KubeObject) => variable.name === 'HF_HOME')?.value as string | undefined;
  const cacheMount = container.volumeMounts.find((mount: KubeObject) => hfHome?.startsWith(`${mount.mountPath}/`));
  if (!hfHome || !cacheMount) throw new Error(`the ${vllm.name} container keeps HF_HOME on no volume`);
  const claimVolume = pod.volumes.find((volume: KubeObject) => volume.name === cacheMount.name);

  await kubectl.check(['scale', `deployment/${vllm.name}`, '--namespace', namespace, '--replicas=0']);
  await kubectl.check(['wait', '--for=delete', 'pod', '--namespace', namespace, '--selector', labelSelector(vllm.selector), '--timeout=180s'], { timeoutMs: 4 * MINUTE });
  await kubectl.apply([
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: LOADER_POD, namespace },
      spec: {
        automountServiceAccountToken: false,
        securityContext: pod.securityContext,
        containers: [
          {
            name: 'loader',
            image: container.image,
            imagePullPolicy: container.imagePullPolicy,
            command: ['sleep', '3600'],
            securityContext: container.securityContext,
            resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } },
            volumeMounts: [{ name: cacheMount.name, mountPath: cacheMount.mountPath }],
          },
        ],
        volumes: [claimVolume],
      },
    },
  ]);
  try {
    await kubectl.check(['wait', '--for=condition=Ready', `pod/${LOADER_POD}`, '--namespace', namespace, '--timeout=300s'], { timeoutMs: 6 * MINUTE });
    await kubectl.check(['exec', '--stdin', '--namespace', namespace, LOADER_POD, '--', 'sh', '-c', `mkdir -p "${hfHome}" && tar -x -z --strip-components=1 -C "${hfHome}"`], {
      input: readFileSync(archive),
      timeoutMs: 10 * MINUTE,
    });
  } finally {
    await kubectl.run(['delete', 'pod', LOADER_POD, '--namespace', namespace, '--wait=true', '--timeout=120s'], { timeoutMs: 3 * MINUTE });
  }
  await kubectl.check(['scale', `deployment/${vllm.name}`, '--namespace', namespace, '--replicas=1']);
}

/** Seconds from a container's start to its pod's readiness, from the pod's own status. */
export function startupSeconds(pod: KubeObject, container: string): number | undefined {
  const started = pod.status?.containerStatuses?.find((status: KubeObject) => status.name === container)?.state?.running?.startedAt;
  const ready = pod.status?.conditions?.find((condition: KubeObject) => condition.type === 'Ready' && condition.status === 'True')?.lastTransitionTime;
  return started && ready ? (Date.parse(ready) - Date.parse(started)) / 1000 : undefined;
}

/** The one Ready pod of `selector`, waited for. */
export async function readyPod(kubectl: Kubectl, namespace: string, selector: Readonly<Record<string, string>>, timeoutMs: number): Promise<KubeObject | undefined> {
  return pollUntil(async () => (await kubectl.pods(selector, namespace)).find((pod) => !pod.metadata.deletionTimestamp && podReady(pod)), { timeoutMs, intervalMs: 5_000 });
}

/** What of the synthesized container differs in the running pod (image, command, arguments, env, security context). */
export function specDrift(synthesized: KubeObject, running: KubeObject): string[] {
  const problems: string[] = [];
  for (const field of ['image', 'command', 'args', 'securityContext', 'resources']) {
    if (JSON.stringify(normalized(synthesized[field])) !== JSON.stringify(normalized(running[field]))) {
      problems.push(`the running container's ${field} is ${JSON.stringify(running[field])}, dist/ says ${JSON.stringify(synthesized[field])}`);
    }
  }
  const names = (container: KubeObject) => (container.env ?? []).map((variable: KubeObject) => variable.name).join(',');
  if (names(synthesized) !== names(running)) problems.push(`the running container's env is ${names(running)}, dist/ says ${names(synthesized)}`);
  return problems;
}

/** Quantities as the API server writes them back ("2000m" becomes "2"): compared by value. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([key, item]) => [key, normalized(item)]));
  }
  if (typeof value === 'string' && /^[0-9]+m$/.test(value)) return String(Number(value.slice(0, -1)) / 1000);
  if (typeof value === 'string' && /^[0-9]+Mi$/.test(value) && Number(value.slice(0, -2)) % 1024 === 0) return `${Number(value.slice(0, -2)) / 1024}Gi`;
  return value;
}

/** A container's memory working set as the kubelet counts it (crictl on the node), in bytes. */
export async function workingSetBytes(shell: Shell, nodeContainer: string, pod: string, container: string): Promise<number | undefined> {
  const result = await shell.run('docker', ['exec', nodeContainer, 'crictl', 'stats', '--output', 'json'], { timeoutMs: MINUTE });
  if (result.code !== 0) return undefined;
  const stats = (JSON.parse(result.stdout) as { stats?: KubeObject[] }).stats ?? [];
  const entry = stats.find(
    (stat) => stat.attributes?.labels?.['io.kubernetes.pod.name'] === pod && stat.attributes?.metadata?.name === container,
  );
  const value = entry?.memory?.workingSetBytes?.value;
  return value === undefined ? undefined : Number(value);
}
