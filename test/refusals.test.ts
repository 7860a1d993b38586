import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/*
 * Every bad case of issue 22 through the real synth entry (the app that `npx cdk8s synth` runs),
 * as a process: the refusal is one line naming the field, the exit status is 1, and dist/ is
 * byte for byte what the previous synthesis wrote.
 */
const root = path.resolve(__dirname, '..');
/** One synth of the app takes about 1 s on an idle machine; a busy one may take many times that. */
const SYNTH_BUDGET_MS = 90_000;
let work: string;
/** What the first synthesis wrote; each case starts from a copy, so one wrong case fails alone. */
let baseline: string;
let baselineChecksum: string;
let dist: string;

function synthEntry(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['lib/app/app-launcher.js'], {
    cwd: root,
    encoding: 'utf8',
    timeout: SYNTH_BUDGET_MS,
    // Without CDK8S_OUTDIR: the entry runs on its own, as it would under the CLI minus the CLI.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LETTA_K8S_DIST: dist, ...env },
  });
  return { status: result.status, stderr: `${result.stderr}${result.error ? `\n${result.error.message}` : ''}` };
}

/** One hash over every file name and content of a folder. */
function checksum(dir: string): string {
  const hash = createHash('sha256');
  for (const file of fs.readdirSync(dir).sort()) hash.update(`${file}\0`).update(fs.readFileSync(path.join(dir, file))).update('\0');
  return hash.digest('hex');
}

function valuesFile(name: string, content: string | Buffer): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, content);
  return file;
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-k8s-refusals-'));
  baseline = dist = path.join(work, 'baseline');
  const first = synthEntry({});
  expect(first.status, first.stderr).toBe(0);
  baselineChecksum = checksum(baseline);
}, SYNTH_BUDGET_MS);

