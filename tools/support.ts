/** Small helpers the tests and tools share. */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const MINUTE = 60_000;

/** Distinct ports the kernel hands out as free right now, on `host` (every interface if unset); they stay free unless another process races for them. */
export async function freePorts(count: number, host?: string): Promise<number[]> {
  const listening = () =>
    new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer().once('error', reject);
      server.listen(0, host, () => resolve(server));
    });
  const servers = await Promise.all(Array.from({ length: count }, listening));
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** The cache the builds/ scripts fill; mirrors builds/cache-dir.sh. */
export function cacheRoot(): string {
  return process.env.LETTA_K8S_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'letta-k8s');
}

/** The version of `modulePath` that the go.mod at `goMod` requires. */
export function goModVersion(goMod: string, modulePath: string): string {
  for (const line of readFileSync(goMod, 'utf8').split('\n')) {
    const [path, version] = line.trim().split(/\s+/);
    if (path === modulePath && version) return version;
  }
  throw new Error(`${goMod} does not require ${modulePath}`);
}
