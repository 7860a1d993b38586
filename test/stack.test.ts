import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_DATABASE_PASSWORD } from '../charts/database/development-credentials';
import { parseQuantity } from '../lib/kit/quantity';
import { DEFAULT_DRAIN_SECONDS } from '../lib/config/schema';
import { COMPONENTS } from '../lib/model/topology';
import { findObject, PROFILES, renderProfile } from '../tools/render';
import { type KubeObject, podSpecOf } from '../tools/kube';
import { containersOf, envOf, lettaPod, podOf, secretBehindFile, workloadsOf } from './support/workloads';

const kind = () => renderProfile('kind');
const gpu = () => renderProfile('gpu');
const names = (documents: readonly KubeObject[]) => documents.map((doc) => `${doc.kind}/${doc.metadata.name}`);
const lettaServer = (documents: readonly KubeObject[]) => lettaPod(documents).server;

describe('the stack as a whole', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN the namespace, enforcing Pod Security "restricted", comes first and policies precede workloads', (profile) => {
    const { files, documents } = renderProfile(profile);
    expect(path.basename(files[0])).toBe('0000-namespace.k8s.yaml');
    const restricted = Object.fromEntries(['enforce', 'warn', 'audit'].map((mode) => [`pod-security.kubernetes.io/${mode}`, 'restricted']));
    expect(documents[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'letta', labels: restricted } });
    const firstWorkload = documents.findIndex((doc) => workloadsOf([doc]).length > 0);
    const lastPolicy = documents.map((doc) => doc.kind).lastIndexOf('NetworkPolicy');
    expect(lastPolicy).toBeLessThan(firstWorkload);
  });

  // By default a tag, which may move, is pulled on every start, a digest only when missing; preloaded images (no registry) want IfNotPresent.
  it.each([['kind', 'unset'], ['gpu', 'unset'], ['gpu', 'IfNotPresent']])('GIVEN the %s profile, a digest-pinned Redis and imagePullPolicy %s WHEN synthesized THEN every container pulls accordingly', (profile, policy) => {
    const imagePullPolicy = policy === 'unset' ? undefined : policy;
    const { documents } = renderProfile(profile, { imagePullPolicy, redis: { image: `redis:7.4.2-alpine@sha256:${'a'.repeat(64)}` } });
    for (const { workload, container } of containersOf(documents)) {
      expect(container.imagePullPolicy, `${workload} ${container.name}`).toBe(imagePullPolicy ?? (container.image.includes('@sha256:') ? 'IfNotPresent' : 'Always'));
    }
  });

  it('GIVEN a custom namespace WHEN synthesized THEN every namespaced object lands in it', () => {
    const { documents } = renderProfile('kind', { namespace: 'agents' });
    for (const doc of documents.filter((d) => d.kind !== 'Namespace')) expect(doc.metadata.namespace, names([doc])[0]).toBe('agents');
    expect(documents.filter((d) => d.kind === 'Namespace').map((d) => d.metadata.name)).toEqual(['agents']);
  });

  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized twice THEN the output is identical (credentials never change)', (profile) => {
    const again = renderProfile(profile, { namespace: 'letta' }); // a different cache key, a fresh synthesis
    expect(again.documents).toEqual(renderProfile(profile).documents);
  });

  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN every object carries the app.kubernetes.io labels', (profile) => {
    for (const doc of renderProfile(profile).documents) {
      expect(doc.metadata.labels, names([doc])[0]).toMatchObject({ 'app.kubernetes.io/part-of': 'letta', 'app.kubernetes.io/managed-by': 'cdk8s' });
    }
  });
});

