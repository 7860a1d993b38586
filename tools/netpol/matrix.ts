import { CLUSTER_DNS, Topology } from '../../lib/model/topology';
import type { KubeObject } from '../kube';
import {
  CLUSTER_DNS_PROBE,
  Connection,
  connectivity,
  formatConnection,
  formatPortRange,
  namespaceProbeId,
  OUTSIDER_PROBE,
  PROBE_ADDRESSES,
  workloadsFrom,
} from './evaluator';

/*
 * The stack's reachability as users read it: who may open which port on whom. `expectedConnections`
 * states it from the topology table alone; `stackConnections` computes it from manifests with the
 * NetworkPolicy evaluator. The tests require the two to be equal.
 */

/** Workloads outside the stack that the matrix names: the ingress controller's workload id, e.g. "ingress-nginx/ingress-nginx-controller". */
export interface ExternalWorkloads {
  readonly ingressController: string;
}

/** Connections sorted and deduplicated, for comparison. */
function normalizeConnections(connections: readonly Connection[]): Connection[] {
  const unique = new Map(connections.map((c) => [formatConnection(c), c]));
  return [...unique.values()].sort((a, b) => formatConnection(a).localeCompare(formatConnection(b)));
}

/** What the topology says the stack may do: its edges, DNS for clients, public internet where allowed. */
export function expectedConnections(topology: Topology, external: ExternalWorkloads): Connection[] {
  const id = (name: string) => `${topology.namespace}/${name}`;
  return normalizeConnections([
    ...topology.connections.map((connection) => ({
      from: connection.from === 'ingress-controller' ? external.ingressController : id(topology.component(connection.from).name),
      to: id(connection.to.name),
      protocol: connection.port.protocol,
      port: connection.port.port,
    })),
    ...topology.components
      .filter((component) => topology.needsDns(component.id))
      .flatMap((component) => CLUSTER_DNS.ports.map(({ protocol, port }) => ({ from: id(component.name), to: CLUSTER_DNS_PROBE.id, protocol, port }))),
    ...topology.internet.flatMap((access) => access.ports.map((port) => ({ from: id(access.component.name), to: PROBE_ADDRESSES.internet, protocol: 'TCP' as const, port }))),
  ]);
}

/**
 * The stack's workloads by id, each named after the component whose selector its pods carry: a
 * component may run several workloads (the backup's CronJob and pre-migration Job), and the
 * topology speaks of components.
 */
export function stackComponentIds(objects: readonly KubeObject[], topology: Topology): Map<string, string> {
  const ids = new Map<string, string>();
  for (const workload of workloadsFrom(objects).filter((w) => w.namespace === topology.namespace)) {
    const component = topology.components.find((c) => Object.entries(c.selector).every(([key, value]) => workload.labels[key] === value));
    ids.set(workload.id, component ? `${topology.namespace}/${component.name}` : workload.id);
  }
  return ids;
}

/** Every computed connection with a stack pod (or an unlabelled pod of its namespace) at either end. */
export function stackConnections(objects: readonly KubeObject[], topology: Topology): Connection[] {
  const inStack = (id: string) => id.startsWith(`${topology.namespace}/`);
  const ids = stackComponentIds(objects, topology);
  const component = (id: string) => ids.get(id) ?? id;
  return normalizeConnections(
    connectivity(objects)
      .filter((c) => inStack(c.from) || inStack(c.to))
      .map((c) => ({ ...c, from: component(c.from), to: component(c.to) })),
  );
}

/** The reachability matrix as a Markdown table: sources in rows, destinations in columns. */
export function markdownMatrix(objects: readonly KubeObject[], topology: Topology, external: ExternalWorkloads): string {
  const connections = stackConnections(objects, topology);
  const stack = [...new Set(stackComponentIds(objects, topology).values())].map((id) => ({ id, title: id.split('/')[1] }));
  const address = (name: string, ip: string) => ({ id: ip, title: `${name} (${ip})` });
  const rows = [
    { id: external.ingressController, title: 'ingress-nginx controller' },
    ...stack,
    { id: namespaceProbeId(topology.namespace), title: `other pod in ${topology.namespace}` },
    { id: OUTSIDER_PROBE.id, title: 'pod in another namespace' },
    address('internet', PROBE_ADDRESSES.internet),
  ];
  const columns = [
    ...stack,
    { id: CLUSTER_DNS_PROBE.id, title: 'cluster DNS' },
    address('internet', PROBE_ADDRESSES.internet),
    address('private range', PROBE_ADDRESSES.private10),
    address('cloud metadata', PROBE_ADDRESSES.metadata),
  ];
  const cell = (from: string, to: string) => {
    if (from === to) return '·';
    const ports = connections.filter((c) => c.from === from && c.to === to).map(formatPortRange);
    return ports.length === 0 ? '–' : ports.join(', ');
  };
  return [
    `| from \\ to | ${columns.map((column) => column.title).join(' | ')} |`,
    `| --- | ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.title} | ${columns.map((column) => cell(row.id, column.id)).join(' | ')} |`),
  ].join('\n');
}
