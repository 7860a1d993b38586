import { randomBytes } from 'node:crypto';
import type { Settings } from '../../lib/config/schema';
import type { Topology } from '../../lib/model/topology';
import { type Kubectl, KINDS } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { describePod, podReady, pollUntil } from './readiness';

/*
 * The persistence check: a row written straight into Postgres survives deleting the database pod.
 */

const TABLE = 'e2e_persistence';

export interface PersistenceOptions {
  /** Bound for the database pod's return. */
  readonly timeoutMs: number;
  /** How often to look for it. @default 3 s */
  readonly intervalMs?: number;
  readonly log?: (line: string) => void;
}

/** Runs SQL with psql inside the database pod (as the database's owner), in `database` (default: Letta's). */
export type DatabaseShell = (sql: string, database?: string) => Promise<string>;

/** psql in the StatefulSet's pod, with the password read from the stack's Secret at call time. */
export function databaseShell(kubectl: Kubectl, settings: Settings, topology: Topology, pod: KubeObject): DatabaseShell {
  const namespace = topology.namespace;
  const database = topology.address('database', 'postgres');
  const container: string = (pod.spec.containers.find((c: KubeObject) => c.image === settings.database.image) ?? pod.spec.containers[0]).name;
  return async (sql, dbname = settings.database.databaseName) => {
    const password = Buffer.from(
      await kubectl.check(['get', 'secret', settings.database.credentials.secretName, '--namespace', namespace, '--output', 'jsonpath={.data.password}']),
      'base64',
    ).toString('utf8');
    return kubectl.check([
      'exec', pod.metadata.name, '--namespace', namespace, '--container', container, '--',
      'env', `PGPASSWORD=${password}`,
      'psql', '--host', '127.0.0.1', '--port', String(database.port), '--username', settings.database.user,
      '--dbname', dbname, '--set', 'ON_ERROR_STOP=1', '--no-align', '--tuples-only', '--command', sql,
    ]);
  };
}

/** Problems found; none means the row written before the pod was deleted reads back after. */
export async function persistenceProblems(
  kubectl: Kubectl,
  settings: Settings,
  topology: Topology,
  options: PersistenceOptions,
): Promise<string[]> {
  const namespace = topology.namespace;
  const database = topology.address('database', 'postgres');
  // The StatefulSet's only replica.
  const podName = `${database.host}-0`;
  const pod = await kubectl.get(KINDS.pod, podName, namespace);
  if (!pod) return [`pod ${namespace}/${podName} does not exist`];
  const psql = databaseShell(kubectl, settings, topology, pod);
  // Hex only: safe to write into SQL as it is.
  const token = randomBytes(8).toString('hex');
  const select = `SELECT token FROM ${TABLE} WHERE token = '${token}'`;

  await psql(`CREATE TABLE IF NOT EXISTS ${TABLE} (token text PRIMARY KEY); INSERT INTO ${TABLE} (token) VALUES ('${token}')`);
  if ((await psql(select)).trim() !== token) return [`the row written to ${TABLE} does not read back before the restart`];

  options.log?.(`deleting pod ${namespace}/${podName}`);
  await kubectl.check(['delete', 'pod', podName, '--namespace', namespace, '--wait=true', '--timeout=180s']);
  let latest: KubeObject | undefined;
  const back = await pollUntil(
    async () => {
      latest = await kubectl.get(KINDS.pod, podName, namespace);
      return latest && latest.metadata.uid !== pod.metadata.uid && podReady(latest) ? latest : undefined;
    },
    { timeoutMs: options.timeoutMs, intervalMs: options.intervalMs ?? 3_000 },
  );
  if (!back) {
    const state = latest && latest.metadata.uid !== pod.metadata.uid ? describePod(latest) : 'not recreated';
    return [`pod ${namespace}/${podName} did not return within ${options.timeoutMs} ms: ${state}`];
  }
  const after = (await psql(select)).trim();
  return after === token ? [] : [`the row written before deleting ${podName} is gone after it returned (read ${JSON.stringify(after)})`];
}
