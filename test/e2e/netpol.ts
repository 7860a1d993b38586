import type { ClientId, ComponentId, DeployedComponent, Topology } from '../../lib/model/topology';
import type { KubeObject } from '../../tools/kube';
import { probePod } from './manifests';

/*
 * NetworkPolicy checks from throwaway pods: each pod stands in for a client (by its labels and
 * namespace), makes one connection and logs the outcome.
 */

/**
 * What a probe must see. A denied connection is dropped (a timeout, as kindnet does) or rejected
 * (refused or unreachable, as kube-router does); a rejection counts only when the probe's control,
 * an allowed connection to the same address, shows that something listens there.
 */
export type Expectation = 'connects' | 'is denied';

export interface ProbeCase {
  /** Pod name; also names the case in the report. */
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly host: string;
  readonly port: number;
  readonly expect: Expectation;
  readonly why: string;
  /** For a denied case: the allowed case that proves the target listens. */
  readonly control?: string;
}

export interface ProbePlanOptions {
  /** A namespace with no policies, outside the stack. */
  readonly outsideNamespace: string;
  /** The ingress controller's namespace. */
  readonly ingressNamespace: string;
  /**
   * An address outside the cluster that accepts TCP on the internet ports: the internet side of
   * the egress probes. Unset: no internet probes (the run says so).
   */
  readonly internetAddress?: string;
  /**
   * Pod IPs of the components. Denied probes connect to these: a client without DNS egress (the
   * database, say) could not even resolve a name, which would say nothing about the policy.
   */
  readonly podAddresses: ReadonlyMap<ComponentId, string>;
}

const CONNECT_TIMEOUT_SECONDS = 10;
/**
 * How long each probe keeps trying: past the moment the policy engine has applied its rules to
 * the new pod (kube-router took more than a probe's start-up on a busy 2-core node).
 */
const PROBE_WINDOW_SECONDS = 45;

interface Client {
  /** Short name for pod names. */
  readonly id: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly description: string;
}

/**
 * Every connection of the topology must connect, from a pod labelled like its client. Every other
 * client, the stack's other components and unlabelled pods in the stack's, the ingress
 * controller's and an outside namespace, must be denied on each of those target ports. Components
 * with internet egress must reach the internet address, the others must not.
 */
