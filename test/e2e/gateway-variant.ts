import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { loadSettings, mergeValues } from '../../lib/config/load';
import { Topology } from '../../lib/topology';
import { GATEWAY_API_VALUES_FILE } from '../support/fixtures';
import type { IngressTarget } from './http';
import type { KubeObject } from './kubectl';
import { E2E_NAMESPACE, findStackEntry } from './manifests';
import { waitForWorkloads } from './readiness';
import { type VariantResult, variantRecorder } from './variant-results';
import type { Shell } from './shell';
import { applyStack, deployStreamBackend, healthThroughIngress, removeStreamBackend, type StepContext, STREAM_IDLE_SECONDS, streamProblems, synthesize } from './steps';

/*
 * The third variant: the kind profile behind Gateway API instead of the Ingress
 * (test/values/gateway-api.yaml: an HTTPRoute on the data plane's Gateway traefik/traefik). It
 * proves the route is accepted by a real Gateway API controller, that Letta answers through it
 * while its NetworkPolicy admits only the Gateway's data-plane pods, and that SSE and WebSocket
 * streams stay open through it while idle.
 */

const MINUTE = 60_000;
const PROFILE = 'kind';

export interface GatewayVariantOptions {
  readonly shell: Shell;
  readonly repoRoot: string;
  /** The run's own values file (a cluster without a registry, say), merged under the variant's. */
  readonly baseValuesFile?: string;
  readonly ingress: (host: string) => IngressTarget;
  /** The Gateway API controller, as the report names it. */
  readonly controller: string;
}

/** Problems of an HTTPRoute's status: every parent must have it Accepted with its references resolved. */
export function routeStatusProblems(route: KubeObject): string[] {
  const parents = (route.status?.parents ?? []) as KubeObject[];
  if (parents.length === 0) return [`HTTPRoute ${route.metadata?.name} has no parent status: no Gateway controller took it`];
  return parents.flatMap((parent) => {
    const gateway = `${parent.parentRef?.namespace ?? route.metadata?.namespace}/${parent.parentRef?.name}`;
    return ['Accepted', 'ResolvedRefs'].flatMap((type) => {
      const condition = (parent.conditions ?? []).find((c: KubeObject) => c.type === type);
      return condition?.status === 'True' ? [] : [`on Gateway ${gateway}: ${type} is ${condition ? `${condition.status} (${condition.reason}: ${condition.message})` : 'not reported'}`];
    });
  });
}

export async function runGatewayVariant(base: StepContext, options: GatewayVariantOptions): Promise<VariantResult[]> {
  const { kubectl, log } = base;
  const work = mkdtempSync(join(tmpdir(), 'letta-e2e-gateway-'));
  try {
    const baseValues = options.baseValuesFile ? load(readFileSync(options.baseValuesFile, 'utf8')) : {};
    const valuesFile = join(work, 'values.yaml');
    writeFileSync(valuesFile, dump(mergeValues(baseValues, load(readFileSync(GATEWAY_API_VALUES_FILE, 'utf8')))));
    const settings = loadSettings({ profile: PROFILE, valuesFile });
    const topology = new Topology(settings);
    const context: StepContext = { ...base, settings, topology };
    const namespace = topology.namespace;

    log(`gateway variant: removing namespace ${namespace} of the previous variant`);
    await kubectl.check(['delete', 'namespace', namespace, '--wait=true', '--timeout=300s'], { timeoutMs: 6 * MINUTE });
    const { dir, objects } = await synthesize(options.shell, options.repoRoot, PROFILE, valuesFile);
    await applyStack(context, dir);
    await waitForWorkloads(kubectl, namespace, { timeoutMs: 20 * MINUTE, log });

    const { results, record, add } = variantRecorder(log);
    const route = findStackEntry(objects, namespace);

    await record(`gateway variant: dist/ holds an HTTPRoute and no Ingress, and ${options.controller} accepts the route`, async () => {
      const problems = objects.some((o) => o.kind === 'Ingress') ? ['dist/ still holds an Ingress'] : [];
      if (route.kind !== 'HTTPRoute') return [...problems, `the entry is a ${route.kind}`];
      // The controller writes the status shortly after the route appears.
      let statusProblems: string[] = [];
      for (const deadline = Date.now() + 2 * MINUTE; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 3_000))) {
        const stored = await kubectl.get('httproute', route.metadata.name, namespace);
        statusProblems = stored ? routeStatusProblems(stored) : [`HTTPRoute ${route.metadata.name} is not in the cluster`];
        if (statusProblems.length === 0) break;
      }
      return [...problems, ...statusProblems];
    });
    const target = options.ingress(settings.ingress.host);
    await record(`gateway variant: Letta answers through the Gateway (${options.controller}), its port open to the data plane only`, () =>
      healthThroughIngress(target, 5 * MINUTE),
    );
    const backendHost = await deployStreamBackend(context, objects);
    await waitForWorkloads(kubectl, E2E_NAMESPACE, { timeoutMs: 5 * MINUTE, log });
    // Both streams are mostly waiting through their silence, side by side.
    const streams = await streamProblems(options.ingress(backendHost));
    add({ name: `gateway variant: SSE stream through the Gateway stays open while idle ${STREAM_IDLE_SECONDS} s and is not buffered`, problems: streams.sse });
    add({ name: `gateway variant: WebSocket through the Gateway echoes after ${STREAM_IDLE_SECONDS} s idle`, problems: streams.webSocket });
    await removeStreamBackend(kubectl);
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
