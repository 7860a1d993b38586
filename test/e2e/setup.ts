/**
 * Global setup of the e2e projects (vitest.config.ts: e2e-kind, e2e-gpu): what the cluster needs.
 *
 * LETTA_K8S_E2E=local (npm run e2e:local, .ci/run) builds, once and cached under
 * ~/.cache/letta-k8s, what GitHub's run pulls: a Docker engine if none answers, a kind node image
 * with kube-router as CNI and NetworkPolicy enforcer and local-path-provisioner as StorageClass,
 * twins of the stack's images, Traefik as the ingress data plane, a Python image for the test
 * backends and, for the kind profile, vLLM's CPU image and a tiny model. LETTA_K8S_E2E=github
 * (npm run e2e:kind) pulls all of it. Unset: the e2e's tests skip, so `npm test` starts no build.
 *
 * vitest runs every project's global setup before the first test and their teardowns after the
 * last, so the cluster itself is created and deleted around each project's tests (run.ts); the
 * teardown here and a SIGINT/SIGTERM handler delete it if that did not happen.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { load } from 'js-yaml';
import type { TestProject } from 'vitest/node';
import { loadSettings } from '../../lib/config/load';
import { available } from '../../tools/requirements';
import { missingPrerequisites, withFreeHostPorts } from './cluster';
import { gpuClusterConfig } from './gpu-cluster';
import { gpuRunValues } from './gpu-profile';
import { type LocalModel, localModelValues } from './local-model';
import { type E2eProfile, type E2eRun, OBJECT_STORE, OBJECT_STORE_HOST, removeCluster } from './plan';
import { check, processShell } from './shell';
import { MINUTE } from '../../tools/support';
import { type E2eEnvironment, GITHUB_KIND, imagesOf, readManifestDir } from './steps';
import { addressesInUse, freeTestNet, hostAddress, TEST_NETS } from './test-net';
import { writeValuesOver } from './variant';

const ROOT = join(__dirname, '..', '..');
const LOCAL_VALUES = join(ROOT, 'test', 'e2e', 'values', 'local-cluster.yaml');
/** The values over the product's local-model values file for this machine's run: the tiny model, offline. */
const TINY_MODEL_VALUES = join(ROOT, 'test', 'e2e', 'values', 'tiny-model.yaml');
/** The S3 client of the backups' s3 target (not in the kind profile's dist/), also the test store's server. */
const RCLONE_IMAGE = loadSettings({ profile: 'kind', valuesFile: LOCAL_VALUES }).backup.uploaderImage;

type Plan = Omit<E2eRun, 'profile' | 'clusterName' | 'kubeconfig' | 'kindConfig' | 'httpPort' | 'keep' | 'valuesFile'>;

const log = (line: string) => console.log(`[e2e setup] ${line}`);
/** The last line of a build script's stdout: the image it built or found. */
const lastLine = (text: string) => text.trim().split('\n').pop()!.trim();

async function build(title: string, script: string, args: string[] = [], timeoutMs = 60 * MINUTE): Promise<string> {
  log(`${title} ...`);
  const started = Date.now();
  const stdout = await check(processShell, 'bash', [join(ROOT, 'builds', script), ...args], { timeoutMs, cwd: ROOT });
  log(`${title}: done in ${Math.round((Date.now() - started) / 1000)} s`);
  return stdout;
}

/** KEY=value lines of the cluster build's output. */
function buildEnv(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((match) => [match[1], match[2].trim().replace(/^"(.*)"$/, '$1')]));
}

