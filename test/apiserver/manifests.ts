import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import type { KubeObject } from './client';

/**
 * The objects of manifest files in `kubectl apply -f` order: files as given, documents in file
 * order, empty documents skipped. js-yaml rejects duplicate keys, as the API server's strict
 * field validation would.
 */
export function readManifests(files: readonly string[]): KubeObject[] {
  return files.flatMap((file) =>
    loadAll(readFileSync(file, 'utf8'), undefined, { filename: file }).filter(
      (document): document is KubeObject => document !== null && document !== undefined,
    ),
  );
}
