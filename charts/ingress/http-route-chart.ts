import { Construct } from 'constructs';
import {
  Gateway,
  GatewaySpecListeners,
  GatewaySpecListenersAllowedRoutesNamespacesFrom,
  GatewaySpecListenersTlsMode,
} from '../../imports/gateway-gateway.networking.k8s.io';
import { HttpRoute, HttpRouteSpecParentRefs, HttpRouteSpecRulesMatchesPathType } from '../../imports/httproute-gateway.networking.k8s.io';
import { EntryChart, EntryChartProps } from '../../lib/kit/entry-chart';

/**
 * "0s" disables a route timeout (Gateway API v1, GEP-2257). A route's `request` timeout caps a
 * whole response, and an SSE stream or a WebSocket is one response that lasts as long as the
 * agent talks: any finite value would cut every long stream.
 */
const NO_TIMEOUT = '0s';
/** A parentRef names its Gateway by API group ("gateway.networking.k8s.io"), not by apiVersion. */
const GATEWAY_GROUP = Gateway.GVK.apiVersion.split('/')[0];

/** The Gateway the HTTPRoute attaches to: one that exists, or one this chart creates. */
export interface EntryGateway {
  /** An existing Gateway, which must admit routes from the stack's namespace. @default none */
  readonly parentRef?: { readonly namespace: string; readonly name: string; readonly sectionName?: string };
  /** Create a Gateway of this GatewayClass for the host instead. @default none */
  readonly create?: { readonly className: string };
}

export interface HttpRouteChartProps extends EntryChartProps {
  /** The Gateway to attach to or to create; one of the two is set. */
  readonly gateway: EntryGateway;
}

/**
 * The Gateway API entry in front of Letta: an HTTPRoute for the host, attached to the Gateway the
 * settings name or to one this chart creates for a GatewayClass. Idle-stream timeouts are the
 * data plane's own settings (see the README's table per implementation); the route only lifts
 * the whole-request limits.
 */
export class HttpRouteChart extends EntryChart {
  constructor(scope: Construct, id: string, props: HttpRouteChartProps) {
    super(scope, id, props);
    const component = this.backend;
    const labels = this.backendLabels;
    const { parentRef, create } = props.gateway;

    let parent: HttpRouteSpecParentRefs;
    if (create) {
      const listener = gatewayListener(props.host, props.tlsSecretName);
      new Gateway(this, 'gateway', {
        metadata: { name: component.name, labels },
        spec: { gatewayClassName: create.className, listeners: [listener] },
      });
      parent = { name: component.name, namespace: this.topology.namespace, sectionName: listener.name };
    } else if (parentRef) {
      parent = { name: parentRef.name, namespace: parentRef.namespace, sectionName: parentRef.sectionName };
    } else {
      throw new Error('gateway: the HTTPRoute needs parentRef or create (the settings schema requires one of ingress.gateway\'s)');
    }

    new HttpRoute(this, 'route', {
      metadata: { name: component.name, labels },
      spec: {
        parentRefs: [{ group: GATEWAY_GROUP, kind: Gateway.GVK.kind, ...parent }],
        hostnames: [props.host],
        rules: [
          {
            matches: [{ path: { type: HttpRouteSpecRulesMatchesPathType.PATH_PREFIX, value: '/' } }],
            backendRefs: [{ name: component.name, port: props.entry.port.port }],
            timeouts: { request: NO_TIMEOUT, backendRequest: NO_TIMEOUT },
          },
        ],
      },
    });
  }
}

/** The one listener of a Gateway the stack creates: HTTPS with the host's TLS Secret, else HTTP. */
function gatewayListener(host: string, tlsSecretName: string | undefined): GatewaySpecListeners {
  const allowedRoutes = { namespaces: { from: GatewaySpecListenersAllowedRoutesNamespacesFrom.SAME } };
  if (!tlsSecretName) return { name: 'http', protocol: 'HTTP', port: 80, hostname: host, allowedRoutes };
  return {
    name: 'https',
    protocol: 'HTTPS',
    port: 443,
    hostname: host,
    tls: { mode: GatewaySpecListenersTlsMode.TERMINATE, certificateRefs: [{ kind: 'Secret', name: tlsSecretName }] },
    allowedRoutes,
  };
}
