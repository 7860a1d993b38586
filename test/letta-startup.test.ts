import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { x } from 'tinyexec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REDACT_ENV, REDACT_OUTPUT_PY, REDACTED, WAIT_FOR_MODELS_ENV, WAIT_FOR_MODELS_PY } from '../charts/letta/scripts';
import { findObject, PROFILES, renderProfile } from '../tools/render';
import { envOf, lettaPod, podOf, secretBehindFile } from './support/workloads';

/*
 * The defects that stopped the first real run of Letta 0.16.8 with the synthesized pod specs
 * (issue "The stack must start"), each pinned by what the spec must say, and the scripts of the
 * pod run for real.
 */

const PYTHON = process.env.PYTHON ?? 'python3';
/** The pod's scripts, as its ConfigMap mounts them, for python3 to run. */
let scripts: string;
beforeAll(() => {
  scripts = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-scripts-'));
  fs.writeFileSync(path.join(scripts, 'redact_output.py'), REDACT_OUTPUT_PY);
  fs.writeFileSync(path.join(scripts, 'wait_for_models.py'), WAIT_FOR_MODELS_PY);
});
afterAll(() => fs.rmSync(scripts, { recursive: true, force: true }));

/** Runs `python3 SCRIPT ARGS` with `env` added, for at most 60 s; sends it SIGTERM once its stdout shows `stopAfter`. */
async function runScript(script: string, args: readonly string[], env: Record<string, string>, stopAfter?: string) {
  const run = x(PYTHON, [path.join(scripts, script), ...args], { timeout: 60_000, throwOnError: false, nodeOptions: { env: { ...process.env, ...env } } });
  let seen = '';
  const watch = (chunk: Buffer) => (seen += chunk).includes(stopAfter!) && run.process?.stdout?.off('data', watch) && run.kill('SIGTERM');
  if (stopAfter) run.process?.stdout?.on('data', watch);
  const { exitCode, stdout, stderr } = await run;
  return { code: exitCode, stdout, stderr };
}

describe('database URI: one that the server (asyncpg) and alembic (pg8000) both accept', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN both URIs take the Secret\'s password by reference, the migration\'s with no query, the server\'s with only asyncpg\'s ssl', (profile) => {
    const { migrate, server } = lettaPod(renderProfile(profile).documents);
    const uri = 'postgresql://letta:$(LETTA_PG_PASSWORD)@letta-db:5432/letta';
    // pg8000 fails on any query parameter: "connect() got an unexpected keyword argument 'sslmode'".
    expect(envOf(migrate)).toMatchObject({ LETTA_PG_URI: { value: uri }, LETTA_K8S_PG_SSLMODE: { value: 'disable' } });
    // Without ssl= Letta adds ssl=require whenever SQLAlchemy pooling is on; letta-db serves no TLS.
    expect(envOf(server).LETTA_PG_URI.value).toBe(`${uri}?ssl=disable`);
    for (const container of [migrate, server]) {
      expect(envOf(container).LETTA_PG_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'letta-db-credentials', key: 'password' });
      // $(LETTA_PG_PASSWORD) expands only to a variable declared before it.
      const order = container.env.map((entry: any) => entry.name);
      expect(order.indexOf('LETTA_PG_PASSWORD')).toBeLessThan(order.indexOf('LETTA_PG_URI'));
    }
  });

  it('GIVEN verify-full TLS WHEN synthesized THEN Postgres serves the Secret\'s certificate, and both Letta processes and pg_dump check it against its CA', () => {
    const { documents } = renderProfile('gpu', { database: { tls: { mode: 'verify-full', secretName: 'letta-db-tls' } } });
    const postgresPod = podOf(documents, 'StatefulSet', 'letta-db');
    const tlsVolume = postgresPod.volumes.find((v: any) => v.secret?.secretName === 'letta-db-tls');
    expect(postgresPod.containers[0]).toMatchObject({
      args: expect.arrayContaining(['ssl=on', 'ssl_cert_file=/run/secrets/postgres-tls/tls.crt', 'ssl_key_file=/run/secrets/postgres-tls/tls.key']),
      volumeMounts: expect.arrayContaining([expect.objectContaining({ name: tlsVolume.name, mountPath: '/run/secrets/postgres-tls' })]),
    });

    const letta = lettaPod(documents);
    const backup = podOf(documents, 'CronJob', 'letta-db-backup');
    expect(envOf(letta.server).LETTA_PG_URI.value).toMatch(/\?ssl=verify-full$/);
    expect([envOf(letta.migrate).LETTA_K8S_PG_SSLMODE.value, envOf(backup.containers[0]).PGSSLMODE.value]).toEqual(['verify-full', 'verify-full']);
    for (const [spec, container] of [[letta.spec, letta.migrate], [letta.spec, letta.server], [backup, backup.containers[0]]]) {
      expect(secretBehindFile(spec, container, envOf(container).PGSSLROOTCERT.value), container.name).toEqual({ name: 'letta-db-tls', key: 'ca.crt' });
    }
  });
});