describe('hardening (Pod Security "restricted")', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN every pod runs non-root, read-only, without privileges, API token or service links, its resources declared and its uid named', (profile) => {
    const { documents } = renderProfile(profile);
    for (const workload of workloadsOf(documents)) {
      const spec = podSpecOf(workload)!;
      expect([spec.automountServiceAccountToken, spec.enableServiceLinks, spec.hostNetwork ?? false], workload.metadata.name).toEqual([false, false, false]);
    }
    for (const { workload, container } of containersOf(documents)) {
      const context = `${workload} ${container.name}`;
      expect(container.securityContext, context).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(container.securityContext.runAsUser, context).toBeGreaterThan(0);
      const set = expect.anything();
      expect(container.resources, context).toMatchObject({ requests: { cpu: set, 'ephemeral-storage': set }, limits: { memory: set, 'ephemeral-storage': set } });
      // The images know no user of that uid, and getpass.getuser() needs a name.
      expect(envOf(container).USER?.value, context).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(envOf(container).LOGNAME?.value, context).toBe(envOf(container).USER.value);
    }
  });

  it.each(PROFILES)("GIVEN the %s profile WHEN synthesized THEN each pod's ephemeral-storage limit exceeds its disk-backed scratch volumes", (profile) => {
    // An absent limit or sizeLimit is unbounded.
    const sum = (quantities: Array<string | undefined>) => quantities.reduce((total, quantity) => total + (quantity ? parseQuantity(quantity)! : Infinity), 0);
    for (const workload of workloadsOf(renderProfile(profile).documents)) {
      const spec = podSpecOf(workload)!;
      const limit = sum(spec.containers.map((container: any) => container.resources.limits['ephemeral-storage']));
      const scratch = sum((spec.volumes ?? []).filter((volume: any) => volume.emptyDir && volume.emptyDir.medium !== 'Memory').map((volume: any) => volume.emptyDir.sizeLimit));
      // The kubelet evicts a pod above the sum of its limits: a scratch volume should reach its own sizeLimit first, with room for logs.
      expect(limit, workload.metadata.name).toBeGreaterThan(scratch);
    }
  });

  it.each(['kind', 'gpu', 'clickhouse'])('GIVEN the %s settings WHEN synthesized THEN no mount lies inside a read-only mount', (variant) => {
    // The runtime cannot create a mount point inside a read-only volume: the pod would not start.
    const clickhouse = { telemetry: { exporter: { type: 'clickhouse', endpoint: 'tcp://ch:9000', password: { name: 'ch', key: 'pw' } } } };
    const documents = variant === 'clickhouse' ? renderProfile('kind', clickhouse).documents : renderProfile(variant).documents;
    for (const { workload, container } of containersOf(documents)) {
      const mounts: Array<{ mountPath: string; readOnly?: boolean }> = container.volumeMounts ?? [];
      for (const outer of mounts.filter((mount) => mount.readOnly)) {
        const nested = mounts.filter((mount) => mount.mountPath.startsWith(`${outer.mountPath}/`));
        expect(nested.map((mount) => mount.mountPath), `${workload} ${container.name} under ${outer.mountPath}`).toEqual([]);
      }
    }
  });
});

describe('secrets', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN no ConfigMap or literal env value holds a credential', (profile) => {
    const { documents } = renderProfile(profile);
    const configMaps = documents.filter((doc) => doc.kind === 'ConfigMap').map((doc) => yaml.dump(doc));
    for (const text of configMaps) expect(text).not.toContain(DEVELOPMENT_DATABASE_PASSWORD);
    for (const { workload, spec, container } of containersOf(documents)) {
      for (const entry of container.env ?? []) {
        const where = `${workload} ${container.name} ${entry.name}`;
        expect(entry.value ?? '', where).not.toContain(DEVELOPMENT_DATABASE_PASSWORD);
        if (!/PASSWORD|KEY|TOKEN|SECRET/.test(entry.name) || entry.name.endsWith('_URI')) continue;
        // A credential is a Secret reference, or the path of a file mounted from a Secret.
        if (/_(FILE|PATH)$/.test(entry.name)) expect(secretBehindFile(spec, container, entry.value), where).toBeDefined();
        else expect(entry.valueFrom?.secretKeyRef, where).toBeDefined();
      }
    }
  });

  it('GIVEN the profiles WHEN synthesized THEN kind creates one Secret, the database\'s, marked as development credentials, and gpu none: its users create them', () => {
    expect(gpu().documents.filter((doc) => doc.kind === 'Secret')).toEqual([]);
    const [secret, ...others] = kind().documents.filter((doc) => doc.kind === 'Secret');
    expect([secret.metadata.name, others]).toEqual(['letta-db-credentials', []]);
    expect(Object.keys(secret.metadata.annotations)).toContain('letta-k8s.dev/development-credentials');
    expect(Object.keys(secret.stringData)).toEqual(['password']);
  });
});

