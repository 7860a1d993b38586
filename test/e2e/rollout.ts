import type { Kubectl } from './kubectl';
import { lettaCall, type LettaClient } from './letta-api';

/*
 * A rolling restart under load: clients keep calling Letta through the ingress while every pod
 * of the Deployment is replaced; not one request may fail.
 */

export interface RolloutOptions {
  readonly namespace: string;
  readonly deployment: string;
  /** Bound for `kubectl rollout status`. */
  readonly timeoutMs: number;
  /** Pause between two requests of the client loop. */
  readonly intervalMs?: number;
  /** How long the clients go on after the rollout reported done (old pods still terminating). */
  readonly settleMs?: number;
  readonly log?: (line: string) => void;
  /** Runs once the restart has begun, beside the client loop; its problems join the result. */
  readonly alongside?: () => Promise<string[]>;
}

export interface RolloutResult {
  readonly requests: number;
  readonly problems: string[];
}

export async function rollingRestartUnderLoad(kubectl: Kubectl, client: LettaClient, options: RolloutOptions): Promise<RolloutResult> {
  const failures: string[] = [];
  let requests = 0;
  let running = true;
  const started = Date.now();
  // One client in a loop: each answer must be a 200 from a path that needs the database.
  const clientLoop = (async () => {
    while (running) {
      requests++;
      const at = `${((Date.now() - started) / 1000).toFixed(1)} s`;
      try {
        const response = await lettaCall(client, 'GET', '/v1/agents/?limit=1');
        if (response.status !== 200) failures.push(`${at}: status ${response.status}: ${response.body.slice(0, 120)}`);
      } catch (error) {
        failures.push(`${at}: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
    }
  })();
  const problems: string[] = [];
  try {
    await kubectl.check(['rollout', 'restart', `deployment/${options.deployment}`, '--namespace', options.namespace]);
    const alongside = options.alongside?.().catch((error: Error) => [error.message]);
    const status = await kubectl.run(
      ['rollout', 'status', `deployment/${options.deployment}`, '--namespace', options.namespace, `--timeout=${Math.round(options.timeoutMs / 1000)}s`],
      { timeoutMs: options.timeoutMs + 30_000 },
    );
    if (status.code !== 0) problems.push(`the rollout did not finish: ${status.stderr.trim() || status.stdout.trim()}`);
    options.log?.(`rollout finished after ${Math.round((Date.now() - started) / 1000)} s; clients go on while the old pods terminate`);
    await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 40_000));
    if (alongside) problems.push(...(await alongside));
  } finally {
    running = false;
    await clientLoop;
  }
  if (requests < 20) problems.push(`only ${requests} requests were made during the rollout`);
  if (failures.length > 0) problems.push(`${failures.length} of ${requests} requests failed during the rollout: ${failures.slice(0, 5).join('; ')}`);
  return { requests, problems };
}