describe('working directory: Letta writes into it, so it must not be the read-only image', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN server and migration work in a writable emptyDir and still read the image\'s conf.yaml', (profile) => {
    const { spec, migrate, server } = lettaPod(renderProfile(profile).documents);
    for (const container of [migrate, server]) {
      // The server writes openapi_letta.json into its working directory at start.
      const mount = container.volumeMounts.find((m: any) => m.mountPath === container.workingDir);
      expect(mount, `${container.name} works in ${container.workingDir}`).toBeDefined();
      expect(spec.volumes.find((v: any) => v.name === mount.name).emptyDir).toBeDefined();
      // Letta reads ./conf.yaml from its working directory; the image's lives in /app.
      expect(envOf(container).LETTA_CONFIG_PATH.value).toBe('/app/conf.yaml');
    }
  });
});

describe('migration lock: never inside an open transaction', () => {
  it('GIVEN the migration program WHEN synthesized THEN it polls a non-blocking lock with a bounded wait from the settings', () => {
    const { documents } = renderProfile('gpu', { letta: { migrationLockWaitSeconds: 900 } });
    const script: string = findObject(documents, 'ConfigMap', 'letta-server-scripts').data['migrate.py'];
    // pg_advisory_lock blocks inside a transaction, which CREATE INDEX CONCURRENTLY waits for forever.
    expect(script).not.toMatch(/pg_advisory_lock\(/);
    expect(script).toContain('pg_try_advisory_lock(');
    expect(envOf(lettaPod(documents).migrate).LETTA_K8S_MIGRATION_LOCK_WAIT_SECONDS.value).toBe('900');
  });
});

describe('no secret in the logs', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN every Letta process runs behind the filter, which hides every Secret-backed variable', (profile) => {
    const { migrate, server } = lettaPod(renderProfile(profile, { letta: { providerApiKeys: { OPENAI_API_KEY: { name: 'llm-keys', key: 'openai' } } } }).documents);
    for (const container of [migrate, server]) {
      expect(container.command.slice(0, 3)).toEqual(['python', '/opt/letta-k8s/redact_output.py', '--']);
      const fromSecrets = container.env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.name);
      expect(fromSecrets).toContain('LETTA_PG_PASSWORD');
      expect(envOf(container)[REDACT_ENV].value.split(',').sort()).toEqual(fromSecrets.sort());
    }
  });

  describe('the filter, run with python3', () => {
    /** Runs `redact_output.py -- python3 -c CHILD`, sending SIGTERM once `stopAfter` is printed. */
    const runFiltered = (child: string, env: Record<string, string>, stopAfter?: string) => runScript('redact_output.py', ['--', PYTHON, '-c', child], env, stopAfter);
    const password = 'Zq7-letta_pw.Secret~42';
    const serverPassword = 'srv+pass/word=1';

    it('GIVEN a command that prints the secrets as alembic and `letta server --secure` do WHEN filtered THEN no form of them reaches the log', { timeout: 90_000 }, async () => {
      const child = [
        'import os, subprocess, sys, urllib.parse',
        `pw, spw = os.environ["LETTA_PG_PASSWORD"], os.environ["LETTA_SERVER_PASSWORD"]`,
        'print("Using database: ", f"postgresql+pg8000://letta:{pw}@letta-db:5432/letta", flush=True)',
        'print(f"▶ Using secure mode with password: {spw}", flush=True)',
        'print("quoted:", urllib.parse.quote(spw, safe=""), urllib.parse.quote_plus(spw), file=sys.stderr, flush=True)',
        // A worker process writes to the inherited descriptors, not through the parent.
        'subprocess.run([sys.executable, "-c", "import os; print(\'worker sees\', os.environ[\'LETTA_PG_PASSWORD\'])"])',
        'sys.exit(7)',
      ].join('\n');
      const result = await runFiltered(child, {
        LETTA_PG_PASSWORD: password,
        LETTA_SERVER_PASSWORD: serverPassword,
        [REDACT_ENV]: 'LETTA_PG_PASSWORD,LETTA_SERVER_PASSWORD',
      });
      const log = result.stdout + result.stderr;
      for (const secret of [password, serverPassword, encodeURIComponent(serverPassword), 'srv%2Bpass%2Fword%3D1', 'srv%2Bpass%2Fword%3D1'.replace('%2B', '+')]) {
        expect(log).not.toContain(secret);
      }
      expect(result.stdout).toContain(`Using database:  postgresql+pg8000://letta:${REDACTED}@letta-db:5432/letta`);
      expect(result.stdout).toContain(`worker sees ${REDACTED}`);
      expect(result.stderr).toContain('quoted:');
      expect(result.code).toBe(7);
    });

    it('GIVEN a running command WHEN the filter gets SIGTERM THEN the command gets it too and its exit status is kept', { timeout: 90_000 }, async () => {
      const child = [
        'import signal, sys, time',
        'signal.signal(signal.SIGTERM, lambda *a: (print("graceful shutdown", flush=True), sys.exit(0)))',
        'print("serving", flush=True)',
        'time.sleep(60)',
        'sys.exit(1)',
      ].join('\n');
      const result = await runFiltered(child, { [REDACT_ENV]: '' }, 'serving');
      expect(result.stdout).toContain('graceful shutdown');
      expect(result.code).toBe(0);
    });
  });
});

