import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import * as yaml from 'js-yaml';
import { collectorConfig, EXPORTER_CREDENTIAL_FILE, EXPORTER_SECRETS_DIR, exporterCredential, TRACE_FILE_DIR } from './collector-config';
import { ComponentChart, ComponentChartProps } from '../../lib/kit/component-chart';
import { COLLECTOR_CONFIG_EXCEPTIONS, exceptionAnnotations } from '../../lib/kit/lint-exceptions';
import { listeningProbe } from '../../lib/kit/probes';
import { parseQuantity, toGoMemLimit } from '../../lib/kit/quantity';
import { containerResources } from '../../lib/kit/resources';
import { StackComponent } from '../../lib/kit/stack-component';
import { portOf } from '../../lib/model/topology';
import { scratchVolume, secretFile } from '../../lib/kit/volumes';

/** The collector images run as this uid from a scratch base. */
const COLLECTOR_UID = 10001;
const CONFIG_DIR = '/etc/otelcol';

/**
 * The OpenTelemetry Collector as a node agent. Clients reach the agent on their own node through
 * a Service with internalTrafficPolicy Local: no hostPort (forbidden by Pod Security), and the
 * client's pod IP is kept, so NetworkPolicies see the real source.
 */
export class TelemetryChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: ComponentChartProps<'telemetry'>) {
    super(scope, id, props, 'telemetry', props.telemetry.image);
    const { telemetry } = props;

    const config = new kplus.ConfigMap(this, 'config', {
      metadata: { name: this.component.name, labels: this.componentLabels, annotations: exceptionAnnotations([COLLECTOR_CONFIG_EXCEPTIONS]) },
      data: { 'config.yaml': yaml.dump(collectorConfig(telemetry, this.topology), { lineWidth: -1 }) },
    });
    const credential = exporterCredential(telemetry.exporter);
    const credentialMount = credential
      ? [secretFile(this, 'exporter-credential', { secretName: credential.name, key: credential.key, directory: EXPORTER_SECRETS_DIR, file: EXPORTER_CREDENTIAL_FILE })]
      : [];

    const health = portOf(this.component, 'health');
    // A node agent: on every node, GPU nodes and other tainted pools included.
    const collector = new StackComponent(this, 'collector', {
      component: this.component,
      image: telemetry.image,
      uid: COLLECTOR_UID,
      userName: 'otel',
      imagePullPolicy: this.imagePullPolicy,
      workload: { kind: 'DaemonSet' },
    });
    collector.addContainer({
      name: 'otel-collector',
      args: [`--config=${CONFIG_DIR}/config.yaml`],
      envVariables: {
        // The Go runtime collects garbage harder before the limit instead of being OOM-killed.
        GOMEMLIMIT: kplus.EnvValue.fromValue(toGoMemLimit(0.8 * parseQuantity(telemetry.resources.limits.memory)!)),
      },
      resources: containerResources(telemetry.resources),
      volumeMounts: [
        { path: CONFIG_DIR, volume: kplus.Volume.fromConfigMap(this, 'config-volume', config, { name: 'config' }), readOnly: true },
        scratchVolume(this, 'traces', TRACE_FILE_DIR, Size.gibibytes(1)),
        ...credentialMount,
      ],
      readiness: kplus.Probe.fromHttpGet('/', { port: health.port, periodSeconds: Duration.seconds(10) }),
      liveness: listeningProbe(health.port, { periodSeconds: Duration.seconds(20), failureThreshold: 3 }),
    });
  }
}
