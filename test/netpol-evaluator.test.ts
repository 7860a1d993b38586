/**
 * Issue #3, part 3: the reachability evaluator on known cases, one NetworkPolicy rule at a time,
 * and the classic recipes. test/netpol-analyzer.test.ts compares it with an independent analyzer.
 */
import { describe, expect, it } from 'vitest';
import {
  CLUSTER_DNS_PROBE,
  Connection,
  connectivity,
  formatConnection,
  NetworkPolicyEvaluator,
  OUTSIDER_PROBE,
  Peer,
  PodPeer,
  PROBE_ADDRESSES,
  probePods,
  workloadsFrom,
} from '../tools/netpol/evaluator';
import { format as formatPorts } from '../tools/netpol/ports';
import type { KubeObject } from '../tools/kube';

// ---------------------------------------------------------------------------------------------
// Builders: just enough of each object for the evaluator.

const namespace = (name: string, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const policy = (ns: string, name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec });
const pod = (ns: string, labels: Record<string, string>, ports: PodPeer['ports'] = []): PodPeer => ({ kind: 'pod', namespace: ns, labels, ports });
const address = (ip: string): Peer => ({ kind: 'ip', ip });

const deployment = (ns: string, name: string, labels: Record<string, string>, podSpec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns },
  spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'x:1' }], ...podSpec } } },
});

const web = pod('shop', { app: 'web' }, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
const api = pod('shop', { app: 'api' }, [{ name: 'http', containerPort: 8000, protocol: 'TCP' }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }]);
const kubeDns = pod('kube-system', { 'k8s-app': 'kube-dns' }, [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }]);

const evaluate = (...objects: KubeObject[]) => new NetworkPolicyEvaluator(objects);

// ---------------------------------------------------------------------------------------------

