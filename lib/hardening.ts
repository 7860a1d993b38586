import * as kplus from 'cdk8s-plus-33';
import { Size } from 'cdk8s';
import { Resources } from './config/schema';
import { parseQuantity } from './quantity';

/*
 * Pod Security "restricted" for every pod of the stack: a fixed non-root user, no privilege
 * escalation, no capabilities, the runtime's default seccomp profile and a read-only root file
 * system. Writable paths are explicit emptyDir or persistent volumes.
 */

/** Pod-level settings shared by every workload. */
export function hardenedPod(uid: number) {
  return {
    securityContext: {
      ensureNonRoot: true,
      user: uid,
      group: uid,
      fsGroup: uid,
      fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
    },
    // No workload talks to the Kubernetes API.
    automountServiceAccountToken: false,
    // Service links inject variables such as VLLM_PORT=tcp://..., which vLLM and Letta read as settings.
    enableServiceLinks: false,
  } satisfies Partial<kplus.AbstractPodProps>;
}

/** Container-level settings shared by every container: the image, pinned, and its hardening. */
export function hardenedContainer(image: string, uid: number) {
  return {
    image,
    // Images are pinned by version, so a cached copy is the same image.
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    securityContext: containerSecurityContext(uid),
  } satisfies Partial<kplus.ContainerProps>;
}

function containerSecurityContext(uid: number): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: uid,
    group: uid,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
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
  return {
    cpu: { request: cpu(resources.requests.cpu), limit: resources.limits.cpu ? cpu(resources.limits.cpu) : undefined },
    memory: { request: memory(resources.requests.memory), limit: memory(resources.limits.memory) },
  };
}

/** A writable emptyDir mounted at `path`, for software that writes there at run time. */
export function scratchVolume(scope: import('constructs').Construct, name: string, path: string, sizeLimit = Size.mebibytes(256)): kplus.VolumeMount {
  return { path, volume: kplus.Volume.fromEmptyDir(scope, `scratch-${name}`, name, { sizeLimit }) };
}
