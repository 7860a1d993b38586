import WebSocket from 'ws';
import { type IngressTarget, lookupTo, urlOf } from './http';

/*
 * The WebSocket check: an upgrade through the ingress to the echo backend, one echo, a silence
 * longer than the proxy's default timeout, and a second echo on the same connection.
 */

export interface WebSocketCheckOptions {
  /** Silence between the two messages. Neither side pings meanwhile. */
  readonly idleMs: number;
  /** Bound for the upgrade and for each echo. */
  readonly stepTimeoutMs: number;
}

function describeClose(code: number, reason: Buffer): string {
  return `closed with code ${code}${reason.length ? ` (${reason.toString()})` : ''}`;
}

/** The next message, or why none came: the socket closed or the time ran out. */
function nextMessage(socket: WebSocket, timeoutMs: number): Promise<{ message: string } | { problem: string }> {
  return new Promise((resolve) => {
    const done = (result: { message: string } | { problem: string }) => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('close', onClose);
      resolve(result);
    };
    const onMessage = (data: WebSocket.RawData) => done({ message: data.toString() });
    const onClose = (code: number, reason: Buffer) => done({ problem: describeClose(code, reason) });
    const timer = setTimeout(() => done({ problem: `no echo within ${timeoutMs} ms` }), timeoutMs);
    socket.on('message', onMessage);
    socket.on('close', onClose);
  });
}

async function echoProblem(socket: WebSocket, message: string, timeoutMs: number): Promise<string | undefined> {
  if (socket.readyState !== WebSocket.OPEN) return 'the connection is no longer open';
  const reply = nextMessage(socket, timeoutMs);
  socket.send(message);
  const result = await reply;
  if ('problem' in result) return result.problem;
  return result.message === message ? undefined : `echo was ${JSON.stringify(result.message)}, not ${JSON.stringify(message)}`;
}

/** Problems found; none means both messages were echoed on one connection across the silence. */
export async function webSocketEchoProblems(target: IngressTarget, options: WebSocketCheckOptions): Promise<string[]> {
  const socket = new WebSocket(urlOf(target, '/ws', 'ws'), {
    lookup: lookupTo(target.address),
    handshakeTimeout: options.stepTimeoutMs,
  });
  let closed: string | undefined;
  let failure: string | undefined;
  socket.on('close', (code, reason) => {
    closed = describeClose(code, reason);
  });
  socket.on('error', (error) => {
    failure = error.message;
  });
  try {
    const opened = await new Promise<boolean>((resolve) => {
      socket.once('open', () => resolve(true));
      socket.once('close', () => resolve(false));
    });
    if (!opened) return [`the WebSocket upgrade failed: ${failure ?? closed}`];
    const before = await echoProblem(socket, 'before the silence', options.stepTimeoutMs);
    if (before) return [`first message: ${before}`];
    await new Promise((resolve) => setTimeout(resolve, options.idleMs));
    if (closed !== undefined) return [`the connection did not survive ${options.idleMs} ms of silence: ${closed}`];
    const after = await echoProblem(socket, 'after the silence', options.stepTimeoutMs);
    return after ? [`message after ${options.idleMs} ms of silence: ${after}`] : [];
  } finally {
    socket.terminate();
  }
}