describe('database', () => {
  const statefulSet = () => findObject(kind().documents, 'StatefulSet', COMPONENTS.database.name);

  it('GIVEN storage settings WHEN synthesized THEN the claim template has that size and class and claims are retained', () => {
    const sts = findObject(renderProfile('kind', { database: { storage: { size: '20Gi', storageClassName: 'fast-ssd' } } }).documents, 'StatefulSet', 'letta-db');
    expect(sts.spec).toMatchObject({
      volumeClaimTemplates: [{ spec: { resources: { requests: { storage: '20Gi' } }, storageClassName: 'fast-ssd' } }],
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
    });
  });

  it('GIVEN the init SQL WHEN synthesized THEN it mirrors upstream init.sql: schema, search_path, vector extension, no public', () => {
    const sql: string = findObject(kind().documents, 'ConfigMap', 'letta-db-init').data['init.sql'];
    for (const statement of [
      'CREATE SCHEMA IF NOT EXISTS "letta" AUTHORIZATION "letta";',
      'ALTER DATABASE "letta" SET search_path TO "letta";',
      'CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA "letta";',
      'DROP SCHEMA IF EXISTS public CASCADE;',
    ]) expect(sql).toContain(statement);
    expect(podSpecOf(statefulSet())!.containers[0].volumeMounts).toContainEqual(expect.objectContaining({ mountPath: '/docker-entrypoint-initdb.d', readOnly: true }));
  });

  it('GIVEN the kind profile WHEN synthesized THEN pgvector runs as a StatefulSet behind the headless Service letta-db, its password from the Secret, pg_isready gating readiness, a listening port liveness', () => {
    expect(findObject(kind().documents, 'Service', 'letta-db').spec).toMatchObject({ clusterIP: 'None', ports: [{ name: 'postgres', port: 5432 }] });
    expect(statefulSet().spec.serviceName).toBe('letta-db');
    const spec = podSpecOf(statefulSet())!;
    const container = spec.containers[0];
    expect(secretBehindFile(spec, container, envOf(container).POSTGRES_PASSWORD_FILE.value)).toEqual({ name: 'letta-db-credentials', key: 'password' });
    expect(envOf(container).POSTGRES_PASSWORD).toBeUndefined();
    expect(spec.volumes.find((v: any) => v.secret?.secretName === 'letta-db-credentials').secret.optional ?? false).toBe(false);
    // pg_isready fails during crash recovery: as liveness, it would restart the recovery.
    expect(container.readinessProbe.exec.command[0]).toBe('pg_isready');
    expect(container.livenessProbe).toMatchObject({ tcpSocket: { port: 5432 } });
  });
});

