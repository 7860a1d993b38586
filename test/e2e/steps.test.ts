import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { healthProblem } from './http';
import { CommandError } from './shell';
import { applyWithWebhookRetry, healthThroughIngress } from './steps';

const webhookDown = new CommandError('kubectl apply', {
  code: 1,
  stdout: '',
  stderr:
    'Error from server (InternalError): error when creating "dist/0007-ingress.k8s.yaml": Internal error occurred: failed calling webhook "validate.nginx.ingress.kubernetes.io": failed to call webhook: Post "https://ingress-nginx-controller-admission.ingress-nginx.svc:443/networking/v1/ingresses?timeout=10s": dial tcp 10.96.12.7:443: connect: connection refused',
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
