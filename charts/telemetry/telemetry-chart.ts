import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import * as yaml from 'js-yaml';
import { CollectorExporter, collectorConfig, EXPORTER_CREDENTIAL_FILE, EXPORTER_SECRETS_DIR, exporterCredential, TRACE_FILE_DIR } from './collector-config';
import { ComponentChart } from '../../lib/kit/component-chart';
import { COLLECTOR_CONFIG_EXCEPTIONS, exceptionAnnotations } from '../../lib/kit/lint-exceptions';
import { listeningProbe } from '../../lib/kit/probes';
import { parseQuantity, toGoMemLimit } from '../../lib/kit/quantity';
import { containerResources, ResourceRequirements } from '../../lib/kit/resources';
import { StackChartProps } from '../../lib/kit/stack-chart';
import { StackComponent } from '../../lib/kit/stack-component';
import { healthOf } from '../../lib/model/topology';
import { scratchVolume, secretFile } from '../../lib/kit/volumes';

/** The collector images run as this uid from a scratch base. */
const COLLECTOR_UID = 10001;
const CONFIG_DIR = '/etc/otelcol';

export interface TelemetryChartProps extends StackChartProps {
  /** The collector's image (a contrib build: the exporters are contrib components). */
  readonly image: string;
  /** Requests and limits of the collector container; GOMEMLIMIT follows the memory limit. */
  readonly resources: ResourceRequirements;
  /** Where the telemetry goes: a file in the pod, ClickHouse or SigNoz. */
  readonly exporter: CollectorExporter;
}

/**
 * The OpenTelemetry Collector as a node agent. Clients reach the agent on their own node through
 * a Service with internalTrafficPolicy Local: no hostPort (forbidden by Pod Security), and the
 * client's pod IP is kept, so NetworkPolicies see the real source.
 */
export class TelemetryChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: TelemetryChartProps) {
    super(scope, id, props, 'telemetry', props.image);

    const config = new kplus.ConfigMap(this, 'config', {
      metadata: { name: this.component.name, labels: this.componentLabels, annotations: exceptionAnnotations([COLLECTOR_CONFIG_EXCEPTIONS]) },
      data: { 'config.yaml': yaml.dump(collectorConfig(props.exporter, this.topology), { lineWidth: -1 }) },
    });
    const credential = exporterCredential(props.exporter);
    const credentialMount = credential
      ? [secretFile(this, 'exporter-credential', { secretName: credential.name, key: credential.key, directory: EXPORTER_SECRETS_DIR, file: EXPORTER_CREDENTIAL_FILE })]
      : [];

    const health = healthOf(this.component);
    // A node agent: on every node, GPU nodes and other tainted pools included.
    const collector = new StackComponent(this, 'collector', {
      component: this.component,
      image: props.image,
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
        GOMEMLIMIT: kplus.EnvValue.fromValue(toGoMemLimit(0.8 * parseQuantity(props.resources.limits.memory)!)),
      },
      resources: containerResources(props.resources),
      volumeMounts: [
        { path: CONFIG_DIR, volume: kplus.Volume.fromConfigMap(this, 'config-volume', config, { name: 'config' }), readOnly: true },
        scratchVolume(this, 'traces', TRACE_FILE_DIR, Size.gibibytes(1)),
        ...credentialMount,
      ],
      readiness: kplus.Probe.fromHttpGet(health.path, { port: health.port.port, periodSeconds: Duration.seconds(10) }),
      liveness: listeningProbe(health.port.port, { periodSeconds: Duration.seconds(20), failureThreshold: 3 }),
    });
  }
}
