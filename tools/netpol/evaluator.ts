import { AddressRange, overlapsBlock, parseAddress, parseCidr } from './ip';
import { ALL_PORTS, format, includes, intersect, isEmpty, MAX_PORT, MIN_PORT, NO_PORTS, portSet, PortSet, Protocol, PROTOCOLS, union } from './ports';
import { compileSelector, LabelPredicate, Labels, LabelSelector } from './selectors';
import { ContainerPort, NAMESPACE_NAME_LABEL, namespaceLabelsFrom, namespaceOf, Workload, workloadsFrom } from './workloads';
import type { KubeObject } from '../kube';

/*
 * Which peer may open which port on which other peer, computed from manifests alone with the
 * semantics of networking.k8s.io/v1 NetworkPolicy. Port sets are exact (ranges, not samples), so a
 * rule that allows "all ports" or a wide endPort range shows as such.
 */

export type { KubeObject, Workload, ContainerPort, Labels, Protocol, PortSet };
export { workloadsFrom };

/** Pods of a workload (or any pod): its namespace, labels and container ports. */
export interface PodPeer {
  readonly kind: 'pod';
  readonly namespace: string;
  readonly labels: Labels;
  readonly ports: readonly ContainerPort[];
  /** The pod's address; without it the pod may have any address of the pod CIDR. */
  readonly ip?: string;
}

/** An address outside the cluster's pods (the internet, a node, a private network). */
export interface IpPeer {
  readonly kind: 'ip';
  readonly ip: string;
}

export type Peer = PodPeer | IpPeer;

export interface EvaluatorOptions {
  /**
   * The addresses pods get. ipBlock rules also match pods in most CNIs, so a pod without an `ip`
   * matches an ipBlock when the block (minus its exceptions) covers any address of this range.
   * `null`: ipBlocks never match pods, the model of analyzers that treat ipBlocks as external only.
   * @default kind's pod subnet, "10.244.0.0/16"
   */
  readonly podCidr?: string | null;
}

export const KIND_POD_CIDR = '10.244.0.0/16';

/** One direction's verdict: whether policies isolate the pod and what they allow. */
export interface DirectionVerdict {
  /** False when no policy of this direction selects the pod: everything is allowed. */
  readonly isolated: boolean;
  readonly ports: PortSet;
  /** "namespace/name" of each policy with a rule that admits the peer on some port. */
  readonly allowedBy: readonly string[];
}

export interface Explanation {
  /** The client's egress towards the server. */
  readonly egress: DirectionVerdict;
  /** The server's ingress from the client. */
  readonly ingress: DirectionVerdict;
  /** What both allow: a connection needs the client's egress and the server's ingress. */
  readonly ports: PortSet;
}

type CompiledPeer =
  | { readonly kind: 'selector'; readonly namespace: LabelPredicate | 'own'; readonly pods: LabelPredicate }
  | { readonly kind: 'ipBlock'; readonly cidr: AddressRange; readonly except: readonly AddressRange[] };

type CompiledPort =
  | { readonly kind: 'numbers'; readonly ports: PortSet }
  | { readonly kind: 'named'; readonly protocol: Protocol; readonly name: string };

interface CompiledRule {
  /** 'any': the rule's from/to is absent or empty. */
  readonly peers: readonly CompiledPeer[] | 'any';
  /** 'any': the rule's ports is absent or empty. */
  readonly ports: readonly CompiledPort[] | 'any';
}

interface CompiledPolicy {
  readonly id: string;
  readonly namespace: string;
  readonly selects: LabelPredicate;
  /** Undefined when the policy does not apply to this direction (policyTypes). */
  readonly ingress?: readonly CompiledRule[];
  readonly egress?: readonly CompiledRule[];
}

export class NetworkPolicyEvaluator {
  private readonly policies: readonly CompiledPolicy[];
  private readonly namespaceLabels: ReadonlyMap<string, Labels>;
  private readonly podRange: AddressRange | undefined;

