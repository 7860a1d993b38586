import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { Settings } from './config/schema';
import { Topology } from './topology';

export interface StackChartProps {
  /** Validated settings of the profile being synthesized. */
  readonly settings: Settings;
  /** The topology derived from the settings. */
  readonly topology: Topology;
}

/** A chart of the stack: every object lands in the stack's namespace. */
export class StackChart extends Chart {
  readonly settings: Settings;
  readonly topology: Topology;

  constructor(scope: Construct, id: string, props: StackChartProps) {
    super(scope, id, { namespace: props.settings.namespace, disableResourceNameHashes: true });
    this.settings = props.settings;
    this.topology = props.topology;
  }
}
