import { Construct } from 'constructs';
import { componentLabels } from './labels';
import { StackChart, StackChartProps } from './stack-chart';
import { ComponentId, DeployedComponent } from '../model/topology';

/**
 * A chart that deploys one component of the topology: it resolves the component once and labels
 * the component's objects with its selector, role and image version.
 */
export abstract class ComponentChart extends StackChart {
  /** The component as the topology names, selects and connects it. */
  readonly component: DeployedComponent;
  /** The recommended labels of every object of the component. */
  readonly componentLabels: Readonly<Record<string, string>>;

  protected constructor(scope: Construct, id: string, props: StackChartProps, deploys: ComponentId, image: string) {
    super(scope, id, props);
    this.component = this.topology.component(deploys);
    this.componentLabels = componentLabels(this.component, image);
  }
}
