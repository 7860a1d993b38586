import { Settings, InternetEgress } from '../config/schema';

/*
 * The stack's topology, written like docker compose networks: which components exist, the ports
 * they serve, the networks they join and which component talks to which port. It is the single
 * source of Service names, ports, the URLs in Letta's environment, the NetworkPolicies and the
 * isolation tests. Nothing else in the project writes a port number or a host name by hand.
 */

export type ComponentId = 'letta' | 'database' | 'backup' | 'redis' | 'telemetry' | 'vllm';
/** The ingress controller: outside the stack, but a client on the frontend network. */
export type ClientId = ComponentId | 'ingress-controller';
export type NetworkId = 'frontend' | 'backend' | 'telemetry' | 'internet';
export type Protocol = 'TCP' | 'UDP';

export interface PortDefinition {
  /** IANA-style port name, used for the container port and the Service port. */
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/** An HTTP GET that answers 200 while a component is up: its probes and its clients' waits ask it. */
export interface HealthCheck {
  /** Name of the port it is served on. */
  readonly port: string;
  readonly path: string;
}

export interface NetworkDefinition {
  /** An internal network has no way out (compose `internal: true`). */
  readonly internal: boolean;
  readonly purpose: string;
}

export interface ComponentDefinition {
  /** Name of the workload and its Service: the host name other components use. */
  readonly name: string;
  /** app.kubernetes.io/component */
  readonly role: string;
  readonly ports: readonly PortDefinition[];
  /** Its health check, if it serves one over HTTP. @default none */
  readonly health?: HealthCheck;
  readonly networks: readonly NetworkId[];
  readonly enabled: (settings: Settings) => boolean;
  /** Public internet egress the settings allow this component, if any. */
  readonly internetEgress: (settings: Settings) => InternetEgress | undefined;
}

export interface EdgeDefinition {
  readonly from: ClientId;
  readonly to: ComponentId;
  /** Name of a port of `to`. */
  readonly port: string;
  readonly network: NetworkId;
  /** Whether the settings turn this connection on (both ends must be enabled too). @default always */
  readonly when?: (settings: Settings) => boolean;
}

const tcp = (name: string, port: number): PortDefinition => ({ name, port, protocol: 'TCP' });
const always = () => true;
const noInternet = () => undefined;

export const NETWORKS: Readonly<Record<NetworkId, NetworkDefinition>> = {
  frontend: { internal: false, purpose: 'the ingress controller reaches the Letta server' },
  backend: { internal: true, purpose: 'Letta reaches its database, Redis and vLLM' },
  telemetry: { internal: true, purpose: 'workloads send traces to the node-local collector' },
  internet: { internal: false, purpose: 'outbound connections to public addresses, where settings allow them' },
};

/** In apply order: what Letta waits for comes first, Letta last. */
export const COMPONENTS: Readonly<Record<ComponentId, ComponentDefinition>> = {
  database: {
    name: 'letta-db',
    role: 'database',
    ports: [tcp('postgres', 5432)],
    networks: ['backend'],
    enabled: always,
    internetEgress: noInternet,
  },
  backup: {
    // The scheduled dump, the pre-migration dump and the restore: Jobs that serve nothing.
    name: 'letta-db-backup',
    role: 'backup',
    ports: [],
    networks: ['backend', 'internet'],
    enabled: (s) => s.backup.enabled,
    internetEgress: (s) => (s.backup.target === 's3' && s.backup.s3 ? { enabled: true, ports: [urlPort(s.backup.s3.endpoint)] } : undefined),
  },
  redis: {
    name: 'letta-redis',
    role: 'cache',
    ports: [tcp('redis', 6379)],
    networks: ['backend'],
    enabled: (s) => s.redis.enabled,
    internetEgress: noInternet,
  },
  telemetry: {
    name: 'letta-otel-collector',
    role: 'telemetry',
    ports: [tcp('otlp-grpc', 4317), tcp('otlp-http', 4318), tcp('health', 13133)],
    // The collector's health_check extension.
    health: { port: 'health', path: '/' },
    networks: ['telemetry', 'internet'],
    enabled: (s) => s.telemetry.enabled,
    internetEgress: (s) => {
      const port = exporterPort(s.telemetry.exporter);
      return port === undefined ? undefined : { enabled: true, ports: [port] };
    },
  },
  vllm: {
    // Named like the compose service so that VLLM_API_BASE reads as upstream documents it.
    name: 'vllm',
    role: 'inference',
    ports: [tcp('http', 8000)],
    health: { port: 'http', path: '/health' },
    networks: ['backend', 'internet'],
    enabled: (s) => s.vllm.enabled,
    // Offline, the model comes from the cache claim only: no hub, no way out.
    internetEgress: (s) => (s.vllm.internetEgress.enabled && !s.vllm.offline ? s.vllm.internetEgress : undefined),
  },
  letta: {
    name: 'letta-server',
    role: 'server',
    ports: [tcp('http', 8283)],
    // Up once the server has started; /v1/ready/ also waits for its start-up tasks.
    health: { port: 'http', path: '/v1/health/' },
    networks: ['frontend', 'backend', 'telemetry', 'internet'],
    enabled: always,
    internetEgress: (s) => (s.letta.internetEgress.enabled ? s.letta.internetEgress : undefined),
  },
};

/** The networks the ingress controller joins: it is a client on the frontend only. */
const INGRESS_CONTROLLER_NETWORKS: readonly NetworkId[] = ['frontend'];

/** The networks a client joins. */
export function networksOf(id: ClientId): readonly NetworkId[] {
  return id === 'ingress-controller' ? INGRESS_CONTROLLER_NETWORKS : COMPONENTS[id].networks;
}

/**
 * As in compose, two containers can connect only over a network both join. Every edge names its
 * network, so an edge whose ends do not share it is a mistake in this table.
 */
function edgeProblem(edge: EdgeDefinition): string | undefined {
  const outside = [edge.from, edge.to].filter((end) => !networksOf(end).includes(edge.network));
  if (outside.length === 0) return undefined;
  return `edge ${edge.from} -> ${edge.to}:${edge.port} runs over ${edge.network} (${NETWORKS[edge.network].purpose}), which ${outside.join(' and ')} does not join`;
}

export const EDGES: readonly EdgeDefinition[] = [
  { from: 'ingress-controller', to: 'letta', port: 'http', network: 'frontend', when: (s) => s.ingress.enabled },
  { from: 'letta', to: 'database', port: 'postgres', network: 'backend' },
  { from: 'backup', to: 'database', port: 'postgres', network: 'backend' },
  { from: 'letta', to: 'redis', port: 'redis', network: 'backend' },
  { from: 'letta', to: 'vllm', port: 'http', network: 'backend' },
  { from: 'letta', to: 'telemetry', port: 'otlp-grpc', network: 'telemetry' },
];

/** The cluster DNS service every client resolves names through. */
export const CLUSTER_DNS = {
  namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
  podLabels: { 'k8s-app': 'kube-dns' },
  ports: [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  ] as readonly PortDefinition[],
};

/** The port a URL connects to: its own, or its scheme's. */
function urlPort(text: string): number {
  const url = new URL(text);
  return url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
}

function exporterPort(exporter: Settings['telemetry']['exporter']): number | undefined {
  switch (exporter.type) {
    case 'file':
      return undefined;
    case 'clickhouse': {
      const url = new URL(exporter.endpoint);
      const defaults: Record<string, number> = { 'tcp:': 9000, 'clickhouse:': 9000, 'http:': 8123, 'https:': 8443 };
      return url.port ? Number(url.port) : defaults[url.protocol] ?? 9000;
    }
    case 'signoz':
      return Number(exporter.endpoint.split(':')[1]);
  }
}

// ---------------------------------------------------------------------------------------------
// The topology for one set of settings: only enabled components, only edges between them.

export interface DeployedComponent extends ComponentDefinition {
  readonly id: ComponentId;
  /** Labels that select this component's pods (and nothing else). */
  readonly selector: Readonly<Record<string, string>>;
}

export interface Connection {
  readonly from: ClientId;
  readonly to: DeployedComponent;
  readonly port: PortDefinition;
  readonly network: NetworkId;
}

export interface InternetAccess {
  readonly component: DeployedComponent;
  readonly ports: readonly number[];
}

export interface IngressControllerPeer {
  readonly namespaceLabels: Readonly<Record<string, string>>;
  readonly podLabels: Readonly<Record<string, string>>;
}

/** The pods that serve the entry: ingress-nginx's controller, or the Gateway's data plane. */
function entryDataPlane(settings: Settings): IngressControllerPeer {
  if (settings.ingress.entry === 'ingress-nginx') return settings.ingress.controller;
  const dataPlane = settings.ingress.gateway.dataPlane;
  // The settings schema requires it with gateway-api; settings built by hand may lack it.
  if (!dataPlane) throw new Error('topology: ingress.gateway.dataPlane is required when ingress.entry is gateway-api');
  return dataPlane;
}

export class Topology {
  readonly namespace: string;
  readonly components: readonly DeployedComponent[];
  readonly connections: readonly Connection[];
  readonly internet: readonly InternetAccess[];
  readonly ingressController: IngressControllerPeer;
  /** The connection that brings outside traffic in (the ingress controller's), when there is one. */
  readonly entry: Connection | undefined;

