import { describe, expect, it } from 'vitest';
import { routeStatusProblems } from './gateway-variant';

const parent = (conditions: Array<{ type: string; status: string; reason?: string; message?: string }>) => ({
  parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'traefik', name: 'traefik' },
  controllerName: 'traefik.io/gateway-controller',
  conditions,
});
const route = (parents?: unknown[]) => ({ metadata: { name: 'letta-server', namespace: 'letta' }, status: parents ? { parents } : undefined });

describe("the HTTPRoute's status", () => {
  it('GIVEN a route Accepted with its references resolved WHEN checked THEN there is no problem', () => {
    expect(routeStatusProblems(route([parent([{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }])]))).toEqual([]);
  });

  it('GIVEN a route that no controller has taken WHEN checked THEN that is the problem', () => {
    expect(routeStatusProblems(route())).toEqual(['HTTPRoute letta-server has no parent status: no Gateway controller took it']);
  });

  it('GIVEN a route refused by the Gateway and one condition missing WHEN checked THEN each is named with its reason', () => {
    const problems = routeStatusProblems(route([parent([{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', message: 'no listener admits the namespace' }])]));
    expect(problems).toEqual([
      'on Gateway traefik/traefik: Accepted is False (NotAllowedByListeners: no listener admits the namespace)',
      'on Gateway traefik/traefik: ResolvedRefs is not reported',
    ]);
  });
});