  constructor(objects: readonly KubeObject[], options: EvaluatorOptions = {}) {
    this.policies = objects.filter((object) => object.kind === 'NetworkPolicy').map(compilePolicy);
    this.namespaceLabels = namespaceLabelsFrom(objects);
    const podCidr = options.podCidr === undefined ? KIND_POD_CIDR : options.podCidr;
    this.podRange = podCidr === null ? undefined : parseCidr(podCidr);
  }

  /** Whether `src` may open `port` on `dst`. */
  allowed(src: Peer, dst: Peer, port: number, protocol: Protocol = 'TCP'): boolean {
    return includes(this.allowedPorts(src, dst), protocol, port);
  }

  /** Every port `src` may open on `dst`. */
  allowedPorts(src: Peer, dst: Peer): PortSet {
    return this.explain(src, dst).ports;
  }

  explain(src: Peer, dst: Peer): Explanation {
    const egress = src.kind === 'pod' ? this.verdict('egress', src, dst, dst) : UNRESTRICTED;
    const ingress = dst.kind === 'pod' ? this.verdict('ingress', dst, src, dst) : UNRESTRICTED;
    return { egress, ingress, ports: intersect(egress.ports, ingress.ports) };
  }

  /** The labels a namespace selector sees: from the Namespace object, else only the name label. */
  labelsOfNamespace(namespace: string): Labels {
    return this.namespaceLabels.get(namespace) ?? { [NAMESPACE_NAME_LABEL]: namespace };
  }

  /**
   * What the policies of `direction` selecting `pod` allow between it and `other`. Ports resolve
   * against the server `dst` (named ports are the server's container port names).
   */
  private verdict(direction: 'ingress' | 'egress', pod: PodPeer, other: Peer, dst: Peer): DirectionVerdict {
    let isolated = false;
    let ports = NO_PORTS;
    const allowedBy: string[] = [];
    for (const policy of this.policies) {
      const rules = policy[direction];
      if (rules === undefined || policy.namespace !== pod.namespace || !policy.selects(pod.labels)) continue;
      isolated = true;
      let admitted = NO_PORTS;
      for (const rule of rules) {
        if (rule.peers !== 'any' && !rule.peers.some((peer) => this.peerMatches(peer, policy.namespace, other))) continue;
        admitted = union(admitted, resolvePorts(rule.ports, dst));
      }
      if (!isEmpty(admitted)) allowedBy.push(policy.id);
      ports = union(ports, admitted);
    }
    return isolated ? { isolated, ports, allowedBy } : UNRESTRICTED;
  }

  private peerMatches(peer: CompiledPeer, policyNamespace: string, other: Peer): boolean {
    if (peer.kind === 'ipBlock') {
      const address = other.ip !== undefined ? parseAddress(other.ip) : this.podRange;
      return address !== undefined && overlapsBlock(address, peer.cidr, peer.except);
    }
    if (other.kind !== 'pod') return false;
    const namespaceMatches =
      peer.namespace === 'own' ? other.namespace === policyNamespace : peer.namespace(this.labelsOfNamespace(other.namespace));
    return namespaceMatches && peer.pods(other.labels);
  }
}

const UNRESTRICTED: DirectionVerdict = { isolated: false, ports: ALL_PORTS, allowedBy: [] };

function resolvePorts(ports: CompiledRule['ports'], dst: Peer): PortSet {
  if (ports === 'any') return ALL_PORTS;
  return ports.reduce((result, port) => {
    if (port.kind === 'numbers') return union(result, port.ports);
    // A named port matches every container port of that name and protocol; an address has none.
    const declared = dst.kind === 'pod' ? dst.ports.filter((candidate) => candidate.name === port.name && candidate.protocol === port.protocol) : [];
    return declared.reduce((sum, { containerPort }) => union(sum, portSet(port.protocol, containerPort)), result);
  }, NO_PORTS);
}

