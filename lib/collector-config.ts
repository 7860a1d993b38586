import { Settings } from './config/schema';
import { Topology, portOf } from './topology';

/** Environment variables the collector reads its exporter credentials from (never the ConfigMap). */
export const CLICKHOUSE_PASSWORD_ENV = 'CLICKHOUSE_PASSWORD';
export const SIGNOZ_INGESTION_KEY_ENV = 'SIGNOZ_INGESTION_KEY';
/** Where the file exporter writes, on an emptyDir. */
export const TRACE_FILE_DIR = '/var/lib/otelcol';

/**
 * The collector's configuration, mirroring Letta's three upstream configs (file, ClickHouse,
 * SigNoz), with memory_limiter first in every pipeline and health_check for the probes.
 */
export function collectorConfig(settings: Settings, topology: Topology): Record<string, unknown> {
  const component = topology.component('telemetry');
  const listen = (name: string) => `0.0.0.0:${portOf(component, name).port}`;
  const exporterName = { file: 'file', clickhouse: 'clickhouse', signoz: 'otlp/signoz' }[settings.telemetry.exporter.type];
  const pipeline = { receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: [exporterName] };
  return {
    extensions: { health_check: { endpoint: listen('health') } },
    receivers: { otlp: { protocols: { grpc: { endpoint: listen('otlp-grpc') }, http: { endpoint: listen('otlp-http') } } } },
    processors: {
      // Refuses data before the container's memory limit is reached, instead of being OOM-killed.
      memory_limiter: { check_interval: '1s', limit_percentage: 80, spike_limit_percentage: 20 },
      batch: { timeout: '5s', send_batch_size: 1024 },
    },
    exporters: { [exporterName]: exporterSettings(settings.telemetry.exporter) },
    service: {
      extensions: ['health_check'],
      pipelines: { traces: pipeline, metrics: pipeline, logs: pipeline },
      telemetry: { logs: { level: 'info' } },
    },
  };
}

function exporterSettings(exporter: Settings['telemetry']['exporter']): Record<string, unknown> {
  const retry = { enabled: true, initial_interval: '5s', max_interval: '30s', max_elapsed_time: '300s' };
  switch (exporter.type) {
    case 'file':
      return { path: `${TRACE_FILE_DIR}/telemetry.json`, rotation: { max_megabytes: 100, max_days: 3, max_backups: 3 } };
    case 'clickhouse':
      return {
        endpoint: exporter.endpoint,
        database: exporter.database,
        username: exporter.username,
        password: `\${env:${CLICKHOUSE_PASSWORD_ENV}}`,
        create_schema: true,
        ttl: '72h',
        timeout: '10s',
        retry_on_failure: retry,
      };
    case 'signoz':
      return {
        endpoint: exporter.endpoint,
        headers: { 'signoz-ingestion-key': `\${env:${SIGNOZ_INGESTION_KEY_ENV}}` },
        tls: { insecure: false },
        retry_on_failure: retry,
      };
  }
}
