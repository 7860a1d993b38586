import { describe, expect, it } from 'vitest';
import { Kubectl } from './kubectl';
import { parseBuildEnv } from './local-e2e';
import { imagesOf } from './steps';
import { secretsInLogs } from './logs';
import { spansByService } from './traces';
import { FakeKube } from './support/fake-kube';
import { FakeShell } from './support/fake-shell';

/*
 * The parts of the cluster checks that judge what the cluster answered, against recorded answers.
 */

const base64 = (text: string) => Buffer.from(text).toString('base64');
const kubectl = (kube: FakeKube) => new Kubectl(new FakeShell(), 'kubeconfig', kube);

describe('secretsInLogs', () => {
  const secret = { kind: 'Secret', metadata: { name: 'letta-db-credentials', namespace: 'letta' }, data: { password: base64('s3cret-value-42'), short: base64('abc') } };
  const pod = (name: string, restarts = 0) => ({
    kind: 'Pod',
    metadata: { name, namespace: 'letta' },
    status: { initContainerStatuses: [{ name: 'migrate', restartCount: restarts }], containerStatuses: [{ name: 'server', restartCount: 0 }] },
  });

  it('GIVEN a log line that carries a Secret value WHEN scanned THEN the finding names the Secret key, the pod and the line, never the value', async () => {
    const kube = new FakeKube([secret, pod('letta-server-1', 1)])
      .onLogs({ previous: true }, 'Using database:  postgresql+pg8000://letta:s3cret-value-42@letta-db:5432/letta\n')
      .onLogs({}, 'letta-k8s migrate: migrations are at head\n');

    const scan = await secretsInLogs(kubectl(kube), ['letta']);

    expect(scan.problems).toEqual([
      'Secret letta/letta-db-credentials key password appears in the log of letta/letta-server-1 container migrate (previous run), line 1',
    ]);
    expect(scan.problems.join(' ')).not.toContain('s3cret-value-42');
    expect(scan.containers).toBe(3);
  });

  it('GIVEN clean logs WHEN scanned THEN nothing is found and the lines read are counted', async () => {
    const kube = new FakeKube([secret, pod('letta-server-1')]).onLogs({}, 'Using database:  postgresql+pg8000://letta:[redacted]@letta-db:5432/letta\nok\n');

    const scan = await secretsInLogs(kubectl(kube), ['letta']);

    expect(scan).toMatchObject({ problems: [], containers: 2 });
    expect(scan.linesRead).toBeGreaterThan(2);
  });

  it('GIVEN no Secret at all WHEN scanned THEN it says so instead of passing on nothing', async () => {
    expect((await secretsInLogs(kubectl(new FakeKube()), ['letta'])).problems).toEqual(['no Secret values in letta to look for']);
  });
});

describe('spansByService', () => {
  it('GIVEN the file exporter\'s OTLP JSON lines WHEN counted THEN spans add up per service.name, and a cut line is skipped', () => {
    const line = (service: string, spans: number) =>
      JSON.stringify({
        resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ spans: Array(spans).fill({}) }] }],
      });
    const counts = spansByService([line('letta-server', 3), line('letta-server', 2), line('other', 1), '{"resourceSpans": [{"sco'].join('\n'));
    expect([...counts]).toEqual([
      ['letta-server', 5],
      ['other', 1],
    ]);
  });
});

describe('local e2e helpers', () => {
  it('GIVEN the cluster build\'s output WHEN parsed THEN its KEY=value lines are the paths the run uses', () => {
    const env = parseBuildEnv('[phase] done in 3 s\nKIND=/c/kind\nKUBECTL="/c/bin/kubectl"\nnode-image=letta-k8s/kind-node:v1.35.4\n');
    expect(env).toEqual({ KIND: '/c/kind', KUBECTL: '/c/bin/kubectl' });
  });

  it('GIVEN synthesized workloads WHEN their images are listed THEN init containers and CronJobs count, each image once', () => {
    const pod = (images: string[], init: string[] = []) => ({ initContainers: init.map((image) => ({ image })), containers: images.map((image) => ({ image })) });
    const images = imagesOf([
      { kind: 'Deployment', spec: { template: { spec: pod(['letta/letta:0.16.8'], ['pgvector/pgvector:0.8.1-pg15', 'letta/letta:0.16.8']) } } },
      { kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec: pod(['pgvector/pgvector:0.8.1-pg15']) } } } } },
      { kind: 'Service', spec: {} },
    ]);
    expect(images).toEqual(['letta/letta:0.16.8', 'pgvector/pgvector:0.8.1-pg15']);
  });
});
