import { loadSettings } from '../lib/config/load';
import { ExternalWorkloads, markdownMatrix } from './netpol/matrix';
import { Topology } from '../lib/model/topology';
import { INGRESS_NGINX_MANIFEST, TRAEFIK_MANIFEST } from './fixtures';
import { loadManifests, PROFILES, renderProfile } from './render';
import type { KubeObject } from './kube';

/** An entry's data plane as a real workload: the manifest that installs it and its workload's id. */
export interface DataPlane {
  readonly manifest: string;
  readonly workload: string;
}

const INGRESS_NGINX_DATA_PLANE: DataPlane = { manifest: INGRESS_NGINX_MANIFEST, workload: 'ingress-nginx/ingress-nginx-controller' };
/** Traefik, which also serves Gateway API, for the gateway-api entry. */
export const TRAEFIK_DATA_PLANE: DataPlane = { manifest: TRAEFIK_MANIFEST, workload: 'traefik/traefik' };

export const EXTERNAL: ExternalWorkloads = { ingressController: INGRESS_NGINX_DATA_PLANE.workload };

/** A profile's objects next to its entry's data plane (a real workload there), and its topology. */
export function stackWithController(
  profile: string,
  values?: unknown,
  dataPlane: DataPlane = INGRESS_NGINX_DATA_PLANE,
): { objects: KubeObject[]; topology: Topology } {
  return {
    objects: [...loadManifests([dataPlane.manifest]), ...renderProfile(profile, values).documents],
    topology: new Topology(loadSettings({ profile, values })),
  };
}

/** Settings whose policies the netpol tests evaluate, by name: each profile as is, and variants that change the edges. */
export const POLICY_VARIANTS: Readonly<Record<string, { profile: string; values?: unknown }>> = {
  ...Object.fromEntries(PROFILES.map((profile) => [profile, { profile }])),
  'kind with internet egress off': { profile: 'kind', values: { letta: { internetEgress: { enabled: false } } } },
  'kind with custom ports for Letta to the internet': { profile: 'kind', values: { letta: { internetEgress: { ports: [443, 8443] } } } },
  'kind without Redis, collector or ingress': { profile: 'kind', values: { redis: { enabled: false }, telemetry: { enabled: false }, ingress: { enabled: false } } },
  'kind with a ClickHouse exporter': {
    profile: 'kind',
    values: { telemetry: { exporter: { type: 'clickhouse', endpoint: 'tcp://ch.example.com:9440', password: { name: 'ch', key: 'pw' } } } },
  },
  'gpu with vLLM internet egress off': { profile: 'gpu', values: { vllm: { internetEgress: { enabled: false } } } },
};

export const MATRIX_START = '<!-- netpol-matrix:start (npm run netpol:matrix -- --write) -->';
export const MATRIX_END = '<!-- netpol-matrix:end -->';

/** The matrices of every profile, as the README shows them. */
export function matrixSection(): string {
  const sections = PROFILES.map((profile) => {
    const { objects, topology } = stackWithController(profile);
    return `Profile \`${profile}\`:\n\n${markdownMatrix(objects, topology, EXTERNAL)}`;
  });
  return [MATRIX_START, ...sections, MATRIX_END].join('\n\n');
}
