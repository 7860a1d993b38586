import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Kubectl, type KubeObject } from './kubectl';
import { type Clock, NotReadyError, pollUntil, waitForWorkloads, workloadStatus } from './readiness';
import { FakeShell, json, ok } from './support/fake-shell';

const recorded = (name: string): string => readFileSync(join(__dirname, 'fixtures', `${name}.json`), 'utf8');

/** A clock whose sleep passes at once, so bounded waits run out without taking time. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

const WORKLOADS = ['get', 'deployments,statefulsets,daemonsets,jobs'];

describe('waitForWorkloads', () => {
  it('GIVEN every workload ready WHEN waited for THEN it returns their statuses after one look', async () => {
    const shell = new FakeShell().on(WORKLOADS, ok(recorded('workloads-ready')));

    const statuses = await waitForWorkloads(new Kubectl(shell, 'kubeconfig'), 'letta', { timeoutMs: 60_000, clock: fakeClock() });

    expect(statuses.map((s) => `${s.kind}/${s.name}:${s.ready}`)).toEqual([
      'Deployment/letta-redis:true',
      'Deployment/letta-server:true',
      'StatefulSet/letta-db:true',
      'DaemonSet/letta-otel-collector:true',
    ]);
    expect(shell.callsWith(...WORKLOADS)).toHaveLength(1);
    expect(shell.calls[0].args.slice(0, 2)).toEqual(['--kubeconfig', 'kubeconfig']);
  });

  it('GIVEN a Deployment that becomes available on the second look WHEN waited for THEN it returns, having reported what it waited for', async () => {
    const shell = new FakeShell()
      .on(WORKLOADS, ok(recorded('workloads-rolling-out')), 1)
      .on(WORKLOADS, ok(recorded('workloads-ready')));
    const progress: string[] = [];

    const statuses = await waitForWorkloads(new Kubectl(shell, 'kubeconfig'), 'letta', {
      timeoutMs: 60_000,
      clock: fakeClock(),
      log: (line) => progress.push(line),
    });

    expect(statuses.every((s) => s.ready)).toBe(true);
    expect(progress).toEqual(['waiting in letta: Deployment/letta-server (0/1 available, 1/1 updated)']);
  });

  it('GIVEN a Deployment whose image cannot be pulled WHEN the wait runs out THEN the report names it with its pod state and events, and nothing that is ready', async () => {
    const shell = new FakeShell()
      .on(WORKLOADS, ok(recorded('workloads-rolling-out')))
      .on(['get', 'pods'], ok(recorded('pods-rolling-out')))
      .on(['get', 'events'], ok(recorded('events-rolling-out')));
    const clock = fakeClock();

    const error = await waitForWorkloads(new Kubectl(shell, 'kubeconfig'), 'letta', { timeoutMs: 60_000, intervalMs: 5_000, clock }).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(NotReadyError);
    const report = (error as NotReadyError).report;
    expect(report.split('\n')).toEqual([
      'Deployment letta/letta-server is not ready: 0/1 available, 1/1 updated',
      '  pod letta-server-7d9c6b5f8-x2k4q: Pending, not ready; letta waiting: ImagePullBackOff (Back-off pulling image "letta/letta:0.16.8": ErrImagePull: failed to pull and unpack image "docker.io/letta/letta:0.16.8": not found)',
      '  event Normal ScalingReplicaSet deployment/letta-server: Scaled up replica set letta-server-7d9c6b5f8 from 0 to 1',
      '  event Normal SuccessfulCreate replicaset/letta-server-7d9c6b5f8: Created pod: letta-server-7d9c6b5f8-x2k4q',
      '  event Warning Failed pod/letta-server-7d9c6b5f8-x2k4q: Failed to pull image "letta/letta:0.16.8": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/letta/letta:0.16.8": not found (x3)',
      '  event Normal BackOff pod/letta-server-7d9c6b5f8-x2k4q: Back-off pulling image "letta/letta:0.16.8" (x7)',
    ]);
    expect((error as Error).message).toContain('workloads in namespace letta did not become ready in time');
    // Bounded: the looks stop at the deadline.
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBe(60_000);
  });

  it('GIVEN a namespace without workloads WHEN the wait runs out THEN the error says none exist', async () => {
    const shell = new FakeShell().on(WORKLOADS, json({ kind: 'List', items: [] }));

    await expect(waitForWorkloads(new Kubectl(shell, 'kubeconfig'), 'letta', { timeoutMs: 10_000, clock: fakeClock() })).rejects.toThrow(
      'no Deployment, StatefulSet, DaemonSet or Job exists in letta',
    );
  });
});

describe('workloadStatus', () => {
  const meta = { name: 'w', namespace: 'n', generation: 2 };

  it('GIVEN a Deployment with replicas of its old template left WHEN judged THEN it is not ready', () => {
    const status = workloadStatus({
      kind: 'Deployment',
      metadata: meta,
      spec: { replicas: 2 },
      status: { observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 3 },
    });
    expect(status).toMatchObject({ ready: false, detail: '3/2 available, 2/2 updated, 1 old replicas left' });
  });

  it('GIVEN a Deployment whose new spec the controller has not seen WHEN judged THEN it is not ready', () => {
    const status = workloadStatus({
      kind: 'Deployment',
      metadata: meta,
      spec: { replicas: 1 },
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
    });
    expect(status.ready).toBe(false);
    expect(status.detail).toContain('not yet observed');
  });

  it('GIVEN a StatefulSet still on its old revision WHEN judged THEN it is not ready', () => {
    const status = workloadStatus({
      kind: 'StatefulSet',
      metadata: meta,
      spec: { replicas: 1 },
      status: { observedGeneration: 2, readyReplicas: 1, updatedReplicas: 0, currentRevision: 'a', updateRevision: 'b' },
    });
    expect(status).toMatchObject({ ready: false, detail: '1/1 ready, 0/1 on the new revision' });
  });

  it('GIVEN a DaemonSet the controller has not processed WHEN judged THEN it is not ready', () => {
    expect(workloadStatus({ kind: 'DaemonSet', metadata: meta, spec: {}, status: {} }).ready).toBe(false);
  });

  it('GIVEN a failed Job WHEN judged THEN it is not ready and says why', () => {
    const job: KubeObject = {
      kind: 'Job',
      metadata: meta,
      spec: { completions: 1 },
      status: { failed: 6, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] },
    };
    expect(workloadStatus(job)).toMatchObject({ ready: false, detail: 'failed: BackoffLimitExceeded Job has reached the specified backoff limit' });
  });

  it('GIVEN a completed Job WHEN judged THEN it is ready', () => {
    expect(workloadStatus({ kind: 'Job', metadata: meta, spec: {}, status: { succeeded: 1 } }).ready).toBe(true);
  });
});

describe('pollUntil', () => {
  it('GIVEN an attempt that never succeeds WHEN polled THEN it gives up at the deadline, having made a last attempt there', async () => {
    const clock = fakeClock();
    const times: number[] = [];

    const result = await pollUntil(
      async () => {
        times.push(clock.now());
        return undefined;
      },
      { timeoutMs: 10_000, intervalMs: 4_000, clock },
    );

    expect(result).toBeUndefined();
    expect(times).toEqual([0, 4_000, 8_000, 10_000]);
  });
});
