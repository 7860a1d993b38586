/**
 * The third-party manifest linters that platform teams run before admitting manifests
 * (kube-linter, checkov, kube-score, trivy), run on a directory of rendered manifests, plus the check
 * that every skip annotation silencing them carries a reason. Used by lint-manifests.ts (the
 * `npm run lint:manifests` command) and test/lint-manifests.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { KUBE_SCORE_IGNORE, KUBE_SCORE_REASON_PREFIX, TRIVY_REASON_PREFIX } from '../lib/kit/lint-exceptions';
import { loadManifests } from './render';

export type LinterName = 'kube-linter' | 'checkov' | 'kube-score' | 'trivy';

export type Linter = PinnedTool<LinterName>;

/** One problem in the manifests: a linter's failed check or an unexplained skip annotation. */
export interface Finding {
  /** The linter's check id (kube-linter check name, checkov CKV_K8S_*, kube-score check id, trivy KSV-*), or the annotation key. */
  readonly check: string;
  /** "Kind namespace/name", or "Kind name" for cluster-scoped objects. */
  readonly object: string;
  readonly message: string;
}

const KUBE_LINTER_CONFIG = path.join(__dirname, 'kube-linter.yaml');
/** The build recipes, whose linter-versions.sh pins the linters. */
const BUILDS_DIR = path.join(__dirname, '..', 'builds');
const INSTALL_HINT = 'run builds/install-linters.sh';
// Reports of a whole profile are a few MiB of JSON (checkov lists every passed check too).
const MAX_OUTPUT = 256 * 1024 ** 2;

/*
 * kube-score's optional checks that fit a production stack: a seccomp profile on every container
 * and well-formed container ports. Left off: requests equal to limits (cpu, memory, both, and
 * ephemeral storage), since limits above requests are this stack's deliberate burst headroom.
 */
const KUBE_SCORE_OPTIONAL_CHECKS = ['container-seccomp-profile', 'container-ports-check'];
// The Kubernetes release cdk8s-plus-33 writes for; kube-score judges apiVersions against it.
const KUBE_SCORE_KUBERNETES_VERSION = 'v1.33';
// kube-score's grades: 1 CRITICAL, 5 WARNING, 7 and 10 OK; a skipped check carries 0.
const KUBE_SCORE_CRITICAL = 1;
const KUBE_SCORE_WARNING = 5;

/** A tool pinned in builds/linter-versions.sh. */
export interface PinnedTool<Name extends string = string> {
  readonly name: Name;
  readonly version: string;
  readonly bin: string;
}

/** Pinned tools by name, read from the variables <PREFIX>_VERSION and <PREFIX>_BIN of linter-versions.sh (one source of truth). */
export function pinnedTools<Name extends string>(prefixes: Readonly<Record<Name, string>>): Record<Name, PinnedTool<Name>> {
  const variables = Object.values<string>(prefixes).map((prefix) => `"$${prefix}_VERSION" "$${prefix}_BIN"`);
  const script = `source "$0/cache-dir.sh" && source "$0/linter-versions.sh" && printf "%s\\n" ${variables.join(' ')}`;
  const result = spawnSync('bash', ['-c', script, BUILDS_DIR], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`reading builds/linter-versions.sh failed: ${result.stderr}`);
  const lines = result.stdout.split('\n');
  const names = Object.keys(prefixes) as Name[];
  return Object.fromEntries(names.map((name, index) => [name, { name, version: lines[2 * index], bin: lines[2 * index + 1] }])) as Record<Name, PinnedTool<Name>>;
}

/** The pinned manifest linters and their install paths. */
export function pinnedLinters(): Readonly<Record<LinterName, Linter>> {
  return pinnedTools<LinterName>({ 'kube-linter': 'KUBE_LINTER', checkov: 'CHECKOV', 'kube-score': 'KUBE_SCORE', trivy: 'TRIVY' });
}

/** Why the pinned tool cannot run here, or undefined when it can. */
export function missingReason(tool: PinnedTool): string | undefined {
  try {
    fs.accessSync(tool.bin, fs.constants.X_OK);
    return undefined;
  } catch {
    return `${tool.name} ${tool.version} is not installed (expected at ${tool.bin}); ${INSTALL_HINT}`;
  }
}

