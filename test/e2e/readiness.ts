import { setTimeout } from 'node:timers/promises';
import pWaitFor from 'p-wait-for';
import { type Kubectl, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { redact, secretValues } from './logs';
import type { CommandResult } from './shell';

/*
 * Waiting for workloads, and saying precisely what is not ready when the wait runs out: the
 * workload, its pods' states and the events about either, the last lines of each container that
 * runs without becoming ready, and the node agents (CNI, kube-proxy) on the nodes of those pods.
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

export const WORKLOAD_KINDS = [KINDS.deployment, KINDS.statefulSet, KINDS.daemonSet, KINDS.job];

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
export function waitCommand(kind: string, name: string, namespace: string, timeoutMs: number): string[] {
  const timeout = `--timeout=${Math.max(1, Math.ceil(timeoutMs / 1_000))}s`;
  const resource = `${kind.toLowerCase()}/${name}`;
  return kind === 'Job'
    ? ['wait', '--for=condition=Complete', resource, '--namespace', namespace, timeout]
    : ['rollout', 'status', resource, '--namespace', namespace, timeout];
}

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

const matches = (labels: Record<string, string> | undefined, selector: Readonly<Record<string, string>>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);
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

const eventTime = (event: KubeObject): string => event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata?.creationTimestamp ?? '';

/** Each workload that is not ready, with its pods and the last events about it, its ReplicaSets and its pods. */
function notReadyReport(statuses: readonly WorkloadStatus[], pods: readonly KubeObject[], events: readonly KubeObject[]): string[] {
  return statuses
    .filter((workload) => !workload.ready)
    .flatMap((workload) => {
      const own = pods.filter((pod) => matches(pod.metadata.labels, workload.selector));
      const podNames = new Set(own.map((pod) => pod.metadata.name as string));
      const about = events
        .filter(({ involvedObject: { kind, name } = {} }) =>
          kind === workload.kind ? name === workload.name : kind === 'ReplicaSet' ? String(name).startsWith(`${workload.name}-`) : kind === 'Pod' && podNames.has(name),
        )
        .sort((a, b) => eventTime(a).localeCompare(eventTime(b)))
        .slice(-10);
      return [
        `${workload.kind} ${workload.namespace}/${workload.name} is not ready: ${workload.detail}`,
        ...(own.length === 0 ? ['  no pods'] : own.map((pod) => `  ${describePod(pod)}`)),
        ...(about.length === 0 ? ['  no events'] : []),
        ...about.map(
          ({ type, reason, involvedObject, message, count }) =>
            `  event ${type} ${reason} ${involvedObject.kind.toLowerCase()}/${involvedObject.name}: ${String(message ?? '').trim()}${count > 1 ? ` (x${count})` : ''}`,
        ),
      ];
    });
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
  const [pods, events] = await Promise.all([kubectl.list(KINDS.pod, namespace), kubectl.list(KINDS.event, namespace)]);
  const stuck = pods.filter((pod) => !podReady(pod) && statuses.some((s) => !s.ready && matches(pod.metadata.labels, s.selector)));
  const evidence = await stuckEvidence(kubectl, namespace, stuck).catch((error: unknown) => [`  (no further evidence: ${String(error)})`]);
  throw new NotReadyError(namespace, [...notReadyReport(statuses, pods, events), ...evidence].join('\n'));
}

async function logTail(kubectl: Kubectl, pod: KubeObject, container: string, lines: number, indent: string, hidden: readonly string[] = []): Promise<string[]> {
  const log = await kubectl.logs(pod, { container, tailLines: lines });
  const text = log.ok ? log.text.trimEnd() : `(no log: ${log.text})`;
  const title = `${indent.slice(2)}log of ${pod.metadata.name} container ${container} (last ${lines} lines):`;
  return [title, ...(text ? text.split('\n') : ['(empty log)']).map((line) => `${indent}| ${redact(line, hidden)}`)];
}

/**
 * What stuck pods show beyond their status: the last 5 log lines of each container that runs but
 * is not ready (the namespace's Secret values redacted: that log has not been scanned yet), and on
 * each of their nodes, the kube-system pods with the last 10 log lines of the DaemonSet ones.
 */
async function stuckEvidence(kubectl: Kubectl, namespace: string, stuck: readonly KubeObject[]): Promise<string[]> {
  const running = stuck.flatMap((pod) => containerStatuses(pod).filter((c) => c.state?.running && !c.ready).map((c) => ({ pod, container: c.name as string })));
  const nodes = [...new Set(stuck.map((pod) => pod.spec?.nodeName).filter((node): node is string => typeof node === 'string'))];
  if (running.length === 0 && nodes.length === 0) return [];
  const hidden = (await secretValues(kubectl, [namespace])).map((secret) => secret.value);
  const lines: string[] = [];
  for (const { pod, container } of running) lines.push(...(await logTail(kubectl, pod, container, 5, '  ', hidden)));
  const agents = nodes.length > 0 ? await kubectl.list(KINDS.pod, 'kube-system') : [];
  for (const node of nodes) {
    const here = agents.filter((pod) => pod.spec?.nodeName === node);
    lines.push(`node ${node}: ${here.length} pods in kube-system`);
    for (const pod of here) {
      lines.push(`  ${describePod(pod)}`);
      const daemon = pod.metadata.ownerReferences?.some((owner: KubeObject) => owner.kind === 'DaemonSet');
      for (const container of daemon ? (pod.spec.containers ?? []) : []) lines.push(...(await logTail(kubectl, pod, container.name, 10, '    ')));
    }
  }
  return lines;
}