function compilePolicy(object: KubeObject): CompiledPolicy {
  const namespace = namespaceOf(object);
  const id = `${namespace}/${object.metadata.name}`;
  if (object.apiVersion !== 'networking.k8s.io/v1') throw new Error(`NetworkPolicy ${id}: unsupported apiVersion ${object.apiVersion}`);
  const spec = object.spec ?? {};
  // The API server's defaulting: no policyTypes means Ingress, plus Egress when egress rules exist.
  const types: readonly string[] =
    spec.policyTypes?.length > 0 ? spec.policyTypes : spec.egress?.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  const unknown = types.find((type) => type !== 'Ingress' && type !== 'Egress');
  if (unknown !== undefined) throw new Error(`NetworkPolicy ${id}: unknown policy type "${unknown}"`);
  const rules = (key: 'ingress' | 'egress', peersKey: 'from' | 'to'): CompiledRule[] =>
    (spec[key] ?? []).map((rule: any, index: number) => {
      const where = `NetworkPolicy ${id} ${key}[${index}]`;
      const peers: any[] = rule?.[peersKey] ?? [];
      const ports: any[] = rule?.ports ?? [];
      return {
        peers: peers.length === 0 ? 'any' : peers.map((peer, i) => compilePeer(peer, `${where}.${peersKey}[${i}]`)),
        ports: ports.length === 0 ? 'any' : ports.map((port, i) => compilePort(port, `${where}.ports[${i}]`)),
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

function compilePeer(peer: any, where: string): CompiledPeer {
  const { podSelector, namespaceSelector, ipBlock } = peer ?? {};
  if (ipBlock !== undefined) {
    if (podSelector !== undefined || namespaceSelector !== undefined) throw new Error(`${where}: ipBlock cannot be combined with selectors`);
    return { kind: 'ipBlock', cidr: parseCidr(ipBlock.cidr), except: (ipBlock.except ?? []).map(parseCidr) };
  }
  if (podSelector === undefined && namespaceSelector === undefined) throw new Error(`${where}: a peer needs podSelector, namespaceSelector or ipBlock`);
  // Both selectors in one peer: pods matching podSelector in namespaces matching namespaceSelector
  // (AND). podSelector alone: the policy's namespace. namespaceSelector alone: every pod there.
  return {
    kind: 'selector',
    namespace: namespaceSelector === undefined ? 'own' : compileSelector(namespaceSelector as LabelSelector, `${where}.namespaceSelector`),
    pods: compileSelector((podSelector ?? {}) as LabelSelector, `${where}.podSelector`),
  };
}

function compilePort(port: any, where: string): CompiledPort {
  const protocol: Protocol = port?.protocol ?? 'TCP';
  if (!PROTOCOLS.includes(protocol)) throw new Error(`${where}: unknown protocol "${protocol}"`);
  const { port: number, endPort } = port ?? {};
  if (typeof number === 'string') {
    if (endPort !== undefined) throw new Error(`${where}: endPort needs a numeric port, not "${number}"`);
    return { kind: 'named', protocol, name: number };
  }
  if (number === undefined) {
    if (endPort !== undefined) throw new Error(`${where}: endPort needs port`);
    return { kind: 'numbers', ports: portSet(protocol, MIN_PORT, MAX_PORT) };
  }
  if (endPort !== undefined && endPort < number) throw new Error(`${where}: endPort ${endPort} is below port ${number}`);
  return { kind: 'numbers', ports: portSet(protocol, number, endPort ?? number) };
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

export function asPeer(workload: Workload): PodPeer {
  return { kind: 'pod', namespace: workload.namespace, labels: workload.labels, ports: workload.ports };
}

/** E.g. "letta/letta-server => letta/letta-db TCP 5432", for messages and snapshots. */
export function formatConnection(connection: Connection): string {
  const ports = connection.endPort === undefined ? `${connection.port}` : `${connection.port}-${connection.endPort}`;
  return `${connection.from} => ${connection.to} ${connection.protocol} ${ports}`;
}

export { format as formatPorts };

function probePod(namespace: string, name: string, labels: Labels, ports: readonly ContainerPort[]): Workload {
  return { id: `${namespace}/${name}`, kind: 'Pod', name, namespace, labels, ports };
}
