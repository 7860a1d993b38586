/**
 * Issue #3, part 3: the reachability evaluator on known cases, one NetworkPolicy rule at a time,
 * and the classic recipes. test/netpol-analyzer.test.ts compares it with an independent analyzer.
 */
import { describe, expect, it } from 'vitest';
import {
  asPeer,
  CLUSTER_DNS_PROBE,
  Connection,
  connectivity,
  formatConnection,
  formatPorts,
  KubeObject,
  NetworkPolicyEvaluator,
  OUTSIDER_PROBE,
  PodPeer,
  PROBE_ADDRESSES,
  probePods,
  workloadsFrom,
} from '../tools/netpol/evaluator';

// ---------------------------------------------------------------------------------------------
// Builders: just enough of each object for the evaluator.

const namespace = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});

const policy = (ns: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec,
});

const pod = (ns: string, labels: Record<string, string>, ports: PodPeer['ports'] = [], ip?: string): PodPeer => ({
  kind: 'pod',
  namespace: ns,
  labels,
  ports,
  ...(ip ? { ip } : {}),
});

const address = (ip: string) => ({ kind: 'ip' as const, ip });

const deployment = (ns: string, name: string, labels: Record<string, string>, podSpec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns },
  spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'x:1' }], ...podSpec } } },
});

const web = pod('shop', { app: 'web' }, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
const api = pod('shop', { app: 'api' }, [
  { name: 'http', containerPort: 8000, protocol: 'TCP' },
  { name: 'dns', containerPort: 5353, protocol: 'UDP' },
]);
const kubeDns = pod('kube-system', { 'k8s-app': 'kube-dns' }, [
  { name: 'dns', containerPort: 53, protocol: 'UDP' },
  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
]);

const evaluate = (...objects: KubeObject[]) => new NetworkPolicyEvaluator(objects);
const denyAllIngress = (ns: string) => policy(ns, 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
const denyAllEgress = (ns: string) => policy(ns, 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] });

// ---------------------------------------------------------------------------------------------

describe('GIVEN no NetworkPolicy', () => {
  it('WHEN any pod or address connects THEN every port of every protocol is open', () => {
    const evaluator = evaluate();

    expect(formatPorts(evaluator.allowedPorts(web, api))).toBe('all');
    expect(formatPorts(evaluator.allowedPorts(address('8.8.8.8'), web))).toBe('all');
    expect(formatPorts(evaluator.allowedPorts(web, address('8.8.8.8')))).toBe('all');
  });
});

describe('GIVEN the deny-all-ingress recipe in shop', () => {
  const evaluator = evaluate(denyAllIngress('shop'));

  it('WHEN anything connects to a shop pod THEN it is refused', () => {
    expect(evaluator.allowed(api, web, 8080)).toBe(false);
    expect(evaluator.allowed(pod('other', {}), web, 8080)).toBe(false);
    expect(evaluator.allowed(address('8.8.8.8'), web, 8080)).toBe(false);
  });

  it('WHEN a shop pod connects out, or a pod of another namespace is the server THEN the policy does not apply', () => {
    expect(evaluator.allowed(web, address('8.8.8.8'), 443)).toBe(true);
    expect(evaluator.allowed(web, pod('other', {}), 80)).toBe(true);
  });
});

describe('GIVEN the deny-all-egress recipe in shop', () => {
  const evaluator = evaluate(denyAllEgress('shop'));

  it('WHEN a shop pod connects anywhere THEN it is refused, even to its own namespace and DNS', () => {
    expect(evaluator.allowed(web, api, 8000)).toBe(false);
    expect(evaluator.allowed(web, kubeDns, 53, 'UDP')).toBe(false);
    expect(evaluator.allowed(web, address('8.8.8.8'), 443)).toBe(false);
  });

  it('WHEN something connects to a shop pod THEN ingress is still open', () => {
    expect(evaluator.allowed(pod('other', {}), web, 8080)).toBe(true);
  });
});

describe('GIVEN the allow-from-namespace recipe: ingress from namespaces labelled team=ops', () => {
  const evaluator = evaluate(
    namespace('shop'),
    namespace('monitoring', { team: 'ops' }),
    policy('shop', 'from-ops', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }] }),
  );

  it('WHEN any pod of monitoring connects THEN every port is open', () => {
    expect(formatPorts(evaluator.allowedPorts(pod('monitoring', { app: 'anything' }), web))).toBe('all');
  });

  it('WHEN a pod of the policy namespace or of an unlabelled namespace connects THEN it is refused', () => {
    expect(evaluator.allowed(api, web, 8080)).toBe(false);
    expect(evaluator.allowed(pod('elsewhere', {}), web, 8080)).toBe(false);
  });

  it('WHEN an address connects THEN a namespace selector does not admit it', () => {
    expect(evaluator.allowed(address('10.1.2.3'), web, 8080)).toBe(false);
  });
});

