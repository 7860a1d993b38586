import { describe, expect, it } from 'vitest';
import { renderProfile } from '../../tools/render';
import type { KubeObject } from '../../tools/kube';
import { GATEWAY_API_VALUES } from '../../tools/fixtures';
import { E2E_NAMESPACE, findStackEntry, PYTHON_IMAGE, streamBackendObjects, streamBackendScript } from './manifests';
import { INGRESS_DEFAULT_TIMEOUT_SECONDS, STREAM_IDLE_SECONDS } from './steps';

const byKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
const backendFor = (stackEntry: KubeObject) => streamBackendObjects({ stackEntry, host: 'e2e.letta.localhost', idleSeconds: STREAM_IDLE_SECONDS });
const kindEntry = findStackEntry(renderProfile('kind').documents, 'letta');

describe('the stream backend objects', () => {
  it("GIVEN the kind profile's synthesized Ingress, with an nginx annotation it lacks and another controller's WHEN the backend's Ingress is built THEN it has the stack's class and every nginx annotation, which outlast the check's silence", () => {
    const cors = { 'nginx.ingress.kubernetes.io/enable-cors': 'true' };
    const annotations = { ...kindEntry.metadata.annotations, ...cors, 'cert-manager.io/cluster-issuer': 'letsencrypt' };

    const [ingress] = byKind(backendFor({ ...kindEntry, metadata: { ...kindEntry.metadata, annotations } }), 'Ingress');

    expect(ingress.metadata.annotations).toEqual({ ...kindEntry.metadata.annotations, ...cors });
    expect(ingress.spec.ingressClassName).toBe(kindEntry.spec.ingressClassName);
    expect(ingress.spec.rules[0].host).toBe('e2e.letta.localhost');
    expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    for (const timeout of ['proxy-read-timeout', 'proxy-send-timeout']) {
      expect(Number(ingress.metadata.annotations[`nginx.ingress.kubernetes.io/${timeout}`])).toBeGreaterThan(STREAM_IDLE_SECONDS);
    }
  });

  it("GIVEN the gateway-api variant's synthesized HTTPRoute WHEN the backend's entry is built THEN it is an HTTPRoute on the same Gateway with the same timeouts, and no Ingress", () => {
    const stack = findStackEntry(renderProfile('kind', GATEWAY_API_VALUES).documents, 'letta');

    const objects = backendFor(stack);

    expect(byKind(objects, 'Ingress')).toEqual([]);
    const [route] = byKind(objects, 'HTTPRoute');
    expect(route.spec.parentRefs).toEqual(stack.spec.parentRefs);
    expect(route.spec.hostnames).toEqual(['e2e.letta.localhost']);
    expect(route.spec.rules[0].timeouts).toEqual({ request: '0s', backendRequest: '0s' });
    expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'e2e-stream-backend', port: 8080 }]);
  });

  it('GIVEN the backend objects WHEN built THEN a pinned image runs the backend script, silent for longer than the default timeout, in its own restricted namespace', () => {
    const objects = backendFor(kindEntry);
    const [deployment] = byKind(objects, 'Deployment');
    const container = deployment.spec.template.spec.containers[0];

    // Longer than ingress-nginx's default, so that the stream checks fail without the stack's annotations.
    expect(STREAM_IDLE_SECONDS).toBeGreaterThan(INGRESS_DEFAULT_TIMEOUT_SECONDS);
    expect(container.image).toBe(PYTHON_IMAGE);
    expect(PYTHON_IMAGE).toMatch(/^python:3\.12\.\d+-alpine3\.\d+$/);
    expect(container.command).toEqual(['python', '-u', '-c', streamBackendScript()]);
    expect(container.env).toContainEqual({ name: 'IDLE_SECONDS', value: String(STREAM_IDLE_SECONDS) });
    expect(objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === E2E_NAMESPACE)).toBe(true);
    expect(byKind(objects, 'Namespace')[0].metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });
});
