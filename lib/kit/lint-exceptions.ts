import { fromDockerHubRepository, pinnedByDigest } from './image-reference';
import { ComponentId } from '../model/topology';

/*
 * Checks of the platform teams' manifest linters (kube-linter, checkov, kube-score, trivy) that a
 * component cannot pass, each with a one-line reason. The reasons ship inside the manifests next
 * to the linters' own skip annotations, so whoever reviews the output sees why;
 * test/lint-manifests.test.ts fails on any finding not excepted here and on any skip annotation
 * without a reason.
 */

/** A kube-linter check name (tools/kube-linter.yaml lists those that run). */
export type KubeLinterCheck = string;
/** A checkov Kubernetes check id. */
export type CheckovCheck = `CKV_K8S_${number}` | `CKV2_K8S_${number}`;
/** A kube-score check id (`kube-score list` prints them). */
export type KubeScoreCheck = string;
/** A trivy Kubernetes misconfiguration check id. */
export type TrivyCheck = `KSV-${number}`;

export interface LintExceptions {
  /** kube-linter check → reason. */
  readonly kubeLinter?: Readonly<Record<KubeLinterCheck, string>>;
  /** checkov check → reason. */
  readonly checkov?: Readonly<Partial<Record<CheckovCheck, string>>>;
  /** kube-score check → reason. */
  readonly kubeScore?: Readonly<Record<KubeScoreCheck, string>>;
  /** trivy check → reason. */
  readonly trivy?: Readonly<Partial<Record<TrivyCheck, string>>>;
}

/** kube-score's own skip annotation: a comma-separated list of check ids, with no room for a reason. */
export const KUBE_SCORE_IGNORE = 'kube-score/ignore';
/** Prefix of the annotation that gives the reason for one check in kube-score/ignore. */
export const KUBE_SCORE_REASON_PREFIX = 'ignore-reason.kube-score.letta-k8s.dev/';
/**
 * Prefix of the annotation that excepts one trivy check, with its reason. Trivy reads no skip
 * annotation of its own (only ignore files), so the lint run applies these itself.
 */
export const TRIVY_REASON_PREFIX = 'ignore-reason.trivy.letta-k8s.dev/';

const LETTA_SECRETS_FROM_ENV = 'Letta 0.16.8 reads its database and server passwords only from environment variables';
const VLLM_REPLICA = 'each vLLM replica holds a whole model in GPUs of its own (vllm.gpus), or on CPUs in memory';

export const LINT_EXCEPTIONS: Readonly<Record<ComponentId, LintExceptions>> = {
  letta: {
    kubeLinter: { 'read-secret-from-env-var': LETTA_SECRETS_FROM_ENV },
    checkov: { CKV_K8S_35: LETTA_SECRETS_FROM_ENV },
  },
  database: {},
  backup: {},
  redis: {
    kubeScore: {
      'deployment-replicas': 'Letta keeps its conversation locks and stream state in one Redis; replicas behind the Service would split them',
      'deployment-strategy': "a rolling update runs two Redis instances behind the Service for a while, splitting Letta's conversation locks",
    },
  },
  telemetry: {},
  vllm: {
    kubeScore: {
      'deployment-replicas': `${VLLM_REPLICA}: the stack runs one and grows it by GPUs or memory per replica`,
      'deployment-strategy': `${VLLM_REPLICA}: a rolling update needs room for a second copy and never finishes on a full pool`,
    },
  },
};

/*
 * The image settings take a tag so that users can choose a release; checkov wants a digest.
 * A setting that gives name:tag@sha256:... passes, and then the exception is left out.
 */
const TAG_PINNED_IMAGE: LintExceptions = {
  checkov: { CKV_K8S_43: 'image pinned to an exact release tag; give the image setting as name:tag@sha256:<digest> to pin its digest' },
};

/*
 * Trivy trusts only the big clouds' registries unless told others (its ksv0125.trusted_registries);
 * Docker's official images (redis) pass, a Docker Hub repository (letta/letta) does not.
 */
