// npm run bench: what the app adds to `npx cdk8s synth`, as ratios measured in one run.
// Wall-clock times depend on the machine; the ratio to the CLI's own start-up does much less.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findControlPlaneBinaries, startControlPlane } from './apiserver';
import type { KubeObject } from './kube';
import { ingressNginxWithoutWebhook } from './fixtures';
import { renderProfile } from './render';

const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 7);
const TARGET_RATIO = 1.5;
const root = path.resolve(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-bench-'));
// The CLI's upgrade check goes to the network; it is not the app's cost, so both runs skip it.
const env = {
  ...process.env,
  CDK8S_CHECK_UPGRADE: 'false',
  CDK8S_OUTPUT: path.join(work, 'staging'),
  LETTA_K8S_DIST: path.join(work, 'dist'),
  LETTA_PROFILE: 'gpu',
};

function timeCommand(args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync('npx', args, { cwd: root, env, encoding: 'utf8' });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`npx ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  return elapsed;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/**
 * Applies the full gpu profile to a real kube-apiserver (a fresh namespace each time, so every
 * apply creates), against applying the ingress-nginx manifest as a yardstick of the same kind.
 */
async function applyBench(): Promise<void> {
  const binaries = findControlPlaneBinaries();
  if ('missing' in binaries) {
    console.log(`\napply to kube-apiserver: not measured: ${binaries.missing} (npm run control-plane:build)`);
    return;
  }
  const controlPlane = await startControlPlane();
  try {
    const timeApply = async (objects: KubeObject[]) => {
      const started = process.hrtime.bigint();
      await controlPlane.kube.applyAll(objects);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    // Warm-up: fills the client's discovery cache and the server's, as in any later apply.
    await timeApply(renderProfile('gpu', { namespace: 'bench-warm-up' }).documents);
    const ingressNginx = ingressNginxWithoutWebhook();
    const reference = await timeApply(ingressNginx);
    const gpu: number[] = [];
    let objects = 0;
    for (let i = 0; i < REPETITIONS; i++) {
      const documents = renderProfile('gpu', { namespace: `bench-${i}` }).documents;
      objects = documents.length;
      gpu.push(await timeApply(documents));
    }
    const perObject = median(gpu) / objects;
    console.log(`\napply to kube-apiserver (server-side, strict), gpu profile, ${objects} objects, median of ${REPETITIONS} fresh namespaces: ${median(gpu).toFixed(0)} ms`);
    console.log(`  ${perObject.toFixed(1)} ms per object; ingress-nginx v1.15.1 manifest (${ingressNginx.length} objects): ${(reference / ingressNginx.length).toFixed(1)} ms per object; ratio ${(perObject / (reference / ingressNginx.length)).toFixed(2)}`);
  } finally {
    await controlPlane.stop();
  }
}

async function main() {
  // Warm-up: fills the app bundle cache and the file system cache, as any second synth finds them.
  timeCommand(['cdk8s', 'synth']);
  timeCommand(['cdk8s', '--version']);
  const ratios: number[] = [];
  const synth: number[] = [];
  const cli: number[] = [];
  // Interleaved, so that load on the machine hits both sides of each ratio alike.
  for (let i = 0; i < REPETITIONS; i++) {
    const baseline = timeCommand(['cdk8s', '--version']);
    const measured = timeCommand(['cdk8s', 'synth']);
    cli.push(baseline);
    synth.push(measured);
    ratios.push(measured / baseline);
    console.log(`  run ${i + 1}/${REPETITIONS}: synth ${measured.toFixed(0)} ms, cdk8s --version ${baseline.toFixed(0)} ms, ratio ${(measured / baseline).toFixed(2)}`);
  }
  const ratio = median(ratios);
  console.log(`\nnpx cdk8s synth (gpu profile) / npx cdk8s --version, median of ${REPETITIONS}: ${ratio.toFixed(2)} (target <= ${TARGET_RATIO})`);
  console.log(`  medians: synth ${median(synth).toFixed(0)} ms, cdk8s --version ${median(cli).toFixed(0)} ms`);
  fs.rmSync(work, { recursive: true, force: true });
  await applyBench();
  process.exitCode = ratio <= TARGET_RATIO ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 2;
});
