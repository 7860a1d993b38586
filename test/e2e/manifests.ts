import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from '../../tools/kube';

/*
 * Objects the e2e run adds to the cluster for its checks only: the stream backend (SSE and
 * WebSocket echo) behind an entry made like the stack's (an Ingress with its nginx annotations,
 * or an HTTPRoute with its parents and timeouts), and the throwaway pods that probe NetworkPolicies.
 */

/**
 * From Docker Hub, pinned; runs the test scripts with the standard library only. Where nothing
 * can be pulled, the run names an image built here instead (see setup.ts).
 */
export const PYTHON_IMAGE = 'python:3.12.12-alpine3.22';
/** Namespace of the test backends and of the "outside the stack" probe; deleted after the checks. */
export const E2E_NAMESPACE = 'letta-e2e';
export const BACKEND_NAME = 'e2e-stream-backend';
/** The stream backend's health path (stream_backend.py): its readiness probe, and the check that the ingress routes to it. */
export const BACKEND_HEALTH_PATH = '/healthz';
const BACKEND_PORT = 8080;
/** nobody:nogroup in Alpine and Debian; any non-root uid satisfies Pod Security "restricted". */
const UID = 65534;

const SCRIPTS = join(__dirname, 'backends');
export const streamBackendScript = (): string => readFileSync(join(SCRIPTS, 'stream_backend.py'), 'utf8');
const connectProbeScript = (): string => readFileSync(join(SCRIPTS, 'connect_probe.py'), 'utf8');
const openAiStandInScript = (): string => readFileSync(join(SCRIPTS, 'openai_stand_in.py'), 'utf8');
/** Marks the stand-in among the pods that carry vLLM's labels. */
const STAND_IN_KEY = 'letta-e2e/stand-in';
const STAND_IN_LABEL: Readonly<Record<string, string>> = { [STAND_IN_KEY]: 'true' };
export const isStandIn = (pod: KubeObject): boolean => pod.metadata?.labels?.[STAND_IN_KEY] === STAND_IN_LABEL[STAND_IN_KEY];

const E2E_LABELS = { 'app.kubernetes.io/part-of': 'letta-e2e' };

/** Pod Security "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/). */
const RESTRICTED_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: UID,
  runAsGroup: UID,
  seccompProfile: { type: 'RuntimeDefault' },
};
const RESTRICTED_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

function pythonContainer(image: string, name: string, script: string, args: readonly string[], env: Record<string, string> = {}) {
  return {
    name,
    image,
    imagePullPolicy: 'IfNotPresent',
    // -u: unbuffered, so that the pod log has each line as soon as it is printed.
    command: ['python', '-u', '-c', script, ...args],
    env: Object.entries({ PYTHONDONTWRITEBYTECODE: '1', ...env }).map(([key, value]) => ({ name: key, value })),
    securityContext: RESTRICTED_CONTAINER_SECURITY,
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
  };
}

/** The stack's entry among rendered objects: its one Ingress or HTTPRoute. */
export function findStackEntry(objects: readonly KubeObject[], namespace: string): KubeObject {
  const entries = objects.filter((o) => (o.kind === 'Ingress' || o.kind === 'HTTPRoute') && o.metadata?.namespace === namespace);
  if (entries.length !== 1) throw new Error(`expected one Ingress or HTTPRoute in namespace ${namespace}, found ${entries.length}`);
  return entries[0];
}

/** The host the stack's entry serves. */
export function entryHost(entry: KubeObject): string {
  const host = entry.kind === 'HTTPRoute' ? entry.spec?.hostnames?.[0] : entry.spec?.rules?.[0]?.host;
  if (typeof host !== 'string') throw new Error(`${entry.kind} ${entry.metadata.name} names no host`);
  return host;
}

/** The namespace of the test backends and the "outside the stack" probes. */
export function outsideNamespace(): KubeObject {
  // Restricted like the stack's namespace, so the test pods prove they comply.
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: E2E_NAMESPACE, labels: { ...E2E_LABELS, 'pod-security.kubernetes.io/enforce': 'restricted' } } };
}

export interface BackendOptions {
  /** The stack's Ingress (its class and nginx annotations are copied) or HTTPRoute (its parents and timeouts are). */
  readonly stackEntry: KubeObject;
  /** Host of the backend's entry. */
  readonly host: string;
  /** How long the SSE stream stays silent between its two events. */
  readonly idleSeconds: number;
  /** Image with python3 that runs the backend. @default PYTHON_IMAGE */
  readonly image?: string;
}

/**
 * Namespace, Deployment, Service and entry of the stream backend. An Ingress takes the stack
 * Ingress's class and every nginx.ingress.kubernetes.io annotation; an HTTPRoute takes the stack
 * route's parents and timeouts. So the checks through it prove what the stack's own entry does
 * for streams.
 */
