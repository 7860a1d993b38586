import { join } from 'node:path';
import { inject } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import { GATEWAY_API_CRDS_DIR, gatewayApiCrds, TRAEFIK_MANIFEST } from '../../tools/fixtures';
import { KindCluster } from './cluster';
import type { IngressTarget } from './http';
import { Kubectl } from './kubectl';
import { MINUTE } from '../../tools/support';
import { type E2eRun, INTERNET_HOST, INTERNET_TEST_NETWORK, OBJECT_STORE, OBJECT_STORE_HOST, removeCluster } from './plan';
import { settlePodNetwork } from './pod-network';
import { waitForWorkloads } from './readiness';
import { check, processShell } from './shell';
import { installIngressNginx, type StepContext } from './steps';

/*
 * The test side of an e2e project: the run the global setup planned (setup.ts), the cluster's
 * life around the project's tests, and how a check reports its problems.
 */

export const ROOT = join(__dirname, '..', '..');

// A worker whose vitest has gone (a signal: setup.ts deletes the cluster) stops instead of going on against nothing.
process.once('disconnect', () => process.exit(130));

const started = Date.now();
/** Progress lines prefixed with the time since the project's tests started. */
export function log(line: string): void {
  const elapsed = Math.round((Date.now() - started) / 1000);
  console.log(`[e2e ${String(Math.floor(elapsed / 60)).padStart(2, '0')}:${String(elapsed % 60).padStart(2, '0')}] ${line}`);
}

/** The run planned for this project, or why its tests skip. */
export function plannedRun(): { run?: E2eRun; skip?: string } {
  const provided = inject('e2e');
  return 'run' in provided ? { run: provided.run } : { skip: provided.skip };
}

/** A check passes when it found no problem; otherwise its problems are the failure message, one a line. */
export function noProblems(problems: readonly string[]): void {
  if (problems.length > 0) throw new Error(problems.join('\n'));
}

/** What an earlier check made for the later ones; a clear failure when it did not. */
export function madeBy<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} failed or did not run, and this check needs what it made`);
  return value;
}

export interface RunningCluster {
  readonly cluster: KindCluster;
  readonly context: StepContext;
  readonly ingress: (host: string) => IngressTarget;
}

/** The run's settings and topology, as the stack is synthesized with them. */
export function runSettings(run: E2eRun | undefined, profile: string) {
  const settings = loadSettings({ profile, valuesFile: run?.valuesFile });
  return { settings, topology: new Topology(settings) };
}

/** Creates the run's cluster and what surrounds it; `stopCluster` undoes it. */
export async function startCluster(run: E2eRun): Promise<RunningCluster> {
  const cluster = new KindCluster(processShell, run.clusterName, run.kubeconfig, run.kind);
  const kubectl = new Kubectl(processShell, run.kubeconfig);
  const context: StepContext = { kubectl, ...runSettings(run, run.profile), log, environment: run.environment };
  log(`creating kind cluster ${cluster.name}${run.kind.nodeImage ? ` from ${run.kind.nodeImage}` : ''}`);
  await cluster.create(run.kindConfig);
  if (run.flavour === 'local') {
    await settlePodNetwork(kubectl, { log });
    await startInternetHosts(run, cluster);
  }
  return { cluster, context, ingress: (host) => ({ host, address: '127.0.0.1', port: run.httpPort }) };
}

export function stopCluster(run: E2eRun): void {
  if (!run.keep) removeCluster(run, log);
}

/** Installs the ingress data plane and waits until it serves: ingress-nginx on GitHub, Traefik here. */
export async function installIngress(run: E2eRun, context: StepContext): Promise<void> {
  log(`installing ${run.ingressController}`);
  if (run.flavour === 'github') return installIngressNginx(context, 5 * MINUTE);
  // Traefik's Gateway provider starts only once the Gateway API CRDs are served. Server-side:
  // the HTTPRoute CRD is too large for client-side apply's last-applied annotation.
  await context.kubectl.check(['apply', '--server-side', '--filename', GATEWAY_API_CRDS_DIR]);
  const crds = gatewayApiCrds().filter((object) => object.kind === 'CustomResourceDefinition').map((crd) => `crd/${crd.metadata.name}`);
  await context.kubectl.check(['wait', '--for=condition=Established', '--timeout=120s', ...crds], { timeoutMs: 3 * MINUTE });
  await context.kubectl.check(['apply', '--filename', TRAEFIK_MANIFEST]);
  await waitForWorkloads(context.kubectl, 'traefik', { timeoutMs: 5 * MINUTE, log });
}

/** Listens on each port and accepts every connection: all an egress probe needs. */
const LISTENER = (ports: readonly number[]) => `import socket, threading
def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    while True:
        s.accept()[0].close()
for port in ${JSON.stringify(ports)}:
    threading.Thread(target=serve, args=(port,)).start()
`;

/**
 * The internet side of the egress probes: a host of the run's own on a Docker network over a
 * documentation range, which the policies treat as public like any address outside the private
 * ranges, and beside it the S3 store of the backups' s3 target. Every node joins that network, so
 * pods reach the hosts through their node; no packet leaves the machine.
 */
async function startInternetHosts(run: E2eRun, cluster: KindCluster): Promise<void> {
  const internet = run.internet!;
  const store = run.environment.objectStore!;
  const docker = (args: string[]) => check(processShell, 'docker', args, { timeoutMs: 2 * MINUTE });
  await processShell.run('docker', ['rm', '--force', INTERNET_HOST, OBJECT_STORE_HOST]);
  await processShell.run('docker', ['network', 'rm', INTERNET_TEST_NETWORK]);
  await docker(['network', 'create', '--subnet', internet.subnet, INTERNET_TEST_NETWORK]);
  // Every port the stack's internet egress names in these runs: HTTPS, and the object store's.
  const listener = LISTENER([443, OBJECT_STORE.port]);
  await docker(['run', '--detach', '--name', INTERNET_HOST, '--network', INTERNET_TEST_NETWORK, '--ip', internet.address, run.environment.pythonImage, 'python3', '-c', listener]);
  // The bucket is a directory of the served tree; the keys reach rclone as its own variables, not arguments.
  await docker([
    'run', '--detach', '--name', OBJECT_STORE_HOST, '--network', INTERNET_TEST_NETWORK, '--ip', internet.storeAddress,
    '--env', `LETTA_E2E_S3_KEYS=${store.accessKeyId},${store.secretAccessKey}`,
    '--entrypoint', 'sh', store.image!, '-c',
    `mkdir -p ${store.dataDir}/${store.bucket} && exec rclone serve s3 --addr :${OBJECT_STORE.port} --auth-key "$LETTA_E2E_S3_KEYS" ${store.dataDir}`,
  ]);
  // Every node: a probe pod may run on any of them.
  for (const node of await cluster.nodeContainers()) await docker(['network', 'connect', INTERNET_TEST_NETWORK, node]);
}
