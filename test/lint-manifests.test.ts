import { beforeAll, describe, expect, it } from 'vitest';
import { COLLECTOR_CONFIG_EXCEPTIONS, exceptionAnnotations, LETTA_SCRIPTS_EXCEPTIONS, LINT_EXCEPTIONS, lintSkipAnnotations } from '../lib/kit/lint-exceptions';
import { ComponentId } from '../lib/model/topology';
import { VARIANTS } from '../tools/fixtures';
import { renderProfile } from '../tools/render';
import { available } from '../tools/requirements';
import { formatFindings, missingReason, parseCheckovReport, parseKubeLinterReport, parseKubeScoreReport, parseTrivyReport, pinnedLinters, runLinter, skipAnnotationProblems } from '../tools/linters';

// A linter run on a whole profile takes seconds (checkov starts a Python interpreter with hundreds
// of checks); this bounds a hung run, it asserts nothing about speed.
const LINTER_TIMEOUT_MS = 180_000;
const DIGEST = '0'.repeat(64);

const deployment = (annotations: Record<string, string>, templateAnnotations: Record<string, string> = {}) =>
  ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'letta', annotations }, spec: { template: { metadata: { annotations: templateAnnotations } } } });
const findingLines = (findings: ReturnType<typeof skipAnnotationProblems>) => findings.map((finding) => `${finding.check}: ${finding.message}`);

