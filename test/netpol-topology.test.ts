import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { asPeer, CLUSTER_DNS_PROBE, formatConnection, NetworkPolicyEvaluator, OUTSIDER_PROBE, PROBE_ADDRESSES, workloadsFrom } from '../tools/netpol/evaluator';
import { isEmpty } from '../tools/netpol/ports';
import { expectedConnections, stackConnections } from '../tools/netpol/matrix';
import { COMPONENTS } from '../lib/model/topology';
import { PROFILES } from '../tools/render';
import { EXTERNAL, matrixSection, stackWithController } from '../tools/stack-netpol';

const id = (name: string) => `letta/${name}`;

function evaluatorFor(profile: string, values?: unknown) {
  const { objects, topology } = stackWithController(profile, values);
  const workloads = new Map(workloadsFrom(objects).map((workload) => [workload.id, workload]));
  for (const probe of [OUTSIDER_PROBE, CLUSTER_DNS_PROBE]) workloads.set(probe.id, probe);
  // An id that names no workload is a mistake in the test, never a stand-in pod.
  const pod = (workloadId: string) => {
    const workload = workloads.get(workloadId);
    if (!workload) throw new Error(`no workload ${workloadId} among ${[...workloads.keys()].join(', ')}`);
    return asPeer(workload);
  };
  return { objects, topology, evaluator: new NetworkPolicyEvaluator(objects), pod };
}

describe('NetworkPolicies against the topology', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN its policies are evaluated THEN the matrix equals the topology exactly', (profile) => {
    const { objects, topology } = stackWithController(profile);
    const computed = stackConnections(objects, topology).map(formatConnection);
    const expected = expectedConnections(topology, EXTERNAL).map(formatConnection);
    expect(computed).toEqual(expected);
    expect(expected.length).toBeGreaterThan(5);
  });

  it.each([
    ['internet egress off', { letta: { internetEgress: { enabled: false } } }],
    ['no Redis, no collector, no ingress', { redis: { enabled: false }, telemetry: { enabled: false }, ingress: { enabled: false } }],
    ['a ClickHouse exporter', { telemetry: { exporter: { type: 'clickhouse', endpoint: 'tcp://ch.example.com:9440', password: { name: 'ch', key: 'pw' } } } }],
    ['custom ports for Letta to the internet', { letta: { internetEgress: { ports: [443, 8443] } } }],
  ])('GIVEN %s WHEN the policies are evaluated THEN the matrix still equals the topology', (_case, values) => {
    const { objects, topology } = stackWithController('kind', values);
    expect(stackConnections(objects, topology).map(formatConnection)).toEqual(expectedConnections(topology, EXTERNAL).map(formatConnection));
  });

  it('GIVEN a ClickHouse exporter WHEN evaluated THEN only the collector gains the internet, on the endpoint port', () => {
    const values = { telemetry: { exporter: { type: 'clickhouse', endpoint: 'tcp://ch.example.com:9440', password: { name: 'ch', key: 'pw' } } } };
    const { evaluator, pod } = evaluatorFor('kind', values);
    const internet = { kind: 'ip' as const, ip: PROBE_ADDRESSES.internet };
    expect(evaluator.allowed(pod(id('letta-otel-collector')), internet, 9440)).toBe(true);
    expect(evaluator.allowed(pod(id('letta-otel-collector')), internet, 443)).toBe(false);
  });
});