describe('GIVEN the allow-DNS recipe: egress to kube-dns pods in kube-system (one peer, both selectors)', () => {
  const evaluator = evaluate(
    policy('shop', 'dns', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    }),
  );

  it('WHEN a shop pod resolves a name THEN UDP and TCP 53 to kube-dns are open, nothing else', () => {
    expect(formatPorts(evaluator.allowedPorts(web, kubeDns))).toBe('TCP 53 UDP 53');
  });

  it('WHEN the kube-system namespace has no Namespace object THEN its automatic name label still matches', () => {
    expect(evaluator.labelsOfNamespace('kube-system')).toEqual({ 'kubernetes.io/metadata.name': 'kube-system' });
  });

  it('WHEN the peer is another kube-system pod, or a kube-dns lookalike elsewhere THEN the AND refuses it', () => {
    expect(evaluator.allowed(web, pod('kube-system', { 'k8s-app': 'metrics-server' }), 53, 'UDP')).toBe(false);
    expect(evaluator.allowed(web, pod('shop', { 'k8s-app': 'kube-dns' }), 53, 'UDP')).toBe(false);
  });
});

describe('GIVEN ingress from a labelled pod in another namespace', () => {
  const nsSelector = { matchLabels: { team: 'ops' } };
  const podSelector = { matchLabels: { app: 'prometheus' } };
  const objects = [namespace('monitoring', { team: 'ops' }), namespace('tools')];
  const prometheus = pod('monitoring', { app: 'prometheus' });
  const grafana = pod('monitoring', { app: 'grafana' });
  const toolsPrometheus = pod('tools', { app: 'prometheus' });
  const shopPrometheus = pod('shop', { app: 'prometheus' });

  it('WHEN both selectors are in one peer THEN only that pod in that namespace is admitted (AND)', () => {
    const evaluator = evaluate(...objects, policy('shop', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSelector, podSelector }] }] }));

    expect([prometheus, grafana, toolsPrometheus, shopPrometheus].map((client) => evaluator.allowed(client, web, 8080))).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });

  it('WHEN the selectors are two peers THEN the namespace or the pod of the policy namespace is admitted (OR)', () => {
    const evaluator = evaluate(...objects, policy('shop', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSelector }, { podSelector }] }] }));

    expect([prometheus, grafana, toolsPrometheus, shopPrometheus].map((client) => evaluator.allowed(client, web, 8080))).toEqual([
      true,
      true,
      false,
      true,
    ]);
  });

  it('WHEN the namespace selector is empty THEN the pod is admitted from every namespace', () => {
    const evaluator = evaluate(...objects, policy('shop', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector }] }] }));

    expect([prometheus, grafana, toolsPrometheus, shopPrometheus].map((client) => evaluator.allowed(client, web, 8080))).toEqual([
      true,
      false,
      true,
      true,
    ]);
  });
});

describe('GIVEN the internet-egress recipe: 0.0.0.0/0 except the private ranges, TCP 443', () => {
  const internet = policy('shop', 'internet', {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Egress'],
    egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] } }], ports: [{ port: 443 }] }],
  });

  it('WHEN the pod connects to a public address THEN only TCP 443 is open', () => {
    expect(formatPorts(evaluate(internet).allowedPorts(web, address('8.8.8.8')))).toBe('TCP 443');
  });

  it('WHEN the pod connects to a private address or a cluster pod THEN it is refused', () => {
    const evaluator = evaluate(internet);

    expect(
      [PROBE_ADDRESSES.private10, PROBE_ADDRESSES.private172, PROBE_ADDRESSES.private192].map((ip) => evaluator.allowed(web, address(ip), 443)),
    ).toEqual([false, false, false]);
    expect(evaluator.allowed(web, api, 443)).toBe(false);
  });

  it('WHEN the block has no exceptions THEN it also admits pods, unless pods are given no addresses (podCidr null)', () => {
    const everywhere = policy('shop', 'everywhere', {
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 443 }] }],
    });

    expect(new NetworkPolicyEvaluator([everywhere]).allowed(web, api, 443)).toBe(true);
    expect(new NetworkPolicyEvaluator([everywhere], { podCidr: null }).allowed(web, api, 443)).toBe(false);
  });

  it('WHEN an exception cuts out only part of the pod CIDR THEN pods without an address may match, pods with one are exact', () => {
    const partial = policy('shop', 'partial', {
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.1.0/24'] } }] }],
    });
    const evaluator = evaluate(partial);

    expect(evaluator.allowed(web, api, 80)).toBe(true);
    expect(evaluator.allowed(web, { ...api, ip: '10.244.1.7' }, 80)).toBe(false);
    expect(evaluator.allowed(web, { ...api, ip: '10.244.2.7' }, 80)).toBe(true);
  });
});

