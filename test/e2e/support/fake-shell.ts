import type { CommandResult, RunOptions, Shell } from '../shell';

export interface RecordedCall {
  readonly command: string;
  readonly args: readonly string[];
  readonly options?: RunOptions;
}

type Answer = CommandResult | ((call: RecordedCall) => CommandResult);

/**
 * A Shell that answers from a script: the first rule whose words all appear in the call (command
 * and arguments) answers it. Unmatched calls fail with code 127, so a test never reaches a real
 * cluster by accident.
 */
export class FakeShell implements Shell {
  readonly calls: RecordedCall[] = [];
  private readonly rules: Array<{ words: readonly string[]; answer: Answer; times: number }> = [];

  /** Answers calls containing all `words`; `times` limits how often this rule applies. */
  on(words: readonly string[], answer: Answer, times = Infinity): this {
    this.rules.push({ words, answer, times });
    return this;
  }

  async run(command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    const call = { command, args, options };
    this.calls.push(call);
    const all = [command, ...args];
    const rule = this.rules.find((r) => r.times > 0 && r.words.every((word) => all.includes(word)));
    if (!rule) return { code: 127, stdout: '', stderr: `FakeShell: no answer for ${all.join(' ')}` };
    rule.times -= 1;
    return typeof rule.answer === 'function' ? rule.answer(call) : rule.answer;
  }

  /** Calls whose words include all of `words`. */
  callsWith(...words: string[]): RecordedCall[] {
    return this.calls.filter((call) => words.every((word) => [call.command, ...call.args].includes(word)));
  }
}

export const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
export const fail = (stderr: string, code = 1): CommandResult => ({ code, stdout: '', stderr });
export const json = (value: unknown): CommandResult => ok(JSON.stringify(value));
