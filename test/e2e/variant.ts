import { readFileSync, writeFileSync } from 'node:fs';
import { dump, load } from 'js-yaml';
import { loadSettings, mergeValues } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import type { KubeObject } from '../../tools/kube';
import { MINUTE } from '../../tools/support';
import type { Shell } from './shell';
import { type StepContext, synthesize } from './steps';

/*
 * What the variants after the main checks share: each reinstalls the stack with other settings
 * in the same namespace.
 */


/** A variant's stack, synthesized and not yet applied. */
export interface VariantStack {
  /** The main run's context with the variant's settings and topology. */
  readonly context: StepContext;
  /** The synthesized dist/ and its objects. */
  readonly dir: string;
  readonly objects: KubeObject[];
}

/** Writes `values` merged over the run's own values file (if any) to `path`, and returns `path`. */
export function writeValuesOver(path: string, baseValuesFile: string | undefined, values: unknown): string {
  writeFileSync(path, dump(mergeValues(baseValuesFile ? load(readFileSync(baseValuesFile, 'utf8')) : {}, values)));
  return path;
}

/**
 * Deletes the previous stack's namespace and synthesizes a profile with the values file `valuesFile`
 * (the variant's values over the run's own, written by writeValuesOver).
 */
export async function variantStack(base: StepContext, options: { shell: Shell; repoRoot: string; profile: string; valuesFile: string }): Promise<VariantStack> {
  const settings = loadSettings({ profile: options.profile, valuesFile: options.valuesFile });
  const topology = new Topology(settings);
  base.log(`removing namespace ${topology.namespace} of the previous stack`);
  // Workloads first, then the namespace: the namespace controller waits out the longest grace
  // period of the pods it finds (Letta's covers its drain), even when they exit at once.
  const namespace = ['--namespace', topology.namespace];
  await base.kubectl.check(['delete', 'deployments,statefulsets,daemonsets,cronjobs,jobs', '--all', ...namespace, '--wait=true', '--timeout=300s'], { timeoutMs: 6 * MINUTE });
  await base.kubectl.check(['wait', '--for=delete', 'pods', '--all', ...namespace, '--timeout=300s'], { timeoutMs: 6 * MINUTE });
  await base.kubectl.check(['delete', 'namespace', topology.namespace, '--wait=true', '--timeout=300s'], { timeoutMs: 6 * MINUTE });
  const { dir, objects } = await synthesize(options.shell, options.repoRoot, options.profile, options.valuesFile);
  return { context: { ...base, settings, topology }, dir, objects };
}
