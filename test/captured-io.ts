// A CliIO that records what a command writes, for running commands in-process in tests.
import type { CliIO } from '../src/cli/io.ts';

export interface CapturedIO {
  readonly io: CliIO;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

export function capturedIO(cwd: string = process.cwd(), stdin = ''): CapturedIO {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    cwd,
    env: {},
    stdoutIsTTY: false,
    writeOut: (text) => void (stdout += text),
    writeErr: (text) => void (stderr += text),
    readStdin: async () => stdin,
  };
  return { io, stdout: () => stdout, stderr: () => stderr };
}
