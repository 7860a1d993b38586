import { x } from 'tinyexec';

/*
 * Every docker, kind and kubectl call of the e2e runner goes through `Shell`, so that tests can
 * replace the cluster with recorded answers.
 */

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the command's standard input (bytes as they are, e.g. a tar archive). */
  readonly input?: string | Buffer;
  readonly cwd?: string;
  /** Added to the runner's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** The command is killed after this long and the result has code 124, like timeout(1). */
  readonly timeoutMs?: number;
}

export interface Shell {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    const output = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-20).join('\n');
    super(`\`${command}\` exited with ${result.code}${output ? `:\n${output}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Runs the command and returns its standard output; throws CommandError on a non-zero exit. */
export async function check(shell: Shell, command: string, args: readonly string[], options?: RunOptions): Promise<string> {
  const result = await shell.run(command, args, options);
  if (result.code !== 0) throw new CommandError(describe(command, args), result);
  return result.stdout;
}

function describe(command: string, args: readonly string[]): string {
  return [command, ...args].map((word) => (/^[-\w./:=@,]+$/.test(word) ? word : JSON.stringify(word))).join(' ');
}

/** Runs real processes, without a shell in between. */
export const processShell: Shell = {
  async run(command, args, options = {}) {
    // nodePath off: tinyexec would otherwise put node_modules/.bin and node's own folder before the
    // caller's PATH, and kind would find the real docker there instead of the run's docker shim.
    const child = x(command, args, { nodePath: false, nodeOptions: { cwd: options.cwd, env: { ...process.env, ...options.env } } });
    // Bytes as they are (tinyexec's own stdin option takes text only); the command may exit before reading them.
    child.process?.stdin?.end(options.input ?? '');
    let timedOut = false;
    // Killed here rather than by tinyexec's timeout, which discards the output gathered so far.
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => (timedOut = child.kill('SIGKILL')), options.timeoutMs);
    try {
      const { stdout, stderr, exitCode } = await child;
      // 124 like timeout(1).
      if (timedOut) return { code: 124, stdout, stderr: `${stderr}\n(killed after ${options.timeoutMs} ms)` };
      return { code: exitCode ?? 1, stdout, stderr };
    } catch (error) {
      // 127 like a shell: the command is not on PATH.
      return { code: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126, stdout: '', stderr: String((error as Error).message) };
    } finally {
      clearTimeout(timer);
    }
  },
};
