import { setTimeout } from 'node:timers/promises';
import pWaitFor from 'p-wait-for';
import { type Kubectl, KINDS, labelSelector } from './kubectl';
import { MINUTE } from '../../tools/support';
import type { KubeObject } from '../../tools/kube';
import { redact, secretValues } from './logs';
import type { CommandResult } from './shell';

/*
 * Waiting for workloads with the user's kubectl commands, and saying what is not ready when the
 * wait runs out, in the words of the commands a user would run next (`kubectl describe`, logs).
 */

/** Calls `attempt` every `intervalMs` until it returns a value; undefined when `timeoutMs` runs out first. */
export function pollUntil<T>(attempt: () => Promise<T | undefined>, options: { timeoutMs: number; intervalMs: number }): Promise<T | undefined> {
  return pWaitFor<T | undefined>(
    async () => {
      const value = await attempt();
      return value === undefined ? false : pWaitFor.resolveWith(value);
    },
    { interval: options.intervalMs, timeout: { milliseconds: options.timeoutMs, fallback: () => undefined } },
  );
}

const WORKLOAD_KINDS = [KINDS.deployment, KINDS.statefulSet, KINDS.daemonSet, KINDS.job];

export interface WorkloadStatus {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly ready: boolean;
  /** What kubectl said last, e.g. `deployment "letta-server" successfully rolled out`. */
  readonly detail: string;
  /** Labels that select the workload's pods. */
  readonly selector: Readonly<Record<string, string>>;
}

/**
 * The user's command that waits for one workload: `kubectl rollout status` for a Deployment,
 * StatefulSet or DaemonSet, `kubectl wait --for=condition=Complete` for a Job.
 */
function waitCommand(kind: string, name: string, namespace: string, timeoutMs: number): string[] {
  const timeout = `--timeout=${Math.max(1, Math.ceil(timeoutMs / 1_000))}s`;
  const resource = `${kind.toLowerCase()}/${name}`;
  return kind === 'Job'
    ? ['wait', '--for=condition=Complete', resource, '--namespace', namespace, timeout]
    : ['rollout', 'status', resource, '--namespace', namespace, timeout];
}

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

/** Whether the pod's Ready condition is True. */
export const podReady = (pod: KubeObject): boolean => (pod.status?.conditions ?? []).some((c: KubeObject) => c.type === 'Ready' && c.status === 'True');
const containerStatuses = (pod: KubeObject): KubeObject[] => [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];

/** One line per pod: its node and address, phase, readiness, and why each container is not running or ready. */
export function describePod(pod: KubeObject): string {
  const status = pod.status ?? {};
  const parts = [`${status.phase ?? 'Unknown'}${podReady(pod) ? ', ready' : ', not ready'}`];
  const scheduling = (status.conditions ?? []).find((c: KubeObject) => c.type === 'PodScheduled' && c.status === 'False');
  if (scheduling) parts.push(`unschedulable: ${scheduling.message ?? scheduling.reason}`);
  for (const { name, state = {}, ready, restartCount } of containerStatuses(pod)) {
    const restarts = restartCount ? `, ${restartCount} restarts` : '';
    const { waiting, terminated } = state;
    if (waiting) parts.push(`${name} waiting: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}${restarts}`);
    else if (terminated && terminated.exitCode !== 0) parts.push(`${name} terminated: ${terminated.reason} exit ${terminated.exitCode}${restarts}`);
    else if (state.running && !ready) parts.push(`${name} running, not ready${restarts}`);
  }
  const node = pod.spec?.nodeName ? ` on ${pod.spec.nodeName}${status.podIP ? ` (${status.podIP})` : ''}` : '';
  return `pod ${pod.metadata.name}${node}: ${parts.join('; ')}`;
}

export class NotReadyError extends Error {
  constructor(
    readonly namespace: string,
    readonly report: string,
  ) {
    super(`workloads in namespace ${namespace} did not become ready in time:\n${report}`);
    this.name = 'NotReadyError';
  }
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** How often to look for the first workload of an empty namespace. */
  readonly intervalMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Workloads not waited for, as `Kind/name` (one that cannot become ready here, say). */
  readonly notWaitedFor?: readonly string[];
}

