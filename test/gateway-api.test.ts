import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemsWith } from './support/settings-problems';
import { COMPONENTS } from '../lib/model/topology';
import { findObject, PROFILES, renderProfile } from '../tools/render';
import type { KubeObject } from '../tools/kube';
import { expectedConnections, stackConnections } from '../tools/netpol/matrix';
import { formatConnection } from '../tools/netpol/evaluator';
import { GATEWAY_API_VALUES, ownGatewayValues } from '../tools/fixtures';
import { stackWithController, TRAEFIK_DATA_PLANE } from '../tools/stack-netpol';

const DATA_PLANE = GATEWAY_API_VALUES.ingress.gateway.dataPlane;
const kinds = (documents: readonly KubeObject[]) => documents.map((doc) => doc.kind);

describe('the Gateway API entry', () => {
  it('GIVEN a named Gateway WHEN synthesized THEN the route attaches to its listener and sends the host to Letta\'s Service port, with no request timeout', () => {
    const route = findObject(renderProfile('kind', GATEWAY_API_VALUES).documents, 'HTTPRoute', COMPONENTS.letta.name);
    expect(route).toMatchObject({
      apiVersion: 'gateway.networking.k8s.io/v1',
      spec: {
        parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'traefik', name: 'traefik', sectionName: 'web' }],
        hostnames: ['letta.localhost'],
        rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'letta-server', port: 8283 }] }],
      },
    });
    // A stream lasts as long as an agent talks.
    expect(route.spec.rules[0].timeouts).toEqual({ request: '0s', backendRequest: '0s' });
  });

  it.each([
    ['no TLS Secret', {}, { name: 'http', protocol: 'HTTP', port: 80, hostname: 'letta.localhost' }],
    ['a TLS Secret', { host: 'letta.example.com', tlsSecretName: 'letta-tls' }, { name: 'https', protocol: 'HTTPS', port: 443, hostname: 'letta.example.com', tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'letta-tls' }] } }],
  ])('GIVEN a GatewayClass to create a Gateway for and %s WHEN synthesized THEN the stack\'s Gateway, applied before the route, has one listener for the host, open to routes of its namespace only, and the route attaches to it', (_case, ingress, listener) => {
    const { documents } = renderProfile('kind', ownGatewayValues(ingress));
    expect(findObject(documents, 'Gateway', COMPONENTS.letta.name).spec).toEqual({ gatewayClassName: 'traefik', listeners: [{ ...listener, allowedRoutes: { namespaces: { from: 'Same' } } }] });
    const parentRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'letta', name: COMPONENTS.letta.name, sectionName: listener.name };
    expect(findObject(documents, 'HTTPRoute', COMPONENTS.letta.name).spec.parentRefs).toEqual([parentRef]);
    expect(kinds(documents).indexOf('Gateway')).toBeLessThan(kinds(documents).indexOf('HTTPRoute'));
  });

  it('GIVEN gateway-api WHEN Letta\'s policy is synthesized THEN only the Gateway\'s data-plane pods are admitted to its port, the ingress-nginx controller no longer', () => {
    const policy = findObject(renderProfile('kind', GATEWAY_API_VALUES).documents, 'NetworkPolicy', COMPONENTS.letta.name);
    const from = [{ namespaceSelector: { matchLabels: DATA_PLANE.namespaceLabels }, podSelector: { matchLabels: DATA_PLANE.podLabels } }];
    expect(policy.spec.ingress).toEqual([{ from, ports: [{ port: 8283, protocol: 'TCP' }] }]);
  });

  it.each(PROFILES)('GIVEN the %s profile with gateway-api next to a real data plane WHEN synthesized THEN an HTTPRoute, applied last, replaces the Ingress and the policies\' matrix equals the topology', (profile) => {
    const { documents, files } = renderProfile(profile, GATEWAY_API_VALUES);
    expect(kinds(documents).filter((kind) => ['HTTPRoute', 'Ingress', 'Gateway'].includes(kind))).toEqual(['HTTPRoute']);
    expect(path.basename(files[files.length - 1])).toMatch(/-http-route\.k8s\.yaml$/);
    const { objects, topology } = stackWithController(profile, GATEWAY_API_VALUES, TRAEFIK_DATA_PLANE);
    const external = { ingressController: TRAEFIK_DATA_PLANE.workload };
    const computed = stackConnections(objects, topology).map(formatConnection);
    expect(computed).toEqual(expectedConnections(topology, external).map(formatConnection));
    expect(computed).toContainEqual(expect.stringContaining(`${TRAEFIK_DATA_PLANE.workload} => letta/letta-server TCP 8283`));
  });
});

describe('Gateway API settings', () => {
  it.each([
    [
      'no Gateway to attach to',
      { ingress: { entry: 'gateway-api', gateway: { dataPlane: DATA_PLANE } } },
      'ingress.gateway.parentRef: is required when ingress.entry is gateway-api: name the Gateway (namespace, name, optionally sectionName), or set ingress.gateway.create.className',
    ],
    [
      'both a named Gateway and one to create',
      { ingress: { entry: 'gateway-api', gateway: { ...GATEWAY_API_VALUES.ingress.gateway, create: { className: 'traefik' } } } },
      'ingress.gateway.create: must be unset when ingress.gateway.parentRef is set: the HTTPRoute attaches to one Gateway, either the one named or one this stack creates',
    ],
    [
      'no data plane to admit',
      { ingress: { entry: 'gateway-api', gateway: { parentRef: GATEWAY_API_VALUES.ingress.gateway.parentRef } } },
      "ingress.gateway.dataPlane: is required when ingress.entry is gateway-api: give the namespace and pod labels of the Gateway's data-plane pods, the only peer admitted to Letta's port",
    ],
    [
      'a TLS Secret for a Gateway the stack does not own',
      { ingress: { ...GATEWAY_API_VALUES.ingress, tlsSecretName: 'letta-tls' } },
      "ingress.tlsSecretName: must be unset when the HTTPRoute attaches to an existing Gateway (ingress.gateway.parentRef): TLS terminates at that Gateway's listener, which names its own certificate",
    ],
    [
      'Gateway settings while the entry is ingress-nginx',
      { ingress: { gateway: GATEWAY_API_VALUES.ingress.gateway } },
      'ingress.entry: is ingress-nginx, but ingress.gateway is set: set ingress.entry to gateway-api to use it, or remove ingress.gateway',
    ],
    ['an unknown entry', { ingress: { entry: 'traefik' } }, 'ingress.entry: Invalid option: expected one of "ingress-nginx"|"gateway-api"'],
  ])('GIVEN %s WHEN loaded THEN the problem names the field and the reason', (_case, values, problem) => {
    expect(problemsWith(values)).toContainEqual(expect.stringContaining(problem));
  });
});
