import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import type { Shell } from './shell';

/*
 * The e2e's stand-in for the internet lives on a Docker network in one of RFC 5737's
 * documentation ranges: public to the stack's policies, never routed on the internet. A machine
 * may use such a range itself (this project's build machines reach their package registries at a
 * TEST-NET-3 address), and a Docker network over it would cut those off while the run lasts; so the
 * range is the first that no address of the machine falls in.
 */

/** RFC 5737's three documentation networks, in the order they are tried. */
export const TEST_NETS = ['198.51.100.0/24', '203.0.113.0/24', '192.0.2.0/24'] as const;

/** Package registries the builds reach (npm, PyPI, the Go module proxy, Debian). */
const REGISTRY_HOSTS = ['registry.npmjs.org', 'pypi.org', 'files.pythonhosted.org', 'proxy.golang.org', 'deb.debian.org'];

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;

/** First and last address of an IPv4 address or CIDR, as numbers; undefined for anything else. */
function range(cidr: string): [number, number] | undefined {
  const match = IPV4.exec(cidr);
  if (!match) return undefined;
  const address = match.slice(1, 5).reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(match[5] ?? 32));
  const first = address - (address % size);
  return [first, first + size - 1];
}

/** The first documentation network that none of `inUse` (addresses or CIDRs) overlaps. */
export function freeTestNet(inUse: readonly string[]): string | undefined {
  const used = inUse.map(range).filter((r): r is [number, number] => r !== undefined);
  return TEST_NETS.find((net) => {
    const [first, last] = range(net)!;
    return used.every(([from, to]) => to < first || from > last);
  });
}

/** `count`th host address of a /24 (e.g. 10 for x.y.z.10). */
export function hostAddress(subnet: string, count: number): string {
  return subnet.replace(/\.0\/24$/, `.${count}`);
}

/**
 * The IPv4 addresses this machine uses: its own, its routes' (the default route's range excepted,
 * its gateway kept), its name servers' and its package registries'.
 */
export async function addressesInUse(shell: Shell, resolvConf = '/etc/resolv.conf'): Promise<string[]> {
  let nameServers: string[] = [];
  try {
    nameServers = [...readFileSync(resolvConf, 'utf8').matchAll(/^nameserver\s+(\S+)/gm)].map((match) => match[1]);
  } catch {
    // No resolv.conf: no name server to avoid.
  }
  const words = async (args: string[]) => {
    const result = await shell.run('ip', ['-4', ...args]);
    return result.code === 0 ? result.stdout.split(/\s+/) : [];
  };
  const local = [...(await words(['-o', 'address', 'show'])), ...(await words(['route', 'show']))].filter((word) => IPV4.test(word));
  const registries = await Promise.all(
    REGISTRY_HOSTS.map((host) => lookup(host, { all: true, family: 4 }).then((found) => found.map((entry) => entry.address), () => [])),
  );
  return [...new Set([...local, ...nameServers, ...registries.flat()])].filter((address) => IPV4.test(address));
}