const DOCKER_HUB_IMAGE: LintExceptions = {
  trivy: {
    'KSV-0125':
      "the upstream release is published in a Docker Hub repository; mirror it into a registry you trust and set the image setting to it, or list Docker Hub in trivy's ksv0125.trusted_registries",
  },
};

/* Letta's replica count is a setting; below 2 (the kind profile's 1) is a choice for small clusters. */
const FEW_LETTA_REPLICAS: LintExceptions = {
  kubeScore: { 'deployment-replicas': 'letta.replicas is below 2, for a single-node cluster; set 2 or more (with Redis) for an API that survives a node' },
};

export interface LintSkipOptions {
  /** The images of all the workload's containers, init containers too. */
  readonly images: readonly string[];
  /** The workload's replica count (unset for a DaemonSet). */
  readonly replicas?: number;
}

/**
 * The skip annotations for a component's workload object, to go on its own metadata (the linters
 * ignore the pod template's, or read it only for some checks).
 */
export function lintSkipAnnotations(component: ComponentId, options: LintSkipOptions): Record<string, string> {
  const applicable = [LINT_EXCEPTIONS[component]];
  if (options.images.some((image) => !pinnedByDigest(image))) applicable.push(TAG_PINNED_IMAGE);
  if (options.images.some(fromDockerHubRepository)) applicable.push(DOCKER_HUB_IMAGE);
  if (component === 'letta' && options.replicas !== undefined && options.replicas < 2) applicable.push(FEW_LETTA_REPLICAS);
  return exceptionAnnotations(applicable);
}

/*
 * ConfigMaps that trivy's pattern checks misread as holding personal data or secrets. Neither holds
 * a credential: those reach the pods from Secrets, as env references or mounted files.
 */
/** The collector's configuration (charts/telemetry/telemetry-chart.ts). */
export const COLLECTOR_CONFIG_EXCEPTIONS: LintExceptions = {
  trivy: {
    'KSV-01010': "the check's passport-number pattern matches the port numbers of endpoints such as 0.0.0.0:4317; the exporter token is a file from a Secret",
  },
};

/** Letta's migration and redaction scripts (charts/letta/letta-chart.ts). */
export const LETTA_SCRIPTS_EXCEPTIONS: LintExceptions = {
  trivy: {
    'KSV-01010': 'Python source: "key" and "KEY =" are a sort key and the migration lock id, not credentials',
    'KSV-0109': 'Python source: "password" is a parameter name of the code that redacts passwords; the password comes from a Secret (LETTA_PG_PASSWORD)',
  },
};

/** The skip annotations for an object's own metadata, from every exception that applies to it. */
export function exceptionAnnotations(applicable: readonly LintExceptions[]): Record<string, string> {
  const kubeLinter = applicable.flatMap((exceptions) => Object.entries(exceptions.kubeLinter ?? {}));
  const checkov = applicable.flatMap((exceptions) => Object.entries(exceptions.checkov ?? {}));
  const kubeScore = applicable.flatMap((exceptions) => Object.entries(exceptions.kubeScore ?? {}));
  const trivy = applicable.flatMap((exceptions) => Object.entries(exceptions.trivy ?? {}));
  return {
    ...Object.fromEntries(kubeLinter.map(([check, reason]) => [`ignore-check.kube-linter.io/${check}`, reason])),
    // checkov reads numbered keys checkov.io/skip1, skip2, ..., each holding "<id>=<reason>".
    ...Object.fromEntries(checkov.map(([check, reason], index) => [`checkov.io/skip${index + 1}`, `${check}=${reason}`])),
    ...(kubeScore.length === 0
      ? {}
      : {
          [KUBE_SCORE_IGNORE]: kubeScore.map(([check]) => check).join(','),
          ...Object.fromEntries(kubeScore.map(([check, reason]) => [`${KUBE_SCORE_REASON_PREFIX}${check}`, reason])),
        }),
    ...Object.fromEntries(trivy.map(([check, reason]) => [`${TRIVY_REASON_PREFIX}${check}`, reason])),
  };
}
