import { k8s } from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { STACK_LABELS } from '../../lib/kit/labels';
import { componentPolicy, DEFAULT_DENY_POLICY } from './component-policy';
import { StackChart, StackChartProps } from '../../lib/kit/stack-chart';

/** Default deny for the namespace, then one policy per component with exactly its edges. */
export class NetworkPolicyChart extends StackChart {
  constructor(scope: Construct, id: string, props: StackChartProps) {
    super(scope, id, props);
    new k8s.KubeNetworkPolicy(this, 'default-deny', {
      metadata: { name: DEFAULT_DENY_POLICY, labels: { ...STACK_LABELS } },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    for (const component of this.topology.components) {
      new k8s.KubeNetworkPolicy(this, component.id, {
        metadata: { name: component.name, labels: { ...STACK_LABELS, ...component.selector } },
        spec: componentPolicy(this.topology, component),
      });
    }
  }
}
