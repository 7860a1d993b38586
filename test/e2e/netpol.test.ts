import { createServer } from 'node:net';
import { join } from 'node:path';
import { x } from 'tinyexec';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import { available } from '../../tools/requirements';
import { freePorts } from '../../tools/support';
import { judgeProbe, networkProbeCases, type ProbeCase, probePodFor } from './netpol';
import { python3Missing } from './support/loopback';

const kind = new Topology(loadSettings({ profile: 'kind' }));
const addressesOf = (topology: Topology) => new Map(topology.components.map((c, index) => [c.id, `10.244.0.${10 + index}`] as const));
const plan = (topology: Topology, internetAddress?: string) =>
  networkProbeCases(topology, { outsideNamespace: 'letta-e2e', ingressNamespace: 'ingress-nginx', internetAddress, podAddresses: addressesOf(topology) });
const allowed: ProbeCase = { name: 'a', namespace: 'letta', labels: {}, host: 'letta-db', port: 5432, expect: 'connects', why: 'edge' };
const denied: ProbeCase = { ...allowed, name: 'd', expect: 'is denied', why: 'no edge', control: 'a' };

describe('networkProbeCases', () => {
  const cases = plan(kind, '1.1.1.1');

  it('GIVEN the kind topology WHEN probes are planned THEN every edge must connect, by name, and every other client is denied on its port, by pod IP', () => {
    const allowedEdges = cases.filter((c) => c.expect === 'connects').map((c) => `${c.namespace}/${c.name} ${c.host}:${c.port}`);
    expect(allowedEdges).toEqual([
      'ingress-nginx/probe-ingress-controller-to-letta-server letta-server.letta.svc:8283',
      'letta/probe-letta-server-to-letta-db letta-db:5432',
      'letta/probe-letta-db-backup-to-letta-db letta-db:5432',
      'letta/probe-letta-server-to-letta-redis letta-redis:6379',
      'letta/probe-letta-server-to-letta-otel-collector letta-otel-collector:4317',
      'letta/probe-letta-server-to-internet 1.1.1.1:443',
    ]);
    const db = addressesOf(kind).get('database');
    const deniedToDb = cases.filter((c) => c.expect === 'is denied' && c.host === db);
    expect(deniedToDb.map((c) => c.name).sort()).toEqual([
      'probe-ingress-controller-to-letta-db',
      'probe-ingress-ns-to-letta-db',
      'probe-letta-otel-collector-to-letta-db',
      'probe-letta-redis-to-letta-db',
      'probe-other-to-letta-db',
      'probe-outside-to-letta-db',
    ]);
    for (const deniedCase of deniedToDb) expect(deniedCase).toMatchObject({ port: 5432, control: 'probe-letta-server-to-letta-db' });
    expect(cases.find((c) => c.name === 'probe-letta-db-to-internet')).toMatchObject({
      labels: kind.component('database').selector,
      expect: 'is denied',
      control: 'probe-letta-server-to-internet',
    });
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it('GIVEN Letta in another namespace without internet egress, or no internet address WHEN probes are planned THEN none goes to the internet, and the ingress controller reaches Letta in its namespace', () => {
    const agents = new Topology(loadSettings({ profile: 'kind', values: { namespace: 'agents', letta: { internetEgress: { enabled: false } } } }));

    expect(plan(agents, '1.1.1.1').find((c) => c.name === 'probe-ingress-controller-to-letta-server')?.host).toBe('letta-server.agents.svc');
    for (const planned of [plan(agents, '1.1.1.1'), plan(kind)]) expect(planned.filter((c) => c.name.endsWith('-to-internet'))).toEqual([]);
  });

  it("GIVEN Letta's probe of the database WHEN its pod is built THEN it carries Letta's labels, never becomes ready, so joins no Service, and retries until connected", () => {
    const pod = probePodFor(cases.find((c) => c.name === 'probe-letta-server-to-letta-db')!);

    expect(pod.metadata.labels).toMatchObject(kind.component('letta').selector);
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.containers[0].readinessProbe).toEqual({ exec: { command: ['false'] }, periodSeconds: 60 });
    // Until connected: the policy engine applies its rules a moment after the pod starts.
    expect(pod.spec.containers[0].command.slice(-5)).toEqual(['letta-db', '5432', '10', '45', '--until-connected']);
  });
});

describe('judgeProbe', () => {
  const refused = '{"outcome": "refused", "address": "10.244.0.7", "detail": "[Errno 111] Connection refused"}';

  it.each([
    ['an allowed edge that connected', allowed, '{"outcome": "connected", "address": "10.244.0.7"}\n', undefined, true, ''],
    ['a denied edge that timed out', denied, '{"outcome": "timeout", "address": "10.244.0.7"}', undefined, true, ''],
    ['a denied edge that connected', denied, '{"outcome": "connected", "address": "10.244.0.7"}', undefined, false, 'letta/d → letta-db:5432: connected, expected is denied (no edge)'],
    ['a denied edge refused beside a control that connected (kube-router rejects)', denied, refused, true, true, ''],
    ['a denied edge refused beside a control that did not connect', denied, refused, false, false, 'a rejection proves the policy only if a reached the same target'],
    ['a name that did not resolve', denied, '{"outcome": "dns-error", "detail": "[Errno -2] Name does not resolve"}', undefined, false, 'the policy was not exercised'],
    ['a log without a verdict', allowed, 'Traceback (most recent call last):\n  ...', undefined, false, "no verdict in the probe's log: Traceback"],
  ] as const)('GIVEN %s WHEN judged THEN the verdict and its message follow', (_, probe, log, controlConnected, ok, message) => {
    const verdict = judgeProbe(probe, log, controlConnected);
    expect(verdict.ok).toBe(ok);
    expect(verdict.message).toContain(message);
  });
});

describe.runIf(available('e2e connect probe', python3Missing()))('connect_probe.py on loopback', () => {
  /** The probe's log for 127.0.0.1:port, given a probe pod's arguments: timeout, window, and --until-connected for an allowed edge. */
  const probe = async (port: number, ...args: string[]) => (await x('python3', [join(__dirname, 'backends', 'connect_probe.py'), '127.0.0.1', String(port), ...args])).stdout;

  it('GIVEN a closed port WHEN probed as a denied edge is THEN the outcome is a refusal, which counts as denied only next to a control that connected', async () => {
    const [port] = await freePorts(1, '127.0.0.1');

    const log = await probe(port, '5', '1');

    expect(JSON.parse(log)).toMatchObject({ outcome: 'refused', address: '127.0.0.1' });
    expect(judgeProbe(denied, log).ok).toBe(false);
    expect(judgeProbe(allowed, log).ok).toBe(false);
  });

  it('GIVEN a port that opens only after a while WHEN probed as an allowed edge is THEN the late connection is the verdict', async () => {
    const [port] = await freePorts(1, '127.0.0.1');
    const server = createServer();
    // Listening 3 s later, as an allowed source's rule arrives after the probe started.
    const reopen = setTimeout(() => server.listen(port, '127.0.0.1'), 3_000);
    try {
      expect(judgeProbe(allowed, await probe(port, '2', '20', '--until-connected'))).toMatchObject({ ok: true });
    } finally {
      clearTimeout(reopen);
      server.close();
    }
  }, 60_000);
});
