import { ComponentId } from './topology';

/*
 * Checks of the platform teams' manifest linters (kube-linter, checkov) that a component cannot
 * pass, each with a one-line reason. The reasons ship inside the manifests as the linters' own
 * skip annotations, so whoever reviews the output sees why; test/lint-manifests.test.ts fails on
 * any finding not excepted here and on any skip annotation without a reason.
 */

/** A kube-linter check name (test/tools/kube-linter.yaml lists those that run). */
export type KubeLinterCheck = string;
/** A checkov Kubernetes check id. */
export type CheckovCheck = `CKV_K8S_${number}` | `CKV2_K8S_${number}`;

export interface LintExceptions {
  /** kube-linter check → reason. */
  readonly kubeLinter?: Readonly<Record<KubeLinterCheck, string>>;
  /** checkov check → reason. */
  readonly checkov?: Readonly<Partial<Record<CheckovCheck, string>>>;
}

const LETTA_SECRETS_FROM_ENV = 'Letta 0.16.8 reads its database and server passwords only from environment variables';

export const LINT_EXCEPTIONS: Readonly<Record<ComponentId, LintExceptions>> = {
  letta: {
    kubeLinter: { 'read-secret-from-env-var': LETTA_SECRETS_FROM_ENV },
    checkov: { CKV_K8S_35: LETTA_SECRETS_FROM_ENV },
  },
  database: {},
  redis: {},
  telemetry: {},
  vllm: {},
};

/*
 * The image settings take a tag so that users can choose a release; checkov wants a digest.
 * A setting that gives name:tag@sha256:... passes, and then the exception is left out.
 */
const TAG_PINNED_IMAGE: LintExceptions = {
  checkov: { CKV_K8S_43: 'image pinned to an exact release tag; give the image setting as name:tag@sha256:<digest> to pin its digest' },
};

/**
 * The skip annotations for a component's workload object, to go on its own metadata (the linters
 * ignore the pod template's). `images` are the images of all its containers, init containers too.
 */
export function lintSkipAnnotations(component: ComponentId, images: readonly string[]): Record<string, string> {
  const applicable = [LINT_EXCEPTIONS[component]];
  if (images.some((image) => !image.includes('@sha256:'))) applicable.push(TAG_PINNED_IMAGE);
  const kubeLinter = applicable.flatMap((exceptions) => Object.entries(exceptions.kubeLinter ?? {}));
  const checkov = applicable.flatMap((exceptions) => Object.entries(exceptions.checkov ?? {}));
  return {
    ...Object.fromEntries(kubeLinter.map(([check, reason]) => [`ignore-check.kube-linter.io/${check}`, reason])),
    // checkov reads numbered keys checkov.io/skip1, skip2, ..., each holding "<id>=<reason>".
    ...Object.fromEntries(checkov.map(([check, reason], index) => [`checkov.io/skip${index + 1}`, `${check}=${reason}`])),
  };
}
