import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, unknown>;
  env?: Record<string, string>;
  jobs: Record<string, { 'runs-on': string; steps: Step[] }>;
}

/** Parses a workflow; js-yaml also rejects duplicate keys, which GitHub would reject too. */
function workflow(name: string): Workflow {
  return load(readFileSync(join(ROOT, '.github', 'workflows', name), 'utf8')) as Workflow;
}

const steps = (w: Workflow): Step[] => Object.values(w.jobs).flatMap((job) => job.steps);
const runLines = (w: Workflow): string[] => steps(w).flatMap((s) => (s.run ?? '').split('\n').map((l) => l.trim()));
const SEMVER = /^v\d+\.\d+\.\d+$/;

describe.each(['e2e.yml', 'test.yml'])('workflow %s', (name) => {
  it('GIVEN the file WHEN parsed THEN it runs on ubuntu-latest with Node 20 and actions pinned to a release', () => {
    const w = workflow(name);

    expect(Object.values(w.jobs).map((job) => job['runs-on'])).toEqual(['ubuntu-latest']);
    expect(steps(w).find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe('20');
    const unpinned = steps(w)
      .flatMap((s) => (s.uses ? [s.uses] : []))
      .filter((uses) => !/@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/.test(uses));
    expect(unpinned).toEqual([]);
  });
});

describe('e2e.yml', () => {
  const w = workflow('e2e.yml');

  it('GIVEN the workflow WHEN read THEN it installs dependencies with npm ci and runs npm run e2e:kind, which package.json defines', () => {
    const lines = runLines(w);
    const install = lines.findIndex((l) => l.startsWith('npm ci'));
    const e2e = lines.indexOf('npm run e2e:kind');

    expect(install).toBeGreaterThanOrEqual(0);
    expect(e2e).toBeGreaterThan(install);
    const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['e2e:kind'] as string;
    expect(script).toBe('tsx test/e2e/kind-e2e.ts');
    expect(existsSync(join(ROOT, 'test', 'e2e', 'kind-e2e.ts'))).toBe(true);
  });

  it('GIVEN the workflow WHEN read THEN kind and kubectl are pinned versions, downloaded by those versions and checksum-verified', () => {
    expect(w.env?.KIND_VERSION).toMatch(SEMVER);
    expect(w.env?.KUBECTL_VERSION).toMatch(SEMVER);
    const install = steps(w).find((s) => s.run?.includes('kind-linux-amd64'))?.run ?? '';
    expect(install).toContain('releases/download/${KIND_VERSION}/kind-linux-amd64');
    expect(install).toContain('release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl');
    expect(install.match(/sha256sum --check/g)).toHaveLength(2);
  });

  it('GIVEN a failed run WHEN the workflow goes on THEN it uploads objects, events and pod logs of the kept cluster and deletes the cluster in any case', () => {
    expect(w.env?.E2E_KEEP_CLUSTER).toBe('1');
    expect(w.env?.LETTA_K8S_REQUIRE_ALL).toBe('1');
    const collect = steps(w).find((s) => s.run?.includes('kubectl get all,events -A'));
    expect(collect?.if).toBe('failure()');
    expect(collect?.run).toContain('kubectl logs');
    const upload = steps(w).find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toBe('failure()');
    expect(upload?.with?.path).toBe('e2e-diagnostics/');
    const remove = steps(w).at(-1);
    expect(remove).toMatchObject({ if: 'always()', run: 'kind delete cluster --name "$E2E_CLUSTER_NAME"' });
  });
});

describe('test.yml', () => {
  const w = workflow('test.yml');

  it('GIVEN the workflow WHEN read THEN every push and pull request runs the CI entry .ci/run', () => {
    expect(Object.keys(w.on).sort()).toEqual(['pull_request', 'push']);
    expect(runLines(w)).toContain('bash .ci/run');
    expect(existsSync(join(ROOT, '.ci', 'run'))).toBe(true);
  });
});
