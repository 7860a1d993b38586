/**
 * The e2e runner's apply-and-inspect steps against a real kube-apiserver (test/apiserver: etcd and
 * kube-apiserver, no kubelet, scheduler or controllers), through the real kubectl and the
 * Kubernetes client (tools/kube.ts): what kind would accept or refuse is decided by the server's
 * validation and Pod Security admission, not by a fake.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import { type ControlPlane, findControlPlaneBinaries, startControlPlane } from '../../tools/apiserver';
import { ingressNginxWithoutWebhook } from '../../tools/fixtures';
import { renderProfile } from '../../tools/render';
import { available } from '../../tools/requirements';
import { Kubectl, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { BACKEND_NAME, E2E_NAMESPACE, findStackEntry } from './manifests';
import { probePodFor } from './netpol';
import { NotReadyError, waitForWorkloads } from './readiness';
import { processShell } from './shell';
import { applyStack, deployStreamBackend, INGRESS_NGINX_NAMESPACE, probeCases, runNetworkProbes, type StepContext } from './steps';

function missing(): string | undefined {
  const binaries = findControlPlaneBinaries();
  if ('missing' in binaries) return binaries.missing;
  if (spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status !== 0) return 'kubectl is not on PATH';
  return undefined;
}

const runnable = available('e2e steps on a real kube-apiserver', missing());
// A cold kube-apiserver start plus a few kubectl applies on 2 busy cores.
const SETUP_TIMEOUT_MS = 300_000;
const STEP_TIMEOUT_MS = 60_000;

describe.runIf(runnable)('GIVEN a real kube-apiserver with ingress-nginx and the kind profile applied by `kubectl apply -f dist/`', { timeout: STEP_TIMEOUT_MS }, () => {
  let controlPlane: ControlPlane;
  let context: StepContext;
  let kubectl: Kubectl;
  const rendered = renderProfile('kind');
  const settings = loadSettings({ profile: 'kind' });
  const topology = new Topology(settings);
  const podAddresses = new Map(topology.components.map((c, index) => [c.id, `10.244.0.${10 + index}`] as const));

  beforeAll(async () => {
    controlPlane = await startControlPlane();
    kubectl = new Kubectl(processShell, controlPlane.kubeconfigPath);
    context = { kubectl, settings, topology, log: () => undefined };
    await kubectl.apply(ingressNginxWithoutWebhook());
    await applyStack(context, rendered.dir);
  }, SETUP_TIMEOUT_MS);
  afterAll(() => controlPlane?.stop());

  it('WHEN the stream backend is deployed THEN the server keeps its Ingress with the stack Ingress\'s class and nginx annotations', async () => {
    const host = await deployStreamBackend(context, rendered.documents);

    const stored = await kubectl.get(KINDS.ingress, BACKEND_NAME, E2E_NAMESPACE);
    const stack = await kubectl.get(KINDS.ingress, findStackEntry(rendered.documents, topology.namespace).metadata.name, topology.namespace);
    expect(host).toBe(`e2e.${settings.ingress.host}`);
    expect(stored?.spec.ingressClassName).toBe(stack?.spec.ingressClassName);
    const nginx = (object?: KubeObject) => Object.entries(object?.metadata.annotations ?? {}).filter(([key]) => key.startsWith('nginx.ingress.kubernetes.io/'));
    expect(nginx(stored)).toEqual(nginx(stack));
    expect(nginx(stored).length).toBeGreaterThan(0);
  });

  it('WHEN the NetworkPolicy probes run THEN Pod Security admits every probe pod (they stay pending without a scheduler) and they are deleted afterwards', async () => {
    await kubectl.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: E2E_NAMESPACE } }]);
    // No pod ever runs on a bare API server: stand-in addresses for the denied probes.
    const cases = probeCases(context, podAddresses);
    const namespaces = [...new Set(cases.map((c) => c.namespace))];
    // The "default" ServiceAccount every pod names: kube-controller-manager creates it on a cluster.
    await kubectl.apply(namespaces.map((namespace) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } })));

    const verdicts = await runNetworkProbes(context, cases, 2_000);

    expect(new Set(namespaces)).toEqual(new Set([topology.namespace, E2E_NAMESPACE, INGRESS_NGINX_NAMESPACE]));
    for (const verdict of verdicts) expect(verdict.message).toMatch(/did not finish within 2000 ms: pod probe-[a-z-]+: Pending/);
    // Never bound to a node, so deleted at once.
    expect(await kubectl.list(KINDS.pod, undefined, 'letta-e2e/probe=true')).toEqual([]);
  });

  it('WHEN a probe pod lacks its seccomp profile THEN the stack namespace refuses it, so the admission above was a real check', async () => {
    const inStack = probeCases(context, podAddresses).find((c) => c.namespace === topology.namespace)!;
    const pod = probePodFor({ ...inStack, name: 'probe-no-seccomp' });
    delete pod.spec.securityContext.seccompProfile;

    await expect(kubectl.apply([pod])).rejects.toThrow(/violates PodSecurity "restricted:latest": seccompProfile/);
  });

  it('WHEN the stack is waited for THEN the wait runs out and the report names every workload, none of which has pods here', async () => {
    const error = await waitForWorkloads(kubectl, topology.namespace, { timeoutMs: 2_000, intervalMs: 1_000 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NotReadyError);
    const headlines = (error as NotReadyError).report.split('\n').filter((line) => !line.startsWith(' '));
    const workloads = rendered.documents.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind)).map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
    expect(headlines.map((line) => line.split(' is not ready')[0]).sort()).toEqual(workloads.sort());
    expect((error as NotReadyError).report).toContain('  no pods');
  });
});
