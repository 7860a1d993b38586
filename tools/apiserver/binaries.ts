import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The binaries a control plane without a kubelet needs. */
const CONTROL_PLANE_BINARIES = ['kube-apiserver', 'etcd'] as const;

const WRAPPER_MODULES = join(__dirname, '..', '..', 'builds', 'control-plane');

/** Where a built control plane lives, or why there is none. */
type ControlPlaneBinaries = { dir: string } | { missing: string };

/**
 * Finds kube-apiserver and etcd without building them: in KUBEBUILDER_ASSETS when that is set
 * (envtest's layout), else in the cache that `npm run control-plane:build` fills.
 */
export function findControlPlaneBinaries(): ControlPlaneBinaries {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets) {
    const lacking = CONTROL_PLANE_BINARIES.filter((name) => !isExecutable(join(assets, name)));
    return lacking.length === 0
      ? { dir: assets }
      : { missing: `KUBEBUILDER_ASSETS=${assets} lacks an executable ${lacking.join(' and ')}` };
  }
  const dir = builtControlPlaneDir();
  if (CONTROL_PLANE_BINARIES.every((name) => isExecutable(join(dir, name)))) return { dir };
  return {
    missing:
      `kube-apiserver and etcd are not built (looked in ${dir}); run \`npm run control-plane:build\` ` +
      '(builds them from the Go module proxy once, in about 5 minutes on 2 cores) or set KUBEBUILDER_ASSETS',
  };
}

/** The cache directory builds/build-control-plane.sh builds into, named after the pinned versions. */
function builtControlPlaneDir(): string {
  const kubernetes = pinnedVersion('kube-apiserver', 'k8s.io/kubernetes');
  const etcd = pinnedVersion('etcd', 'go.etcd.io/etcd/server/v3');
  return join(cacheRoot(), 'control-plane', `kubernetes-${kubernetes}-etcd-${etcd}`);
}

/** Mirrors builds/cache-dir.sh. */
function cacheRoot(): string {
  if (process.env.LETTA_K8S_CACHE) return process.env.LETTA_K8S_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'letta-k8s');
}

function pinnedVersion(wrapper: string, modulePath: string): string {
  const goMod = readFileSync(join(WRAPPER_MODULES, wrapper, 'go.mod'), 'utf8');
  for (const line of goMod.split('\n')) {
    const [path, version] = line.trim().split(/\s+/);
    if (path === modulePath && version) return version;
  }
  throw new Error(`${wrapper}/go.mod does not require ${modulePath}`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
