import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import { healthProblem } from './http';
import { Kubectl } from './kubectl';
import type { ProbeCase } from './netpol';
import { CommandError } from './shell';
import { renderProfile } from '../../tools/render';
import { applyWithWebhookRetry, healthThroughIngress, runNetworkProbes, type StepContext, synthesize } from './steps';
import { FakeKube } from './support/fake-kube';
import { FakeShell, ok } from './support/fake-shell';

const webhookDown = new CommandError('kubectl apply', {
  code: 1,
  stdout: '',
  stderr:
    'Error from server (InternalError): error when creating "dist/0007-ingress.k8s.yaml": Internal error occurred: failed calling webhook "validate.nginx.ingress.kubernetes.io": failed to call webhook: Post "https://ingress-nginx-controller-admission.ingress-nginx.svc:443/networking/v1/ingresses?timeout=10s": dial tcp 10.96.12.7:443: connect: connection refused',
});

describe('synthesize', () => {
  it("GIVEN a repository WHEN synthesized THEN it runs the user's `npx cdk8s synth` there for the profile and returns dist/'s objects in apply order", async () => {
    const repo = mkdtempSync(join(tmpdir(), 'letta-e2e-repo-'));
    const rendered = renderProfile('kind');
    // Stands in for what the CLI would write.
    const shell = new FakeShell().on(['npx', 'cdk8s', 'synth'], () => {
      for (const file of rendered.files) cpSync(file, join(repo, 'dist', basename(file)));
      return ok();
    });
    try {
      const { dir, objects } = await synthesize(shell, repo, 'kind');

      expect(shell.calls[0].options).toMatchObject({ cwd: repo, env: { LETTA_PROFILE: 'kind' } });
      expect(dir).toBe(join(repo, 'dist'));
      expect(objects).toEqual(rendered.documents);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe('applyWithWebhookRetry', () => {
  it('GIVEN the ingress-nginx webhook not answering yet WHEN applying THEN the apply is repeated until it goes through', async () => {
    let attempts = 0;

    await applyWithWebhookRetry(async () => {
      attempts += 1;
      if (attempts < 3) throw webhookDown;
    }, { delayMs: 1 });

    expect(attempts).toBe(3);
  });

  it('GIVEN any other failure WHEN applying THEN it fails at once', async () => {
    let attempts = 0;
    const invalid = new CommandError('kubectl apply', { code: 1, stdout: '', stderr: 'The Deployment "letta-server" is invalid' });

    await expect(
      applyWithWebhookRetry(async () => {
        attempts += 1;
        throw invalid;
      }, { delayMs: 1 }),
    ).rejects.toBe(invalid);
    expect(attempts).toBe(1);
  });

  it('GIVEN a webhook that never answers WHEN applying THEN it gives up after the bounded attempts', async () => {
    let attempts = 0;

    await expect(
      applyWithWebhookRetry(
        async () => {
          attempts += 1;
          throw webhookDown;
        },
        { attempts: 4, delayMs: 1 },
      ),
    ).rejects.toBe(webhookDown);
    expect(attempts).toBe(4);
  });
});

describe('healthProblem', () => {
  it('GIVEN Letta\'s healthy answer WHEN judged THEN there is no problem', () => {
    expect(healthProblem({ status: 200, body: '{"version":"0.16.8","status":"ok"}' })).toBeUndefined();
  });

  it.each([
    [{ status: 503, body: '<html>503 Service Temporarily Unavailable</html>' }, 'status 503: <html>503'],
    [{ status: 200, body: '<html>default backend</html>' }, 'not JSON'],
    [{ status: 200, body: '{"version":"0.16.8","status":"degraded"}' }, 'status field is "degraded"'],
    [{ status: 200, body: '{"status":"ok"}' }, 'no version'],
  ])('GIVEN %j WHEN judged THEN the problem says %s', (response, problem) => {
    expect(healthProblem(response)).toContain(problem);
  });
});

describe('healthThroughIngress', () => {
  async function ingress(answers: Array<[number, string]>) {
    const hosts: string[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      hosts.push(`${req.headers.host} ${req.url}`);
      const [status, body] = answers.length > 1 ? answers.shift()! : answers[0];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { server, hosts, port: (server.address() as AddressInfo).port };
  }

  it('GIVEN an ingress that answers 503 until Letta is up WHEN checked THEN it passes, having asked for letta.localhost on loopback', async () => {
    const { server, hosts, port } = await ingress([
      [503, 'unavailable'],
      [200, '{"version":"0.16.8","status":"ok"}'],
    ]);
    try {
      const problems = await healthThroughIngress({ host: 'letta.localhost', address: '127.0.0.1', port }, 60_000, 1);

      expect(problems).toEqual([]);
      expect(hosts).toEqual([`letta.localhost:${port} /v1/health/`, `letta.localhost:${port} /v1/health/`]);
    } finally {
      server.close();
    }
  });

  it('GIVEN an ingress that never routes to Letta WHEN the time runs out THEN the last answer is the problem', async () => {
    const { server, port } = await ingress([[404, 'default backend - 404']]);
    try {
      const problems = await healthThroughIngress({ host: 'letta.localhost', address: '127.0.0.1', port }, 200, 1);

      expect(problems).toEqual(['GET http://letta.localhost/v1/health/ through the ingress: status 404: default backend - 404']);
    } finally {
      server.close();
    }
  });
});

describe('runNetworkProbes', () => {
  const settings = loadSettings({ profile: 'kind' });
  const cases: ProbeCase[] = [
    { name: 'probe-a', namespace: 'letta', labels: {}, host: 'letta-db', port: 5432, expect: 'connects', why: 'edge' },
    { name: 'probe-b', namespace: 'letta-e2e', labels: {}, host: '10.244.0.9', port: 5432, expect: 'is denied', why: 'no edge', control: 'probe-a' },
  ];
  const podIn = (probe: ProbeCase, phase: string) => ({
    kind: 'Pod',
    metadata: { name: probe.name, namespace: probe.namespace, labels: { 'letta-e2e/probe': 'true' } },
    status: { phase },
  });
  const owner = { kind: 'ConfigMap', metadata: { name: 'letta-e2e-probes', namespace: 'letta', uid: 'owner-uid' } };
  const context = (shell: FakeShell, kube: FakeKube): StepContext => ({
    kubectl: new Kubectl(shell, 'kubeconfig', kube),
    settings,
    topology: new Topology(settings),
    log: () => undefined,
  });
  // Both connect: right for probe-a, wrong for probe-b.
  const connected = ok('{"outcome": "connected", "address": "10.244.0.9"}\n');

  it('GIVEN probes that finish WHEN run THEN each log is judged and the pods are deleted', async () => {
    const kube = new FakeKube([owner, { ...owner, metadata: { ...owner.metadata, namespace: 'letta-e2e' } }, ...cases.map((c) => podIn(c, 'Succeeded'))]);
    const shell = new FakeShell().on(['logs'], connected).on(['delete', 'pods,configmaps'], ok());

    const verdicts = await runNetworkProbes(context(shell, kube), cases, 60_000);

    expect(verdicts.map((v) => [v.probe.name, v.ok])).toEqual([
      ['probe-a', true],
      ['probe-b', false],
    ]);
    const probes = kube.callsOf('applyAll')[1].objects!;
    expect(probes.map((pod) => pod.metadata.name)).toEqual(['probe-a', 'probe-b']);
    expect(shell.callsWith('delete', 'pods,configmaps', '--selector', 'letta-e2e/probe=true')).toHaveLength(1);
    // Owned by a ConfigMap, so that no DaemonSet adopts and deletes a probe labelled like its pods.
    expect(probes.map((pod) => pod.metadata.ownerReferences[0].uid)).toEqual(['owner-uid', 'owner-uid']);
  });

  it('GIVEN a probe stuck pending WHEN the wait runs out THEN it fails with the pod state and the pods are still deleted', async () => {
    const kube = new FakeKube([owner, podIn(cases[0], 'Succeeded'), podIn(cases[1], 'Pending')]);
    const shell = new FakeShell().on(['logs'], connected).on(['delete', 'pods,configmaps'], ok());

    const verdicts = await runNetworkProbes(context(shell, kube), cases, 20);

    expect(verdicts[1]).toMatchObject({ ok: false, message: 'letta-e2e/probe-b did not finish within 20 ms: pod probe-b: Pending, not ready' });
    expect(shell.callsWith('delete', 'pods,configmaps')).toHaveLength(1);
  });

  it('GIVEN the apply failing WHEN run THEN the error surfaces and the pods are deleted all the same', async () => {
    const kube = new FakeKube().failApply('pods "probe-a" is forbidden: violates PodSecurity "restricted:latest"');
    const shell = new FakeShell().on(['delete', 'pods,configmaps'], ok());

    await expect(runNetworkProbes(context(shell, kube), cases, 30_000)).rejects.toThrow('violates PodSecurity');
    expect(shell.callsWith('delete', 'pods,configmaps')).toHaveLength(1);
  });
});
