import { k8s } from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { EntryChart, EntryChartProps } from '../../lib/kit/entry-chart';

export interface IngressChartProps extends EntryChartProps {
  /** The IngressClass of the ingress-nginx controller. */
  readonly className: string;
  /** Seconds a stream may idle before ingress-nginx closes it (read and send timeouts). */
  readonly streamTimeoutSeconds: number;
  /** Largest request body ingress-nginx passes on, as nginx spells a size ("100m"). */
  readonly maxBodySize: string;
}

/**
 * The ingress-nginx Ingress in front of Letta. Letta streams Server-Sent Events and does not send
 * X-Accel-Buffering, so buffering is off; streams idle for long periods between keepalives, so
 * read/send timeouts are long. WebSocket upgrades pass through ingress-nginx as they are.
 * Snippet annotations are avoided: they are disabled by default since ingress-nginx 1.9.
 */
export class IngressChart extends EntryChart {
  constructor(scope: Construct, id: string, props: IngressChartProps) {
    super(scope, id, props);
    const component = this.backend;
    const http = props.entry.port;
    const timeout = String(props.streamTimeoutSeconds);

    new k8s.KubeIngress(this, 'ingress', {
      metadata: {
        name: component.name,
        labels: this.backendLabels,
        annotations: {
          'nginx.ingress.kubernetes.io/proxy-read-timeout': timeout,
          'nginx.ingress.kubernetes.io/proxy-send-timeout': timeout,
          'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
          'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
          'nginx.ingress.kubernetes.io/proxy-body-size': props.maxBodySize,
          'nginx.ingress.kubernetes.io/proxy-http-version': '1.1',
        },
      },
      spec: {
        ingressClassName: props.className,
        tls: props.tlsSecretName ? [{ hosts: [props.host], secretName: props.tlsSecretName }] : undefined,
        rules: [
          {
            host: props.host,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: component.name, port: { name: http.name } } },
                },
              ],
            },
          },
        ],
      },
    });
  }
}
