import pWaitFor from 'p-wait-for';
import { type Kubectl, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { redact, secretValues } from './logs';

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
  /** Short account of the counts, e.g. "0/1 available". */
  readonly detail: string;
  /** Labels that select the workload's pods. */
  readonly selector: Readonly<Record<string, string>>;
}

/** Whether a Deployment, StatefulSet, DaemonSet or Job has finished rolling out (or completed). */
export function workloadStatus(object: KubeObject): WorkloadStatus {
  const { kind } = object;
  const spec = object.spec ?? {};
  const status = object.status ?? {};
  const base = {
    kind,
    name: object.metadata.name as string,
    namespace: object.metadata.namespace as string,
    selector: (spec.selector?.matchLabels ?? {}) as Record<string, string>,
  };
  const observed = (status.observedGeneration ?? 0) >= (object.metadata.generation ?? 1);
  const pending = (detail: string) => ({ ...base, ready: false, detail });
  switch (kind) {
    case 'Deployment': {
      const desired = spec.replicas ?? 1;
      const updated = status.updatedReplicas ?? 0;
      const available = status.availableReplicas ?? 0;
      const total = status.replicas ?? 0;
      const detail = `${available}/${desired} available, ${updated}/${desired} updated`;
      if (!observed) return pending(`${detail}; spec change not yet observed`);
      if (total > updated) return pending(`${detail}, ${total - updated} old replicas left`);
      return { ...base, ready: updated >= desired && available >= desired, detail };
    }
    case 'StatefulSet': {
      const desired = spec.replicas ?? 1;
      const ready = status.readyReplicas ?? 0;
      const detail = `${ready}/${desired} ready`;
      if (!observed) return pending(`${detail}; spec change not yet observed`);
      if (status.updateRevision && status.currentRevision !== status.updateRevision) {
        return pending(`${detail}, ${status.updatedReplicas ?? 0}/${desired} on the new revision`);
      }
      return { ...base, ready: ready >= desired, detail };
    }
    case 'DaemonSet': {
      const desired = status.desiredNumberScheduled ?? 0;
      const available = status.numberAvailable ?? 0;
      const updated = status.updatedNumberScheduled ?? 0;
      const detail = `${available}/${desired} available, ${updated}/${desired} updated`;
      if (!observed) return pending(`${detail}; spec change not yet observed`);
      return { ...base, ready: available >= desired && updated >= desired, detail };
    }
    case 'Job': {
      const completions = spec.completions ?? 1;
      const succeeded = status.succeeded ?? 0;
      const failed = (status.conditions ?? []).find((c: KubeObject) => c.type === 'Failed' && c.status === 'True');
      if (failed) return pending(`failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim());
      return { ...base, ready: succeeded >= completions, detail: `${succeeded}/${completions} succeeded` };
    }
    default:
      throw new Error(`workloadStatus: unsupported kind ${kind}`);
  }
}

function matches(labels: Record<string, string> | undefined, selector: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([key, value]) => labels?.[key] === value);
}

const podReady = (pod: KubeObject): boolean => (pod.status?.conditions ?? []).some((c: KubeObject) => c.type === 'Ready' && c.status === 'True');

/** One line per pod: its node and address, phase, readiness, and why each container is not running or ready. */
export function describePod(pod: KubeObject): string {
  const status = pod.status ?? {};
  const ready = podReady(pod);
  const parts = [`${status.phase ?? 'Unknown'}${ready ? ', ready' : ', not ready'}`];
  const scheduling = (status.conditions ?? []).find((c: KubeObject) => c.type === 'PodScheduled' && c.status === 'False');
  if (scheduling) parts.push(`unschedulable: ${scheduling.message ?? scheduling.reason}`);
  for (const container of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
    const state = container.state ?? {};
    const restarts = container.restartCount ? `, ${container.restartCount} restarts` : '';
    if (state.waiting) {
      parts.push(`${container.name} waiting: ${state.waiting.reason}${state.waiting.message ? ` (${state.waiting.message})` : ''}${restarts}`);
    } else if (state.terminated && state.terminated.exitCode !== 0) {
      parts.push(`${container.name} terminated: ${state.terminated.reason} exit ${state.terminated.exitCode}${restarts}`);
    } else if (state.running && !container.ready) {
      parts.push(`${container.name} running, not ready${restarts}`);
    }
  }
  const node = pod.spec?.nodeName ? ` on ${pod.spec.nodeName}${status.podIP ? ` (${status.podIP})` : ''}` : '';
  return `pod ${pod.metadata.name}${node}: ${parts.join('; ')}`;
}

function eventTime(event: KubeObject): string {
  return event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata?.creationTimestamp ?? '';
}

/**
 * The report for workloads that are not ready: each with its pods and the latest events about the
 * workload, its ReplicaSets and its pods.
 */
export function notReadyReport(
  statuses: readonly WorkloadStatus[],
  pods: readonly KubeObject[],
  events: readonly KubeObject[],
  eventsPerWorkload = 10,
): string {
  const lines: string[] = [];
  for (const workload of statuses.filter((s) => !s.ready)) {
    lines.push(`${workload.kind} ${workload.namespace}/${workload.name} is not ready: ${workload.detail}`);
    const ownPods = pods.filter((pod) => matches(pod.metadata.labels, workload.selector));
    if (ownPods.length === 0) lines.push('  no pods');
    for (const pod of ownPods) lines.push(`  ${describePod(pod)}`);
    const podNames = new Set(ownPods.map((pod) => pod.metadata.name as string));
    const about = (event: KubeObject) => {
      const { kind, name } = event.involvedObject ?? {};
      return (
        (kind === workload.kind && name === workload.name) ||
        (kind === 'ReplicaSet' && typeof name === 'string' && name.startsWith(`${workload.name}-`)) ||
        (kind === 'Pod' && podNames.has(name))
      );
    };
    const own = events
      .filter(about)
      .sort((a, b) => eventTime(a).localeCompare(eventTime(b)))
      .slice(-eventsPerWorkload);
    if (own.length === 0) lines.push('  no events');
    for (const event of own) {
      const count = event.count > 1 ? ` (x${event.count})` : '';
      lines.push(
        `  event ${event.type} ${event.reason} ${event.involvedObject.kind.toLowerCase()}/${event.involvedObject.name}: ${String(event.message ?? '').trim()}${count}`,
      );
    }
  }
  return lines.join('\n');
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
  readonly intervalMs?: number;
  /** Progress lines, printed when the set of workloads still waited for changes. */
  readonly log?: (line: string) => void;
  /** Workloads not waited for, as `Kind/name` (one that cannot become ready here, say). */
  readonly notWaitedFor?: readonly string[];
}

/**
 * Waits until every workload in the namespace is ready (at least one must exist). On time-out,
 * throws NotReadyError with the report of what is not ready and why.
 */
export async function waitForWorkloads(kubectl: Kubectl, namespace: string, options: WaitOptions): Promise<WorkloadStatus[]> {
  let last: WorkloadStatus[] = [];
  let lastProgress = '';
  const done = await pollUntil(
    async () => {
      last = (await kubectl.list(WORKLOAD_KINDS, namespace)).map(workloadStatus).filter((s) => !options.notWaitedFor?.includes(`${s.kind}/${s.name}`));
      const waiting = last.filter((s) => !s.ready);
      const progress =
        last.length === 0 ? 'no workloads yet' : waiting.map((s) => `${s.kind}/${s.name} (${s.detail})`).join(', ');
      if (progress !== lastProgress && (waiting.length > 0 || last.length === 0)) options.log?.(`waiting in ${namespace}: ${progress}`);
      lastProgress = progress;
      return last.length > 0 && waiting.length === 0 ? last : undefined;
    },
    { timeoutMs: options.timeoutMs, intervalMs: options.intervalMs ?? 5_000 },
  );
  if (done) return done;
  if (last.length === 0) throw new NotReadyError(namespace, `no Deployment, StatefulSet, DaemonSet or Job exists in ${namespace}`);
  const [pods, events] = await Promise.all([kubectl.list(KINDS.pod, namespace), kubectl.list(KINDS.event, namespace)]);
  const stuck = pods.filter((pod) => !podReady(pod) && last.some((s) => !s.ready && matches(pod.metadata.labels, s.selector)));
  const evidence = await stuckEvidence(kubectl, namespace, stuck).catch((error: unknown) => [`  (no further evidence: ${String(error)})`]);
  throw new NotReadyError(namespace, [notReadyReport(last, pods, events), ...evidence].join('\n'));
}

const STUCK_LOG_LINES = 5;
const AGENT_LOG_LINES = 10;
const AGENTS_NAMESPACE = 'kube-system';

async function logTail(kubectl: Kubectl, pod: KubeObject, container: string, lines: number): Promise<string[]> {
  const log = await kubectl.logs(pod, { container, tailLines: lines });
  const text = log.ok ? log.text.trimEnd() : `(no log: ${log.text})`;
  return text ? text.split('\n') : ['(empty log)'];
}

/**
 * What a stuck pod shows beyond its status: the log tail of each container that runs but is not
 * ready (Secret values of the namespace redacted, as that log has not been scanned yet), and on
 * each node of those pods, the node's kube-system pods and the log tails of the DaemonSet ones.
 */
export async function stuckEvidence(kubectl: Kubectl, namespace: string, stuck: readonly KubeObject[]): Promise<string[]> {
  const running = stuck.flatMap((pod) =>
    [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
      .filter((container: KubeObject) => container.state?.running && !container.ready)
      .map((container: KubeObject) => ({ pod, container: container.name as string })),
  );
  const nodes = [...new Set(stuck.map((pod) => pod.spec?.nodeName).filter((node): node is string => typeof node === 'string'))];
  if (running.length === 0 && nodes.length === 0) return [];
  const hidden = (await secretValues(kubectl, [namespace])).map((secret) => secret.value);
  const lines: string[] = [];
  for (const { pod, container } of running) {
    lines.push(`log of ${pod.metadata.name} container ${container} (last ${STUCK_LOG_LINES} lines):`);
    for (const line of await logTail(kubectl, pod, container, STUCK_LOG_LINES)) lines.push(`  | ${redact(line, hidden)}`);
  }
  const agents = nodes.length > 0 ? await kubectl.list(KINDS.pod, AGENTS_NAMESPACE) : [];
  for (const node of nodes) {
    const here = agents.filter((pod) => pod.spec?.nodeName === node);
    lines.push(`node ${node}: ${here.length} pods in ${AGENTS_NAMESPACE}`);
    for (const pod of here) {
      lines.push(`  ${describePod(pod)}`);
      if (!pod.metadata.ownerReferences?.some((owner: KubeObject) => owner.kind === 'DaemonSet')) continue;
      for (const container of pod.spec.containers ?? []) {
        lines.push(`  log of ${pod.metadata.name} container ${container.name} (last ${AGENT_LOG_LINES} lines):`);
        for (const line of await logTail(kubectl, pod, container.name, AGENT_LOG_LINES)) lines.push(`    | ${line}`);
      }
    }
  }
  return lines;
}