describe('Letta server', () => {
  it.each([
    ['the kind profile', 'kind', {}, { LETTA_REDIS_HOST: 'letta-redis', LETTA_REDIS_PORT: '6379', LETTA_OTEL_EXPORTER_OTLP_ENDPOINT: 'http://letta-otel-collector:4317', VLLM_API_BASE: undefined }],
    ['Redis and telemetry off', 'kind', { redis: { enabled: false }, telemetry: { enabled: false } }, { LETTA_REDIS_HOST: undefined, LETTA_OTEL_EXPORTER_OTLP_ENDPOINT: undefined }],
    // Letta appends /v1 itself.
    ['vLLM on (gpu profile)', 'gpu', {}, { VLLM_API_BASE: 'http://vllm:8000' }],
  ])('GIVEN %s WHEN synthesized THEN Letta is pointed at the shared Redis, the node-local collector and vLLM only where they run', (_case, profile, values, expected) => {
    const env = envOf(lettaServer(renderProfile(profile, values).documents));
    for (const [name, value] of Object.entries(expected)) expect(env[name]?.value, name).toBe(value);
  });

  it('GIVEN the profiles WHEN synthesized THEN password auth is off on kind and on (from a Secret) on gpu', () => {
    expect(lettaServer(kind().documents).command).not.toContain('--secure');
    expect(envOf(lettaServer(kind().documents)).LETTA_SERVER_PASSWORD).toBeUndefined();
    const server = lettaServer(gpu().documents);
    expect(server.command).toContain('--secure');
    expect(envOf(server).LETTA_SERVER_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'letta-server', key: 'password' });
  });

  it('GIVEN provider keys and CORS origins WHEN synthesized THEN keys come from Secrets and origins form ACCEPTABLE_ORIGINS', () => {
    const { documents } = renderProfile('kind', {
      letta: {
        providerApiKeys: { OPENAI_API_KEY: { name: 'llm-keys', key: 'openai' }, ANTHROPIC_API_KEY: { name: 'llm-keys', key: 'anthropic' } },
        corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      },
    });
    expect(envOf(lettaServer(documents))).toMatchObject({
      OPENAI_API_KEY: { valueFrom: { secretKeyRef: { name: 'llm-keys', key: 'openai' } } },
      ANTHROPIC_API_KEY: { valueFrom: { secretKeyRef: { name: 'llm-keys', key: 'anthropic' } } },
      ACCEPTABLE_ORIGINS: { value: 'https://app.example.com,http://localhost:3000' },
    });
  });

  it('GIVEN the pod WHEN synthesized THEN it waits for a healthy database, then migrates, then serves', () => {
    const { spec } = lettaPod(kind().documents);
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-database', 'migrate']);
    expect(spec.initContainers[0].command.join(' ')).toContain('pg_isready -h letta-db -p 5432');
    expect(spec.initContainers[1].command.at(-1)).toBe('/opt/letta-k8s/migrate.py');
    expect(findObject(kind().documents, 'ConfigMap', 'letta-server-scripts').data['migrate.py']).toContain('command.upgrade(config, "head")');
    // The server itself starts without startup.sh, which would migrate again without the lock.
    expect(lettaServer(kind().documents).command.slice(3, 5)).toEqual(['letta', 'server']);
  });

  it('GIVEN the server WHEN synthesized THEN it serves 8283 behind the Service letta-server, /v1/health/ drives startup with a migration budget, /v1/ready/ readiness, the open port liveness', () => {
    const { documents } = renderProfile('kind', { letta: { startupTimeoutSeconds: 900 } });
    expect(findObject(documents, 'Service', 'letta-server').spec.ports).toEqual([expect.objectContaining({ name: 'http', port: 8283 })]);
    const server = lettaServer(documents);
    // /v1/ready/ answers 503 until start-up completed only with enforcement on.
    expect(server).toMatchObject({
      startupProbe: { httpGet: { path: '/v1/health/', port: 8283 } },
      readinessProbe: { httpGet: { path: '/v1/ready/', port: 8283 } },
      livenessProbe: { tcpSocket: { port: 8283 } },
    });
    expect(envOf(server).LETTA_READINESS_ENFORCEMENT_ENABLED.value).toBe('true');
    expect(server.startupProbe.periodSeconds * server.startupProbe.failureThreshold).toBe(900);
  });

  it('GIVEN the drain budget WHEN synthesized THEN a stopping server may drain its streams that long after a pause in which it keeps serving, within the stream timeout', () => {
    const graceOf = (values: unknown) => {
      const { spec, server } = lettaPod(renderProfile('kind', values).documents);
      return { grace: spec.terminationGracePeriodSeconds, pause: Number(server.lifecycle.preStop.exec.command[1]) };
    };
    const byDefault = graceOf({});
    expect(byDefault.pause).toBeGreaterThan(0);
    expect(byDefault.grace).toBe(byDefault.pause + DEFAULT_DRAIN_SECONDS);
    // Never longer than the ingress keeps a silent stream open.
    expect(graceOf({ ingress: { streamTimeoutSeconds: 120 } }).grace).toBe(byDefault.pause + 120);
    expect(graceOf({ letta: { drainSeconds: 1800 } }).grace).toBe(byDefault.pause + 1800);
  });

  it('GIVEN one replica (kind) or two (gpu) WHEN synthesized THEN a disruption budget exists only for two', () => {
    expect(kind().documents.filter((doc) => doc.kind === 'PodDisruptionBudget')).toEqual([]);
    const { maxUnavailable, selector } = findObject(gpu().documents, 'PodDisruptionBudget', 'letta-server').spec;
    expect([maxUnavailable, selector]).toEqual([1, findObject(gpu().documents, 'Deployment', 'letta-server').spec.selector]);
  });
});