/** This machine, without a registry: every image built, the tiny model for the kind profile. */
async function localPlan(profile: E2eProfile): Promise<Plan> {
  await build('Docker engine', 'docker-engine.sh', [], 5 * MINUTE);
  const cluster = buildEnv(await build('kind node image and cluster tools', 'local-cluster/build.sh'));
  for (const key of ['KIND', 'KUBECTL', 'DOCKER_SHIM_DIR', 'NODE_IMAGE']) {
    if (!cluster[key]) throw new Error(`builds/local-cluster/build.sh printed no ${key}=`);
  }
  // The tests call kubectl by name: the one built with the node's Kubernetes.
  process.env.PATH = `${dirname(cluster.KUBECTL)}${delimiter}${process.env.PATH}`;
  await build("twins of the stack's images", 'images/build.sh');
  let localModel: LocalModel | undefined;
  if (profile === 'kind') {
    // The kind profile's run serves a tiny model (random weights: it proves the wire, not answer quality) with the real vLLM on the node's CPUs.
    await build("vLLM's CPU image (twin)", 'images/build.sh', ['vllm-cpu'], 90 * MINUTE);
    const archive = lastLine(await build('the tiny tool-calling model', 'tiny-model/build.sh', [], 15 * MINUTE));
    localModel = {
      values: load(readFileSync(TINY_MODEL_VALUES, 'utf8')),
      cacheArchive: archive,
      description: 'letta-k8s/tiny-tool-caller, random weights made at build time (it proves the wire, not answer quality)',
    };
  }
  const traefik = lastLine(await build('Traefik (ingress data plane)', 'ingress/build-traefik.sh'));
  const python = lastLine(await build('Python image for the test backends', 'e2e-images/build-python.sh'));
  const subnet = freeTestNet(await addressesInUse(processShell));
  if (!subnet) throw new Error(`this machine uses all of RFC 5737's documentation ranges (${TEST_NETS.join(', ')}): none is left for the e2e's internet stand-in`);
  log(`the internet stand-in's network: ${subnet} (a documentation range this machine does not use)`);
  const internet = { subnet, address: hostAddress(subnet, 10), storeAddress: hostAddress(subnet, 11) };
  const environment: E2eEnvironment = {
    ingressNamespace: 'traefik',
    pythonImage: python,
    internetAddress: internet.address,
    // Fresh for every run: the store lives only as long as the cluster.
    objectStore: {
      endpoint: `http://${internet.storeAddress}:${OBJECT_STORE.port}`,
      bucket: OBJECT_STORE.bucket,
      accessKeyId: randomBytes(10).toString('hex'),
      secretAccessKey: randomBytes(20).toString('hex'),
      container: OBJECT_STORE_HOST,
      image: RCLONE_IMAGE,
      dataDir: OBJECT_STORE.dataDir,
    },
    localModel,
  };
  return {
    flavour: 'local',
    kind: { binary: cluster.KIND, nodeImage: cluster.NODE_IMAGE, env: { PATH: `${cluster.DOCKER_SHIM_DIR}${delimiter}${process.env.PATH}` } },
    preloadImages: [...new Set([...(await stackImages(profile, environment)), traefik, python])],
    ingressController: `Traefik ${traefik.split(':')[1]} (kubernetesIngressNGINX provider; ingress-nginx cannot be built here)`,
    gatewayApiController: `Traefik ${traefik.split(':')[1]} (kubernetesGateway provider, Gateway API v1.6.1)`,
    environment,
    baseValuesFile: LOCAL_VALUES,
    internet,
  };
}

