/**
 * The kind e2e on a machine that reaches no container registry: `npm run e2e:local [-- --keep]`.
 *
 * Builds, once (cached under ~/.cache/letta-k8s, keyed by version and recipe), what GitHub's run
 * pulls: a Docker engine if none answers, a kind node image with kube-router as CNI and
 * NetworkPolicy enforcer and local-path-provisioner as StorageClass, twins of the stack's images,
 * Traefik as the ingress data plane and a Python image for the test backends. Then it runs the
 * same runner and checks as `npm run e2e:kind` on a cluster made from that node image, with the
 * images loaded onto the node and test/e2e/values/local-cluster.yaml over the kind profile.
 * `--profile gpu` runs the gpu profile instead, on three nodes of which one is a simulated GPU
 * node (gpu-cluster.ts, gpu-profile.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { load } from 'js-yaml';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { KindCluster } from './cluster';
import { Kubectl } from './kubectl';
import { settlePodNetwork } from './pod-network';
import { type ClusterPlan, profileArgument, progressLog, runKindE2e } from './kind-e2e';
import { imagesOf, type ObjectStore, readManifestDir } from './steps';
import { loadSettings } from '../../lib/config/load';
import { waitForWorkloads } from './readiness';
import { check, processShell, type Shell } from './shell';
import { GATEWAY_API_CRDS_DIR, gatewayApiCrds, TRAEFIK_MANIFEST } from '../../tools/fixtures';
import { available } from '../../tools/requirements';
import { type LocalModel, localModelValues } from './local-model';
import { writeValuesOver } from './variant';
import { addressesInUse, freeTestNet, hostAddress, TEST_NETS } from './test-net';
import { MINUTE } from '../../tools/support';

const ROOT = join(__dirname, '..', '..');
const TOOLS = join(ROOT, 'builds');
const TRAEFIK_NAMESPACE = 'traefik';
export const LOCAL_VALUES = join(ROOT, 'test', 'e2e', 'values', 'local-cluster.yaml');
/** The S3 client of the backups' s3 target (not in the kind profile's dist/), also the test store's server. */
const RCLONE_IMAGE = loadSettings({ profile: 'kind', valuesFile: LOCAL_VALUES }).backup.uploaderImage;

/** The network of the internet side of the egress probes, in a documentation range this machine does not use (test-net.ts). */
const INTERNET_TEST_NETWORK = 'letta-e2e-internet';
/** The internet test host's address in that range. */
const INTERNET_HOST_NUMBER = 10;
/** The S3 store of the backups' s3 target, beside it: rclone's `serve s3`, from the rclone twin. */
const OBJECT_STORE = { hostNumber: 11, port: 9000, bucket: 'letta-backups', dataDir: '/data' };
/** Every port the stack's internet egress names in these runs: HTTPS, and the object store's for the s3 target. */
const INTERNET_TEST_PORTS = [443, OBJECT_STORE.port];

/** Listens on each port and accepts every connection: all an egress probe needs. */
const LISTENER = `import socket, threading
def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    while True:
        s.accept()[0].close()
for port in ${JSON.stringify(INTERNET_TEST_PORTS)}:
    threading.Thread(target=serve, args=(port,)).start()
`;

/**
 * The internet side of the egress probes: a host of the run's own on a Docker network over
 * `subnet`, which the policies treat as public like any address outside the private ranges.
 * Every node joins that network too, so pods reach the host through their node; no packet leaves
 * the machine.
 */
function internetTestHost(shell: Shell, pythonImage: string, rcloneImage: string, subnet: string) {
  const host = `${INTERNET_TEST_NETWORK}-host`;
  const address = hostAddress(subnet, INTERNET_HOST_NUMBER);
  const storeAddress = hostAddress(subnet, OBJECT_STORE.hostNumber);
  // Fresh for every run: the store lives only as long as the cluster.
  const objectStore: ObjectStore = {
    endpoint: `http://${storeAddress}:${OBJECT_STORE.port}`,
    bucket: OBJECT_STORE.bucket,
    accessKeyId: randomBytes(10).toString('hex'),
    secretAccessKey: randomBytes(20).toString('hex'),
    container: `${INTERNET_TEST_NETWORK}-s3`,
    dataDir: OBJECT_STORE.dataDir,
  };
  const docker = (args: string[]) => check(shell, 'docker', args, { timeoutMs: 2 * MINUTE });
  const remove = async (cluster: KindCluster) => {
    for (const node of await cluster.nodeContainers()) await shell.run('docker', ['network', 'disconnect', '--force', INTERNET_TEST_NETWORK, node]);
    await shell.run('docker', ['rm', '--force', host, objectStore.container]);
    await shell.run('docker', ['network', 'rm', INTERNET_TEST_NETWORK]);
  };
  return {
    address,
    objectStore,
    afterCreate: async (cluster: KindCluster) => {
      await remove(cluster);
      await docker(['network', 'create', '--subnet', subnet, INTERNET_TEST_NETWORK]);
      await docker(['run', '--detach', '--name', host, '--network', INTERNET_TEST_NETWORK, '--ip', address, pythonImage, 'python3', '-c', LISTENER]);
      // The bucket is a directory of the served tree; the keys reach rclone as its own variables, not arguments.
      await docker([
        'run', '--detach', '--name', objectStore.container, '--network', INTERNET_TEST_NETWORK, '--ip', storeAddress,
        '--env', `LETTA_E2E_S3_KEYS=${objectStore.accessKeyId},${objectStore.secretAccessKey}`,
        '--entrypoint', 'sh', rcloneImage, '-c',
        `mkdir -p ${objectStore.dataDir}/${objectStore.bucket} && exec rclone serve s3 --addr :${OBJECT_STORE.port} --auth-key "$LETTA_E2E_S3_KEYS" ${objectStore.dataDir}`,
      ]);
      // Every node: a probe pod may run on any of them.
      for (const node of await cluster.nodeContainers()) await docker(['network', 'connect', INTERNET_TEST_NETWORK, node]);
    },
    beforeDelete: remove,
  };
}

