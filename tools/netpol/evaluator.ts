import { AddressRange, overlapsBlock, parseAddress, parseCidr } from './ip';
import { ALL_PORTS, includes, intersect, isEmpty, MAX_PORT, MIN_PORT, NO_PORTS, portSet, PortSet, Protocol, PROTOCOLS, union } from './ports';
import { compileSelector, LabelPredicate, Labels } from './selectors';
import { ContainerPort, namespaceOf, Workload, workloadsFrom } from './workloads';
import type { KubeObject } from '../kube';

/*
 * Which peer may open which port on which other peer, computed from manifests alone with the
 * semantics of networking.k8s.io/v1 NetworkPolicy. Port sets are exact (ranges, not samples), so a
 * rule that allows "all ports" or a wide endPort range shows as such.
 */

export { workloadsFrom };

/** Pods of a workload (or any pod), or an address outside the cluster's pods. */
export type Peer =
  | {
      readonly kind: 'pod';
      readonly namespace: string;
      readonly labels: Labels;
      readonly ports: readonly ContainerPort[];
      /** The pod's address; without it the pod may have any address of the pod CIDR. */
      readonly ip?: string;
    }
  | { readonly kind: 'ip'; readonly ip: string };
export type PodPeer = Extract<Peer, { kind: 'pod' }>;

export interface EvaluatorOptions {
  /**
   * The addresses pods get. ipBlock rules also match pods in most CNIs, so a pod without an `ip`
   * matches an ipBlock when the block (minus its exceptions) covers any address of this range.
   * `null`: ipBlocks never match pods, the model of analyzers that treat ipBlocks as external only.
   * @default kind's pod subnet, "10.244.0.0/16"
   */
  readonly podCidr?: string | null;
}

/** One direction's verdict: the ports its policies allow, and which policies ("namespace/name") admit the peer. */
type DirectionVerdict = { readonly ports: PortSet; readonly allowedBy: readonly string[] };

/** The ports a rule opens from `other` to the server `dst`: none unless it admits `other`. */
type Rule = (other: Peer, dst: Peer) => PortSet;

interface Policy {
  readonly id: string;
  readonly namespace: string;
  readonly selects: LabelPredicate;
  /** Undefined when the policy does not apply to this direction (policyTypes). */
  readonly ingress?: readonly Rule[];
  readonly egress?: readonly Rule[];
}

/** What a peer matcher needs besides the rule: the namespaces' labels and the pods' addresses. */
interface Cluster {
  readonly labelsOfNamespace: (namespace: string) => Labels;
  readonly podRange: AddressRange | undefined;
}

export class NetworkPolicyEvaluator {
  private readonly policies: readonly Policy[];

  constructor(objects: readonly KubeObject[], { podCidr = '10.244.0.0/16' }: EvaluatorOptions = {}) {
    // The API server labels every namespace with its name; a namespace without an object has only that label.
    const namespaceLabels = new Map<string, Labels>(
      objects.filter((object) => object.kind === 'Namespace').map(({ metadata }) => [metadata.name, { ...metadata.labels, [NAMESPACE_NAME_LABEL]: metadata.name }]),
    );
    const cluster: Cluster = {
      labelsOfNamespace: (namespace) => namespaceLabels.get(namespace) ?? { [NAMESPACE_NAME_LABEL]: namespace },
      podRange: podCidr === null ? undefined : parseCidr(podCidr),
    };
    this.policies = objects.filter((object) => object.kind === 'NetworkPolicy').map((object) => compilePolicy(object, cluster));
  }

  /** Whether `src` may open `port` on `dst`. */
  allowed(src: Peer, dst: Peer, port: number, protocol: Protocol = 'TCP'): boolean {
    return includes(this.allowedPorts(src, dst), protocol, port);
  }

  /** Every port `src` may open on `dst`. */
  allowedPorts(src: Peer, dst: Peer): PortSet {
    return this.explain(src, dst).ports;
  }

  /** The client's egress towards the server, the server's ingress from the client, and what both allow. */
  explain(src: Peer, dst: Peer): { egress: DirectionVerdict; ingress: DirectionVerdict; ports: PortSet } {
    const egress = src.kind === 'pod' ? this.verdict('egress', src, dst, dst) : UNRESTRICTED;
    const ingress = dst.kind === 'pod' ? this.verdict('ingress', dst, src, dst) : UNRESTRICTED;
    return { egress, ingress, ports: intersect(egress.ports, ingress.ports) };
  }