describe('GIVEN an ipBlock for IPv6', () => {
  const evaluator = evaluate(
    policy('shop', 'v6', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:ff::/48'] } }] }] }),
  );

  it('WHEN an address of the block connects THEN it is admitted, unless excepted; IPv4 never matches', () => {
    expect(['2001:db8::1', '2001:db8:ff::1', '2001:db9::1', '32.1.13.184'].map((ip) => evaluator.allowed(address(ip), web, 8080))).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('GIVEN policies without policyTypes', () => {
  it('WHEN a policy has only ingress rules THEN it isolates ingress only', () => {
    const evaluator = evaluate(policy('shop', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 8080 }] }] }));

    expect(evaluator.explain(web, api).egress.isolated).toBe(false);
    expect(formatPorts(evaluator.allowedPorts(api, web))).toBe('TCP 8080');
  });

  it('WHEN a policy has egress rules THEN it isolates egress too, and its absent ingress rules deny ingress', () => {
    const evaluator = evaluate(policy('shop', 'p', { podSelector: {}, egress: [{ ports: [{ port: 443 }] }] }));

    expect(formatPorts(evaluator.allowedPorts(web, address('8.8.8.8')))).toBe('TCP 443');
    expect(evaluator.allowed(address('8.8.8.8'), web, 8080)).toBe(false);
  });

  it('WHEN a policy has an empty egress list THEN defaulting counts no egress rules: ingress only', () => {
    const evaluator = evaluate(policy('shop', 'p', { podSelector: {}, egress: [] }));

    expect(evaluator.allowed(web, address('8.8.8.8'), 443)).toBe(true);
    expect(evaluator.allowed(address('8.8.8.8'), web, 8080)).toBe(false);
  });
});

describe('GIVEN rules with empty and absent parts', () => {
  it('WHEN `from` is an empty list THEN, like an absent `from`, every source is admitted', () => {
    const empty = evaluate(policy('shop', 'p', { podSelector: {}, ingress: [{ from: [], ports: [{ port: 8080 }] }] }));
    const absent = evaluate(policy('shop', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 8080 }] }] }));

    for (const evaluator of [empty, absent]) {
      expect([pod('other', {}), address('8.8.8.8')].map((client) => evaluator.allowed(client, web, 8080))).toEqual([true, true]);
    }
  });

  it('WHEN a rule has no ports THEN every port of every protocol is open', () => {
    const evaluator = evaluate(policy('shop', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }));

    expect(formatPorts(evaluator.allowedPorts(api, web))).toBe('all');
  });

  it('WHEN a port entry has a protocol but no port THEN every port of that protocol is open', () => {
    const evaluator = evaluate(policy('shop', 'p', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }] }] }));

    expect(formatPorts(evaluator.allowedPorts(api, web))).toBe('UDP 1-65535');
  });

  it('WHEN the ingress list is empty THEN nothing is admitted', () => {
    const evaluator = evaluate(policy('shop', 'p', { podSelector: {}, policyTypes: ['Ingress'], ingress: [] }));

    expect(formatPorts(evaluator.allowedPorts(api, web))).toBe('none');
  });

  it('WHEN podSelector is {} THEN it selects every pod of the policy namespace and none elsewhere', () => {
    const evaluator = evaluate(denyAllIngress('shop'));

    expect(evaluator.explain(api, web).ingress.isolated).toBe(true);
    expect(evaluator.explain(api, pod('other', {})).ingress.isolated).toBe(false);
  });
});

