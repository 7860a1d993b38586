import { Construct } from 'constructs';
import { componentLabels } from './labels';
import { StackChart, StackChartProps } from './stack-chart';
import { Connection, DeployedComponent } from '../model/topology';

export interface EntryChartProps extends StackChartProps {
  /** The host name served. */
  readonly host: string;
  /** TLS Secret for the host. @default none: plain HTTP */
  readonly tlsSecretName?: string;
  /** The topology's entry: the data plane's connection to Letta's port. */
  readonly entry: Connection;
  /** The backend's image, whose version labels the entry like the backend's other objects. */
  readonly backendImage: string;
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
    this.backendLabels = componentLabels(this.backend, props.backendImage);
  }
}
