import { type Kubectl, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';

/*
 * No secret value in any log: every container's log (init containers and previous runs
 * included) is searched for every value of every Secret in the namespaces. A finding names the
 * Secret key and the container, never the value.
 */

/** Shorter values would match by chance; no credential of the stack is that short. */
const SHORTEST_SECRET = 6;

export interface SecretScan {
  readonly problems: string[];
  /** Log lines read, so that a scan of nothing is visible. */
  readonly linesRead: number;
  /** Containers whose log was read. */
  readonly containers: number;
}

/** Every Secret value in the namespaces long enough to be told from chance, with where it is kept. */
export async function secretValues(kubectl: Kubectl, namespaces: readonly string[]): Promise<Array<{ where: string; value: string }>> {
  const secrets: Array<{ where: string; value: string }> = [];
  for (const namespace of namespaces) {
    for (const secret of await kubectl.list(KINDS.secret, namespace)) {
      for (const [key, encoded] of Object.entries((secret.data ?? {}) as Record<string, string>)) {
        const value = Buffer.from(encoded, 'base64').toString('utf8');
        if (value.length >= SHORTEST_SECRET) secrets.push({ where: `Secret ${namespace}/${secret.metadata.name} key ${key}`, value });
      }
    }
  }
  return secrets;
}

/** `text` with every one of `values` replaced, for printing a log that was not yet scanned. */
export function redact(text: string, values: readonly string[]): string {
  return values.reduce((result, value) => result.split(value).join('[redacted]'), text);
}

export async function secretsInLogs(kubectl: Kubectl, namespaces: readonly string[]): Promise<SecretScan> {
  const secrets = await secretValues(kubectl, namespaces);
  const problems: string[] = [];
  let linesRead = 0;
  let containers = 0;
  if (secrets.length === 0) problems.push(`no Secret values in ${namespaces.join(', ')} to look for`);
  for (const namespace of namespaces) {
    for (const pod of await kubectl.list(KINDS.pod, namespace)) {
      const statuses: KubeObject[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
      for (const status of statuses) {
        for (const previous of status.restartCount > 0 ? [false, true] : [false]) {
          const log = await kubectl.logs(pod, { container: status.name, previous });
          if (!log.ok) continue;
          containers++;
          const lines = log.text.split('\n');
          linesRead += lines.length;
          for (const secret of secrets) {
            const index = lines.findIndex((line) => line.includes(secret.value));
            if (index >= 0) {
              problems.push(`${secret.where} appears in the log of ${namespace}/${pod.metadata.name} container ${status.name}${previous ? ' (previous run)' : ''}, line ${index + 1}`);
            }
          }
        }
      }
    }
  }
  return { problems, linesRead, containers };
}
