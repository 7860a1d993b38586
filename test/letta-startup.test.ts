import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { x } from 'tinyexec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REDACT_ENV, REDACT_OUTPUT_PY, REDACTED, WAIT_FOR_MODELS_ENV, WAIT_FOR_MODELS_PY } from '../charts/letta/scripts';
import { findObject, PROFILES, renderProfile } from '../tools/render';
import { type KubeObject, podSpecOf } from '../tools/kube';
import { containersOf, envOf } from './support/workloads';
import { problemsWith } from './support/settings-problems';

/*
 * The defects that stopped the first real run of Letta 0.16.8 with the synthesized pod specs
 * (issue "The stack must start"), each pinned by what the spec must say, and the log filter
 * run for real.
 */

const lettaPod = (documents: readonly KubeObject[]) => podSpecOf(findObject(documents, 'Deployment', 'letta-server'))!;
const lettaContainers = (documents: readonly KubeObject[]) => {
  const spec = lettaPod(documents);
  return { migrate: spec.initContainers.find((c: any) => c.name === 'migrate'), server: spec.containers.find((c: any) => c.name === 'server') };
};
const PYTHON = process.env.PYTHON ?? 'python3';

/** Runs `python3 ARGS` with `env` added, for at most 60 s; sends it SIGTERM once its stdout shows `stopAfter`. */
async function runPython(args: readonly string[], env: Record<string, string>, stopAfter?: string) {
  const run = x(PYTHON, args, { timeout: 60_000, throwOnError: false, nodeOptions: { env: { ...process.env, ...env } } });
  let seen = '';
  const watch = (chunk: Buffer) => (seen += chunk).includes(stopAfter!) && run.process?.stdout?.off('data', watch) && run.kill('SIGTERM');
  if (stopAfter) run.process?.stdout?.on('data', watch);
  const { exitCode, stdout, stderr } = await run;
  return { code: exitCode, stdout, stderr };
}

const withVerifiedTls = { database: { tls: { mode: 'verify-full', secretName: 'letta-db-tls' } } };

describe('database URI: one that the server (asyncpg) and alembic (pg8000) both accept', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN the migration URI has no query and the server URI only asyncpg\'s ssl', (profile) => {
    const { migrate, server } = lettaContainers(renderProfile(profile).documents);
    // pg8000 fails on any query parameter: "connect() got an unexpected keyword argument 'sslmode'".
    expect(new URL(envOf(migrate).LETTA_PG_URI.value.replace('$(LETTA_PG_PASSWORD)', 'x')).search).toBe('');
    expect(envOf(migrate).LETTA_K8S_PG_SSLMODE.value).toBe('disable');
    // Without ssl= Letta adds ssl=require whenever SQLAlchemy pooling is on; letta-db serves no TLS.
    const serverUri = new URL(envOf(server).LETTA_PG_URI.value.replace('$(LETTA_PG_PASSWORD)', 'x'));
    expect([...serverUri.searchParams]).toEqual([['ssl', 'disable']]);
  });

  it('GIVEN verify-full TLS WHEN synthesized THEN Postgres serves the Secret\'s certificate and both Letta processes check it against its CA', () => {
    const { documents } = renderProfile('kind', withVerifiedTls);
    const postgresPod = podSpecOf(findObject(documents, 'StatefulSet', 'letta-db'))!;
    const tlsVolume = postgresPod.volumes.find((v: any) => v.secret?.secretName === 'letta-db-tls');
    expect(postgresPod.containers[0]).toMatchObject({
      args: expect.arrayContaining(['ssl=on', 'ssl_cert_file=/run/secrets/postgres-tls/tls.crt', 'ssl_key_file=/run/secrets/postgres-tls/tls.key']),
      volumeMounts: expect.arrayContaining([expect.objectContaining({ name: tlsVolume.name, mountPath: '/run/secrets/postgres-tls' })]),
    });

    const spec = lettaPod(documents);
    const { migrate, server } = lettaContainers(documents);
    expect(envOf(server).LETTA_PG_URI.value).toMatch(/\?ssl=verify-full$/);
    expect(envOf(migrate).LETTA_K8S_PG_SSLMODE.value).toBe('verify-full');
    for (const container of [migrate, server]) {
      const caFile = envOf(container).PGSSLROOTCERT.value;
      const mount = container.volumeMounts.find((m: any) => caFile.startsWith(`${m.mountPath}/`));
      const volume = spec.volumes.find((v: any) => v.name === mount.name);
      expect(volume.secret).toMatchObject({ secretName: 'letta-db-tls', items: [{ key: 'ca.crt', path: path.basename(caFile) }] });
    }
  });

  it('GIVEN TLS required but no TLS Secret WHEN validated THEN the error names database.tls.secretName', () => {
    expect(problemsWith({ database: { tls: { mode: 'require' } } })).toContainEqual(expect.stringMatching(/^database\.tls\.secretName: is required when database\.tls\.mode is require/));
  });
});

