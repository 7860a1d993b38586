import { Construct } from 'constructs';
import { Settings } from '../config/schema';
import { componentLabels } from './labels';
import { StackChart, StackChartProps } from './stack-chart';
import { Connection, DeployedComponent } from '../model/topology';

export interface EntryChartProps extends StackChartProps {
  /** The entry settings: host, TLS, stream timeouts, and the Ingress class or the Gateway. */
  readonly ingress: Settings['ingress'];
  /** The topology's entry: the data plane's connection to Letta's port. */
  readonly entry: Connection;
  /** Letta's image, whose version labels the entry like Letta's other objects. */
  readonly lettaImage: string;
}

/** A chart that brings outside traffic to the component the topology's entry leads to. */
export abstract class EntryChart extends StackChart {
  /** The component behind the entry (Letta). */
  readonly backend: DeployedComponent;
  /** Labels of the entry's objects: the backend's own. */
  readonly backendLabels: Readonly<Record<string, string>>;

  protected constructor(scope: Construct, id: string, props: EntryChartProps) {
    super(scope, id, props);
    this.backend = props.entry.to;
    this.backendLabels = componentLabels(this.backend, props.lettaImage);
  }
}
