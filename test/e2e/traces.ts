import type { Shell } from './shell';

/*
 * Letta's traces at the collector: the collector image has no shell, so its file exporter's
 * output is read from the kind node, where the kubelet keeps the pod's emptyDir.
 */

/** Spans of each service in the collector's OTLP JSON lines (one TracesData per line). */
export function spansByService(jsonLines: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const span of spansOf(jsonLines)) counts.set(span.service, (counts.get(span.service) ?? 0) + 1);
  return counts;
}

/** The collector's trace files on a kind node, concatenated: every pod's emptyDir named `volume`. */
export async function collectorTraceFiles(shell: Shell, nodeContainer: string, volume: string): Promise<string> {
  const result = await shell.run('docker', [
    'exec', nodeContainer, 'sh', '-c',
    `cat /var/lib/kubelet/pods/*/volumes/kubernetes.io~empty-dir/${volume}/*.json 2>/dev/null || true`,
  ], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`reading the collector's trace files on ${nodeContainer}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** A span as the collector's file exporter writes it: enough to group spans by trace. */
export interface SpanSummary {
  readonly service: string;
  readonly name: string;
  readonly traceId: string;
}

/** Every span in the collector's OTLP JSON lines, with its service and trace. */
export function spansOf(jsonLines: string): SpanSummary[] {
  const spans: SpanSummary[] = [];
  for (const line of jsonLines.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    let data: {
      resourceSpans?: Array<{
        resource?: { attributes?: Array<{ key: string; value?: { stringValue?: string } }> };
        scopeSpans?: Array<{ spans?: Array<{ name?: string; traceId?: string }> }>;
      }>;
    };
    try {
      data = JSON.parse(line);
    } catch {
      continue; // a line cut by rotation
    }
    for (const resource of data.resourceSpans ?? []) {
      const service = resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ?? '(no service.name)';
      for (const scope of resource.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) spans.push({ service, name: span.name ?? '', traceId: span.traceId ?? '' });
      }
    }
  }
  return spans;
}
