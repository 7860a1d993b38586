import { z } from 'zod';
import { pinnedByDigest } from '../kit/image-reference';
import { parseQuantity, QUANTITY_PATTERN, toGoMemLimit } from '../kit/quantity';
import { ownedVllmFlag } from '../model/vllm-args';

/*
 * The settings schema: the single definition of every setting a profile or values file may carry.
 * Defaults here are the base that lib/profiles/*.yaml override (SETTINGS.md shows both). The settings
 * reference (SETTINGS.md) and the editor schema (values.schema.json) are generated from it.
 */

// RFC 1123 label: Namespace and Service names.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// RFC 1123 subdomain: Secret names, host names.
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// [registry[:port]/]path:tag or ...@sha256:digest. A tag or a digest is required.
const IMAGE_REFERENCE =
  /^(?:[a-z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

const dnsLabel = z.string().regex(DNS_LABEL, 'must be a lowercase RFC 1123 label (a-z, 0-9, "-", at most 63 characters)');
const dnsSubdomain = z.string().regex(DNS_SUBDOMAIN, 'must be a lowercase RFC 1123 DNS name (e.g. letta.example.com)');

const image = z
  .string()
  .regex(IMAGE_REFERENCE, 'must be an image reference such as "repository/name:1.2.3"')
  .refine((ref) => /:[^/]+$/.test(ref.split('@')[0]) || pinnedByDigest(ref), 'must be pinned by a tag or a digest')
  .refine((ref) => !/:latest(@|$)/.test(ref), 'must not use the "latest" tag: pin a version')
  .describe('Container image, pinned by version tag or digest');

// Manifests carry quantities as JavaScript writes numbers; above this, it writes them inexactly or
// with an exponent ("1e+21Mi") that Kubernetes rejects.
const LARGEST_EXACT = Number.MAX_SAFE_INTEGER;
const quantity = z
  .string()
  .regex(QUANTITY_PATTERN, 'must be a Kubernetes quantity such as "500m", "1", "512Mi" or "2Gi"')
  .refine((text) => (parseQuantity(text) ?? 0) <= LARGEST_EXACT, `must be at most ${LARGEST_EXACT} (cores or bytes)`);

const labels = z.record(
  z.string().regex(LABEL_KEY, 'must be a valid label key'),
  z.string().regex(LABEL_VALUE, 'must be a valid label value'),
);
/** Labels that select a NetworkPolicy peer: an empty selector would select every pod or namespace. */
const peerLabels = (what: string) =>
  labels.refine((map) => Object.keys(map).length > 0, `must name at least one label: an empty selector admits ${what}`);

const storage = z
  .string()
  .regex(/^[1-9][0-9]*(Mi|Gi|Ti)$/, 'must be a whole number of Mi, Gi or Ti above zero, such as "10Gi"')
  .refine((text) => (parseQuantity(text) ?? 0) <= LARGEST_EXACT, `must be at most ${LARGEST_EXACT} bytes`);

// Replicas, ports, probe thresholds and the like are int32 in the Kubernetes API.
const INT32_MAX = 2_147_483_647;

/**
 * A whole number that fits an int32. Not z.number().int(): its failure aborts the cross-field
 * checks below, and one run should report every problem.
 */
const wholeNumber = (message = 'must be a whole number') =>
  z
    .number()
    .refine(Number.isInteger, message)
    .max(INT32_MAX, `must be at most ${INT32_MAX} (a Kubernetes int32)`)
    .meta({ type: 'integer' });

const port = wholeNumber().min(1, 'must be a port number, 1 to 65535').max(65535, 'must be a port number, 1 to 65535');

/** A key of a Secret that the user creates in the stack's namespace. */
const secretKeyRef = z
  .strictObject({
    name: dnsSubdomain.describe('Name of the Secret in the stack namespace'),
    key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a valid Secret key').describe('Key within the Secret'),
  })
  .describe('Reference to a key of an existing Secret');

// Whole GiB: cdk8s-plus writes ephemeral storage only in Gi.
const ephemeralStorage = z.string().regex(/^[1-9][0-9]{0,9}Gi$/, 'must be a whole number of Gi above zero, such as "2Gi"');

interface ResourceDefaults {
  readonly cpu: string;
  readonly memory: string;
  readonly ephemeralStorage: string;
  readonly cpuLimit: string;
  readonly memoryLimit: string;
  readonly ephemeralStorageLimit: string;
}

const resources = (defaults: ResourceDefaults) =>
  z
    .strictObject({
      requests: z
        .strictObject({
          cpu: quantity.default(defaults.cpu).describe('CPU request'),
          memory: quantity.default(defaults.memory).describe('Memory request'),
          ephemeralStorage: ephemeralStorage.default(defaults.ephemeralStorage).describe('Local disk request (ephemeral-storage, whole Gi)'),
        })
        .prefault({}),
      limits: z
        .strictObject({
          // Namespaces with a quota on limits.cpu admit no pod without one.
          cpu: quantity.default(defaults.cpuLimit).describe('CPU limit'),
          memory: quantity.default(defaults.memoryLimit).describe('Memory limit'),
          // The kubelet evicts the pod above it; it must cover the container's disk-backed scratch volumes and its logs.
          ephemeralStorage: ephemeralStorage
            .default(defaults.ephemeralStorageLimit)
            .describe('Local disk limit (ephemeral-storage, whole Gi): scratch volumes and logs'),
        })
        .prefault({}),
    })
    .prefault({})
    .superRefine((value, ctx) => {
      // The manifests carry CPU in whole millicores and memory in whole MiB (lib/kit/resources.ts).
      for (const side of ['requests', 'limits'] as const) {
        const cpu = parseQuantity(value[side].cpu);
        if (cpu !== undefined && Math.round(cpu * 1000) === 0) {
          ctx.addIssue({ code: 'custom', path: [side, 'cpu'], message: 'must be at least 1m: the manifest writes whole millicores, and this is 0m' });
        }
        const memory = parseQuantity(value[side].memory);
        if (memory !== undefined && Math.round(memory / 1024 ** 2) === 0) {
          ctx.addIssue({ code: 'custom', path: [side, 'memory'], message: 'must be at least 1Mi: the manifest writes whole MiB, and this is 0Mi' });
        }
      }
      for (const resource of ['cpu', 'memory', 'ephemeralStorage'] as const) {
        const request = parseQuantity(value.requests[resource]);
        const limitText = value.limits[resource];
        const limit = parseQuantity(limitText);
        if (request !== undefined && limit !== undefined && request > limit) {
          ctx.addIssue({
            code: 'custom',
            path: ['requests', resource],
            message: `must not exceed limits.${resource} (${limitText})`,
          });
        }
      }
    })
    .describe('Container resources');

/*
 * Names a provider key must not take: each is either set by the stack in the server container
 * (a provider key would silently replace it) or changes how the server's programs load, connect or
 * trust certificates. test/safe-settings.test.ts checks that every variable the letta chart sets is here.
 */
const RESERVED_ENV_NAMES = new Set([
  'HOME', 'USER', 'LOGNAME', 'PATH', 'SHELL', 'TMPDIR', 'NLTK_DATA', 'VLLM_API_BASE', 'ACCEPTABLE_ORIGINS',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY',
]);
const RESERVED_ENV_PREFIXES = ['LETTA_', 'LD_', 'PYTHON', 'PG', 'OTEL_', 'KUBERNETES_'];

const providerApiKeys = z
  .record(z.string(), secretKeyRef)
  .superRefine((keys, ctx) => {
    for (const name of Object.keys(keys)) {
      const prefix = RESERVED_ENV_PREFIXES.find((reserved) => name.startsWith(reserved));
      const problem = !ENV_NAME.test(name)
        ? 'must be an environment variable name (A-Z, 0-9, "_", not starting with a digit) such as OPENAI_API_KEY'
        : RESERVED_ENV_NAMES.has(name)
          ? 'is reserved: the stack sets it, or it changes how the server loads, connects or trusts certificates'
          : prefix
            ? `is reserved: names starting with ${prefix} belong to the stack or change how the server runs`
            : undefined;
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  });

const internetEgress = (enabled: boolean, purpose: string) =>
  z
    .strictObject({
      enabled: z.boolean().default(enabled).describe(`Allow connections to public addresses (${purpose})`),
      ports: z.array(port).min(1, 'must list at least one port').default([443]).describe('TCP ports allowed to public addresses'),
    })
    .prefault({})
    .describe(`Egress to the internet (public IPv4 only; never private ranges or the cluster): ${purpose}`);

/**
 * Letta's default drain: an agent run of many steps, held tools included (Letta's tool sandbox
 * gives a tool 180 s). Not the stream timeout itself: Kubernetes' namespace deletion waits for the
 * longest grace period of the pods it deleted, whether they exited or not (measured: 3610 s of
 * grace held `kubectl delete namespace` for an hour), and Redis lets a cut stream resume.
 */
export const DEFAULT_DRAIN_SECONDS = 300;

const letta = z
  .strictObject({
    image: image.default('letta/letta:0.16.8'),
    replicas: wholeNumber().min(0, 'must not be negative').default(1).describe('Letta server replicas'),
    secure: z.boolean().default(false).describe('Password auth (SECURE=true); clients send "Authorization: Bearer <password>"'),
    serverPassword: secretKeyRef.optional().describe('Secret key holding LETTA_SERVER_PASSWORD; required when secure is true'),
    encryptionKey: secretKeyRef.optional().describe('Secret key holding LETTA_ENCRYPTION_KEY'),
    providerApiKeys: providerApiKeys
      .default({})
      .describe('LLM provider keys: environment variable name -> Secret key (e.g. OPENAI_API_KEY)'),
    corsOrigins: z
      .array(z.url({ protocol: /^https?$/, error: 'must be an http(s) origin such as https://app.example.com' }))
      .default([])
      .describe('Extra CORS origins (ACCEPTABLE_ORIGINS)'),
    uvicornWorkers: wholeNumber().min(1, 'must be at least 1').optional().describe('LETTA_UVICORN_WORKERS'),
    startupTimeoutSeconds: wholeNumber()
      .min(30, 'must be at least 30 seconds')
      .default(600)
      .describe('How long the server may take to start (first start runs migrations)'),
    migrationLockWaitSeconds: wholeNumber()
      .min(30, 'must be at least 30 seconds')
      .default(600)
      .describe('How long a starting pod waits for another pod\'s migration before its migrate container fails and is retried'),
    drainSeconds: wholeNumber()
      .min(0, 'must not be negative')
      .optional()
      .describe(
        `How long a stopping server may finish its open requests and agent streams once it has left the Service; at most ingress.streamTimeoutSeconds (unset: ${DEFAULT_DRAIN_SECONDS}, or the stream timeout if shorter). Deleting the namespace waits this long too`,
      ),
    resources: resources({ cpu: '500m', memory: '1Gi', ephemeralStorage: '1Gi', cpuLimit: '2', memoryLimit: '4Gi', ephemeralStorageLimit: '2Gi' }),
    internetEgress: internetEgress(true, 'LLM provider APIs'),
  })
  .prefault({})
  .describe('The Letta agent server');

const database = z
  .strictObject({
    image: image.default('pgvector/pgvector:0.8.1-pg15'),
    databaseName: dnsLabel.default('letta').describe('Database (and schema) name'),
    user: dnsLabel.default('letta').describe('Database owner'),
    credentials: z
      .strictObject({
        secretName: dnsSubdomain.default('letta-db-credentials').describe('Secret with key "password" (URL-safe characters only)'),
        development: z
          .boolean()
          .default(false)
          .describe('Create the Secret with fixed, publicly known development credentials; only a profile marked `local: true` (kind) may'),
      })
      .prefault({}),
    tls: z
      .strictObject({
        mode: z
          .enum(['disable', 'require', 'verify-full'])
          .default('disable')
          .describe('TLS of Letta\'s database connections: disable, require (encrypted, unverified) or verify-full (CA and host name checked)'),
        secretName: dnsSubdomain
          .optional()
          .describe('TLS Secret (tls.crt, tls.key, ca.crt) that Postgres serves; required unless mode is disable'),
      })
      .prefault({})
      .describe('TLS between Letta and Postgres'),
    storage: z
      .strictObject({
        size: storage.default('10Gi').describe('Volume size per replica'),
        storageClassName: dnsSubdomain.optional().describe('StorageClass (unset: the cluster default)'),
      })
      .prefault({}),
    resources: resources({ cpu: '250m', memory: '512Mi', ephemeralStorage: '1Gi', cpuLimit: '2', memoryLimit: '2Gi', ephemeralStorageLimit: '1Gi' }),
  })
  .prefault({})
  .describe('pgvector Postgres (StatefulSet)');

const redis = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Deploy Redis; required when letta.replicas > 1'),
    image: image.default('redis:7.4.2-alpine'),
    resources: resources({ cpu: '50m', memory: '64Mi', ephemeralStorage: '1Gi', cpuLimit: '500m', memoryLimit: '256Mi', ephemeralStorageLimit: '2Gi' }),
  })
  .prefault({})
  .describe('Redis (stream resumption and conversation locks)');

const gateway = z
  .strictObject({
    parentRef: z
      .strictObject({
        namespace: dnsLabel.describe("The Gateway's namespace"),
        name: dnsSubdomain.describe("The Gateway's name"),
        // The spec's SectionName is an RFC 1123 subdomain.
        sectionName: dnsSubdomain.optional().describe('The listener to attach to (unset: every listener that admits the route)'),
      })
      .optional()
      .describe('An existing Gateway the HTTPRoute attaches to; it must admit routes from the stack namespace'),
    create: z
      .strictObject({
        className: dnsSubdomain.describe('The GatewayClass of the Gateway this stack creates'),
      })
      .optional()
      .describe('Create a Gateway for the host in the stack namespace instead (HTTP on 80, or HTTPS on 443 with ingress.tlsSecretName)'),
    dataPlane: z
      .strictObject({
        namespaceLabels: peerLabels('pods of every namespace').describe("Labels of the namespace of the Gateway's data-plane pods"),
        podLabels: peerLabels('every pod of the selected namespaces').describe("Labels of the Gateway's data-plane pods"),
      })
      .optional()
      .describe("Where the Gateway's data-plane pods run (NetworkPolicy peer of Letta's port); required with gateway-api"),
  })
  .prefault({})
  .describe('Gateway API entry (ingress.entry gateway-api)');

const ingress = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Bring outside traffic to Letta (an Ingress or an HTTPRoute)'),
    entry: z
      .enum(['ingress-nginx', 'gateway-api'])
      .default('ingress-nginx')
      .describe('What brings traffic in: an ingress-nginx Ingress, or a Gateway API v1 HTTPRoute'),
    className: dnsSubdomain.default('nginx').describe('IngressClass (ingress-nginx entry)'),
    host: dnsSubdomain.default('letta.localhost').describe('Host name served'),
    tlsSecretName: dnsSubdomain.optional().describe('TLS Secret for the host (unset: plain HTTP)'),
    streamTimeoutSeconds: wholeNumber()
      .min(60, 'must be at least 60 seconds')
      .default(3600)
      .describe('Proxy read/send timeout: how long an idle SSE or WebSocket stream stays open'),
    maxBodySize: z
      .string()
      .regex(/^[0-9]+[kmg]?$/, 'must be an nginx size such as "100m"')
      .default('100m')
      .describe('Largest request body (file uploads)'),
    controller: z
      .strictObject({
        namespaceLabels: peerLabels('pods of every namespace')
          .default({ 'kubernetes.io/metadata.name': 'ingress-nginx' })
          .describe('Labels of the ingress controller namespace'),
        podLabels: peerLabels('every pod of the selected namespaces')
          .default({ 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' })
          .describe('Labels of the ingress controller pods'),
      })
      .prefault({})
      .describe('Where the ingress-nginx controller runs (NetworkPolicy peer)'),
    gateway,
  })
  .prefault({})
  .describe('The entry: an ingress-nginx Ingress or a Gateway API HTTPRoute');

const exporter = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('file').describe('Write traces to a rotating JSON file in the collector pod') }),
    z.strictObject({
      type: z.literal('clickhouse'),
      endpoint: z.url({ error: 'must be a URL such as tcp://clickhouse.example.com:9000' }).describe('ClickHouse endpoint'),
      database: z.string().default('otel').describe('ClickHouse database'),
      username: z.string().default('default').describe('ClickHouse user'),
      password: secretKeyRef.describe('Secret key holding the ClickHouse password'),
    }),
    z.strictObject({
      type: z.literal('signoz'),
      endpoint: z.string().regex(/^[a-z0-9.-]+:[0-9]+$/, 'must be host:port such as ingest.us.signoz.cloud:443').describe('SigNoz OTLP gRPC endpoint'),
      ingestionKey: secretKeyRef.describe('Secret key holding the SigNoz ingestion key'),
    }),
  ])
  .prefault({ type: 'file' })
  .describe('Where traces go, mirroring Letta\'s three upstream collector configs');

