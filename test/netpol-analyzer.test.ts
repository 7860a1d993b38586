/**
 * Issue #3, part 5: tools/netpol/evaluator.ts against np-guard's netpol-analyzer, an independent
 * implementation of NetworkPolicy semantics, on the rendered profiles (with ingress-nginx installed
 * as on kind, so that its controller is a real workload) and on a fixture that uses every
 * NetworkPolicy feature. Both must find the same connections, port for port. Normalized, and why:
 * - The analyzer never lets an ipBlock select a pod; the evaluator by default gives pods kind's pod
 *   CIDR, as most CNIs match ipBlocks against pod addresses. The comparison runs the evaluator with
 *   `podCidr: null`, and a separate test shows that for the stack the pod CIDR changes nothing.
 * - The analyzer splits the address space into ranges, the evaluator answers for single addresses:
 *   each range's first address, and the evaluator's probe addresses, are asked of both.
 * - From Ingress objects the analyzer adds `{ingress-controller}`, "an arbitrary in-cluster source";
 *   the real controller Deployment is in the input, so those lines are left out.
 * - The evaluator's probe pods (`probePods`) are written as Pod manifests into the analyzer's input.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectivity, formatConnection, PROBE_ADDRESSES, probePods, workloadsFrom } from '../tools/netpol/evaluator';
import { AddressRange } from '../tools/netpol/ip';
import { format, NO_PORTS, portSet, PortSet, union } from '../tools/netpol/ports';
import { findNetpolAnalyzer, inRanges, listConnections, parseAddressRanges, parseConnectionSet, parseWorkload } from './support/netpol-analyzer';
import { INGRESS_NGINX_MANIFEST } from '../tools/fixtures';
import { loadManifests, PROFILES, renderProfile } from '../tools/render';
import { available } from '../tools/requirements';

const analyzer = findNetpolAnalyzer();
const runnable = available('netpol-analyzer', 'missing' in analyzer ? analyzer.missing : undefined);

const SEMANTICS_FIXTURE = join(__dirname, 'fixtures', 'netpol', 'semantics.yaml');
const ABSTRACT_INGRESS_CONTROLLER = '{ingress-controller}';

type Side = { kind: 'workload'; id: string } | { kind: 'addresses'; ranges: AddressRange[] };

interface Comparison {
  /** "from => to": ports, for every pair either side connects. */
  readonly evaluator: ReadonlyMap<string, PortSet>;
  readonly analyzer: ReadonlyMap<string, PortSet>;
}

/**
 * Runs both on the manifest files plus probe pods. The probe addresses are the evaluator's own,
 * `moreAddresses`, and the first address of every range the analyzer reports.
 */
function compare(files: readonly string[], moreAddresses: readonly string[] = []): Comparison {
  if ('missing' in analyzer) throw new Error(analyzer.missing);
  const objects = loadManifests(files);
  const probes = probePods(objects);
  const listing = listConnections(analyzer.binary, files, probes);
  expect(listing.errors, 'the analyzer read every object').toEqual([]);
  const kinds = new Map([...workloadsFrom(objects), ...probes].map((workload) => [workload.id, workload.kind]));
  const side = (name: string): Side => {
    const workload = parseWorkload(name);
    if (workload === undefined) return { kind: 'addresses', ranges: parseAddressRanges(name) };
    expect(kinds.get(workload.id), `the analyzer's ${name} is a workload of the input`).toBe(workload.kind);
    return { kind: 'workload', id: workload.id };
  };
  const compared = listing.connections.filter((line) => line.src !== ABSTRACT_INGRESS_CONTROLLER && line.dst !== ABSTRACT_INGRESS_CONTROLLER);
  const sides = compared.map((line) => ({ src: side(line.src), dst: side(line.dst), ports: parseConnectionSet(line.conn) }));

  const addresses = [
    ...new Set([
      ...Object.values(PROBE_ADDRESSES),
      ...moreAddresses,
      ...sides.flatMap(({ src, dst }) => [src, dst]).flatMap((s) => (s.kind === 'addresses' ? s.ranges.map(firstAddress) : [])),
    ]),
  ];
  const analyzerMap = new Map<string, PortSet>();
  const add = (map: Map<string, PortSet>, key: string, ports: PortSet) => map.set(key, union(map.get(key) ?? NO_PORTS, ports));
  const names = (s: Side) => (s.kind === 'workload' ? [s.id] : addresses.filter((address) => inRanges(s.ranges, address)));
  for (const { src, dst, ports } of sides) {
    for (const from of names(src)) for (const to of names(dst)) add(analyzerMap, `${from} => ${to}`, ports);
  }

  const evaluatorMap = new Map<string, PortSet>();
  for (const c of connectivity(objects, { podCidr: null, probePods: probes, probeAddresses: addresses })) {
    add(evaluatorMap, `${c.from} => ${c.to}`, portSet(c.protocol, c.port, c.endPort ?? c.port));
  }
  return { evaluator: evaluatorMap, analyzer: analyzerMap };
}

/** Every pair on which the two disagree, as "pair: evaluator <ports> / analyzer <ports>". */
function differences({ evaluator, analyzer: other }: Comparison): string[] {
  const pairs = [...new Set([...evaluator.keys(), ...other.keys()])].sort();
  return pairs.flatMap((pair) => {
    const [ours, theirs] = [evaluator, other].map((ports) => format(ports.get(pair) ?? NO_PORTS));
    return ours === theirs ? [] : [`${pair}: evaluator ${ours} / analyzer ${theirs}`];
  });
}

function firstAddress(range: AddressRange): string {
  if (range.family !== 4) throw new Error('only IPv4 ranges are expected from the analyzer');
  return [24n, 16n, 8n, 0n].map((shift) => String((range.first >> shift) & 255n)).join('.');
}

describe.skipIf(!runnable)(`np-guard netpol-analyzer ${'version' in analyzer ? analyzer.version : ''}`, () => {
  describe('GIVEN a fixture that uses every NetworkPolicy feature the evaluator implements', () => {
    it('WHEN both list the connections THEN they agree on every pair and port', () => {
      const comparison = compare([SEMANTICS_FIXTURE], ['192.168.7.7']);
      expect(differences(comparison)).toEqual([]);
      // Guards against agreeing on nothing: the fixture's policies allow these.
      const allowed = ['shop/web => shop/api', 'tools/debug => shop/api', '192.168.7.7 => shop/cache', 'shop/api => 8.8.8.8'];
      expect(allowed.map((pair) => format(comparison.analyzer.get(pair) ?? NO_PORTS))).toEqual(['TCP 8000', 'TCP 9000', 'TCP 6379 SCTP 3868', 'TCP 443']);
    });
  });

  describe.each(PROFILES)('GIVEN the %s profile with ingress-nginx installed as on kind', (profile) => {
    const files = () => [...renderProfile(profile).files, INGRESS_NGINX_MANIFEST];

    it('WHEN both list the connections THEN they agree on every pair and port', () => {
      const comparison = compare(files());
      expect(differences(comparison)).toEqual([]);
      expect(format(comparison.analyzer.get('ingress-nginx/ingress-nginx-controller => letta/letta-server') ?? NO_PORTS)).toBe('TCP 8283');
    });

    it('WHEN pods get addresses of the pod CIDR THEN no ipBlock admits them, so the comparison above loses nothing', () => {
      const objects = loadManifests(files());
      expect(connectivity(objects).map(formatConnection)).toEqual(connectivity(objects, { podCidr: null }).map(formatConnection));
    });
  });
});
