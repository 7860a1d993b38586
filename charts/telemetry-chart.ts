import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import * as yaml from 'js-yaml';
import { ComponentService } from '../lib/component-service';
import { collectorConfig, EXPORTER_CREDENTIAL_FILE, EXPORTER_SECRETS_DIR, exporterCredential, TRACE_FILE_DIR } from '../lib/collector-config';
import { componentWorkload, containerResources, hardenedContainer, listeningProbe, nameTheUser, scratchVolume, secretFile, selectComponentPods } from '../lib/hardening';
import { componentLabels } from '../lib/labels';
import { parseQuantity, toGoMemLimit } from '../lib/quantity';
import { StackChart, StackChartProps } from '../lib/stack-chart';
import { portOf } from '../lib/topology';

/** The collector images run as this uid from a scratch base. */
const COLLECTOR_UID = 10001;
const CONFIG_DIR = '/etc/otelcol';

/**
 * The OpenTelemetry Collector as a node agent. Clients reach the agent on their own node through
 * a Service with internalTrafficPolicy Local: no hostPort (forbidden by Pod Security), and the
 * client's pod IP is kept, so NetworkPolicies see the real source.
 */
export class TelemetryChart extends StackChart {
  constructor(scope: Construct, id: string, props: StackChartProps) {
    super(scope, id, props);
    const telemetry = this.settings.telemetry;
    const component = this.topology.component('telemetry');
    const labels = componentLabels(component, telemetry.image);

    const config = new kplus.ConfigMap(this, 'config', {
      metadata: { name: component.name, labels },
      data: { 'config.yaml': yaml.dump(collectorConfig(this.settings, this.topology), { lineWidth: -1 }) },
    });

    const env: Record<string, kplus.EnvValue> = {
      // The Go runtime collects garbage harder before the limit instead of being OOM-killed.
      GOMEMLIMIT: kplus.EnvValue.fromValue(toGoMemLimit(0.8 * parseQuantity(telemetry.resources.limits.memory)!)),
    };
    const credential = exporterCredential(telemetry.exporter);
    const credentialMount = credential
      ? [secretFile(this, 'exporter-credential', { secretName: credential.name, key: credential.key, directory: EXPORTER_SECRETS_DIR, file: EXPORTER_CREDENTIAL_FILE })]
      : [];

    const health = portOf(component, 'health');
    const daemonSet = new kplus.DaemonSet(this, 'daemonset', {
      ...componentWorkload(this, component, { labels, uid: COLLECTOR_UID, images: [telemetry.image] }),
      containers: [
        {
          name: 'otel-collector',
          ...hardenedContainer(telemetry.image, COLLECTOR_UID, this.settings.imagePullPolicy),
          args: [`--config=${CONFIG_DIR}/config.yaml`],
          ports: component.ports.map((port) => ({ name: port.name, number: port.port })),
          envVariables: env,
          resources: containerResources(telemetry.resources),
          volumeMounts: [
            { path: CONFIG_DIR, volume: kplus.Volume.fromConfigMap(this, 'config-volume', config, { name: 'config' }), readOnly: true },
            scratchVolume(this, 'traces', TRACE_FILE_DIR, Size.gibibytes(1)),
            ...credentialMount,
          ],
          readiness: kplus.Probe.fromHttpGet('/', { port: health.port, periodSeconds: Duration.seconds(10) }),
          liveness: listeningProbe(health.port, { periodSeconds: Duration.seconds(20), failureThreshold: 3 }),
        },
      ],
    });
    selectComponentPods(daemonSet, component);
    nameTheUser(daemonSet, 'otel');
    // An agent on every node, GPU nodes and other tainted pools included.
    ApiObject.of(daemonSet).addJsonPatch(JsonPatch.add('/spec/template/spec/tolerations', [{ operator: 'Exists' }]));

    new ComponentService(this, 'service', { component, labels, nodeLocal: true });
  }
}
