import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { k8s } from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentChart } from '../../lib/kit/component-chart';
import { listeningProbe } from '../../lib/kit/probes';
import { parseQuantity } from '../../lib/kit/quantity';
import { containerResources, ResourceRequirements, storageSize } from '../../lib/kit/resources';
import { SecretKeyRef } from '../../lib/kit/secret-key-ref';
import { StackChartProps } from '../../lib/kit/stack-chart';
import { StackComponent } from '../../lib/kit/stack-component';
import { vllmServeArgs, VllmServeSettings } from '../../lib/model/vllm-args';
import { healthOf, portOf } from '../../lib/model/topology';
import { scratchVolume, secretFile } from '../../lib/kit/volumes';

/**
 * The upstream image runs as root by default; vLLM needs no root once HOME and its caches point
 * at writable volumes, and GPU access comes from the device plugin, not from privileges.
 */
const VLLM_UID = 10001;
const HOME = '/home/vllm';
const CACHE_DIR = '/var/cache/models';
const TOKEN_DIR = '/run/secrets/huggingface';

/**
 * vLLM's CPU backend: the KV cache is ordinary memory of the size given, and the OpenMP threads
 * are not pinned to cores, since pinning needs CAP_SYS_NICE, which Pod Security "restricted" forbids.
 */
function cpuEnv(kvCacheSpaceGiB: number): Record<string, kplus.EnvValue> {
  return {
    VLLM_CPU_KVCACHE_SPACE: kplus.EnvValue.fromValue(String(kvCacheSpaceGiB)),
    VLLM_CPU_OMP_THREADS_BIND: kplus.EnvValue.fromValue('nobind'),
  };
}

export interface VllmChartProps extends StackChartProps, VllmServeSettings {
  /** vLLM's image: the CUDA build for nvidia, the CPU build for cpu. */
  readonly image: string;
  /** Requests and limits of the vLLM container (GPUs are added as requested = limit). */
  readonly resources: ResourceRequirements;
  /** The claim holding the model and the compile caches. */
  readonly modelCache: { readonly size: string; readonly storageClassName?: string };
  /** Memory-backed /dev/shm size, as a Kubernetes quantity. */
  readonly shmSize: string;
  /** Memory for the KV cache in GiB on the cpu device (VLLM_CPU_KVCACHE_SPACE); unused on GPUs. */
  readonly cpuKvCacheSpaceGiB: number;
  /** Secret key holding a Hugging Face token, for gated models. @default none: anonymous downloads */
  readonly hfToken?: SecretKeyRef;
  /** Serve only what the model cache holds: no request to the hub. */
  readonly offline: boolean;
  /** Seconds the server may take to download and load the model before it counts as failed. */
  readonly startupTimeoutSeconds: number;
  /** Arguments appended to `vllm serve` after the chart's own. */
  readonly extraArgs: readonly string[];
  /** Node selection of the pod. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** Taints the pod tolerates (GPU pools are usually tainted). */
  readonly tolerations: readonly k8s.Toleration[];
  /** RuntimeClass of the pod, e.g. "nvidia". @default the cluster's default runtime */
  readonly runtimeClassName?: string;
}

/** vLLM's OpenAI-compatible server on NVIDIA GPUs or on CPUs, with a persistent model cache. */
export class VllmChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: VllmChartProps) {
    super(scope, id, props, 'vllm', props.image);
    const http = portOf(this.component, 'http');

    const cache = new kplus.PersistentVolumeClaim(this, 'model-cache', {
      metadata: { name: `${this.component.name}-model-cache`, labels: this.componentLabels },
      accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
      storage: storageSize(props.modelCache.size),
      storageClassName: props.modelCache.storageClassName,
      volumeMode: kplus.PersistentVolumeMode.FILE_SYSTEM,
    });

