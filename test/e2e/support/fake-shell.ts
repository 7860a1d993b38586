import type { CommandResult, RunOptions, Shell } from '../shell';

/**
 * A Shell that answers from a script: the first rule whose words all appear in the call (command
 * and arguments) answers it. Unmatched calls fail with code 127, so a test never reaches a real
 * cluster by accident.
 */
export class FakeShell implements Shell {
  readonly calls: Array<{ command: string; args: readonly string[]; options?: RunOptions }> = [];
  private readonly rules: Array<{ words: readonly string[]; answer: CommandResult }> = [];

  /** Answers calls containing all `words`. */
  on(words: readonly string[], answer: CommandResult): this {
    this.rules.push({ words, answer });
    return this;
  }

  async run(command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    this.calls.push({ command, args, options });
    const all = [command, ...args];
    const rule = this.rules.find((r) => r.words.every((word) => all.includes(word)));
    return rule?.answer ?? { code: 127, stdout: '', stderr: `FakeShell: no answer for ${all.join(' ')}` };
  }
}

export const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
export const fail = (stderr: string, code = 1): CommandResult => ({ code, stdout: '', stderr });
