/**
 * The one Kubernetes client of the tests and tools: @kubernetes/client-node behind the few calls
 * they make. Objects go in and come out as plain JSON, as in a manifest or `kubectl get -o json`
 * (client-node's typed models would turn timestamps into Dates and drop fields they do not know).
 */
import { ApiException, CoreV1Api, Health, HttpMethod, KubeConfig, KubernetesObjectApi, PatchStrategy, type ResponseContext } from '@kubernetes/client-node';

/** A Kubernetes object as written in a manifest or read back from the server, or any part of one. */
export type KubeObject = Record<string, any>;

/** A kind as the API serves it: 'apps/v1' and 'Deployment'. */
export type Kind = { apiVersion: string; kind: string };

export interface ObjectRef extends Kind {
  name: string;
  /** Empty for cluster-scoped objects. */
  namespace?: string;
}

/** "apps/v1 Deployment letta/letta-server", for messages. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.apiVersion} ${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/** The pod spec of a workload, CronJob or Pod; undefined for anything else. */
export function podSpecOf(object: KubeObject): KubeObject | undefined {
  return object.spec?.template?.spec ?? object.spec?.jobTemplate?.spec?.template?.spec ?? (object.kind === 'Pod' ? object.spec : undefined);
}

export interface ApplyOptions {
  /** Field manager recorded in managedFields; defaults to 'letta-k8s'. */
  fieldManager?: string;
}

export interface ApplyResult {
  /** The object as addressed, namespace resolved (none for cluster-scoped kinds). */
  ref: ObjectRef;
  accepted: boolean;
  /** The server's message when not accepted. */
  error?: string;
  /** The texts of the answer's Warning headers (Pod Security, deprecations, ...). */
  warnings: string[];
  /** The object as stored, when accepted. */
  stored?: KubeObject;
}

export type LogOptions = { container?: string; tailLines?: number; previous?: boolean };

/** client-node's object API, answering plain JSON and keeping the last answer's warnings. */
class PlainObjectApi extends KubernetesObjectApi {
  lastWarnings: string[] = [];

  /**
   * Server-side apply of the object exactly as given. client-node's own patch() first passes the
   * object through its typed models, which drop the fields they do not know: a misspelt field
   * would never reach the server's validation.
   */
  async serverSideApply(object: KubeObject, fieldManager: string): Promise<KubeObject> {
    const request = this.configuration.baseServer.makeRequestContext(await this.specUriPath(object as any, 'patch'), HttpMethod.PATCH);
    request.setHeaderParam('Accept', 'application/json');
    request.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    request.setQueryParam('fieldManager', fieldManager);
    // Strict adds duplicate fields to the unknown ones server-side apply refuses anyway.
    request.setQueryParam('fieldValidation', 'Strict');
    // JSON is YAML, and keeps the object exactly as given.
    request.setBody(JSON.stringify(object));
    return this.requestPromise(request);
  }

  /** Whether the server serves the kind and whether it is namespaced; undefined when it does not serve it. */
  scope(apiVersion: string, kind: string): Promise<{ namespaced: boolean } | undefined> {
    return this.resource(apiVersion, kind);
  }

  protected override async processResponse<T>(response: ResponseContext, type?: string): Promise<T> {
    this.lastWarnings = parseWarningHeader(response.headers.warning ?? '');
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) return super.processResponse(response, type) as Promise<any>;
    return JSON.parse(await response.body.text());
  }
}