export function networkProbeCases(topology: Topology, options: ProbePlanOptions): ProbeCase[] {
  const stack = topology.namespace;
  const componentClient = (component: DeployedComponent): Client => ({
    id: component.name,
    namespace: stack,
    labels: component.selector,
    description: component.name,
  });
  const ingressController: Client = {
    id: 'ingress-controller',
    namespace: options.ingressNamespace,
    labels: topology.ingressController.podLabels,
    description: 'the ingress controller',
  };
  const clientOf = (id: ClientId) => (id === 'ingress-controller' ? ingressController : componentClient(topology.component(id)));
  const bystanders: Client[] = [
    { id: 'other', namespace: stack, labels: {}, description: `another pod in ${stack}` },
    { id: 'ingress-ns', namespace: options.ingressNamespace, labels: {}, description: `another pod in ${options.ingressNamespace}` },
    { id: 'outside', namespace: options.outsideNamespace, labels: {}, description: `a pod in ${options.outsideNamespace}` },
  ];
  const everyClient = [...topology.components.map(componentClient), ingressController, ...bystanders];
  const hostFor = (component: DeployedComponent, namespace: string) => (namespace === stack ? component.name : `${component.name}.${stack}.svc`);

  const cases: ProbeCase[] = [];
  const deniedTargets = new Set<string>();
  for (const connection of topology.connections) {
    const from = clientOf(connection.from);
    const target = connection.to;
    const control = `probe-${from.id}-to-${target.name}`;
    cases.push({
      name: control,
      namespace: from.namespace,
      labels: from.labels,
      host: hostFor(target, from.namespace),
      port: connection.port.port,
      expect: 'connects',
      why: `${from.description} → ${target.name}:${connection.port.name} is an edge of the topology`,
    });
    // Every other client is denied once per target port, however many edges lead there.
    const targetPort = `${target.id}:${connection.port.name}`;
    if (deniedTargets.has(targetPort)) continue;
    deniedTargets.add(targetPort);
    const address = options.podAddresses.get(target.id);
    if (address === undefined) throw new Error(`no pod address for ${target.name}`);
    const allowed = new Set(topology.ingressOf(target.id).filter((c) => c.port.name === connection.port.name).map((c) => clientOf(c.from).id));
    for (const client of everyClient) {
      if (allowed.has(client.id) || client.id === target.name) continue;
      cases.push({
        name: `probe-${client.id}-to-${target.name}`,
        namespace: client.namespace,
        labels: client.labels,
        host: address,
        port: connection.port.port,
        expect: 'is denied',
        why: `${client.description} has no edge to ${target.name}:${connection.port.name}`,
        control,
      });
    }
  }

  if (options.internetAddress !== undefined) {
    const reaching = topology.internet.filter((access) => access.ports.length > 0);
    for (const access of reaching) {
      cases.push({
        name: `probe-${access.component.name}-to-internet`,
        namespace: stack,
        labels: access.component.selector,
        host: options.internetAddress,
        port: access.ports[0],
        expect: 'connects',
        why: `${access.component.name} may reach the internet on ${access.ports.join(', ')}`,
      });
    }
    const control = reaching[0];
    if (control) {
      for (const component of topology.components.filter((c) => !reaching.some((access) => access.component.id === c.id))) {
        cases.push({
          name: `probe-${component.name}-to-internet`,
          namespace: stack,
          labels: component.selector,
          host: options.internetAddress,
          port: control.ports[0],
          expect: 'is denied',
          why: `${component.name} has no internet egress`,
          control: `probe-${control.component.name}-to-internet`,
        });
      }
    }
  }
  return cases;
}

export function probePodFor(probe: ProbeCase, image?: string): KubeObject {
  return probePod({
    ...probe,
    connectTimeoutSeconds: CONNECT_TIMEOUT_SECONDS,
    windowSeconds: PROBE_WINDOW_SECONDS,
    untilConnected: probe.expect === 'connects',
    image,
  });
}

export interface ProbeVerdict {
  readonly probe: ProbeCase;
  readonly ok: boolean;
  readonly message: string;
}

const DENIED_OUTCOMES = new Set(['timeout', 'refused', 'unreachable']);

/**
 * Judges a probe pod's log (one JSON line from connect_probe.py). A denied case passes on a
 * rejection only when `controlConnected` says its control reached the same target.
 */
export function judgeProbe(probe: ProbeCase, log: string, controlConnected = false): ProbeVerdict {
  const edge = `${probe.namespace}/${probe.name} → ${probe.host}:${probe.port}`;
  const line = log
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  let outcome: string | undefined;
  let detail = '';
  try {
    const parsed = line === undefined ? undefined : JSON.parse(line);
    outcome = parsed?.outcome;
    detail = parsed?.detail ? ` (${parsed.detail})` : '';
    if (parsed?.earlier_connections) detail += ` after ${parsed.earlier_connections} earlier attempts connected`;
  } catch {
    outcome = undefined;
  }
  if (outcome === undefined) return { probe, ok: false, message: `${edge}: no verdict in the probe's log: ${log.trim() || '(empty)'}` };
  let ok: boolean;
  let hint = outcome === 'dns-error' ? ' — the name did not resolve, so the policy was not exercised' : '';
  if (probe.expect === 'connects') ok = outcome === 'connected';
  else if (outcome === 'timeout') ok = true;
  else if (DENIED_OUTCOMES.has(outcome)) {
    ok = controlConnected;
    if (!ok) hint = ` — a rejection proves the policy only if ${probe.control ?? 'a control'} reached the same target, and it did not`;
  } else ok = false;
  return {
    probe,
    ok,
    message: `${edge}: ${outcome}${detail}, expected ${probe.expect} (${probe.why})${ok ? '' : hint}`,
  };
}
