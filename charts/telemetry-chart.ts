import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import * as yaml from 'js-yaml';
import { collectorConfig, EXPORTER_CREDENTIAL_FILE, EXPORTER_SECRETS_DIR, exporterCredential, TRACE_FILE_DIR } from '../lib/collector-config';
import { Settings } from '../lib/config/schema';
import { componentLabels } from '../lib/labels';
import { listeningProbe } from '../lib/probes';
import { parseQuantity, toGoMemLimit } from '../lib/quantity';
import { containerResources } from '../lib/resources';
import { StackChart, StackChartProps } from '../lib/stack-chart';
import { StackComponent } from '../lib/stack-component';
import { portOf } from '../lib/topology';
import { scratchVolume, secretFile } from '../lib/volumes';

/** The collector images run as this uid from a scratch base. */
const COLLECTOR_UID = 10001;
const CONFIG_DIR = '/etc/otelcol';

export interface TelemetryChartProps extends StackChartProps {
  /** The collector settings: image, exporter, resources. */
  readonly telemetry: Settings['telemetry'];
}

/**
 * The OpenTelemetry Collector as a node agent. Clients reach the agent on their own node through
 * a Service with internalTrafficPolicy Local: no hostPort (forbidden by Pod Security), and the
 * client's pod IP is kept, so NetworkPolicies see the real source.
 */
export class TelemetryChart extends StackChart {
  constructor(scope: Construct, id: string, props: TelemetryChartProps) {
    super(scope, id, props);
    const { telemetry } = props;
    const component = this.topology.component('telemetry');
    const labels = componentLabels(component, telemetry.image);

    const config = new kplus.ConfigMap(this, 'config', {
      metadata: { name: component.name, labels },
      data: { 'config.yaml': yaml.dump(collectorConfig(telemetry, this.topology), { lineWidth: -1 }) },
    });
    const credential = exporterCredential(telemetry.exporter);
    const credentialMount = credential
      ? [secretFile(this, 'exporter-credential', { secretName: credential.name, key: credential.key, directory: EXPORTER_SECRETS_DIR, file: EXPORTER_CREDENTIAL_FILE })]
      : [];

    const health = portOf(component, 'health');
    // A node agent: on every node, GPU nodes and other tainted pools included.
    const collector = new StackComponent(this, 'collector', {
      component,
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
