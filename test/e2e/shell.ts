import { spawn } from 'node:child_process';

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

export function describe(command: string, args: readonly string[]): string {
  return [command, ...args].map((word) => (/^[-\w./:=@,]+$/.test(word) ? word : JSON.stringify(word))).join(' ');
}

/** Runs real processes, without a shell in between. */
export const processShell: Shell = {
  run(command, args, options = {}) {
    return new Promise((resolve) => {
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let timedOut = false;
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              child.kill('SIGKILL');
            }, options.timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // 127 like a shell: the command is not on PATH.
        resolve({ code: error.code === 'ENOENT' ? 127 : 126, stdout: '', stderr: error.message });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const err = Buffer.concat(stderr).toString('utf8');
        resolve({
          code: timedOut ? 124 : (code ?? 1),
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: timedOut ? `${err}\n(killed after ${options.timeoutMs} ms)` : err,
        });
      });
      child.stdin.on('error', () => undefined); // the command may exit before reading its input
      child.stdin.end(options.input ?? '');
    });
  },
};
