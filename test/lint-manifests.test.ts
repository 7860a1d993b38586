import { beforeAll, describe, expect, it } from 'vitest';
import { LINT_EXCEPTIONS, lintSkipAnnotations } from '../lib/lint-exceptions';
import { PROFILES, renderProfile } from './support/render';
import { available } from './support/requirements';
import {
  Linter,
  formatFindings,
  missingReason,
  parseCheckovReport,
  parseKubeLinterReport,
  pinnedLinters,
  runLinter,
  skipAnnotationProblems,
} from './tools/linters';

// A linter run on a whole profile takes seconds (checkov starts a Python interpreter with hundreds
// of checks); this bounds a hung run, it asserts nothing about speed.
const LINTER_TIMEOUT_MS = 180_000;

function deployment(annotations: Record<string, string>, templateAnnotations: Record<string, string> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'letta', annotations },
    spec: { template: { metadata: { annotations: templateAnnotations }, spec: { containers: [] } } },
  };
}

describe('skip annotations', () => {
  it('GIVEN skips that each name one check and a reason WHEN checked THEN there is no finding', () => {
    const manifest = deployment({
      'ignore-check.kube-linter.io/no-read-only-root-fs': 'the server writes its cache under /app',
      'checkov.io/skip1': 'CKV_K8S_22=the server writes its cache under /app',
      'checkov.io/skip2': 'CKV2_K8S_6=selected by the letta-server NetworkPolicy',
    });
    expect(skipAnnotationProblems([manifest])).toEqual([]);
  });

  it('GIVEN a kube-linter skip without a reason WHEN checked THEN it is a finding', () => {
    const problems = skipAnnotationProblems([deployment({ 'ignore-check.kube-linter.io/latest-tag': ' ' })]);
    expect(formatFindings(problems)).toEqual(['ignore-check.kube-linter.io/latest-tag  Deployment letta/web  gives no reason']);
  });

  it('GIVEN a checkov skip without "=reason" or with an empty one WHEN checked THEN each is a finding', () => {
    const problems = skipAnnotationProblems([deployment({ 'checkov.io/skip1': 'CKV_K8S_40', 'checkov.io/skip2': 'CKV_K8S_43=' })]);
    expect(problems.map((problem) => [problem.check, problem.message])).toEqual([
      ['checkov.io/skip1', 'value "CKV_K8S_40" is not CKV_K8S_<id>=<reason>'],
      ['checkov.io/skip2', 'gives no reason'],
    ]);
  });

  it('GIVEN a reason over several lines WHEN checked THEN it is a finding', () => {
    const problems = skipAnnotationProblems([deployment({ 'checkov.io/skip1': 'CKV_K8S_22=first line\nsecond line' })]);
    expect(problems.map((problem) => problem.message)).toEqual(['reason spans several lines; keep it to one']);
  });

  it('GIVEN kube-linter.io/ignore-all WHEN checked THEN it is a finding, whatever its value says', () => {
    const problems = skipAnnotationProblems([deployment({ 'kube-linter.io/ignore-all': 'legacy workload' })]);
    expect(problems.map((problem) => problem.check)).toEqual(['kube-linter.io/ignore-all']);
  });

  it('GIVEN a skip on the pod template WHEN checked THEN it is a finding, since the linters read only the object', () => {
    const problems = skipAnnotationProblems([deployment({}, { 'checkov.io/skip1': 'CKV_K8S_22=writes /app' })]);
    expect(problems.map((problem) => problem.message)).toEqual([
      "is on the pod template, where the linters ignore it; put it on the Deployment's own metadata",
    ]);
  });

  it('GIVEN every exception in lib/lint-exceptions.ts WHEN turned into annotations THEN each names one check and a reason', () => {
    for (const component of Object.keys(LINT_EXCEPTIONS) as Array<keyof typeof LINT_EXCEPTIONS>) {
      const annotations = lintSkipAnnotations(component, ['example/image:1.0']);
      expect(skipAnnotationProblems([deployment(annotations)]), component).toEqual([]);
    }
  });

  it('GIVEN images pinned by digest WHEN the annotations are made THEN the tag-pinning exception is left out', () => {
    const digest = `sha256:${'0'.repeat(64)}`;
    expect(Object.values(lintSkipAnnotations('redis', [`redis:7.4.2-alpine@${digest}`]))).toEqual([]);
    expect(Object.values(lintSkipAnnotations('redis', ['redis:7.4.2-alpine']))).toEqual([
      'CKV_K8S_43=image pinned to an exact release tag; give the image setting as name:tag@sha256:<digest> to pin its digest',
    ]);
  });
});

