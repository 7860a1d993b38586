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

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
const DEFAULT_NAMESPACE = 'default';

/** Where each workload kind keeps its pod template. */
const POD_TEMPLATE: Readonly<Record<string, (object: KubeObject) => any>> = {
  Deployment: (object) => object.spec?.template,
  StatefulSet: (object) => object.spec?.template,
  DaemonSet: (object) => object.spec?.template,
  ReplicaSet: (object) => object.spec?.template,
  ReplicationController: (object) => object.spec?.template,
  Job: (object) => object.spec?.template,
  CronJob: (object) => object.spec?.jobTemplate?.spec?.template,
  Pod: (object) => object,
};

export function namespaceOf(object: KubeObject): string {
  return object.metadata.namespace ?? DEFAULT_NAMESPACE;
}

/** One entry per workload object, in input order. */
export function workloadsFrom(objects: readonly KubeObject[]): Workload[] {
  return objects.flatMap((object) => {
    const template = POD_TEMPLATE[object.kind]?.(object);
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

/**
 * The labels of every Namespace object in the input, with the `kubernetes.io/metadata.name`
 * label the API server sets on every namespace.
 */
export function namespaceLabelsFrom(objects: readonly KubeObject[]): Map<string, Labels> {
  const namespaces = new Map<string, Labels>();
  for (const object of objects) {
    if (object.kind !== 'Namespace') continue;
    const name = object.metadata.name;
    namespaces.set(name, { ...(object.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: name });
  }
  return namespaces;
}
