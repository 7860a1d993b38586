import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTER_DNS_PROBE, Connection, connectivity, formatConnection, namespaceProbeId, OUTSIDER_PROBE, PROBE_ADDRESSES, probePods, workloadsFrom } from '../tools/netpol/evaluator';
import { expectedConnections, stackConnections } from '../tools/netpol/matrix';
import { COMPONENTS } from '../lib/model/topology';
import { PROFILES } from '../tools/render';
import { EXTERNAL, matrixSection, POLICY_VARIANTS, stackWithController } from '../tools/stack-netpol';

const id = (name: string) => `letta/${name}`;
const [db, redis, letta] = [COMPONENTS.database, COMPONENTS.redis, COMPONENTS.letta].map((component) => id(component.name));
/** A pod outside kube-system that carries the cluster DNS pods' label. */
const DNS_IMPOSTOR = { ...CLUSTER_DNS_PROBE, id: 'default/kube-dns', namespace: 'default', ports: [] };

/** Every connection the profile's policies allow, among its workloads, the probes and the DNS impostor. */
function computedConnections(profile: string, values?: unknown) {
  const { objects } = stackWithController(profile, values);
  return { objects, connections: connectivity(objects, { probePods: [...probePods(objects), DNS_IMPOSTOR] }) };
}

const listed = (connections: readonly Connection[], filter: (connection: Connection) => boolean) => connections.filter(filter).map(formatConnection).sort();

describe('NetworkPolicies against the topology', () => {
  it.each(Object.entries(POLICY_VARIANTS))('GIVEN %s WHEN the policies are evaluated THEN the matrix equals the topology exactly', (_name, { profile, values }) => {
    const { objects, topology } = stackWithController(profile, values);
    const expected = expectedConnections(topology, EXTERNAL).map(formatConnection);
    expect(stackConnections(objects, topology).map(formatConnection)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(5);
  });

  it('GIVEN a ClickHouse exporter WHEN evaluated THEN only the collector gains the internet, on the endpoint port', () => {
    const { profile, values } = POLICY_VARIANTS['kind with a ClickHouse exporter'];
    const { connections } = computedConnections(profile, values);
    expect(listed(connections, (c) => c.from.startsWith('letta/') && c.to === PROBE_ADDRESSES.internet)).toEqual([
      `${id('letta-otel-collector')} => ${PROBE_ADDRESSES.internet} TCP 9440`,
      `${letta} => ${PROBE_ADDRESSES.internet} TCP 443`,
    ]);
  });
});

describe.each(PROFILES)('isolation in the %s profile', (profile) => {
  const { objects, connections } = computedConnections(profile);
  const backupJobs = workloadsFrom(objects).filter((workload) => workload.labels['app.kubernetes.io/name'] === COMPONENTS.backup.name);
  const addresses: readonly string[] = Object.values(PROBE_ADDRESSES);

  it('GIVEN the backup component WHEN its workloads are listed THEN they are the scheduled CronJob and the pre-migration Job', () => {
    expect(backupJobs.map((workload) => workload.kind).sort()).toEqual(['CronJob', 'Job']);
  });

  it.each<[string, (c: Connection) => boolean, string[]]>([
    ['GIVEN Postgres and Redis WHEN they open any connection THEN nothing is allowed, the internet least of all', (c) => [db, redis].includes(c.from), []],
    [
      'GIVEN the ingress-nginx pods WHEN they connect into the stack THEN the controller reaches Letta on 8283 and nothing else',
      (c) => c.from.startsWith('ingress-nginx/') && c.to.startsWith('letta/'),
      [`${EXTERNAL.ingressController} => ${letta} TCP 8283`],
    ],
    [
      'GIVEN a pod in another namespace, an unlabelled pod in the stack namespace or the internet WHEN it connects THEN it reaches nothing',
      (c) => [OUTSIDER_PROBE.id, namespaceProbeId('letta'), PROBE_ADDRESSES.internet].includes(c.from) && c.to.startsWith('letta/'),
      [],
    ],
    [
      'GIVEN any pod or address WHEN it connects to Postgres THEN only Letta (whose pod also runs the migration) and the backup Jobs get through, on 5432',
      (c) => c.to === db,
      [letta, ...backupJobs.map((job) => job.id)].map((client) => `${client} => ${db} TCP 5432`).sort(),
    ],
    [
      'GIVEN the backup Jobs WHEN they connect anywhere but Postgres and DNS THEN nothing is allowed (a claim target reaches no internet)',
      (c) => backupJobs.some((job) => job.id === c.from) && c.to !== db && c.to !== CLUSTER_DNS_PROBE.id,
      [],
    ],
    [
      'GIVEN Letta WHEN it resolves names THEN DNS reaches only the cluster DNS pods on port 53, not a pod elsewhere with their label',
      (c) => c.from === letta && [CLUSTER_DNS_PROBE.id, DNS_IMPOSTOR.id].includes(c.to),
      [`${letta} => ${CLUSTER_DNS_PROBE.id} TCP 53`, `${letta} => ${CLUSTER_DNS_PROBE.id} UDP 53`],
    ],
    [
      'GIVEN Letta WHEN it goes outside the cluster THEN public addresses answer on 443 and private or metadata ones never',
      (c) => c.from === letta && addresses.includes(c.to),
      [`${letta} => ${PROBE_ADDRESSES.internet} TCP 443`],
    ],
  ])('%s', (_case, filter, expected) => {
    expect(listed(connections, filter)).toEqual(expected);
  });
});

describe('the README', () => {
  it('GIVEN the README WHEN compared with npm run netpol:matrix THEN its matrix is current', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain(matrixSection());
  });
});
