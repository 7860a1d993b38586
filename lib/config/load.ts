import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { z } from 'zod';
import { settingsSchema, Settings } from './schema';

export const PROFILE_NAMES = ['kind', 'gpu'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** The project root: the directory with cdk8s.yaml, found upward (this file may run bundled). */
function projectRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'cdk8s.yaml'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`letta-k8s: no cdk8s.yaml above ${__dirname}`);
  }
}

/** Invalid settings: one line per problem, each naming the field and the reason. */
export class SettingsError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid settings (${source}):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

export interface LoadOptions {
  /** Built-in profile. @default "kind" */
  readonly profile?: string;
  /** Path of a values file merged over the profile, like Helm values. @default none */
  readonly valuesFile?: string;
  /** Values merged last, for tests and programmatic use. @default none */
  readonly values?: unknown;
}

/** Reads the profile and the user's values, merges them and validates the result. */
export function loadSettings(options: LoadOptions = {}): Settings {
  const profile = options.profile ?? 'kind';
  if (!(PROFILE_NAMES as readonly string[]).includes(profile)) {
    throw new SettingsError('LETTA_PROFILE', [`LETTA_PROFILE: unknown profile "${profile}"; choose one of ${PROFILE_NAMES.join(', ')}`]);
  }
  const layers: Array<{ source: string; values: unknown }> = [
    { source: `profile ${profile}`, values: readYaml(path.join(projectRoot(), 'lib', 'profiles', `${profile}.yaml`)) },
  ];
  if (options.valuesFile) layers.push({ source: options.valuesFile, values: readYaml(options.valuesFile) });
  if (options.values !== undefined) layers.push({ source: 'values', values: options.values });

  const merged = layers.reduce<unknown>((acc, layer) => mergeValues(acc, layer.values), {});
  const sources = layers.map((layer) => layer.source).join(' + ');
  const result = settingsSchema.safeParse(merged, { error: missingSettingMessage });
  if (!result.success) {
    throw new SettingsError(sources, result.error.issues.flatMap(describeIssue));
  }
  return result.data;
}

/** Settings from the environment: LETTA_PROFILE and LETTA_VALUES. */
export function loadSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return loadSettings({ profile: env.LETTA_PROFILE || undefined, valuesFile: env.LETTA_VALUES || undefined });
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SettingsError(file, [`${file}: cannot read the file (${(error as NodeJS.ErrnoException).code})`]);
  }
  try {
    return yaml.load(text, { filename: file }) ?? {};
  } catch (error) {
    throw new SettingsError(file, [`${file}: not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Helm's merge: objects merge key by key, anything else (lists included) replaces, and null
 * removes the key so that a default applies again.
 */
export function mergeValues(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete merged[key];
    else merged[key] = mergeValues(merged[key], value);
  }
  return merged;
}

/** A required setting left out says so, instead of zod's "expected string, received undefined". */
function missingSettingMessage(issue: z.core.$ZodRawIssue): string | undefined {
  return issue.code === 'invalid_type' && issue.input === undefined ? `is required (${issue.expected})` : undefined;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown setting (see SETTINGS.md)`);
  }
  return [`${formatPath(issue.path)}: ${issue.message}`];
}

function formatPath(segments: ReadonlyArray<PropertyKey>): string {
  if (segments.length === 0) return '(top level)';
  return segments
    .map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : `${index === 0 ? '' : '.'}${String(segment)}`))
    .join('');
}
