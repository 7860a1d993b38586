import { beforeAll, describe, expect, it } from 'vitest';
import { COLLECTOR_CONFIG_EXCEPTIONS, exceptionAnnotations, LETTA_SCRIPTS_EXCEPTIONS, LINT_EXCEPTIONS, lintSkipAnnotations } from '../lib/kit/lint-exceptions';
import { VARIANTS } from '../tools/fixtures';
import { renderProfile } from '../tools/render';
import { available } from '../tools/requirements';
import {
  Linter,
  formatFindings,
  missingReason,
  parseCheckovReport,
  parseKubeLinterReport,
  parseKubeScoreReport,
  parseTrivyReport,
  pinnedLinters,
  runLinter,
  skipAnnotationProblems,
} from '../tools/linters';

// A linter run on a whole profile takes seconds (checkov starts a Python interpreter with hundreds
// of checks); this bounds a hung run, it asserts nothing about speed.
const LINTER_TIMEOUT_MS = 180_000;

const deployment = (annotations: Record<string, string>, templateAnnotations: Record<string, string> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'letta', annotations },
  spec: { template: { metadata: { annotations: templateAnnotations }, spec: { containers: [] } } },
});

describe('skip annotations', () => {
  it('GIVEN skips that each name one check and a reason WHEN checked THEN there is no finding', () => {
    const manifest = deployment({
      'ignore-check.kube-linter.io/no-read-only-root-fs': 'the server writes its cache under /app',
      'checkov.io/skip1': 'CKV_K8S_22=the server writes its cache under /app',
      'checkov.io/skip2': 'CKV2_K8S_6=selected by the letta-server NetworkPolicy',
      'kube-score/ignore': 'deployment-replicas, deployment-strategy',
      'ignore-reason.kube-score.letta-k8s.dev/deployment-replicas': 'one instance holds the locks',
      'ignore-reason.kube-score.letta-k8s.dev/deployment-strategy': 'a second instance would split the locks',
    });
    expect(skipAnnotationProblems([manifest])).toEqual([]);
  });

  const REASON = 'ignore-reason.kube-score.letta-k8s.dev/';
  const ON_TEMPLATE = "is on the pod template, which the linters ignore or read only in part; put it on the Deployment's own metadata";
  it.each<[string, Record<string, string>, Record<string, string>, string[]]>([
    ['a kube-linter skip without a reason', { 'ignore-check.kube-linter.io/latest-tag': ' ' }, {}, ['ignore-check.kube-linter.io/latest-tag: gives no reason']],
    [
      'a checkov skip without "=reason" or with an empty one',
      { 'checkov.io/skip1': 'CKV_K8S_40', 'checkov.io/skip2': 'CKV_K8S_43=' },
      {},
      ['checkov.io/skip1: value "CKV_K8S_40" is not CKV_K8S_<id>=<reason>', 'checkov.io/skip2: gives no reason'],
    ],
    [
      'a kube-score ignore whose checks lack a reason annotation',
      { 'kube-score/ignore': 'deployment-replicas,deployment-strategy,', [`${REASON}deployment-replicas`]: 'one instance holds the locks' },
      {},
      [`kube-score/ignore: ignores deployment-strategy without a reason; add ${REASON}deployment-strategy: "<reason>"`, 'kube-score/ignore: lists an empty check id'],
    ],
    [
      'a kube-score reason that is empty, or for a check not ignored',
      { 'kube-score/ignore': 'pod-probes', [`${REASON}pod-probes`]: '', [`${REASON}deployment-replicas`]: 'one instance holds the locks' },
      {},
      [`${REASON}pod-probes: gives no reason`, `${REASON}deployment-replicas: explains deployment-replicas, which kube-score/ignore does not list`],
    ],
    ['a reason over several lines', { 'checkov.io/skip1': 'CKV_K8S_22=first line\nsecond line' }, {}, ['checkov.io/skip1: reason spans several lines; keep it to one']],
    [
      'kube-linter.io/ignore-all, whatever its value says',
      { 'kube-linter.io/ignore-all': 'legacy workload' },
      {},
      ['kube-linter.io/ignore-all: silences every kube-linter check; name each with ignore-check.kube-linter.io/<check>: "<reason>"'],
    ],
    [
      'skips on the pod template (the linters read the object)',
      {},
      { 'checkov.io/skip1': 'CKV_K8S_22=writes /app', 'kube-score/ignore': 'pod-probes' },
      [`checkov.io/skip1: ${ON_TEMPLATE}`, `kube-score/ignore: ${ON_TEMPLATE}`],
    ],
    ['a trivy exception without a reason', { 'ignore-reason.trivy.letta-k8s.dev/KSV-0125': '' }, {}, ['ignore-reason.trivy.letta-k8s.dev/KSV-0125: gives no reason']],
  ])('GIVEN %s WHEN checked THEN each is a finding', (_case, annotations, templateAnnotations, expected) => {
    expect(skipAnnotationProblems([deployment(annotations, templateAnnotations)]).map((problem) => `${problem.check}: ${problem.message}`)).toEqual(expected);
  });

  it('GIVEN every exception in lib/kit/lint-exceptions.ts WHEN turned into annotations THEN each names one check and a reason', () => {
    for (const component of Object.keys(LINT_EXCEPTIONS) as Array<keyof typeof LINT_EXCEPTIONS>) {
      for (const replicas of [undefined, 1, 2]) {
        const annotations = lintSkipAnnotations(component, { images: ['example/image:1.0'], replicas });
        expect(skipAnnotationProblems([deployment(annotations)]), `${component} with ${replicas} replicas`).toEqual([]);
      }
    }
  });

  it('GIVEN the ConfigMap exceptions WHEN turned into annotations THEN each names one trivy check and a reason', () => {
    for (const exceptions of [COLLECTOR_CONFIG_EXCEPTIONS, LETTA_SCRIPTS_EXCEPTIONS]) {
      const annotations = exceptionAnnotations([exceptions]);
      expect(Object.keys(annotations).length).toBeGreaterThan(0);
      expect(skipAnnotationProblems([deployment(annotations)])).toEqual([]);
    }
  });

  it('GIVEN images from a Docker Hub repository, an official image or another registry WHEN the annotations are made THEN only the first gets the untrusted-registry exception', () => {
    const digest = `@sha256:${'0'.repeat(64)}`;
    const trivyChecks = (image: string) =>
      Object.keys(lintSkipAnnotations('telemetry', { images: [image + digest] })).filter((key) => key.startsWith('ignore-reason.trivy'));
    for (const image of ['otel/opentelemetry-collector-contrib:0.161.0', 'docker.io/otel/opentelemetry-collector-contrib:0.161.0']) {
      expect(trivyChecks(image), image).toEqual(['ignore-reason.trivy.letta-k8s.dev/KSV-0125']);
    }
    for (const image of ['redis:7.4.2-alpine', 'docker.io/library/redis:7.4.2-alpine', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/otel/collector:0.161.0', 'localhost:5000/otel/collector:0.161.0']) {
      expect(trivyChecks(image), image).toEqual([]);
    }
  });

  it('GIVEN images pinned by digest WHEN the annotations are made THEN the tag-pinning exception is left out', () => {
    const digest = `sha256:${'0'.repeat(64)}`;
    const checkovSkips = (image: string) =>
      Object.fromEntries(Object.entries(lintSkipAnnotations('database', { images: [image] })).filter(([key]) => key.startsWith('checkov')));
    expect(checkovSkips(`pgvector/pgvector:0.8.1-pg15@${digest}`)).toEqual({});
    expect(checkovSkips('pgvector/pgvector:0.8.1-pg15')).toEqual({
      'checkov.io/skip1': 'CKV_K8S_43=image pinned to an exact release tag; give the image setting as name:tag@sha256:<digest> to pin its digest',
    });
  });

  it('GIVEN kube-score exceptions WHEN the annotations are made THEN kube-score/ignore lists them and each has its reason beside it', () => {
    const annotations = lintSkipAnnotations('vllm', { images: [`vllm/vllm-openai:v0.33.0@sha256:${'0'.repeat(64)}`], replicas: 1 });
    const reasons = ['deployment-replicas', 'deployment-strategy'].map((check) => `ignore-reason.kube-score.letta-k8s.dev/${check}`);
    expect(Object.keys(annotations).filter((key) => key.includes('kube-score')).sort()).toEqual([...reasons, 'kube-score/ignore']);
    expect(annotations['kube-score/ignore']).toBe('deployment-replicas,deployment-strategy');
  });

  it('GIVEN Letta below two replicas WHEN the annotations are made THEN only then is the few-replicas check excepted', () => {
    const ignored = (replicas: number) => lintSkipAnnotations('letta', { images: ['letta/letta:0.16.8'], replicas })['kube-score/ignore'];
    expect(ignored(1)).toBe('deployment-replicas');
    expect(ignored(2)).toBeUndefined();
  });
});

describe('linter reports', () => {
  it('GIVEN a kube-score JSON report WHEN parsed THEN each WARNING or CRITICAL check is a finding, OK and skipped ones are not', () => {
    const check = (id: string, grade: number, comments: Array<{ path: string; summary: string }> | null = null, skipped = false) => ({ check: { id, name: `${id} name` }, grade, skipped, comments });
    const report = [
      {
        type_meta: { kind: 'Deployment', apiVersion: 'apps/v1' },
        object_meta: { name: 'letta-server', namespace: 'letta' },
        checks: [
          check('container-ephemeral-storage-request-and-limit', 1, [{ path: 'server', summary: 'limit is not set' }, { path: 'server', summary: 'request is not set' }]),
          check('deployment-replicas', 5),
          check('pod-probes', 10),
          check('container-resources', 7),
          check('deployment-strategy', 0, [{ path: '', summary: 'Skipped because deployment-strategy is ignored' }], true),
        ],
      },
      { type_meta: { kind: 'Namespace', apiVersion: 'v1' }, object_meta: { name: 'letta' }, checks: [check('label-values', 1, [{ path: '', summary: 'Invalid label value' }])] },
    ];
    expect(formatFindings(parseKubeScoreReport(report))).toEqual([
      'container-ephemeral-storage-request-and-limit  Deployment letta/letta-server  CRITICAL: (server) limit is not set; (server) request is not set',
      'deployment-replicas                            Deployment letta/letta-server  WARNING: deployment-replicas name',
      'label-values                                   Namespace letta                CRITICAL: Invalid label value',
    ]);
  });

  it('GIVEN kube-score scored no object WHEN its empty report is parsed THEN it fails rather than passing silently', () => {
    expect(() => parseKubeScoreReport([])).toThrow(/found no Kubernetes objects/);
  });

  it('GIVEN a kube-linter JSON report WHEN parsed THEN each report is a finding naming check and object', () => {
    const object = { Metadata: { FilePath: '/dist/vllm.k8s.yaml' }, K8sObject: { Namespace: 'letta', Name: 'vllm', GroupVersionKind: { Group: 'apps', Version: 'v1', Kind: 'Deployment' } } };
    const entry = { Diagnostic: { Message: 'container "vllm" has a writable root file system' }, Check: 'no-read-only-root-fs', Remediation: 'Set readOnlyRootFilesystem.', Object: object };
    expect(parseKubeLinterReport({ Checks: [], Reports: [entry], Summary: { ChecksStatus: 'Failed' } })).toEqual([
      { check: 'no-read-only-root-fs', object: 'Deployment letta/vllm', message: 'container "vllm" has a writable root file system (fix: Set readOnlyRootFilesystem.)' },
    ]);
  });

  it('GIVEN a clean kube-linter report ("Reports": null) WHEN parsed THEN there is no finding', () => {
    expect(parseKubeLinterReport({ Checks: [], Reports: null, Summary: { ChecksStatus: 'Passed' } })).toEqual([]);
  });

  it('GIVEN a checkov JSON report WHEN parsed THEN failed checks and parse errors are findings', () => {
    const failed = (check_id: string, check_name: string, resource: string) => ({ check_id, check_name, resource, file_path: '/dist/x.k8s.yaml' });
    const failed_checks = [failed('CKV_K8S_43', 'Image should use digest', 'StatefulSet.letta.database'), failed('CKV_K8S_21', 'The default namespace should not be used', 'ClusterRole.default.reader')];
    const report = { check_type: 'kubernetes', results: { passed_checks: [], skipped_checks: [], failed_checks, parsing_errors: ['/dist/broken.k8s.yaml'] }, summary: { failed: 2 } };
    expect(parseCheckovReport(report).map((finding) => [finding.check, finding.object, finding.message])).toEqual([
      ['parsing-error', 'broken.k8s.yaml', 'checkov could not parse this file, so none of its objects were checked'],
      ['CKV_K8S_43', 'StatefulSet letta/database', 'Image should use digest'],
      ['CKV_K8S_21', 'ClusterRole default/reader', 'The default namespace should not be used'],
    ]);
  });

  it('GIVEN checkov found no Kubernetes object WHEN its bare summary is parsed THEN it fails rather than passing silently', () => {
    expect(() => parseCheckovReport({ passed: 0, failed: 0, skipped: 0, parsing_errors: 0, resource_count: 0 })).toThrow(/found no Kubernetes objects/);
  });
});

describe('trivy reports', () => {
  const configMap = (annotations: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'scripts', namespace: 'letta', annotations } });
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'letta' } };
  const failed = (ID: string, Message: string) => ({ ID, Title: 'title', Message, Severity: 'HIGH', Status: 'FAIL' });
  const report = (results: Array<{ Target: string; Misconfigurations: unknown[] }>) => ({ SchemaVersion: 2, Results: results });

  it('GIVEN a failed check on one object and passes on another WHEN parsed THEN the failure is a finding naming that object', () => {
    const objects = new Map<string, Record<string, any>>([['0000.yaml', namespace], ['0001.yaml', configMap()]]);
    const passed = { ...failed('KSV-0109', 'x'), Status: 'PASS' };
    const findings = parseTrivyReport(report([{ Target: '0000.yaml', Misconfigurations: [passed] }, { Target: '0001.yaml', Misconfigurations: [failed('KSV-0109', "ConfigMap 'scripts' stores secrets")] }]), objects);
    expect(formatFindings(findings)).toEqual(["KSV-0109  ConfigMap letta/scripts  HIGH: ConfigMap 'scripts' stores secrets"]);
  });

  it('GIVEN the object excepts the failed check with a reason WHEN parsed THEN there is no finding', () => {
    const objects = new Map([['0000.yaml', configMap({ 'ignore-reason.trivy.letta-k8s.dev/KSV-0109': 'Python source, no credential' })]]);
    expect(parseTrivyReport(report([{ Target: '0000.yaml', Misconfigurations: [failed('KSV-0109', 'stores secrets')] }]), objects)).toEqual([]);
  });

  it('GIVEN an exception for a check that passes WHEN parsed THEN the stale exception is a finding', () => {
    const objects = new Map([['0000.yaml', configMap({ 'ignore-reason.trivy.letta-k8s.dev/KSV-0125': 'Docker Hub' })]]);
    const findings = parseTrivyReport(report([{ Target: '0000.yaml', Misconfigurations: [] }]), objects);
    expect(findings.map((finding) => [finding.check, finding.message])).toEqual([['ignore-reason.trivy.letta-k8s.dev/KSV-0125', 'excepts KSV-0125, which trivy does not report here: remove the stale exception']]);
  });

  it('GIVEN trivy did not read an object as Kubernetes WHEN parsed THEN it fails rather than passing silently', () => {
    const objects = new Map([['0000.yaml', namespace], ['0001.yaml', configMap()]]);
    expect(() => parseTrivyReport(report([{ Target: '0000.yaml', Misconfigurations: [] }]), objects)).toThrow(/trivy checked no Kubernetes object in 0001.yaml/);
    expect(() => parseTrivyReport({ SchemaVersion: 2 }, objects)).toThrow(/not a trivy report/);
  });
});

// Each linter's test exists whether or not the linter is installed, so the test count does not
// depend on the machine: a missing one is skipped, with its reason printed (and, under
// LETTA_K8S_REQUIRE_ALL=1, fails the run); the others still run.
const linters: Array<{ linter: Linter; runnable: boolean }> = Object.values(pinnedLinters()).map((linter) => ({
  linter,
  runnable: available(`lint-manifests: ${linter.name}`, missingReason(linter), linter.name),
}));

describe.each(VARIANTS)('the rendered $label', ({ profile, values }) => {
  let rendered: ReturnType<typeof renderProfile>;
  beforeAll(() => {
    rendered = renderProfile(profile, values);
  }, LINTER_TIMEOUT_MS);

  it('GIVEN its manifests WHEN their skip annotations are checked THEN each names one check and gives a reason', () => {
    expect(formatFindings(skipAnnotationProblems(rendered.documents))).toEqual([]);
  });

  for (const { linter, runnable } of linters) {
    it.skipIf(!runnable)(`GIVEN its manifests WHEN ${linter.name} ${linter.version} runs THEN it reports no finding`, { timeout: LINTER_TIMEOUT_MS }, () => {
      expect(formatFindings(runLinter(linter, rendered.dir))).toEqual([]);
    });
  }
});
