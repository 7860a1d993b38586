import { Agent, request as httpsRequest } from 'node:https';

/** How to reach and authenticate to a kube-apiserver. */
export interface Connection {
  /** Base URL, e.g. https://127.0.0.1:34567. */
  readonly url: string;
  /** Bearer token. */
  readonly token: string;
  /** PEM bundle the server's certificate chains to. */
  readonly caCertificate: string;
}

/** A Kubernetes object as written in a manifest. */
export type KubeObject = Record<string, any>;

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  /** Empty for cluster-scoped objects. */
  namespace?: string;
}

export interface KubeResponse {
  status: number;
  body: string;
  /** The texts of the response's Warning headers (Pod Security, deprecations, ...). */
  warnings: string[];
}

export interface ApplyOptions {
  /** Field manager recorded in managedFields; defaults to 'letta-k8s'. */
  fieldManager?: string;
  /** Namespace for namespaced objects that name none, as kubectl's context namespace; defaults to 'default'. */
  defaultNamespace?: string;
}

export interface ApplyResult {
  /** The object as addressed, namespace resolved. */
  ref: ObjectRef;
  accepted: boolean;
  /** HTTP status; 0 when the request was not sent (unknown kind). */
  status: number;
  /** The server's message when not accepted. */
  error?: string;
  warnings: string[];
  /** The object as stored, when accepted. */
  stored?: KubeObject;
}

/** Sends one request to the API server; resolves with any HTTP status, rejects on transport errors. */
export function request(
  connection: Connection,
  method: string,
  path: string,
  body?: { contentType: string; text: string },
): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, connection.url),
      {
        method,
        agent: agentFor(connection),
        timeout: 60_000,
        headers: {
          Authorization: `Bearer ${connection.token}`,
          Accept: 'application/json',
          ...(body && { 'Content-Type': body.contentType, 'Content-Length': Buffer.byteLength(body.text) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          // rawHeaders keeps repeated Warning headers apart; res.headers would join them.
          const warnings: string[] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            if (res.rawHeaders[i].toLowerCase() === 'warning') warnings.push(...parseWarningHeader(res.rawHeaders[i + 1]));
          }
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), warnings });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body?.text);
  });
}

/** Per connection, so that the requests of one test run reuse their TLS connections. */
const agents = new WeakMap<Connection, Agent>();

function agentFor(connection: Connection): Agent {
  let agent = agents.get(connection);
  if (!agent) {
    // Trusts exactly the server's own CA: no rejectUnauthorized:false even on loopback.
    agent = new Agent({ ca: connection.caCertificate, keepAlive: true });
    agents.set(connection, agent);
  }
  return agent;
}

/** Texts of an RFC 9111 Warning header value: `299 - "text"`, possibly several, comma-separated. */
function parseWarningHeader(value: string): string[] {
  const texts: string[] = [];
  for (const match of value.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) texts.push(match[1].replace(/\\(.)/g, '$1'));
  return texts;
}

/**
 * Applies objects one by one, in the given order, as `kubectl apply --server-side` would: a PATCH
 * with application/apply-patch+yaml and fieldValidation=Strict. Server-side apply rejects unknown
 * fields in any case; Strict adds duplicate fields, which cannot reach this point anyway, since
 * js-yaml refuses duplicate keys when manifests are parsed. A rejected object does not stop the rest.
 */
export async function applyObjects(
  connection: Connection,
  objects: readonly KubeObject[],
  options: ApplyOptions = {},
): Promise<ApplyResult[]> {
  const query = new URLSearchParams({
    fieldManager: options.fieldManager ?? 'letta-k8s',
    fieldValidation: 'Strict',
  });
  const results: ApplyResult[] = [];
  for (const object of objects) {
    const { apiVersion, kind, metadata } = object;
    const located = await locate(connection, {
      apiVersion,
      kind,
      name: metadata?.name,
      namespace: metadata?.namespace ?? options.defaultNamespace ?? 'default',
    });
    if ('error' in located) {
      results.push({ ref: located.ref, accepted: false, status: 0, error: located.error, warnings: [] });
      continue;
    }
    const response = await request(connection, 'PATCH', `${located.path}?${query}`, {
      contentType: 'application/apply-patch+yaml',
      // JSON is YAML, and keeps the object exactly as given.
      text: JSON.stringify(object),
    });
    const accepted = response.status >= 200 && response.status < 300;
    results.push({
      ref: located.ref,
      accepted,
      status: response.status,
      warnings: response.warnings,
      ...(accepted ? { stored: JSON.parse(response.body) } : { error: statusMessage(response) }),
    });
  }
  return results;
}

