import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/load';
import { Topology } from '../../lib/model/topology';
import { Kubectl } from './kubectl';
import { persistenceProblems } from './persistence';
import { FakeKube } from './support/fake-kube';
import { type RecordedCall, FakeShell, ok } from './support/fake-shell';

const settings = loadSettings({ profile: 'kind' });
const topology = new Topology(settings);

const pod = (uid: string, ready: boolean) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'letta-db-0', namespace: 'letta', uid },
  spec: { containers: [{ name: 'metrics', image: 'exporter:1' }, { name: 'postgres', image: settings.database.image }] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

/**
 * A database pod behind the API and kubectl: psql over exec keeps rows in `table`; deleting the pod brings a
 * new one (not ready at first look) unless `returns` is false, and, when `volatile`, empties the
 * table as lost storage would.
 */
function databaseCluster({ volatile = false, returns = true } = {}) {
  const table = new Set<string>();
  const lookups = [pod('old', true), pod('old', true), undefined, ...(returns ? [pod('new', false), pod('new', true)] : [])];
  const psql = (call: RecordedCall) => {
    const sql = call.args[call.args.length - 1];
    const insert = /INSERT INTO e2e_persistence \(token\) VALUES \('([0-9a-f]+)'\)/.exec(sql);
    if (insert) table.add(insert[1]);
    const select = /WHERE token = '([0-9a-f]+)'/.exec(sql);
    return ok(select && table.has(select[1]) ? `${select[1]}\n` : '');
  };
  const kube = new FakeKube(() => {
    const next = lookups.length > 1 ? lookups.shift() : lookups[0];
    return next ? [next] : [];
  });
  const shell = new FakeShell()
    .on(['get', 'secret', 'letta-db-credentials'], ok(Buffer.from('dev-password').toString('base64')))
    .on(['exec', 'letta-db-0'], psql)
    .on(['delete', 'pod', 'letta-db-0'], () => {
      if (volatile) table.clear();
      return ok('pod "letta-db-0" deleted\n');
    });
  return { shell, kubectl: new Kubectl(shell, 'kubeconfig', kube) };
}

describe('persistenceProblems', () => {
  it('GIVEN storage that outlives the pod WHEN the row is written, the pod deleted and back THEN the row reads back', async () => {
    const { shell, kubectl } = databaseCluster();

    const problems = await persistenceProblems(kubectl, settings, topology, { timeoutMs: 60_000, intervalMs: 1 });

    expect(problems).toEqual([]);
    const exec = shell.callsWith('exec')[0].args;
    expect(exec).toEqual(expect.arrayContaining(['--container', 'postgres', 'PGPASSWORD=dev-password', '--username', 'letta', '--dbname', 'letta']));
    // Read after the new pod was ready, not before.
    const order = shell.calls.map((call) => call.args.find((a) => ['exec', 'delete'].includes(a))).filter(Boolean);
    expect(order).toEqual(['exec', 'exec', 'delete', 'exec']);
  });

  it('GIVEN storage lost with the pod WHEN the pod returns THEN the problem says the row is gone', async () => {
    const problems = await persistenceProblems(databaseCluster({ volatile: true }).kubectl, settings, topology, {
      timeoutMs: 60_000,
      intervalMs: 1,
    });

    expect(problems).toEqual(['the row written before deleting letta-db-0 is gone after it returned (read "")']);
  });

  it('GIVEN a pod that does not come back WHEN the wait runs out THEN the problem says so', async () => {
    const { kubectl } = databaseCluster({ returns: false });

    const problems = await persistenceProblems(kubectl, settings, topology, { timeoutMs: 20, intervalMs: 1 });

    expect(problems).toEqual(['pod letta/letta-db-0 did not return within 20 ms: not recreated']);
  });
});
