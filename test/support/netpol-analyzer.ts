import { spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as yaml from 'js-yaml';
import { cacheRoot, goModVersion } from '../../tools/support';
import { AddressRange, overlapsBlock, parseAddress } from '../../tools/netpol/ip';
import { ALL_PORTS, NO_PORTS, PortSet, portSet, Protocol, PROTOCOLS, union } from '../../tools/netpol/ports';
import type { Workload } from '../../tools/netpol/workloads';
import type { KubeObject } from '../../tools/kube';

/*
 * np-guard's netpol-analyzer (`netpolicy`), an independent implementation of NetworkPolicy
 * semantics that test/netpol-analyzer.test.ts compares tools/netpol/evaluator.ts with.
 * builds/build-netpol-analyzer.sh builds it; nothing here builds.
 */

const WRAPPER_MODULE = join(__dirname, '..', '..', 'builds', 'netpol-analyzer', 'go.mod');
const BUILD_COMMAND = 'bash builds/build-netpol-analyzer.sh';

/** The built binary, or why there is none. */
type NetpolAnalyzer = { binary: string; version: string } | { missing: string };

/** Finds the binary builds/build-netpol-analyzer.sh caches, named after the version go.mod pins. */
export function findNetpolAnalyzer(): NetpolAnalyzer {
  const version = goModVersion(WRAPPER_MODULE, 'github.com/np-guard/netpol-analyzer');
  const binary = join(cacheRoot(), 'go-tools', `netpolicy-${version}`, 'netpolicy');
  try {
    accessSync(binary, constants.X_OK);
    return { binary, version };
  } catch {
    return { missing: `netpolicy ${version} is not built (looked for ${binary}); run \`${BUILD_COMMAND}\` (about 2 minutes on 2 cores)` };
  }
}

/** What `netpolicy list` reports, and the lines in which it reports an input it could not read (and then left out). */
interface AnalyzerListing {
  /** One per line: a workload ("ns/name[Kind]"), an address range list or "{ingress-controller}" at each end. */
  readonly connections: Array<{ readonly src: string; readonly dst: string; readonly conn: string }>;
  readonly errors: string[];
}

/**
 * Runs `netpolicy list` over the manifest files plus Pod manifests for the probe pods, so that it
 * sees the pods the evaluator adds; throws with its output when it fails. It skips an object it
 * cannot parse with a logged error but exits 0, so the errors are returned. (Not with --fail: that
 * turns warnings such as an unmatched named port into an empty list, exit 0.)
 */
export function listConnections(binary: string, files: readonly string[], probes: readonly Workload[]): AnalyzerListing {
  const dir = mkdtempSync(join(tmpdir(), 'letta-k8s-netpol-analyzer-'));
  try {
    files.forEach((file, index) => copyFileSync(file, join(dir, `${String(index).padStart(4, '0')}-${basename(file)}`)));
    writeFileSync(join(dir, 'probes.yaml'), probeManifests(probes).map((object) => yaml.dump(object)).join('---\n'));
    const result = spawnSync(binary, ['list', '--dirpath', dir, '-o', 'json'], { encoding: 'utf8' });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`netpolicy list exited with ${result.status}:\n${result.stderr}${result.stdout}`);
    return { connections: JSON.parse(result.stdout), errors: result.stderr.split('\n').filter((line) => / err : /.test(line)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Parses a workload name, e.g. "letta/letta-db[StatefulSet]"; undefined for anything else. */
export function parseWorkload(name: string): { id: string; kind: string } | undefined {
  const match = /^([^/[\]]+\/[^/[\]]+)\[(\w+)\]$/.exec(name);
  return match ? { id: match[1], kind: match[2] } : undefined;
}

/** Parses an address list, e.g. "0.0.0.0-9.255.255.255" or "10.0.0.0-10.255.255.255,11.0.0.0-11.0.0.255". */
export function parseAddressRanges(text: string): AddressRange[] {
  return text.split(',').map((range) => {
    const [first, last = first] = range.split('-');
    return { ...parseAddress(first), last: parseAddress(last).last };
  });
}

export const inRanges = (ranges: readonly AddressRange[], ip: string) => ranges.some((range) => overlapsBlock(parseAddress(ip), range, []));

/** Parses a connection set, e.g. "All Connections", "TCP 53,8000-8080,UDP 53". */
export function parseConnectionSet(text: string): PortSet {
  if (text === 'All Connections') return ALL_PORTS;
  let result = NO_PORTS;
  let protocol: Protocol | undefined;
  for (const token of text.split(',')) {
    const match = /^(?:(\w+) )?(\d+)(?:-(\d+))?$/.exec(token);
    if (match?.[1] !== undefined) {
      if (!(PROTOCOLS as readonly string[]).includes(match[1])) throw new Error(`unknown protocol in "${text}"`);
      protocol = match[1] as Protocol;
    }
    if (!match || protocol === undefined) throw new Error(`cannot read connection set "${text}" at "${token}"`);
    result = union(result, portSet(protocol, Number(match[2]), Number(match[3] ?? match[2])));
  }
  return result;
}

function probeManifests(probes: readonly Workload[]): KubeObject[] {
  return probes.map((probe) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: probe.name, namespace: probe.namespace, labels: { ...probe.labels } },
    spec: { containers: [{ name: 'probe', image: 'registry.k8s.io/pause:3.10', ports: probe.ports.map((port) => ({ ...port })) }] },
  }));
}