beforeEach(() => {
  dist = fs.mkdtempSync(path.join(work, 'dist-'));
  fs.cpSync(baseline, dist, { recursive: true });
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the synth entry refuses each bad case of issue 22', { timeout: SYNTH_BUDGET_MS + 10_000 }, () => {
  it.each([
    ['empty controller labels', 'kind', 'ingress:\n  controller:\n    namespaceLabels: {}\n    podLabels: {}\n', '  - ingress.controller.namespaceLabels: must name at least one label: an empty selector admits pods of every namespace'],
    [
      'empty data-plane labels',
      'kind',
      'ingress:\n  entry: gateway-api\n  gateway:\n    create: {className: traefik}\n    dataPlane: {namespaceLabels: {a: b}, podLabels: {}}\n',
      '  - ingress.gateway.dataPlane.podLabels: must name at least one label: an empty selector admits every pod of the selected namespaces',
    ],
    ['LETTA_PG_PASSWORD as a provider key', 'kind', 'letta:\n  providerApiKeys:\n    LETTA_PG_PASSWORD: {name: mine, key: pw}\n', '  - letta.providerApiKeys.LETTA_PG_PASSWORD: is reserved: names starting with LETTA_ belong to the stack or change how the server runs'],
    ['LD_PRELOAD as a provider key', 'kind', 'letta:\n  providerApiKeys:\n    LD_PRELOAD: {name: mine, key: so}\n', '  - letta.providerApiKeys.LD_PRELOAD: is reserved: names starting with LD_ belong to the stack or change how the server runs'],
    ['HOME as a provider key', 'kind', 'letta:\n  providerApiKeys:\n    HOME: {name: mine, key: home}\n', '  - letta.providerApiKeys.HOME: is reserved: the stack sets it, or it changes how the server loads, connects or trusts certificates'],
    ['a provider key that is no variable name', 'kind', 'letta:\n  providerApiKeys:\n    openai-key: {name: mine, key: k}\n', '  - letta.providerApiKeys.openai-key: must be an environment variable name (A-Z, 0-9, "_", not starting with a digit) such as OPENAI_API_KEY'],
    ['--port as a separate word in vllm.extraArgs', 'gpu', 'vllm:\n  extraArgs: ["--dtype=half", "--port", "9000"]\n', '  - vllm.extraArgs[1]: must not set --port: the chart sets it (see the vllm settings)'],
    [
      'an http S3 endpoint',
      'gpu',
      'backup:\n  target: s3\n  s3: {endpoint: "http://s3.example.com", bucket: dumps, credentials: {secretName: s3}}\n',
      '  - backup.s3.endpoint: must be https://: over http the database dumps travel in cleartext to a public address; set backup.s3.plainHttp: true only for a store on a network you trust',
    ],
    ['namespace ingress-nginx', 'kind', 'namespace: ingress-nginx\n', '  - namespace: must not be "ingress-nginx": it belongs to the ingress controller or the Gateway (ingress settings);'],
    ['namespace default', 'gpu', 'namespace: default\n', '  - namespace: must not be "default": it belongs to the cluster;'],
    ['the development password in the gpu profile', 'gpu', 'database:\n  credentials:\n    development: true\n', '  - database.credentials.development: must be false in the gpu profile: the development password is public, and only a profile marked "local: true" (kind) may use it; create the Secret database.credentials.secretName instead'],
    ['local: true in a values file', 'gpu', 'local: true\n', '  - local: can be set only by a profile (lib/profiles/*.yaml), not by values'],
    [
      'keys that would reach the object prototype',
      'kind',
      '__proto__:\n  namespace: pwned\nletta:\n  constructor: 1\n  resources:\n    prototype: {}\n',
      ['__proto__', 'letta.constructor', 'letta.resources.prototype'].map((key) => `  - ${key}: is not a setting name (it would reach JavaScript's object prototype)`).join('\n'),
    ],
    ['replicas 2147483648', 'kind', 'letta:\n  replicas: 2147483648\n', '  - letta.replicas: must be at most 2147483647 (a Kubernetes int32)'],
    ['replicas 1e300', 'kind', 'letta:\n  replicas: 1e300\n', '  - letta.replicas: must be at most 2147483647 (a Kubernetes int32)'],
    ['a memory limit of 0Mi', 'kind', 'redis:\n  resources:\n    requests: {memory: 1Ki}\n    limits: {memory: 100Ki}\n', '  - redis.resources.limits.memory: must be at least 1Mi: the manifest writes whole MiB, and this is 0Mi'],
    ['a /dev/shm of 0Mi', 'gpu', 'vllm:\n  shmSize: 1Ki\n', '  - vllm.shmSize: must be at least 1Mi: the manifest writes whole MiB, and this is 0Mi'],
    ['GOMEMLIMIT=0MiB', 'kind', 'telemetry:\n  resources:\n    requests: {memory: 1Mi}\n    limits: {memory: 1Mi}\n', "  - telemetry.resources.limits.memory: must be at least 2Mi: the collector's GOMEMLIMIT is 80% of it in whole MiB, and this gives 0MiB"],
    ['the cron 99 99 99 99 99', 'kind', 'backup:\n  schedule: "99 99 99 99 99"\n', '  - backup.schedule: must be a cron schedule of five fields (minute hour day-of-month month day-of-week) such as "0 3 * * *"; this one minute "99" is outside 0-59'],
    ['the time zone Mars/Olympus_Mons', 'kind', 'backup:\n  timeZone: Mars/Olympus_Mons\n', '  - backup.timeZone: must be an IANA time zone such as Etc/UTC or Europe/Berlin'],
    ['a toleration with Exists and a value', 'gpu', 'vllm:\n  tolerations: [{key: gpu, operator: Exists, value: "yes"}]\n', '  - vllm.tolerations[0].value: must be empty when operator is Exists (it matches any value)'],
    ['a toleration without a key', 'gpu', 'vllm:\n  tolerations: [{value: "yes", effect: NoSchedule}]\n', '  - vllm.tolerations[0].operator: must be Exists when key is empty (a toleration of every taint)'],
    ['a 1 MB model name', 'gpu', `vllm:\n  model: ${'m'.repeat(1000 * 1000)}\n`, '  - vllm.model: must be at most 256 characters'],
  ])('GIVEN %s (%s profile) WHEN synthesized THEN it exits 1 with the lines for the field and dist/ is unchanged', (_case, profile, yaml, lines) => {
    const { status, stderr } = synthEntry({ LETTA_PROFILE: profile, LETTA_VALUES: valuesFile('values.yaml', yaml) });
    expect(status, stderr).toBe(1);
    // Each expected line starts a printed line.
    expect(`\n${stderr}`.includes(`\n${lines}`), stderr.slice(0, 2000)).toBe(true);
    expect(stderr).toContain(`${dist}/ is unchanged`);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(checksum(dist)).toBe(baselineChecksum);
  });

  it.each([
    ['a FIFO', () => { const file = path.join(work, 'values.fifo'); expect(spawnSync('mkfifo', [file]).status).toBe(0); return file; }, 'is not a regular file'],
    ['/dev/zero', () => '/dev/zero', 'is not a regular file'],
    ['a 2 MiB file', () => valuesFile('big.yaml', `# ${'x'.repeat(2 * 1024 * 1024)}\n`), 'is 2097155 bytes; a values file may have at most 1048576'],
    ['bytes that are not UTF-8', () => valuesFile('latin1.yaml', Buffer.from('ingress:\n  host: caf\xe9.example.com\n', 'latin1')), 'is not UTF-8 text'],
  ])('GIVEN %s as LETTA_VALUES WHEN synthesized THEN it exits 1 at once naming the file and dist/ is unchanged', (_case, makeFile, reason) => {
    const file = makeFile();
    const { status, stderr } = synthEntry({ LETTA_VALUES: file });
    expect(status, stderr).toBe(1);
    expect(stderr.split('\n')).toContain(`  - ${file}: ${reason}`);
    expect(checksum(dist)).toBe(baselineChecksum);
  });
});

describe('the synth entry warns about laptop-only settings', { timeout: SYNTH_BUDGET_MS + 10_000 }, () => {
  it('GIVEN the kind profile served as letta.example.com WHEN synthesized THEN it writes dist/ and prints the warning block on stderr', () => {
    const { status, stderr } = synthEntry({ LETTA_VALUES: valuesFile('host.yaml', 'ingress:\n  host: letta.example.com\n') });
    expect(status, stderr).toBe(0);
    expect(stderr.split('\n').slice(0, 4)).toEqual([
      'letta-k8s: WARNING: ingress.host letta.example.com is not a *.localhost name, but these settings are safe only on your own machine:',
      '  - letta.secure: false: no password auth; whoever reaches letta.example.com uses every agent and the provider keys',
      '  - database.credentials.development: true: the database password is the publicly known development one',
      expect.stringMatching(/^letta-k8s: profile kind: wrote \d+ files to /),
    ]);
  });
});
