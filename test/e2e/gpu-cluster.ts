import { dump, load } from 'js-yaml';
import { type Kubectl, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { pollUntil } from './readiness';

/*
 * The gpu profile's cluster without a GPU: kind-config.yaml's control plane plus a plain worker
 * and a worker made to look like a node of an NVIDIA GPU pool. What marks it is fixed here, as
 * the GPU Operator does it, and never read from the stack's settings: a stack that selects the
 * wrong label or tolerates the wrong taint must miss this node.
 */

/** The GPU Operator's node label (gpu-feature-discovery). */
const GPU_NODE_LABEL = { key: 'nvidia.com/gpu.present', value: 'true' } as const;
/** The taint GPU pools commonly carry, so that only pods that ask for GPUs land there. */
const GPU_NODE_TAINT = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' } as const;
/** The extended resource the device plugin advertises, and how many the simulated node has. */
export const GPU_RESOURCE = 'nvidia.com/gpu';
const GPU_COUNT = 1;
/**
 * The control plane's role label, and the key of the taint kind leaves on it once a cluster has
 * workers (it untaints single-node clusters only).
 */
const CONTROL_PLANE_ROLE = 'node-role.kubernetes.io/control-plane';

/** A kind node's role, as kind-config.yaml names them. */
interface KindNode {
  role: string;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * The user's kind configuration with its one control plane kept as it is (the ingress-ready node
 * with the host ports) and two workers added: a plain one, so that two Letta replicas have two
 * nodes to spread over, and the GPU one, labelled as GPU feature discovery labels it.
 */
export function gpuClusterConfig(userConfigText: string): string {
  const config = load(userConfigText) as { nodes?: KindNode[] };
  const nodes = config?.nodes ?? [];
  if (nodes.length !== 1 || nodes[0].role !== 'control-plane') {
    throw new Error('kind-config.yaml: the gpu profile\'s cluster adds its workers to a configuration of one control-plane node');
  }
  config.nodes = [...nodes, { role: 'worker' }, { role: 'worker', labels: { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value } }];
  return dump(config);
}

/** The cluster's nodes by what they are for. */
export interface GpuClusterNodes {
  readonly controlPlane: string;
  readonly plainWorker: string;
  readonly gpuWorker: string;
}

/** Which node is which, from their labels (kind names workers in creation order). */
function classifyNodes(nodes: readonly KubeObject[]): GpuClusterNodes {
  const labelled = (node: KubeObject, key: string) => node.metadata?.labels?.[key] !== undefined;
  const controlPlanes = nodes.filter((n) => labelled(n, CONTROL_PLANE_ROLE));
  const gpus = nodes.filter((n) => n.metadata?.labels?.[GPU_NODE_LABEL.key] === GPU_NODE_LABEL.value);
  const plain = nodes.filter((n) => !controlPlanes.includes(n) && !gpus.includes(n));
  if (controlPlanes.length !== 1 || gpus.length !== 1 || plain.length !== 1) {
    throw new Error(
      `expected one control plane, one GPU worker and one plain worker; found ${nodes.map((n) => n.metadata?.name).join(', ') || 'no nodes'}`,
    );
  }
  return { controlPlane: controlPlanes[0].metadata.name, plainWorker: plain[0].metadata.name, gpuWorker: gpus[0].metadata.name };
}

/**
 * What the GPU Operator would do to the GPU worker, and what kind does for a single-node cluster:
 * the GPU node tainted and advertising `nvidia.com/gpu` in its status (the device plugin's job;
 * the kubelet derives allocatable from it), the control plane untainted so that it takes
 * workloads beside the plain worker.
 */
export async function simulateGpuNode(kubectl: Kubectl): Promise<GpuClusterNodes> {
  const nodes = classifyNodes(await kubectl.list(KINDS.node, undefined));
  await kubectl.check(['taint', 'nodes', nodes.controlPlane, `${CONTROL_PLANE_ROLE}:NoSchedule-`]);
  await kubectl.check(['taint', 'nodes', nodes.gpuWorker, `${GPU_NODE_TAINT.key}=${GPU_NODE_TAINT.value}:${GPU_NODE_TAINT.effect}`, '--overwrite']);
  const path = `/status/capacity/${GPU_RESOURCE.replace('/', '~1')}`;
  await kubectl.check(['patch', 'node', nodes.gpuWorker, '--subresource=status', '--type=json', '--patch', JSON.stringify([{ op: 'add', path, value: String(GPU_COUNT) }])]);
  const allocatable = await pollUntil(
    async () => (await kubectl.get(KINDS.node, nodes.gpuWorker))?.status?.allocatable?.[GPU_RESOURCE],
    { timeoutMs: 2 * 60_000, intervalMs: 2_000 },
  );
  if (allocatable !== String(GPU_COUNT)) throw new Error(`${nodes.gpuWorker}: the kubelet did not make ${GPU_RESOURCE} allocatable (${allocatable ?? 'absent'})`);
  return nodes;
}

/** Whether a pod spec's tolerations let it onto the GPU node (as the scheduler matches them). */
export function toleratesGpuTaint(podSpec: KubeObject | undefined): boolean {
  return (podSpec?.tolerations ?? []).some(
    (t: KubeObject) =>
      (t.effect === undefined || t.effect === GPU_NODE_TAINT.effect) &&
      (t.key === undefined ? t.operator === 'Exists' : t.key === GPU_NODE_TAINT.key && (t.operator === 'Exists' || t.value === GPU_NODE_TAINT.value)),
  );
}
