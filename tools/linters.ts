/**
 * The manifest linters that platform teams run before admitting manifests (kube-linter, checkov,
 * kube-score, trivy), and the check that every skip annotation silencing them carries a reason.
 * Used by `npm run lint:manifests` (lint-manifests.ts) and test/lint-manifests.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { KUBE_SCORE_IGNORE, KUBE_SCORE_REASON_PREFIX, TRIVY_REASON_PREFIX } from '../lib/kit/lint-exceptions';
import type { KubeObject } from './kube';
import type { RenderedProfile } from './render';

/** A tool pinned in builds/linter-versions.sh. */
interface PinnedTool<Name extends string = string> { readonly name: Name; readonly version: string; readonly bin: string }

/** The linters by name, with the prefix of their variables in linter-versions.sh. */
const LINTER_PREFIXES = { 'kube-linter': 'KUBE_LINTER', checkov: 'CHECKOV', 'kube-score': 'KUBE_SCORE', trivy: 'TRIVY' } as const;

export type Linter = PinnedTool<keyof typeof LINTER_PREFIXES>;

/** What a linter reads: the manifests' directory, its files in apply order and their objects. */
type Manifests = Pick<RenderedProfile, 'dir' | 'files' | 'documents'>;

/**
 * One problem in the manifests: a linter's failed check (`check`: its id, such as CKV_K8S_22 or KSV-0109)
 * or an unexplained skip annotation (`check`: its key), on `object` ("Kind namespace/name", or "Kind name").
 */
export interface Finding { readonly check: string; readonly object: string; readonly message: string }

const KUBE_LINTER_CONFIG = path.join(__dirname, 'kube-linter.yaml');
/** The build recipes, whose linter-versions.sh pins the linters. */
const BUILDS_DIR = path.join(__dirname, '..', 'builds');
// Reports of a whole profile are a few MiB of JSON (checkov lists every passed check too).
const MAX_OUTPUT = 256 * 1024 ** 2;

const KUBE_SCORE_ARGS = [
  'score', '--output-format', 'json',
  // The Kubernetes release cdk8s-plus-33 writes for; kube-score judges apiVersions against it.
  '--kubernetes-version', 'v1.33',
  // The optional checks that fit a production stack: a seccomp profile on every container and well-formed
  // container ports. Left off: requests equal to limits (cpu, memory, both, and ephemeral storage), since
  // limits above requests are this stack's deliberate burst headroom.
  '--enable-optional-test', 'container-seccomp-profile', '--enable-optional-test', 'container-ports-check',
];
// kube-score's grades: 1 CRITICAL, 5 WARNING, 7 and 10 OK; a skipped check carries 0.
const KUBE_SCORE_CRITICAL = 1;
const KUBE_SCORE_WARNING = 5;

/** Pinned tools by name, read from the variables <PREFIX>_VERSION and <PREFIX>_BIN of linter-versions.sh (one source of truth). */
export function pinnedTools<Name extends string>(prefixes: Readonly<Record<Name, string>>): Record<Name, PinnedTool<Name>> {
  const variables = Object.values<string>(prefixes).map((prefix) => `"$${prefix}_VERSION" "$${prefix}_BIN"`);
  const script = `source "$0/cache-dir.sh" && source "$0/linter-versions.sh" && printf "%s\\n" ${variables.join(' ')}`;
  const result = spawnSync('bash', ['-c', script, BUILDS_DIR], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`reading builds/linter-versions.sh failed: ${result.stderr}`);
  const lines = result.stdout.split('\n');
  return Object.fromEntries((Object.keys(prefixes) as Name[]).map((name, index) => [name, { name, version: lines[2 * index], bin: lines[2 * index + 1] }])) as Record<Name, PinnedTool<Name>>;
}

/** The pinned manifest linters and their install paths. */
export function pinnedLinters(): Readonly<Record<Linter['name'], Linter>> {
  return pinnedTools(LINTER_PREFIXES);
}

/** Why the pinned tool cannot run here, or undefined when it can. */
export function missingReason(tool: PinnedTool): string | undefined {
  try {
    fs.accessSync(tool.bin, fs.constants.X_OK);
    return undefined;
  } catch {
    return `${tool.name} ${tool.version} is not installed (expected at ${tool.bin}); run builds/install-linters.sh`;
  }
}