  /** What the policies of `direction` selecting `pod` allow between it and `other`; unrestricted when none selects it. */
  private verdict(direction: 'ingress' | 'egress', pod: PodPeer, other: Peer, dst: Peer): DirectionVerdict {
    const selecting = this.policies.filter((policy) => policy[direction] !== undefined && policy.namespace === pod.namespace && policy.selects(pod.labels));
    if (selecting.length === 0) return UNRESTRICTED;
    let ports = NO_PORTS;
    const allowedBy: string[] = [];
    for (const policy of selecting) {
      const admitted = policy[direction]!.reduce((sum, rule) => union(sum, rule(other, dst)), NO_PORTS);
      if (!isEmpty(admitted)) allowedBy.push(policy.id);
      ports = union(ports, admitted);
    }
    return { ports, allowedBy };
  }
}

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
const UNRESTRICTED: DirectionVerdict = { ports: ALL_PORTS, allowedBy: [] };

function compilePolicy(object: KubeObject, cluster: Cluster): Policy {
  const namespace = namespaceOf(object);
  const id = `${namespace}/${object.metadata.name}`;
  if (object.apiVersion !== 'networking.k8s.io/v1') throw new Error(`NetworkPolicy ${id}: unsupported apiVersion ${object.apiVersion}`);
  const spec = object.spec ?? {};
  // The API server's defaulting: no policyTypes means Ingress, plus Egress when egress rules exist.
  const types: readonly string[] =
    spec.policyTypes?.length > 0 ? spec.policyTypes : spec.egress?.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  const unknown = types.find((type) => type !== 'Ingress' && type !== 'Egress');
  if (unknown !== undefined) throw new Error(`NetworkPolicy ${id}: unknown policy type "${unknown}"`);
  const rules = (key: 'ingress' | 'egress', peersKey: 'from' | 'to'): Rule[] =>
    (spec[key] ?? []).map((rule: any, index: number): Rule => {
      const where = `NetworkPolicy ${id} ${key}[${index}]`;
      // An absent or empty from/to admits every peer; absent or empty ports open every port.
      const peers: Array<(other: Peer) => boolean> = (rule?.[peersKey] ?? []).map((peer: any, i: number) => compilePeer(peer, `${where}.${peersKey}[${i}]`, namespace, cluster));
      const ports: Array<(dst: Peer) => PortSet> = (rule?.ports ?? []).map((port: any, i: number) => compilePort(port, `${where}.ports[${i}]`));
      return (other, dst) => {
        if (peers.length > 0 && !peers.some((admits) => admits(other))) return NO_PORTS;
        return ports.length === 0 ? ALL_PORTS : ports.reduce((sum, portsOf) => union(sum, portsOf(dst)), NO_PORTS);
      };
    });
  return {
    id,
    namespace,
    selects: compileSelector(spec.podSelector ?? {}, `NetworkPolicy ${id} podSelector`),
    ...(types.includes('Ingress') ? { ingress: rules('ingress', 'from') } : {}),
    ...(types.includes('Egress') ? { egress: rules('egress', 'to') } : {}),
  };
}

function compilePeer(peer: any, where: string, policyNamespace: string, cluster: Cluster): (other: Peer) => boolean {
  const { podSelector, namespaceSelector, ipBlock } = peer ?? {};
  if (ipBlock !== undefined) {
    if (podSelector !== undefined || namespaceSelector !== undefined) throw new Error(`${where}: ipBlock cannot be combined with selectors`);
    const cidr = parseCidr(ipBlock.cidr);
    const except = (ipBlock.except ?? []).map(parseCidr);
    return (other) => {
      const address = other.ip !== undefined ? parseAddress(other.ip) : cluster.podRange;
      return address !== undefined && overlapsBlock(address, cidr, except);
    };
  }
  if (podSelector === undefined && namespaceSelector === undefined) throw new Error(`${where}: a peer needs podSelector, namespaceSelector or ipBlock`);
  // Both selectors in one peer: pods matching podSelector in namespaces matching namespaceSelector
  // (AND). podSelector alone: the policy's namespace. namespaceSelector alone: every pod there.
  const namespaces = namespaceSelector === undefined ? undefined : compileSelector(namespaceSelector, `${where}.namespaceSelector`);
  const pods = compileSelector(podSelector ?? {}, `${where}.podSelector`);
  return (other) =>
    other.kind === 'pod' &&
    (namespaces === undefined ? other.namespace === policyNamespace : namespaces(cluster.labelsOfNamespace(other.namespace))) &&
    pods(other.labels);
}

/** A rule's port entry as the ports it opens on a server `dst`. */
function compilePort(port: any, where: string): (dst: Peer) => PortSet {
  const protocol: Protocol = port?.protocol ?? 'TCP';
  if (!PROTOCOLS.includes(protocol)) throw new Error(`${where}: unknown protocol "${protocol}"`);
  const { port: number, endPort } = port ?? {};
  if (typeof number === 'string') {
    if (endPort !== undefined) throw new Error(`${where}: endPort needs a numeric port, not "${number}"`);
    // A named port matches every container port of that name and protocol; an address has none.
    return (dst) =>
      (dst.kind === 'pod' ? dst.ports : [])
        .filter((declared) => declared.name === number && declared.protocol === protocol)
        .reduce((sum, { containerPort }) => union(sum, portSet(protocol, containerPort)), NO_PORTS);
  }
  if (number === undefined && endPort !== undefined) throw new Error(`${where}: endPort needs port`);
  if (endPort !== undefined && endPort < number) throw new Error(`${where}: endPort ${endPort} is below port ${number}`);
  const ports = number === undefined ? portSet(protocol, MIN_PORT, MAX_PORT) : portSet(protocol, number, endPort ?? number);
  return () => ports;
}

