import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { loadManifests, PROFILES } from './render';
import type { KubeObject } from './kube';

/** The ingress-nginx v1.15.1 kind manifest (upstream deploy/static/provider/kind/deploy.yaml). */
export const INGRESS_NGINX_MANIFEST = path.resolve(__dirname, '..', 'imports', 'upstream', 'ingress-nginx-kind-v1.15.1.yaml');

/** Traefik as ingress and Gateway API data plane of the local kind cluster. */
export const TRAEFIK_MANIFEST = path.resolve(__dirname, '..', 'builds', 'ingress', 'traefik-kind.yaml');

/**
 * ingress-nginx as installed on kind, for a control plane without a kubelet: its
 * ValidatingWebhookConfiguration is left out, since the webhook's backend is the controller Pod,
 * which never runs there, and with failurePolicy Fail the server would reject every Ingress.
 * Ingresses are then checked by the API server's own validation only, not by the controller's.
 */
export function ingressNginxWithoutWebhook(): KubeObject[] {
  return loadManifests([INGRESS_NGINX_MANIFEST]).filter((object) => object.kind !== 'ValidatingWebhookConfiguration');
}

/** The Gateway API v1.6.1 standard-channel CRDs (upstream config/crd/standard), as vendored. */
export const GATEWAY_API_CRDS_DIR = path.resolve(__dirname, '..', 'imports', 'upstream', 'gateway-api-v1.6.1');

export function gatewayApiCrds(): KubeObject[] {
  const files = fs.readdirSync(GATEWAY_API_CRDS_DIR).filter((file) => file.endsWith('.yaml')).sort();
  return loadManifests(files.map((file) => path.join(GATEWAY_API_CRDS_DIR, file)));
}

/** The values file of the gateway-api entry (an HTTPRoute on Traefik's Gateway). */
const GATEWAY_API_VALUES_FILE = path.resolve(__dirname, 'values', 'gateway-api.yaml');
export const GATEWAY_API_VALUES = yaml.load(fs.readFileSync(GATEWAY_API_VALUES_FILE, 'utf8')) as {
  ingress: { gateway: { parentRef: Record<string, string>; dataPlane: Record<string, Record<string, string>> } };
};

/** Values of the gateway-api entry on a Gateway the stack creates (GatewayClass traefik), with more ingress settings. */
export function ownGatewayValues(ingress: Record<string, unknown> = {}): unknown {
  return { ingress: { entry: 'gateway-api', ...ingress, gateway: { create: { className: 'traefik' }, dataPlane: GATEWAY_API_VALUES.ingress.gateway.dataPlane } } };
}

/** A rendering the suites check: a profile, with values over it. */
export interface Variant {
  readonly label: string;
  readonly profile: string;
  readonly values?: unknown;
}

/** Every profile with the Ingress, and each entry of Gateway API: on a named Gateway, and on one of the stack's own. */
export const VARIANTS: readonly Variant[] = [
  ...PROFILES.map((profile) => ({ label: `${profile} profile`, profile })),
  { label: 'kind profile with gateway-api on a named Gateway', profile: 'kind', values: GATEWAY_API_VALUES },
  { label: 'gpu profile with gateway-api on a Gateway of its own', profile: 'gpu', values: ownGatewayValues({ tlsSecretName: 'letta-tls' }) },
];