/** The last line of a build script's stdout: the image it built or found. */
const lastLine = (text: string) => text.trim().split('\n').pop()!.trim();

/** KEY=value lines of the cluster build's output. */
export function parseBuildEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1], match[2].replace(/^"(.*)"$/, '$1')]),
  );
}

interface BuiltParts {
  readonly plan: ClusterPlan;
  readonly kubectlDir: string;
}

/** The values over the product's local-model values file for this machine's run: the tiny model, offline. */
const TINY_MODEL_VALUES = join(ROOT, 'test', 'e2e', 'values', 'tiny-model.yaml');

/**
 * The twin of vLLM's CPU image and the tiny tool-calling model made with it (random weights: it
 * proves the wire, not answer quality), as a Hugging Face home archive for the model cache claim.
 */
async function buildLocalModel(phase: (title: string, script: string, args?: string[], timeoutMs?: number) => Promise<string>): Promise<LocalModel> {
  await phase('vLLM\'s CPU image (twin)', 'images/build.sh', ['vllm-cpu'], 90 * MINUTE);
  const archive = lastLine(await phase('the tiny tool-calling model', 'tiny-model/build.sh', [], 15 * MINUTE));
  return {
    values: load(readFileSync(TINY_MODEL_VALUES, 'utf8')),
    cacheArchive: archive,
    description: 'letta-k8s/tiny-tool-caller, random weights made at build time (it proves the wire, not answer quality)',
  };
}

async function buildParts(shell: Shell, log: (line: string) => void, profile: string): Promise<BuiltParts> {
  const phase = async (title: string, script: string, args: string[] = [], timeoutMs = 60 * MINUTE): Promise<string> => {
    log(`${title} ...`);
    const started = Date.now();
    const stdout = await check(shell, 'bash', [join(TOOLS, script), ...args], { timeoutMs, cwd: ROOT });
    log(`${title}: done in ${Math.round((Date.now() - started) / 1000)} s`);
    return stdout;
  };
  await phase('Docker engine', 'docker-engine.sh', [], 5 * MINUTE);
  const cluster = parseBuildEnv(await phase('kind node image and cluster tools', 'local-cluster/build.sh'));
  for (const key of ['KIND', 'KUBECTL', 'DOCKER_SHIM_DIR', 'NODE_IMAGE']) {
    if (!cluster[key]) throw new Error(`builds/local-cluster/build.sh printed no ${key}=`);
  }
  await phase('twins of the stack\'s images', 'images/build.sh');
  // The kind profile's run serves the tiny model with the real vLLM on the node's CPUs.
  const localModel = profile === 'kind' ? await buildLocalModel(phase) : undefined;
  const traefik = lastLine(await phase('Traefik (ingress data plane)', 'ingress/build-traefik.sh'));
  const python = lastLine(await phase('Python image for the test backends', 'e2e-images/build-python.sh'));
  const subnet = freeTestNet(await addressesInUse(shell));
  if (!subnet) throw new Error(`this machine uses all of RFC 5737's documentation ranges (${TEST_NETS.join(', ')}): none is left for the e2e's internet stand-in`);
  log(`the internet stand-in's network: ${subnet} (a documentation range this machine does not use)`);
  const internet = internetTestHost(shell, python, RCLONE_IMAGE, subnet);
  return {
    kubectlDir: dirname(cluster.KUBECTL),
    plan: {
      kind: { binary: cluster.KIND, nodeImage: cluster.NODE_IMAGE, env: { PATH: `${cluster.DOCKER_SHIM_DIR}${delimiter}${process.env.PATH}` } },
      // Filled in once dist/ is synthesized (runKindE2e does that first).
      preloadImages: [traefik, python],
      ingressController: `Traefik ${traefik.split(':')[1]} (kubernetesIngressNGINX provider; ingress-nginx cannot be built here)`,
      installIngress: async (context) => {
        // Traefik's Gateway provider starts only once the Gateway API CRDs are served. Server-side:
        // the HTTPRoute CRD is too large for client-side apply's last-applied annotation.
        await context.kubectl.check(['apply', '--server-side', '--filename', GATEWAY_API_CRDS_DIR]);
        const crds = gatewayApiCrds().filter((object) => object.kind === 'CustomResourceDefinition').map((crd) => `crd/${crd.metadata.name}`);
        await context.kubectl.check(['wait', '--for=condition=Established', '--timeout=120s', ...crds], { timeoutMs: 3 * MINUTE });
        await context.kubectl.check(['apply', '--filename', TRAEFIK_MANIFEST]);
        await waitForWorkloads(context.kubectl, TRAEFIK_NAMESPACE, { timeoutMs: 5 * MINUTE, log: context.log });
      },
      gatewayApiController: `Traefik ${traefik.split(':')[1]} (kubernetesGateway provider, Gateway API v1.6.1)`,
      environment: { ingressNamespace: TRAEFIK_NAMESPACE, pythonImage: python, internetAddress: internet.address, objectStore: internet.objectStore, localModel },
      valuesFile: LOCAL_VALUES,
      afterCreate: async (created) => {
        await settlePodNetwork(new Kubectl(shell, created.kubeconfig), { log });
        await internet.afterCreate(created);
      },
      beforeDelete: internet.beforeDelete,
    },
  };
}