// ---------------------------------------------------------------------------------------------
// Connectivity over every pair of workloads, plus probe pods and addresses.

/** One contiguous range of ports a client may open on a server. */
export interface Connection {
  /** Workload id ("namespace/name") or address. */
  readonly from: string;
  readonly to: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** Last port of a range; absent for a single port. 1-65535 means every port. */
  readonly endPort?: number;
}

/** A pod in a namespace that no manifest mentions, with no labels: anything else in the cluster. */
export const OUTSIDER_PROBE: Workload = probePod('outsider', 'probe', {}, []);

/** The cluster DNS as kind and kubeadm run it (CoreDNS pods labelled k8s-app=kube-dns). */
export const CLUSTER_DNS_PROBE: Workload = probePod('kube-system', 'kube-dns', { 'k8s-app': 'kube-dns' }, [
  { name: 'dns', containerPort: 53, protocol: 'UDP' },
  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
]);

/** Addresses outside the pod network: the internet, the private ranges and the cloud metadata endpoint. */
export const PROBE_ADDRESSES = {
  internet: '8.8.8.8',
  private10: '10.0.0.10',
  private172: '172.16.0.10',
  private192: '192.168.1.1',
  metadata: '169.254.169.254',
} as const;

/** The id of an unlabelled pod that `probePods` adds to a namespace that has workloads. */
export const namespaceProbeId = (namespace: string) => `${namespace}/probe`;

/**
 * The probe pods `connectivity` adds by default: an unlabelled pod in each namespace that has
 * workloads (what a policy with too loose a selector would let in), the outsider and cluster DNS.
 */
export function probePods(objects: readonly KubeObject[]): Workload[] {
  const namespaces = [...new Set(workloadsFrom(objects).map((workload) => workload.namespace))];
  return [...namespaces.map((namespace) => probePod(namespace, 'probe', {}, [])), OUTSIDER_PROBE, CLUSTER_DNS_PROBE];
}

export interface ConnectivityOptions extends EvaluatorOptions {
  /** @default probePods(objects) */
  readonly probePods?: readonly Workload[];
  /** @default Object.values(PROBE_ADDRESSES) */
  readonly probeAddresses?: readonly string[];
}

/**
 * Every allowed connection between two different workloads (probes included), and between each
 * workload and each probe address, sorted. Replicas of one workload talking to each other are not
 * listed.
 */
export function connectivity(objects: readonly KubeObject[], options: ConnectivityOptions = {}): Connection[] {
  const evaluator = new NetworkPolicyEvaluator(objects, options);
  const pods = [...workloadsFrom(objects), ...(options.probePods ?? probePods(objects))];
  const addresses = options.probeAddresses ?? Object.values(PROBE_ADDRESSES);
  const peers: Array<{ id: string; peer: Peer }> = pods.map((workload) => ({ id: workload.id, peer: asPeer(workload) }));
  const connections: Connection[] = [];
  const add = (from: string, to: string, ports: PortSet) => {
    for (const protocol of PROTOCOLS) for (const [first, last] of ports[protocol]) connections.push({ from, to, protocol, port: first, ...(last !== first ? { endPort: last } : {}) });
  };
  for (const src of peers) {
    for (const dst of peers) if (src.id !== dst.id) add(src.id, dst.id, evaluator.allowedPorts(src.peer, dst.peer));
    for (const ip of addresses) {
      add(src.id, ip, evaluator.allowedPorts(src.peer, { kind: 'ip', ip }));
      add(ip, src.id, evaluator.allowedPorts({ kind: 'ip', ip }, src.peer));
    }
  }
  return connections.sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.protocol.localeCompare(b.protocol) || a.port - b.port);
}

function asPeer(workload: Workload): PodPeer {
  return { kind: 'pod', namespace: workload.namespace, labels: workload.labels, ports: workload.ports };
}

/** E.g. "TCP 5432" or "TCP 8000-8100". */
export const formatPortRange = ({ protocol, port, endPort }: Connection) => `${protocol} ${port}${endPort === undefined ? '' : `-${endPort}`}`;

/** E.g. "letta/letta-server => letta/letta-db TCP 5432", for messages and snapshots. */
export const formatConnection = (connection: Connection) => `${connection.from} => ${connection.to} ${formatPortRange(connection)}`;

function probePod(namespace: string, name: string, labels: Labels, ports: readonly ContainerPort[]): Workload {
  return { id: `${namespace}/${name}`, kind: 'Pod', name, namespace, labels, ports };
}
