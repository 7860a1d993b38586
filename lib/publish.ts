import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Replaces `target` with the manifests in `staging` in one rename, so that `target` always holds
 * one complete synthesis: the previous one until the new one has been fully written.
 */
export function publishManifests(staging: string, target: string): string[] {
  const files = fs.readdirSync(staging).filter((file) => file.endsWith('.k8s.yaml')).sort();
  const next = `${target}.next-${process.pid}`;
  const previous = `${target}.previous-${process.pid}`;
  fs.rmSync(next, { recursive: true, force: true });
  fs.mkdirSync(next, { recursive: true });
  for (const file of files) fs.copyFileSync(path.join(staging, file), path.join(next, file));
  const hadTarget = fs.existsSync(target);
  if (hadTarget) fs.renameSync(target, previous);
  fs.renameSync(next, target);
  if (hadTarget) fs.rmSync(previous, { recursive: true, force: true });
  return files;
}