const telemetry = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Deploy the OpenTelemetry Collector DaemonSet and send Letta traces to it'),
    image: image.default('otel/opentelemetry-collector-contrib:0.161.0'),
    exporter,
    resources: resources({ cpu: '50m', memory: '128Mi', ephemeralStorage: '1Gi', cpuLimit: '500m', memoryLimit: '512Mi', ephemeralStorageLimit: '2Gi' }),
  })
  .superRefine((telemetry, ctx) => {
    // The collector's GOMEMLIMIT (telemetry chart); the Go runtime reads 0MiB as "collect constantly".
    const limit = parseQuantity(String(telemetry.resources?.limits?.memory));
    if (limit !== undefined && toGoMemLimit(0.8 * limit) === '0MiB') {
      ctx.addIssue({ code: 'custom', path: ['resources', 'limits', 'memory'], message: 'must be at least 2Mi: the collector\'s GOMEMLIMIT is 80% of it in whole MiB, and this gives 0MiB' });
    }
  })
  .prefault({})
  .describe('OpenTelemetry Collector (one agent per node)');

// Kubernetes' own rules for a toleration (ValidateTolerations in the API server).
const toleration = z
  .strictObject({
    key: z.string().regex(LABEL_KEY, 'must be a valid label key such as nvidia.com/gpu').optional(),
    operator: z.enum(['Exists', 'Equal']).default('Equal'),
    value: z.string().regex(LABEL_VALUE, 'must be a valid label value').optional(),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.operator === 'Exists' && value.value) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'must be empty when operator is Exists (it matches any value)' });
    }
    if (!value.key && value.operator !== 'Exists') {
      ctx.addIssue({ code: 'custom', path: ['operator'], message: 'must be Exists when key is empty (a toleration of every taint)' });
    }
  });

