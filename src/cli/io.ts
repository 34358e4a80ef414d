// The edges of a command: streams, working directory and environment, injected so commands can be
// run in-process by tests exactly as from the shell.
import { fstatSync } from 'node:fs';
import { CliError } from './errors.ts';

export interface CliIO {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdoutIsTTY: boolean;
  writeOut(text: string): void;
  writeErr(text: string): void;
  readStdin(): Promise<string>;
  /** Standard input as bytes, for commands that must refuse text that is not UTF-8. */
  readStdinBytes?(): Promise<Uint8Array>;
}

let stdoutClosed = false;
let stdoutGuarded = false;

/**
 * A reader that goes away (`envless lint | head -1`) is not an error: the rest of the output is
 * dropped and the command still ends with its own exit status. Other write errors are reported.
 */
function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    stdoutClosed = true;
    if (error.code === 'EPIPE') return;
    process.stderr.write(`envless: cannot write to standard output: ${error.message}\n`);
    process.exitCode = 2;
  });
}

async function stdinBytes(): Promise<Buffer> {
  // Node reads a directory on standard input (`-f - < manifests/`) as empty: a silent empty
  // result (exit 0) for what is a slip.
  let directory = false;
  try {
    directory = fstatSync(0).isDirectory();
  } catch {
    // closed standard input: read as empty, as `cat` does
  }
  if (directory) throw new CliError('ENVLESS_IO', 'standard input is a directory, not a file');
  // Typed input, or a forgotten `< file`: say what the silence is waiting for.
  if (process.stdin.isTTY)
    process.stderr.write('envless: reading standard input (end it with Ctrl-D, or pass a file)\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function processIO(): CliIO {
  guardStdout();
  return {
    cwd: process.cwd(),
    env: process.env,
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    writeOut: (text) => {
      if (!stdoutClosed) process.stdout.write(text);
    },
    writeErr: (text) => void process.stderr.write(text),
    readStdin: async () => (await stdinBytes()).toString('utf8'),
    readStdinBytes: stdinBytes,
  };
}

/**
 * Colour only on a TTY and never with NO_COLOR (https://no-color.org: set and not empty, so
 * `NO_COLOR=` does not count). FORCE_COLOR is not honoured: CI runners export it for other tools,
 * and a report written to a log or file must stay plain.
 */
export function useColor(io: CliIO): boolean {
  return io.stdoutIsTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
}