describe('Redis', () => {
  it('GIVEN Redis on WHEN synthesized THEN it persists append-only and answers redis-cli ping', () => {
    const container = podOf(kind().documents, 'Deployment', 'letta-redis').containers[0];
    expect(container.args).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    // Letta connects without a password from another pod, which protected mode refuses.
    expect(container.args.join(' ')).toContain('--protected-mode no');
    expect(container.readinessProbe.exec.command).toEqual(['redis-cli', '-p', '6379', 'ping']);
    expect(findObject(kind().documents, 'Service', 'letta-redis').spec.ports[0]).toMatchObject({ port: 6379 });
  });
});

describe('ingress', () => {
  it('GIVEN the kind profile WHEN synthesized THEN letta.localhost routes to letta-server with stream-friendly annotations', () => {
    const ingress = findObject(kind().documents, 'Ingress', 'letta-server');
    expect(ingress.spec).toMatchObject({
      ingressClassName: 'nginx',
      rules: [{ host: 'letta.localhost', http: { paths: [{ backend: { service: { name: 'letta-server', port: { name: 'http' } } } }] } }],
    });
    const timeouts = { 'proxy-read-timeout': '3600', 'proxy-send-timeout': '3600', 'proxy-buffering': 'off', 'proxy-body-size': '100m' };
    expect(ingress.metadata.annotations).toMatchObject(Object.fromEntries(Object.entries(timeouts).map(([key, value]) => [`nginx.ingress.kubernetes.io/${key}`, value])));
    for (const value of Object.values(ingress.metadata.annotations)) expect(typeof value).toBe('string');
    expect(Object.keys(ingress.metadata.annotations).some((key) => key.includes('snippet'))).toBe(false);
  });

  it('GIVEN a TLS secret WHEN synthesized THEN the host is served with it', () => {
    const ingress = findObject(renderProfile('kind', { ingress: { host: 'letta.example.com', tlsSecretName: 'letta-tls' } }).documents, 'Ingress', 'letta-server');
    expect(ingress.spec.tls).toEqual([{ hosts: ['letta.example.com'], secretName: 'letta-tls' }]);
  });
});

