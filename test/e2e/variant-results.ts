/** One check of a variant: its name and what went wrong (nothing when it passed). */
export interface VariantResult {
  readonly name: string;
  readonly problems: readonly string[];
}

/** Logs a variant's check as PASS or FAIL with its problems. */
export function logResult(log: (line: string) => void, result: VariantResult): void {
  log(result.problems.length === 0 ? `PASS ${result.name}` : `FAIL ${result.name}\n${result.problems.map((p) => `    ${p}`).join('\n')}`);
}

/** Collects a variant's checks: each runs, a thrown error counts as its problem, and each is logged. */
export function variantRecorder(log: (line: string) => void) {
  const results: VariantResult[] = [];
  const add = (result: VariantResult) => {
    results.push(result);
    logResult(log, result);
  };
  const record = async (name: string, run: () => Promise<string[]>) => {
    let problems: string[];
    try {
      problems = await run();
    } catch (error) {
      problems = [(error as Error).message];
    }
    add({ name, problems });
  };
  return { results, record, add };
}
