import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * One temporary folder for the whole test run, removed when it ends: the rendered profiles live
 * there (tools/render.ts), since suites hand their files to linters and API servers.
 */
export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-test-'));
  process.env.LETTA_K8S_TEST_TMP = dir;
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
