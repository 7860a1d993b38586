import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Kubectl } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { NotReadyError, waitForWorkloads, workloadStatus } from './readiness';
import { FakeKube } from './support/fake-kube';
import { FakeShell } from './support/fake-shell';

const recorded = (name: string): string => readFileSync(join(__dirname, 'fixtures', `${name}.json`), 'utf8');

/** Quick looks, so that a bounded wait runs out without taking time. */
const QUICK = { intervalMs: 1 };

const items = (name: string): KubeObject[] => JSON.parse(recorded(name)).items;
const kubectl = (kube: FakeKube) => new Kubectl(new FakeShell(), 'kubeconfig', kube);

describe('waitForWorkloads', () => {
  it('GIVEN every workload ready WHEN waited for THEN it returns their statuses after one look', async () => {
    const kube = new FakeKube(items('workloads-ready'));

    const statuses = await waitForWorkloads(kubectl(kube), 'letta', { timeoutMs: 60_000, ...QUICK });

    expect(statuses.map((s) => `${s.kind}/${s.name}:${s.ready}`)).toEqual([
      'Deployment/letta-redis:true',
      'Deployment/letta-server:true',
      'StatefulSet/letta-db:true',
      'DaemonSet/letta-otel-collector:true',
    ]);
    expect(kube.callsOf('list', 'Deployment')).toEqual([expect.objectContaining({ namespace: 'letta' })]);
  });

  it('GIVEN a Deployment that becomes available on the second look WHEN waited for THEN it returns, having reported what it waited for', async () => {
    const kube = new FakeKube(() => items(kube.callsOf('list', 'Deployment').length > 1 ? 'workloads-ready' : 'workloads-rolling-out'));
    const progress: string[] = [];

    const statuses = await waitForWorkloads(kubectl(kube), 'letta', {
      timeoutMs: 60_000,
      ...QUICK,
      log: (line) => progress.push(line),
    });

    expect(statuses.every((s) => s.ready)).toBe(true);
    expect(kube.callsOf('list', 'Deployment')).toHaveLength(2);
    expect(progress).toEqual(['waiting in letta: Deployment/letta-server (0/1 available, 1/1 updated)']);
  });

  it('GIVEN a Deployment whose image cannot be pulled WHEN the wait runs out THEN the report names it with its pod state and events, and nothing that is ready', async () => {
    const kube = new FakeKube([...items('workloads-rolling-out'), ...items('pods-rolling-out'), ...items('events-rolling-out')]);
    const error = await waitForWorkloads(kubectl(kube), 'letta', { timeoutMs: 20, ...QUICK }).catch(
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
  });

  it('GIVEN a pod stuck in an init container on a node WHEN the wait runs out THEN the report holds that container\'s log tail, Secret values redacted, and the node agents\' logs there, not those of a ready pod\'s node', async () => {
    const password = 'd0e1f2a3b4c5d6e7f8';
    const server = {
      kind: 'Deployment',
      metadata: { name: 'letta-server', namespace: 'letta', generation: 1 },
      spec: { replicas: 1, selector: { matchLabels: { app: 'letta' } } },
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1 },
    };
    const stuck = {
      kind: 'Pod',
      metadata: { name: 'letta-server-1', namespace: 'letta', labels: { app: 'letta' } },
      spec: { nodeName: 'kind-worker' },
      status: {
        phase: 'Pending',
        podIP: '10.244.1.7',
        initContainerStatuses: [{ name: 'wait-for-database', ready: false, state: { running: {} } }],
      },
    };
    const serving = {
      kind: 'Pod',
      metadata: { name: 'letta-server-0', namespace: 'letta', labels: { app: 'letta' } },
      spec: { nodeName: 'kind-control-plane' },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    const agent = (name: string, node: string) => ({
      kind: 'Pod',
      metadata: { name, namespace: 'kube-system', ownerReferences: [{ kind: 'DaemonSet', name: 'kube-router' }] },
      spec: { nodeName: node, containers: [{ name: 'kube-router' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const kube = new FakeKube([
      server,
      serving,
      stuck,
      agent('kube-router-a', 'kind-worker'),
      agent('kube-router-b', 'kind-control-plane'),
      { kind: 'Secret', metadata: { name: 'letta-db-credentials', namespace: 'letta' }, data: { password: Buffer.from(password).toString('base64') } },
    ])
      .onLogs({ pod: 'letta-server-1' }, `letta-db:5432 - no response\nconnecting with ${password}\n`)
      .onLogs({ pod: 'kube-router-a' }, 'E1203 sync of network policies failed\n');

    const error = await waitForWorkloads(kubectl(kube), 'letta', { timeoutMs: 20, ...QUICK }).catch((e: unknown) => e);

    const report = (error as NotReadyError).report;
    expect(report).toContain('  pod letta-server-1 on kind-worker (10.244.1.7): Pending, not ready; wait-for-database running, not ready');
    expect(report).toContain('log of letta-server-1 container wait-for-database (last 5 lines):\n  | letta-db:5432 - no response\n  | connecting with [redacted]');
    expect(report).not.toContain(password);
    expect(report).toContain('node kind-worker: 1 pods in kube-system');
    expect(report).toContain('  log of kube-router-a container kube-router (last 10 lines):\n    | E1203 sync of network policies failed');
    expect(report).not.toContain('kube-router-b');
    expect(kube.callsOf('logs').find((call) => call.name === 'letta-server-1')?.options).toEqual({ container: 'wait-for-database', tailLines: 5 });
  });

  it('GIVEN a namespace without workloads WHEN the wait runs out THEN the error says none exist', async () => {
    await expect(waitForWorkloads(kubectl(new FakeKube()), 'letta', { timeoutMs: 20, ...QUICK })).rejects.toThrow(
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