describe('skip annotations', () => {
  const REASON = 'ignore-reason.kube-score.letta-k8s.dev/';
  const ON_TEMPLATE = "is on the pod template, which the linters ignore or read only in part; put it on the Deployment's own metadata";
  it.each<[string, ReturnType<typeof deployment>, string[]]>([
    [
      'skips that each name one check and a reason',
      deployment({
        'ignore-check.kube-linter.io/no-read-only-root-fs': 'the server writes its cache under /app',
        'checkov.io/skip1': 'CKV_K8S_22=the server writes its cache under /app',
        'checkov.io/skip2': 'CKV2_K8S_6=selected by the letta-server NetworkPolicy',
        'kube-score/ignore': 'deployment-replicas, deployment-strategy',
        [`${REASON}deployment-replicas`]: 'one instance holds the locks',
        [`${REASON}deployment-strategy`]: 'a second instance would split the locks',
      }),
      [],
    ],
    ['a kube-linter skip without a reason', deployment({ 'ignore-check.kube-linter.io/latest-tag': ' ' }), ['ignore-check.kube-linter.io/latest-tag: gives no reason']],
    [
      'a checkov skip without "=reason" or with an empty one',
      deployment({ 'checkov.io/skip1': 'CKV_K8S_40', 'checkov.io/skip2': 'CKV_K8S_43=' }),
      ['checkov.io/skip1: value "CKV_K8S_40" is not CKV_K8S_<id>=<reason>', 'checkov.io/skip2: gives no reason'],
    ],
    [
      'a kube-score ignore whose checks lack a reason annotation',
      deployment({ 'kube-score/ignore': 'deployment-replicas,deployment-strategy,', [`${REASON}deployment-replicas`]: 'one instance holds the locks' }),
      [`kube-score/ignore: ignores deployment-strategy without a reason; add ${REASON}deployment-strategy: "<reason>"`, 'kube-score/ignore: lists an empty check id'],
    ],
    [
      'a kube-score reason that is empty, or for a check not ignored',
      deployment({ 'kube-score/ignore': 'pod-probes', [`${REASON}pod-probes`]: '', [`${REASON}deployment-replicas`]: 'one instance holds the locks' }),
      [`${REASON}pod-probes: gives no reason`, `${REASON}deployment-replicas: explains deployment-replicas, which kube-score/ignore does not list`],
    ],
    ['a reason over several lines', deployment({ 'checkov.io/skip1': 'CKV_K8S_22=first line\nsecond line' }), ['checkov.io/skip1: reason spans several lines; keep it to one']],
    [
      'kube-linter.io/ignore-all, whatever its value says',
      deployment({ 'kube-linter.io/ignore-all': 'legacy workload' }),
      ['kube-linter.io/ignore-all: silences every kube-linter check; name each with ignore-check.kube-linter.io/<check>: "<reason>"'],
    ],
    [
      'skips on the pod template (the linters read the object)',
      deployment({}, { 'checkov.io/skip1': 'CKV_K8S_22=writes /app', 'kube-score/ignore': 'pod-probes' }),
      [`checkov.io/skip1: ${ON_TEMPLATE}`, `kube-score/ignore: ${ON_TEMPLATE}`],
    ],
    ['a trivy exception without a reason', deployment({ 'ignore-reason.trivy.letta-k8s.dev/KSV-0125': '' }), ['ignore-reason.trivy.letta-k8s.dev/KSV-0125: gives no reason']],
  ])('GIVEN %s WHEN checked THEN exactly the unexplained ones are findings', (_case, manifest, expected) => {
    expect(findingLines(skipAnnotationProblems([manifest]))).toEqual(expected);
  });

  it('GIVEN every exception in lib/kit/lint-exceptions.ts WHEN turned into annotations THEN each names one check and a reason', () => {
    // An image by tag from a Docker Hub repository, and Letta below two replicas, bring the exceptions that depend on them.
    const workloads = (Object.keys(LINT_EXCEPTIONS) as ComponentId[]).flatMap((component) =>
      [undefined, 1, 2].map((replicas) => [`${component} with ${replicas} replicas`, lintSkipAnnotations(component, { images: ['example/image:1.0'], replicas })] as const),
    );
    const configMaps = Object.entries({ COLLECTOR_CONFIG_EXCEPTIONS, LETTA_SCRIPTS_EXCEPTIONS }).map(([name, exceptions]) => [name, exceptionAnnotations([exceptions])] as const);
    for (const [name, annotations] of [...workloads, ...configMaps]) expect(findingLines(skipAnnotationProblems([deployment(annotations)])), name).toEqual([]);
  });

  // Checkov wants a digest; trivy trusts Docker Hub's official images, not its other repositories.
  it.each([
    ['pgvector/pgvector:0.8.1-pg15', ['CKV_K8S_43', 'KSV-0125']],
    ['pgvector/pgvector:0.8.1-pg15@sha256:<digest>', ['KSV-0125']],
    ['docker.io/otel/opentelemetry-collector-contrib:0.161.0@sha256:<digest>', ['KSV-0125']],
    ['redis:7.4.2-alpine@sha256:<digest>', []],
    ['docker.io/library/redis:7.4.2-alpine@sha256:<digest>', []],
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/otel/collector:0.161.0@sha256:<digest>', []],
    ['localhost:5000/otel/collector:0.161.0@sha256:<digest>', []],
  ])('GIVEN the image %s WHEN its annotations are made THEN they except exactly %j', (image, expected) => {
    // The database has no exception of its own: every annotation comes from the image.
    const annotations = lintSkipAnnotations('database', { images: [image.replace('<digest>', DIGEST)] });
    expect(Object.entries(annotations).map(([key, value]) => (key.startsWith('checkov.io/') ? value.split('=')[0] : key.split('/')[1]))).toEqual(expected);
  });

  it.each<[ComponentId, number, string | undefined]>([
    ['letta', 1, 'deployment-replicas'],
    ['letta', 2, undefined],
    ['vllm', 1, 'deployment-replicas,deployment-strategy'],
  ])('GIVEN %s with %i replica(s) WHEN the annotations are made THEN kube-score/ignore is %s', (component, replicas, ignored) => {
    expect(lintSkipAnnotations(component, { images: [`example/image:1.0@sha256:${DIGEST}`], replicas })['kube-score/ignore']).toBe(ignored);
  });
});

