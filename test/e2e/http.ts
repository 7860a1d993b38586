import type { LookupFunction } from 'node:net';
import { request } from 'node:http';

/**
 * Where the ingress listens: requests name `host` (Host header, as a browser would send) but
 * connect to `address`, like `curl --resolve`. `*.localhost` need not resolve on this machine.
 */
export interface IngressTarget {
  readonly host: string;
  readonly address: string;
  readonly port: number;
}

/** A DNS lookup that answers every name with one IPv4 address. */
export function lookupTo(address: string): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family: 4 }]);
    else callback(null, address, 4);
  }) as LookupFunction;
}

export function urlOf(target: IngressTarget, path: string, scheme: 'http' | 'ws' = 'http'): string {
  return `${scheme}://${target.host}:${target.port}${path}`;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

export interface RequestExtras {
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as JSON. */
  readonly json?: unknown;
}

/** One request with a bounded wait; rejects on connection errors and time-outs. */
export function httpRequest(target: IngressTarget, method: string, path: string, timeoutMs: number, extras: RequestExtras = {}): Promise<HttpResponse> {
  const body = extras.json === undefined ? undefined : JSON.stringify(extras.json);
  const headers = { ...extras.headers, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }) };
  return new Promise((resolve, reject) => {
    const req = request(urlOf(target, path), { method, headers, lookup: lookupTo(target.address), timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${urlOf(target, path)} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Letta's GET /v1/health/ answer: {"version": ..., "status": "ok"}; a problem, or undefined when healthy. */
export function healthProblem(response: HttpResponse): string | undefined {
  if (response.status !== 200) return `status ${response.status}: ${response.body.slice(0, 200)}`;
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return `not JSON: ${response.body.slice(0, 200)}`;
  }
  const { status, version } = (body ?? {}) as { status?: unknown; version?: unknown };
  if (status !== 'ok') return `status field is ${JSON.stringify(status)}, not "ok"`;
  if (typeof version !== 'string' || version === '') return 'no version in the answer';
  return undefined;
}