describe('OpenTelemetry Collector', () => {
  const collectorConfigOf = (documents: readonly KubeObject[]) => yaml.load(findObject(documents, 'ConfigMap', 'letta-otel-collector').data['config.yaml']) as any;
  /** The Secret key behind a ${file:...} reference of the collector config. */
  const secretBehindReference = (documents: readonly KubeObject[], reference: string) => {
    const spec = podOf(documents, 'DaemonSet', 'letta-otel-collector');
    return secretBehindFile(spec, spec.containers[0], /^\$\{file:(.+)\}$/.exec(reference)![1]);
  };

  it('GIVEN the kind profile WHEN synthesized THEN a DaemonSet on every node receives OTLP, writes a file, and serves the clients of its own node', () => {
    const spec = podOf(kind().documents, 'DaemonSet', 'letta-otel-collector');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(collectorConfigOf(kind().documents)).toMatchObject({
      receivers: { otlp: { protocols: { grpc: { endpoint: '0.0.0.0:4317' }, http: { endpoint: '0.0.0.0:4318' } } } },
      service: { pipelines: { traces: { receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['file'] } } },
      extensions: { health_check: { endpoint: '0.0.0.0:13133' } },
    });
    expect(spec.containers[0].readinessProbe.httpGet.port).toBe(13133);
    expect(envOf(spec.containers[0]).GOMEMLIMIT.value).toBe('409MiB');
    expect(findObject(kind().documents, 'Service', 'letta-otel-collector').spec.internalTrafficPolicy).toBe('Local');
  });

  it.each<[string, Record<string, any>, string, object, (exporter: any) => string]>([
    ['ClickHouse', { type: 'clickhouse', endpoint: 'tcp://clickhouse.example.com:9440', password: { name: 'ch', key: 'password' } }, 'clickhouse', { database: 'otel' }, (exporter) => exporter.password],
    ['SigNoz', { type: 'signoz', endpoint: 'ingest.eu.signoz.cloud:443', ingestionKey: { name: 'signoz', key: 'key' } }, 'otlp/signoz', {}, (exporter) => exporter.headers['signoz-ingestion-key']],
  ])('GIVEN the %s exporter WHEN synthesized THEN traces go to its endpoint, with the credential as a file from its Secret', (_case, settings, name, options, credentialOf) => {
    const { documents } = renderProfile('kind', { telemetry: { exporter: settings } });
    const config = collectorConfigOf(documents);
    expect(config).toMatchObject({ exporters: { [name]: { endpoint: settings.endpoint, ...options } }, service: { pipelines: { traces: { exporters: [name] } } } });
    expect(secretBehindReference(documents, credentialOf(config.exporters[name]))).toEqual(settings.password ?? settings.ingestionKey);
  });
});

