// The edges of a command: streams, working directory and environment, injected so commands can be
// run in-process by tests exactly as from the shell.

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

/** Colour only on a TTY and never with NO_COLOR (https://no-color.org). */
export function useColor(io: CliIO): boolean {
  return io.stdoutIsTTY && !('NO_COLOR' in io.env && io.env.NO_COLOR !== undefined) && io.env.TERM !== 'dumb';
}