const other = pod('other', {});
const internet = address('8.8.8.8');
const ingressPolicy = (ingress: unknown[], extra: Record<string, unknown> = {}) => policy('shop', 'p', { podSelector: {}, ingress, ...extra });
const webEgressPolicy = (...egress: unknown[]) => policy('shop', 'web-egress', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress });
const fromOps = policy('shop', 'from-ops', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }] });
const dns = policy('shop', 'dns', {
  podSelector: {},
  policyTypes: ['Egress'],
  egress: [
    {
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
    },
  ],
});
const internetEgress = webEgressPolicy({ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] } }], ports: [{ port: 443 }] });
const v6 = ingressPolicy([{ from: [{ ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:ff::/48'] } }] }]);
const webEgress = webEgressPolicy({ ports: [{ port: 8000, endPort: 8100 }] });
const apiIngress = policy('shop', 'api-ingress', { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 8050, endPort: 9000 }] }] });
const namedEgress = webEgressPolicy({ ports: [{ port: 'http' }] });
const http3000 = pod('shop', { app: 'other' }, [{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);

// GIVEN the policies WHEN `from` connects to `to` THEN exactly these ports are open.
describe.each<[string, KubeObject[], Array<[string, Peer, Peer, string]>]>([
  ['no NetworkPolicy: every port of every protocol is open', [], [
    ['pod to pod', web, api, 'all'],
    ['address to pod', internet, web, 'all'],
    ['pod to address', web, internet, 'all'],
  ]],
  ['the deny-all-ingress recipe in shop', [policy('shop', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })], [
    ['a shop pod to a shop pod', api, web, 'none'],
    ['another namespace to a shop pod', other, web, 'none'],
    ['an address to a shop pod', internet, web, 'none'],
    ['a shop pod out (egress is not isolated)', web, internet, 'all'],
    ['to a pod of another namespace (not selected)', web, other, 'all'],
    ['a shop pod to another namespace (podSelector {} selects only its own)', api, other, 'all'],
  ]],
  ['the deny-all-egress recipe in shop', [policy('shop', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })], [
    ['a shop pod to its own namespace', web, api, 'none'],
    ['a shop pod to DNS', web, kubeDns, 'none'],
    ['a shop pod out', web, internet, 'none'],
    ['another namespace in (ingress still open)', other, web, 'all'],
  ]],
  ['the allow-from-namespace recipe: ingress from namespaces labelled team=ops', [namespace('shop'), namespace('monitoring', { team: 'ops' }), fromOps], [
    ['a pod of monitoring', pod('monitoring', { app: 'anything' }), web, 'all'],
    ['a pod of the policy namespace', api, web, 'none'],
    ['a pod of an unlabelled namespace', pod('elsewhere', {}), web, 'none'],
    ['an address (a namespace selector does not admit it)', address('10.1.2.3'), web, 'none'],
  ]],
  ['the allow-DNS recipe: egress to kube-dns pods in kube-system (one peer, both selectors)', [dns], [
    ['to kube-dns, the kube-system namespace having no Namespace object', web, kubeDns, 'TCP 53 UDP 53'],
    ['to another kube-system pod (AND)', web, pod('kube-system', { 'k8s-app': 'metrics-server' }), 'none'],
    ['to a kube-dns lookalike elsewhere (AND)', web, pod('shop', { 'k8s-app': 'kube-dns' }), 'none'],
  ]],
  ['the internet-egress recipe: 0.0.0.0/0 except the private ranges, TCP 443', [internetEgress], [
    ['to a public address', web, internet, 'TCP 443'],
    ...[PROBE_ADDRESSES.private10, PROBE_ADDRESSES.private172, PROBE_ADDRESSES.private192].map(
      (ip): [string, Peer, Peer, string] => [`to the private address ${ip}`, web, address(ip), 'none'],
    ),
    ['to a cluster pod (kind pod CIDR is private)', web, api, 'none'],
  ]],
  ['an ipBlock for IPv6 with an exception', [v6], [
    ['from an address of the block', address('2001:db8::1'), web, 'all'],
    ['from an excepted address', address('2001:db8:ff::1'), web, 'none'],
    ['from an address outside', address('2001:db9::1'), web, 'none'],
    ['from IPv4', address('32.1.13.184'), web, 'none'],
  ]],
  ['a policy with ingress rules only, `from` absent and no policyTypes: ingress is isolated, egress not', [ingressPolicy([{ ports: [{ port: 8080 }] }])], [
    ['out', web, internet, 'all'],
    ['in from its own namespace', api, web, 'TCP 8080'],
    ['in from another namespace', other, web, 'TCP 8080'],
    ['in from an address', internet, web, 'TCP 8080'],
  ]],
  ['a policy with egress rules and no policyTypes: egress isolated too, and its absent ingress rules deny', [policy('shop', 'p', { podSelector: {}, egress: [{ ports: [{ port: 443 }] }] })], [
    ['out', web, internet, 'TCP 443'],
    ['in', internet, web, 'none'],
  ]],
  ['a policy with an empty egress list and no policyTypes: defaulting counts no egress rules, ingress only', [policy('shop', 'p', { podSelector: {}, egress: [] })], [
    ['out', web, internet, 'all'],
    ['in', internet, web, 'none'],
  ]],
  ['`from` as an empty list', [ingressPolicy([{ from: [], ports: [{ port: 8080 }] }])], [
    ['from another namespace', other, web, 'TCP 8080'],
    ['from an address', internet, web, 'TCP 8080'],
  ]],
  ['a rule without ports', [ingressPolicy([{ from: [{ podSelector: {} }] }])], [['every port of every protocol', api, web, 'all']]],
  ['a port entry with a protocol but no port', [ingressPolicy([{ ports: [{ protocol: 'UDP' }] }])], [['every port of that protocol', api, web, 'UDP 1-65535']]],
  ['an empty ingress list', [ingressPolicy([], { policyTypes: ['Ingress'] })], [['nothing', api, web, 'none']]],
  ['port and endPort', [ingressPolicy([{ ports: [{ port: 8000, endPort: 8010 }] }])], [['exactly that range', api, web, 'TCP 8000-8010']]],
  ['an ingress rule naming ports (api names 8000/TCP "http" and 5353/UDP "dns": a TCP "dns" matches nothing)', [ingressPolicy([{ ports: [{ port: 'http' }, { port: 'dns', protocol: 'TCP' }] }])], [
    ['to api, resolved against the server pod', web, api, 'TCP 8000'],
    ['to web', api, web, 'TCP 8080'],
  ]],
  ['an egress rule naming a port', [namedEgress], [
    ['to api, resolved against each destination', web, api, 'TCP 8000'],
    ['to another pod naming 3000 "http"', web, http3000, 'TCP 3000'],
    ['to an address, which it never matches', web, internet, 'none'],
  ]],
  ['a client whose egress and a server whose ingress are both restricted', [webEgress, apiIngress], [['what both allow, not what one side does', web, api, 'TCP 8050-8100']]],
])('GIVEN %s', (_given, objects, cases) => {
  const evaluator = evaluate(...objects);
  it.each(cases)('WHEN %s THEN the open ports are as expected', (_when, from, to, expected) => {
    expect(formatPorts(evaluator.allowedPorts(from, to))).toBe(expected);
  });
});

describe('GIVEN an ingress rule that admits pods by label selectors', () => {
  const ops = { matchLabels: { team: 'ops' } };
  const prometheus = { matchLabels: { app: 'prometheus' } };
  // prometheus and grafana in monitoring (team=ops), prometheus in tools and in shop.
  const monitors = [pod('monitoring', { app: 'prometheus' }), pod('monitoring', { app: 'grafana' }), pod('tools', { app: 'prometheus' }), pod('shop', { app: 'prometheus' })];
  const tiers = [pod('shop', { tier: 'front' }), pod('shop', { tier: 'back' }), pod('shop', {})];
  const tier = (operator: string, values?: string[]) => ({ podSelector: { matchExpressions: [{ key: 'tier', operator, ...(values ? { values } : {}) }] } });

  it.each<[string, unknown[], PodPeer[], boolean[]]>([
    ['both selectors in one peer: only that pod in that namespace (AND)', [{ namespaceSelector: ops, podSelector: prometheus }], monitors, [true, false, false, false]],
    ['the selectors as two peers: the namespace, or the pod of the policy namespace (OR)', [{ namespaceSelector: ops }, { podSelector: prometheus }], monitors, [true, true, false, true]],
    ['an empty namespace selector: the pod from every namespace', [{ namespaceSelector: {}, podSelector: prometheus }], monitors, [true, false, true, true]],
    ['In: pods with one of the values', [tier('In', ['front', 'middle'])], tiers, [true, false, false]],
    ['NotIn: pods with another value or without the key', [tier('NotIn', ['front'])], tiers, [false, true, true]],
    ['Exists: the presence of the key', [tier('Exists')], tiers, [true, true, false]],
    ['DoesNotExist: the absence of the key', [tier('DoesNotExist')], tiers, [false, false, true]],
    [
      'matchLabels and matchExpressions combined: both must hold',
      [{ podSelector: { matchLabels: { tier: 'front' }, matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] } }],
      [pod('shop', { tier: 'front' }), pod('shop', { tier: 'front', canary: 'true' })],
      [true, false],
    ],
  ])('WHEN it admits %s THEN only those connect', (_case, from, clients, expected) => {
    const evaluator = evaluate(namespace('monitoring', { team: 'ops' }), namespace('tools'), ingressPolicy([{ from }]));
    expect(clients.map((client) => evaluator.allowed(client, web, 8080))).toEqual(expected);
  });
});

