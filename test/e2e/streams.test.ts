import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available } from '../../tools/requirements';
import type { IngressTarget } from './http';
import { recordSseStream, sseProblems } from './sse';
import { python3Missing, type Running, startBackend, startBufferingProxy, startIdleTimeoutProxy } from './support/loopback';
import { webSocketEchoProblems } from './websocket';

// The other outcomes of sseProblems come from real streams below.
it('GIVEN a complete stream whose idle gap is shorter than the check needs WHEN judged THEN the problem says so', () => {
  const events = [{ event: 'first', data: '{}' }, { event: 'second', data: '{"idleSeconds": 30}' }, { event: 'end', data: '{"acknowledged": [true, true]}' }];
  expect(sseProblems({ events, ackStatuses: [204, 204], ending: 'ended' }, 60)).toEqual(['the stream was idle 30 s, less than the 60 s the check needs']);
});

// The real backend script on loopback, directly and behind proxies that misbehave like an ingress
// without the stream annotations: one buffers responses, the other cuts idle connections.
describe.runIf(available('e2e stream checks', python3Missing()))('stream checks against stream_backend.py on loopback', () => {
  const IDLE_SECONDS = 1;
  // The buffering case waits out the backend's silence and both acknowledgement waits (7 s).
  const TEST_TIMEOUT_MS = 30_000;
  const servers = {} as Record<'direct' | 'buffering' | 'idleCutting', Running>;
  const via = (route: keyof typeof servers): IngressTarget => ({ host: 'e2e.letta.localhost', address: '127.0.0.1', port: servers[route].port });

  beforeAll(async () => {
    servers.direct = await startBackend({ IDLE_SECONDS: String(IDLE_SECONDS), ACK_SECONDS: '3' });
    servers.buffering = await startBufferingProxy(servers.direct.port);
    servers.idleCutting = await startIdleTimeoutProxy(servers.direct.port, 300);
  });
  afterAll(() => Promise.all(Object.values(servers).map((server) => server.stop())));

  it.each([
    ['a direct connection', 'direct', []],
    ['a proxy that buffers responses', 'buffering', [expect.stringMatching(/"first".*buffered/), expect.stringMatching(/"second".*buffered/)]],
    ['a proxy that drops idle connections', 'idleCutting', [expect.stringContaining('stopped after "first"')]],
  ] as const)('GIVEN %s WHEN the SSE stream is read THEN the check reports what the path did to it, and nothing on a sound path', async (_, route, problems) => {
    const record = await recordSseStream(via(route), { timeoutMs: 20_000 });
    expect(sseProblems(record, IDLE_SECONDS * 0.9)).toEqual(problems);
  }, TEST_TIMEOUT_MS);

  it.each([
    ['a direct connection', 'direct', []],
    ['a proxy that drops idle connections', 'idleCutting', [expect.stringContaining('did not survive 1000 ms of silence')]],
    ['a proxy that holds the upgrade response back', 'buffering', [expect.stringContaining('the WebSocket upgrade failed')]],
  ] as const)('GIVEN %s WHEN a WebSocket echoes across 1 s of silence THEN the check reports what the path did to it, and nothing on a sound path', async (_, route, problems) => {
    expect(await webSocketEchoProblems(via(route), { idleMs: 1_000, stepTimeoutMs: 3_000 })).toEqual(problems);
  }, TEST_TIMEOUT_MS);
});
