import type { Kubectl, KubeObject } from './kubectl';
import { type Clock, pollUntil, realClock } from './readiness';

/*
 * kube-router (the local cluster's CNI, test/tools/local-cluster/manifests/default-cni.yaml)
 * masquerades pod traffic to any address outside the ipset of pod subnets. Its v2.1.0 policy
 * controller writes back every ipset it saw at its last save, that set included, so an instance
 * started before the other nodes joined keeps restoring the set it first saw: its own subnet only.
 * Pods on that node then reach pods on the others as the node's address, and NetworkPolicies
 * refuse them (seen: a Letta replica's wait-for-database refused by the database's policy for
 * 20 minutes). A restarted instance starts with every node's subnet and keeps it.
 */

const MINUTE = 60_000;
export const KUBE_ROUTER = {
  namespace: 'kube-system',
  daemonSet: 'kube-router',
  labels: { 'k8s-app': 'kube-router' },
  container: 'kube-router',
  podSubnets: 'kube-router-pod-subnets',
};

/** The pod subnets of every node. */
export function nodePodSubnets(nodes: readonly KubeObject[]): string[] {
  return nodes.flatMap((node) => (node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : [])) as string[]);
}

/** The members of an ipset as `ipset save NAME` prints them. */
export function ipsetMembers(saved: string, name: string): string[] {
  return saved
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === 'add' && words[1] === name)
    .map((words) => words[2]);
}

export interface SettleOptions {
  /** @default the real clock */
  readonly clock?: Clock;
  readonly log?: (line: string) => void;
}

/** For each kube-router pod, the pod subnets its node's set lacks. */
async function missingSubnets(kubectl: Kubectl): Promise<Array<{ pod: string; node: string; missing: string[] }>> {
  const subnets = nodePodSubnets(await kubectl.list('nodes', 'default'));
  const routers = await kubectl.pods(KUBE_ROUTER.labels, KUBE_ROUTER.namespace);
  if (routers.length === 0) throw new Error(`no kube-router pod in ${KUBE_ROUTER.namespace}`);
  const gaps = [];
  for (const pod of routers) {
    const saved = await kubectl.run(['exec', pod.metadata.name, '--namespace', KUBE_ROUTER.namespace, '--container', KUBE_ROUTER.container, '--', 'ipset', 'save', KUBE_ROUTER.podSubnets]);
    const members = saved.code === 0 ? ipsetMembers(saved.stdout, KUBE_ROUTER.podSubnets) : [];
    const missing = subnets.filter((subnet) => !members.includes(subnet));
    if (missing.length > 0) gaps.push({ pod: pod.metadata.name as string, node: pod.spec.nodeName as string, missing });
  }
  return gaps;
}

/**
 * Makes every node's kube-router know every node's pod subnet: the instances whose set lacks one
 * are restarted, and the sets are looked at until complete. Throws naming the node and the subnets
 * when a restarted instance still lacks them.
 */
export async function settlePodNetwork(kubectl: Kubectl, options: SettleOptions = {}): Promise<void> {
  const clock = options.clock ?? realClock;
  const stale = await missingSubnets(kubectl);
  if (stale.length === 0) return;
  for (const { pod, node, missing } of stale) {
    options.log?.(`kube-router on ${node} lacks the pod subnets ${missing.join(', ')}: restarting ${pod}`);
    await kubectl.check(['delete', 'pod', pod, '--namespace', KUBE_ROUTER.namespace, '--wait=true', '--timeout=120s'], { timeoutMs: 3 * MINUTE });
  }
  await kubectl.check(['rollout', 'status', `daemonset/${KUBE_ROUTER.daemonSet}`, '--namespace', KUBE_ROUTER.namespace, '--timeout=180s'], { timeoutMs: 4 * MINUTE });
  let left = stale;
  const settled = await pollUntil(
    async () => {
      left = await missingSubnets(kubectl);
      return left.length === 0 ? true : undefined;
    },
    { timeoutMs: 3 * MINUTE, intervalMs: 5_000, clock },
  );
  if (!settled) {
    throw new Error(`kube-router still lacks pod subnets after a restart: ${left.map((gap) => `${gap.node} lacks ${gap.missing.join(', ')}`).join('; ')}`);
  }
}
