import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-33';
import { STACK_LABELS } from '../../lib/kit/labels';

export interface NamespaceChartProps {
  /** Name of the stack's namespace. */
  readonly namespace: string;
}

/** The stack's namespace, enforcing Pod Security "restricted" on every pod in it. */
export class NamespaceChart extends Chart {
  constructor(scope: Construct, id: string, props: NamespaceChartProps) {
    super(scope, id, { disableResourceNameHashes: true });
    const podSecurity = Object.fromEntries(
      ['enforce', 'audit', 'warn'].flatMap((mode) => [
        [`pod-security.kubernetes.io/${mode}`, 'restricted'],
        [`pod-security.kubernetes.io/${mode}-version`, 'latest'],
      ]),
    );
    new k8s.KubeNamespace(this, 'namespace', {
      metadata: { name: props.namespace, labels: { ...STACK_LABELS, ...podSecurity } },
    });
  }
}
