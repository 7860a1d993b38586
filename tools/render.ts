import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import type { KubeObject } from './kube';
import { loadSettings, PROFILE_NAMES, ProfileName } from '../lib/config/load';
import { synthesizeStack, temporaryOutdir } from '../lib/app/synth';

export const PROFILES: readonly ProfileName[] = PROFILE_NAMES;
export type { ProfileName };

export interface RenderedProfile {
  readonly profile: string;
  /** Directory holding the *.k8s.yaml files, as `npx cdk8s synth` writes dist/. */
  readonly dir: string;
  /** Absolute file paths in the order `kubectl apply -f dir` reads them. */
  readonly files: string[];
  /** Every object, in apply order. */
  readonly documents: KubeObject[];
}

const cache = new Map<string, RenderedProfile>();

let processRoot: string | undefined;

/**
 * Renderings go into the test run's folder (test/support/global-setup.ts), removed at its end;
 * outside a test run (the linters, the bench), into one folder of this process, removed when it exits.
 */
function renderRoot(): string {
  if (process.env.LETTA_K8S_TEST_TMP) return process.env.LETTA_K8S_TEST_TMP;
  if (!processRoot) {
    const root = (processRoot = temporaryOutdir('letta-k8s-render-'));
    process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  }
  return processRoot;
}

/** Synthesizes a profile (with optional values merged over it) into a temporary directory. */
export function renderProfile(profile: string, values?: unknown): RenderedProfile {
  const key = `${profile}:${JSON.stringify(values ?? null)}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const settings = loadSettings({ profile, values });
  const dir = fs.mkdtempSync(path.join(renderRoot(), `${profile}-`));
  const files = synthesizeStack(settings, dir).map((file) => path.join(dir, file));
  const rendered = { profile, dir, files, documents: loadManifests(files) };
  cache.set(key, rendered);
  return rendered;
}

/**
 * The objects of manifest files in `kubectl apply -f` order: files as given, documents in file
 * order, empty documents skipped. js-yaml rejects duplicate keys, as strict field validation would.
 */
export function loadManifests(files: readonly string[]): KubeObject[] {
  return files.flatMap((file) =>
    yaml.loadAll(fs.readFileSync(file, 'utf8'), undefined, { filename: file }).filter((doc): doc is KubeObject => doc != null),
  );
}

/** The one object of a kind and name; throws when it is absent. */
export function findObject(documents: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = documents.find((doc) => doc.kind === kind && doc.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${documents.map((d) => `${d.kind}/${d.metadata.name}`).join(', ')}`);
  return found;
}
