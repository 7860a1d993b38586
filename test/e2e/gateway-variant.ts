import { type Kubectl, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { pollUntil } from './readiness';

/*
 * The third variant: the kind profile behind Gateway API instead of the Ingress
 * (tools/values/gateway-api.yaml: an HTTPRoute on the data plane's Gateway traefik/traefik). It
 * proves the route is accepted by a real Gateway API controller, that Letta answers through it
 * while its NetworkPolicy admits only the Gateway's data-plane pods, and that SSE and WebSocket
 * streams stay open through it while idle (kind.e2e.ts).
 */

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

/** dist/ holds an HTTPRoute and no Ingress, and the controller accepts the route (it writes the status shortly after the route appears). */
export async function gatewayRouteProblems(kubectl: Kubectl, objects: readonly KubeObject[], route: KubeObject, namespace: string): Promise<string[]> {
  const problems = objects.some((o) => o.kind === 'Ingress') ? ['dist/ still holds an Ingress'] : [];
  if (route.kind !== 'HTTPRoute') return [...problems, `the entry is a ${route.kind}`];
  let statusProblems: string[] = [];
  await pollUntil(
    async () => {
      const stored = await kubectl.get(KINDS.httpRoute, route.metadata.name, namespace);
      statusProblems = stored ? routeStatusProblems(stored) : [`HTTPRoute ${route.metadata.name} is not in the cluster`];
      return statusProblems.length === 0 ? true : undefined;
    },
    { timeoutMs: 2 * 60_000, intervalMs: 3_000 },
  );
  return [...problems, ...statusProblems];
}
