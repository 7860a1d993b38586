import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import { available } from '../../tools/requirements';
import { judgeProbe, networkProbeCases, type ProbeCase } from './netpol';
import { python3Missing } from './support/loopback';

const probeCase: ProbeCase = { name: 'p', namespace: 'letta', labels: {}, host: '127.0.0.1', port: 1, expect: 'connects', why: 'test' };
const addressesOf = (topology: Topology) => new Map(topology.components.map((c, index) => [c.id, `10.244.0.${10 + index}`] as const));
const optionsFor = (topology: Topology) => ({
  outsideNamespace: 'letta-e2e',
  ingressNamespace: 'ingress-nginx',
  internetAddress: '1.1.1.1',
  podAddresses: addressesOf(topology),
});

describe('networkProbeCases', () => {
  it('GIVEN the kind topology WHEN probes are planned THEN every edge must connect, by name, and every other client is denied on its port, by pod IP', () => {
    const topology = new Topology(loadSettings({ profile: 'kind' }));

    const cases = networkProbeCases(topology, optionsFor(topology));

    const allowed = cases.filter((c) => c.expect === 'connects').map((c) => `${c.namespace}/${c.name} ${c.host}:${c.port}`);
    expect(allowed).toEqual([
      'ingress-nginx/probe-ingress-controller-to-letta-server letta-server.letta.svc:8283',
      'letta/probe-letta-server-to-letta-db letta-db:5432',
      'letta/probe-letta-db-backup-to-letta-db letta-db:5432',
      'letta/probe-letta-server-to-letta-redis letta-redis:6379',
      'letta/probe-letta-server-to-letta-otel-collector letta-otel-collector:4317',
      'letta/probe-letta-server-to-internet 1.1.1.1:443',
    ]);
    const db = addressesOf(topology).get('database');
    const deniedToDb = cases.filter((c) => c.expect === 'is denied' && c.host === db);
    expect(deniedToDb.map((c) => c.name).sort()).toEqual([
      'probe-ingress-controller-to-letta-db',
      'probe-ingress-ns-to-letta-db',
      'probe-letta-otel-collector-to-letta-db',
      'probe-letta-redis-to-letta-db',
      'probe-other-to-letta-db',
      'probe-outside-to-letta-db',
    ]);
    for (const denied of deniedToDb) expect(denied).toMatchObject({ port: 5432, control: 'probe-letta-server-to-letta-db' });
    expect(cases.find((c) => c.name === 'probe-letta-db-to-internet')).toMatchObject({
      labels: topology.component('database').selector,
      expect: 'is denied',
      control: 'probe-letta-server-to-internet',
    });
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it('GIVEN Letta without internet egress in another namespace WHEN probes are planned THEN no probe expects the internet to answer', () => {
    const topology = new Topology(loadSettings({ profile: 'kind', values: { namespace: 'agents', letta: { internetEgress: { enabled: false } } } }));

    const cases = networkProbeCases(topology, optionsFor(topology));

    expect(cases.filter((c) => c.host === '1.1.1.1')).toEqual([]);
    expect(cases.find((c) => c.name === 'probe-ingress-controller-to-letta-server')?.host).toBe('letta-server.agents.svc');
  });

  it('GIVEN no internet address (a cluster without internet) WHEN probes are planned THEN there are no internet probes', () => {
    const topology = new Topology(loadSettings({ profile: 'kind' }));
    const cases = networkProbeCases(topology, { ...optionsFor(topology), internetAddress: undefined });
    expect(cases.some((c) => c.name.endsWith('-to-internet'))).toBe(false);
  });
});

describe('judgeProbe', () => {
  const allowed: ProbeCase = { name: 'a', namespace: 'letta', labels: {}, host: 'letta-db', port: 5432, expect: 'connects', why: 'edge' };
  const denied: ProbeCase = { ...allowed, name: 'd', expect: 'is denied', why: 'no edge', control: 'a' };

  it('GIVEN an allowed edge that connected WHEN judged THEN it passes', () => {
    expect(judgeProbe(allowed, '{"outcome": "connected", "address": "10.244.0.7"}\n')).toMatchObject({ ok: true });
  });

  it('GIVEN a denied edge that timed out WHEN judged THEN it passes', () => {
    expect(judgeProbe(denied, '{"outcome": "timeout", "address": "10.244.0.7"}')).toMatchObject({ ok: true });
  });

  it('GIVEN a denied edge that connected WHEN judged THEN it fails naming the edge and the expectation', () => {
    const verdict = judgeProbe(denied, '{"outcome": "connected", "address": "10.244.0.7"}');
    expect(verdict.ok).toBe(false);
    expect(verdict.message).toBe('letta/d → letta-db:5432: connected, expected is denied (no edge)');
  });

  it('GIVEN a denied edge that was refused and whose control connected WHEN judged THEN it passes: kube-router rejects', () => {
    expect(judgeProbe(denied, '{"outcome": "refused", "address": "10.244.0.7", "detail": "[Errno 111] Connection refused"}', true).ok).toBe(true);
  });

  it('GIVEN a denied edge that was refused but whose control did not connect WHEN judged THEN it fails: nothing may listen there', () => {
    const verdict = judgeProbe(denied, '{"outcome": "refused", "address": "10.244.0.7", "detail": "[Errno 111] Connection refused"}', false);
    expect(verdict.ok).toBe(false);
    expect(verdict.message).toContain('a rejection proves the policy only if a reached the same target');
  });

  it('GIVEN a name that did not resolve WHEN judged THEN it fails and says the policy was not exercised', () => {
    const verdict = judgeProbe(denied, '{"outcome": "dns-error", "detail": "[Errno -2] Name does not resolve"}');
    expect(verdict.ok).toBe(false);
    expect(verdict.message).toContain('the policy was not exercised');
  });

  it('GIVEN a log without a verdict WHEN judged THEN it fails quoting the log', () => {
    const verdict = judgeProbe(allowed, 'Traceback (most recent call last):\n  ...');
    expect(verdict.ok).toBe(false);
    expect(verdict.message).toContain('no verdict in the probe\'s log: Traceback');
  });
});

describe.runIf(available('e2e connect probe', python3Missing()))('connect_probe.py on loopback', () => {
  const probe = (host: string, port: number) => {
    const result = spawnSync('python3', [join(__dirname, 'backends', 'connect_probe.py'), host, String(port), '5'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    return result.stdout;
  };

  it('GIVEN a listening port WHEN probed THEN the log judges as connected', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      // spawnSync blocks this process, but the kernel completes the handshake from the backlog.
      const log = probe('127.0.0.1', port);
      expect(judgeProbe({ ...probeCase, port, expect: 'connects' }, log)).toMatchObject({ ok: true });
    } finally {
      server.close();
    }
  });

  it('GIVEN a closed port WHEN probed THEN the outcome is a refusal, which counts as denied only next to a control that connected', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    server.close();
    await once(server, 'close');

    const log = probe('127.0.0.1', port);

    expect(JSON.parse(log)).toMatchObject({ outcome: 'refused', address: '127.0.0.1' });
    expect(judgeProbe({ ...probeCase, port, expect: 'is denied', control: 'p' }, log).ok).toBe(false);
    expect(judgeProbe({ ...probeCase, port, expect: 'connects' }, log).ok).toBe(false);
  });
});

describe.runIf(available('e2e connect probe window', python3Missing()))('connect_probe.py with a window, on loopback', () => {
  const script = join(__dirname, 'backends', 'connect_probe.py');

  it('GIVEN a port that opens only after a while WHEN probed until connected THEN the late connection is the verdict', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    server.close();
    await once(server, 'close');
    // Listening again 3 s later, as an allowed source's rule arrives after the probe started.
    const reopen = setTimeout(() => server.listen(port, '127.0.0.1'), 3_000);
    try {
      const log = await new Promise<string>((resolve) => {
        let out = '';
        const child = spawn('python3', [script, '127.0.0.1', String(port), '2', '20', '--until-connected']);
        child.stdout.on('data', (chunk: Buffer) => (out += chunk));
        child.on('close', () => resolve(out));
      });
      expect(judgeProbe({ ...probeCase, port, expect: 'connects' }, log)).toMatchObject({ ok: true });
    } finally {
      clearTimeout(reopen);
      server.close();
    }
  }, 60_000);
});
