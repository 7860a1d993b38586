/**
 * Issue #4: schema checks pass manifests that a cluster rejects. Here every rendered profile meets
 * a real kube-apiserver (with etcd, without kubelet, scheduler or controllers): its validation,
 * defaulting, strict field validation and Pod Security admission.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, findControlPlaneBinaries, startControlPlane } from '../tools/apiserver';
import { type ApplyResult, describeRef, type Kube, type KubeObject } from '../tools/kube';
import * as fs from 'node:fs';
import { pollUntil } from './e2e/readiness';
import { gatewayApiCrds, ingressNginxWithoutWebhook, VARIANTS } from '../tools/fixtures';
import { available } from '../tools/requirements';
import { renderProfile } from '../tools/render';

const binaries = findControlPlaneBinaries();
const runnable = available('apiserver', 'missing' in binaries ? binaries.missing : undefined);

// Generous: a cold kube-apiserver start plus ~100 sequential applies on 2 busy cores.
const SETUP_TIMEOUT_MS = 300_000;
const FIELD_MANAGER = 'letta-k8s';
const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };

/** Waits until the server serves a kind whose CRD was just created (it takes a moment to be established). */
async function untilServed(kube: Kube, kind: { apiVersion: string; kind: string }, timeoutMs = 60_000): Promise<void> {
  let problem = '';
  const read = () => kube.read({ ...kind, name: 'probe', namespace: 'default' }).then(() => true, (error: Error) => void (problem = error.message));
  if (!(await pollUntil(read, { timeoutMs, intervalMs: 500 }))) throw new Error(`${kind.kind} is not served ${timeoutMs / 1000} s after its CRD was created: ${problem}`);
}

const WORKLOAD_KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);
const COMPARED_KINDS = new Set(['Namespace', 'Service', 'NetworkPolicy', 'Ingress', 'Gateway', 'HTTPRoute']);