// A Hugging Face id is at most 96 characters of owner and 96 of name; room is left for a local path.
const MODEL_NAME_MAX = 256;
const modelName = z
  .string()
  .min(1, 'must not be empty')
  .max(MODEL_NAME_MAX, `must be at most ${MODEL_NAME_MAX} characters`)
  .refine((name) => !name.startsWith('-'), 'must not start with "-": vLLM would read it as a flag');

/** Where vLLM computes: NVIDIA GPUs through the device plugin, or the node's CPUs. */
const VLLM_DEVICES = ['nvidia', 'cpu'] as const;
export type VllmDevice = (typeof VLLM_DEVICES)[number];

/**
 * What each device implies when the settings leave it out: upstream's image for that device, and
 * for GPUs the GPU Operator's node label and taint. CPUs need none of it.
 */
const VLLM_DEVICE_DEFAULTS: Readonly<
  Record<VllmDevice, { readonly image: string; readonly gpus: number; readonly nodeSelector: Record<string, string>; readonly tolerations: ReadonlyArray<z.input<typeof toleration>> }>
> = {
  nvidia: {
    image: 'vllm/vllm-openai:v0.33.0',
    gpus: 1,
    nodeSelector: { 'nvidia.com/gpu.present': 'true' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
  },
  // 0.32.0: the newest release whose CPU build the package registries serve (README, twin table).
  cpu: { image: 'vllm/vllm-openai-cpu:v0.32.0', gpus: 0, nodeSelector: {}, tolerations: [] },
};

/** vLLM's own floor on CPUs besides weights and KV cache (API server, engine and worker processes: 3.2 GiB measured). */
const VLLM_CPU_BASE_MEMORY = '3Gi';

const vllm = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Deploy vLLM and point Letta at it (VLLM_API_BASE)'),
    device: z
      .enum(VLLM_DEVICES)
      .default('nvidia')
      .describe('nvidia: GPUs through the device plugin; cpu: the node\'s CPUs (upstream\'s CPU image, no GPU request, selector or toleration)'),
    image: image.optional().describe('Container image (unset: vllm/vllm-openai:v0.33.0 for nvidia, vllm/vllm-openai-cpu:v0.32.0 for cpu)'),
    model: modelName.default('Qwen/Qwen3-0.6B').describe('Hugging Face model id'),
    servedModelName: modelName.optional().describe('Model name in the API (unset: the model id)'),
    maxModelLen: wholeNumber().min(1, 'must be at least 1').default(8000).describe('--max-model-len'),
    dtype: z
      .enum(['auto', 'float32', 'bfloat16', 'float16'])
      .default('auto')
      .describe('--dtype of weights and activations (auto: the model\'s own; float32 or bfloat16 on CPUs without AVX-512)'),
    gpus: wholeNumber('must be a whole number of GPUs (extended resources cannot be fractional)')
      // Checked only for whole numbers, so 0.5 gets one message, not two.
      .refine((gpus) => !Number.isInteger(gpus) || gpus >= 1, 'must be at least 1')
      .meta({ minimum: 1 })
      .optional()
      .describe('nvidia.com/gpu per replica; also the tensor parallel size (unset: 1 for nvidia; cpu takes none)'),
    runtimeClassName: dnsSubdomain.optional().describe('RuntimeClass, e.g. "nvidia" (only where it exists; nvidia only)'),
    nodeSelector: labels.optional().describe('Node selection (unset: nvidia.com/gpu.present=true for nvidia, none for cpu)'),
    tolerations: z
      .array(toleration)
      .optional()
      .describe('Tolerations (unset: the nvidia.com/gpu NoSchedule taint for nvidia, none for cpu)'),
    shmSize: quantity
      // The manifest writes the size in whole MiB.
      .refine((text) => Math.round((parseQuantity(text) ?? 1024 ** 2) / 1024 ** 2) > 0, 'must be at least 1Mi: the manifest writes whole MiB, and this is 0Mi')
      .default('2Gi')
      .describe('/dev/shm size (memory-backed; counts against the memory limit)'),
    cpu: z
      .strictObject({
        kvCacheSpaceGiB: wholeNumber()
          .min(1, 'must be at least 1 GiB')
          .default(4)
          .describe('VLLM_CPU_KVCACHE_SPACE: memory for the KV cache in GiB; it counts against the memory limit with the weights'),
      })
      .prefault({})
      .describe('CPU device settings (device cpu)'),
    modelCache: z
      .strictObject({
        size: storage.default('50Gi').describe('Model cache volume size (HF_HOME, and vLLM\'s and torch\'s compile caches)'),
        storageClassName: dnsSubdomain.optional().describe('StorageClass (unset: the cluster default)'),
      })
      .prefault({}),
    offline: z
      .boolean()
      .default(false)
      .describe('Serve only from the model cache claim (HF_HUB_OFFLINE=1), never the hub, and open no way out (internetEgress is ignored); the claim must hold the model (README, "A local model on CPUs")'),
    hfToken: secretKeyRef.optional().describe('Secret key holding a Hugging Face token, for gated models; the pod starts without that Secret'),
    toolCallParser: z.string().min(1, 'must not be empty').default('hermes').describe('--tool-call-parser for Letta tool calling'),
    startupTimeoutSeconds: wholeNumber()
      .min(60, 'must be at least 60 seconds')
      .default(1800)
      .describe('Model download and load budget'),
    extraArgs: z
      .array(z.string())
      .superRefine((args, ctx) => {
        args.forEach((arg, index) => {
          const owned = ownedVllmFlag(arg);
          if (owned) ctx.addIssue({ code: 'custom', path: [index], message: `must not set ${owned}: the chart sets it (see the vllm settings)` });
        });
      })
      .default([])
      .describe('Extra vLLM arguments; the ones the chart sets (--host, --port, the model, ...) cannot be overridden'),
    resources: resources({ cpu: '2', memory: '16Gi', ephemeralStorage: '2Gi', cpuLimit: '8', memoryLimit: '24Gi', ephemeralStorageLimit: '4Gi' }),
    internetEgress: internetEgress(true, 'model download from the Hugging Face hub'),
  })
  .superRefine((vllm, ctx) => {
    if (vllm.device !== 'cpu') return;
    // Each of these would tie a CPU server to GPU nodes, or to a runtime it does not need.
    const gpuOnly = { gpus: 'cpu takes no GPUs', runtimeClassName: 'cpu runs in the default runtime, not a GPU runtime such as "nvidia"' } as const;
    for (const [field, reason] of Object.entries(gpuOnly)) {
      if (vllm[field as keyof typeof gpuOnly] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `must be unset when vllm.device is cpu: ${reason}` });
      }
    }
    const floor = (parseQuantity(VLLM_CPU_BASE_MEMORY) ?? 0) + vllm.cpu.kvCacheSpaceGiB * 1024 ** 3;
    const limit = parseQuantity(vllm.resources.limits.memory);
    if (limit !== undefined && limit < floor) {
      ctx.addIssue({
        code: 'custom',
        path: ['resources', 'limits', 'memory'],
        message: `must be at least ${VLLM_CPU_BASE_MEMORY} plus vllm.cpu.kvCacheSpaceGiB (${vllm.cpu.kvCacheSpaceGiB}Gi) when vllm.device is cpu, and more for the weights: the server would be killed for memory`,
      });
    }
  })
  .transform((vllm) => {
    const defaults = VLLM_DEVICE_DEFAULTS[vllm.device];
    return {
      ...vllm,
      image: vllm.image ?? defaults.image,
      gpus: vllm.gpus ?? defaults.gpus,
      nodeSelector: vllm.nodeSelector ?? { ...defaults.nodeSelector },
      tolerations: vllm.tolerations ?? defaults.tolerations.map((t) => toleration.parse(t)),
    };
  })
  .prefault({})
  .describe('vLLM OpenAI-compatible inference server, on NVIDIA GPUs or on CPUs');