    const env: Record<string, kplus.EnvValue> = {
      HOME: kplus.EnvValue.fromValue(HOME),
      // Weights survive restarts instead of being downloaded again.
      HF_HOME: kplus.EnvValue.fromValue(`${CACHE_DIR}/huggingface`),
      // Compiled kernels (torch.compile, CUDA graphs) too, and the C++ or Triton code inductor
      // builds for them (by default under /tmp, lost on restart): a restart does not recompile.
      VLLM_CACHE_ROOT: kplus.EnvValue.fromValue(`${CACHE_DIR}/vllm`),
      TORCHINDUCTOR_CACHE_DIR: kplus.EnvValue.fromValue(`${CACHE_DIR}/torchinductor`),
      // numba caches compiled functions next to their sources by default: read-only here.
      NUMBA_CACHE_DIR: kplus.EnvValue.fromValue('/tmp/numba'),
      VLLM_NO_USAGE_STATS: kplus.EnvValue.fromValue('1'),
      DO_NOT_TRACK: kplus.EnvValue.fromValue('1'),
    };
    // huggingface_hub reads the token from this file: no credential in the environment. Optional,
    // since public models need none: without the Secret the file is absent and downloads are anonymous.
    const tokenMount = props.hfToken
      ? [secretFile(this, 'hf-token', { secretName: props.hfToken.name, key: props.hfToken.key, directory: TOKEN_DIR, file: 'token', optional: true })]
      : [];
    if (props.hfToken) env.HF_TOKEN_PATH = kplus.EnvValue.fromValue(`${TOKEN_DIR}/token`);
    // The model must already be in the claim: no request leaves for the hub.
    if (props.offline) env.HF_HUB_OFFLINE = kplus.EnvValue.fromValue('1');
    const onCpu = props.device === 'cpu';
    if (onCpu) Object.assign(env, cpuEnv(props.cpuKvCacheSpaceGiB));

    const args = [...vllmServeArgs(props, http.port), ...props.extraArgs];
    const check = healthOf(this.component);
    const health = (options: kplus.HttpGetProbeOptions) =>
      kplus.Probe.fromHttpGet(check.path, { port: check.port.port, timeoutSeconds: Duration.seconds(5), ...options });

    const server = new StackComponent(this, 'vllm', {
      component: this.component,
      image: props.image,
      uid: VLLM_UID,
      userName: 'vllm',
      imagePullPolicy: this.imagePullPolicy,
      // A rolling update would need a second set of GPUs; on a full GPU pool it never finishes.
      workload: { kind: 'Deployment', replicas: 1, strategy: kplus.DeploymentStrategy.recreate() },
    });
    server.addContainer({
      name: 'vllm',
      command: ['vllm', 'serve'],
      args,
      envVariables: env,
      resources: containerResources(props.resources),
      volumeMounts: [
        { path: CACHE_DIR, volume: kplus.Volume.fromPersistentVolumeClaim(this, 'cache-volume', cache, { name: 'model-cache' }) },
        // NCCL and tensor parallelism share memory through /dev/shm (compose: ipc: host).
        {
          path: '/dev/shm',
          volume: kplus.Volume.fromEmptyDir(this, 'shm', 'shm', {
            medium: kplus.EmptyDirMedium.MEMORY,
            sizeLimit: Size.mebibytes(Math.round(parseQuantity(props.shmSize)! / 1024 ** 2)),
          }),
        },
        scratchVolume(this, 'home', HOME, Size.gibibytes(1)),
        scratchVolume(this, 'tmp', '/tmp', Size.gibibytes(1)),
        ...tokenMount,
      ],
      // Downloading and loading a model takes minutes; liveness starts only after that.
      startup: health({ periodSeconds: Duration.seconds(10), failureThreshold: Math.ceil(props.startupTimeoutSeconds / 10) }),
      readiness: health({ periodSeconds: Duration.seconds(5), failureThreshold: 3 }),
      liveness: listeningProbe(http.port, { periodSeconds: Duration.seconds(15), timeoutSeconds: Duration.seconds(5), failureThreshold: 4 }),
    });

    const resource = ApiObject.of(server.workload);
    if (!onCpu) {
      // GPUs are an extended resource: whole numbers, request equal to limit. (A Quantity, since
      // patches are applied before the typed serialization of resources.)
      const gpus = k8s.Quantity.fromNumber(props.gpus);
      resource.addJsonPatch(
        JsonPatch.add('/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu', gpus),
        JsonPatch.add('/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu', gpus),
      );
    }
    if (Object.keys(props.nodeSelector).length > 0) resource.addJsonPatch(JsonPatch.add('/spec/template/spec/nodeSelector', { ...props.nodeSelector }));
    if (props.tolerations.length > 0) resource.addJsonPatch(JsonPatch.add('/spec/template/spec/tolerations', [...props.tolerations]));
    if (props.runtimeClassName) resource.addJsonPatch(JsonPatch.add('/spec/template/spec/runtimeClassName', props.runtimeClassName));
  }
}
