/**
 * `npm run e2e:local [-- --profile gpu] [--keep]` and `npm run e2e:kind [-- ...]`: the e2e
 * project of the profile (e2e-kind or e2e-gpu), run by vitest with LETTA_K8S_E2E set to this
 * machine's flavour (local: builds what is missing; github: pulls it). --keep leaves the cluster
 * running (E2E_KEEP_CLUSTER=1); any other argument goes to vitest.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const [flavour, ...args] = process.argv.slice(2);
let profile: string | undefined = 'kind';
let keep = false;
const rest: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--keep') keep = true;
  else if (args[i] === '--profile') profile = args[++i];
  else if (args[i].startsWith('--profile=')) profile = args[i].slice('--profile='.length);
  else rest.push(args[i]);
}
if (profile !== 'kind' && profile !== 'gpu') {
  console.error(`--profile: ${profile === undefined ? 'needs a value' : `unknown profile "${profile}"`}; one of kind, gpu`);
  process.exit(2);
}
const env = { ...process.env, LETTA_K8S_E2E: flavour, ...(keep ? { E2E_KEEP_CLUSTER: '1' } : {}) };
const vitest = spawn(join(__dirname, '..', '..', 'node_modules', '.bin', 'vitest'), ['run', '--project', `e2e-${profile}`, ...rest], { stdio: 'inherit', env });
// Passed on, so that vitest deletes the cluster (test/e2e/setup.ts) before this process ends.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => vitest.kill(signal));
vitest.on('exit', (code) => (process.exitCode = code ?? 130));
