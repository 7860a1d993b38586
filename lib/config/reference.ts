import { z } from 'zod';
import { loadSettings, PROFILE_NAMES } from './load';
import { settingsSchema } from './schema';

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  required?: string[];
};

/** JSON Schema of a values file (for editors: `# yaml-language-server: $schema=...`). */
export function settingsJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(settingsSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'letta-k8s settings', description: 'A profile or values file of letta-k8s' };
}

/** The settings reference as Markdown: one row per setting, generated from the schema. */
export function settingsReference(): string {
  const profiles = PROFILE_NAMES.map((name) => ({ name, settings: loadSettings({ profile: name }) as unknown }));
  const rows: string[] = [];
  // What each profile gives the setting; nothing for the rows of whole objects.
  const inProfiles = (setting: SettingRow) =>
    profiles.map(({ settings }) => (setting.variant && valueAt(settings, setting.variant.keys) !== setting.variant.type ? '' : shown(valueAt(settings, setting.keys))));
  const blank = profiles.map(() => '');
  // `keys` leads to the setting in validated settings; `type` names the variant of a union it is in.
  const walk = (node: JsonSchema, keys: string[], label: string, variant?: { keys: string[]; type: unknown }) => {
    const variants = node.oneOf ?? node.anyOf;
    const setting = { label, keys, variant };
    if (node.properties) {
      if (label && node.description) rows.push(row(setting.label, 'object', undefined, blank, node.description));
      for (const [key, child] of Object.entries(node.properties)) walk(child, [...keys, key], label ? `${label}.${key}` : key, variant);
    } else if (variants && variants.every((option) => option.properties)) {
      rows.push(row(label, 'one of below, by `type`', node.default, inProfiles(setting), node.description ?? ''));
      for (const option of variants) {
        const type = option.properties?.type?.const;
        for (const [key, child] of Object.entries(option.properties ?? {})) {
          if (key !== 'type') walk(child, [...keys, key], `${label}.${key} (type: ${String(type)})`, { keys: [...keys, 'type'], type });
        }
      }
    } else {
      rows.push(row(label, typeOf(node), node.default, inProfiles(setting), node.description ?? ''));
    }
  };
  walk(settingsJsonSchema() as JsonSchema, [], '');
  return [
    '# Settings reference',
    '',
    '<!-- Generated from lib/config/schema.ts by `npm run docs`; a test fails when it is stale. -->',
    '',
    'Profiles (`lib/profiles/*.yaml`) and your values file (`LETTA_VALUES=my-values.yaml`) use these',
    'settings. A values file is merged over the profile like Helm values: maps merge key by key and',
    "lists replace; unlike Helm, `null` keeps the profile's value (as if the key were absent). Unknown",
    'keys are errors. Editors can validate a values file with `values.schema.json`.',
    '',
    "Default is the schema's default; the profile columns show what each profile gives (its YAML",
    'over those defaults), which is what a values file is merged over. Empty means unset.',
    '',
    `| Setting | Type | Default | ${PROFILE_NAMES.map((name) => `\`${name}\``).join(' | ')} | Description |`,
    `| --- | --- | --- | ${PROFILE_NAMES.map(() => '---').join(' | ')} | --- |`,
    ...rows,
    '',
  ].join('\n');
}

interface SettingRow {
  readonly label: string;
  readonly keys: string[];
  readonly variant?: { keys: string[]; type: unknown };
}

function row(label: string, type: string, value: unknown, profileCells: string[], description: string): string {
  return `| \`${label}\` | ${type} | ${shown(value)} | ${profileCells.join(' | ')} | ${description.replace(/\|/g, '\\|')} |`;
}

function shown(value: unknown): string {
  return value === undefined ? '' : `\`${JSON.stringify(value).replace(/\|/g, '\\|')}\``;
}

function valueAt(settings: unknown, keys: readonly string[]): unknown {
  return keys.reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined), settings);
}

function typeOf(node: JsonSchema): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' \\| ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'any'}`;
  if (node.type === 'object' && node.additionalProperties && typeof node.additionalProperties === 'object') {
    return `map of ${typeOf(node.additionalProperties)}`;
  }
  const variants = node.oneOf ?? node.anyOf;
  if (variants) return variants.map(typeOf).join(' \\| ');
  return Array.isArray(node.type) ? node.type.join(' \\| ') : node.type ?? 'any';
}
