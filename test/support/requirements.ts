/**
 * Gate for tests that need a tool a developer may lack (built control plane, Go tools, linters).
 *
 * Locally such a suite skips and prints why. CI sets LETTA_K8S_REQUIRE_ALL=1 so that a missing
 * tool fails the run instead of silently skipping a check.
 */
export const requireAll = process.env.LETTA_K8S_REQUIRE_ALL === '1';

/**
 * Returns true when the suite may run. When it may not, prints the reason, or throws under
 * LETTA_K8S_REQUIRE_ALL=1.
 */
export function available(suite: string, missingReason: string | undefined): boolean {
  if (missingReason === undefined) return true;
  const message = `[${suite}] skipped: ${missingReason}`;
  if (requireAll) throw new Error(`${message} (LETTA_K8S_REQUIRE_ALL=1 forbids skipping)`);
  console.warn(message);
  return false;
}
