import type { Shell } from './shell';

/*
 * Letta's traces at the collector: the collector image has no shell, so its file exporter's
 * output is read from the kind node, where the kubelet keeps the pod's emptyDir.
 */

/** Spans of each service in the collector's OTLP JSON lines (one TracesData per line). */
export function spansByService(jsonLines: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of jsonLines.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    let data: { resourceSpans?: Array<{ resource?: { attributes?: Array<{ key: string; value?: { stringValue?: string } }> }; scopeSpans?: Array<{ spans?: unknown[] }> }> };
    try {
      data = JSON.parse(line);
    } catch {
      continue; // a line cut by rotation
    }
    for (const resource of data.resourceSpans ?? []) {
      const service = resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ?? '(no service.name)';
      const spans = (resource.scopeSpans ?? []).reduce((sum, scope) => sum + (scope.spans?.length ?? 0), 0);
      counts.set(service, (counts.get(service) ?? 0) + spans);
    }
  }
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
