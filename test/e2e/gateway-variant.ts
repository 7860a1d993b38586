import { GATEWAY_API_VALUES } from '../../tools/fixtures';
import type { KubeObject } from '../../tools/kube';
import { KINDS } from './kubectl';
import { E2E_NAMESPACE, findStackEntry } from './manifests';
import { pollUntil, waitForWorkloads } from './readiness';
import { applyStack, deployStreamBackend, healthThroughIngress, removeStreamBackend, type StepContext, STREAM_IDLE_SECONDS, streamProblems, waitForStack } from './steps';
import { type CheckResult, type VariantOptions, variantRecorder, withVariantStack } from './variant';
import { MINUTE } from '../../tools/support';

/*
 * The third variant: the kind profile behind Gateway API instead of the Ingress
 * (tools/values/gateway-api.yaml: an HTTPRoute on the data plane's Gateway traefik/traefik). It
 * proves the route is accepted by a real Gateway API controller, that Letta answers through it
 * while its NetworkPolicy admits only the Gateway's data-plane pods, and that SSE and WebSocket
 * streams stay open through it while idle.
 */

const PROFILE = 'kind';

export interface GatewayVariantOptions extends VariantOptions {
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

export function runGatewayVariant(base: StepContext, options: GatewayVariantOptions): Promise<CheckResult[]> {
  return withVariantStack(base, { ...options, label: 'gateway variant', profile: PROFILE, values: GATEWAY_API_VALUES }, async ({ context, dir, objects }) => {
    const { kubectl, log } = base;
    const { settings, topology } = context;
    const namespace = topology.namespace;
    await applyStack(context, dir);
    await waitForStack(context, 20 * MINUTE);

    const { results, record, add } = variantRecorder(log);
    const route = findStackEntry(objects, namespace);

    await record(`gateway variant: dist/ holds an HTTPRoute and no Ingress, and ${options.controller} accepts the route`, async () => {
      const problems = objects.some((o) => o.kind === 'Ingress') ? ['dist/ still holds an Ingress'] : [];
      if (route.kind !== 'HTTPRoute') return [...problems, `the entry is a ${route.kind}`];
      // The controller writes the status shortly after the route appears.
      let statusProblems: string[] = [];
      await pollUntil(
        async () => {
          const stored = await kubectl.get(KINDS.httpRoute, route.metadata.name, namespace);
          statusProblems = stored ? routeStatusProblems(stored) : [`HTTPRoute ${route.metadata.name} is not in the cluster`];
          return statusProblems.length === 0 ? true : undefined;
        },
        { timeoutMs: 2 * MINUTE, intervalMs: 3_000 },
      );
      return [...problems, ...statusProblems];
    });
    await record(`gateway variant: Letta answers through the Gateway (${options.controller}), its port open to the data plane only`, () =>
      healthThroughIngress(options.ingress(settings.ingress.host), 5 * MINUTE),
    );
    const backendHost = await deployStreamBackend(context, objects);
    await waitForWorkloads(kubectl, E2E_NAMESPACE, { timeoutMs: 5 * MINUTE, log });
    // Both streams are mostly waiting through their silence, side by side.
    const streams = await streamProblems(options.ingress(backendHost));
    add({ name: `gateway variant: SSE stream through the Gateway stays open while idle ${STREAM_IDLE_SECONDS} s and is not buffered`, problems: streams.sse });
    add({ name: `gateway variant: WebSocket through the Gateway echoes after ${STREAM_IDLE_SECONDS} s idle`, problems: streams.webSocket });
    await removeStreamBackend(kubectl);
    return results;
  });
}
