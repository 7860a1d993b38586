import { spawnSync } from 'node:child_process';
import type { KindOptions } from './cluster';
import type { E2eEnvironment } from './steps';

/*
 * What the e2e projects' global setup (setup.ts) hands their tests through vitest's provide/inject:
 * the cluster to create and everything around it. Plain data: it crosses into the test worker.
 */

/** The profiles the e2e installs, one vitest project each (e2e-kind, e2e-gpu). */
export type E2eProfile = 'kind' | 'gpu';
/** LETTA_K8S_E2E: `local` builds what GitHub pulls (npm run e2e:local), `github` pulls it (npm run e2e:kind). */
export type E2eFlavour = 'local' | 'github';

export interface E2eRun {
  readonly flavour: E2eFlavour;
  readonly profile: E2eProfile;
  readonly clusterName: string;
  /** Where kind writes the cluster's kubeconfig; the user's own is never touched. */
  readonly kubeconfig: string;
  /** The kind configuration of the run (kind-config.yaml, with workers or moved host ports). */
  readonly kindConfig: string;
  /** The host port that reaches the node's port 80, the ingress. */
  readonly httpPort: number;
  /** Leave the cluster running at the end (--keep, E2E_KEEP_CLUSTER=1). */
  readonly keep: boolean;
  readonly kind: KindOptions;
  /** Docker images copied onto the nodes after creation. */
  readonly preloadImages: readonly string[];
  /** The ingress data plane in front of the stack's Ingress, as the checks name it. */
  readonly ingressController: string;
  /** The Gateway API controller beside it, for the gateway-api variant; unset: the variant is not run. */
  readonly gatewayApiController?: string;
  readonly environment: E2eEnvironment;
  /** The plan's values over the profile (a cluster without a registry), under the variants' own. */
  readonly baseValuesFile?: string;
  /** The run's values file over the profile (LETTA_VALUES). */
  readonly valuesFile: string;
  /** The internet stand-in's network (local flavour): a documentation range this machine does not use. */
  readonly internet?: { readonly subnet: string; readonly address: string; readonly storeAddress: string };
}

/** What a project's tests receive: the run, or why they skip. */
export type E2eProvided = { readonly run: E2eRun } | { readonly skip: string };

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eProvided;
  }
}

/** The network of the internet side of the egress probes, and its two hosts (run.ts). */
export const INTERNET_TEST_NETWORK = 'letta-e2e-internet';
export const INTERNET_HOST = `${INTERNET_TEST_NETWORK}-host`;
export const OBJECT_STORE_HOST = `${INTERNET_TEST_NETWORK}-s3`;
/** The object store beside the cluster: rclone's `serve s3` (run.ts starts it). */
export const OBJECT_STORE = { port: 9000, bucket: 'letta-backups', dataDir: '/data' };

/**
 * Deletes the cluster and the test hosts around it; synchronous, so that it also completes in a
 * SIGINT/SIGTERM handler before vitest exits. Each part may already be gone.
 */
export function removeCluster(run: E2eRun, log: (line: string) => void = console.log): void {
  log(`deleting cluster ${run.clusterName}${run.internet ? ` and the ${INTERNET_TEST_NETWORK} hosts` : ''}`);
  const kind = spawnSync(run.kind.binary ?? 'kind', ['delete', 'cluster', '--name', run.clusterName, '--kubeconfig', run.kubeconfig], {
    env: { ...process.env, ...run.kind.env },
    encoding: 'utf8',
    timeout: 5 * 60_000,
  });
  if (kind.status !== 0) log(`could not delete cluster ${run.clusterName}: ${kind.error?.message ?? kind.stderr}`);
  if (!run.internet) return;
  // The nodes left the network with their containers; the hosts and the network remain.
  spawnSync('docker', ['rm', '--force', INTERNET_HOST, OBJECT_STORE_HOST], { stdio: 'ignore', timeout: 2 * 60_000 });
  spawnSync('docker', ['network', 'rm', INTERNET_TEST_NETWORK], { stdio: 'ignore', timeout: 2 * 60_000 });
}
