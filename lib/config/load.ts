import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { z } from 'zod';
import { projectRoot } from '../kit/project-file';
import { settingsSchema, Settings } from './schema';

export const PROFILE_NAMES = ['kind', 'gpu'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

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

/**
 * The key of a profile that marks it as one for a cluster on the user's own machine. Only such a
 * profile may use the publicly known development credentials; a values file cannot set it.
 */
const LOCAL_MARKER = 'local';

/** Reads the profile and the user's values, merges them and validates the result. */
export function loadSettings(options: LoadOptions = {}): Settings {
  const profileName = options.profile ?? 'kind';
  if (!(PROFILE_NAMES as readonly string[]).includes(profileName)) {
    throw new SettingsError('LETTA_PROFILE', [`LETTA_PROFILE: unknown profile "${profileName}"; choose one of ${PROFILE_NAMES.join(', ')}`]);
  }
  const { [LOCAL_MARKER]: local, ...profile } = readYaml(path.join(projectRoot(), 'lib', 'profiles', `${profileName}.yaml`)) as Record<string, unknown>;
  const layers: Array<{ source: string; values: unknown }> = [{ source: `profile ${profileName}`, values: profile }];
  if (options.valuesFile) layers.push({ source: options.valuesFile, values: readYaml(options.valuesFile) });
  if (options.values !== undefined) layers.push({ source: 'values', values: options.values });
  const sources = layers.map((layer) => layer.source).join(' + ');
  const markerProblems: string[] = [];
  for (const layer of layers.slice(1)) {
    if (!isPlainObject(layer.values) || !(LOCAL_MARKER in layer.values)) continue;
    markerProblems.push(`${LOCAL_MARKER}: can be set only by a profile (lib/profiles/*.yaml), not by values`);
    const { [LOCAL_MARKER]: _marker, ...values } = layer.values;
    layer.values = values;
  }

  // Checked before merging: merging a "__proto__" key would replace the merged map's prototype.
  const unsafeKeys = layers.flatMap((layer) => forbiddenKeys(layer.values));
  if (unsafeKeys.length > 0) throw new SettingsError(sources, unsafeKeys);

  const merged = layers.reduce<unknown>((acc, layer) => mergeValues(acc, layer.values), {});
  const result = settingsSchema.safeParse(merged, { error: missingSettingMessage });
  const problems = [
    ...markerProblems,
    ...(result.success ? [] : result.error.issues.flatMap(describeIssue)),
    ...developmentCredentialsProblem(merged, profileName, local === true),
  ];
  if (problems.length > 0 || !result.success) throw new SettingsError(sources, problems);
  return result.data;
}

/** The publicly known password is refused outside a profile marked local. */
function developmentCredentialsProblem(merged: unknown, profile: string, local: boolean): string[] {
  const credentials = (merged as { database?: { credentials?: { development?: unknown } } }).database?.credentials;
  if (local || credentials?.development !== true) return [];
  return [
    `database.credentials.development: must be false in the ${profile} profile: the development password is public, and only a profile marked "${LOCAL_MARKER}: true" (kind) may use it; create the Secret database.credentials.secretName instead`,
  ];
}

// Keys that reach an object's prototype when assigned; never settings.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** One problem per key anywhere in `values` that would reach a prototype. */
function forbiddenKeys(values: unknown, at: PropertyKey[] = []): string[] {
  if (Array.isArray(values)) return values.flatMap((item, index) => forbiddenKeys(item, [...at, index]));
  if (!isPlainObject(values)) return [];
  return Object.keys(values).flatMap((key) =>
    FORBIDDEN_KEYS.has(key) ? [`${formatPath([...at, key])}: is not a setting name (it would reach JavaScript's object prototype)`] : forbiddenKeys(values[key], [...at, key]),
  );
}

/**
 * Warnings for settings that are safe only on the user's own machine, when they are served under
 * a host name that is not a local one. Empty when there is nothing to warn about.
 */
export function laptopOnlyWarnings(settings: Settings): string[] {
  const host = settings.ingress.host;
  if (!settings.ingress.enabled || host === 'localhost' || host.endsWith('.localhost')) return [];
  return [
    ...(settings.letta.secure ? [] : [`letta.secure: false: no password auth; whoever reaches ${host} uses every agent and the provider keys`]),
    ...(settings.database.credentials.development ? ['database.credentials.development: true: the database password is the publicly known development one'] : []),
  ];
}

/** Settings from the environment: LETTA_PROFILE and LETTA_VALUES. */
export function loadSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return loadSettings({ profile: env.LETTA_PROFILE || undefined, valuesFile: env.LETTA_VALUES || undefined });
}

/** Far above any real values file; bounds what a wrong path (a log, a disk image) makes us read. */
const VALUES_FILE_MAX_BYTES = 1024 * 1024;

function readYaml(file: string): unknown {
  const text = readValuesText(file);
  try {
    return yaml.load(text, { filename: file }) ?? {};
  } catch (error) {
    throw new SettingsError(file, [`${file}: not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
}

/** The file's text: a regular file of at most VALUES_FILE_MAX_BYTES, in UTF-8. */
function readValuesText(file: string): string {
  const refuse = (reason: string) => new SettingsError(file, [`${file}: ${reason}`]);
  let fd: number;
  try {
    // Non-blocking, so that a FIFO opens at once (and is refused below) instead of waiting for a writer.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    throw refuse(`cannot read the file (${(error as NodeJS.ErrnoException).code})`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw refuse('is not a regular file');
    if (stat.size > VALUES_FILE_MAX_BYTES) throw refuse(`is ${stat.size} bytes; a values file may have at most ${VALUES_FILE_MAX_BYTES}`);
    const bytes = fs.readFileSync(fd);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw refuse('is not UTF-8 text');
    }
  } finally {
    fs.closeSync(fd);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Helm's merge: objects merge key by key and anything else (lists included) replaces. Unlike
 * Helm, null keeps the value below it (the profile's), as if the key were absent: removing the key
 * would bring back the schema's default, which neither profile uses (backup.enabled: null would
 * turn the gpu profile's backups off).
 */
export function mergeValues(base: unknown, override: unknown): unknown {
  if (override === null) return base;
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = mergeValues(merged[key], value);
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