/** How each linter runs on the manifests and reads its JSON report. */
const RUNS: Readonly<Record<Linter['name'], (linter: Linter, manifests: Manifests) => Finding[]>> = {
  'kube-linter': (linter, { dir }) => parseKubeLinterReport(runJson(linter, ['lint', '--config', KUBE_LINTER_CONFIG, '--format', 'json', dir])),
  // --skip-download: checkov otherwise asks its vendor's platform for extra policies and guidelines.
  checkov: (linter, { dir }) => parseCheckovReport(runJson(linter, ['--framework', 'kubernetes', '--directory', dir, '--output', 'json', '--skip-download'])),
  // All files in one run: checks such as service-targets-pod and pod-networkpolicy look across objects.
  'kube-score': (linter, { files }) => parseKubeScoreReport(runJson(linter, [...KUBE_SCORE_ARGS, ...files])),
  trivy: runTrivy,
};

/** Runs a pinned linter on the manifests. */
export function runLinter(linter: Linter, manifests: Manifests): Finding[] {
  return RUNS[linter.name](linter, manifests);
}

/**
 * Trivy reports by file, and a file of dist/ holds several objects; so each object is scanned as
 * a file of its own, whose name says which object it is. The checks are the ones compiled into
 * the binary (--skip-check-update: no download), so the scan runs offline.
 */
function runTrivy(linter: Linter, { documents }: Manifests): Finding[] {
  const scan = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-trivy-'));
  try {
    const objects = new Map(documents.map((object, index) => [`${String(index).padStart(4, '0')}.yaml`, object]));
    for (const [name, object] of objects) fs.writeFileSync(path.join(scan, name), yaml.dump(object));
    const args = ['config', '--quiet', '--skip-check-update', '--misconfig-scanners', 'kubernetes', '--cache-dir', path.join(scan, '.cache'), '--format', 'json', scan];
    // Trivy exits 0 with findings too: any other status is an error.
    return parseTrivyReport(runJson(linter, args, [0]), objects);
  } finally {
    fs.rmSync(scan, { recursive: true, force: true });
  }
}

/**
 * A linter's JSON report. Exit status 1 means findings (for kube-score: a CRITICAL one), but
 * kube-linter exits 1 on errors too: only the report tells them apart.
 */
function runJson(linter: Linter, args: string[], okStatuses = [0, 1]): unknown {
  const result = spawnSync(linter.bin, args, { encoding: 'utf8', maxBuffer: MAX_OUTPUT });
  const failure = `${linter.name} ${args.join(' ')}`;
  if (result.error) throw new Error(`${failure}: ${result.error.message}`);
  if (!okStatuses.includes(result.status ?? -1)) throw new Error(`${failure} exited with ${result.status ?? result.signal}:\n${result.stderr}`);
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`${failure} printed no JSON report:\n${result.stderr}\n${result.stdout.slice(0, 2000)}`);
  }
}

/** What `read` finds in a linter's JSON report; throws when it finds nothing, since a report of another shape, or one that says no object was read, would otherwise pass silently. */
function readReport<Read>(linter: Linter['name'], json: unknown, read: (report: any) => Read | undefined): Read {
  const found = typeof json === 'object' && json !== null ? read(json) : undefined;
  if (found === undefined) throw new Error(`${linter}'s report names no checked Kubernetes object (it is empty, or of an unknown shape): ${JSON.stringify(json)?.slice(0, 500)}`);
  return found;
}

type KubeLinterReport = { Reports: Array<{ Check: string; Diagnostic: { Message: string }; Remediation?: string; Object: { K8sObject: { Namespace: string; Name: string; GroupVersionKind: { Kind: string } } } }> | null };
type CheckovReport = { check_type: string; results: { failed_checks: Array<{ check_id: string; check_name: string; resource: string }>; parsing_errors: string[] } };
type KubeScoreReport = { type_meta: { kind: string }; object_meta: { name: string; namespace?: string }; checks: Array<{ check: { id: string; name: string }; grade: number; skipped: boolean; comments: Array<{ path: string; summary: string }> | null }> };
type TrivyReport = { Results: Array<{ Target: string; Misconfigurations?: Array<{ ID: string; Message: string; Severity: string; Status: string }> | null }> | null };

/** Findings of a `kube-linter lint --format json` report. */
export function parseKubeLinterReport(json: unknown): Finding[] {
  // A clean report has "Reports": null.
  const reports = readReport('kube-linter', json, (report: KubeLinterReport) => ('Reports' in report ? report.Reports ?? [] : undefined));
  return reports.map(({ Check, Diagnostic, Remediation, Object: { K8sObject: object } }) => ({
    check: Check,
    object: describeObject(object.GroupVersionKind.Kind, object.Namespace, object.Name),
    message: Diagnostic.Message + (Remediation ? ` (fix: ${Remediation})` : ''),
  }));
}

