import { App, Chart } from 'cdk8s';
import { BackupChart } from '../../charts/backup/backup-chart';
import { DatabaseChart } from '../../charts/database/database-chart';
import { HttpRouteChart } from '../../charts/ingress/http-route-chart';
import { IngressChart } from '../../charts/ingress/ingress-chart';
import { LettaChart } from '../../charts/letta/letta-chart';
import { NamespaceChart } from '../../charts/namespace/namespace-chart';
import { NetworkPolicyChart } from '../../charts/network-policy/network-policy-chart';
import { RedisChart } from '../../charts/redis/redis-chart';
import { TelemetryChart } from '../../charts/telemetry/telemetry-chart';
import { VllmChart } from '../../charts/vllm/vllm-chart';
import { Settings } from '../config/schema';
import { StackChartProps } from '../kit/stack-chart';
import { ComponentId, Topology } from '../model/topology';

/** How each component's chart is built: its own slice of the settings, nothing more. */
const COMPONENT_CHARTS: Readonly<Record<ComponentId, (app: App, settings: Settings, base: StackChartProps) => Chart>> = {
  database: (app, s, base) => new DatabaseChart(app, 'database', { ...base, database: s.database }),
  backup: (app, s, base) => new BackupChart(app, 'backup', { ...base, backup: s.backup, database: s.database, lettaImage: s.letta.image }),
  redis: (app, s, base) => new RedisChart(app, 'redis', { ...base, redis: s.redis }),
  telemetry: (app, s, base) => new TelemetryChart(app, 'telemetry', { ...base, telemetry: s.telemetry }),
  vllm: (app, s, base) => new VllmChart(app, 'vllm', { ...base, vllm: s.vllm }),
  letta: (app, s, base) => new LettaChart(app, 'letta', { ...base, letta: s.letta, database: s.database, backup: s.backup, ingress: s.ingress, vllm: s.vllm }),
};

/**
 * Adds the stack's charts to an app, in apply order: the namespace, the policies, then the
 * topology's components (the topology alone decides which), then the entry if there is one. Each
 * chart depends on the previous one, so cdk8s numbers the files (0000-namespace.k8s.yaml, ...) and
 * `kubectl apply -f dist/`, which reads files in name order, creates the policies before any pod.
 */
export function addStack(app: App, settings: Settings): Chart[] {
  const topology = new Topology(settings);
  const base: StackChartProps = { topology, imagePullPolicy: settings.imagePullPolicy };
  const charts: Chart[] = [
    new NamespaceChart(app, 'namespace', { namespace: topology.namespace }),
    new NetworkPolicyChart(app, 'network-policies', base),
    ...topology.components.map((component) => COMPONENT_CHARTS[component.id](app, settings, base)),
  ];
  if (topology.entry) {
    const entryProps = { ...base, ingress: settings.ingress, entry: topology.entry, lettaImage: settings.letta.image };
    charts.push(settings.ingress.entry === 'gateway-api' ? new HttpRouteChart(app, 'http-route', entryProps) : new IngressChart(app, 'ingress', entryProps));
  }
  charts.slice(1).forEach((chart, index) => chart.addDependency(charts[index]));
  return charts;
}