describe('vLLM', () => {
  const vllm = (documents: readonly KubeObject[]) => podOf(documents, 'Deployment', 'vllm');

  it('GIVEN the kind profile WHEN synthesized THEN there is no vLLM at all', () => {
    expect(kind().documents.filter((doc) => doc.metadata.name.startsWith('vllm'))).toEqual([]);
  });

  it('GIVEN two GPUs, a GPU runtime and a load budget WHEN synthesized THEN requests equal limits, tensor parallelism matches, and the startup probe allows the budget before liveness', () => {
    const spec = vllm(renderProfile('gpu', { vllm: { gpus: 2, runtimeClassName: 'nvidia', startupTimeoutSeconds: 3600 } }).documents);
    const { resources, args, startupProbe, livenessProbe } = spec.containers[0];
    expect([resources.limits['nvidia.com/gpu'], resources.requests['nvidia.com/gpu']].map(String)).toEqual(['2', '2']);
    expect(args).toContain('--tensor-parallel-size=2');
    expect(spec.runtimeClassName).toBe('nvidia');
    expect(startupProbe.httpGet).toMatchObject({ path: '/health', port: 8000 });
    expect(startupProbe.periodSeconds * startupProbe.failureThreshold).toBe(3600);
    expect(livenessProbe.initialDelaySeconds ?? 0).toBe(0);
  });

  it('GIVEN the gpu profile WHEN synthesized THEN vLLM is scheduled on GPU nodes and tolerates their taint', () => {
    const spec = vllm(gpu().documents);
    expect(spec).toMatchObject({ nodeSelector: { 'nvidia.com/gpu.present': 'true' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] });
    expect(spec.runtimeClassName).toBeUndefined();
    expect(findObject(gpu().documents, 'Deployment', 'vllm').spec.strategy.type).toBe('Recreate');
  });

  it('GIVEN the gpu profile WHEN synthesized THEN /dev/shm is memory-backed and the model cache is a claim under HF_HOME', () => {
    const spec = vllm(gpu().documents);
    const container = spec.containers[0];
    const volumeAt = (mountPath: string) => spec.volumes.find((v: any) => v.name === container.volumeMounts.find((m: any) => m.mountPath === mountPath).name);
    expect(volumeAt('/dev/shm').emptyDir).toEqual({ medium: 'Memory', sizeLimit: '2048Mi' });
    expect(findObject(gpu().documents, 'PersistentVolumeClaim', volumeAt('/var/cache/models').persistentVolumeClaim.claimName).spec.resources.requests.storage).toBe('50Gi');
    expect(envOf(container).HF_HOME.value).toBe('/var/cache/models/huggingface');
    expect(secretBehindFile(spec, container, envOf(container).HF_TOKEN_PATH.value)).toEqual({ name: 'letta-hf-token', key: 'token' });
    // Public models need no token: the pod must start without that Secret.
    expect(spec.volumes.find((v: any) => v.secret?.secretName === 'letta-hf-token').secret.optional).toBe(true);
  });

  describe('on CPUs (device cpu)', () => {
    const cpuValues = { vllm: { enabled: true, device: 'cpu', dtype: 'float32', cpu: { kvCacheSpaceGiB: 2 }, resources: { requests: { cpu: '1', memory: '6Gi' }, limits: { memory: '8Gi' } } } };
    const cpu = () => vllm(renderProfile('kind', cpuValues).documents);

    it('GIVEN device cpu WHEN synthesized THEN upstream\'s CPU image runs with no GPU request, GPU node selector, toleration or runtime', () => {
      const spec = cpu();
      const container = spec.containers[0];
      expect(container.image).toMatch(/^vllm\/vllm-openai-cpu:/);
      expect([...Object.keys(container.resources.limits), ...Object.keys(container.resources.requests)]).not.toContain('nvidia.com/gpu');
      expect([spec.nodeSelector, spec.tolerations, spec.runtimeClassName]).toEqual([undefined, undefined, undefined]);
      expect(container.args.some((arg: string) => arg.startsWith('--tensor-parallel-size'))).toBe(false);
    });

    it('GIVEN device cpu WHEN synthesized THEN the KV cache size and dtype reach vLLM, threads are not pinned, compile caches live on the claim', () => {
      const container = cpu().containers[0];
      const env = envOf(container);
      expect(env).toMatchObject({ VLLM_CPU_KVCACHE_SPACE: { value: '2' }, VLLM_CPU_OMP_THREADS_BIND: { value: 'nobind' } });
      expect(container.args).toContain('--dtype=float32');
      const claimMount = container.volumeMounts.find((m: any) => m.name === 'model-cache').mountPath;
      for (const cache of ['VLLM_CACHE_ROOT', 'TORCHINDUCTOR_CACHE_DIR']) expect(env[cache].value.startsWith(`${claimMount}/`)).toBe(true);
    });

    it('GIVEN device cpu WHEN synthesized THEN the Service, probes and start-up budget are those of the GPU server', () => {
      const container = cpu().containers[0];
      const gpuContainer = vllm(gpu().documents).containers[0];
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(container[probe]).toEqual(gpuContainer[probe]);
      expect(findObject(renderProfile('kind', cpuValues).documents, 'Service', 'vllm').spec.ports).toEqual(findObject(gpu().documents, 'Service', 'vllm').spec.ports);
    });

    it('GIVEN offline WHEN synthesized THEN the hub is never asked and vLLM gets no way out', () => {
      const values = { vllm: { ...cpuValues.vllm, offline: true } };
      const documents = renderProfile('kind', values).documents;
      expect(envOf(vllm(documents).containers[0]).HF_HUB_OFFLINE.value).toBe('1');
      const egress = documents.filter((doc) => doc.kind === 'NetworkPolicy' && doc.metadata.name.startsWith('vllm')).flatMap((doc: any) => doc.spec.egress ?? []);
      expect(JSON.stringify(egress)).not.toContain('0.0.0.0/0');
    });
  });
});
