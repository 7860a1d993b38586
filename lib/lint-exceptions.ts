import { pinnedByDigest } from './image-reference';
import { ComponentId } from './topology';

/*
 * Checks of the platform teams' manifest linters (kube-linter, checkov, kube-score) that a
 * component cannot pass, each with a one-line reason. The reasons ship inside the manifests next
 * to the linters' own skip annotations, so whoever reviews the output sees why;
 * test/lint-manifests.test.ts fails on any finding not excepted here and on any skip annotation
 * without a reason.
 */

/** A kube-linter check name (test/tools/kube-linter.yaml lists those that run). */
export type KubeLinterCheck = string;
/** A checkov Kubernetes check id. */
export type CheckovCheck = `CKV_K8S_${number}` | `CKV2_K8S_${number}`;
/** A kube-score check id (`kube-score list` prints them). */
export type KubeScoreCheck = string;

export interface LintExceptions {
  /** kube-linter check → reason. */
  readonly kubeLinter?: Readonly<Record<KubeLinterCheck, string>>;
  /** checkov check → reason. */
  readonly checkov?: Readonly<Partial<Record<CheckovCheck, string>>>;
  /** kube-score check → reason. */
  readonly kubeScore?: Readonly<Record<KubeScoreCheck, string>>;
}

/** kube-score's own skip annotation: a comma-separated list of check ids, with no room for a reason. */
export const KUBE_SCORE_IGNORE = 'kube-score/ignore';
/** Prefix of the annotation that gives the reason for one check in kube-score/ignore. */
export const KUBE_SCORE_REASON_PREFIX = 'ignore-reason.kube-score.letta-k8s.dev/';

const LETTA_SECRETS_FROM_ENV = 'Letta 0.16.8 reads its database and server passwords only from environment variables';
const VLLM_GPUS = 'each vLLM replica holds vllm.gpus GPUs of its own';

export const LINT_EXCEPTIONS: Readonly<Record<ComponentId, LintExceptions>> = {
  letta: {
    kubeLinter: { 'read-secret-from-env-var': LETTA_SECRETS_FROM_ENV },
    checkov: { CKV_K8S_35: LETTA_SECRETS_FROM_ENV },
  },
  database: {},
  redis: {
    kubeScore: {
      'deployment-replicas': 'Letta keeps its conversation locks and stream state in one Redis; replicas behind the Service would split them',
      'deployment-strategy': "a rolling update runs two Redis instances behind the Service for a while, splitting Letta's conversation locks",
    },
  },
  telemetry: {},
  vllm: {
    kubeScore: {
      'deployment-replicas': `${VLLM_GPUS}: the stack runs one and grows it by GPUs per replica`,
      'deployment-strategy': `${VLLM_GPUS}: a rolling update needs a second set and never finishes on a full GPU pool`,
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
  if (component === 'letta' && options.replicas !== undefined && options.replicas < 2) applicable.push(FEW_LETTA_REPLICAS);
  const kubeLinter = applicable.flatMap((exceptions) => Object.entries(exceptions.kubeLinter ?? {}));
  const checkov = applicable.flatMap((exceptions) => Object.entries(exceptions.checkov ?? {}));
  const kubeScore = applicable.flatMap((exceptions) => Object.entries(exceptions.kubeScore ?? {}));
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
  };
}