/*
 * Five cron fields (minute hour day-of-month month day-of-week), checked as the CronJob controller
 * parses them (robfig/cron's standard parser): each field a comma list of "*", "?" (day fields),
 * a value or a range "a-b", optionally with a step "/n"; names for months and days. A few lines
 * instead of a library: JavaScript cron libraries each accept a different dialect.
 */
const CRON_FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, any: true },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 6, any: true, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

/** Why a cron schedule is not one the CronJob controller accepts, or undefined when it is. */
export function cronProblem(schedule: string): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) return `has ${fields.length} fields`;
  for (const [index, field] of fields.entries()) {
    const { name, min, max, any, names } = CRON_FIELDS[index];
    const value = (text: string) => {
      const named = names?.indexOf(text.toLowerCase()) ?? -1;
      if (named >= 0) return named + min;
      return /^[0-9]+$/.test(text) ? Number(text) : NaN;
    };
    for (const item of field.split(',')) {
      const [range, step, ...rest] = item.split('/');
      if (rest.length > 0 || (step !== undefined && !(/^[0-9]+$/.test(step) && Number(step) > 0))) return `${name} "${item}" has a bad step`;
      if (range === '*' || (any && range === '?')) continue;
      const [first, last, ...more] = range.split('-').map(value);
      const bounds = last === undefined ? [first] : [first, last];
      if (more.length > 0 || bounds.some((bound) => !(bound >= min && bound <= max))) return `${name} "${item}" is outside ${min}-${max}`;
      if (last !== undefined && first > last) return `${name} "${item}" is a range that runs backwards`;
    }
  }
  return undefined;
}

