import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { k8s } from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentChart, ComponentChartProps } from '../../lib/kit/component-chart';
import { listeningProbe } from '../../lib/kit/probes';
import { parseQuantity } from '../../lib/kit/quantity';
import { containerResources, storageSize } from '../../lib/kit/resources';
import { StackComponent } from '../../lib/kit/stack-component';
import { vllmServeArgs } from '../../lib/model/vllm-args';
import { portOf } from '../../lib/model/topology';
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

/** vLLM's OpenAI-compatible server on NVIDIA GPUs or on CPUs, with a persistent model cache. */
export class VllmChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: ComponentChartProps<'vllm'>) {
    super(scope, id, props, 'vllm', props.vllm.image);
    const { vllm } = props;
    const http = portOf(this.component, 'http');

    const cache = new kplus.PersistentVolumeClaim(this, 'model-cache', {
      metadata: { name: `${this.component.name}-model-cache`, labels: this.componentLabels },
      accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
      storage: storageSize(vllm.modelCache.size),
      storageClassName: vllm.modelCache.storageClassName,
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
    const tokenMount = vllm.hfToken
      ? [secretFile(this, 'hf-token', { secretName: vllm.hfToken.name, key: vllm.hfToken.key, directory: TOKEN_DIR, file: 'token', optional: true })]
      : [];
    if (vllm.hfToken) env.HF_TOKEN_PATH = kplus.EnvValue.fromValue(`${TOKEN_DIR}/token`);
    // The model must already be in the claim: no request leaves for the hub.
    if (vllm.offline) env.HF_HUB_OFFLINE = kplus.EnvValue.fromValue('1');
    const onCpu = vllm.device === 'cpu';
    if (onCpu) Object.assign(env, cpuEnv(vllm.cpu.kvCacheSpaceGiB));

    const args = [...vllmServeArgs(vllm, http.port), ...vllm.extraArgs];
    const health = (options: kplus.HttpGetProbeOptions) =>
      kplus.Probe.fromHttpGet('/health', { port: http.port, timeoutSeconds: Duration.seconds(5), ...options });

    const server = new StackComponent(this, 'vllm', {
      component: this.component,
      image: vllm.image,
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
      resources: containerResources(vllm.resources),
      volumeMounts: [
        { path: CACHE_DIR, volume: kplus.Volume.fromPersistentVolumeClaim(this, 'cache-volume', cache, { name: 'model-cache' }) },
        // NCCL and tensor parallelism share memory through /dev/shm (compose: ipc: host).
        {
          path: '/dev/shm',
          volume: kplus.Volume.fromEmptyDir(this, 'shm', 'shm', {
            medium: kplus.EmptyDirMedium.MEMORY,
            sizeLimit: Size.mebibytes(Math.round(parseQuantity(vllm.shmSize)! / 1024 ** 2)),
          }),
        },
        scratchVolume(this, 'home', HOME, Size.gibibytes(1)),
        scratchVolume(this, 'tmp', '/tmp', Size.gibibytes(1)),
        ...tokenMount,
      ],
      // Downloading and loading a model takes minutes; liveness starts only after that.
      startup: health({ periodSeconds: Duration.seconds(10), failureThreshold: Math.ceil(vllm.startupTimeoutSeconds / 10) }),
      readiness: health({ periodSeconds: Duration.seconds(5), failureThreshold: 3 }),
      liveness: listeningProbe(http.port, { periodSeconds: Duration.seconds(15), timeoutSeconds: Duration.seconds(5), failureThreshold: 4 }),
    });

    const resource = ApiObject.of(server.workload);
    if (!onCpu) {
      // GPUs are an extended resource: whole numbers, request equal to limit. (A Quantity, since
      // patches are applied before the typed serialization of resources.)
      const gpus = k8s.Quantity.fromNumber(vllm.gpus);
      resource.addJsonPatch(
        JsonPatch.add('/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu', gpus),
        JsonPatch.add('/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu', gpus),
      );
    }
    if (Object.keys(vllm.nodeSelector).length > 0) resource.addJsonPatch(JsonPatch.add('/spec/template/spec/nodeSelector', { ...vllm.nodeSelector }));
    if (vllm.tolerations.length > 0) resource.addJsonPatch(JsonPatch.add('/spec/template/spec/tolerations', vllm.tolerations));
    if (vllm.runtimeClassName) resource.addJsonPatch(JsonPatch.add('/spec/template/spec/runtimeClassName', vllm.runtimeClassName));
  }
}
