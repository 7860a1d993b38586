import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available } from '../../tools/requirements';
import type { IngressTarget } from './http';
import { recordSseStream, sseProblems } from './sse';
import {
  python3Missing,
  type RunningBackend,
  type RunningProxy,
  startBackend,
  startBufferingProxy,
  startIdleTimeoutProxy,
} from './support/loopback';
import { webSocketEchoProblems } from './websocket';

describe('SSE problems', () => {
  const end = (acknowledged: boolean[]) => ({ event: 'end', data: JSON.stringify({ acknowledged }) });
  const second = (idleSeconds: number) => ({ event: 'second', data: JSON.stringify({ idleSeconds }) });
  const first = { event: 'first', data: '{}' };

  it.each([
    ['a stream that stopped after the first event', { events: [first], ackStatuses: [204], ending: 'connection closed before the stream ended' }, ['stopped after "first" (connection closed before the stream ended)']],
    ['a complete stream whose idle gap is too short', { events: [first, second(30), end([true, true])], ackStatuses: [204, 204], ending: 'ended' }, ['idle 30 s, less than the 60 s']],
    ['a complete, acknowledged stream idle long enough', { events: [first, second(75.2), end([true, true])], ackStatuses: [204, 204], ending: 'ended' }, []],
  ])('GIVEN %s WHEN judged against 60 s THEN the problems say where and why', (_, record, problems) => {
    expect(sseProblems(record, 60)).toEqual(problems.map((problem) => expect.stringContaining(problem)));
  });
});

// The real backend script, on loopback, directly and behind proxies that misbehave like an
// ingress without the stream annotations.
const runs = available('e2e stream checks', python3Missing());

describe.runIf(runs)('stream checks against stream_backend.py on loopback', () => {
  const IDLE_SECONDS = 1;
  // The buffering test waits out the backend's silence and both acknowledgement waits (7 s).
  const TEST_TIMEOUT_MS = 30_000;
  let backend: RunningBackend;
  const proxies: RunningProxy[] = [];
  const target = (port: number): IngressTarget => ({ host: 'e2e.letta.localhost', address: '127.0.0.1', port });

  beforeAll(async () => {
    backend = await startBackend({ IDLE_SECONDS: String(IDLE_SECONDS), ACK_SECONDS: '3' });
  });
  afterAll(async () => {
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    await backend?.stop();
  });

  const proxy = async (start: Promise<RunningProxy>) => {
    const running = await start;
    proxies.push(running);
    return running;
  };

  it('GIVEN a direct connection WHEN the SSE stream is read THEN both events arrive, acknowledged, after the idle gap', async () => {
    const record = await recordSseStream(target(backend.port), { timeoutMs: 20_000 });
    expect(record.events.map((e) => e.event)).toEqual(['first', 'second', 'end']);
    expect(sseProblems(record, IDLE_SECONDS * 0.9)).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('GIVEN a proxy that buffers responses WHEN the SSE stream is read THEN the check reports buffering', async () => {
    const buffering = await proxy(startBufferingProxy(backend.port));
    const record = await recordSseStream(target(buffering.port), { timeoutMs: 20_000 });
    const problems = sseProblems(record, IDLE_SECONDS * 0.9);
    expect(problems).toEqual([expect.stringContaining('"first"'), expect.stringContaining('"second"')]);
    expect(problems.join()).toContain('buffered');
  }, TEST_TIMEOUT_MS);

  it('GIVEN a proxy that drops idle connections WHEN the SSE stream is read THEN the check reports the stream stopped after the first event', async () => {
    const impatient = await proxy(startIdleTimeoutProxy(backend.port, 300));
    const record = await recordSseStream(target(impatient.port), { timeoutMs: 20_000 });
    expect(sseProblems(record, IDLE_SECONDS * 0.9)).toEqual([expect.stringContaining('stopped after "first"')]);
  }, TEST_TIMEOUT_MS);

  it('GIVEN a direct connection WHEN a WebSocket echoes across a silence THEN there is no problem', async () => {
    expect(await webSocketEchoProblems(target(backend.port), { idleMs: 1_000, stepTimeoutMs: 5_000 })).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('GIVEN a proxy that drops idle connections WHEN a WebSocket stays silent longer THEN the check reports the closed connection', async () => {
    const impatient = await proxy(startIdleTimeoutProxy(backend.port, 300));
    const problems = await webSocketEchoProblems(target(impatient.port), { idleMs: 1_000, stepTimeoutMs: 5_000 });
    expect(problems).toEqual([expect.stringContaining('did not survive 1000 ms of silence')]);
  }, TEST_TIMEOUT_MS);

  it('GIVEN a proxy that holds the upgrade response back WHEN a WebSocket connects THEN the check reports the failed upgrade', async () => {
    const noUpgrades = await proxy(startBufferingProxy(backend.port));
    const problems = await webSocketEchoProblems(target(noUpgrades.port), { idleMs: 0, stepTimeoutMs: 1_000 });
    expect(problems).toEqual([expect.stringContaining('the WebSocket upgrade failed')]);
  }, TEST_TIMEOUT_MS);
});
