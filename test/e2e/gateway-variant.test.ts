import { describe, expect, it } from 'vitest';
import { routeStatusProblems } from './gateway-variant';

const parent = (conditions: Array<{ type: string; status: string; reason?: string; message?: string }>) => ({
  parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'traefik', name: 'traefik' },
  controllerName: 'traefik.io/gateway-controller',
  conditions,
});
const route = (parents?: unknown[]) => ({ metadata: { name: 'letta-server', namespace: 'letta' }, status: parents ? { parents } : undefined });

describe("the HTTPRoute's status", () => {
  it.each([
    ['Accepted with its references resolved', route([parent([{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }])]), []],
    ['that no controller has taken', route(), ['HTTPRoute letta-server has no parent status: no Gateway controller took it']],
    [
      'refused by the Gateway, one condition missing',
      route([parent([{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', message: 'no listener admits the namespace' }])]),
      ['on Gateway traefik/traefik: Accepted is False (NotAllowedByListeners: no listener admits the namespace)', 'on Gateway traefik/traefik: ResolvedRefs is not reported'],
    ],
  ])('GIVEN a route %s WHEN checked THEN each problem is named with its reason', (_, stored, problems) => {
    expect(routeStatusProblems(stored)).toEqual(problems);
  });
});