describe('linter reports', () => {
  it('GIVEN a kube-score JSON report WHEN parsed THEN each WARNING or CRITICAL check is a finding, OK and skipped ones are not', () => {
    const check = (id: string, grade: number, comments: Array<{ path: string; summary: string }> | null = null, skipped = false) => ({ check: { id, name: `${id} name` }, grade, skipped, comments });
    const report = [
      {
        type_meta: { kind: 'Deployment', apiVersion: 'apps/v1' }, object_meta: { name: 'letta-server', namespace: 'letta' },
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

  it('GIVEN a kube-linter JSON report WHEN parsed THEN each report is a finding naming check and object, and a clean one ("Reports": null) has none', () => {
    const object = { Metadata: { FilePath: '/dist/vllm.k8s.yaml' }, K8sObject: { Namespace: 'letta', Name: 'vllm', GroupVersionKind: { Group: 'apps', Version: 'v1', Kind: 'Deployment' } } };
    const entry = { Diagnostic: { Message: 'container "vllm" has a writable root file system' }, Check: 'no-read-only-root-fs', Remediation: 'Set readOnlyRootFilesystem.', Object: object };
    expect(parseKubeLinterReport({ Checks: [], Reports: [entry], Summary: { ChecksStatus: 'Failed' } })).toEqual([
      { check: 'no-read-only-root-fs', object: 'Deployment letta/vllm', message: 'container "vllm" has a writable root file system (fix: Set readOnlyRootFilesystem.)' },
    ]);
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

  const configMap = (name: string, annotations: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'letta', annotations } });
  const trivyCheck = (ID: string, Status = 'FAIL') => ({ ID, Title: 'title', Message: `${ID} message`, Severity: 'HIGH', Status });
  const trivyReport = (results: Record<string, unknown[]>) => ({ SchemaVersion: 2, Results: Object.entries(results).map(([Target, Misconfigurations]) => ({ Target, Misconfigurations })) });

  it('GIVEN objects that pass, fail a check, except a failed check, and except a passed one WHEN the trivy report is parsed THEN the failure and the stale exception are findings', () => {
    const objects = new Map<string, Record<string, any>>([
      ['0000.yaml', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'letta' } }],
      ['0001.yaml', configMap('failing')],
      ['0002.yaml', configMap('excepted', { 'ignore-reason.trivy.letta-k8s.dev/KSV-0109': 'Python source, no credential' })],
      ['0003.yaml', configMap('stale', { 'ignore-reason.trivy.letta-k8s.dev/KSV-0125': 'Docker Hub' })],
    ]);
    const report = trivyReport({ '0000.yaml': [trivyCheck('KSV-0109', 'PASS')], '0001.yaml': [trivyCheck('KSV-0109')], '0002.yaml': [trivyCheck('KSV-0109')], '0003.yaml': [] });
    expect(parseTrivyReport(report, objects).map((finding) => `${finding.check} on ${finding.object}: ${finding.message}`)).toEqual([
      'KSV-0109 on ConfigMap letta/failing: HIGH: KSV-0109 message',
      'ignore-reason.trivy.letta-k8s.dev/KSV-0125 on ConfigMap letta/stale: excepts KSV-0125, which trivy does not report here: remove the stale exception',
    ]);
  });

  const objects = new Map([['0000.yaml', configMap('first')], ['0001.yaml', configMap('second')]]);
  it.each<[string, () => unknown, RegExp]>([
    ['kube-score scored no object', () => parseKubeScoreReport([]), /kube-score's report names no checked Kubernetes object/],
    ['checkov printed its bare summary', () => parseCheckovReport({ passed: 0, failed: 0, skipped: 0, parsing_errors: 0, resource_count: 0 }), /checkov's report names no checked Kubernetes object/],
    ['kube-linter printed a report without "Reports"', () => parseKubeLinterReport({ Checks: [] }), /kube-linter's report names no checked Kubernetes object/],
    ['trivy printed a report without "Results"', () => parseTrivyReport({ SchemaVersion: 2 }, objects), /trivy's report names no checked Kubernetes object/],
    ['trivy did not read an object as Kubernetes', () => parseTrivyReport(trivyReport({ '0000.yaml': [] }), objects), /trivy checked no Kubernetes object in 0001.yaml/],
  ])('GIVEN %s WHEN the report is parsed THEN it fails rather than passing silently', (_case, parse, error) => {
    expect(parse).toThrow(error);
  });
});

// Each linter's test exists whether or not the linter is installed, so the test count does not depend on
// the machine: a missing one is skipped with its reason (under LETTA_K8S_REQUIRE_ALL=1, fails the run).
const linters = Object.values(pinnedLinters()).map((linter) => ({ linter, runnable: available(`lint-manifests: ${linter.name}`, missingReason(linter), linter.name) }));

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
      expect(formatFindings(runLinter(linter, rendered))).toEqual([]);
    });
  }
});