describe('working directory: Letta writes into it, so it must not be the read-only image', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN server and migration work in a writable emptyDir and still read the image\'s conf.yaml', (profile) => {
    const { documents } = renderProfile(profile);
    const spec = lettaPod(documents);
    for (const container of Object.values(lettaContainers(documents))) {
      expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
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
    expect(envOf(lettaContainers(documents).migrate).LETTA_K8S_MIGRATION_LOCK_WAIT_SECONDS.value).toBe('900');
  });
});

describe('no secret in the logs', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN every Letta process runs behind the filter, which hides every Secret-backed variable', (profile) => {
    const { documents } = renderProfile(profile, { letta: { providerApiKeys: { OPENAI_API_KEY: { name: 'llm-keys', key: 'openai' } } } });
    for (const container of Object.values(lettaContainers(documents))) {
      expect(container.command.slice(0, 3)).toEqual(['python', '/opt/letta-k8s/redact_output.py', '--']);
      const fromSecrets = container.env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.name);
      expect(fromSecrets).toContain('LETTA_PG_PASSWORD');
      expect(envOf(container)[REDACT_ENV].value.split(',').sort()).toEqual(fromSecrets.sort());
    }
    if (profile === 'gpu') expect(envOf(lettaContainers(documents).server)[REDACT_ENV].value).toContain('LETTA_SERVER_PASSWORD');
  });

  describe('the filter, run with python3', () => {
    let work: string;
    beforeAll(() => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-redact-'));
      fs.writeFileSync(path.join(work, 'redact_output.py'), REDACT_OUTPUT_PY);
    });
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

    /** Runs `redact_output.py -- python3 -c CHILD`, sending SIGTERM once `signalAfterLine` is printed. */
    const runFiltered = (child: string, env: Record<string, string>, signalAfterLine?: string) => runPython([path.join(work, 'redact_output.py'), '--', PYTHON, '-c', child], env, signalAfterLine);

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

describe('a user name for every uid the images do not know', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN every container has USER and LOGNAME (getpass.getuser() needs one)', (profile) => {
    for (const { workload, container } of containersOf(renderProfile(profile).documents)) {
      const env = envOf(container);
      expect(env.USER?.value, `${workload} ${container.name}`).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(env.LOGNAME?.value, `${workload} ${container.name}`).toBe(env.USER.value);
    }
  });
});

describe('vLLM: a current release, started with options it has', () => {
  const release = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'vllm-v0.33.0-serve.json'), 'utf8')) as {
    options: string[];
    toolCallParsers: string[];
  };

  it('GIVEN the gpu profile WHEN synthesized THEN vLLM is v0.33.0 and every option it gets is one of that release\'s `vllm serve` options', () => {
    const container = podSpecOf(findObject(renderProfile('gpu').documents, 'Deployment', 'vllm'))!.containers[0];
    expect(container.image).toBe('vllm/vllm-openai:v0.33.0');
    expect(container.command).toEqual(['vllm', 'serve']);
    const options: string[] = container.args.filter((arg: string) => arg.startsWith('--')).map((arg: string) => arg.split('=')[0]);
    expect(options.length).toBeGreaterThan(5);
    for (const option of options) expect(release.options, option).toContain(option);
    const parser = container.args.find((arg: string) => arg.startsWith('--tool-call-parser=')).split('=')[1];
    expect(release.toolCallParsers).toContain(parser);
  });
});

describe('Letta lists vLLM\'s models only at start: a starting pod waits for vLLM', () => {
  it('GIVEN vLLM on WHEN synthesized THEN Letta\'s pod waits for vLLM\'s health within vLLM\'s start-up budget before it migrates and serves', () => {
    const spec = lettaPod(renderProfile('gpu', { vllm: { startupTimeoutSeconds: 1200 } }).documents);
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-database', 'wait-for-models', 'migrate']);
    const env = envOf(spec.initContainers[1]);
    expect(env[WAIT_FOR_MODELS_ENV.healthUrl].value).toBe('http://vllm:8000/health');
    expect(env[WAIT_FOR_MODELS_ENV.waitSeconds].value).toBe('1200');
  });

  describe('wait_for_models.py, run with python3', () => {
    let work: string;
    beforeAll(() => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-wait-'));
      fs.writeFileSync(path.join(work, 'wait_for_models.py'), WAIT_FOR_MODELS_PY);
    });
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

    const waitFor = (url: string, budgetSeconds: number) =>
      runPython([path.join(work, 'wait_for_models.py')], { [WAIT_FOR_MODELS_ENV.healthUrl]: url, [WAIT_FOR_MODELS_ENV.waitSeconds]: String(budgetSeconds) });

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