/** Texts of an RFC 9111 Warning header value: `299 - "text"`, possibly several, comma-separated. */
function parseWarningHeader(value: string): string[] {
  return [...value.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((match) => match[1].replace(/\\(.)/g, '$1'));
}

/** "422 Invalid: <the server's message>", from a failed call. */
export function errorMessage(error: unknown): string {
  if (!(error instanceof ApiException)) return error instanceof Error ? error.message : String(error);
  const body = typeof error.body === 'string' ? safeJson(error.body) : error.body;
  return typeof body?.message === 'string' ? `${error.code} ${body.reason || 'error'}: ${body.message}` : `${error.code}: ${String(error.body)}`;
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {}
}

const notFound = (error: unknown) => error instanceof ApiException && error.code === 404;

/** One cluster, reached through one kubeconfig. */
export class Kube {
  private readonly objects: PlainObjectApi;
  private readonly core: CoreV1Api;

  constructor(readonly config: KubeConfig) {
    this.objects = config.makeApiClient(PlainObjectApi);
    this.core = config.makeApiClient(CoreV1Api);
  }

  static fromKubeconfig(path: string): Kube {
    const config = new KubeConfig();
    config.loadFromFile(path);
    return new Kube(config);
  }

  /** Whether /readyz answers ok; false when the server cannot be reached. */
  ready(): Promise<boolean> {
    return new Health(this.config).readyz({}).catch(() => false);
  }

  /**
   * Server-side apply, one object at a time in the given order, as `kubectl apply --server-side`
   * (which also refuses fields the schema lacks). A refused object does not stop the rest.
   * Namespaced objects that name no namespace go to "default". The warnings are those of the last
   * answer on this Kube, so an apply is not to run alongside other calls on it.
   */
  async apply(objects: readonly KubeObject[], options: ApplyOptions = {}): Promise<ApplyResult[]> {
    const results: ApplyResult[] = [];
    for (const object of objects) {
      const ref = await this.resolve(object);
      if (typeof ref === 'string') {
        results.push({ ref: refOf(object), accepted: false, error: ref, warnings: [] });
        continue;
      }
      try {
        const addressed = ref.namespace ? { ...object, metadata: { ...object.metadata, namespace: ref.namespace } } : object;
        const stored = await this.objects.serverSideApply(addressed, options.fieldManager ?? 'letta-k8s');
        results.push({ ref, accepted: true, warnings: this.objects.lastWarnings, stored });
      } catch (error) {
        results.push({ ref, accepted: false, error: errorMessage(error), warnings: this.objects.lastWarnings });
      }
    }
    return results;
  }

  /** Applies and throws, naming every refused object, unless all are accepted. */
  async applyAll(objects: readonly KubeObject[], options: ApplyOptions = {}): Promise<ApplyResult[]> {
    const results = await this.apply(objects, options);
    const refused = results.filter((result) => !result.accepted);
    if (refused.length > 0) throw new Error(refused.map((result) => `${describeRef(result.ref)}: ${result.error}`).join('\n'));
    return results;
  }

  /** The object as stored; undefined when it does not exist. */
  async read(ref: ObjectRef): Promise<KubeObject | undefined> {
    const spec = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
    return this.objects.read(spec).catch((error: unknown) => {
      if (notFound(error)) return undefined;
      throw new Error(`read ${describeRef(ref)}: ${errorMessage(error)}`);
    });
  }

  /** Objects of one kind in a namespace (every namespace when none is given), optionally by label selector. */
  async list(apiVersion: string, kind: string, options: { namespace?: string; labelSelector?: string } = {}): Promise<KubeObject[]> {
    const list = await this.objects.list(apiVersion, kind, options.namespace || undefined, undefined, undefined, undefined, undefined, options.labelSelector);
    // Items of a list carry neither apiVersion nor kind; kubectl adds them, and so does this.
    return list.items.map((item) => ({ apiVersion, kind, ...item }));
  }

  /** A container's log (of its previous run if asked), or its last `tailLines` lines. */
  logs(pod: { name: string; namespace: string }, options: LogOptions = {}): Promise<string> {
    return this.core.readNamespacedPodLog({ name: pod.name, namespace: pod.namespace, ...options }).catch((error: unknown) => {
      throw new Error(`log of ${pod.namespace}/${pod.name}${options.container ? ` container ${options.container}` : ''}: ${errorMessage(error)}`);
    });
  }

  /** The reference with the namespace the server will use: "default" if unset, none for cluster-scoped kinds; a message for unknown kinds. */
  private async resolve(object: KubeObject): Promise<ObjectRef | string> {
    const ref = refOf(object);
    const resource = await this.objects.scope(ref.apiVersion, ref.kind).catch((error: unknown) => errorMessage(error));
    if (typeof resource !== 'object') {
      return `no matches for kind "${ref.kind}" in version "${ref.apiVersion}" on this server${resource ? `: ${resource}` : ''}`;
    }
    if (!resource.namespaced) return { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name };
    return { ...ref, namespace: ref.namespace ?? 'default' };
  }
}

/** The reference of an object as written. */
export function refOf(object: KubeObject): ObjectRef {
  const { apiVersion, kind, metadata } = object;
  return { apiVersion, kind, name: metadata?.name, ...(metadata?.namespace && { namespace: metadata.namespace }) };
}
