import { ComponentId } from './topology';

/*
 * Checks of the platform teams' manifest linters (kube-linter, checkov) that a component cannot
 * pass by its nature, each with a one-line reason. The reasons ship inside the manifests as the
 * linters' own skip annotations, so whoever reviews the output sees why, and
 * test/lint-manifests.test.ts fails on any finding not listed here.
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

export const LINT_EXCEPTIONS: Readonly<Record<ComponentId, LintExceptions>> = {
  letta: {},
  database: {},
  redis: {},
  telemetry: {},
  vllm: {},
};

/** The skip annotations for a component's workload object (its own metadata, not the pod template's). */
export function lintSkipAnnotations(component: ComponentId): Record<string, string> {
  const { kubeLinter = {}, checkov = {} } = LINT_EXCEPTIONS[component];
  return {
    ...Object.fromEntries(Object.entries(kubeLinter).map(([check, reason]) => [`ignore-check.kube-linter.io/${check}`, reason])),
    // checkov reads numbered keys checkov.io/skip1, skip2, ... each holding "<id>=<reason>".
    ...Object.fromEntries(Object.entries(checkov).map(([check, reason], index) => [`checkov.io/skip${index + 1}`, `${check}=${reason}`])),
  };
}
