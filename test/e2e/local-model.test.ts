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

describe('what the cluster answered about vLLM and Letta', () => {
  it.each([
    ['as the API server writes quantities back', { resources: { requests: { memory: '2Gi', cpu: '100m' }, limits: { memory: '6Gi', cpu: '2' } } }, []],
    [
      'run with other arguments and another user',
      { args: ['letta-k8s/tiny-tool-caller', '--port=9000'], securityContext: { runAsUser: 0, readOnlyRootFilesystem: true } },
      [expect.stringMatching(/^the running container's args is .*--port=9000/), expect.stringMatching(/^the running container's securityContext/)],
    ],
  ])('GIVEN the vLLM container %s WHEN compared with dist/ THEN each difference is named, and only those', (_, changes, problems) => {
    expect(specDrift(synthesized, { ...synthesized, ...changes })).toEqual(problems);
  });

  it("GIVEN a pod's running container and its Ready condition WHEN its start-up time is read THEN it is the seconds between them, and none before it is Ready", () => {
    const pod = {
      status: {
        containerStatuses: [{ name: 'vllm', state: { running: { startedAt: '2026-12-05T13:52:00Z' } } }],
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-05T13:53:05Z' }],
      },
    };
    expect(startupSeconds(pod, 'vllm')).toBe(65);
    expect(startupSeconds({ status: { ...pod.status, conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: '2026-12-05T13:52:01Z' }] } }, 'vllm')).toBeUndefined();
  });

  it("GIVEN the collector's OTLP JSON lines, one cut by rotation WHEN read THEN every whole span with its service and trace", () => {
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

  it('GIVEN the old pod marked for deletion beside its successor WHEN the pod a rollout replaces is looked for THEN it is the old one, and none without one', () => {
    const pods = [{ metadata: { name: 'letta-server-new' } }, { metadata: { name: 'letta-server-old', deletionTimestamp: '2026-12-05T13:56:10Z' } }];
    expect(terminatingPod(pods)).toBe('letta-server-old');
    expect(terminatingPod([pods[0]])).toBeUndefined();
  });

  it("GIVEN the product's local-model values and a run's model over them WHEN loaded over the kind profile THEN vLLM runs on CPUs with the run's model", () => {
    const settings = loadSettings({ profile: 'kind', values: localModelValues({ values: { vllm: { model: 'letta-k8s/tiny-tool-caller', offline: true } }, description: 'test' }) });
    expect(settings.vllm).toMatchObject({ enabled: true, device: 'cpu', model: 'letta-k8s/tiny-tool-caller', offline: true, image: 'vllm/vllm-openai-cpu:v0.32.0' });
    // The product's own file, not a copy of it in the tests.
    expect(LOCAL_MODEL_VALUES.endsWith('lib/profiles/local-model.values.yaml')).toBe(true);
  });
});
