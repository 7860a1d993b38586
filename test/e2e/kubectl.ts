import { type ApplyResult, type Kind, Kube, type KubeObject, type LogOptions } from '../../tools/kube';
import { check, type CommandResult, type RunOptions, type Shell } from './shell';

/** The `--selector` argument that matches objects carrying all of `labels`. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** What the e2e asks of the cluster's API: tools/kube.ts's client, or a fake in tests. */
export type KubeApi = Pick<Kube, 'applyAll' | 'read' | 'list' | 'logs'>;

/**
 * One cluster, named by its kubeconfig: API reads and writes through the Kubernetes client,
 * and the kubectl commands a user runs (apply -f DIR, rollout, wait, exec, ...) through the shell.
 * Every kubectl call names the kubeconfig, so the user's context is never used.
 */
export class Kubectl {
  private client: KubeApi | undefined;

  constructor(
    readonly shell: Shell,
    readonly kubeconfig: string,
    kube?: KubeApi,
  ) {
    this.client = kube;
  }

  /** The API client, made from the kubeconfig when first needed. */
  get kube(): KubeApi {
    this.client ??= Kube.fromKubeconfig(this.kubeconfig);
    return this.client;
  }

  run(args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.shell.run('kubectl', ['--kubeconfig', this.kubeconfig, ...args], options);
  }

  check(args: readonly string[], options?: RunOptions): Promise<string> {
    return check(this.shell, 'kubectl', ['--kubeconfig', this.kubeconfig, ...args], options);
  }

  /** Objects of the kinds in `namespace` (every namespace when undefined), with their kinds set. */
  async list(kinds: Kind | readonly Kind[], namespace: string | undefined, selector?: string): Promise<KubeObject[]> {
    const lists = await Promise.all(
      ([] as Kind[]).concat(kinds).map(({ apiVersion, kind }) => this.kube.list(apiVersion, kind, { namespace, labelSelector: selector })),
    );
    return lists.flat();
  }

  /** Pods in `namespace` that carry all of `labels`. */
  pods(labels: Readonly<Record<string, string>>, namespace: string): Promise<KubeObject[]> {
    return this.list(KINDS.pod, namespace, labelSelector(labels));
  }

  /** One object (namespace '' or undefined for cluster-scoped kinds), or undefined when it does not exist. */
  get(kind: Kind, name: string, namespace?: string): Promise<KubeObject | undefined> {
    return this.kube.read({ ...kind, name, ...(namespace && { namespace }) });
  }

  /** Server-side apply of in-memory objects; throws, naming each refused object, unless all are accepted. */
  apply(objects: readonly KubeObject[]): Promise<ApplyResult[]> {
    return this.kube.applyAll(objects, { fieldManager: 'letta-e2e' });
  }

  /** A container's log; on failure (no such container, no previous run, ...), ok false and the reason. */
  logs(pod: KubeObject, options: LogOptions = {}): Promise<{ ok: boolean; text: string }> {
    return this.kube.logs({ name: pod.metadata.name, namespace: pod.metadata.namespace }, options).then(
      (text) => ({ ok: true, text }),
      (error: Error) => ({ ok: false, text: error.message }),
    );
  }
}

/** The kinds the e2e reads through the client, each as its apiVersion and kind. */
export const KINDS = {
  configMap: { apiVersion: 'v1', kind: 'ConfigMap' },
  daemonSet: { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment' },
  event: { apiVersion: 'v1', kind: 'Event' },
  httpRoute: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  ingress: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  job: { apiVersion: 'batch/v1', kind: 'Job' },
  namespace: { apiVersion: 'v1', kind: 'Namespace' },
  node: { apiVersion: 'v1', kind: 'Node' },
  pod: { apiVersion: 'v1', kind: 'Pod' },
  secret: { apiVersion: 'v1', kind: 'Secret' },
  service: { apiVersion: 'v1', kind: 'Service' },
  statefulSet: { apiVersion: 'apps/v1', kind: 'StatefulSet' },
} as const satisfies Record<string, Kind>;