  constructor(settings: Settings, edges: readonly EdgeDefinition[] = EDGES) {
    const problems = edges.map(edgeProblem).filter((problem) => problem !== undefined);
    if (problems.length > 0) throw new Error(`topology: ${problems.join('; ')}`);
    this.namespace = settings.namespace;
    this.components = (Object.keys(COMPONENTS) as ComponentId[])
      .filter((id) => COMPONENTS[id].enabled(settings))
      .map((id) => ({ ...COMPONENTS[id], id, selector: selectorLabels(COMPONENTS[id].name) }));
    const deployed = new Set<ClientId>([...this.components.map((c) => c.id), 'ingress-controller']);
    this.connections = edges.filter((edge) => deployed.has(edge.from) && deployed.has(edge.to) && (edge.when ?? always)(settings)).map(
      (edge) => {
        const to = this.component(edge.to);
        return { from: edge.from, to, port: portOf(to, edge.port), network: edge.network };
      },
    );
    this.internet = this.components.flatMap((component) => {
      const egress = component.internetEgress(settings);
      if (!egress) return [];
      if (component.networks.every((network) => NETWORKS[network].internal)) {
        throw new Error(`topology: ${component.id} may reach the internet but joins only internal networks`);
      }
      return [{ component, ports: egress.ports }];
    });
    this.ingressController = entryDataPlane(settings);
    this.entry = this.connections.find((connection) => connection.from === 'ingress-controller');
  }