describe('GIVEN ports by number range and by name', () => {
  it('WHEN a rule has port and endPort THEN exactly that range is open', () => {
    const evaluator = evaluate(policy('shop', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 8000, endPort: 8010 }] }] }));

    expect([7999, 8000, 8010, 8011].map((port) => evaluator.allowed(api, web, port))).toEqual([false, true, true, false]);
  });

  it('WHEN an ingress rule names a port THEN it resolves against the server pod, protocol included', () => {
    const evaluator = evaluate(
      policy('shop', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 'http' }, { port: 'dns', protocol: 'TCP' }] }] }),
    );

    // api names 8000/TCP "http" and 5353/UDP "dns": the TCP "dns" matches nothing.
    expect(formatPorts(evaluator.allowedPorts(web, api))).toBe('TCP 8000');
    expect(formatPorts(evaluator.allowedPorts(api, web))).toBe('TCP 8080');
  });

  it('WHEN an egress rule names a port THEN it resolves against each destination, and never matches an address', () => {
    const evaluator = evaluate(policy('shop', 'p', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'http' }] }] }));

    expect(formatPorts(evaluator.allowedPorts(web, api))).toBe('TCP 8000');
    expect(formatPorts(evaluator.allowedPorts(web, pod('shop', { app: 'other' }, [{ name: 'http', containerPort: 3000, protocol: 'TCP' }])))).toBe(
      'TCP 3000',
    );
    expect(formatPorts(evaluator.allowedPorts(web, address('8.8.8.8')))).toBe('none');
  });
});

describe('GIVEN several policies selecting one pod', () => {
  const evaluator = evaluate(
    policy('shop', 'a', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 8080 }] }] }),
    policy('shop', 'b', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 9090 }] }] }),
    policy('shop', 'c', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'nobody' } } }] }] }),
  );

  it('WHEN a client connects THEN what any of them allows is allowed (union), and explain names them', () => {
    const explanation = evaluator.explain(api, web);

    expect(formatPorts(explanation.ports)).toBe('TCP 8080,9090');
    expect(explanation.ingress.allowedBy).toEqual(['shop/a', 'shop/b']);
  });
});

describe('GIVEN a client whose egress and a server whose ingress are both restricted', () => {
  const egress = policy('shop', 'web-egress', {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Egress'],
    egress: [{ ports: [{ port: 8000, endPort: 8100 }] }],
  });
  const ingress = policy('shop', 'api-ingress', {
    podSelector: { matchLabels: { app: 'api' } },
    policyTypes: ['Ingress'],
    ingress: [{ ports: [{ port: 8050, endPort: 9000 }] }],
  });

  it('WHEN they connect THEN only what both allow is open', () => {
    expect(formatPorts(evaluate(egress, ingress).allowedPorts(web, api))).toBe('TCP 8050-8100');
  });

  it('WHEN only one side allows a port THEN it is refused', () => {
    const evaluator = evaluate(egress, ingress);

    expect(evaluator.allowed(web, api, 8010)).toBe(false);
    expect(evaluator.allowed(web, api, 8500)).toBe(false);
  });
});

describe('GIVEN selectors with matchExpressions', () => {
  const ingressFrom = (expression: Record<string, unknown>) =>
    evaluate(policy('shop', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchExpressions: [expression] } }] }] }));
  const clients = [pod('shop', { tier: 'front' }), pod('shop', { tier: 'back' }), pod('shop', {})];
  const admitted = (expression: Record<string, unknown>) => clients.map((client) => ingressFrom(expression).allowed(client, web, 8080));

  it('WHEN the operator is In THEN pods with one of the values are admitted', () => {
    expect(admitted({ key: 'tier', operator: 'In', values: ['front', 'middle'] })).toEqual([true, false, false]);
  });

  it('WHEN the operator is NotIn THEN pods with another value or without the key are admitted', () => {
    expect(admitted({ key: 'tier', operator: 'NotIn', values: ['front'] })).toEqual([false, true, true]);
  });

  it('WHEN the operator is Exists or DoesNotExist THEN only the presence of the key counts', () => {
    expect(admitted({ key: 'tier', operator: 'Exists' })).toEqual([true, true, false]);
    expect(admitted({ key: 'tier', operator: 'DoesNotExist' })).toEqual([false, false, true]);
  });

  it('WHEN matchLabels and matchExpressions are combined THEN both must hold', () => {
    const evaluator = evaluate(
      policy('shop', 'p', {
        podSelector: {},
        ingress: [{ from: [{ podSelector: { matchLabels: { tier: 'front' }, matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] } }] }],
      }),
    );

    expect([pod('shop', { tier: 'front' }), pod('shop', { tier: 'front', canary: 'true' })].map((c) => evaluator.allowed(c, web, 1))).toEqual([
      true,
      false,
    ]);
  });
});

describe('GIVEN a policy the API server would reject', () => {
  const rejects = (rule: Record<string, unknown>) => () => evaluate(policy('shop', 'bad', { podSelector: {}, ingress: [rule] }));

  it('WHEN it is read THEN the evaluator throws instead of guessing', () => {
    expect(rejects({ from: [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] } }] })).toThrow(/unknown label selector operator/);
    expect(rejects({ from: [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } }] })).toThrow(/needs values/);
    expect(rejects({ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] })).toThrow(/cannot be combined/);
    expect(rejects({ from: [{}] })).toThrow(/needs podSelector, namespaceSelector or ipBlock/);
    expect(rejects({ ports: [{ port: 'http', endPort: 90 }] })).toThrow(/endPort needs a numeric port/);
    expect(rejects({ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] })).toThrow(/not a CIDR block/);
  });
});

