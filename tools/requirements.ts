/**
 * Gate for tests that need a tool a developer may lack (built control plane, Go tools, linters).
 *
 * Locally such a suite skips and prints why. CI sets LETTA_K8S_REQUIRE_ALL=1 so that a missing
 * tool fails the run instead of silently skipping a check.
 */
export const requireAll = process.env.LETTA_K8S_REQUIRE_ALL === '1';

/**
 * Tools that cannot be had on this machine at all, as "tool=reason" entries separated by ";".
 * .ci/run sets it only after trying to install the tool and being refused by its registry, so a
 * suite that could never run here skips with that reason even under LETTA_K8S_REQUIRE_ALL=1.
 */
export function unobtainableReason(tool: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const entry of (env.LETTA_K8S_UNOBTAINABLE ?? '').split(';')) {
    const [name, ...reason] = entry.split('=');
    if (name.trim() === tool) return reason.join('=').trim() || 'no reason given';
  }
  return undefined;
}

/**
 * Returns true when the suite may run. When it may not, prints the reason, or throws under
 * LETTA_K8S_REQUIRE_ALL=1 unless the tool is known to be unobtainable here.
 */
export function available(suite: string, missingReason: string | undefined, tool?: string): boolean {
  if (missingReason === undefined) return true;
  const unobtainable = tool === undefined ? undefined : unobtainableReason(tool);
  const message = `[${suite}] skipped: ${missingReason}${unobtainable ? ` (cannot be obtained here: ${unobtainable})` : ''}`;
  if (requireAll && !unobtainable) throw new Error(`${message} (LETTA_K8S_REQUIRE_ALL=1 forbids skipping)`);
  console.warn(message);
  return false;
}
