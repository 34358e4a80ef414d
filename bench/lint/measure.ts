// Runs one command and measures it: wall time (high-resolution, in this process), peak resident
// memory of the command (GNU time's %M when /usr/bin/time exists, else VmHWM polled from /proc),
// with a hard timeout that kills the whole process group so the benchmark always ends.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measurement {
  readonly wallSeconds: number;
  /** Peak RSS in KiB, undefined when it could not be read. */
  readonly peakRssKiB: number | undefined;
  /** User + system CPU seconds of the command (GNU time only): steadier than wall time on a busy machine. */
  readonly cpuSeconds: number | undefined;
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  /** The last part of standard error, for diagnosing a failed run. */
  readonly stderrTail: string;
}

export interface MeasureOptions {
  readonly cwd: string;
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Keep standard output (small outputs only); otherwise it is discarded. */
  readonly captureStdout?: boolean;
}

const GNU_TIME = '/usr/bin/time';
const TAIL_BYTES = 4000;

export function rssMethod(): string {
  return hasGnuTime() ? 'GNU time %M' : 'VmHWM polled from /proc/<pid>/status';
}

let gnuTime: boolean | undefined;
function hasGnuTime(): boolean {
  gnuTime ??= existsSync(GNU_TIME);
  return gnuTime;
}

function readVmHwm(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // the process has already gone
  }
}

export function measure(
  command: string,
  args: readonly string[],
  options: MeasureOptions,
): Promise<Measurement> {
  const scratch = mkdtempSync(join(tmpdir(), 'envless-measure-'));
  const timeFile = join(scratch, 'time.txt');
  const useGnuTime = hasGnuTime();
  const argv = useGnuTime ? ['-f', '%e %M %U %S', '-o', timeFile, command, ...args] : [...args];
  const started = process.hrtime.bigint();
  const child = spawn(useGnuTime ? GNU_TIME : command, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    detached: true, // own process group, so a timeout kills the tool and everything it started
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => void (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-TAIL_BYTES);
  });
  let polledPeak: number | undefined;
  const poller = useGnuTime
    ? undefined
    : setInterval(() => {
        const now = child.pid === undefined ? undefined : readVmHwm(child.pid);
        if (now !== undefined) polledPeak = Math.max(polledPeak ?? 0, now);
      }, 10);
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already exited
      }
    }
  }, options.timeoutMs);

  return new Promise((resolvePromise, reject) => {
    child.on('error', (error) => {
      clearTimeout(killer);
      if (poller) clearInterval(poller);
      rmSync(scratch, { recursive: true, force: true });
      reject(error);
    });
    child.on('close', (code) => {
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      clearTimeout(killer);
      if (poller) clearInterval(poller);
      let peakRssKiB = polledPeak;
      let cpuSeconds: number | undefined;
      let exitCode = code;
      if (useGnuTime) {
        // GNU time writes "Command exited with non-zero status N" before the format line.
        const text = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
        const line = text.trim().split('\n').pop() ?? '';
        const match = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/.exec(line);
        peakRssKiB = match ? Number(match[2]) : undefined;
        cpuSeconds = match ? Number(match[3]) + Number(match[4]) : undefined;
      }
      if (timedOut) exitCode = null;
      rmSync(scratch, { recursive: true, force: true });
      resolvePromise({ wallSeconds, peakRssKiB, cpuSeconds, exitCode, timedOut, stdout, stderrTail: stderr });
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
