import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { loadSettings, mergeValues } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import type { IngressTarget } from './http';
import type { KubeObject } from '../../tools/kube';
import type { Shell } from './shell';
import { type StepContext, synthesize } from './steps';
import { MINUTE } from '../../tools/support';

/*
 * What the variants after the main checks share: each reinstalls the stack with other settings
 * in the same namespace, then records its checks.
 */

export interface VariantOptions {
  readonly shell: Shell;
  readonly repoRoot: string;
  /** The run's own values file (a cluster without a registry, say), merged under the variant's. */
  readonly baseValuesFile?: string;
  /** How the host's ingress is reached from here. */
  readonly ingress: (host: string) => IngressTarget;
}

/** A variant's stack, synthesized and not yet applied. */
export interface VariantStack {
  /** The main run's context with the variant's settings and topology. */
  readonly context: StepContext;
  /** The synthesized dist/ and its objects. */
  readonly dir: string;
  readonly objects: KubeObject[];
  /** The values file it was synthesized from (with the profile), for other commands of the project. */
  readonly valuesFile: string;
}

/** Writes `values` merged over the run's own values file (if any) to `path`, and returns `path`. */
export function writeValuesOver(path: string, baseValuesFile: string | undefined, values: unknown): string {
  writeFileSync(path, dump(mergeValues(baseValuesFile ? load(readFileSync(baseValuesFile, 'utf8')) : {}, values)));
  return path;
}

/**
 * Synthesizes a profile with the variant's values over the run's own, after deleting the previous
 * variant's namespace, and hands the stack to `install`. The values file lives only meanwhile.
 */
export async function withVariantStack<T>(
  base: StepContext,
  options: VariantOptions & { readonly label: string; readonly profile: string; readonly values: unknown },
  install: (stack: VariantStack) => Promise<T>,
): Promise<T> {
  const work = mkdtempSync(join(tmpdir(), 'letta-e2e-variant-'));
  try {
    const valuesFile = writeValuesOver(join(work, 'values.yaml'), options.baseValuesFile, options.values);
    const settings = loadSettings({ profile: options.profile, valuesFile });
    const topology = new Topology(settings);
    base.log(`${options.label}: removing namespace ${topology.namespace} of the previous run`);
    // Workloads first, then the namespace: the namespace controller waits out the longest grace
    // period of the pods it finds (Letta's covers its drain), even when they exit at once.
    const namespace = ['--namespace', topology.namespace];
    await base.kubectl.check(['delete', 'deployments,statefulsets,daemonsets,cronjobs,jobs', '--all', ...namespace, '--wait=true', '--timeout=300s'], { timeoutMs: 6 * MINUTE });
    await base.kubectl.check(['wait', '--for=delete', 'pods', '--all', ...namespace, '--timeout=300s'], { timeoutMs: 6 * MINUTE });
    await base.kubectl.check(['delete', 'namespace', topology.namespace, '--wait=true', '--timeout=300s'], { timeoutMs: 6 * MINUTE });
    const { dir, objects } = await synthesize(options.shell, options.repoRoot, options.profile, valuesFile);
    return await install({ context: { ...base, settings, topology }, dir, objects, valuesFile });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** One check of the run: its name and what went wrong (nothing when it passed). */
export interface CheckResult {
  readonly name: string;
  readonly problems: readonly string[];
}

/** Collects a variant's checks: each runs, a thrown error counts as its problem, and each is logged. */
export function variantRecorder(log: (line: string) => void) {
  const results: CheckResult[] = [];
  const add = (result: CheckResult) => {
    results.push(result);
    log(result.problems.length === 0 ? `PASS ${result.name}` : `FAIL ${result.name}\n${result.problems.map((p) => `    ${p}`).join('\n')}`);
  };
  const record = async (name: string, run: () => Promise<string[]>) => {
    let problems: string[];
    try {
      problems = await run();
    } catch (error) {
      problems = [(error as Error).message];
    }
    add({ name, problems });
  };
  return { results, record, add };
}