describe.skipIf(!runnable)('a real kube-apiserver', () => {
  describe('GIVEN a bare control plane and a namespace at Pod Security restricted (the harness itself)', () => {
    let controlPlane: ControlPlane;
    const namespace = 'harness';
    const apply = (object: KubeObject) => controlPlane.kube.apply([object], { fieldManager: FIELD_MANAGER }).then(([result]) => result);

    beforeAll(async () => {
      controlPlane = await startControlPlane();
      const created = await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: RESTRICTED } });
      expect(created.accepted, created.error).toBe(true);
    }, SETUP_TIMEOUT_MS);
    afterAll(() => controlPlane?.stop());

    it.each([
      ['a Deployment selector does not match its template labels', deployment(namespace, 'web', (spec) => (spec.template.metadata.labels = { app: 'api' })), '`selector` does not match template `labels`'],
      // Server-side apply refuses unknown fields whatever fieldValidation says (with status 500).
      ['an object carries a field its schema lacks', deployment(namespace, 'web', (spec) => (spec.template.spec.containers[0].imagePullPolicyy = 'Always')), '.spec.template.spec.containers[name="web"].imagePullPolicyy: field not declared in schema'],
      ['a Service port name is not a DNS label', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace }, spec: { selector: { app: 'web' }, ports: [{ name: 'HTTP_port', port: 80 }] } }, 'spec.ports[0].name'],
    ])('WHEN %s THEN the server rejects it, saying why', async (_, object, error) => {
      const result = await apply(object);

      expect(result.accepted).toBe(false);
      expect(result.error).toContain(error);
    });

    // Workloads are admitted (enforce applies to Pods, which no controller creates here), and warned about.
    it.each([
      ['does not meet the restricted profile THEN the apply carries Pod Security warnings', deployment(namespace, 'web', (spec) => delete spec.template.spec.securityContext), [expect.stringContaining('would violate PodSecurity "restricted:latest"')]],
      ['meets the restricted profile THEN the apply carries no warning', deployment(namespace, 'ok'), []],
    ])('WHEN a workload %s', async (_, object, warnings) => {
      const result = await apply(object);

      expect(result.accepted, result.error).toBe(true);
      expect(result.warnings).toEqual(warnings);
    });

    it('WHEN a cluster-scoped object is given a namespace THEN it is addressed without one', async () => {
      const result = await apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'reader', namespace }, rules: [] });

      expect(result.accepted, result.error).toBe(true);
      expect(result.ref.namespace).toBeUndefined();
    });

    it('WHEN it stops THEN its data directory is gone and the server refuses connections', async () => {
      await controlPlane.stop();

      expect(fs.existsSync(controlPlane.dataDir)).toBe(false);
      await expect(controlPlane.kube.read({ apiVersion: 'v1', kind: 'Namespace', name: namespace })).rejects.toThrow();
    });
  });

  describe.each(VARIANTS)('GIVEN the $label rendered to dist/', ({ label, profile, values }) => {
    let controlPlane: ControlPlane;
    let documents: KubeObject[];
    let results: ApplyResult[];

    beforeAll(async () => {
      documents = renderProfile(profile, values).documents;
      controlPlane = await startControlPlane();
      // What a cluster has before the stack: ingress-nginx, and the Gateway API CRDs.
      const prerequisites = await controlPlane.kube.apply([...ingressNginxWithoutWebhook(), ...gatewayApiCrds()], { fieldManager: 'prerequisites' });
      const refused = prerequisites.filter((result) => !result.accepted);
      if (refused.length > 0) throw new Error(`ingress-nginx and the Gateway API CRDs not installed:\n${report(refused)}`);
      await untilServed(controlPlane.kube, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' });

      // WHEN every object is applied as `kubectl apply --server-side -f dist/` would, in its order.
      const started = performance.now();
      results = await controlPlane.kube.apply(documents, { fieldManager: FIELD_MANAGER });
      const elapsed = Math.round(performance.now() - started);
      console.log(`[apiserver] ${label}: applied ${documents.length} objects in ${elapsed} ms`);
    }, SETUP_TIMEOUT_MS);
    afterAll(() => controlPlane?.stop());

    it('THEN the server accepts every object', () => {
      expect(report(results.filter((result) => !result.accepted))).toBe('');
    });

    it('THEN every object reads back, and Namespaces, Services, NetworkPolicies, Ingresses, Gateways and HTTPRoutes as sent, plus server defaults', async () => {
      const fields = ({ spec, metadata }: KubeObject) => withoutEmptyLists({ spec, labels: metadata.labels, annotations: metadata.annotations });
      const missing: string[] = [];
      for (const [index, sent] of documents.entries()) {
        const stored = await controlPlane.kube.read(results[index].ref);
        if (!stored) missing.push(describeRef(results[index].ref));
        // Fields only the server sets (a port's protocol, a Service's clusterIP) are not differences.
        else if (COMPARED_KINDS.has(sent.kind)) expect(fields(stored), describeRef(results[index].ref)).toMatchObject(fields(sent) as object);
      }

      expect(missing).toEqual([]);
    });

    it('THEN no object draws a warning (Pod Security or other), though the namespaces warn at restricted and there are workloads', () => {
      expect(results.flatMap((result) => result.warnings.map((warning) => `${describeRef(result.ref)}: ${warning}`))).toEqual([]);
      for (const namespace of documents.filter((object) => object.kind === 'Namespace')) expect(namespace.metadata.labels).toMatchObject(RESTRICTED);
      expect(results.filter((result) => WORKLOAD_KINDS.has(result.ref.kind)).length).toBeGreaterThan(0);
    });

    it('THEN every Ingress names an IngressClass that exists', async () => {
      const ingresses = documents.filter((object) => object.kind === 'Ingress');
      for (const ingress of ingresses) {
        const className = ingress.spec?.ingressClassName;
        expect(className, `${ingress.metadata.name} names no ingressClassName`).toBeTypeOf('string');
        expect(await controlPlane.kube.read({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', name: className }), `IngressClass ${className}`).toBeDefined();
      }
    });

    it('WHEN the same manifests are applied twice more THEN every object is accepted and the last apply writes nothing', async () => {
      // Not the first re-apply: the first update of a PersistentVolumeClaim writes once more (a new
      // resourceVersion, identical content; seen on v1.35). A spec that differs from what the server
      // stores, such as an empty list it drops, rewrites the object, and bumps its generation, on every apply.
      const second = await controlPlane.kube.apply(documents, { fieldManager: FIELD_MANAGER });
      const third = await controlPlane.kube.apply(documents, { fieldManager: FIELD_MANAGER });

      expect(report([...second, ...third].filter((result) => !result.accepted))).toBe('');
      const rewritten = third.flatMap((result, index) =>
        result.stored?.metadata.resourceVersion === second[index].stored?.metadata.resourceVersion
          ? []
          : [`${describeRef(result.ref)} (generation ${result.stored?.metadata.generation})`],
      );
      expect(rewritten).toEqual([]);
    });
  });
});

/** Deployment `app` of pods labelled app=`app`, meeting the restricted profile until `edit` changes its spec: for the harness checks to break. */
function deployment(namespace: string, app: string, edit: (spec: KubeObject) => unknown = () => undefined): KubeObject {
  const container = { name: 'web', image: 'registry.example/web:1', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } };
  const podSpec = { securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, containers: [container] };
  const spec = { selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: podSpec } };
  edit(spec);
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: app, namespace }, spec };
}

const report = (results: ApplyResult[]) => results.map((result) => `${describeRef(result.ref)}: ${result.error}`).join('\n');

/** `value` without empty lists or undefined fields: the server stores an empty list as none, and the API treats both alike. */
function withoutEmptyLists(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEmptyLists);
  if (value === null || typeof value !== 'object') return value;
  const kept = Object.entries(value).filter(([, field]) => field !== undefined && !(Array.isArray(field) && field.length === 0));
  return Object.fromEntries(kept.map(([key, field]) => [key, withoutEmptyLists(field)]));
}
