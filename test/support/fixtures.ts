import * as path from 'node:path';
import { KubeObject, loadManifests } from './render';

/** The ingress-nginx v1.15.1 kind manifest (upstream deploy/static/provider/kind/deploy.yaml). */
export const INGRESS_NGINX_MANIFEST = path.resolve(__dirname, '..', 'fixtures', 'ingress-nginx-kind-v1.15.1.yaml');

/**
 * ingress-nginx as installed on kind, for a control plane without a kubelet: its
 * ValidatingWebhookConfiguration is left out, since the webhook's backend is the controller Pod,
 * which never runs there, and with failurePolicy Fail the server would reject every Ingress.
 * Ingresses are then checked by the API server's own validation only, not by the controller's.
 */
export function ingressNginxWithoutWebhook(): KubeObject[] {
  return loadManifests([INGRESS_NGINX_MANIFEST]).filter((object) => object.kind !== 'ValidatingWebhookConfiguration');
}