/** Reads an object back; undefined when it does not exist. */
export async function getObject(connection: Connection, ref: ObjectRef): Promise<KubeObject | undefined> {
  const located = await locate(connection, ref);
  if ('error' in located) throw new Error(located.error);
  const response = await request(connection, 'GET', located.path);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${describeRef(located.ref)}: ${statusMessage(response)}`);
  return JSON.parse(response.body);
}

/** "apps/v1 Deployment letta/letta-server", for messages. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.apiVersion} ${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

interface Resource {
  name: string;
  namespaced: boolean;
}

/** Per connection: "apiVersion/Kind" to its resource, from discovery. */
const discoveries = new WeakMap<Connection, Promise<Map<string, Resource>>>();

/** Maps a reference to its REST path, as kubectl's REST mapper does; drops the namespace of cluster-scoped kinds. */
async function locate(
  connection: Connection,
  ref: ObjectRef,
): Promise<{ ref: ObjectRef; path: string } | { ref: ObjectRef; error: string }> {
  const key = `${ref.apiVersion}/${ref.kind}`;
  let resource = (await discover(connection, false)).get(key);
  // A kind unknown so far may have arrived with a CustomResourceDefinition applied since.
  resource ??= (await discover(connection, true)).get(key);
  if (!resource) {
    return { ref, error: `no matches for kind "${ref.kind}" in version "${ref.apiVersion}" on this server` };
  }
  const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const scoped: ObjectRef = { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name };
  if (resource.namespaced) scoped.namespace = ref.namespace;
  const namespacePath = resource.namespaced ? `/namespaces/${encodeURIComponent(ref.namespace ?? '')}` : '';
  return { ref: scoped, path: `${base}${namespacePath}/${resource.name}/${encodeURIComponent(ref.name)}` };
}

function discover(connection: Connection, refresh: boolean): Promise<Map<string, Resource>> {
  let discovery = discoveries.get(connection);
  if (!discovery || refresh) {
    discovery = fetchDiscovery(connection);
    discoveries.set(connection, discovery);
    // A failed discovery is not cached.
    discovery.catch(() => discoveries.delete(connection));
  }
  return discovery;
}

async function fetchDiscovery(connection: Connection): Promise<Map<string, Resource>> {
  const getJson = async (path: string) => {
    const response = await request(connection, 'GET', path);
    if (response.status !== 200) throw new Error(`discovery GET ${path}: ${statusMessage(response)}`);
    return JSON.parse(response.body);
  };
  const groups: Array<{ versions: Array<{ groupVersion: string }> }> = (await getJson('/apis')).groups;
  const groupVersions = [
    ...((await getJson('/api')).versions as string[]),
    ...groups.flatMap((group) => group.versions.map((version) => version.groupVersion)),
  ];
  const resources = new Map<string, Resource>();
  await Promise.all(
    groupVersions.map(async (groupVersion) => {
      const list = await getJson(groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`);
      for (const resource of list.resources as Array<{ name: string; kind: string; namespaced: boolean }>) {
        // Subresources (deployments/scale, pods/status) share kinds with real resources.
        if (resource.name.includes('/')) continue;
        resources.set(`${groupVersion}/${resource.kind}`, { name: resource.name, namespaced: resource.namespaced });
      }
    }),
  );
  return resources;
}

function statusMessage(response: KubeResponse): string {
  try {
    const status = JSON.parse(response.body);
    if (typeof status.message === 'string') return `${response.status} ${status.reason || 'error'}: ${status.message}`;
  } catch {
    // Not a Status object: fall through to the raw body.
  }
  return `${response.status}: ${response.body}`;
}
