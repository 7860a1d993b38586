import * as path from 'node:path';
import { loadSettings } from '../../lib/config/load';
import { ExternalWorkloads, markdownMatrix } from './netpol/matrix';
import { Topology } from '../../lib/topology';
import { INGRESS_NGINX_MANIFEST } from './fixtures';
import { KubeObject, loadManifests, PROFILES, renderProfile } from './render';

export const EXTERNAL: ExternalWorkloads = { ingressController: 'ingress-nginx/ingress-nginx-controller' };

/** Traefik as a Gateway API data plane (test/tools/ingress/traefik-kind.yaml), for the gateway-api entry. */
export const TRAEFIK_DATA_PLANE = { manifest: path.join(__dirname, '..', 'tools', 'ingress', 'traefik-kind.yaml'), workload: 'traefik/traefik' };

/** A profile's objects next to the ingress controller's (a real workload there), and its topology. */
export function stackWithController(profile: string, values?: unknown): { objects: KubeObject[]; topology: Topology } {
  return {
    objects: [...loadManifests([INGRESS_NGINX_MANIFEST]), ...renderProfile(profile, values).documents],
    topology: new Topology(loadSettings({ profile, values })),
  };
}

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
