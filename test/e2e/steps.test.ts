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
  const invalid = new CommandError('kubectl apply', { code: 1, stdout: '', stderr: 'The Deployment "letta-server" is invalid' });

  it.each([
    ['the ingress-nginx webhook not answering for two attempts', [webhookDown, webhookDown], 12, undefined, 3],
    ['any other failure', [invalid], 12, invalid, 1],
    ['a webhook that never answers', Array(9).fill(webhookDown), 4, webhookDown, 4],
  ])('GIVEN %s WHEN applying THEN the apply is repeated only while the webhook is down, within the bounded attempts', async (_, failures, attempts, error, made) => {
    let calls = 0;
    const apply = applyWithWebhookRetry(async () => {
      const failure = failures[calls++];
      if (failure) throw failure;
    }, { attempts, delayMs: 1 });

    await (error ? expect(apply).rejects.toBe(error) : expect(apply).resolves.toBeUndefined());
    expect(calls).toBe(made);
  });
});

// A status other than 200, and a healthy answer: healthThroughIngress below.
describe('healthProblem', () => {
  it.each([
    [{ status: 200, body: '<html>default backend</html>' }, 'not JSON'],
    [{ status: 200, body: '{"version":"0.16.8","status":"degraded"}' }, 'status field is "degraded"'],
    [{ status: 200, body: '{"status":"ok"}' }, 'no version'],
  ])('GIVEN %j WHEN judged THEN the problem says %s', (response, problem) => {
    expect(healthProblem(response)).toContain(problem);
  });
});

describe('healthThroughIngress', () => {
  /** An ingress on loopback giving the answers in turn (the last one from then on), and what it was asked. */
  async function ingressCheck(answers: Array<[number, string]>, timeoutMs: number) {
    const asked: string[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      asked.push(`${req.headers.host} ${req.url}`);
      const [status, body] = answers.length > 1 ? answers.shift()! : answers[0];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      return { problems: await healthThroughIngress({ host: 'letta.localhost', address: '127.0.0.1', port }, timeoutMs, 1), asked, port };
    } finally {
      server.close();
    }
  }

  it('GIVEN an ingress that answers 503 until Letta is up WHEN checked THEN it passes, having asked for letta.localhost on loopback', async () => {
    const { problems, asked, port } = await ingressCheck([[503, 'unavailable'], [200, '{"version":"0.16.8","status":"ok"}']], 60_000);

    expect(problems).toEqual([]);
    expect(asked).toEqual([`letta.localhost:${port} /v1/health/`, `letta.localhost:${port} /v1/health/`]);
  });

  it('GIVEN an ingress that never routes to Letta WHEN the time runs out THEN the last answer is the problem', async () => {
    const { problems } = await ingressCheck([[404, 'default backend - 404']], 200);

    expect(problems).toEqual(['GET http://letta.localhost/v1/health/ through the ingress: status 404: default backend - 404']);
  });
});
