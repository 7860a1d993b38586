/** Small helpers the tests and tools share. */
import { createServer, type AddressInfo } from 'node:net';

export const MINUTE = 60_000;

/** Distinct ports the kernel hands out as free right now, on `host` (every interface if unset); they stay free unless another process races for them. */
export async function freePorts(count: number, host?: string): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, host, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