/** The stack's images, as the manifests name them with the local values, all present in the local Docker engine. */
async function stackImages(profile: E2eProfile, environment: E2eEnvironment): Promise<string[]> {
  const probe = mkdtempSync(join(tmpdir(), 'letta-local-synth-'));
  let images: string[];
  try {
    const values = writeValuesOver(join(probe, 'values.yaml'), LOCAL_VALUES, profileValues(profile, environment));
    await check(processShell, 'npx', ['cdk8s', 'synth'], {
      cwd: ROOT,
      env: { CDK8S_CHECK_UPGRADE: 'false', LETTA_PROFILE: profile, LETTA_VALUES: values, LETTA_K8S_DIST: join(probe, 'dist'), CDK8S_OUTPUT: join(probe, 'staging') },
      timeoutMs: 5 * MINUTE,
    });
    images = imagesOf(readManifestDir(join(probe, 'dist')));
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  // The backups to the object store go through rclone.
  images.push(RCLONE_IMAGE);
  if (profile === 'gpu') {
    const vllmImage = loadSettings({ profile, valuesFile: LOCAL_VALUES }).vllm.image;
    images = images.filter((image) => image !== vllmImage);
    log(`${vllmImage} cannot be had here (no registry serves it, and a CUDA build of vLLM is not made from these registries): its pod is scheduled and its container waits for the image`);
  }
  const missing: string[] = [];
  for (const image of images) if ((await processShell.run('docker', ['image', 'inspect', image])).code !== 0) missing.push(image);
  if (missing.length > 0) throw new Error(`no local image for ${missing.join(', ')}: builds/images/build.sh builds the twins`);
  return images;
}

/** GitHub's kind: kindest/node, ingress-nginx and the images pulled. */
const GITHUB_PLAN: Plan = { flavour: 'github', kind: {}, preloadImages: [], ingressController: 'ingress-nginx v1.15.1', environment: GITHUB_KIND };

/** A profile's values over the plan's: vLLM on the node's CPUs (kind), the simulated GPU node's budget and the object store (gpu). */
function profileValues(profile: E2eProfile, environment: E2eEnvironment): unknown {
  if (profile === 'gpu') return gpuRunValues(environment.objectStore);
  return environment.localModel ? localModelValues(environment.localModel) : {};
}

/** Why this machine cannot build the local flavour's parts; undefined when it can. */
function unableToBuild(): string | undefined {
  if (process.platform !== 'linux') return 'it builds Linux images and needs Linux';
  if (process.getuid?.() !== 0) return 'it builds root file systems with debootstrap and needs root';
  return undefined;
}

/** What the run needs of this machine and it lacks (Docker, kind, kubectl); undefined when nothing. */
async function lacking(kindBinary?: string): Promise<string | undefined> {
  const missing = await missingPrerequisites(processShell, { kind: kindBinary });
  return missing.length ? `this machine lacks:\n${missing.map((m) => `  - ${m}`).join('\n')}` : undefined;
}

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  const profile: E2eProfile = project.name === 'e2e-gpu' ? 'gpu' : 'kind';
  const flavour = process.env.LETTA_K8S_E2E;
  if (flavour !== 'local' && flavour !== 'github') {
    const skip = `LETTA_K8S_E2E is ${flavour ? `"${flavour}", not local or github` : 'not set'}: the e2e on kind is not run (npm run e2e:local builds what is missing and runs it, npm run e2e:kind pulls it)`;
    console.warn(`[${project.name}] skipped: ${skip}`);
    project.provide('e2e', { skip });
    return undefined;
  }
  // The local flavour builds Docker, kind and kubectl first; afterwards they must answer.
  const skipped = (reason: string | undefined) => !available(project.name, reason) && (project.provide('e2e', { skip: reason! }), true);
  if (skipped(flavour === 'local' ? unableToBuild() : await lacking())) return undefined;
  const plan = flavour === 'local' ? await localPlan(profile) : GITHUB_PLAN;
  if (flavour === 'local' && skipped(await lacking(plan.kind.binary))) return undefined;

  const workDir = mkdtempSync(join(tmpdir(), 'letta-e2e-'));
  const userText = readFileSync(join(ROOT, 'kind-config.yaml'), 'utf8');
  const config = await withFreeHostPorts(profile === 'gpu' ? gpuClusterConfig(userText) : userText);
  config.moved.forEach((line) => log(line));
  const kindConfig = join(workDir, 'kind-config.yaml');
  writeFileSync(kindConfig, config.text);
  const run: E2eRun = {
    ...plan,
    profile,
    clusterName: process.env.E2E_CLUSTER_NAME || `letta-${flavour === 'local' ? (profile === 'gpu' ? 'gpu' : 'local') : 'e2e'}-${Date.now().toString(36)}`,
    kubeconfig: join(workDir, 'kubeconfig'),
    kindConfig,
    httpPort: config.hostPorts.get(80) ?? 80,
    keep: process.env.E2E_KEEP_CLUSTER === '1',
    valuesFile: writeValuesOver(join(workDir, `values.${profile}.yaml`), plan.baseValuesFile, profileValues(profile, plan.environment)),
  };
  project.provide('e2e', { run });

  // vitest exits on a signal without its teardown. Installed for good: a second signal (the
  // terminal's and a forwarded one) must not end the process while the cluster is being deleted.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping${run.keep ? '' : `, deleting cluster ${run.clusterName}`}`);
    if (!run.keep) removeCluster(run, log);
    // After the other project's handler has deleted its cluster too.
    setImmediate(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (run.keep) {
      log(`keeping cluster ${run.clusterName}: kubectl --kubeconfig ${run.kubeconfig}; delete it with \`kind delete cluster --name ${run.clusterName}\``);
      return;
    }
    // The tests' afterAll deleted it already, unless it broke off.
    removeCluster(run, log);
    rmSync(workDir, { recursive: true, force: true });
  };
}