describe('GIVEN an ipBlock 0.0.0.0/0 without exceptions, or one that cuts out part of the pod CIDR', () => {
  it('WHEN a pod connects THEN the block admits it, unless pods are given no addresses (podCidr null)', () => {
    const everywhere = webEgressPolicy({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 443 }] });
    expect(new NetworkPolicyEvaluator([everywhere]).allowed(web, api, 443)).toBe(true);
    expect(new NetworkPolicyEvaluator([everywhere], { podCidr: null }).allowed(web, api, 443)).toBe(false);
  });

  it('WHEN an exception cuts out only part of the pod CIDR THEN pods without an address may match, pods with one are exact', () => {
    const evaluator = evaluate(webEgressPolicy({ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.1.0/24'] } }] }));
    expect([api, { ...api, ip: '10.244.1.7' }, { ...api, ip: '10.244.2.7' }].map((server) => evaluator.allowed(web, server, 80))).toEqual([true, false, true]);
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

describe('GIVEN a policy the API server would reject', () => {
  it.each([
    [{ from: [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] } }] }, /unknown label selector operator/],
    [{ from: [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } }] }, /needs values/],
    [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }, /cannot be combined/],
    [{ from: [{}] }, /needs podSelector, namespaceSelector or ipBlock/],
    [{ ports: [{ port: 'http', endPort: 90 }] }, /endPort needs a numeric port/],
    [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }, /not a CIDR block/],
  ])('WHEN the rule %j is read THEN the evaluator throws instead of guessing', (rule, error) => {
    expect(() => evaluate(policy('shop', 'bad', { podSelector: {}, ingress: [rule] }))).toThrow(error);
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

    expect(connectivity(open, { probePods: [OUTSIDER_PROBE], probeAddresses: [] }).filter((c) => c.to === 'shop/api').map(formatConnection)).toEqual([
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
