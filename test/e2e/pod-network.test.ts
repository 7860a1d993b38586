import { describe, expect, it } from 'vitest';
import { Kubectl } from './kubectl';
import { ipsetMembers, KUBE_ROUTER, settlePodNetwork } from './pod-network';
import { FakeKube } from './support/fake-kube';
import { FakeShell, ok } from './support/fake-shell';

const NODES = [
  { kind: 'Node', metadata: { name: 'cp' }, spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] } },
  { kind: 'Node', metadata: { name: 'worker' }, spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] } },
];
const router = (name: string, node: string) => ({ kind: 'Pod', metadata: { name, namespace: KUBE_ROUTER.namespace, labels: KUBE_ROUTER.labels }, spec: { nodeName: node } });
const saved = (...members: string[]) =>
  ok([`create ${KUBE_ROUTER.podSubnets} hash:net family inet hashsize 1024 maxelem 65536 timeout 0`, ...members.map((m) => `add ${KUBE_ROUTER.podSubnets} ${m} timeout 0`)].join('\n'));

/**
 * Two nodes whose kube-router pods are `routers` until one is restarted, then `restarted`; deletes
 * and rollouts succeed. Each test adds the sets' answers.
 */
function twoNodes(routers = [router('kr-a', 'cp'), router('kr-b', 'worker')], restarted = routers): Cluster {
  const shell = new FakeShell().on(['delete'], ok()).on(['rollout', 'status'], ok());
  return Object.assign(shell, { kube: new FakeKube(() => [...NODES, ...(shell.callsWith('delete').length > 0 ? restarted : routers)]) });
}

type Cluster = FakeShell & { kube: FakeKube };

const settle = (shell: Cluster, log?: (line: string) => void) => settlePodNetwork(new Kubectl(shell, 'kubeconfig', shell.kube), { look: { timeoutMs: 500, intervalMs: 1 }, log });

describe('ipsetMembers', () => {
  it('GIVEN `ipset save` of a set WHEN read THEN its members, and nothing of another set', () => {
    const text = `create s hash:net\nadd s 10.244.0.0/24 timeout 0\nadd other 10.0.0.0/8 timeout 0\nadd s 10.244.3.0/24 timeout 0\n`;
    expect(ipsetMembers(text, 's')).toEqual(['10.244.0.0/24', '10.244.3.0/24']);
  });
});

describe('settlePodNetwork', () => {
  it('GIVEN every kube-router knows every node\'s pod subnet WHEN settled THEN nothing is restarted', async () => {
    const shell = twoNodes()
      .on(['exec'], saved('10.244.1.0/24', '10.244.0.0/24'));

    await settle(shell);

    expect(shell.callsWith('exec')).toHaveLength(2);
    expect(shell.callsWith('delete')).toHaveLength(0);
  });

  it('GIVEN a kube-router that has not yet written its set on the first look WHEN settled THEN it is waited for, not restarted', async () => {
    const shell = twoNodes()
      .on(['exec', 'kr-b'], { code: 1, stdout: '', stderr: 'ipset v7.19: The set with the given name does not exist' }, 1)
      .on(['exec'], saved('10.244.0.0/24', '10.244.1.0/24'));

    await settle(shell);

    expect(shell.callsWith('exec', 'kr-b')).toHaveLength(2);
    expect(shell.callsWith('delete')).toHaveLength(0);
  });

  it('GIVEN a kube-router that never writes its own subnet WHEN the look runs out THEN the error names its node', async () => {
    const shell = twoNodes()
      .on(['exec', 'kr-b'], saved('10.244.0.0/24'))
      .on(['exec'], saved('10.244.0.0/24', '10.244.1.0/24'));

    await expect(settle(shell)).rejects.toThrow(
      'kube-router has not written its own pod subnet in 0.5 s: worker lacks 10.244.1.0/24',
    );
  });

  it('GIVEN the control plane\'s kube-router started before the worker joined WHEN settled THEN that one is restarted and the sets looked at again', async () => {
    const shell = twoNodes(undefined, [router('kr-c', 'cp'), router('kr-b', 'worker')])
      .on(['exec', 'kr-a'], saved('10.244.0.0/24'))
      .on(['exec'], saved('10.244.0.0/24', '10.244.1.0/24'));
    const lines: string[] = [];

    await settle(shell, (line) => lines.push(line));

    expect(shell.callsWith('delete').map((call) => call.args)).toEqual([expect.arrayContaining(['pod', 'kr-a', '--namespace', 'kube-system'])]);
    expect(shell.callsWith('exec', 'kr-c')).toHaveLength(1);
    expect(lines).toEqual(['kube-router on cp lacks the pod subnets 10.244.1.0/24: restarting kr-a']);
  });

  it('GIVEN a kube-router that still lacks a subnet after its restart WHEN the look runs out THEN the error names the node and the subnet', async () => {
    const shell = twoNodes()
      .on(['exec', 'kr-a'], saved('10.244.0.0/24'))
      .on(['exec'], saved('10.244.0.0/24', '10.244.1.0/24'));

    await expect(settle(shell)).rejects.toThrow(
      'kube-router still lacks pod subnets after a restart: cp lacks 10.244.1.0/24',
    );
  });
});
