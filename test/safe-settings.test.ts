import { describe, expect, it } from 'vitest';
import { laptopOnlyWarnings, loadSettings } from '../lib/config/load';
import { cronProblem } from '../lib/config/schema';
import { problemsWith } from './support/settings-problems';
import { PROFILES, renderProfile } from '../tools/render';
import { envOf, lettaPod, podOf } from './support/workloads';

const SECRET = { name: 'llm-keys', key: 'key' };

// The refusals that test/refusals.test.ts runs through the synth entry (issue 22) are not repeated here.
describe('settings that would weaken the stack, or that the API server or the component would reject', () => {
  it.each([
    ['an empty controller pod selector', { ingress: { controller: { podLabels: {} } } }, 'ingress.controller.podLabels: must name at least one label'],
    [
      'an empty data-plane selector',
      { ingress: { entry: 'gateway-api', gateway: { create: { className: 'traefik' }, dataPlane: { namespaceLabels: {}, podLabels: { app: 'gw' } } } } },
      'ingress.gateway.dataPlane.namespaceLabels: must name at least one label',
    ],
    ['PYTHONPATH as a provider key', { letta: { providerApiKeys: { PYTHONPATH: SECRET } } }, 'letta.providerApiKeys.PYTHONPATH: is reserved: names starting with PYTHON'],
    ['an owned flag with underscores', { vllm: { extraArgs: ['--max_model_len=4096'] } }, 'vllm.extraArgs[0]: must not set --max-model-len'],
    ['an abbreviated owned flag', { vllm: { extraArgs: ['--ho'] } }, 'vllm.extraArgs[0]: must not set --host'],
    ['the short tensor-parallel flag', { vllm: { extraArgs: ['-tp', '2'] } }, 'vllm.extraArgs[0]: must not set --tensor-parallel-size'],
    ['the model as a flag', { vllm: { extraArgs: ['--model=other/model'] } }, 'vllm.extraArgs[0]: must not set --model'],
    ['another kube- namespace', { namespace: 'kube-flannel' }, 'namespace: must not be "kube-flannel": it belongs to the cluster'],
    [
      'the configured controller namespace',
      { namespace: 'edge', ingress: { controller: { namespaceLabels: { 'kubernetes.io/metadata.name': 'edge' } } } },
      'namespace: must not be "edge": it belongs to the ingress controller',
    ],
    [
      "the Gateway's namespace",
      { namespace: 'gateways', ingress: { entry: 'gateway-api', gateway: { parentRef: { namespace: 'gateways', name: 'gw' }, dataPlane: { namespaceLabels: { a: 'b' }, podLabels: { c: 'd' } } } } },
      'namespace: must not be "gateways": it belongs to the ingress controller or the Gateway',
    ],
    ['a CPU request that is 0m when written', { redis: { resources: { requests: { cpu: '0.0001' } } } }, 'redis.resources.requests.cpu: must be at least 1m'],
    ['a zero volume', { database: { storage: { size: '0Gi' } } }, 'database.storage.size: must be a whole number of Mi, Gi or Ti above zero'],
    ['a quantity JavaScript cannot write exactly', { letta: { resources: { limits: { memory: '99999999999999999999Gi' } } } }, 'letta.resources.limits.memory: must be at most'],
    ['a model name that is a flag', { vllm: { model: '--host=0.0.0.0' } }, 'vllm.model: must not start with "-"'],
  ])('GIVEN %s WHEN validated THEN it is refused, naming the field and the reason', (_case, values, expected) => {
    expect(problemsWith(values)).toContainEqual(expect.stringContaining(expected));
  });

  it.each(PROFILES)('GIVEN each environment variable the letta chart sets in the %s profile WHEN it is a provider key THEN it is refused as reserved', (profile) => {
    const { spec } = lettaPod(renderProfile(profile).documents);
    const names = new Set([...spec.initContainers, ...spec.containers].flatMap((container) => Object.keys(envOf(container))));
    expect(names.size).toBeGreaterThan(5);
    for (const name of names) {
      expect(problemsWith({ letta: { providerApiKeys: { [name]: SECRET } } }), name).toContainEqual(expect.stringMatching(new RegExp(`^letta\\.providerApiKeys\\.${name}: is reserved`)));
    }
  });

  it('GIVEN each flag in the vLLM Deployment of the gpu profile WHEN given in vllm.extraArgs THEN it is refused', () => {
    const flags = (podOf(renderProfile('gpu').documents, 'Deployment', 'vllm').containers[0].args as string[]).filter((arg) => arg.startsWith('--')).map((arg) => arg.split('=')[0]);
    expect(flags).toContain('--host');
    for (const flag of flags) expect(problemsWith({ vllm: { extraArgs: [flag] } }), flag).toContainEqual(expect.stringContaining(`vllm.extraArgs[0]: must not set ${flag}`));
  });

  it.each([
    ['an http S3 endpoint with plainHttp', { backup: { target: 's3', s3: { endpoint: 'http://minio.storage.internal:9000', bucket: 'dumps', plainHttp: true, credentials: { secretName: 's3' } } } }],
    ['extra vLLM arguments the chart does not set', { vllm: { extraArgs: ['--max-num-seqs', '8', '--enforce-eager'] } }],
    ['the largest int32 and a toleration of every taint', { ingress: { streamTimeoutSeconds: 2147483647 }, vllm: { tolerations: [{ operator: 'Exists' }] } }],
  ])('GIVEN %s (gpu profile) WHEN validated THEN it is accepted', (_case, values) => {
    expect(problemsWith(values, 'gpu')).toEqual([]);
  });
});

