import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { DeployedComponent } from '../model/topology';

export interface ComponentServiceProps {
  /** The component the Service fronts; its name, selector and ports come from the topology. */
  readonly component: DeployedComponent;
  /** Labels of the Service object. */
  readonly labels: Record<string, string>;
  /** Headless (clusterIP None), for a StatefulSet's stable pod names. @default false */
  readonly headless?: boolean;
  /** Route only to pods on the client's node (node-local agents). @default false */
  readonly nodeLocal?: boolean;
}

/** The Service of a topology component: named like the component, every port by name. */
export class ComponentService extends Construct {
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: ComponentServiceProps) {
    super(scope, id);
    const { component } = props;
    this.service = new kplus.Service(this, 'Resource', {
      metadata: { name: component.name, labels: props.labels },
      clusterIP: props.headless ? 'None' : undefined,
      ports: component.ports.map((port) => ({
        name: port.name,
        port: port.port,
        targetPort: port.port,
        protocol: port.protocol === 'UDP' ? kplus.Protocol.UDP : kplus.Protocol.TCP,
      })),
    });
    for (const [key, value] of Object.entries(component.selector)) this.service.selectLabel(key, value);
    if (props.nodeLocal) {
      ApiObject.of(this.service).addJsonPatch(JsonPatch.add('/spec/internalTrafficPolicy', 'Local'));
    }
  }
}