/**
 * Waits, one after the other within one overall deadline, until every workload in the namespace
 * (at least one must exist) has rolled out or, for a Job, completed. A workload deleted meanwhile
 * (a finished Job that cleans up after itself) is not waited for. On time-out, throws
 * NotReadyError with the report of what is not ready and why.
 */
export async function waitForWorkloads(kubectl: Kubectl, namespace: string, options: WaitOptions): Promise<WorkloadStatus[]> {
  const deadline = Date.now() + options.timeoutMs;
  const workloads = await pollUntil(
    async () => {
      const found = (await kubectl.list(WORKLOAD_KINDS, namespace)).filter((o) => !options.notWaitedFor?.includes(`${o.kind}/${o.metadata.name}`));
      return found.length > 0 ? found : undefined;
    },
    { timeoutMs: options.timeoutMs, intervalMs: options.intervalMs ?? 5_000 },
  );
  if (!workloads) throw new NotReadyError(namespace, `no Deployment, StatefulSet, DaemonSet or Job exists in ${namespace}`);
  options.log?.(`waiting in ${namespace}: ${workloads.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  const statuses: WorkloadStatus[] = [];
  for (const object of workloads) {
    const { kind } = object;
    const name = object.metadata.name as string;
    let result: CommandResult | undefined;
    // A Deployment slower than its progressDeadlineSeconds (a first image pull, migrations) still
    // rolls out: kubectl gives up on it at once, the wait goes on until the deadline.
    while (!result || (result.code !== 0 && /exceeded its progress deadline/.test(result.stderr) && Date.now() < deadline)) {
      if (result) await setTimeout(options.intervalMs ?? 5_000);
      const remaining = deadline - Date.now();
      // kubectl's own --timeout ends it; the kill after a further minute only guards against a hang.
      result = await kubectl.run(waitCommand(kind, name, namespace, remaining), { timeoutMs: Math.max(remaining, 1_000) + 60_000 });
    }
    if (result.code !== 0 && /\(NotFound\)/.test(result.stderr)) continue;
    const detail = [lastLine(result.stdout), lastLine(result.stderr)].filter(Boolean).join('; ');
    statuses.push({ kind, name, namespace, ready: result.code === 0, detail, selector: object.spec?.selector?.matchLabels ?? {} });
  }
  if (statuses.every((s) => s.ready)) return statuses;
  throw new NotReadyError(namespace, (await notReadyEvidence(kubectl, namespace, statuses.filter((s) => !s.ready))).join('\n'));
}

/**
 * For each workload that is not ready: kubectl's last words, `kubectl describe` of the workload
 * (its conditions say why pods are refused) and of its pods (states, events), and the last lines
 * of each container that runs without becoming ready. The namespace's Secret values are redacted:
 * these logs have not been scanned yet.
 */
async function notReadyEvidence(kubectl: Kubectl, namespace: string, stuck: readonly WorkloadStatus[]): Promise<string[]> {
  const hidden = (await secretValues(kubectl, [namespace])).map((secret) => secret.value);
  const indented = (text: string, prefix = '  ') => redact(text.trimEnd(), hidden).split('\n').map((line) => `${prefix}${line}`);
  const describe = async (...what: string[]) => {
    const result = await kubectl.run(['describe', ...what, '--namespace', namespace], { timeoutMs: MINUTE });
    return result.stdout.trim() === '' ? [] : indented(result.stdout);
  };
  const lines: string[] = [];
  for (const workload of stuck) {
    lines.push(`${workload.kind} ${namespace}/${workload.name} is not ready: ${workload.detail}`, ...(await describe(`${workload.kind.toLowerCase()}/${workload.name}`)));
    const pods = Object.keys(workload.selector).length > 0 ? await kubectl.pods(workload.selector, namespace) : [];
    if (pods.length === 0) lines.push('  no pods');
    else lines.push(...(await describe('pods', '--selector', labelSelector(workload.selector))));
    for (const pod of pods) {
      for (const container of containerStatuses(pod).filter((c) => c.state?.running && !c.ready)) {
        const log = await kubectl.logs(pod, { container: container.name, tailLines: 5 });
        lines.push(`  log of ${pod.metadata.name} container ${container.name} (last 5 lines):`, ...indented(log.text, '    | '));
      }
    }
  }
  return lines;
}
