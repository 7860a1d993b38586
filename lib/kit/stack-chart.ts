import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { ImagePullPolicySetting } from './hardening';
import { Topology } from '../model/topology';

export interface StackChartProps {
  /** The topology of the profile being synthesized: components, addresses, edges. */
  readonly topology: Topology;
  /** Pull policy of every image. @default Always for a tag, IfNotPresent for a digest */
  readonly imagePullPolicy?: ImagePullPolicySetting;
}

/** A chart of the stack: every object lands in the topology's namespace. */
export class StackChart extends Chart {
  readonly topology: Topology;
  readonly imagePullPolicy?: ImagePullPolicySetting;

  constructor(scope: Construct, id: string, props: StackChartProps) {
    super(scope, id, { namespace: props.topology.namespace, disableResourceNameHashes: true });
    this.topology = props.topology;
    this.imagePullPolicy = props.imagePullPolicy;
  }
}
