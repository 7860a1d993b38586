/**
 * End-to-end test on kind (issue #5): `npm run e2e:kind [-- --keep]`.
 *
 * Creates a kind cluster from kind-config.yaml, installs ingress-nginx, applies `npx cdk8s synth`'s
 * dist/ for the kind profile, waits for every workload and then checks, through the ingress and
 * from inside the cluster: Letta's health, an idle SSE stream, an idle WebSocket, the
 * NetworkPolicies and the database's persistence. The cluster is deleted at the end, also on
 * failure, unless --keep or E2E_KEEP_CLUSTER=1. E2E_CLUSTER_NAME names the cluster (CI uses it to
 * collect diagnostics).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../lib/config/load';
import { available } from '../support/requirements';
import { Topology } from '../../lib/topology';
import { KindCluster, missingPrerequisites, readKindHostPorts } from './cluster';
import { Kubectl } from './kubectl';
import { E2E_NAMESPACE } from './manifests';
import { processShell, type Shell } from './shell';
import {
  applyStack,
  databasePersistence,
  deployStreamBackend,
  healthThroughIngress,
  STREAM_IDLE_SECONDS,
  installIngressNginx,
  probeCases,
  removeStreamBackend,
  runNetworkProbes,
  type StepContext,
  streamProblems,
  synthesize,
} from './steps';
import { waitForWorkloads } from './readiness';

const PROFILE = 'kind';
const MINUTE = 60_000;

export interface RunOptions {
  readonly shell: Shell;
  readonly repoRoot: string;
  /** Leave the cluster running at the end. */
  readonly keep: boolean;
  readonly clusterName: string;
  /** Where kind writes the cluster's kubeconfig; the user's own is never touched. */
  readonly kubeconfig: string;
  readonly log: (line: string) => void;
  /** @default a connection attempt on loopback */
  readonly portInUse?: (port: number) => Promise<boolean>;
}

/** Progress lines prefixed with the time since the start. */
export function progressLog(write: (line: string) => void = console.log, started = Date.now()): (line: string) => void {
  return (line) => {
    const elapsed = Math.round((Date.now() - started) / 1000);
    write(`[e2e ${String(Math.floor(elapsed / 60)).padStart(2, '0')}:${String(elapsed % 60).padStart(2, '0')}] ${line}`);
  };
}

interface CheckResult {
  readonly name: string;
  readonly problems: readonly string[];
}

/**
 * The whole run. Returns the exit code: 0 when every check passed or the machine cannot run kind
 * (a skip, unless LETTA_K8S_REQUIRE_ALL=1), 1 when a step or check failed.
 */
export async function runKindE2e(options: RunOptions): Promise<number> {
  const { shell, log } = options;
  const step = async <T>(title: string, run: () => Promise<T>): Promise<T> => {
    log(`${title} ...`);
    const from = Date.now();
    const result = await run();
    log(`${title}: done in ${Math.round((Date.now() - from) / 1000)} s`);
    return result;
  };

  const kindConfig = join(options.repoRoot, 'kind-config.yaml');
  const hostPorts = readKindHostPorts(kindConfig);
  const httpPort = hostPorts.get(80);
  if (httpPort === undefined) throw new Error(`${kindConfig} maps no host port to the node's port 80`);
  const missing = await missingPrerequisites(shell, { hostPorts: [...hostPorts.values()], portInUse: options.portInUse });
  if (!available('e2e:kind', missing.length ? `this machine lacks:\n${missing.map((m) => `  - ${m}`).join('\n')}` : undefined)) {
    return 0;
  }

  const settings = loadSettings({ profile: PROFILE });
  const topology = new Topology(settings);
  const { dir, objects } = await step('synthesizing dist/ (npx cdk8s synth, kind profile)', () =>
    synthesize(shell, options.repoRoot, PROFILE),
  );
  const cluster = new KindCluster(shell, options.clusterName, options.kubeconfig);
  const kubectl = new Kubectl(shell, options.kubeconfig);
  const context: StepContext = { kubectl, settings, topology, log };

  try {
    await step(`creating kind cluster ${cluster.name}`, () => cluster.create(kindConfig));
    await step('installing ingress-nginx', () => installIngressNginx(context, 5 * MINUTE));
    await step('applying dist/', () => applyStack(context, dir));
    const backendHost = await step('deploying the stream test backend', () => deployStreamBackend(context, objects));
    await step(`waiting for the stack in namespace ${topology.namespace}`, () =>
      // The first start pulls Letta's image and runs its migrations.
      waitForWorkloads(kubectl, topology.namespace, { timeoutMs: 20 * MINUTE, log }),
    );
    await step(`waiting for the test backend in namespace ${E2E_NAMESPACE}`, () =>
      waitForWorkloads(kubectl, E2E_NAMESPACE, { timeoutMs: 5 * MINUTE, log }),
    );
    const results = await runChecks(context, { host: settings.ingress.host, backendHost, port: httpPort });
    await step('removing the test backend', () => removeStreamBackend(kubectl));
    const failed = results.filter((r) => r.problems.length > 0);
    log(`${results.length - failed.length} passed, ${failed.length} failed`);
    return failed.length === 0 ? 0 : 1;
  } catch (error) {
    log(`FAILED: ${(error as Error).message}`);
    return 1;
  } finally {
    if (options.keep) {
      log(`keeping cluster ${cluster.name}: kubectl --kubeconfig ${cluster.kubeconfig}; delete it with \`kind delete cluster --name ${cluster.name}\``);
    } else {
      await step(`deleting cluster ${cluster.name}`, () => cluster.delete()).catch((error: Error) => log(`could not delete the cluster: ${error.message}`));
    }
  }
}

