import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { load } from 'js-yaml';
import { check, type Shell } from './shell';

/*
 * The kind side of the run: what the machine needs, and the cluster's life cycle.
 */

/** Host ports that kind-config.yaml maps into the cluster, by container port. */
export function kindHostPorts(configText: string): Map<number, number> {
  const config = load(configText) as { nodes?: Array<{ extraPortMappings?: Array<{ containerPort: number; hostPort: number }> }> };
  const ports = new Map<number, number>();
  for (const node of config?.nodes ?? []) {
    for (const mapping of node.extraPortMappings ?? []) ports.set(mapping.containerPort, mapping.hostPort);
  }
  return ports;
}

export function readKindHostPorts(configPath: string): Map<number, number> {
  return kindHostPorts(readFileSync(configPath, 'utf8'));
}

/** Whether something on this machine already accepts connections on the port (loopback). */
export function portInUse(port: number, timeoutMs = 2_000): Promise<boolean> {
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
  /** Host ports the cluster will listen on. */
  readonly hostPorts: readonly number[];
  /** The kind command. @default "kind" */
  readonly kind?: string;
  readonly portInUse?: (port: number) => Promise<boolean>;
}

/** Everything the run needs that this machine lacks, one sentence each; empty when all is there. */
export async function missingPrerequisites(shell: Shell, options: PrerequisiteOptions): Promise<string[]> {
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
  const inUse = options.portInUse ?? portInUse;
  for (const port of options.hostPorts) {
    if (await inUse(port)) missing.push(`port ${port}: already in use on this machine; kind maps it to the ingress controller (kind-config.yaml)`);
  }
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

  /** Copies images from the local Docker engine onto every node: a cluster without a registry. */
  async loadImages(images: readonly string[]): Promise<void> {
    if (images.length > 0) await this.kind(['load', 'docker-image', '--name', this.name, ...images], 1_800_000);
  }

  /** The Docker container of the control-plane node, where the kubelet keeps pod volumes. */
  get controlPlaneContainer(): string {
    return `${this.name}-control-plane`;
  }

  async delete(): Promise<void> {
    await this.kind(['delete', 'cluster', '--name', this.name, '--kubeconfig', this.kubeconfig], 300_000);
  }
}