/** Findings of a `checkov --framework kubernetes --output json` report. */
export function parseCheckovReport(json: unknown): Finding[] {
  // One framework prints one report object, several an array of them; with no object to check, a bare summary.
  const results = readReport('checkov', json, (report: CheckovReport | CheckovReport[]) => [report].flat().find((framework) => framework.check_type === 'kubernetes')?.results);
  const message = 'checkov could not parse this file, so none of its objects were checked';
  return [
    ...results.parsing_errors.map((file): Finding => ({ check: 'parsing-error', object: path.basename(file), message })),
    ...results.failed_checks.map((check): Finding => ({ check: check.check_id, object: describeCheckovResource(check.resource), message: check.check_name })),
  ];
}

/** Findings of a `kube-score score --output-format json` report: every check graded WARNING or CRITICAL. */
export function parseKubeScoreReport(json: unknown): Finding[] {
  // An empty list means kube-score read no object.
  const scored = readReport('kube-score', json, (report: KubeScoreReport[]) => (Array.isArray(report) && report.length > 0 ? report : undefined));
  return scored.flatMap(({ type_meta, object_meta, checks }) =>
    checks.filter((result) => !result.skipped && result.grade <= KUBE_SCORE_WARNING).map((result): Finding => {
      const details = (result.comments ?? []).map((comment) => (comment.path ? `(${comment.path}) ${comment.summary}` : comment.summary));
      const message = `${result.grade <= KUBE_SCORE_CRITICAL ? 'CRITICAL' : 'WARNING'}: ${details.length > 0 ? details.join('; ') : result.check.name}`;
      return { check: result.check.id, object: describeObject(type_meta.kind, object_meta.namespace, object_meta.name), message };
    }),
  );
}

/**
 * Findings of a `trivy config --format json` report, given the object each scanned file holds:
 * every failed check the object does not except with an ignore-reason.trivy.letta-k8s.dev/<check>
 * annotation, and every such annotation whose check no longer fails there (a stale exception).
 */
export function parseTrivyReport(json: unknown, objects: ReadonlyMap<string, KubeObject>): Finding[] {
  const results = readReport('trivy', json, (report: TrivyReport) => ('Results' in report ? report.Results ?? [] : undefined));
  // A file trivy did not list was not read as Kubernetes, which would pass silently.
  const unread = [...objects.keys()].filter((file) => !results.some((result) => result.Target === file));
  if (objects.size === 0 || unread.length > 0) throw new Error(`trivy checked no Kubernetes object in ${unread.join(', ') || 'the manifests'}`);
  return [...objects].flatMap(([file, object]) => {
    const where = describeManifest(object);
    const failed = results.flatMap((result) => (result.Target === file ? result.Misconfigurations ?? [] : [])).filter((check) => check.Status === 'FAIL');
    const excepted = Object.keys(object.metadata?.annotations ?? {}).filter((key) => key.startsWith(TRIVY_REASON_PREFIX)).map((key) => key.slice(TRIVY_REASON_PREFIX.length));
    return [
      ...failed.filter((check) => !excepted.includes(check.ID)).map((check): Finding => ({ check: check.ID, object: where, message: `${check.Severity}: ${check.Message}` })),
      ...excepted
        .filter((check) => !failed.some((failure) => failure.ID === check))
        .map((check): Finding => ({ check: `${TRIVY_REASON_PREFIX}${check}`, object: where, message: `excepts ${check}, which trivy does not report here: remove the stale exception` })),
    ];
  });
}

/** Checkov names a resource "Kind.namespace.name" ("Kind.name" when cluster-scoped); names may hold dots. */
function describeCheckovResource(resource: string): string {
  const [kind, ...rest] = resource.split('.');
  // Namespaces hold no dots, so the first part after the kind is the namespace.
  return rest.length < 2 ? describeObject(kind, '', rest.join('.')) : describeObject(kind, rest[0], rest.slice(1).join('.'));
}