describe('vLLM: a current release, started with options it has', () => {
  const release: { options: string[]; toolCallParsers: string[] } = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'vllm-v0.33.0-serve.json'), 'utf8'));

  it('GIVEN the gpu profile WHEN synthesized THEN vLLM v0.33.0 serves the model with Letta\'s tool calling and a bounded context, each option one of that release\'s `vllm serve` options', () => {
    const { documents } = renderProfile('gpu');
    const container = podOf(documents, 'Deployment', 'vllm').containers[0];
    expect(container).toMatchObject({ image: 'vllm/vllm-openai:v0.33.0', command: ['vllm', 'serve'] });
    const served = ['Qwen/Qwen3-0.6B', '--served-model-name=Qwen/Qwen3-0.6B', '--max-model-len=8000', '--enable-auto-tool-choice', '--tool-call-parser=hermes', '--port=8000'];
    expect(container.args).toEqual(expect.arrayContaining(served));
    expect(findObject(documents, 'Service', 'vllm').spec.ports[0]).toMatchObject({ name: 'http', port: 8000 });
    for (const option of container.args.filter((arg: string) => arg.startsWith('--')).map((arg: string) => arg.split('=')[0])) expect(release.options, option).toContain(option);
    expect(release.toolCallParsers).toContain('hermes');
  });
});

describe('Letta lists vLLM\'s models only at start: a starting pod waits for vLLM', () => {
  it('GIVEN vLLM on WHEN synthesized THEN Letta\'s pod waits for vLLM\'s health within vLLM\'s start-up budget before it migrates and serves', () => {
    const { spec } = lettaPod(renderProfile('gpu', { vllm: { startupTimeoutSeconds: 1200 } }).documents);
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-database', 'wait-for-models', 'migrate']);
    const env = envOf(spec.initContainers[1]);
    expect(env[WAIT_FOR_MODELS_ENV.healthUrl].value).toBe('http://vllm:8000/health');
    expect(env[WAIT_FOR_MODELS_ENV.waitSeconds].value).toBe('1200');
  });

  describe('wait_for_models.py, run with python3', () => {
    const waitFor = (url: string, budgetSeconds: number) =>
      runScript('wait_for_models.py', [], { [WAIT_FOR_MODELS_ENV.healthUrl]: url, [WAIT_FOR_MODELS_ENV.waitSeconds]: String(budgetSeconds) });

    it('GIVEN a server that answers only from its third health check WHEN waited for THEN the wait ends once it answers', { timeout: 90_000 }, async () => {
      let checks = 0;
      const server = createServer((_request, response) => {
        checks++;
        response.statusCode = checks >= 3 ? 200 : 503;
        response.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
        const { code, stdout } = await waitFor(url, 60);
        expect(code).toBe(0);
        expect(checks).toBe(3);
        expect(stdout.trim().split('\n').at(-1)).toBe(`${url} answers`);
      } finally {
        server.close();
      }
    });

    it('GIVEN nothing answering WHEN the budget runs out THEN Letta starts anyway and the log says why its models are missing', { timeout: 90_000 }, async () => {
      const { code, stdout } = await waitFor('http://127.0.0.1:9/health', 0);
      expect(code).toBe(0);
      expect(stdout).toContain('did not answer within 0 s: Letta starts without its models, which it lists after its next restart');
    });
  });
});