const cronSchedule = z.string().superRefine((text, ctx) => {
  const problem = cronProblem(text);
  if (problem) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a cron schedule of five fields (minute hour day-of-month month day-of-week) such as "0 3 * * *"; this one ${problem}`,
    });
  }
});

/*
 * The time zones the runtime knows (the IANA database it carries), plus the UTC spellings it
 * lists under another name. The CronJob controller checks the zone against Go's copy of that
 * database, so a zone unknown here would be refused there.
 */
const TIME_ZONES = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']);

const backupClaim = z
  .strictObject({
    size: storage.default('20Gi').describe('Size of the backup claim: room for the kept dumps'),
    storageClassName: dnsSubdomain.optional().describe('StorageClass (unset: the cluster default)'),
  })
  .prefault({})
  .describe('The claim of the dumps (target claim), in the stack namespace');

const backupS3 = z
  .strictObject({
    endpoint: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://s3.eu-west-1.amazonaws.com' })
      .describe('S3 endpoint URL; reached as a public address (the NetworkPolicy opens its port to public IPv4 only); https unless plainHttp is true'),
    plainHttp: z
      .boolean()
      .default(false)
      .describe('Accept an http:// endpoint: dumps (the whole database) travel unencrypted and its port opens to every public address'),
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3 to 63 of a-z, 0-9, ".", "-")')
      .describe('Bucket; it must exist (the backup never creates one)'),
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, 'must be empty or path segments ending in "/", such as "letta/prod/"')
      .default('')
      .describe('Key prefix of every dump'),
    region: z.string().regex(/^[a-z0-9-]+$/, 'must be a region name such as eu-west-1').optional().describe("Region (unset: the store's default)"),
    credentials: z
      .strictObject({
        secretName: dnsSubdomain.describe('Secret in the stack namespace with the access key pair'),
        accessKeyIdKey: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a valid Secret key').default('AWS_ACCESS_KEY_ID').describe('Key holding the access key id'),
        secretAccessKeyKey: z
          .string()
          .regex(/^[-._a-zA-Z0-9]+$/, 'must be a valid Secret key')
          .default('AWS_SECRET_ACCESS_KEY')
          .describe('Key holding the secret access key'),
      })
      .describe('Credentials of the bucket, from a Secret you create'),
  })
  .superRefine((s3, ctx) => {
    if (typeof s3.endpoint === 'string' && /^http:/i.test(s3.endpoint) && !s3.plainHttp) {
      ctx.addIssue({
        code: 'custom',
        path: ['endpoint'],
        message: 'must be https://: over http the database dumps travel in cleartext to a public address; set backup.s3.plainHttp: true only for a store on a network you trust',
      });
    }
  })
  .optional()
  .describe('The S3-compatible bucket of the dumps (target s3): AWS S3, MinIO, Ceph RGW, R2, ...');

const backup = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Scheduled pg_dump backups of the database (CronJob), and the pre-migration dump'),
    schedule: cronSchedule.default('0 3 * * *').describe('When the scheduled backup runs (cron, in timeZone)'),
    timeZone: z
      .string()
      .refine((zone) => TIME_ZONES.has(zone), 'must be an IANA time zone such as Etc/UTC or Europe/Berlin')
      .default('Etc/UTC')
      .describe('Time zone of the schedule'),
    retention: wholeNumber().min(1, 'must keep at least 1 dump').default(7).describe('Scheduled dumps kept; older ones are deleted after each new dump'),
    target: z.enum(['claim', 's3']).default('claim').describe('Where dumps are written: a claim of their own (backup.claim) or an S3-compatible bucket (backup.s3)'),
    claim: backupClaim,
    s3: backupS3,
    preMigration: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe('Dump the database before Letta migrates it to a new schema; the migration waits for that dump'),
        retention: wholeNumber().min(1, 'must keep at least 1 dump').default(3).describe('Pre-migration dumps kept'),
        waitSeconds: wholeNumber()
          .min(60, 'must be at least 60 seconds')
          .default(1800)
          .describe('How long a migration waits for its pre-migration dump before the pod fails and is retried'),
      })
      .prefault({})
      .describe('The dump taken when a new Letta image is applied, before its migrations run'),
    uploaderImage: image.default('rclone/rclone:1.76.0').describe('S3 client image (rclone) of the s3 target'),
    // The s3 target stages each dump on the node's disk (an emptyDir) before the upload.
    resources: resources({ cpu: '100m', memory: '256Mi', ephemeralStorage: '1Gi', cpuLimit: '1', memoryLimit: '1Gi', ephemeralStorageLimit: '10Gi' }).describe(
      'Resources of each backup container; with the s3 target, limits.ephemeralStorage bounds the dump staged before its upload',
    ),
  })
  .prefault({})
  .describe('Database backups: pg_dump on a schedule and before migrations, to a claim or S3');

// Namespaces of the cluster itself; "kube-" is reserved for them.
const CLUSTER_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** Who else owns the stack's namespace, if anyone: the cluster or the entry's controller. */
function namespaceOwner(config: { namespace?: unknown; ingress?: z.output<typeof ingress> }): string | undefined {
  const namespace = config.namespace;
  if (typeof namespace !== 'string') return undefined;
  if (CLUSTER_NAMESPACES.includes(namespace) || namespace.startsWith('kube-')) return 'the cluster';
  const gateway = config.ingress?.gateway;
  const entryNamespaces = [
    'ingress-nginx',
    config.ingress?.controller?.namespaceLabels?.['kubernetes.io/metadata.name'],
    gateway?.dataPlane?.namespaceLabels?.['kubernetes.io/metadata.name'],
    gateway?.parentRef?.namespace,
  ];
  return entryNamespaces.includes(namespace) ? 'the ingress controller or the Gateway (ingress settings)' : undefined;
}

export const settingsSchema = z
  .strictObject({
    namespace: dnsLabel
      .default('letta')
      .describe("Namespace for every object of the stack; not default, kube-*, ingress-nginx or the entry controller's namespace"),
    imagePullPolicy: z
      .enum(['Always', 'IfNotPresent', 'Never'])
      .optional()
      .describe('Pull policy of every image (unset: Always for a tag, IfNotPresent for a digest); IfNotPresent or Never where images are preloaded, e.g. `kind load` without a registry'),
    letta,
    database,
    redis,
    ingress,
    telemetry,
    vllm,
    backup,
  })
  .superRefine(
    (config, ctx) => {
      // Runs even when fields failed (see `when`), so one run reports every problem; each check
      // therefore tolerates values of the wrong type.
      const { letta, redis, vllm } = config;
      const owner = namespaceOwner(config);
      if (owner) {
        ctx.addIssue({
          code: 'custom',
          path: ['namespace'],
          message: `must not be "${config.namespace}": it belongs to ${owner}; the stack's default-deny policies and restricted Pod Security would land on it, and kubectl delete -f dist/ would delete it`,
        });
      }
      if (typeof letta?.replicas === 'number' && letta.replicas > 1 && redis?.enabled === false) {
        ctx.addIssue({
          code: 'custom',
          path: ['redis', 'enabled'],
          message: `must be true when letta.replicas is ${letta.replicas}: replicas share conversation locks and stream state through Redis`,
        });
      }
      const tls = config.database?.tls;
      if (typeof tls?.mode === 'string' && tls.mode !== 'disable' && !tls.secretName) {
        ctx.addIssue({
          code: 'custom',
          path: ['database', 'tls', 'secretName'],
          message: `is required when database.tls.mode is ${tls.mode}: name the TLS Secret (tls.crt, tls.key, ca.crt) that Postgres serves`,
        });
      }
      const streamTimeout = config.ingress?.streamTimeoutSeconds;
      if (typeof letta?.drainSeconds === 'number' && typeof streamTimeout === 'number' && letta.drainSeconds > streamTimeout) {
        ctx.addIssue({
          code: 'custom',
          path: ['letta', 'drainSeconds'],
          message: `must not exceed ingress.streamTimeoutSeconds (${streamTimeout}): the ingress cuts a stream silent that long anyway, and a longer grace period only delays deletions`,
        });
      }
      if (letta?.secure === true && !letta.serverPassword) {
        ctx.addIssue({
          code: 'custom',
          path: ['letta', 'serverPassword'],
          message: 'is required when letta.secure is true: name the Secret key that holds the server password',
        });
      }
      const ingress = config.ingress;
      if (ingress?.enabled === true && ingress.entry === 'gateway-api') {
        const { parentRef, create, dataPlane } = ingress.gateway ?? {};
        if (!parentRef === !create) {
          ctx.addIssue({
            code: 'custom',
            path: ['ingress', 'gateway', parentRef ? 'create' : 'parentRef'],
            message: parentRef
              ? 'must be unset when ingress.gateway.parentRef is set: the HTTPRoute attaches to one Gateway, either the one named or one this stack creates'
              : 'is required when ingress.entry is gateway-api: name the Gateway (namespace, name, optionally sectionName), or set ingress.gateway.create.className',
          });
        }
        if (parentRef && ingress.tlsSecretName) {
          ctx.addIssue({
            code: 'custom',
            path: ['ingress', 'tlsSecretName'],
            message: "must be unset when the HTTPRoute attaches to an existing Gateway (ingress.gateway.parentRef): TLS terminates at that Gateway's listener, which names its own certificate",
          });
        }
        if (!dataPlane) {
          ctx.addIssue({
            code: 'custom',
            path: ['ingress', 'gateway', 'dataPlane'],
            message: "is required when ingress.entry is gateway-api: give the namespace and pod labels of the Gateway's data-plane pods, the only peer admitted to Letta's port",
          });
        }
      }
      if (ingress?.entry === 'ingress-nginx' && (ingress.gateway?.parentRef || ingress.gateway?.create || ingress.gateway?.dataPlane)) {
        ctx.addIssue({
          code: 'custom',
          path: ['ingress', 'entry'],
          message: 'is ingress-nginx, but ingress.gateway is set: set ingress.entry to gateway-api to use it, or remove ingress.gateway',
        });
      }
      const backup = config.backup;
      if (backup?.enabled === true && backup.target === 's3' && !backup.s3) {
        ctx.addIssue({
          code: 'custom',
          path: ['backup', 's3'],
          message: 'is required when backup.target is s3: give the endpoint, bucket and credentials Secret of the bucket',
        });
      }
      const shm = parseQuantity(String(vllm?.shmSize)) ?? 0;
      const memoryLimit = parseQuantity(String(vllm?.resources?.limits?.memory)) ?? Infinity;
      if (vllm?.enabled === true && shm >= memoryLimit) {
        ctx.addIssue({
          code: 'custom',
          path: ['vllm', 'shmSize'],
          message: `must be below vllm.resources.limits.memory (${vllm.resources.limits.memory}): /dev/shm counts against the memory limit`,
        });
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

/** Validated settings with every default filled in. */
export type Settings = z.output<typeof settingsSchema>;
export type InternetEgress = Settings['letta']['internetEgress'];
