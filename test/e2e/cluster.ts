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
  readonly portInUse?: (port: number) => Promise<boolean>;
}

/** Everything the run needs that this machine lacks, one sentence each; empty when all is there. */
export async function missingPrerequisites(shell: Shell, options: PrerequisiteOptions): Promise<string[]> {
  const missing: string[] = [];
  const [docker, kind, kubectl] = await Promise.all([
    shell.run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 30_000 }),
    shell.run('kind', ['version'], { timeoutMs: 30_000 }),
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

export class KindCluster {
  constructor(
    private readonly shell: Shell,
    readonly name: string,
    readonly kubeconfig: string,
  ) {}

  /** Creates the cluster and writes its kubeconfig to `kubeconfig`, leaving the user's own untouched. */
  async create(configPath: string): Promise<void> {
    await check(
      this.shell,
      'kind',
      ['create', 'cluster', '--name', this.name, '--config', configPath, '--kubeconfig', this.kubeconfig, '--wait', '180s'],
      { timeoutMs: 600_000 },
    );
  }

  async delete(): Promise<void> {
    await check(this.shell, 'kind', ['delete', 'cluster', '--name', this.name, '--kubeconfig', this.kubeconfig], { timeoutMs: 300_000 });
  }
}
