import * as kplus from 'cdk8s-plus-33';
import { pinnedByDigest } from './image-reference';

/*
 * Pod Security "restricted" for every pod of the stack: a fixed non-root user, no privilege
 * escalation, no capabilities, the runtime's default seccomp profile and a read-only root file
 * system. Writable paths are explicit emptyDir or persistent volumes.
 */

/** An image pull policy as the settings and Kubernetes spell it. */
export type ImagePullPolicySetting = 'Always' | 'IfNotPresent' | 'Never';

const PULL_POLICIES: Readonly<Record<ImagePullPolicySetting, kplus.ImagePullPolicy>> = {
  Always: kplus.ImagePullPolicy.ALWAYS,
  IfNotPresent: kplus.ImagePullPolicy.IF_NOT_PRESENT,
  Never: kplus.ImagePullPolicy.NEVER,
};

/** The pod-level security settings: every process runs as `uid`, volumes are group-owned by it. */
export function hardenedPodSecurity(uid: number): kplus.PodSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: uid,
    group: uid,
    fsGroup: uid,
    fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
  };
}

/**
 * Container-level settings shared by every container: the image, its pull policy and its
 * hardening. Without an explicit policy: a digest cannot change, so a cached copy is the image; a
 * tag can be re-pushed, so it is checked on every start.
 */
export function hardenedContainer(image: string, uid: number, pullPolicy?: ImagePullPolicySetting) {
  const defaultPolicy = pinnedByDigest(image) ? 'IfNotPresent' : 'Always';
  return {
    image,
    imagePullPolicy: PULL_POLICIES[pullPolicy ?? defaultPolicy],
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
