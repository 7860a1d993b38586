import { k8s } from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { EntryChart, EntryChartProps } from '../../lib/kit/entry-chart';

/**
 * The ingress-nginx Ingress in front of Letta. Letta streams Server-Sent Events and does not send
 * X-Accel-Buffering, so buffering is off; streams idle for long periods between keepalives, so
 * read/send timeouts are long. WebSocket upgrades pass through ingress-nginx as they are.
 * Snippet annotations are avoided: they are disabled by default since ingress-nginx 1.9.
 */
export class IngressChart extends EntryChart {
  constructor(scope: Construct, id: string, props: EntryChartProps) {
    super(scope, id, props);
    const { ingress } = props;
    const component = this.backend;
    const http = props.entry.port;
    const timeout = String(ingress.streamTimeoutSeconds);

    new k8s.KubeIngress(this, 'ingress', {
      metadata: {
        name: component.name,
        labels: this.backendLabels,
        annotations: {
          'nginx.ingress.kubernetes.io/proxy-read-timeout': timeout,
          'nginx.ingress.kubernetes.io/proxy-send-timeout': timeout,
          'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
          'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
          'nginx.ingress.kubernetes.io/proxy-body-size': ingress.maxBodySize,
          'nginx.ingress.kubernetes.io/proxy-http-version': '1.1',
        },
      },
      spec: {
        ingressClassName: ingress.className,
        tls: ingress.tlsSecretName ? [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }] : undefined,
        rules: [
          {
            host: ingress.host,
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
