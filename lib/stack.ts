import { App, Chart } from 'cdk8s';
import { DatabaseChart } from '../charts/database-chart';
import { IngressChart } from '../charts/ingress-chart';
import { LettaChart } from '../charts/letta-chart';
import { NamespaceChart } from '../charts/namespace-chart';
import { NetworkPolicyChart } from '../charts/network-policy-chart';
import { RedisChart } from '../charts/redis-chart';
import { TelemetryChart } from '../charts/telemetry-chart';
import { VllmChart } from '../charts/vllm-chart';
import { Settings } from './config/schema';
import { StackChartProps } from './stack-chart';
import { Topology } from './topology';

/**
 * Adds the stack's charts to an app, in apply order. Each chart depends on the previous one, so
 * cdk8s numbers the files (0000-namespace.k8s.yaml, ...) and `kubectl apply -f dist/`, which
 * reads files in name order, creates the namespace first and the policies before any pod.
 */
export function addStack(app: App, settings: Settings): Chart[] {
  const props: StackChartProps = { settings, topology: new Topology(settings) };
  const charts: Chart[] = [
    new NamespaceChart(app, 'namespace', props),
    new NetworkPolicyChart(app, 'network-policies', props),
    new DatabaseChart(app, 'database', props),
  ];
  if (settings.redis.enabled) charts.push(new RedisChart(app, 'redis', props));
  if (settings.telemetry.enabled) charts.push(new TelemetryChart(app, 'telemetry', props));
  if (settings.vllm.enabled) charts.push(new VllmChart(app, 'vllm', props));
  charts.push(new LettaChart(app, 'letta', props));
  if (settings.ingress.enabled) charts.push(new IngressChart(app, 'ingress', props));
  charts.slice(1).forEach((chart, index) => chart.addDependency(charts[index]));
  return charts;
}
