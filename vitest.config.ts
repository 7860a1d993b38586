import { defineConfig } from 'vitest/config';

const MINUTE = 60_000;

/**
 * The e2e of one profile on a kind cluster: one file, one worker, its own group after the unit
 * tests and the other profile, so that the clusters never run at the same time. Its global setup
 * (test/e2e/setup.ts) builds or pulls what the cluster needs, or skips the project when
 * LETTA_K8S_E2E is unset or the machine cannot run it; the tests create and delete the cluster.
 */
const e2e = (profile: 'kind' | 'gpu', groupOrder: number) => ({
  test: {
    name: `e2e-${profile}`,
    include: [`test/e2e/${profile}.e2e.ts`],
    globalSetup: ['test/e2e/setup.ts'],
    sequence: { groupOrder },
    maxWorkers: 1,
    fileParallelism: false,
    // Every check names its own timeout; this is the bound of the rest.
    testTimeout: 10 * MINUTE,
    hookTimeout: 60 * MINUTE,
  },
});

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // The e2e's global teardown deletes a cluster that is still there.
    teardownTimeout: 10 * MINUTE,
    projects: [{ test: { name: 'unit', include: ['test/**/*.test.ts'], sequence: { groupOrder: 0 } } }, e2e('kind', 1), e2e('gpu', 2)],
  },
});
