import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
/** One `npx cdk8s synth` takes about 2 s on an idle machine; a busy one may take many times that. */
const SYNTH_BUDGET_MS = 90_000;
/** A case runs synth up to twice. */
const CASE_BUDGET_MS = 2 * SYNTH_BUDGET_MS + 10_000;
let work: string;
let dist: string;

/** The environment of `npx cdk8s synth` writing into temporary directories. */
function synthEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, CDK8S_CHECK_UPGRADE: 'false', CDK8S_OUTPUT: path.join(work, 'staging'), LETTA_K8S_DIST: dist, ...env };
}

/** Runs the user's command, `npx cdk8s synth`, writing into temporary directories. */
function synth(env: Record<string, string>) {
  const { status, stdout, stderr, error } = spawnSync('npx', ['cdk8s', 'synth'], { cwd: root, encoding: 'utf8', timeout: SYNTH_BUDGET_MS, env: synthEnv(env) });
  return { status, stdout, stderr, output: `${stdout}${stderr}${error ? `\n${error.message}` : ''}` };
}

/**
 * Starts the app that `npx cdk8s synth` runs, as the CLI runs it (CDK8S_OUTDIR: the CLI's folder),
 * without waiting; resolves to its exit status and stderr. Not the CLI itself: two CLIs share
 * their folder too, and one may empty it between the other's app and that CLI's check that the
 * app created it (README, "Two synths at once"), which would fail this test for the CLI's reason.
 */
function startApp(env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['lib/app/app-launcher.js'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: SYNTH_BUDGET_MS,
      env: { ...synthEnv(env), CDK8S_OUTDIR: path.join(work, 'staging') },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stderr }));
  });
}

function snapshotDir(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((file) => [file, fs.readFileSync(path.join(dir, file), 'utf8')]));
}

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-cli-'));
  dist = path.join(work, 'dist');
});

afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

describe('npx cdk8s synth', { timeout: CASE_BUDGET_MS }, () => {
  it('GIVEN a synthesis for namespace "agents" WHEN the gpu profile is synthesized over it THEN dist/ holds the gpu profile and nothing of the previous one remains', () => {
    const values = path.join(work, 'values.yaml');
    fs.writeFileSync(values, 'namespace: agents\n');
    expect(synth({ LETTA_VALUES: values }).status).toBe(0);
    expect(Object.values(snapshotDir(dist)).join('\n')).toContain('namespace: agents');

    const { status, output } = synth({ LETTA_PROFILE: 'gpu' });

    expect(status, output).toBe(0);
    const files = snapshotDir(dist);
    expect(Object.keys(files)).toContain('0006-vllm.k8s.yaml');
    for (const [file, text] of Object.entries(files)) expect(text, file).not.toContain('agents');
    expect(fs.readdirSync(work).sort()).toEqual(['dist', 'staging', 'values.yaml']);
  });

  it('GIVEN a refused setting WHEN synthesized THEN the user sees the refusal and one line of the CLI, no stack trace, and the status is 1', () => {
    const values = path.join(work, 'values.yaml');
    fs.writeFileSync(values, 'letta:\n  replicas: -1\n');

    const { status, stdout, stderr } = synth({ LETTA_VALUES: values });

    expect(status).toBe(1);
    expect(stdout).toBe('Synthesizing application\n');
    expect(stderr.trimEnd().split('\n')).toEqual([
      `letta-k8s: invalid settings (profile kind + ${values}):`,
      '  - letta.replicas: must not be negative',
      `letta-k8s: nothing written; ${dist}/ is unchanged.`,
      `ERROR: synthesis failed, app expected to create "${path.join(work, 'staging')}"`,
    ]);
    expect(fs.existsSync(dist)).toBe(false);
  });

  it(
    'GIVEN the kind and the gpu profile synthesized at once into one dist/ and one CLI folder WHEN both finish THEN both succeed and dist/ is wholly one of them, five rounds running',
    async () => {
      const profiles = ['kind', 'gpu'];
      const alone: Record<string, string> = {};
      for (const profile of profiles) {
        expect(synth({ LETTA_PROFILE: profile }).status).toBe(0);
        alone[profile] = JSON.stringify(snapshotDir(dist));
      }
      for (let round = 1; round <= 5; round++) {
        const runs = await Promise.all(profiles.map((profile) => startApp({ LETTA_PROFILE: profile })));
        expect(runs.map((run) => run.status), `round ${round}: ${runs.map((run) => run.stderr).join('')}`).toEqual([0, 0]);
        const published = snapshotDir(dist);
        const whole = profiles.filter((profile) => JSON.stringify(published) === alone[profile]);
        expect(whole, `round ${round}: dist/ holds ${Object.keys(published).join(', ')}`).toHaveLength(1);
      }
      expect(fs.readdirSync(work).sort()).toEqual(['dist', 'staging']);
    },
    5 * CASE_BUDGET_MS,
  );
});
