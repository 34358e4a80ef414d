// Runs `envless ...` in-process with captured streams and a chosen environment, exactly as the
// launcher would (main() is the launcher's entry point).
import { main } from '../../src/cli/main.ts';

export interface CliRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function envless(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string | undefined> },
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const status = await main([...args], {
    io: {
      cwd: options.cwd,
      env: { NO_COLOR: '1', ...options.env },
      stdoutIsTTY: false,
      writeOut: (text) => void (stdout += text),
      writeErr: (text) => void (stderr += text),
      readStdin: async () => '',
    },
  });
  return { status, stdout, stderr };
}
