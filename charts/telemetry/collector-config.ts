import { SecretKeyRef } from '../../lib/kit/secret-key-ref';
import { Topology, portOf } from '../../lib/model/topology';

/** Where the collector exports: a rotating file in its pod, ClickHouse, or SigNoz over OTLP. */
export type CollectorExporter =
  | { readonly type: 'file' }
  | { readonly type: 'clickhouse'; readonly endpoint: string; readonly database: string; readonly username: string; readonly password: SecretKeyRef }
  | { readonly type: 'signoz'; readonly endpoint: string; readonly ingestionKey: SecretKeyRef };

/**
 * Where the exporter credentials are mounted from their Secrets. The config refers to them with
 * the collector's ${file:...} provider, so no credential is in the ConfigMap or the environment.
 */
// Not under the config directory: a mount point inside a read-only ConfigMap mount cannot be created.
export const EXPORTER_SECRETS_DIR = '/run/secrets/otelcol';
export const EXPORTER_CREDENTIAL_FILE = 'credential';
/** Where the file exporter writes, on an emptyDir. */
export const TRACE_FILE_DIR = '/var/lib/otelcol';

/**
 * The collector's configuration, mirroring Letta's three upstream configs (file, ClickHouse,
 * SigNoz), with memory_limiter first in every pipeline and health_check for the probes.
 */
export function collectorConfig(exporter: CollectorExporter, topology: Topology): Record<string, unknown> {
  const component = topology.component('telemetry');
  const listen = (name: string) => `0.0.0.0:${portOf(component, name).port}`;
  const exporterName = { file: 'file', clickhouse: 'clickhouse', signoz: 'otlp/signoz' }[exporter.type];
  const pipeline = { receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: [exporterName] };
  return {
    extensions: { health_check: { endpoint: listen('health') } },
    receivers: { otlp: { protocols: { grpc: { endpoint: listen('otlp-grpc') }, http: { endpoint: listen('otlp-http') } } } },
    processors: {
      // Refuses data before the container's memory limit is reached, instead of being OOM-killed.
      memory_limiter: { check_interval: '1s', limit_percentage: 80, spike_limit_percentage: 20 },
      batch: { timeout: '5s', send_batch_size: 1024 },
    },
    exporters: { [exporterName]: exporterSettings(exporter) },
    service: {
      extensions: ['health_check'],
      pipelines: { traces: pipeline, metrics: pipeline, logs: pipeline },
      telemetry: { logs: { level: 'info' } },
    },
  };
}

const credentialReference = `\${file:${EXPORTER_SECRETS_DIR}/${EXPORTER_CREDENTIAL_FILE}}`;

/** The Secret key holding the exporter's credential, if it needs one. */
export function exporterCredential(exporter: CollectorExporter): SecretKeyRef | undefined {
  switch (exporter.type) {
    case 'file':
      return undefined;
    case 'clickhouse':
      return exporter.password;
    case 'signoz':
      return exporter.ingestionKey;
  }
}

function exporterSettings(exporter: CollectorExporter): Record<string, unknown> {
  const retry = { enabled: true, initial_interval: '5s', max_interval: '30s', max_elapsed_time: '300s' };
  switch (exporter.type) {
    case 'file':
      return { path: `${TRACE_FILE_DIR}/telemetry.json`, rotation: { max_megabytes: 100, max_days: 3, max_backups: 3 } };
    case 'clickhouse':
      return {
        endpoint: exporter.endpoint,
        database: exporter.database,
        username: exporter.username,
        password: credentialReference,
        create_schema: true,
        ttl: '72h',
        timeout: '10s',
        retry_on_failure: retry,
      };
    case 'signoz':
      return {
        endpoint: exporter.endpoint,
        headers: { 'signoz-ingestion-key': credentialReference },
        tls: { insecure: false },
        retry_on_failure: retry,
      };
  }
}
