import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderProfile } from '../../tools/render';
import { requireAll } from '../../tools/requirements';
import { kindHostPorts } from './cluster';
import { runKindE2e, type RunOptions } from './kind-e2e';
import { fail, FakeShell, ok } from './support/fake-shell';

/** A machine with Docker, kind and kubectl, where `npx cdk8s synth` writes the kind profile. */
function machine(repo: string): FakeShell {
  return new FakeShell()
    .on(['docker', 'info'], ok('28.5.1\n'))
    .on(['kind', 'version'], ok('kind v0.33.0\n'))
    .on(['kubectl', 'version'], ok('{}'))
    .on(['npx', 'cdk8s', 'synth'], () => {
      for (const file of renderProfile('kind').files) cpSync(file, join(repo, 'dist', basename(file)));
      return ok();
    });
}

describe('runKindE2e', () => {
  let repo: string;
  const lines: string[] = [];
  const options = (shell: FakeShell, overrides: Partial<RunOptions> = {}): RunOptions => ({
    shell,
    repoRoot: repo,
    keep: false,
    clusterName: 'letta-e2e-test',
    kubeconfig: join(repo, 'kubeconfig'),
    log: (line) => lines.push(line),
    portInUse: async () => false,
    ...overrides,
  });

  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'letta-e2e-repo-'));
    copyFileSync(join(__dirname, '..', '..', 'kind-config.yaml'), join(repo, 'kind-config.yaml'));
    lines.length = 0;
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it('GIVEN a machine without a Docker daemon WHEN run THEN it skips before creating anything (or fails where skipping is forbidden)', async () => {
    const shell = new FakeShell()
      .on(['docker', 'info'], fail('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?'))
      .on(['kind'], ok())
      .on(['kubectl'], ok());

    const outcome = await runKindE2e(options(shell)).then(
      (code) => `exit ${code}`,
      (error: Error) => error.message,
    );

    expect(outcome).toEqual(requireAll ? expect.stringContaining('LETTA_K8S_REQUIRE_ALL=1 forbids skipping') : 'exit 0');
    expect(shell.callsWith('create')).toEqual([]);
  });

  it('GIVEN ingress-nginx failing to install WHEN run THEN it fails, says why, and deletes the cluster it created', async () => {
    const shell = machine(repo)
      .on(['kind', 'create', 'cluster'], ok())
      .on(['kubectl', 'apply'], fail('error: unable to recognize "ingress-nginx-kind-v1.15.1.yaml": no matches for kind "IngressClass"'))
      .on(['kind', 'delete', 'cluster'], ok());

    const code = await runKindE2e(options(shell));

    expect(code).toBe(1);
    expect(lines).toContainEqual(expect.stringContaining('FAILED: `kubectl --kubeconfig'));
    expect(lines.join('\n')).toContain('no matches for kind "IngressClass"');
    const kindCalls = shell.callsWith('kind').map((call) => call.args.slice(0, 2).join(' '));
    expect(kindCalls).toEqual(['version', 'create cluster', 'delete cluster']);
    expect(shell.callsWith('delete', 'cluster')[0].args).toEqual(expect.arrayContaining(['--name', 'letta-e2e-test']));
  });

  it('GIVEN host port 80 taken on this machine WHEN run THEN the cluster maps the node port 80 to a free host port from a configuration of its own', async () => {
    const shell = machine(repo)
      .on(['kind', 'create', 'cluster'], ok())
      .on(['kubectl', 'apply'], fail('stop after creation'))
      .on(['kind', 'delete', 'cluster'], ok());
    const userConfig = readFileSync(join(repo, 'kind-config.yaml'), 'utf8');

    await runKindE2e(options(shell, { portInUse: async (port) => port === 80 }));

    const create = shell.callsWith('create', 'cluster')[0].args;
    const runConfig = create[create.indexOf('--config') + 1];
    expect(runConfig).toBe(join(repo, 'kind-config.e2e.yaml'));
    const hostPort = kindHostPorts(readFileSync(runConfig, 'utf8')).get(80);
    expect(hostPort).not.toBe(80);
    expect(lines).toContainEqual(expect.stringContaining(`maps to host port ${hostPort} instead`));
    expect(readFileSync(join(repo, 'kind-config.yaml'), 'utf8')).toBe(userConfig);
  });

  it('GIVEN --keep WHEN a step fails THEN the cluster stays and the log says how to reach and delete it', async () => {
    const shell = machine(repo).on(['kind', 'create', 'cluster'], ok()).on(['kubectl', 'apply'], fail('boom'));

    const code = await runKindE2e(options(shell, { keep: true }));

    expect(code).toBe(1);
    expect(shell.callsWith('kind', 'delete')).toEqual([]);
    expect(lines.at(-1)).toBe(
      `keeping cluster letta-e2e-test: kubectl --kubeconfig ${join(repo, 'kubeconfig')}; delete it with \`kind delete cluster --name letta-e2e-test\``,
    );
  });

  it('GIVEN synthesis failing WHEN run THEN no cluster is created', async () => {
    const shell = new FakeShell()
      .on(['docker', 'info'], ok())
      .on(['kind', 'version'], ok())
      .on(['kubectl', 'version'], ok())
      .on(['npx', 'cdk8s', 'synth'], fail('letta-k8s: invalid settings'));

    await expect(runKindE2e(options(shell))).rejects.toThrow('letta-k8s: invalid settings');
    expect(shell.callsWith('kind', 'create')).toEqual([]);
  });
});