describe('cron schedules and time zones, as Kubernetes reads them', () => {
  it.each(['0 3 * * *', '*/15 1-5 ? JAN-mar mon,fri', '0,30 0-23/2 1-31 1-12 0-6', '5/10 * * * SUN'])('GIVEN the cron %s WHEN checked THEN it is accepted', (schedule) => {
    expect(cronProblem(schedule)).toBeUndefined();
  });

  it.each([
    ['0 3 * *', 'has 4 fields'],
    ['60 * * * *', 'minute "60" is outside 0-59'],
    ['* 24 * * *', 'hour "24" is outside 0-23'],
    ['* * 0 * *', 'day of month "0" is outside 1-31'],
    ['* * * 13 * ', 'month "13" is outside 1-12'],
    ['* * * * 7', 'day of week "7" is outside 0-6'],
    ['? * * * *', 'minute "?" is outside 0-59'],
    ['* * * * */0', 'day of week "*/0" has a bad step'],
    ['5-1 * * * *', 'minute "5-1" is a range that runs backwards'],
    ['1-2-3 * * * *', 'minute "1-2-3" is outside 0-59'],
    ['* * * FOO *', 'month "FOO" is outside 1-12'],
  ])('GIVEN the cron %s WHEN checked THEN it is refused: %s', (schedule, problem) => {
    expect(cronProblem(schedule)).toBe(problem);
  });

  it('GIVEN each time zone the settings accept WHEN Intl formats a date in it THEN it is accepted there too', () => {
    const zones = [...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC'];
    expect(zones.length).toBeGreaterThan(300);
    for (const timeZone of zones) {
      expect(() => new Intl.DateTimeFormat(undefined, { timeZone }), timeZone).not.toThrow();
      expect(problemsWith({ backup: { timeZone } }), timeZone).toEqual([]);
    }
  });
});

// The warnings themselves, as the synth entry prints them: test/refusals.test.ts.
describe('settings that are safe only on your own machine', () => {
  it.each([
    ['the kind profile on letta.localhost', 'kind', {}],
    ['the gpu profile under a real host name', 'gpu', { ingress: { host: 'letta.example.com' } }],
    ['no entry at all (nothing is served under the host)', 'kind', { ingress: { enabled: false, host: 'letta.example.com' } }],
  ])('GIVEN %s WHEN checked THEN there is no laptop-only warning', (_case, profile, values) => {
    expect(laptopOnlyWarnings(loadSettings({ profile, values }))).toEqual([]);
  });
});
