import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { createParser } from 'eventsource-parser';
import { httpRequest, type IngressTarget, lookupTo, urlOf } from './http';

/*
 * The Server-Sent-Events check: one stream from the test backend through the ingress, which must
 * survive a long idle gap and deliver each event while the stream is still open (no buffering).
 */

export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

export interface SseStreamRecord {
  /** Events in arrival order. */
  readonly events: SseEvent[];
  /** Status of each acknowledgement POST, in order (0: it failed to connect). */
  readonly ackStatuses: number[];
  /** How the stream ended: "ended" by the server, or an error message. */
  readonly ending: string;
}

export interface SseCheckOptions {
  /** Upper bound for the whole stream; the backend's idle time plus its ack waits, and a margin. */
  readonly timeoutMs: number;
}

/**
 * Reads one stream of the test backend (stream_backend.py), acknowledging "first" and "second" as
 * they arrive, until the server ends it, it breaks, or the time runs out.
 */
export function recordSseStream(target: IngressTarget, options: SseCheckOptions): Promise<SseStreamRecord> {
  const stream = randomBytes(8).toString('hex');
  const events: SseEvent[] = [];
  const acks: Array<Promise<number>> = [];
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ending: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      void Promise.all(acks).then((ackStatuses) => resolve({ events, ackStatuses, ending }));
    };
    const timer = setTimeout(() => finish(`no end of stream within ${options.timeoutMs} ms`), options.timeoutMs);
    const req = request(
      urlOf(target, `/sse?stream=${stream}`),
      { lookup: lookupTo(target.address), headers: { Accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          finish(`status ${res.statusCode}`);
          return;
        }
        const parser = createParser({
          onEvent: ({ event = 'message', data, id }) => {
            events.push({ event, data, ...(id !== undefined && { id }) });
            if (event === 'first' || event === 'second') {
              acks.push(
                httpRequest(target, 'POST', `/sse/ack?stream=${stream}`, 10_000).then(
                  (response) => response.status,
                  () => 0,
                ),
              );
            }
          },
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('end', () => finish('ended'));
        res.on('error', (error) => finish(error.message));
        res.on('close', () => finish(res.complete ? 'ended' : 'connection closed before the stream ended'));
      },
    );
    req.on('error', (error) => finish(error.message));
    req.end();
  });
}

/**
 * Problems with a recorded stream; none means both events came through one connection, the second
 * after an idle gap of at least `minIdleSeconds`, each while the stream was still open.
 */
export function sseProblems(record: SseStreamRecord, minIdleSeconds: number): string[] {
  const names = record.events.map((e) => e.event);
  const expected = ['first', 'second', 'end'];
  if (names.join() !== expected.join()) {
    const lastSeen = names.length ? `after "${names[names.length - 1]}"` : 'before any event';
    return [`expected events ${expected.join(', ')} on one connection; the stream stopped ${lastSeen} (${record.ending})`];
  }
  const problems: string[] = [];
  const idle = Number(JSON.parse(record.events[1].data).idleSeconds);
  if (!(idle >= minIdleSeconds)) problems.push(`the stream was idle ${idle} s, less than the ${minIdleSeconds} s the check needs`);
  const acknowledged = JSON.parse(record.events[2].data).acknowledged as boolean[];
  ['first', 'second'].forEach((name, index) => {
    if (acknowledged[index] !== true) {
      problems.push(
        `event "${name}" reached the client only after the server stopped waiting for it (ack status ${record.ackStatuses[index]}): the proxy buffered the stream`,
      );
    }
  });
  return problems;
}
