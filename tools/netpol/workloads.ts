import type { Labels } from './selectors';
import type { Protocol } from './ports';
import type { KubeObject } from '../kube';

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: Protocol;
}

/** The pods of one workload: what NetworkPolicies see of them. */
export interface Workload {
  /** "namespace/name" */
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  /** The pod template's labels. */
  readonly labels: Labels;
  /**
   * The ports named ports resolve against: those of the containers and of sidecars (init
   * containers with restartPolicy Always), as Kubernetes resolves a Service's named targetPort.
   * Other init containers have finished before the pod serves, so their ports do not count.
   */
  readonly ports: readonly ContainerPort[];
}

/** The kinds that keep their pod template in spec.template; a CronJob keeps it a level deeper, a Pod is its own. */
const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job']);

function podTemplateOf(object: KubeObject): any {
  if (object.kind === 'Pod') return object;
  return object.kind === 'CronJob' ? object.spec?.jobTemplate?.spec?.template : TEMPLATE_KINDS.has(object.kind) ? object.spec?.template : undefined;
}

export function namespaceOf(object: KubeObject): string {
  return object.metadata.namespace ?? 'default';
}

/** One entry per workload object, in input order. */
export function workloadsFrom(objects: readonly KubeObject[]): Workload[] {
  return objects.flatMap((object) => {
    const template = podTemplateOf(object);
    if (template === undefined) return [];
    const namespace = namespaceOf(object);
    const sidecars = (template.spec?.initContainers ?? []).filter((container: any) => container.restartPolicy === 'Always');
    const containers = [...(template.spec?.containers ?? []), ...sidecars];
    const ports = containers.flatMap((container: any) =>
      (container.ports ?? []).map((port: any): ContainerPort => ({ ...(port.name ? { name: port.name } : {}), containerPort: port.containerPort, protocol: port.protocol ?? 'TCP' })),
    );
    return [{ id: `${namespace}/${object.metadata.name}`, kind: object.kind, name: object.metadata.name, namespace, labels: { ...(template.metadata?.labels ?? {}) }, ports }];
  });
}
