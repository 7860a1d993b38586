import { spawn, spawnSync } from 'node:child_process';
import { request, createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/*
 * Loopback stand-ins for the cluster path of the stream checks: the real test backend script run
 * by the local python3, and proxies that misbehave the way a badly configured ingress does.
 */

/** Why the local python3 cannot run the backend script, or undefined when it can. */
export function python3Missing(): string | undefined {
  const result = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? undefined : 'python3 is not on PATH; it runs the test backend script on loopback';
}

/** A server on a loopback port. */
export interface Running {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts stream_backend.py on a free loopback port. */
export function startBackend(env: Record<string, string>): Promise<Running> {
  const child = spawn('python3', ['-u', join(__dirname, '..', 'backends', 'stream_backend.py')], {
    env: { ...process.env, PORT: '0', PYTHONDONTWRITEBYTECODE: '1', ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`stream_backend.py exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ port: (JSON.parse(line) as { listening: number }).listening, stop }));
  });
}

/** `server` on a free loopback port; stopping it also ends the connections it holds open. */
function running(server: Server): Promise<Running> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      sockets.forEach((socket) => socket.destroy());
    });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port, stop })));
}

/** A TCP proxy that drops connections idle for `idleMs`, as nginx does after proxy_read_timeout. */
export function startIdleTimeoutProxy(upstreamPort: number, idleMs: number): Promise<Running> {
  return running(
    createServer((client) => {
      const upstream = connect(upstreamPort, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      // The client side closing, when idle or when the proxy stops, closes the upstream side too.
      client.on('close', () => upstream.destroy());
      for (const socket of [client, upstream]) socket.on('error', () => undefined).setTimeout(idleMs, () => client.destroy());
    }),
  );
}

/** An HTTP proxy that sends each response only once the upstream has finished it: proxy_buffering on. */
export function startBufferingProxy(upstreamPort: number): Promise<Running> {
  return running(
    createHttpServer((clientRequest, clientResponse) => {
      const upstream = request(
        { host: '127.0.0.1', port: upstreamPort, method: clientRequest.method, path: clientRequest.url, headers: clientRequest.headers },
        (upstreamResponse) => {
          const chunks: Buffer[] = [];
          upstreamResponse.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstreamResponse.on('end', () => {
            const body = Buffer.concat(chunks);
            const headers = { 'content-type': upstreamResponse.headers['content-type'] ?? 'text/plain', 'content-length': body.length };
            clientResponse.writeHead(upstreamResponse.statusCode ?? 502, headers).end(body);
          });
        },
      );
      upstream.on('error', () => clientResponse.destroy());
      clientRequest.pipe(upstream);
    }),
  );
}
