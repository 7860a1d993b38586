import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { type Kubectl, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { pollUntil } from './readiness';
import { MINUTE } from '../../tools/support';

/*
 * kube-router (the local cluster's CNI, builds/local-cluster/manifests/default-cni.yaml)
 * masquerades pod traffic to any address outside the ipset of pod subnets. Its v2.1.0 policy
 * controller writes back every ipset it saw at its last save, that set included, so an instance
 * started before the other nodes joined keeps restoring the set it first saw: its own subnet only.
 * Pods on that node then reach pods on the others as the node's address, and NetworkPolicies
 * refuse them (seen: a Letta replica's wait-for-database refused by the database's policy for
 * 20 minutes). A restarted instance starts with every node's subnet and keeps it.
 */

/** The manifest that deploys kube-router into the node image (kind's default CNI slot). */
const CNI_MANIFEST = join(__dirname, '..', '..', 'builds', 'local-cluster', 'manifests', 'default-cni.yaml');

/** kube-router's DaemonSet as the manifest names it, and the ipset of pod subnets it keeps. */
const KUBE_ROUTER = (() => {
  const daemonSet = (loadAll(readFileSync(CNI_MANIFEST, 'utf8')) as KubeObject[]).find((object) => object?.kind === 'DaemonSet');
  if (!daemonSet) throw new Error(`${CNI_MANIFEST} holds no DaemonSet`);
  return {
    namespace: daemonSet.metadata.namespace as string,
    daemonSet: daemonSet.metadata.name as string,
    labels: daemonSet.spec.selector.matchLabels as Record<string, string>,
    container: daemonSet.spec.template.spec.containers[0].name as string,
    podSubnets: 'kube-router-pod-subnets',
  };
})();

/** The pod subnets of every node. */
function nodePodSubnets(nodes: readonly KubeObject[]): string[] {
  return nodes.flatMap((node) => (node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : [])) as string[]);
}

/** The members of an ipset as `ipset save NAME` prints them. */
function ipsetMembers(saved: string, name: string): string[] {
  return saved
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === 'add' && words[1] === name)
    .map((words) => words[2]);
}

export interface SettleOptions {
  /** How long, and how often, to look at the sets. @default 3 minutes, every 5 s */
  readonly look?: { readonly timeoutMs: number; readonly intervalMs: number };
  readonly log?: (line: string) => void;
}

/** One kube-router instance: its pod, its node, and the pod subnets its node's set lacks. */
interface RouterSubnets {
  readonly pod: string;
  readonly node: string;
  /** Whether the set holds the node's own subnet: the instance has begun writing it. */
  readonly begun: boolean;
  readonly missing: readonly string[];
}

async function routerSubnets(kubectl: Kubectl): Promise<RouterSubnets[]> {
  const nodes = await kubectl.list(KINDS.node, undefined);
  const subnets = nodePodSubnets(nodes);
  const routers = await kubectl.pods(KUBE_ROUTER.labels, KUBE_ROUTER.namespace);
  if (routers.length === 0) throw new Error(`no kube-router pod in ${KUBE_ROUTER.namespace}`);
  const found: RouterSubnets[] = [];
  for (const pod of routers) {
    const node = pod.spec.nodeName as string;
    const saved = await kubectl.run(['exec', pod.metadata.name, '--namespace', KUBE_ROUTER.namespace, '--container', KUBE_ROUTER.container, '--', 'ipset', 'save', KUBE_ROUTER.podSubnets]);
    const members = saved.code === 0 ? ipsetMembers(saved.stdout, KUBE_ROUTER.podSubnets) : [];
    const own = nodePodSubnets(nodes.filter((n) => n.metadata.name === node));
    found.push({ pod: pod.metadata.name as string, node, begun: own.length > 0 && own.every((subnet) => members.includes(subnet)), missing: subnets.filter((subnet) => !members.includes(subnet)) });
  }
  return found;
}

const LOOK = { timeoutMs: 3 * MINUTE, intervalMs: 5_000 };

/**
 * Makes every node's kube-router know every node's pod subnet: once each instance has begun, those
 * whose set lacks a subnet are restarted, and the sets are looked at until complete. Throws naming
 * the node and the subnets when an instance never begins or still lacks them after its restart.
 */
export async function settlePodNetwork(kubectl: Kubectl, options: SettleOptions = {}): Promise<void> {
  const look = options.look ?? LOOK;
  const rolledOut = () =>
    kubectl.check(['rollout', 'status', `daemonset/${KUBE_ROUTER.daemonSet}`, '--namespace', KUBE_ROUTER.namespace, '--timeout=180s'], { timeoutMs: 4 * MINUTE });
  let last: RouterSubnets[] = [];
  const lookUntil = (done: (routers: RouterSubnets[]) => boolean) =>
    pollUntil(
      async () => {
        last = await routerSubnets(kubectl);
        return done(last) ? last : undefined;
      },
      look,
    );
  const lacking = (routers: RouterSubnets[]) => routers.map((r) => `${r.node} lacks ${r.missing.join(', ')}`).join('; ');

  await rolledOut();
  const begun = await lookUntil((routers) => routers.every((r) => r.begun));
  if (!begun) throw new Error(`kube-router has not written its own pod subnet in ${look.timeoutMs / 1000} s: ${lacking(last.filter((r) => !r.begun))}`);
  const stale = begun.filter((r) => r.missing.length > 0);
  if (stale.length === 0) return;
  for (const { pod, node, missing } of stale) {
    options.log?.(`kube-router on ${node} lacks the pod subnets ${missing.join(', ')}: restarting ${pod}`);
    await kubectl.check(['delete', 'pod', pod, '--namespace', KUBE_ROUTER.namespace, '--wait=true', '--timeout=120s'], { timeoutMs: 3 * MINUTE });
  }
  await rolledOut();
  if (!(await lookUntil((routers) => routers.every((r) => r.missing.length === 0)))) {
    throw new Error(`kube-router still lacks pod subnets after a restart: ${lacking(last.filter((r) => r.missing.length > 0))}`);
  }
}
