import { z } from 'zod';
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
  const rows: string[] = [];
  const walk = (node: JsonSchema, path: string) => {
    const variants = node.oneOf ?? node.anyOf;
    if (node.properties) {
      if (path && node.description) rows.push(row(path, 'object', undefined, node.description));
      for (const [key, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${key}` : key);
    } else if (variants && variants.every((variant) => variant.properties)) {
      rows.push(row(path, 'one of below, by `type`', node.default, node.description ?? ''));
      for (const variant of variants) {
        const type = variant.properties?.type?.const;
        for (const [key, child] of Object.entries(variant.properties ?? {})) {
          if (key !== 'type') walk(child, `${path}.${key} (type: ${String(type)})`);
        }
      }
    } else {
      rows.push(row(path, typeOf(node), node.default, node.description ?? ''));
    }
  };
  walk(settingsJsonSchema() as JsonSchema, '');
  return [
    '# Settings reference',
    '',
    '<!-- Generated from lib/config/schema.ts by `npm run docs`; a test fails when it is stale. -->',
    '',
    'Profiles (`lib/profiles/*.yaml`) and your values file (`LETTA_VALUES=my-values.yaml`) use these',
    'settings. A values file is merged over the profile like Helm values: maps merge key by key,',
    'lists replace, and `null` removes a key so that its default applies. Unknown keys are errors.',
    'Editors can validate a values file with `values.schema.json`.',
    '',
    '| Setting | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function row(path: string, type: string, value: unknown, description: string): string {
  const shown = value === undefined ? '' : `\`${JSON.stringify(value)}\``;
  return `| \`${path}\` | ${type} | ${shown} | ${description.replace(/\|/g, '\\|')} |`;
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
