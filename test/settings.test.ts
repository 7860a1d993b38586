import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings, mergeValues } from '../lib/config/load';
import { problemsWith } from './support/settings-problems';

describe('settings validation', () => {
  it.each([
    ['an unknown key', { letta: { replica: 2 } }, 'letta.replica: unknown setting'],
    ['a negative replica count', { letta: { replicas: -1 } }, 'letta.replicas: must not be negative'],
    ['a fractional replica count', { letta: { replicas: 1.5 } }, 'letta.replicas: must be a whole number'],
    ['no GPU at all', { vllm: { enabled: true, gpus: 0 } }, 'vllm.gpus: must be at least 1'],
    ['a port out of range', { letta: { internetEgress: { ports: [70000] } } }, 'letta.internetEgress.ports[0]: must be a port number, 1 to 65535'],
    ['an image without a tag', { letta: { image: 'letta/letta' } }, 'letta.image: must be pinned by a tag or a digest'],
    ['an image on latest', { redis: { image: 'redis:latest' } }, 'redis.image: must not use the "latest" tag'],
    ['a malformed image', { database: { image: 'Not An Image:1' } }, 'database.image: must be an image reference'],
    ['a malformed host name', { ingress: { host: 'letta_localhost' } }, 'ingress.host: must be a lowercase RFC 1123 DNS name'],
    ['a malformed quantity', { letta: { resources: { limits: { memory: '4 GB' } } } }, 'letta.resources.limits.memory: must be a Kubernetes quantity'],
    ['a request above its limit', { redis: { resources: { requests: { memory: '1Gi' }, limits: { memory: '256Mi' } } } }, 'redis.resources.requests.memory: must not exceed limits.memory'],
    ['ephemeral storage in part of a Gi', { letta: { resources: { limits: { ephemeralStorage: '512Mi' } } } }, 'letta.resources.limits.ephemeralStorage: must be a whole number of Gi'],
    ['an ephemeral-storage request above its limit', { database: { resources: { requests: { ephemeralStorage: '2Gi' } } } }, 'database.resources.requests.ephemeralStorage: must not exceed limits.ephemeralStorage'],
    ['more Letta replicas without Redis', { letta: { replicas: 2 }, redis: { enabled: false } }, 'redis.enabled: must be true when letta.replicas is 2'],
    ['password auth without a password Secret', { letta: { secure: true } }, 'letta.serverPassword: is required when letta.secure is true'],
    ['database TLS without a TLS Secret', { database: { tls: { mode: 'require' } } }, 'database.tls.secretName: is required when database.tls.mode is require'],
    ['/dev/shm as large as the memory limit', { vllm: { enabled: true, shmSize: '24Gi' } }, 'vllm.shmSize: must be below vllm.resources.limits.memory'],
    ['an invalid namespace', { namespace: 'Letta' }, 'namespace: must be a lowercase RFC 1123 label'],
    ['GPUs for vLLM on CPUs', { vllm: { enabled: true, device: 'cpu', gpus: 1 } }, 'vllm.gpus: must be unset when vllm.device is cpu'],
    ['a GPU runtime for vLLM on CPUs', { vllm: { enabled: true, device: 'cpu', runtimeClassName: 'nvidia' } }, 'vllm.runtimeClassName: must be unset when vllm.device is cpu'],
    ['too little memory for vLLM\'s KV cache on CPUs', { vllm: { enabled: true, device: 'cpu', cpu: { kvCacheSpaceGiB: 8 }, resources: { limits: { memory: '10Gi' } } } }, 'vllm.resources.limits.memory: must be at least 3Gi plus vllm.cpu.kvCacheSpaceGiB (8Gi)'],
    ['a negative drain', { letta: { drainSeconds: -1 } }, 'letta.drainSeconds: must not be negative'],
    ['a drain longer than the stream timeout', { letta: { drainSeconds: 4000 } }, 'letta.drainSeconds: must not exceed ingress.streamTimeoutSeconds (3600)'],
    ['no dump to keep', { backup: { retention: 0 } }, 'backup.retention: must keep at least 1 dump'],
    ['an s3 target without its bucket settings', { backup: { target: 's3' } }, 'backup.s3: is required when backup.target is s3'],
    ['an s3 bucket without a name', { backup: { target: 's3', s3: { endpoint: 'https://s3.example.com', credentials: { secretName: 'k' } } } }, 'backup.s3.bucket: is required (string)'],
    ['an s3 endpoint that is no http(s) URL', { backup: { target: 's3', s3: { endpoint: 'ftp://s3.example.com', bucket: 'b1b', credentials: { secretName: 'k' } } } }, 'backup.s3.endpoint: must be an http(s) URL'],
    ['a pre-migration wait under a minute', { backup: { preMigration: { waitSeconds: 5 } } }, 'backup.preMigration.waitSeconds: must be at least 60 seconds'],
  ])('GIVEN %s WHEN validated THEN the problem names the field and the reason', (_case, values, expected) => {
    const problems = problemsWith(values);
    expect(problems.some((problem) => problem.startsWith(expected))).toBe(true);
  });

  it('GIVEN a fractional GPU count WHEN validated THEN it is one problem with one message', () => {
    expect(problemsWith({ vllm: { gpus: 0.5 } })).toEqual(['vllm.gpus: must be a whole number of GPUs (extended resources cannot be fractional)']);
  });

  it('GIVEN several mistakes WHEN validated THEN each is reported on its own line', () => {
    const problems = problemsWith({ letta: { replicas: -2, bogus: true }, vllm: { gpus: 1.5 }, ingress: { host: 'UPPER' } });
    expect(problems).toHaveLength(4);
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual(['ingress.host', 'letta.bogus', 'letta.replicas', 'vllm.gpus']);
  });

  it('GIVEN an unknown profile WHEN loaded THEN the error names LETTA_PROFILE and the choices', () => {
    expect(() => loadSettings({ profile: 'prod' })).toThrow(/LETTA_PROFILE: unknown profile "prod"; choose one of kind, gpu/);
  });

  // A values file merged over the profile: test/synth-cli.test.ts and the refusals of test/refusals.test.ts.
  it('GIVEN a values file that is not YAML WHEN loaded THEN the error names the file', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'values-')), 'values.yaml');
    fs.writeFileSync(file, 'letta: [unclosed');
    try {
      expect(() => loadSettings({ valuesFile: file })).toThrow(new RegExp(`${file}: not valid YAML`));
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});

describe('values merge (Helm semantics, but null keeps the profile value)', () => {
  it('GIVEN nested maps WHEN merged THEN keys merge, lists replace and null keeps the value below', () => {
    const base = { a: { b: 1, c: [1, 2] }, d: 'keep', e: 'profile' };
    const override = { a: { c: [3] }, e: null, f: null };
    expect(mergeValues(base, override)).toEqual({ a: { b: 1, c: [3] }, d: 'keep', e: 'profile', f: undefined });
  });

  it('GIVEN a null over a profile value WHEN loaded THEN the profile value stays, not the schema default', () => {
    const settings = loadSettings({ profile: 'gpu', values: { letta: { replicas: null }, backup: { enabled: null } } });
    expect(settings.letta.replicas).toBe(2);
    expect(settings.backup.enabled).toBe(true);
  });

  it('GIVEN a null for a key no layer sets WHEN loaded THEN the schema default applies', () => {
    expect(loadSettings({ profile: 'kind', values: { letta: { uvicornWorkers: null, startupTimeoutSeconds: null } } }).letta.startupTimeoutSeconds).toBe(600);
  });
});