  component(id: ComponentId): DeployedComponent {
    const found = this.components.find((c) => c.id === id);
    if (!found) throw new Error(`topology: component ${id} is not deployed with these settings`);
    return found;
  }

  has(id: ComponentId): boolean {
    return this.components.some((c) => c.id === id);
  }

  /** Connections a component opens. */
  egressOf(id: ClientId): Connection[] {
    return this.connections.filter((c) => c.from === id);
  }

  /** Connections a component accepts. */
  ingressOf(id: ComponentId): Connection[] {
    return this.connections.filter((c) => c.to.id === id);
  }

  /** Components that resolve names: any client of another component or of the internet. */
  needsDns(id: ComponentId): boolean {
    return this.egressOf(id).length > 0 || this.internet.some((access) => access.component.id === id);
  }

  /** host:port of a component's port, as other components in the namespace address it. */
  address(id: ComponentId, portName: string): { host: string; port: number } {
    const component = this.component(id);
    return { host: component.name, port: portOf(component, portName).port };
  }

  /** http://host:port of a component's port, followed by `path`. */
  url(id: ComponentId, portName: string, path = ''): string {
    const { host, port } = this.address(id, portName);
    return `http://${host}:${port}${path}`;
  }

  /** The URL of a component's health check, as other components in the namespace ask it. */
  healthUrl(id: ComponentId): string {
    const health = healthOf(this.component(id));
    return this.url(id, health.port.name, health.path);
  }
}

export function portOf(component: ComponentDefinition, name: string): PortDefinition {
  const found = component.ports.find((p) => p.name === name);
  if (!found) throw new Error(`topology: ${component.name} has no port named ${name}`);
  return found;
}

/** A component's health check, with its port. */
export function healthOf(component: ComponentDefinition): { port: PortDefinition; path: string } {
  if (!component.health) throw new Error(`topology: ${component.name} has no health check`);
  return { port: portOf(component, component.health.port), path: component.health.path };
}

function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'letta' };
}
