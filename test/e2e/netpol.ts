import type { Topology } from '../../lib/topology';
import type { KubeObject } from './kubectl';
import { probePod } from './manifests';

/*
 * NetworkPolicy checks from throwaway pods: each pod stands in for a client (by its labels and
 * namespace), makes one connection and logs the outcome.
 */

export type Expectation = 'connects' | 'times out';

export interface ProbeCase {
  /** Pod name; also names the case in the report. */
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly host: string;
  readonly port: number;
  readonly expect: Expectation;
  readonly why: string;
}

export interface ProbePlanOptions {
  /** A namespace with no policies, outside the stack. */
  readonly outsideNamespace: string;
  /** The ingress controller's namespace. */
  readonly ingressNamespace: string;
  /** A public address that answers on the internet port Letta may use. */
  readonly internetAddress: string;
}

export const CONNECT_TIMEOUT_SECONDS = 10;

/** Allowed edges that must connect and denied ones that must time out, from the topology. */
export function networkProbeCases(topology: Topology, options: ProbePlanOptions): ProbeCase[] {
  const letta = topology.component('letta');
  const database = topology.component('database');
  const db = topology.address('database', 'postgres');
  const dbFromElsewhere = `${db.host}.${topology.namespace}.svc`;
  const lettaInternet = topology.internet.find((access) => access.component.id === 'letta');
  const stack = topology.namespace;
  const cases: ProbeCase[] = [
    {
      name: 'probe-server-to-db',
      namespace: stack,
      labels: letta.selector,
      host: db.host,
      port: db.port,
      expect: 'connects',
      why: `${letta.name} → ${database.name} is an edge of the topology`,
    },
    {
      name: 'probe-outside-to-db',
      namespace: options.outsideNamespace,
      labels: {},
      host: dbFromElsewhere,
      port: db.port,
      expect: 'times out',
      why: `a pod outside the stack must not reach ${database.name}`,
    },
    {
      name: 'probe-ingress-ns-to-db',
      namespace: options.ingressNamespace,
      labels: {},
      host: dbFromElsewhere,
      port: db.port,
      expect: 'times out',
      why: `the ingress controller's namespace reaches only ${letta.name}`,
    },
    {
      name: 'probe-db-to-internet',
      namespace: stack,
      labels: database.selector,
      host: options.internetAddress,
      port: lettaInternet?.ports[0] ?? 443,
      expect: 'times out',
      why: `${database.name} has no egress`,
    },
  ];
  if (lettaInternet) {
    cases.push({
      name: 'probe-server-to-internet',
      namespace: stack,
      labels: letta.selector,
      host: options.internetAddress,
      port: lettaInternet.ports[0],
      expect: 'connects',
      // Also shows that the internet answers, so the database's time-out is the policy's doing.
      why: `${letta.name} may reach the internet on ${lettaInternet.ports.join(', ')}`,
    });
  }
  return cases;
}

export function probePodFor(probe: ProbeCase): KubeObject {
  return probePod({ ...probe, connectTimeoutSeconds: CONNECT_TIMEOUT_SECONDS });
}

export interface ProbeVerdict {
  readonly probe: ProbeCase;
  readonly ok: boolean;
  readonly message: string;
}

/** Judges a probe pod's log (one JSON line from connect_probe.py). */
export function judgeProbe(probe: ProbeCase, log: string): ProbeVerdict {
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
  } catch {
    outcome = undefined;
  }
  if (outcome === undefined) return { probe, ok: false, message: `${edge}: no verdict in the probe's log: ${log.trim() || '(empty)'}` };
  const wanted = probe.expect === 'connects' ? 'connected' : 'timeout';
  const ok = outcome === wanted;
  const hint = outcome === 'dns-error' ? ' — the name did not resolve, so the policy was not exercised' : '';
  return {
    probe,
    ok,
    message: `${edge}: ${outcome}${detail}, expected ${probe.expect} (${probe.why})${ok ? '' : hint}`,
  };
}
