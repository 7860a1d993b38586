import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Kubectl } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { NotReadyError, waitForWorkloads } from './readiness';
import { FakeKube } from './support/fake-kube';
import { fail, FakeShell, ok } from './support/fake-shell';

const items = (name: string): KubeObject[] => JSON.parse(readFileSync(join(__dirname, 'fixtures', `${name}.json`), 'utf8')).items;
/** kubectl rolls out everything but what the test scripts first. */
const shell = () => new FakeShell();
const rolledOut = (s: FakeShell) => s.on(['rollout', 'status'], ok('successfully rolled out\n')).on(['wait', '--for=condition=Complete'], ok('condition met\n'));
const stuckServer = (s: FakeShell) =>
  rolledOut(
    s.on(['rollout', 'deployment/letta-server'], { code: 1, stdout: 'Waiting for deployment "letta-server" rollout to finish: 0 of 1 updated replicas are available...\n', stderr: 'error: timed out waiting for the condition\n' }),
  );
const wait = (kube: FakeKube, s: FakeShell, timeoutMs = 60_000) =>
  waitForWorkloads(new Kubectl(s, 'kubeconfig', kube), 'letta', { timeoutMs, intervalMs: 1 });
const job = (name: string) => ({ kind: 'Job', metadata: { name, namespace: 'letta' }, spec: {} });

describe('waitForWorkloads', () => {
  it('GIVEN workloads and Jobs WHEN waited for THEN each is waited for by the user\'s kubectl command within the deadline, a Job deleted meanwhile and the ones not waited for left out', async () => {
    const kube = new FakeKube([...items('workloads-rolling-out'), job('letta-db-backup-1'), job('ingress-admission')]);
    const s = rolledOut(shell().on(['job/ingress-admission'], fail('Error from server (NotFound): jobs.batch "ingress-admission" not found\n')));

    const statuses = await waitForWorkloads(new Kubectl(s, 'kubeconfig', kube), 'letta', { timeoutMs: 90_000, notWaitedFor: ['DaemonSet/letta-otel-collector'] });

    expect(statuses.map((st) => `${st.kind}/${st.name}:${st.ready}`)).toEqual([
      'Deployment/letta-redis:true',
      'Deployment/letta-server:true',
      'StatefulSet/letta-db:true',
      'Job/letta-db-backup-1:true',
    ]);
    expect(s.calls.map((call) => [call.command, ...call.args].join(' ').replace(/--timeout=\d+s/, '--timeout=Ns'))).toEqual([
      'kubectl --kubeconfig kubeconfig rollout status deployment/letta-redis --namespace letta --timeout=Ns',
      'kubectl --kubeconfig kubeconfig rollout status deployment/letta-server --namespace letta --timeout=Ns',
      'kubectl --kubeconfig kubeconfig rollout status statefulset/letta-db --namespace letta --timeout=Ns',
      'kubectl --kubeconfig kubeconfig wait --for=condition=Complete job/letta-db-backup-1 --namespace letta --timeout=Ns',
      'kubectl --kubeconfig kubeconfig wait --for=condition=Complete job/ingress-admission --namespace letta --timeout=Ns',
    ]);
    const seconds = s.calls.map((call) => Number(/--timeout=(\d+)s/.exec(call.args.join(' '))![1]));
    for (const timeout of seconds) expect(timeout).toBeGreaterThan(80);
    for (const timeout of seconds) expect(timeout).toBeLessThanOrEqual(90);
  });

  it('GIVEN a Deployment past its progress deadline that then becomes available WHEN waited for THEN kubectl is asked again until it reports the rollout done', async () => {
    const answers = [fail('error: deployment "letta-server" exceeded its progress deadline\n'), fail('error: deployment "letta-server" exceeded its progress deadline\n'), ok('deployment "letta-server" successfully rolled out\n')];
    const s = { run: async () => answers.shift()! };
    const kube = new FakeKube(items('workloads-rolling-out').filter((o) => o.metadata.name === 'letta-server'));

    const statuses = await waitForWorkloads(new Kubectl(s, 'kubeconfig', kube), 'letta', { timeoutMs: 60_000, intervalMs: 1 });

    expect(statuses).toMatchObject([{ name: 'letta-server', ready: true, detail: 'deployment "letta-server" successfully rolled out' }]);
    expect(answers).toEqual([]);
  });

  it('GIVEN a Deployment stuck in an init container WHEN the wait runs out THEN the report gives kubectl\'s last words, `kubectl describe` of it and its pods, and the running container\'s log tail with Secret values redacted', async () => {
    const password = 'd0e1f2a3b4c5d6e7f8';
    const server = { kind: 'Deployment', metadata: { name: 'letta-server', namespace: 'letta' }, spec: { selector: { matchLabels: { app: 'letta' } } } };
    const stuck = {
      kind: 'Pod',
      metadata: { name: 'letta-server-1', namespace: 'letta', labels: { app: 'letta' } },
      status: { phase: 'Pending', initContainerStatuses: [{ name: 'wait-for-database', ready: false, state: { running: {} } }] },
    };
    const secret = { kind: 'Secret', metadata: { name: 'letta-db-credentials', namespace: 'letta' }, data: { password: Buffer.from(password).toString('base64') } };
    const kube = new FakeKube([server, stuck, secret]).onLogs('letta-server-1', `letta-db:5432 - no response\nconnecting with ${password}\n`);
    const s = stuckServer(shell())
      .on(['describe', 'deployment/letta-server'], ok('Name: letta-server\nConditions: Available False MinimumReplicasUnavailable\n'))
      .on(['describe', 'pods', 'app=letta'], ok(`Name: letta-server-1\nEvents: Warning BackOff (DATABASE_PASSWORD=${password})\n`));

    const error = await wait(kube, s, 20).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NotReadyError);
    expect((error as NotReadyError).report.split('\n')).toEqual([
      'Deployment letta/letta-server is not ready: Waiting for deployment "letta-server" rollout to finish: 0 of 1 updated replicas are available...; error: timed out waiting for the condition',
      '  Name: letta-server',
      '  Conditions: Available False MinimumReplicasUnavailable',
      '  Name: letta-server-1',
      '  Events: Warning BackOff (DATABASE_PASSWORD=[redacted])',
      '  log of letta-server-1 container wait-for-database (last 5 lines):',
      '    | letta-db:5432 - no response',
      '    | connecting with [redacted]',
    ]);
    expect((error as Error).message).toContain('workloads in namespace letta did not become ready in time');
  });

  it('GIVEN a namespace without workloads WHEN the wait runs out THEN the error says none exist', async () => {
    await expect(wait(new FakeKube(), shell(), 20)).rejects.toThrow('no Deployment, StatefulSet, DaemonSet or Job exists in letta');
  });
});
