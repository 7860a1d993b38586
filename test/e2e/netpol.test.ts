import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/topology';
import { available } from '../support/requirements';
import { judgeProbe, networkProbeCases, type ProbeCase } from './netpol';
import { python3Missing } from './support/loopback';

const probeCase: ProbeCase = { name: 'p', namespace: 'letta', labels: {}, host: '127.0.0.1', port: 1, expect: 'connects', why: 'test' };
const options = { outsideNamespace: 'letta-e2e', ingressNamespace: 'ingress-nginx', internetAddress: '1.1.1.1' };

describe('networkProbeCases', () => {
  it('GIVEN the kind topology WHEN probes are planned THEN allowed edges must connect and denied ones time out, named from the topology', () => {
    const topology = new Topology(loadSettings({ profile: 'kind' }));

    const cases = networkProbeCases(topology, options);

    expect(cases.map((c) => [c.namespace, c.labels['app.kubernetes.io/name'] ?? '-', `${c.host}:${c.port}`, c.expect])).toEqual([
      ['letta', 'letta-server', 'letta-db:5432', 'connects'],
      ['letta-e2e', '-', 'letta-db.letta.svc:5432', 'times out'],
      ['ingress-nginx', '-', 'letta-db.letta.svc:5432', 'times out'],
      ['letta', 'letta-db', '1.1.1.1:443', 'times out'],
      ['letta', 'letta-server', '1.1.1.1:443', 'connects'],
    ]);
    expect(cases.find((c) => c.name === 'probe-db-to-internet')?.labels).toEqual(topology.component('database').selector);
  });

  it('GIVEN Letta without internet egress in another namespace WHEN probes are planned THEN no probe expects the internet to answer', () => {
    const topology = new Topology(loadSettings({ profile: 'kind', values: { namespace: 'agents', letta: { internetEgress: { enabled: false } } } }));

    const cases = networkProbeCases(topology, options);

    expect(cases.filter((c) => c.expect === 'connects').map((c) => c.name)).toEqual(['probe-server-to-db']);
    expect(cases.find((c) => c.name === 'probe-outside-to-db')?.host).toBe('letta-db.agents.svc');
  });
});

describe('judgeProbe', () => {
  const allowed: ProbeCase = { name: 'a', namespace: 'letta', labels: {}, host: 'letta-db', port: 5432, expect: 'connects', why: 'edge' };
  const denied: ProbeCase = { ...allowed, name: 'd', expect: 'times out', why: 'no edge' };

  it('GIVEN an allowed edge that connected WHEN judged THEN it passes', () => {
    expect(judgeProbe(allowed, '{"outcome": "connected", "address": "10.244.0.7"}\n')).toMatchObject({ ok: true });
  });

  it('GIVEN a denied edge that timed out WHEN judged THEN it passes', () => {
    expect(judgeProbe(denied, '{"outcome": "timeout", "address": "10.244.0.7"}')).toMatchObject({ ok: true });
  });

  it('GIVEN a denied edge that connected WHEN judged THEN it fails naming the edge and the expectation', () => {
    const verdict = judgeProbe(denied, '{"outcome": "connected", "address": "10.244.0.7"}');
    expect(verdict.ok).toBe(false);
    expect(verdict.message).toBe('letta/d → letta-db:5432: connected, expected times out (no edge)');
  });

  it('GIVEN a denied edge that was refused WHEN judged THEN it fails: a refusal is not a policy drop', () => {
    expect(judgeProbe(denied, '{"outcome": "refused", "address": "10.244.0.7", "detail": "[Errno 111] Connection refused"}').ok).toBe(false);
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

  it('GIVEN a closed port WHEN probed THEN the outcome is a refusal, which no expectation accepts', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    server.close();
    await once(server, 'close');

    const log = probe('127.0.0.1', port);

    expect(JSON.parse(log)).toMatchObject({ outcome: 'refused', address: '127.0.0.1' });
    expect(judgeProbe({ ...probeCase, port, expect: 'times out' }, log).ok).toBe(false);
  });
});
