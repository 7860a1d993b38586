import { describe, expect, it } from 'vitest';
import { terminatingPod } from './agent-turns';
import { LOCAL_MODEL_VALUES, localModelValues, specDrift, startupSeconds } from './local-model';
import { spansOf } from './traces';
import { loadSettings } from '../../lib/config/load';

/*
 * The pieces of the agent checks that read what the cluster answered: a container as the API
 * server writes it back, a pod's timings, the collector's spans, the pod a rollout replaces.
 */

const synthesized = {
  image: 'vllm/vllm-openai-cpu:v0.32.0',
  command: ['vllm', 'serve'],
  args: ['letta-k8s/tiny-tool-caller', '--port=8000'],
  env: [{ name: 'HF_HOME', value: '/var/cache/models/huggingface' }],
  securityContext: { runAsUser: 10001, readOnlyRootFilesystem: true },
  resources: { limits: { cpu: '2000m', memory: '6144Mi' }, requests: { cpu: '100m', memory: '2048Mi' } },
};

describe('the running vLLM container against dist/', () => {
  it('GIVEN the container as the API server writes quantities back WHEN compared THEN nothing differs', () => {
    const running = { ...synthesized, resources: { requests: { memory: '2Gi', cpu: '100m' }, limits: { memory: '6Gi', cpu: '2' } } };
    expect(specDrift(synthesized, running)).toEqual([]);
  });

  it('GIVEN a container run with other arguments or another user WHEN compared THEN each difference is named', () => {
    const running = { ...synthesized, args: ['letta-k8s/tiny-tool-caller', '--port=9000'], securityContext: { runAsUser: 0, readOnlyRootFilesystem: true } };
    const problems = specDrift(synthesized, running);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^the running container's args is .*--port=9000/);
    expect(problems[1]).toMatch(/^the running container's securityContext/);
  });
});

describe('a pod\'s start-up time', () => {
  it('GIVEN a running container and the Ready condition WHEN read THEN the seconds between them', () => {
    const pod = {
      status: {
        containerStatuses: [{ name: 'vllm', state: { running: { startedAt: '2026-12-05T13:52:00Z' } } }],
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-05T13:53:05Z' }],
      },
    };
    expect(startupSeconds(pod, 'vllm')).toBe(65);
    expect(startupSeconds({ status: { ...pod.status, conditions: [{ type: 'Ready', status: 'False' }] } }, 'vllm')).toBeUndefined();
  });
});

describe('spans at the collector', () => {
  it('GIVEN OTLP JSON lines, one cut by rotation WHEN read THEN every whole span with its service and trace', () => {
    const line = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'letta-server' } }] },
          scopeSpans: [{ spans: [{ name: 'LettaAgentV3._step', traceId: 'a1' }, { name: 'OpenAIClient.request_async', traceId: 'a1' }] }],
        },
      ],
    });
    expect(spansOf(`${line}\n{"resourceSpans": [`)).toEqual([
      { service: 'letta-server', name: 'LettaAgentV3._step', traceId: 'a1' },
      { service: 'letta-server', name: 'OpenAIClient.request_async', traceId: 'a1' },
    ]);
  });
});

describe('the pod a rollout replaces', () => {
  it('GIVEN the old pod marked for deletion beside its successor WHEN looked for THEN the old one', () => {
    const pods = [{ metadata: { name: 'letta-server-new' } }, { metadata: { name: 'letta-server-old', deletionTimestamp: '2026-12-05T13:56:10Z' } }];
    expect(terminatingPod(pods)).toBe('letta-server-old');
    expect(terminatingPod([pods[0]])).toBeUndefined();
  });
});

describe('the run\'s values for vLLM', () => {
  it('GIVEN the product\'s local-model values and a run\'s model over them WHEN loaded over the kind profile THEN vLLM runs on CPUs with the run\'s model', () => {
    const settings = loadSettings({ profile: 'kind', values: localModelValues({ values: { vllm: { model: 'letta-k8s/tiny-tool-caller', offline: true } }, description: 'test' }) });
    expect(settings.vllm).toMatchObject({ enabled: true, device: 'cpu', model: 'letta-k8s/tiny-tool-caller', offline: true, image: 'vllm/vllm-openai-cpu:v0.32.0' });
    expect(LOCAL_MODEL_VALUES.endsWith('lib/profiles/local-model.values.yaml')).toBe(true);
  });
});