export function streamBackendObjects(options: BackendOptions): KubeObject[] {
  const selector = { 'app.kubernetes.io/name': BACKEND_NAME };
  const labels = { ...E2E_LABELS, ...selector };
  return [
    outsideNamespace(),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: BACKEND_NAME, namespace: E2E_NAMESPACE, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: RESTRICTED_POD_SECURITY,
            containers: [
              {
                ...pythonContainer(options.image ?? PYTHON_IMAGE, 'backend', streamBackendScript(), [], {
                  PORT: String(BACKEND_PORT),
                  IDLE_SECONDS: String(options.idleSeconds),
                }),
                ports: [{ name: 'http', containerPort: BACKEND_PORT }],
                readinessProbe: { httpGet: { path: BACKEND_HEALTH_PATH, port: 'http' }, periodSeconds: 2 },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: BACKEND_NAME, namespace: E2E_NAMESPACE, labels },
      spec: { selector, ports: [{ name: 'http', port: BACKEND_PORT, targetPort: 'http' }] },
    },
    backendEntry(options, labels),
  ];
}

function backendEntry(options: BackendOptions, labels: Record<string, string>): KubeObject {
  const { stackEntry } = options;
  if (stackEntry.kind === 'HTTPRoute') {
    const stackRule = stackEntry.spec.rules[0];
    return {
      apiVersion: stackEntry.apiVersion,
      kind: 'HTTPRoute',
      metadata: { name: BACKEND_NAME, namespace: E2E_NAMESPACE, labels },
      spec: {
        parentRefs: stackEntry.spec.parentRefs,
        hostnames: [options.host],
        rules: [{ matches: stackRule.matches, backendRefs: [{ name: BACKEND_NAME, port: BACKEND_PORT }], timeouts: stackRule.timeouts }],
      },
    };
  }
  const annotations = Object.fromEntries(
    Object.entries((stackEntry.metadata.annotations ?? {}) as Record<string, string>).filter(([key]) => key.startsWith('nginx.ingress.kubernetes.io/')),
  );
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: BACKEND_NAME, namespace: E2E_NAMESPACE, labels, annotations },
    spec: {
      ingressClassName: stackEntry.spec.ingressClassName,
      rules: [
        {
          host: options.host,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: BACKEND_NAME, port: { name: 'http' } } } }],
          },
        },
      ],
    },
  };
}

export interface StandInOptions {
  readonly name: string;
  readonly namespace: string;
  /** The component's selector labels: its Service and NetworkPolicy then take the stand-in for it. */
  readonly selector: Readonly<Record<string, string>>;
  readonly port: number;
  readonly model: string;
  readonly maxModelLen: number;
  /** Placed where the component would be. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly KubeObject[];
  /** Image with python3. @default PYTHON_IMAGE */
  readonly image?: string;
}

/**
 * A bare pod that answers what Letta asks of vLLM (openai_stand_in.py) where vLLM's image cannot
 * be had. A bare pod, without the pod-template-hash label, so that the vLLM Deployment's
 * ReplicaSet never adopts it; it requests no GPU, so the real vLLM pod keeps the node's one.
 */
export function openAiStandIn(options: StandInOptions): KubeObject {
  const { name, namespace, port, nodeSelector, tolerations } = options;
  return barePod({ name, namespace, labels: { ...options.selector, ...STAND_IN_LABEL } }, { nodeSelector, tolerations }, {
    ...pythonContainer(options.image ?? PYTHON_IMAGE, 'openai', openAiStandInScript(), [], { PORT: String(port), MODEL: options.model, MAX_MODEL_LEN: String(options.maxModelLen) }),
    ports: [{ name: 'http', containerPort: port }],
    readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 2 },
  });
}

/** A pod of one container, run by no controller, at Pod Security "restricted". */
function barePod(metadata: KubeObject, spec: KubeObject, container: KubeObject): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: { ...spec, automountServiceAccountToken: false, enableServiceLinks: false, securityContext: RESTRICTED_POD_SECURITY, containers: [container] },
  };
}

export interface ProbePodOptions {
  readonly name: string;
  readonly namespace: string;
  /** Labels that make the pod look like a component to NetworkPolicies. */
  readonly labels: Readonly<Record<string, string>>;
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutSeconds: number;
  /**
   * Attempts during this many seconds (see connect_probe.py) instead of one; with
   * `untilConnected` the first connection ends them. @default one attempt
   */
  readonly windowSeconds?: number;
  readonly untilConnected?: boolean;
  /** Image with python3 that runs the probe. @default PYTHON_IMAGE */
  readonly image?: string;
}

/**
 * A pod that makes one connection attempt and logs the outcome. Pod Security "restricted", so it
 * may run in the stack's namespace. Its readiness probe never passes: a probe labelled like a
 * component would otherwise join that component's Service (and the database's DNS name) for as
 * long as it runs.
 */
export function probePod(options: ProbePodOptions): KubeObject {
  const window = options.windowSeconds === undefined ? [] : [String(options.windowSeconds), ...(options.untilConnected ? ['--until-connected'] : [])];
  const args = [options.host, String(options.port), String(options.connectTimeoutSeconds), ...window];
  return barePod({ name: options.name, namespace: options.namespace, labels: { ...options.labels, 'letta-e2e/probe': 'true' } }, { restartPolicy: 'Never' }, {
    ...pythonContainer(options.image ?? PYTHON_IMAGE, 'probe', connectProbeScript(), args),
    readinessProbe: { exec: { command: ['false'] }, periodSeconds: 60 },
  });
}