async function main(): Promise<number> {
  const shell = processShell;
  const profile = profileArgument(process.argv.slice(2));
  const log = progressLog();
  const unable =
    process.platform !== 'linux'
      ? 'it builds Linux images and needs Linux'
      : process.getuid?.() !== 0
        ? 'it builds root file systems with debootstrap and needs root'
        : undefined;
  if (!available('e2e:local', unable)) return 0;
  const keep = process.argv.includes('--keep') || process.env.E2E_KEEP_CLUSTER === '1';
  const clusterName = process.env.E2E_CLUSTER_NAME || `letta-${profile === 'gpu' ? 'gpu' : 'local'}-${Date.now().toString(36)}`;
  const started = Date.now();
  const { plan, kubectlDir } = await buildParts(shell, log, profile);
  // The runner calls kubectl by name: the one built with the node's Kubernetes.
  process.env.PATH = `${kubectlDir}${delimiter}${process.env.PATH}`;

  // The stack's images, as the manifests name them, with the local values applied.
  const probe = mkdtempSync(join(tmpdir(), 'letta-local-synth-'));
  let stackImages: string[];
  try {
    const localModel = plan.environment.localModel;
    const values = localModel ? writeValuesOver(join(probe, 'values.yaml'), LOCAL_VALUES, localModelValues(localModel)) : LOCAL_VALUES;
    await check(shell, 'npx', ['cdk8s', 'synth'], {
      cwd: ROOT,
      env: { CDK8S_CHECK_UPGRADE: 'false', LETTA_PROFILE: profile, LETTA_VALUES: values, LETTA_K8S_DIST: join(probe, 'dist'), CDK8S_OUTPUT: join(probe, 'staging') },
      timeoutMs: 5 * MINUTE,
    });
    stackImages = imagesOf(readManifestDir(join(probe, 'dist')));
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  // The gpu profile's backups go to the object store through rclone.
  stackImages.push(RCLONE_IMAGE);
  if (profile === 'gpu') {
    const vllmImage = loadSettings({ profile, valuesFile: LOCAL_VALUES }).vllm.image;
    stackImages = stackImages.filter((image) => image !== vllmImage);
    log(`${vllmImage} cannot be had here (no registry serves it, and a CUDA build of vLLM is not made from these registries): its pod is scheduled and its container waits for the image`);
  }
  const missing: string[] = [];
  for (const image of stackImages) if ((await shell.run('docker', ['image', 'inspect', image])).code !== 0) missing.push(image);
  if (missing.length > 0) throw new Error(`no local image for ${missing.join(', ')}: builds/images/build.sh builds the twins`);
  log(`images for the node: ${[...stackImages, ...plan.preloadImages].join(', ')}`);

  const workDir = mkdtempSync(join(tmpdir(), 'letta-e2e-'));
  const kubeconfig = join(workDir, 'kubeconfig');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping${keep ? '' : ` and deleting cluster ${clusterName}`}`);
      const cleanUp = keep ? Promise.resolve() : new KindCluster(shell, clusterName, kubeconfig, plan.kind).delete();
      void cleanUp.catch(() => undefined).finally(() => process.exit(130));
    });
  }
  try {
    const code = await runKindE2e({
      shell,
      repoRoot: ROOT,
      keep,
      clusterName,
      kubeconfig,
      log,
      plan: { ...plan, preloadImages: [...new Set([...stackImages, ...plan.preloadImages])] },
      resultsFile: process.env.E2E_RESULTS,
      profile,
    });
    log(`e2e:local (${profile} profile) finished in ${Math.round((Date.now() - started) / 1000)} s, builds included`);
    return code;
  } finally {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
