import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import { findObject, renderProfile } from '../../tools/render';
import { toleratesGpuTaint } from './gpu-cluster';
import { gpuRunValues, readmeGpuCommands, standInPod } from './gpu-profile';
import { pollUntil } from './readiness';
import { isStandIn } from './manifests';
import { podSpecOf } from '../../tools/kube';
import { freePorts } from '../../tools/support';

/*
 * The gpu profile's e2e run, in the parts that need no cluster: the GPU taint the profile must
 * tolerate, the README commands it runs, the values over the profile, and the stand-in it puts
 * where vLLM would run.
 */

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const settings = loadSettings({ profile: 'gpu' });

describe('the gpu run', () => {
  it('GIVEN the gpu profile WHEN its pods are matched against the GPU taint THEN vLLM and the collector tolerate it and Letta does not', () => {
    const { documents } = renderProfile('gpu');
    const tolerates = (kind: string, name: string) => toleratesGpuTaint(podSpecOf(findObject(documents, kind, name)));

    expect([tolerates('Deployment', 'vllm'), tolerates('DaemonSet', 'letta-otel-collector'), tolerates('Deployment', 'letta-server')]).toEqual([true, true, false]);
    expect(toleratesGpuTaint({ tolerations: [{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'other', effect: 'NoSchedule' }] })).toBe(false);
  });

  it('GIVEN README.md WHEN its GPU section is read THEN the commands end with applying dist/ and create every Secret the gpu profile references', () => {
    const commands = readmeGpuCommands(README);
    const referenced = [settings.database.credentials.secretName, settings.letta.serverPassword!.name, settings.vllm.hfToken!.name];

    expect(commands[0]).toBe('LETTA_PROFILE=gpu npx cdk8s synth');
    expect(commands.at(-1)).toBe('kubectl apply -f dist/');
    for (const name of referenced) {
      expect(commands.some((c) => c.startsWith(`kubectl -n ${settings.namespace} create secret generic ${name} `))).toBe(true);
    }
  });

  it('GIVEN a README whose GPU block no longer ends with applying dist/, or without the section WHEN read THEN the run refuses with the reason', () => {
    const edited = README.replace(/kubectl apply -f dist\/\n```/, 'kubectl apply -k dist/\n```');
    expect(() => readmeGpuCommands(edited)).toThrow('the block must end with `kubectl apply -f dist/`');
    expect(() => readmeGpuCommands('# letta-k8s\n')).toThrow('README.md has no section "## Run it on a GPU cluster"');
  });

  it("GIVEN no object store WHEN the gpu run's values are made THEN only vLLM's CPU request changes, and with a store the backups go to its bucket, its keys left to a Secret", () => {
    expect(gpuRunValues(undefined)).toEqual({ vllm: { resources: { requests: { cpu: '100m' } } } });
    const store = { endpoint: 'http://203.0.113.11:9000', bucket: 'letta-backups', accessKeyId: 'key-id-2f9c', secretAccessKey: 'secret-key-81d0a7', container: 'c', dataDir: '/data' };
    const values = gpuRunValues(store);
    expect(values).toMatchObject({ backup: { target: 's3', s3: { endpoint: store.endpoint, bucket: 'letta-backups', credentials: { secretName: 'letta-backup-s3' } } } });
    expect(() => loadSettings({ profile: 'gpu', values })).not.toThrow();
    expect(JSON.stringify(values)).not.toMatch(new RegExp(`${store.accessKeyId}|${store.secretAccessKey}`));
  });
});

describe('the stand-in for vLLM', () => {
  const topology = new Topology(settings);
  const vllm = topology.component('vllm');
  const pod = standInPod(settings, topology);

  it('GIVEN the gpu profile WHEN the stand-in is made THEN the vLLM Service selects it, no ReplicaSet can adopt it, and it asks for no GPU', () => {
    const service = findObject(renderProfile('gpu').documents, 'Service', vllm.name);

    for (const [key, value] of Object.entries(service.spec.selector as Record<string, string>)) expect(pod.metadata.labels[key]).toBe(value);
    expect(isStandIn(pod)).toBe(true);
    expect(isStandIn({ metadata: { labels: { ...vllm.selector, 'pod-template-hash': '657f67b868' } } })).toBe(false);
    expect(pod.metadata.labels['pod-template-hash']).toBeUndefined();
    expect(JSON.stringify(pod.spec.containers[0].resources)).not.toContain('nvidia.com/gpu');
    expect(pod.spec.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  it("GIVEN the stand-in's script WHEN Letta's provider asks it for models THEN it answers as vLLM does, with the model's id and length", async () => {
    const [port] = await freePorts(1);
    const container = pod.spec.containers[0];
    const env = Object.fromEntries((container.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
    const server = spawn('python3', ['-u', '-c', container.command[3]], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    server.stdout.on('data', (chunk) => (output += chunk));
    try {
      const health = await pollUntil(() => fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined), { timeoutMs: 20_000, intervalMs: 200 });
      const models = await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json();

      expect(health?.status).toBe(200);
      expect(models).toMatchObject({ object: 'list', data: [{ id: settings.vllm.servedModelName ?? settings.vllm.model, max_model_len: settings.vllm.maxModelLen }] });
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Every request is logged but the readiness probe's, which would bury them.
      expect(output).toContain('request from 127.0.0.1: "GET /v1/models HTTP/1.1" 200');
      expect(output).not.toContain('/health');
    } finally {
      server.kill();
    }
  }, 60_000);
});
