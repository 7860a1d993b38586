/**
 * Sets of (protocol, port) as sorted, disjoint, inclusive port ranges per protocol, so that
 * "all ports" and `endPort` ranges are exact rather than sampled.
 */

export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export const MIN_PORT = 1;
export const MAX_PORT = 65535;

export type PortRange = readonly [first: number, last: number];
export type PortSet = Readonly<Record<Protocol, readonly PortRange[]>>;

export const NO_PORTS: PortSet = { TCP: [], UDP: [], SCTP: [] };
export const ALL_PORTS: PortSet = { TCP: [[MIN_PORT, MAX_PORT]], UDP: [[MIN_PORT, MAX_PORT]], SCTP: [[MIN_PORT, MAX_PORT]] };

export function portSet(protocol: Protocol, first: number, last = first): PortSet {
  return { ...NO_PORTS, [protocol]: first <= last ? [[first, last]] : [] };
}

export function union(a: PortSet, b: PortSet): PortSet {
  return mapProtocols((protocol) => normalize([...a[protocol], ...b[protocol]]));
}

export function intersect(a: PortSet, b: PortSet): PortSet {
  return mapProtocols((protocol) =>
    normalize(
      a[protocol]
        .flatMap(([aFirst, aLast]) => b[protocol].map(([bFirst, bLast]): PortRange => [Math.max(aFirst, bFirst), Math.min(aLast, bLast)]))
        .filter(([first, last]) => first <= last),
    ),
  );
}

export function isEmpty(set: PortSet): boolean {
  return PROTOCOLS.every((protocol) => set[protocol].length === 0);
}

export function includes(set: PortSet, protocol: Protocol, port: number): boolean {
  return set[protocol].some(([first, last]) => first <= port && port <= last);
}

/** E.g. "TCP 53,5432-5433 UDP 53"; "all" for every port of every protocol; "none". */
export function format(set: PortSet): string {
  const ranges = (protocol: Protocol) => set[protocol].map(([first, last]) => (first === last ? `${first}` : `${first}-${last}`)).join(',');
  if (isEmpty(set)) return 'none';
  if (PROTOCOLS.every((protocol) => ranges(protocol) === `${MIN_PORT}-${MAX_PORT}`)) return 'all';
  return PROTOCOLS.filter((protocol) => set[protocol].length > 0)
    .map((protocol) => `${protocol} ${ranges(protocol)}`)
    .join(' ');
}

function mapProtocols(f: (protocol: Protocol) => PortRange[]): PortSet {
  return { TCP: f('TCP'), UDP: f('UDP'), SCTP: f('SCTP') };
}

/** Sorts and merges overlapping or adjacent ranges. */
function normalize(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [first, last] of sorted) {
    const previous = merged[merged.length - 1];
    if (previous && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last);
    else merged.push([first, last]);
  }
  return merged;
}
