import { k8s } from 'cdk8s-plus-33';
import { CLUSTER_DNS, Connection, DeployedComponent, PortDefinition, Topology } from '../../lib/model/topology';

export const DEFAULT_DENY_POLICY = 'default-deny';

/**
 * Never "the internet": RFC 1918, carrier-grade NAT (often a cluster's pod range), loopback and
 * link-local (cloud metadata endpoints live at 169.254.169.254).
 */
const NON_PUBLIC_IPV4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16'];

const policyPorts = (ports: readonly PortDefinition[]): k8s.NetworkPolicyPort[] =>
  ports.map((port) => ({ port: k8s.IntOrString.fromNumber(port.port), protocol: port.protocol }));

/** The pods at the other end of a connection, as a NetworkPolicy peer. */
function clientPeer(topology: Topology, connection: Connection): k8s.NetworkPolicyPeer {
  if (connection.from === 'ingress-controller') {
    // One peer entry: pods with these labels in namespaces with those labels (AND, not OR).
    return {
      namespaceSelector: { matchLabels: { ...topology.ingressController.namespaceLabels } },
      podSelector: { matchLabels: { ...topology.ingressController.podLabels } },
    };
  }
  return { podSelector: { matchLabels: { ...topology.component(connection.from).selector } } };
}

/**
 * The policy of one component: an ingress rule per connection it accepts, an egress rule per
 * connection it opens, DNS only for clients, and public internet only where settings allow it.
 * Every rule names the container port; the namespace's default deny covers everything else.
 */
export function componentPolicy(topology: Topology, component: DeployedComponent): k8s.NetworkPolicySpec {
  const ingress: k8s.NetworkPolicyIngressRule[] = topology.ingressOf(component.id).map((connection) => ({
    from: [clientPeer(topology, connection)],
    ports: policyPorts([connection.port]),
  }));

  const egress: k8s.NetworkPolicyEgressRule[] = topology.egressOf(component.id).map((connection) => ({
    to: [{ podSelector: { matchLabels: { ...connection.to.selector } } }],
    ports: policyPorts([connection.port]),
  }));
  if (topology.needsDns(component.id)) {
    egress.push({
      to: [
        {
          namespaceSelector: { matchLabels: { ...CLUSTER_DNS.namespaceLabels } },
          podSelector: { matchLabels: { ...CLUSTER_DNS.podLabels } },
        },
      ],
      ports: policyPorts(CLUSTER_DNS.ports),
    });
  }
  const internet = topology.internet.find((access) => access.component.id === component.id);
  if (internet) {
    egress.push({
      to: [{ ipBlock: { cidr: '0.0.0.0/0', except: NON_PUBLIC_IPV4 } }],
      ports: internet.ports.map((port) => ({ port: k8s.IntOrString.fromNumber(port), protocol: 'TCP' })),
    });
  }

  // An empty list is omitted, not sent: the API server stores it as absent, so sending [] would
  // make every server-side apply a change. policyTypes alone denies that direction.
  return {
    podSelector: { matchLabels: { ...component.selector } },
    policyTypes: ['Ingress', 'Egress'],
    ...(ingress.length > 0 ? { ingress } : {}),
    ...(egress.length > 0 ? { egress } : {}),
  };
}