function describeObject(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind} ${namespace}/${name}` : `${kind} ${name}`;
}

function describeManifest(object: KubeObject): string {
  return describeObject(String(object.kind), object.metadata?.namespace, String(object.metadata?.name));
}

/**
 * The skip annotations the linters read, each with what leaves it unexplained: every silenced check must
 * name one check and give a one-line reason. kube-score/ignore has no room for a reason, so each check it
 * lists needs its own ignore-reason.kube-score.letta-k8s.dev/<check> annotation beside it.
 */
const SKIP_ANNOTATIONS: ReadonlyArray<[matches: (key: string) => boolean, problems: (value: string, key: string, annotations: Readonly<Record<string, string>>) => string[]]> = [
  [(key) => key === 'kube-linter.io/ignore-all', () => ['silences every kube-linter check; name each with ignore-check.kube-linter.io/<check>: "<reason>"']],
  [(key) => /^ignore-check\.kube-linter\.io\/./.test(key), reasonProblems],
  // checkov's value names the check: "<id>=<reason>".
  [(key) => /^checkov\.io\/skip\d+$/.test(key), (value) => (/^CKV2?_K8S_\d+=/.test(value) ? reasonProblems(value.slice(value.indexOf('=') + 1)) : [`value "${value}" is not CKV_K8S_<id>=<reason>`])],
  [
    (key) => key === KUBE_SCORE_IGNORE,
    (value, _key, annotations) =>
      kubeScoreIgnored(value).flatMap((check) => {
        if (check === '') return ['lists an empty check id'];
        const reasonKey = `${KUBE_SCORE_REASON_PREFIX}${check}`;
        return annotations[reasonKey] === undefined ? [`ignores ${check} without a reason; add ${reasonKey}: "<reason>"`] : [];
      }),
  ],
  [
    (key) => key.startsWith(KUBE_SCORE_REASON_PREFIX),
    (value, key, annotations) => {
      const check = key.slice(KUBE_SCORE_REASON_PREFIX.length);
      // A reason for a check that is not ignored is stale, and misleads whoever reads it.
      const listed = kubeScoreIgnored(annotations[KUBE_SCORE_IGNORE] ?? '').includes(check);
      return listed ? reasonProblems(value) : [`explains ${check}, which ${KUBE_SCORE_IGNORE} does not list`];
    },
  ],
  [(key) => key.startsWith(TRIVY_REASON_PREFIX), reasonProblems],
];

/** Skip annotations that do not explain themselves, or that sit on the pod template instead of the object the linters read. */
export function skipAnnotationProblems(documents: readonly KubeObject[]): Finding[] {
  return documents.flatMap((document) => {
    const object = describeManifest(document);
    const annotations = Object.fromEntries(Object.entries<unknown>(document.metadata?.annotations ?? {}).map(([key, value]) => [key, String(value)]));
    const own = Object.entries(annotations).flatMap(([key, value]) =>
      (SKIP_ANNOTATIONS.find(([matches]) => matches(key))?.[1](value, key, annotations) ?? []).map((message): Finding => ({ check: key, object, message })),
    );
    // kube-linter and checkov read only the object's own metadata, kube-score reads the template's
    // for its pod checks only: on the pod template a skip does nothing or only part of its job.
    const onTemplate = Object.keys(document.spec?.template?.metadata?.annotations ?? {})
      .filter((key) => SKIP_ANNOTATIONS.some(([matches]) => matches(key)))
      .map((key): Finding => ({ check: key, object, message: `is on the pod template, which the linters ignore or read only in part; put it on the ${document.kind}'s own metadata` }));
    return [...own, ...onTemplate];
  });
}

/** The check ids of a kube-score/ignore value, as kube-score splits it. */
function kubeScoreIgnored(value: string): string[] {
  return value.split(',').map((check) => check.trim());
}

function reasonProblems(reason: string): string[] {
  if (reason.trim() === '') return ['gives no reason'];
  if (reason.includes('\n')) return ['reason spans several lines; keep it to one'];
  return [];
}

// Checkov names the pods it derives from a workload after the workload's labels, which can run
// to hundreds of characters; the start (kind, namespace, workload name) is what identifies them.
const MAX_OBJECT_WIDTH = 60;

/** Findings as aligned human-readable lines, sorted by object then check. */
export function formatFindings(findings: readonly Finding[]): string[] {
  const shorten = (object: string) => (object.length > MAX_OBJECT_WIDTH ? `${object.slice(0, MAX_OBJECT_WIDTH - 1)}…` : object);
  const sorted = [...findings].sort((a, b) => a.object.localeCompare(b.object) || a.check.localeCompare(b.check));
  const checkWidth = Math.max(0, ...sorted.map((finding) => finding.check.length));
  const objectWidth = Math.max(0, ...sorted.map((finding) => shorten(finding.object).length));
  return sorted.map((finding) => `${finding.check.padEnd(checkWidth)}  ${shorten(finding.object).padEnd(objectWidth)}  ${finding.message}`);
}
