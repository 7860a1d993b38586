import { ApiObject, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { k8s } from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentService } from './component-service';
import { hardenedContainer, hardenedPodSecurity, ImagePullPolicySetting } from './hardening';
import { componentLabels } from './labels';
import { lintSkipAnnotations } from './lint-exceptions';
import { DeployedComponent } from '../model/topology';

/** What a workload whose pods shut down cleanly (a server, a database) is given for it. */
export interface GracefulShutdown {
  /** Time for a clean shutdown before the kubelet kills the pod. @default 30 s (Kubernetes) */
  readonly terminationGracePeriod?: Duration;
}

/** A Deployment: stateless replicas behind a ClusterIP Service. */
export interface DeploymentWorkload extends GracefulShutdown {
  readonly kind: 'Deployment';
  /** Desired replicas; above 1 they spread over nodes and get a PodDisruptionBudget. */
  readonly replicas: number;
  /** How a new version replaces the running pods. */
  readonly strategy: kplus.DeploymentStrategy;
}

/** A StatefulSet: one pod with stable storage behind a headless Service; its claims are retained. */
export interface StatefulSetWorkload extends GracefulShutdown {
  readonly kind: 'StatefulSet';
  /** The claims each pod gets; the pod mounts a volume of the same name. */
  readonly volumeClaimTemplates: readonly kplus.PersistentVolumeClaimTemplateProps[];
}

/** A DaemonSet: a node agent on every node, tainted pools included, reached on the client's node. */
export interface DaemonSetWorkload {
  readonly kind: 'DaemonSet';
}

export type ComponentWorkloadSpec = DeploymentWorkload | StatefulSetWorkload | DaemonSetWorkload;

export interface StackComponentProps {
  /** The topology's component: its name, selector and ports. */
  readonly component: DeployedComponent;
  /** Image of the component's containers; its tag is the app.kubernetes.io/version label. */
  readonly image: string;
  /** The uid and gid every container runs as. */
  readonly uid: number;
  /** USER and LOGNAME of every container: the fixed uid has no passwd entry in the image. */
  readonly userName: string;
  /** Pull policy of every image. @default Always for a tag, IfNotPresent for a digest */
  readonly imagePullPolicy?: ImagePullPolicySetting;
  /** The workload kind and what is particular to it. */
  readonly workload: ComponentWorkloadSpec;
}

/** A container of the component: the image, pull policy and hardening are the component's. */
export type ComponentContainerProps = Omit<kplus.ContainerProps, 'image' | 'imagePullPolicy' | 'securityContext' | 'ports'> & {
  /** @default the component's image */
  readonly image?: string;
};

/**
 * One component of the stack: its ServiceAccount (no token: no workload talks to the Kubernetes
 * API), its workload with hardened pods selected by the topology's labels, its Service with every
 * port of the topology, the linters' justified exceptions and, for several replicas, a spread over
 * nodes and a PodDisruptionBudget. A chart adds only the containers and what is its own.
 */
export class StackComponent extends Construct {
  /** Labels of the component's objects and pods; charts put them on their own objects too. */
  readonly labels: Record<string, string>;
  readonly workload: kplus.Deployment | kplus.StatefulSet | kplus.DaemonSet;
  readonly service: kplus.Service;
  private readonly props: StackComponentProps;
  private readonly images: string[] = [];

  constructor(scope: Construct, id: string, props: StackComponentProps) {
    super(scope, id);
    this.props = props;
    const { component, workload } = props;
    this.labels = componentLabels(component, props.image);

    const serviceAccount = new kplus.ServiceAccount(this, 'service-account', {
      metadata: { name: component.name, labels: this.labels },
      automountToken: false,
    });
    this.service = new ComponentService(this, 'service', {
      component,
      labels: this.labels,
      headless: workload.kind === 'StatefulSet',
      nodeLocal: workload.kind === 'DaemonSet',
    }).service;

    const common = {
      metadata: { name: component.name, labels: this.labels },
      podMetadata: { labels: this.labels },
      // The selector is the topology's (below): stable, and what the NetworkPolicies select.
      select: false,
      serviceAccount,
      securityContext: hardenedPodSecurity(props.uid),
      automountServiceAccountToken: false,
      // Service links inject variables such as VLLM_PORT=tcp://..., which vLLM and Letta read as settings.
      enableServiceLinks: false,
    } satisfies Partial<kplus.DeploymentProps>;

    switch (workload.kind) {
      case 'Deployment':
        this.workload = new kplus.Deployment(this, 'workload', {
          ...common,
          replicas: workload.replicas,
          strategy: workload.strategy,
          terminationGracePeriod: workload.terminationGracePeriod,
        });
        break;
      case 'StatefulSet':
        this.workload = new kplus.StatefulSet(this, 'workload', {
          ...common,
          replicas: 1,
          service: this.service,
          terminationGracePeriod: workload.terminationGracePeriod,
          volumeClaimTemplates: [...workload.volumeClaimTemplates],
        });
        // Data survives deleting or scaling down the StatefulSet.
        ApiObject.of(this.workload).addJsonPatch(
          JsonPatch.add('/spec/persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' }),
        );
        break;
      case 'DaemonSet':
        this.workload = new kplus.DaemonSet(this, 'workload', common);
        ApiObject.of(this.workload).addJsonPatch(JsonPatch.add('/spec/template/spec/tolerations', [{ operator: 'Exists' }]));
        break;
    }
    this.workload.select(kplus.LabelSelector.of({ labels: { ...component.selector } }));

    if (workload.kind === 'Deployment' && workload.replicas > 1) {
      // Replicas on different nodes where there are several, so one node's loss keeps the component up.
      this.workload.scheduling.separate(this.workload, { weight: 100, topology: kplus.Topology.HOSTNAME });
      new k8s.KubePodDisruptionBudget(this, 'disruption-budget', {
        metadata: { name: component.name, labels: this.labels },
        spec: {
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: { ...component.selector } },
          // A crash-looping replica must not block node drains.
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }
  }

  /** Adds a serving container: it declares every port the topology gives the component. */
  addContainer(props: ComponentContainerProps): kplus.Container {
    const ports = this.props.component.ports.map((port) => ({ name: port.name, number: port.port }));
    return this.workload.addContainer({ ...this.containerProps(props), ports });
  }

  /** Adds an init container, run to completion before the serving containers start. */
  addInitContainer(props: ComponentContainerProps): kplus.Container {
    return this.workload.addInitContainer(this.containerProps(props));
  }

  private containerProps(props: ComponentContainerProps): kplus.ContainerProps {
    const image = props.image ?? this.props.image;
    this.images.push(image);
    // The exceptions depend on every image of the pod (digest or tag), so they follow each addition.
    const annotations = lintSkipAnnotations(this.props.component.id, { images: this.images, replicas: this.replicas() });
    for (const [key, value] of Object.entries(annotations)) this.workload.metadata.addAnnotation(key, value);
    return {
      ...props,
      ...hardenedContainer(image, this.props.uid, this.props.imagePullPolicy),
      envVariables: {
        ...props.envVariables,
        USER: kplus.EnvValue.fromValue(this.props.userName),
        LOGNAME: kplus.EnvValue.fromValue(this.props.userName),
      },
    };
  }

  /** The replica count the linters judge; a DaemonSet has none. */
  private replicas(): number | undefined {
    switch (this.props.workload.kind) {
      case 'Deployment':
        return this.props.workload.replicas;
      case 'StatefulSet':
        return 1;
      case 'DaemonSet':
        return undefined;
    }
  }
}