/** Runs a pinned linter on the manifests in `dir`. */
export function runLinter(linter: Linter, dir: string): Finding[] {
  switch (linter.name) {
    case 'kube-linter':
      // kube-linter exits 1 both on findings and on errors: only the JSON report tells them apart.
      return parseKubeLinterReport(runJson(linter, ['lint', '--config', KUBE_LINTER_CONFIG, '--format', 'json', dir], [0, 1]));
    case 'checkov':
      // --skip-download: checkov otherwise asks its vendor's platform for extra policies and guidelines.
      return parseCheckovReport(runJson(linter, ['--framework', 'kubernetes', '--directory', dir, '--output', 'json', '--skip-download'], [0, 1]));
    case 'kube-score':
      return runKubeScore(linter, dir);
    case 'trivy':
      return runTrivy(linter, dir);
  }
}

/** The manifest files of a directory, in the order `kubectl apply -f` reads them. */
function manifestFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /\.ya?ml$/.test(file))
    .sort()
    .map((file) => path.join(dir, file));
}

function runKubeScore(linter: Linter, dir: string): Finding[] {
  // All files in one run: checks such as service-targets-pod and pod-networkpolicy look across objects.
  const optional = KUBE_SCORE_OPTIONAL_CHECKS.flatMap((check) => ['--enable-optional-test', check]);
  const args = ['score', '--output-format', 'json', '--kubernetes-version', KUBE_SCORE_KUBERNETES_VERSION, ...optional, ...manifestFiles(dir)];
  // kube-score exits 1 when any check is CRITICAL and 0 otherwise (warnings included).
  return parseKubeScoreReport(runJson(linter, args, [0, 1]));
}

/**
 * Trivy reports by file, and a file of dist/ holds several objects; so each object is scanned as
 * a file of its own, whose name says which object it is. The checks are the ones compiled into
 * the binary (--skip-check-update: no download), so the scan runs offline.
 */
function runTrivy(linter: Linter, dir: string): Finding[] {
  const scan = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-trivy-'));
  try {
    const objects = new Map(loadManifests(manifestFiles(dir)).map((object, index) => [`${String(index).padStart(4, '0')}.yaml`, object as Manifest]));
    for (const [name, object] of objects) fs.writeFileSync(path.join(scan, name), yaml.dump(object));
    const args = ['config', '--quiet', '--skip-check-update', '--misconfig-scanners', 'kubernetes', '--cache-dir', path.join(scan, '.cache'), '--format', 'json', scan];
    return parseTrivyReport(runJson(linter, args, [0]), objects);
  } finally {
    fs.rmSync(scan, { recursive: true, force: true });
  }
}

interface TrivyReport {
  Results?: Array<{ Target: string; Misconfigurations?: Array<{ ID: string; Message: string; Severity: string; Status: string }> | null }> | null;
}

/**
 * Findings of a `trivy config --format json` report, given the object each scanned file holds:
 * every failed check the object does not except with an ignore-reason.trivy.letta-k8s.dev/<check>
 * annotation, and every such annotation whose check no longer fails there (a stale exception).
 */
export function parseTrivyReport(json: unknown, objects: ReadonlyMap<string, Manifest>): Finding[] {
  const report = json as TrivyReport;
  if (typeof report !== 'object' || report === null || !('Results' in report)) {
    throw new Error(`not a trivy report: ${JSON.stringify(json).slice(0, 500)}`);
  }
  const scanned = new Set((report.Results ?? []).map((result) => result.Target));
  // A file trivy did not list was not read as Kubernetes, which would pass silently.
  const unread = [...objects.keys()].filter((file) => !scanned.has(file));
  if (objects.size === 0 || unread.length > 0) {
    throw new Error(`trivy checked no Kubernetes object in ${unread.length > 0 ? unread.join(', ') : 'the manifests'}`);
  }
  const findings: Finding[] = [];
  for (const [file, object] of objects) {
    const where = describeObject(String(object.kind), object.metadata?.namespace, String(object.metadata?.name));
    const failed = (report.Results ?? [])
      .filter((result) => result.Target === file)
      .flatMap((result) => result.Misconfigurations ?? [])
      .filter((check) => check.Status === 'FAIL');
    const excepted = new Set(
      Object.keys(object.metadata?.annotations ?? {})
        .filter((key) => key.startsWith(TRIVY_REASON_PREFIX))
        .map((key) => key.slice(TRIVY_REASON_PREFIX.length)),
    );
    for (const check of failed) {
      if (!excepted.has(check.ID)) findings.push({ check: check.ID, object: where, message: `${check.Severity}: ${check.Message}` });
    }
    for (const check of excepted) {
      if (!failed.some((failure) => failure.ID === check)) {
        findings.push({ check: `${TRIVY_REASON_PREFIX}${check}`, object: where, message: `excepts ${check}, which trivy does not report here: remove the stale exception` });
      }
    }
  }
  return findings;
}

