import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import { renderProfile } from '../../tools/render';
import type { KubeObject } from '../../tools/kube';
import { GATEWAY_API_VALUES } from '../../tools/fixtures';
import { E2E_NAMESPACE, findStackEntry, PYTHON_IMAGE, streamBackendObjects, streamBackendScript } from './manifests';
import { networkProbeCases, probePodFor } from './netpol';
import { INGRESS_DEFAULT_TIMEOUT_SECONDS, STREAM_IDLE_SECONDS } from './steps';

function stackIngress(annotations: Record<string, string>): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'letta-server', namespace: 'letta', annotations },
    spec: { ingressClassName: 'nginx', rules: [{ host: 'letta.localhost' }] },
  };
}

const byKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);

describe('the stream backend objects', () => {
  it("GIVEN the kind profile's synthesized Ingress WHEN the backend's Ingress is built THEN it has the stack's class and nginx annotations, which outlast the check's silence", () => {
    const stack = findStackEntry(renderProfile('kind').documents, 'letta');

    const [ingress] = byKind(streamBackendObjects({ stackEntry: stack, host: 'e2e.letta.localhost', idleSeconds: STREAM_IDLE_SECONDS }), 'Ingress');

    expect(ingress.metadata.annotations).toEqual(stack.metadata.annotations);
    expect(ingress.spec.ingressClassName).toBe(stack.spec.ingressClassName);
    expect(ingress.spec.rules[0].host).toBe('e2e.letta.localhost');
    const annotations = ingress.metadata.annotations as Record<string, string>;
    expect(annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    for (const timeout of ['proxy-read-timeout', 'proxy-send-timeout']) {
      expect(Number(annotations[`nginx.ingress.kubernetes.io/${timeout}`])).toBeGreaterThan(STREAM_IDLE_SECONDS);
    }
  });

  it("GIVEN the gateway-api variant's synthesized HTTPRoute WHEN the backend's entry is built THEN it is an HTTPRoute on the same Gateway with the same timeouts, and no Ingress", () => {
    const stack = findStackEntry(renderProfile('kind', GATEWAY_API_VALUES).documents, 'letta');

    const objects = streamBackendObjects({ stackEntry: stack, host: 'e2e.letta.localhost', idleSeconds: STREAM_IDLE_SECONDS });

    expect(byKind(objects, 'Ingress')).toEqual([]);
    const [route] = byKind(objects, 'HTTPRoute');
    expect(route.spec.parentRefs).toEqual(stack.spec.parentRefs);
    expect(route.spec.hostnames).toEqual(['e2e.letta.localhost']);
    expect(route.spec.rules[0].timeouts).toEqual({ request: '0s', backendRequest: '0s' });
    expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'e2e-stream-backend', port: 8080 }]);
  });

  it('GIVEN a stack Ingress with other annotations WHEN the backend Ingress is built THEN only the nginx ones are copied, whatever they are', () => {
    const objects = streamBackendObjects({
      stackEntry: stackIngress({
        'nginx.ingress.kubernetes.io/proxy-read-timeout': '120',
        'nginx.ingress.kubernetes.io/enable-cors': 'true',
        'cert-manager.io/cluster-issuer': 'letsencrypt',
      }),
      host: 'e2e.letta.localhost',
      idleSeconds: 75,
    });

    expect(byKind(objects, 'Ingress')[0].metadata.annotations).toEqual({
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '120',
      'nginx.ingress.kubernetes.io/enable-cors': 'true',
    });
  });

  it('GIVEN the backend objects WHEN built THEN a pinned image runs the backend script, silent for longer than the default timeout, in its own restricted namespace', () => {
    const objects = streamBackendObjects({ stackEntry: stackIngress({}), host: 'e2e.letta.localhost', idleSeconds: STREAM_IDLE_SECONDS });
    const [deployment] = byKind(objects, 'Deployment');
    const container = deployment.spec.template.spec.containers[0];

    expect(STREAM_IDLE_SECONDS).toBeGreaterThan(INGRESS_DEFAULT_TIMEOUT_SECONDS);
    expect(container.image).toBe(PYTHON_IMAGE);
    expect(PYTHON_IMAGE).toMatch(/^python:3\.12\.\d+-alpine3\.\d+$/);
    expect(container.command).toEqual(['python', '-u', '-c', streamBackendScript()]);
    expect(container.env).toContainEqual({ name: 'IDLE_SECONDS', value: String(STREAM_IDLE_SECONDS) });
    expect(objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === E2E_NAMESPACE)).toBe(true);
    expect(byKind(objects, 'Namespace')[0].metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });
});

describe('the NetworkPolicy probe pods', () => {
  const topology = new Topology(loadSettings({ profile: 'kind' }));
  const podAddresses = new Map(topology.components.map((c, index) => [c.id, `10.244.0.${10 + index}`] as const));
  const cases = networkProbeCases(topology, { outsideNamespace: E2E_NAMESPACE, ingressNamespace: 'ingress-nginx', internetAddress: '1.1.1.1', podAddresses });

  it('GIVEN a probe labelled like a component WHEN its pod is built THEN it carries the labels and never becomes ready, so it joins no Service', () => {
    const probe = cases.find((c) => c.name === 'probe-letta-server-to-letta-db')!;
    const pod = probePodFor(probe);

    expect(pod.metadata.labels).toMatchObject(topology.component('letta').selector);
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.containers[0].readinessProbe).toEqual({ exec: { command: ['false'] }, periodSeconds: 60 });
    // Keeps trying until connected: the policy engine applies its rules a moment after the pod starts.
    expect(pod.spec.containers[0].command.slice(-5)).toEqual(['letta-db', '5432', '10', '45', '--until-connected']);
  });
});
