import { describe, expect, it } from 'vitest';
import { loadSettings } from '../lib/config/load';
import { ClientId, EDGES, NETWORKS, networksOf, Topology } from '../lib/model/topology';
import { CLUSTER_DNS_PROBE, connectivity, PROBE_ADDRESSES } from '../tools/netpol/evaluator';
import { stackComponentIds } from '../tools/netpol/matrix';
import { EXTERNAL, POLICY_VARIANTS, stackWithController } from '../tools/stack-netpol';

/*
 * The compose model: a component joins networks; two parties may talk only over a network both
 * join; an internal network has no way out. The NetworkPolicies must never allow more than that
 * (they are tighter, by port and direction), and every edge they allow must be backed by a network.
 * Cluster DNS is outside the model, as compose's embedded DNS is reachable from every network.
 */

const sharedNetworks = (a: ClientId, b: ClientId) => networksOf(a).filter((network) => networksOf(b).includes(network));
const onOpenNetwork = (id: ClientId) => networksOf(id).some((network) => !NETWORKS[network].internal);

/** The topology party a workload id of the evaluated manifests stands for, if it is one. */
function partyOf(topology: Topology, components: ReadonlyMap<string, string>, workloadId: string): ClientId | undefined {
  if (workloadId === EXTERNAL.ingressController) return 'ingress-controller';
  const id = components.get(workloadId);
  return topology.components.find((component) => id === `${topology.namespace}/${component.name}`)?.id;
}

describe('compose networks as the model of reachability', () => {
  it('GIVEN an edge over a network one end does not join WHEN the topology is built THEN it refuses, naming the edge and the network', () => {
    const settings = loadSettings({ profile: 'kind' });
    const edges = [...EDGES, { from: 'letta' as const, to: 'telemetry' as const, port: 'otlp-http', network: 'backend' as const }];
    expect(() => new Topology(settings, edges)).toThrow('edge letta -> telemetry:otlp-http runs over backend');
    expect(() => new Topology(settings, edges)).toThrow('which telemetry does not join');
  });

  it.each(Object.entries(POLICY_VARIANTS))('GIVEN %s WHEN the policies are evaluated THEN every allowed connection is inside a network both ends join', (_name, { profile, values }) => {
    const { objects, topology } = stackWithController(profile, values);
    const components = stackComponentIds(objects, topology);
    const violations: string[] = [];
    let checked = 0;
    for (const connection of connectivity(objects)) {
      const from = partyOf(topology, components, connection.from);
      const to = partyOf(topology, components, connection.to);
      const component = (party: ClientId | undefined) => party !== undefined && party !== 'ingress-controller';
      // Connections among outside pods are not the stack's policies' doing; DNS is outside the model.
      if (!component(from) && !component(to)) continue;
      if (connection.to === CLUSTER_DNS_PROBE.id) continue;
      const where = `${connection.from} -> ${connection.to} ${connection.protocol}/${connection.port}`;
      checked += 1;
      if (from && to) {
        if (sharedNetworks(from, to).length === 0) violations.push(`${where}: no network both join`);
      } else if (from && connection.to === PROBE_ADDRESSES.internet) {
        if (!onOpenNetwork(from)) violations.push(`${where}: the internet from internal networks only`);
      } else {
        violations.push(`${where}: a party outside the compose model`);
      }
    }
    expect(violations).toEqual([]);
    expect(checked).toBeGreaterThan(0);
  });
});
