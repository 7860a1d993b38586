import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The repository's root: the nearest folder above this module that holds cdk8s.yaml. Found from
 * the module, not the working directory, so it holds in all three ways the code runs: from source
 * (tsx, vitest: lib/kit/) and from the launcher's bundle (node_modules/.cache/letta-k8s/).
 */
export function projectRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'cdk8s.yaml'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`letta-k8s: no cdk8s.yaml above ${__dirname}`);
  }
}

/** A file the stack ships (a chart's script), by its path from the repository root, read at synth time. */
export function readProjectFile(fromRoot: string): string {
  return fs.readFileSync(path.join(projectRoot(), fromRoot), 'utf8');
}
