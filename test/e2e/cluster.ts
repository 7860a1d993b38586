import { connect } from 'node:net';
import { dump, load } from 'js-yaml';
import { check, type Shell } from './shell';
import { freePorts } from '../../tools/support';

/*
 * The kind side of the run: what the machine needs, and the cluster's life cycle.
 */

interface KindConfig {
  nodes?: Array<{ extraPortMappings?: Array<{ containerPort: number; hostPort: number }> }>;
}

/** Host ports that kind-config.yaml maps into the cluster, by container port. */
function kindHostPorts(configText: string): Map<number, number> {
  const config = load(configText) as KindConfig;
  const ports = new Map<number, number>();
  for (const node of config?.nodes ?? []) {
    for (const mapping of node.extraPortMappings ?? []) ports.set(mapping.containerPort, mapping.hostPort);
  }
  return ports;
}

export interface RunConfig {
  /** The configuration to create the cluster with: the user's text when no port had to move. */
  readonly text: string;
  /** Host port by node port, as the run's cluster maps them. */
  readonly hostPorts: Map<number, number>;
  /** One sentence per host port that was taken and what replaced it. */
  readonly moved: readonly string[];
}

/**
 * The user's kind configuration with every host port that something on this machine already holds
 * (a web server, another cluster) mapped to a free one instead: the run reaches the ingress through
 * whichever host port the cluster got, and a busy port 80 no longer stops it.
 */
export async function withFreeHostPorts(configText: string): Promise<RunConfig> {
  const config = load(configText) as KindConfig;
  const moved: string[] = [];
  for (const node of config?.nodes ?? []) {
    for (const mapping of node.extraPortMappings ?? []) {
      if (!(await isPortInUse(mapping.hostPort))) continue;
      const [free] = await freePorts(1);
      moved.push(`host port ${mapping.hostPort} is in use on this machine; the node's port ${mapping.containerPort} maps to host port ${free} instead`);
      mapping.hostPort = free;
    }
  }
  const text = moved.length > 0 ? dump(config) : configText;
  return { text, hostPorts: kindHostPorts(text), moved };
}

/** Whether something on this machine already accepts connections on the port (loopback). */
function isPortInUse(port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: timeoutMs });
    const done = (inUse: boolean) => {
      socket.destroy();
      resolve(inUse);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

export interface PrerequisiteOptions {
  /** The kind command. @default "kind" */
  readonly kind?: string;
}

/** Everything the run needs that this machine lacks, one sentence each; empty when all is there. */
export async function missingPrerequisites(shell: Shell, options: PrerequisiteOptions = {}): Promise<string[]> {
  const missing: string[] = [];
  const [docker, kind, kubectl] = await Promise.all([
    shell.run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 30_000 }),
    shell.run(options.kind ?? 'kind', ['version'], { timeoutMs: 30_000 }),
    shell.run('kubectl', ['version', '--client', '--output', 'json'], { timeoutMs: 30_000 }),
  ]);
  if (docker.code === 127) missing.push('docker: the docker CLI is not on PATH (install Docker Engine or Docker Desktop)');
  else if (docker.code !== 0) {
    const reason = (docker.stderr.trim().split('\n').pop() ?? '').trim();
    missing.push(`docker: no Docker daemon answers (\`docker info\` failed${reason ? `: ${reason}` : ''}); start Docker`);
  }
  if (kind.code !== 0) missing.push('kind: not on PATH (https://kind.sigs.k8s.io/docs/user/quick-start/#installation; the CI pins the version in .github/workflows/e2e.yml)');
  if (kubectl.code !== 0) missing.push('kubectl: not on PATH (https://kubernetes.io/docs/tasks/tools/)');
  return missing;
}

export interface KindOptions {
  /** The kind command. @default "kind" on PATH */
  readonly binary?: string;
  /** Node image. @default kind's own default */
  readonly nodeImage?: string;
  /** Environment for kind's calls (a docker shim first on PATH, for instance). */
  readonly env?: Readonly<Record<string, string>>;
}

export class KindCluster {
  constructor(
    private readonly shell: Shell,
    readonly name: string,
    readonly kubeconfig: string,
    private readonly options: KindOptions = {},
  ) {}

  private kind(args: readonly string[], timeoutMs: number): Promise<string> {
    return check(this.shell, this.options.binary ?? 'kind', args, { timeoutMs, env: this.options.env });
  }

  /** Creates the cluster and writes its kubeconfig to `kubeconfig`, leaving the user's own untouched. */
  async create(configPath: string): Promise<void> {
    const image = this.options.nodeImage ? ['--image', this.options.nodeImage] : [];
    await this.kind(['create', 'cluster', '--name', this.name, '--config', configPath, '--kubeconfig', this.kubeconfig, ...image, '--wait', '180s'], 600_000);
  }

  /** Copies images from the local Docker engine onto `nodes` (default: every node): a cluster without a registry. */
  async loadImages(images: readonly string[], nodes?: readonly string[]): Promise<void> {
    const only = nodes ? ['--nodes', nodes.join(',')] : [];
    if (images.length > 0) await this.kind(['load', 'docker-image', '--name', this.name, ...only, ...images], 1_800_000);
  }

  /** The Docker containers of all nodes, which are also the nodes' names. */
  async nodeContainers(): Promise<string[]> {
    return (await this.kind(['get', 'nodes', '--name', this.name], 60_000)).split('\n').map((line) => line.trim()).filter(Boolean);
  }

  /** The Docker container of the control-plane node, where the kubelet keeps pod volumes. */
  get controlPlaneContainer(): string {
    return `${this.name}-control-plane`;
  }

  async delete(): Promise<void> {
    await this.kind(['delete', 'cluster', '--name', this.name, '--kubeconfig', this.kubeconfig], 300_000);
  }
}