/** The checks through the ingress and from inside the cluster; each runs whatever the others found. */
async function runChecks(context: StepContext, ingress: { host: string; backendHost: string; port: number }): Promise<CheckResult[]> {
  const { log } = context;
  const results: CheckResult[] = [];
  const record = (name: string, problems: readonly string[]) => {
    results.push({ name, problems });
    log(problems.length === 0 ? `PASS ${name}` : `FAIL ${name}\n${problems.map((p) => `    ${p}`).join('\n')}`);
  };
  const guarded = async (names: readonly string[], run: () => Promise<ReadonlyArray<readonly string[]>>) => {
    log(`checking: ${names.join('; ')} ...`);
    try {
      (await run()).forEach((problems, index) => record(names[index], problems));
    } catch (error) {
      names.forEach((name) => record(name, [(error as Error).message]));
    }
  };
  const target = (host: string) => ({ host, address: '127.0.0.1', port: ingress.port });

  await guarded(['health through the ingress'], async () => [await healthThroughIngress(target(ingress.host), 5 * MINUTE)]);
  await guarded(
    [
      `SSE stream through the ingress stays open while idle ${STREAM_IDLE_SECONDS} s and is not buffered`,
      `WebSocket through the ingress echoes after ${STREAM_IDLE_SECONDS} s idle`,
    ],
    async () => {
      const { sse, webSocket } = await streamProblems(target(ingress.backendHost));
      return [sse, webSocket];
    },
  );
  await guarded(['NetworkPolicies from throwaway pods'], async () => {
    const verdicts = await runNetworkProbes(context, probeCases(context), 4 * MINUTE);
    verdicts.filter((v) => v.ok).forEach((v) => log(`  ok: ${v.message}`));
    return [verdicts.filter((v) => !v.ok).map((v) => v.message)];
  });
  await guarded(['database persistence across a pod deletion'], async () => [await databasePersistence(context, 5 * MINUTE)]);
  return results;
}

async function main(): Promise<number> {
  const shell = processShell;
  const keep = process.argv.includes('--keep') || process.env.E2E_KEEP_CLUSTER === '1';
  const clusterName = process.env.E2E_CLUSTER_NAME || `letta-e2e-${Date.now().toString(36)}`;
  const workDir = mkdtempSync(join(tmpdir(), 'letta-e2e-'));
  const kubeconfig = join(workDir, 'kubeconfig');
  const log = progressLog();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping${keep ? '' : ` and deleting cluster ${clusterName}`}`);
      const cleanUp = keep ? Promise.resolve() : new KindCluster(shell, clusterName, kubeconfig).delete();
      void cleanUp.catch(() => undefined).finally(() => process.exit(130));
    });
  }
  try {
    return await runKindE2e({ shell, repoRoot: join(__dirname, '..', '..'), keep, clusterName, kubeconfig, log });
  } finally {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