function runJson(linter: Linter, args: string[], okStatuses: number[]): unknown {
  const result = spawnSync(linter.bin, args, { encoding: 'utf8', maxBuffer: MAX_OUTPUT });
  const failure = `${linter.name} ${args.join(' ')}`;
  if (result.error) throw new Error(`${failure}: ${result.error.message}`);
  if (!okStatuses.includes(result.status ?? -1)) {
    throw new Error(`${failure} exited with ${result.status ?? result.signal}:\n${result.stderr}`);
  }
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`${failure} printed no JSON report:\n${result.stderr}\n${result.stdout.slice(0, 2000)}`);
  }
}

type KubeObjectOfKubeLinter = { K8sObject: { Namespace: string; Name: string; GroupVersionKind: { Kind: string } } };
interface KubeLinterReport {
  Reports: Array<{ Check: string; Diagnostic: { Message: string }; Remediation?: string; Object: KubeObjectOfKubeLinter }> | null;
}

/** Findings of a `kube-linter lint --format json` report. */
export function parseKubeLinterReport(json: unknown): Finding[] {
  const report = json as KubeLinterReport;
  if (typeof report !== 'object' || report === null || !('Reports' in report)) {
    throw new Error(`not a kube-linter report: ${JSON.stringify(json).slice(0, 500)}`);
  }
  // An empty report has "Reports": null.
  return (report.Reports ?? []).map(({ Check, Diagnostic, Remediation, Object: { K8sObject: object } }) => ({
    check: Check,
    object: describeObject(object.GroupVersionKind.Kind, object.Namespace, object.Name),
    message: Diagnostic.Message + (Remediation ? ` (fix: ${Remediation})` : ''),
  }));
}

interface CheckovReport {
  check_type: string;
  results: { failed_checks: Array<{ check_id: string; check_name: string; resource: string }>; parsing_errors: string[] };
}

/** Findings of a `checkov --framework kubernetes --output json` report. */
export function parseCheckovReport(json: unknown): Finding[] {
  // One framework prints one report object; several print an array of them.
  const reports = (Array.isArray(json) ? json : [json]) as Array<Partial<CheckovReport>>;
  const report = reports.find((candidate) => candidate.check_type === 'kubernetes');
  if (!report?.results) {
    // Checkov prints a bare summary when it found nothing to check, which would pass silently.
    throw new Error(`checkov found no Kubernetes objects to check: ${JSON.stringify(json).slice(0, 500)}`);
  }
  const message = 'checkov could not parse this file, so none of its objects were checked';
  return [
    ...report.results.parsing_errors.map((file): Finding => ({ check: 'parsing-error', object: path.basename(file), message })),
    ...report.results.failed_checks.map((check): Finding => ({ check: check.check_id, object: describeCheckovResource(check.resource), message: check.check_name })),
  ];
}

interface KubeScoreReport {
  type_meta: { kind: string };
  object_meta: { name: string; namespace?: string };
  checks: Array<{ check: { id: string; name: string }; grade: number; skipped: boolean; comments: Array<{ path: string; summary: string }> | null }>;
}

/** Findings of a `kube-score score --output-format json` report: every check graded WARNING or CRITICAL. */
export function parseKubeScoreReport(json: unknown): Finding[] {
  if (!Array.isArray(json)) throw new Error(`not a kube-score report: ${JSON.stringify(json).slice(0, 500)}`);
  // An empty list means kube-score read no object, which would pass silently.
  if (json.length === 0) throw new Error('kube-score found no Kubernetes objects to score');
  return (json as KubeScoreReport[]).flatMap((scored) =>
    scored.checks
      .filter((result) => !result.skipped && result.grade <= KUBE_SCORE_WARNING)
      .map((result): Finding => {
        const details = (result.comments ?? []).map((comment) => (comment.path ? `(${comment.path}) ${comment.summary}` : comment.summary));
        return {
          check: result.check.id,
          object: describeObject(scored.type_meta.kind, scored.object_meta.namespace, scored.object_meta.name),
          message: `${result.grade <= KUBE_SCORE_CRITICAL ? 'CRITICAL' : 'WARNING'}: ${details.length > 0 ? details.join('; ') : result.check.name}`,
        };
      }),
  );
}

