import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-33';
import { StackChartProps } from '../lib/stack-chart';
import { STACK_LABELS } from '../lib/labels';

/** The stack's namespace, enforcing Pod Security "restricted" on every pod in it. */
export class NamespaceChart extends Chart {
  constructor(scope: Construct, id: string, props: StackChartProps) {
    super(scope, id, { disableResourceNameHashes: true });
    const podSecurity = Object.fromEntries(
      ['enforce', 'audit', 'warn'].flatMap((mode) => [
        [`pod-security.kubernetes.io/${mode}`, 'restricted'],
        [`pod-security.kubernetes.io/${mode}-version`, 'latest'],
      ]),
    );
    new k8s.KubeNamespace(this, 'namespace', {
      metadata: { name: props.settings.namespace, labels: { ...STACK_LABELS, ...podSecurity } },
    });
  }
}