describe('linter reports', () => {
  it('GIVEN a kube-linter JSON report WHEN parsed THEN each report is a finding naming check and object', () => {
    const report = {
      Checks: [],
      Reports: [
        {
          Diagnostic: { Message: 'container "vllm" does not have a read-only root file system' },
          Check: 'no-read-only-root-fs',
          Remediation: 'Set readOnlyRootFilesystem to true in the container securityContext.',
          Object: {
            Metadata: { FilePath: '/dist/vllm.k8s.yaml' },
            K8sObject: { Namespace: 'letta', Name: 'vllm', GroupVersionKind: { Group: 'apps', Version: 'v1', Kind: 'Deployment' } },
          },
        },
      ],
      Summary: { ChecksStatus: 'Failed' },
    };
    expect(parseKubeLinterReport(report)).toEqual([
      {
        source: 'kube-linter',
        check: 'no-read-only-root-fs',
        object: 'Deployment letta/vllm',
        message:
          'container "vllm" does not have a read-only root file system (fix: Set readOnlyRootFilesystem to true in the container securityContext.)',
      },
    ]);
  });

  it('GIVEN a clean kube-linter report ("Reports": null) WHEN parsed THEN there is no finding', () => {
    expect(parseKubeLinterReport({ Checks: [], Reports: null, Summary: { ChecksStatus: 'Passed' } })).toEqual([]);
  });

  it('GIVEN a checkov JSON report WHEN parsed THEN failed checks and parse errors are findings', () => {
    const report = {
      check_type: 'kubernetes',
      results: {
        passed_checks: [],
        skipped_checks: [],
        failed_checks: [
          { check_id: 'CKV_K8S_43', check_name: 'Image should use digest', resource: 'StatefulSet.letta.database', file_path: '/database.k8s.yaml' },
          { check_id: 'CKV_K8S_21', check_name: 'The default namespace should not be used', resource: 'ClusterRole.default.reader', file_path: '/rbac.k8s.yaml' },
        ],
        parsing_errors: ['/dist/broken.k8s.yaml'],
      },
      summary: { passed: 0, failed: 1, skipped: 0, parsing_errors: 1, resource_count: 1 },
    };
    expect(parseCheckovReport(report).map((finding) => [finding.check, finding.object, finding.message])).toEqual([
      ['parsing-error', 'broken.k8s.yaml', 'checkov could not parse this file, so none of its objects were checked'],
      ['CKV_K8S_43', 'StatefulSet letta/database', 'Image should use digest'],
      ['CKV_K8S_21', 'ClusterRole default/reader', 'The default namespace should not be used'],
    ]);
  });

  it('GIVEN checkov found no Kubernetes object WHEN its bare summary is parsed THEN it fails rather than passing silently', () => {
    expect(() => parseCheckovReport({ passed: 0, failed: 0, skipped: 0, parsing_errors: 0, resource_count: 0 })).toThrow(
      /found no Kubernetes objects/,
    );
  });
});

// Each linter is a suite of its own so that a missing one is reported by name (and, under
// LETTA_K8S_REQUIRE_ALL=1, fails the run); the other still runs.
const runnable: Linter[] = Object.values(pinnedLinters()).filter((linter) => available(`lint-manifests: ${linter.name}`, missingReason(linter), linter.name));

describe.each(PROFILES)('the rendered %s profile', (profile) => {
  let rendered: ReturnType<typeof renderProfile>;
  beforeAll(() => {
    rendered = renderProfile(profile);
  }, LINTER_TIMEOUT_MS);

  it('GIVEN its manifests WHEN their skip annotations are checked THEN each names one check and gives a reason', () => {
    expect(formatFindings(skipAnnotationProblems(rendered.documents))).toEqual([]);
  });

  for (const linter of runnable) {
    it(
      `GIVEN its manifests WHEN ${linter.name} ${linter.version} runs THEN it reports no finding`,
      () => {
        expect(formatFindings(runLinter(linter, rendered.dir))).toEqual([]);
      },
      LINTER_TIMEOUT_MS,
    );
  }
});