describe('GIVEN workload manifests', () => {
  const cronJob: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: 'shop' },
    spec: { jobTemplate: { spec: { template: { metadata: { labels: { app: 'nightly' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } } } },
  };
  const barePod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', labels: { app: 'debug' } }, spec: { containers: [] } };
  const withPorts = deployment('shop', 'api', { app: 'api' }, {
    containers: [{ name: 'api', image: 'x:1', ports: [{ name: 'http', containerPort: 8000 }] }],
    initContainers: [
      { name: 'migrate', image: 'x:1', ports: [{ name: 'admin', containerPort: 9100 }] },
      { name: 'proxy', image: 'x:1', restartPolicy: 'Always', ports: [{ name: 'metrics', containerPort: 9090, protocol: 'TCP' }] },
    ],
  });

  it('WHEN workloads are read THEN each has its id, kind and pod template labels; a bare pod is in "default"', () => {
    expect(workloadsFrom([cronJob, barePod, namespace('shop')]).map(({ id, kind, labels }) => ({ id, kind, labels }))).toEqual([
      { id: 'shop/nightly', kind: 'CronJob', labels: { app: 'nightly' } },
      { id: 'default/debug', kind: 'Pod', labels: { app: 'debug' } },
    ]);
  });

  it('WHEN containers declare ports THEN those of containers and sidecars count, not those of init containers that exit', () => {
    expect(workloadsFrom([withPorts])[0].ports).toEqual([
      { name: 'http', containerPort: 8000, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ]);
  });
});

describe('GIVEN a small stack: web and api in shop behind default deny, web reachable on its named port', () => {
  const objects = [
    namespace('shop', { team: 'shop' }),
    deployment('shop', 'web', { app: 'web' }, { containers: [{ name: 'web', image: 'x:1', ports: [{ name: 'http', containerPort: 8080 }] }] }),
    deployment('shop', 'api', { app: 'api' }, { containers: [{ name: 'api', image: 'x:1', ports: [{ name: 'http', containerPort: 8000 }] }] }),
    policy('shop', 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('shop', 'web', {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ ports: [{ port: 'http' }] }],
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }] }],
    }),
    policy('shop', 'api', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] }),
  ];

  it('WHEN the connectivity is listed THEN what touches shop is exactly the allowed connections, probes and addresses included', () => {
    const touchesShop = (c: Connection) => c.from.startsWith('shop/') || c.to.startsWith('shop/');
    const toWeb = (from: string): Connection => ({ from, to: 'shop/web', protocol: 'TCP', port: 8080 });

    expect(connectivity(objects).filter(touchesShop).map(formatConnection).sort()).toEqual(
      [
        ...Object.values(PROBE_ADDRESSES).map(toWeb),
        toWeb(CLUSTER_DNS_PROBE.id),
        toWeb(OUTSIDER_PROBE.id),
        { from: 'shop/web', to: 'shop/api', protocol: 'TCP', port: 8000 } satisfies Connection,
      ]
        .map(formatConnection)
        .sort(),
    );
  });

  it('WHEN a rule allows every port THEN the listing shows the whole range per protocol', () => {
    const open = [...objects, policy('shop', 'api-open', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{}] })];

    expect(
      connectivity(open, { probePods: [OUTSIDER_PROBE], probeAddresses: [] })
        .filter((c) => c.to === 'shop/api')
        .map(formatConnection),
    ).toEqual([
      'outsider/probe => shop/api SCTP 1-65535',
      'outsider/probe => shop/api TCP 1-65535',
      'outsider/probe => shop/api UDP 1-65535',
      'shop/web => shop/api TCP 8000',
    ]);
  });

  it('WHEN probes are listed THEN there is an unlabelled pod in each namespace with workloads, the outsider and kube-dns', () => {
    expect(probePods(objects).map((probe) => probe.id)).toEqual(['shop/probe', 'outsider/probe', 'kube-system/kube-dns']);
  });
});

describe('GIVEN a workload read from a manifest', () => {
  it('WHEN a workload becomes a peer THEN its namespace, labels and ports carry over', () => {
    const [workload] = workloadsFrom([deployment('shop', 'web', { app: 'web' })]);

    expect(asPeer(workload)).toEqual({ kind: 'pod', namespace: 'shop', labels: { app: 'web' }, ports: [] });
  });
});
