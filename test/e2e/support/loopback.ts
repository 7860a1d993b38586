import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { request, createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/*
 * Loopback stand-ins for the cluster path of the stream checks: the real test backend script run
 * by the local python3, and proxies that misbehave the way a badly configured ingress does.
 */

export const BACKEND_SCRIPT = join(__dirname, '..', 'backends', 'stream_backend.py');

/** Why the local python3 cannot run the backend script, or undefined when it can. */
export function python3Missing(): string | undefined {
  const result = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? undefined : 'python3 is not on PATH; it runs the test backend script on loopback';
}

export interface RunningBackend {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts stream_backend.py on a free loopback port. */
export function startBackend(env: Record<string, string>): Promise<RunningBackend> {
  const child = spawn('python3', ['-u', BACKEND_SCRIPT], {
    env: { ...process.env, PORT: '0', PYTHONDONTWRITEBYTECODE: '1', ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`stream_backend.py exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const { listening } = JSON.parse(line) as { listening: number };
      resolve({ port: listening, stop: () => stopChild(child) });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface RunningProxy {
  readonly port: number;
  stop(): Promise<void>;
}

function listening(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closer(server: Server | HttpServer): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      if ('closeAllConnections' in server) server.closeAllConnections();
    });
}

/** A TCP proxy that drops connections idle for `idleMs`, as nginx does after proxy_read_timeout. */
export async function startIdleTimeoutProxy(upstreamPort: number, idleMs: number): Promise<RunningProxy> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    const dropIdle = () => {
      client.destroy();
      upstream.destroy();
    };
    client.setTimeout(idleMs, dropIdle);
    upstream.setTimeout(idleMs, dropIdle);
  });
  const port = await listening(server);
  const close = closer(server);
  return {
    port,
    stop: () => {
      sockets.forEach((socket) => socket.destroy());
      return close();
    },
  };
}

/** An HTTP proxy that sends each response only once the upstream has finished it: proxy_buffering on. */
export async function startBufferingProxy(upstreamPort: number): Promise<RunningProxy> {
  const server = createHttpServer((clientRequest, clientResponse) => {
    const upstream = request(
      { host: '127.0.0.1', port: upstreamPort, method: clientRequest.method, path: clientRequest.url, headers: clientRequest.headers },
      (upstreamResponse) => {
        const chunks: Buffer[] = [];
        upstreamResponse.on('data', (chunk: Buffer) => chunks.push(chunk));
        upstreamResponse.on('end', () => {
          const body = Buffer.concat(chunks);
          clientResponse.writeHead(upstreamResponse.statusCode ?? 502, {
            'content-type': upstreamResponse.headers['content-type'] ?? 'text/plain',
            'content-length': body.length,
          });
          clientResponse.end(body);
        });
      },
    );
    upstream.on('error', () => clientResponse.destroy());
    clientRequest.pipe(upstream);
  });
  const port = await listening(server);
  return { port, stop: closer(server) };
}