describe.each(PROFILES)('isolation in the %s profile', (profile) => {
  const { evaluator, pod, objects } = evaluatorFor(profile);
  const internet = { kind: 'ip' as const, ip: PROBE_ADDRESSES.internet };
  const stack = workloadsFrom(objects).filter((workload) => workload.namespace === 'letta');

  it('GIVEN Postgres and Redis WHEN they open any connection THEN nothing is allowed, the internet least of all', () => {
    for (const name of [COMPONENTS.database.name, COMPONENTS.redis.name]) {
      for (const address of Object.values(PROBE_ADDRESSES)) {
        expect(isEmpty(evaluator.allowedPorts(pod(id(name)), { kind: 'ip', ip: address })), `${name} -> ${address}`).toBe(true);
      }
      for (const other of stack.filter((workload) => workload.name !== name)) {
        expect(isEmpty(evaluator.allowedPorts(pod(id(name)), asPeer(other))), `${name} -> ${other.name}`).toBe(true);
      }
      expect(isEmpty(evaluator.allowedPorts(pod(id(name)), pod(CLUSTER_DNS_PROBE.id))), `${name} -> DNS`).toBe(true);
    }
  });

  it('GIVEN the ingress controller WHEN it connects into the stack THEN it reaches Letta on 8283 and nothing else', () => {
    const controller = pod(EXTERNAL.ingressController);
    for (const target of stack) {
      const allowed = evaluator.allowedPorts(controller, asPeer(target));
      if (target.name === COMPONENTS.letta.name) expect(allowed.TCP).toEqual([[8283, 8283]]);
      else expect(isEmpty(allowed), target.name).toBe(true);
    }
    // A pod in the controller's namespace that is not the controller gets nothing.
    const admission = pod('ingress-nginx/ingress-nginx-admission-create');
    expect(isEmpty(evaluator.allowedPorts(admission, pod(id(COMPONENTS.letta.name))))).toBe(true);
  });

  it('GIVEN a pod in another namespace or an unlabelled pod in the stack namespace WHEN it connects THEN it reaches nothing', () => {
    const neighbour = { kind: 'pod' as const, namespace: 'letta', labels: {}, ports: [] };
    for (const target of stack) {
      expect(isEmpty(evaluator.allowedPorts(pod(OUTSIDER_PROBE.id), asPeer(target))), `outsider -> ${target.name}`).toBe(true);
      expect(isEmpty(evaluator.allowedPorts(neighbour, asPeer(target))), `neighbour -> ${target.name}`).toBe(true);
      expect(isEmpty(evaluator.allowedPorts(internet, asPeer(target))), `internet -> ${target.name}`).toBe(true);
    }
  });

  it('GIVEN any pod WHEN it connects to Postgres THEN only Letta (whose pod also runs the migration) and the backup Jobs get through', () => {
    const db = pod(id(COMPONENTS.database.name));
    const clients = [...workloadsFrom(objects), OUTSIDER_PROBE, CLUSTER_DNS_PROBE].filter((workload) => !isEmpty(evaluator.allowedPorts(asPeer(workload), db)));
    const backupJobs = workloadsFrom(objects).filter((workload) => workload.labels['app.kubernetes.io/name'] === COMPONENTS.backup.name);
    // The scheduled CronJob and the pre-migration Job.
    expect(backupJobs.map((workload) => workload.kind).sort()).toEqual(['CronJob', 'Job']);
    expect(clients.map((workload) => workload.id).sort()).toEqual([id(COMPONENTS.letta.name), ...backupJobs.map((workload) => workload.id)].sort());
    for (const client of clients) expect(evaluator.allowedPorts(asPeer(client), db).TCP, client.id).toEqual([[5432, 5432]]);
  });

  it('GIVEN the backup Jobs WHEN they connect anywhere but Postgres and DNS THEN nothing is allowed (a claim target reaches no internet)', () => {
    for (const job of stack.filter((workload) => workload.labels['app.kubernetes.io/name'] === COMPONENTS.backup.name)) {
      for (const address of Object.values(PROBE_ADDRESSES)) {
        expect(isEmpty(evaluator.allowedPorts(asPeer(job), { kind: 'ip', ip: address })), `${job.name} -> ${address}`).toBe(true);
      }
      for (const other of stack.filter((workload) => workload.name !== COMPONENTS.database.name)) {
        expect(isEmpty(evaluator.allowedPorts(asPeer(job), asPeer(other))), `${job.name} -> ${other.name}`).toBe(true);
      }
    }
  });

  it('GIVEN Letta WHEN it resolves names THEN DNS reaches only the cluster DNS pods on port 53', () => {
    const letta = pod(id(COMPONENTS.letta.name));
    expect(evaluator.allowedPorts(letta, pod(CLUSTER_DNS_PROBE.id))).toMatchObject({ TCP: [[53, 53]], UDP: [[53, 53]] });
    const impostor = { kind: 'pod' as const, namespace: 'default', labels: { 'k8s-app': 'kube-dns' }, ports: [] };
    expect(isEmpty(evaluator.allowedPorts(letta, impostor))).toBe(true);
  });

  it('GIVEN Letta WHEN it goes outside the cluster THEN public addresses answer on 443 and private or metadata ones never', () => {
    const letta = pod(id(COMPONENTS.letta.name));
    expect(evaluator.allowedPorts(letta, internet).TCP).toEqual([[443, 443]]);
    for (const address of [PROBE_ADDRESSES.private10, PROBE_ADDRESSES.private172, PROBE_ADDRESSES.private192, PROBE_ADDRESSES.metadata]) {
      expect(isEmpty(evaluator.allowedPorts(letta, { kind: 'ip', ip: address })), address).toBe(true);
    }
  });
});

describe('the README', () => {
  it('GIVEN the README WHEN compared with npm run netpol:matrix THEN its matrix is current', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain(matrixSection());
  });
});
