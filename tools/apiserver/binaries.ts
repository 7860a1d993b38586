import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, goModVersion } from '../support';

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
  const kubernetes = goModVersion(join(WRAPPER_MODULES, 'kube-apiserver', 'go.mod'), 'k8s.io/kubernetes');
  const etcd = goModVersion(join(WRAPPER_MODULES, 'etcd', 'go.mod'), 'go.etcd.io/etcd/server/v3');
  return join(cacheRoot(), 'control-plane', `kubernetes-${kubernetes}-etcd-${etcd}`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