/** Checkov names a resource "Kind.namespace.name" ("Kind.name" when cluster-scoped); names may hold dots. */
function describeCheckovResource(resource: string): string {
  const [kind, ...rest] = resource.split('.');
  if (rest.length < 2) return describeObject(kind, '', rest.join('.'));
  // Namespaces hold no dots, so the first part after the kind is the namespace.
  return describeObject(kind, rest[0], rest.slice(1).join('.'));
}

function describeObject(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind} ${namespace}/${name}` : `${kind} ${name}`;
}

const KUBE_LINTER_IGNORE = /^ignore-check\.kube-linter\.io\/(.+)$/;
const KUBE_LINTER_IGNORE_ALL = 'kube-linter.io/ignore-all';
const CHECKOV_SKIP_KEY = /^checkov\.io\/skip\d+$/;
const CHECKOV_SKIP_VALUE = /^(CKV2?_K8S_\d+)=(.*)$/s;

type Manifest = Record<string, any>;

/**
 * Skip annotations that do not explain themselves: every silenced check must name one check and
 * give a one-line reason, on the object the linters read (not its pod template). kube-score's
 * kube-score/ignore has no room for a reason, so each check it lists needs its own
 * ignore-reason.kube-score.letta-k8s.dev/<check> annotation beside it.
 */
export function skipAnnotationProblems(documents: readonly Manifest[]): Finding[] {
  return documents.flatMap((document) => {
    const object = describeObject(String(document.kind), document.metadata?.namespace, String(document.metadata?.name));
    const annotations = Object.fromEntries(
      Object.entries<unknown>(document.metadata?.annotations ?? {}).map(([key, value]) => [key, String(value)]),
    );
    const own = Object.entries(annotations).flatMap(([key, value]) =>
      ownAnnotationProblems(key, value, annotations).map((message): Finding => ({ check: key, object, message })),
    );
    // kube-linter and checkov read only the object's own metadata, kube-score reads the template's
    // for its pod checks only: on the pod template a skip does nothing or only part of its job.
    const onTemplate = Object.keys(document.spec?.template?.metadata?.annotations ?? {})
      .filter(isSkipAnnotation)
      .map((key): Finding => ({ check: key, object, message: `is on the pod template, which the linters ignore or read only in part; put it on the ${document.kind}'s own metadata` }));
    return [...own, ...onTemplate];
  });
}

function isSkipAnnotation(key: string): boolean {
  return [KUBE_LINTER_IGNORE, CHECKOV_SKIP_KEY].some((pattern) => pattern.test(key)) || [KUBE_LINTER_IGNORE_ALL, KUBE_SCORE_IGNORE].includes(key) ||
    [KUBE_SCORE_REASON_PREFIX, TRIVY_REASON_PREFIX].some((prefix) => key.startsWith(prefix));
}

function ownAnnotationProblems(key: string, value: string, annotations: Readonly<Record<string, string>>): string[] {
  if (key === KUBE_LINTER_IGNORE_ALL) {
    return ['silences every kube-linter check; name each with ignore-check.kube-linter.io/<check>: "<reason>"'];
  }
  if (KUBE_LINTER_IGNORE.test(key)) return reasonProblems(value);
  if (CHECKOV_SKIP_KEY.test(key)) {
    const match = CHECKOV_SKIP_VALUE.exec(value);
    if (!match) return [`value "${value}" is not CKV_K8S_<id>=<reason>`];
    return reasonProblems(match[2]);
  }
  if (key === KUBE_SCORE_IGNORE) {
    return kubeScoreIgnored(value).flatMap((check) => {
      if (check === '') return ['lists an empty check id'];
      const reasonKey = `${KUBE_SCORE_REASON_PREFIX}${check}`;
      return annotations[reasonKey] === undefined ? [`ignores ${check} without a reason; add ${reasonKey}: "<reason>"`] : [];
    });
  }
  if (key.startsWith(KUBE_SCORE_REASON_PREFIX)) {
    const check = key.slice(KUBE_SCORE_REASON_PREFIX.length);
    // A reason for a check that is not ignored is stale, and misleads whoever reads it.
    if (!kubeScoreIgnored(annotations[KUBE_SCORE_IGNORE] ?? '').includes(check)) {
      return [`explains ${check}, which ${KUBE_SCORE_IGNORE} does not list`];
    }
    return reasonProblems(value);
  }
  if (key.startsWith(TRIVY_REASON_PREFIX)) return reasonProblems(value);
  return [];
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
