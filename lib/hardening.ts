import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { Resources, Settings } from './config/schema';
import { pinnedByDigest } from './image-reference';
import { lintSkipAnnotations } from './lint-exceptions';
import { parseQuantity } from './quantity';
import { DeployedComponent } from './topology';

/*
 * Pod Security "restricted" for every pod of the stack: a fixed non-root user, no privilege
 * escalation, no capabilities, the runtime's default seccomp profile and a read-only root file
 * system. Writable paths are explicit emptyDir or persistent volumes.
 */

export interface ComponentWorkloadOptions {
  /** Labels of the workload, its pods and its ServiceAccount. */
  readonly labels: Record<string, string>;
  /** The uid (and gid) every container runs as. */
  readonly uid: number;
  /** Every image the pod runs, init containers included (for the linters' digest checks). */
  readonly images: readonly string[];
  /** The replica count of a Deployment or StatefulSet; the linters' replica exceptions depend on it. */
  readonly replicas?: number;
}

/**
 * The props every workload of the stack shares: the component's name, its own ServiceAccount
 * without a token (no workload talks to the Kubernetes API), the hardened pod settings and the
 * linters' justified exceptions. Call `selectComponentPods` on the workload afterwards.
 */
export function componentWorkload(scope: Construct, component: DeployedComponent, options: ComponentWorkloadOptions) {
  const serviceAccount = new kplus.ServiceAccount(scope, 'service-account', {
    metadata: { name: component.name, labels: options.labels },
    automountToken: false,
  });
  return {
    metadata: {
      name: component.name,
      labels: options.labels,
      annotations: lintSkipAnnotations(component.id, { images: options.images, replicas: options.replicas }),
    },
    replicas: options.replicas,
    podMetadata: { labels: options.labels },
    // The selector is the topology's, set by selectComponentPods: stable, and what policies use.
    select: false,
    serviceAccount,
    securityContext: {
      ensureNonRoot: true,
      user: options.uid,
      group: options.uid,
      fsGroup: options.uid,
      fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
    },
    automountServiceAccountToken: false,
    // Service links inject variables such as VLLM_PORT=tcp://..., which vLLM and Letta read as settings.
    enableServiceLinks: false,
  } satisfies Partial<kplus.DeploymentProps>;
}

/** Selects the component's pods by the topology's selector labels. */
export function selectComponentPods(workload: kplus.Workload, component: DeployedComponent): void {
  workload.select(kplus.LabelSelector.of({ labels: { ...component.selector } }));
}

/**
 * Container-level settings shared by every container: the image, its pull policy and its
 * hardening. Without an explicit policy: a digest cannot change, so a cached copy is the image; a
 * tag can be re-pushed, so it is checked on every start.
 */
export function hardenedContainer(image: string, uid: number, pullPolicy?: Settings['imagePullPolicy']) {
  return {
    image,
    imagePullPolicy: pullPolicy
      ? kplus.ImagePullPolicy[pullPolicy === 'IfNotPresent' ? 'IF_NOT_PRESENT' : pullPolicy === 'Never' ? 'NEVER' : 'ALWAYS']
      : pinnedByDigest(image)
        ? kplus.ImagePullPolicy.IF_NOT_PRESENT
        : kplus.ImagePullPolicy.ALWAYS,
    securityContext: {
      ensureNonRoot: true,
      user: uid,
      group: uid,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: [kplus.Capability.ALL] },
      seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
    },
  } satisfies Partial<kplus.ContainerProps>;
}

/** A storage quantity with a binary suffix ("10Gi") as a cdk8s Size. */
export function storageSize(quantity: string): Size {
  const match = /^([0-9]+)(Mi|Gi|Ti)$/.exec(quantity);
  if (!match) throw new Error(`storage size ${quantity} must be whole Mi, Gi or Ti`);
  const amount = Number(match[1]);
  return match[2] === 'Mi' ? Size.mebibytes(amount) : match[2] === 'Gi' ? Size.gibibytes(amount) : Size.tebibytes(amount);
}

/** Settings' resource quantities as cdk8s-plus resources. */
export function containerResources(resources: Resources): kplus.ContainerResources {
  const cpu = (quantity: string) => kplus.Cpu.millis(Math.round(parseQuantity(quantity)! * 1000));
  const memory = (quantity: string) => Size.mebibytes(Math.round(parseQuantity(quantity)! / 1024 ** 2));
  // cdk8s-plus writes ephemeral storage in whole GiB, which is why the settings take only Gi.
  const disk = (quantity: string) => Size.gibibytes(parseQuantity(quantity)! / 1024 ** 3);
  return {
    cpu: { request: cpu(resources.requests.cpu), limit: cpu(resources.limits.cpu) },
    memory: { request: memory(resources.requests.memory), limit: memory(resources.limits.memory) },
    ephemeralStorage: { request: disk(resources.requests.ephemeralStorage), limit: disk(resources.limits.ephemeralStorage) },
  };
}

/**
 * The liveness probe of a serving container: its port accepts connections. It differs from the
 * readiness probe on purpose: a server that answers its health check slowly or not at all (busy,
 * recovering, waiting on a dependency) leaves the Service's endpoints through readiness, and is
 * restarted only once it stops listening, since a restart costs open streams, a model load or a
 * crash recovery.
 */
export function listeningProbe(port: number, options: kplus.ProbeOptions): kplus.Probe {
  return kplus.Probe.fromTcpSocket({ port, ...options });
}

/** A writable emptyDir mounted at `path`, for software that writes there at run time. */
export function scratchVolume(scope: Construct, name: string, path: string, sizeLimit = Size.mebibytes(256)): kplus.VolumeMount {
  return { path, volume: kplus.Volume.fromEmptyDir(scope, `scratch-${name}`, name, { sizeLimit }) };
}

export interface SecretFileOptions {
  /** Name of the Secret in the stack's namespace. */
  readonly secretName: string;
  /** Key of the Secret to mount. */
  readonly key: string;
  /** Directory the file appears in. */
  readonly directory: string;
  /** File name. @default the key */
  readonly file?: string;
  /** Start the pod even when the Secret or key is missing (the file is then absent). @default false */
  readonly optional?: boolean;
}

/**
 * A key of a Secret as a read-only file, for software that reads credentials from files rather
 * than from its environment.
 */
export function secretFile(scope: Construct, id: string, options: SecretFileOptions): kplus.VolumeMount {
  const secret = kplus.Secret.fromSecretName(scope, `${id}-secret`, options.secretName);
  return {
    path: options.directory,
    readOnly: true,
    volume: kplus.Volume.fromSecret(scope, id, secret, {
      name: id,
      items: { [options.key]: { path: options.file ?? options.key, mode: 0o440 } },
      optional: options.optional,
    }),
  };
}

/**
 * USER and LOGNAME in every container of a pod. The stack's fixed uids have no entry in the
 * images' passwd files, and software that asks who it runs as then fails: Python's
 * getpass.getuser(), which torch's inductor calls at import, raises "getpwuid(): uid not found"
 * unless one of these is set. Call it once all containers are added.
 */
export function nameTheUser(pod: kplus.AbstractPod, userName: string): void {
  for (const container of [...pod.initContainers, ...pod.containers]) {
    container.env.addVariable('USER', kplus.EnvValue.fromValue(userName));
    container.env.addVariable('LOGNAME', kplus.EnvValue.fromValue(userName));
  }
}
