// Fourth review round of the command line as a new user meets it: typos and their hints, help
// topics, Node's flag errors turned into one line, standard input that is a directory or a
// terminal, NO_COLOR as no-color.org defines it, and the launcher (bin/envless) under a Node that
// cannot run the sources: an older Node 22 without type stripping, and the shell's Node 20 killed
// by a signal. The bugs this review found are fixed; these are their regression tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { useColor } from '../../src/cli/io.ts';
import { closest, flagProblem } from '../../src/cli/options.ts';
import { capturedIO } from '../captured-io.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const envless = join(root, 'bin', 'envless');

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'envless-adv2-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(
  args: string[],
  opts: {
    input?: string;
    stdin?: number;
    env?: Record<string, string>;
    node?: string;
    nodeArgs?: string[];
  } = {},
): Run {
  const r = spawnSync(opts.node ?? process.execPath, [...(opts.nodeArgs ?? []), envless, ...args], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ENVLESS_RELAUNCHED: '', ...opts.env },
    timeout: 60_000,
    ...(opts.stdin !== undefined ? { stdio: [opts.stdin, 'pipe', 'pipe'] } : { input: opts.input ?? '' }),
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2, nothing on stdout, exactly one `envless: ...` line on stderr holding `fragment`. */
function expectUsage(r: Run, fragment: string): void {
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^envless: /);
  expect(r.stderr).toContain(fragment);
  expect(r.status).toBe(2);
}

describe('typos, help topics and flag errors', () => {
  it('an unknown command names the command it most likely meant, or none', () => {
    expectUsage(run(['lnt']), 'unknown command "lnt" (did you mean "lint"?)');
    expectUsage(run(['mutat']), '(did you mean "mutate"?)');
    expectUsage(run(['Lint']), '(did you mean "lint"?)');
    expectUsage(run(['dmeo']), '(did you mean "demo"?)'); // two letters swapped
    // Words that exist only under a group, and `version` for `--version`.
    expectUsage(run(['audit']), '(did you mean "k8s audit" or "docker audit"?)');
    expectUsage(run(['fix']), '(did you mean "compose fix"?)');
    expectUsage(run(['bootstrap']), '(did you mean "certs bootstrap"?)');
    expectUsage(run(['version']), '(did you mean "--version"?)');
    expectUsage(run(['--verison']), 'unknown option --verison (did you mean --version?)');
    expectUsage(run(['--hepl']), '(did you mean --help?)');
    // Nothing close: no guess.
    const far = run(['xyzzy']);
    expectUsage(far, 'unknown command "xyzzy"');
    expect(far.stderr).not.toContain('did you mean');
  });

  it('`envless help TOPIC...` is the topic`s --help, and an unknown topic is an error, not the help', () => {
    const nested = run(['help', 'k8s', 'audit']);
    expect(nested.status).toBe(0);
    expect(nested.stdout).toBe(run(['k8s', 'audit', '--help']).stdout);
    expect(nested.stdout).toMatch(/^Usage: envless k8s audit/);
    expectUsage(run(['help', 'frob']), 'unknown command "frob"');
    expectUsage(run(['help', 'lnt']), '(did you mean "lint"?)');
  });

  it('the top-level help states the exit statuses that the commands use', () => {
    const help = run(['--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/Exit status: 0 success; 1 findings.*; 2 usage error/);
    // Each part of that sentence, as the commands behave.
    expect(run(['frob']).status).toBe(2);
    const literal =
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: i\n' +
      `    env:\n    - name: DB_PASSWORD\n      value: ${['Tr0ub4dor', '3', 'horse'].join('-')}\n`;
    expect(run(['mutate', '-f', '-', '--mode', 'enforce'], { input: literal }).status).toBe(1);
  });

  it('an unknown long option of mutate names the nearest known one', () => {
    expectUsage(run(['mutate', '--fle', 'x.yaml']), "Unknown option '--fle' (did you mean --file?)");
    expectUsage(run(['mutate', '-f', '-', '--out', 'json']), '(did you mean --output?)');
    expectUsage(run(['mutate', '-f', '-', '--mount-rot', '/x']), '(did you mean --mount-root?)');
    expectUsage(run(['mutate', '-f', '-', '--Mode', 'enforce']), '(did you mean --mode?)');
  });

  it('a value that starts with "-" is one line that says how to pass it (Node writes three lines)', () => {
    writeFileSync(join(work, '-cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    const r = run(['mutate', '-f', '-cm.yaml']);
    expectUsage(r, "Option '-f' argument is ambiguous.");
    expect(r.stderr).toContain("'--file=-XYZ'");
    // The way it names works.
    expect(run(['mutate', '--file=-cm.yaml']).stdout).toContain('kind: ConfigMap');
  });

  it('every command names the nearest flag for a typo, on one line', () => {
    const cases: [string[], string][] = [
      [['lint', '--frmat', 'json'], "Unknown option '--frmat' (did you mean --format?)"],
      [['k8s', 'audit', '--namspace', 'x'], '(did you mean --namespace?)'],
      [['compose', 'fix', '--dryrun'], '(did you mean --dry-run?)'],
      [['certs', 'bootstrap', '--secrt', 'x'], '(did you mean --secret?)'],
      [['webhook', '--prot', '1'], '(did you mean --port?)'],
      [['docker', 'secrets', 'sync', '--env-fle', '.env'], '(did you mean --env-file?)'],
    ];
    for (const [args, fragment] of cases) expectUsage(run(args), fragment);
    // Node's second and third lines (how to pass a value with a dash) are kept, on the same line.
    expectUsage(run(['lint', '-o', '-x']), "use '--output=-XYZ' or '-o-XYZ'");
  });

  it('lint-compose --version prints the version (a pre-commit hook asks the alias)', () => {
    const r = run(['lint', '--version'], { env: { ENVLESS_INVOKED_AS: 'lint-compose' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('flagProblem: Node`s parseArgs errors as one line, typos with the nearest flag', () => {
    const options = {
      format: { type: 'string', short: 'f' },
      'fail-on': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    } as const;
    const problem = (args: string[], allowPositionals = true): string => {
      try {
        parseArgs({ args, options, strict: true, allowPositionals });
      } catch (error) {
        return flagProblem(error, options);
      }
      throw new Error(`parseArgs accepted ${args.join(' ')}`);
    };
    // A command that takes paths: Node adds a hint about positionals with broken quoting.
    expect(problem(['--frmat', 'json'])).toBe("Unknown option '--frmat' (did you mean --format?)");
    expect(problem(['--fail-no', 'warning'])).toBe("Unknown option '--fail-no' (did you mean --fail-on?)");
    expect(problem(['--bogus'])).toBe("Unknown option '--bogus'");
    expect(problem(['-x'])).toBe("Unknown option '-x'");
    expect(problem(['-f', '--help'])).not.toContain('\n');
    expect(problem(['-f', '--help'])).toContain('ambiguous');
    expect(problem(['--help=yes'])).toBe("Option '-h, --help' does not take an argument");
    expect(problem(['extra'], false)).toMatch(/^Unexpected argument 'extra'/);
  });

  it('closest: a typo or a unique prefix, never a far-fetched guess', () => {
    const commands = ['lint', 'compose', 'demo', 'mutate', 'webhook', 'certs', 'k8s', 'docker'];
    expect(closest('lnit', commands)).toBe('lint');
    expect(closest('webhok', commands)).toBe('webhook');
    expect(closest('comp', commands)).toBe('compose');
    expect(closest('d', commands)).toBeUndefined(); // demo or docker
    expect(closest('cert', commands)).toBe('certs');
    expect(closest('kubectl', commands)).toBeUndefined();
    expect(closest('', commands)).toBeUndefined();
  });

  it('an internal error is one line; ENVLESS_DEBUG adds its stack trace', async () => {
    const failing = (debug: boolean) => {
      const captured = capturedIO(work);
      const io = {
        ...captured.io,
        env: debug ? { ENVLESS_DEBUG: '1' } : {},
        readStdin: () => Promise.reject(new Error('stdin exploded')),
        readStdinBytes: () => Promise.reject(new Error('stdin exploded')),
      };
      return { io, captured };
    };
    const plain = failing(false);
    expect(await main(['mutate', '-f', '-'], { io: plain.io })).toBe(2);
    expect(plain.captured.stderr()).toBe('envless: internal error: stdin exploded\n');
    const debug = failing(true);
    expect(await main(['mutate', '-f', '-'], { io: debug.io })).toBe(2);
    expect(debug.captured.stderr()).toMatch(
      /^envless: internal error: stdin exploded\nError: stdin exploded\n\s+at /,
    );
  });
});

describe('standard input and colour', () => {
  it('a directory on standard input is exit 2, not an empty input that succeeds', () => {
    for (const args of [
      ['mutate', '-f', '-'],
      ['lint', '-'],
    ]) {
      // `envless mutate -f - < manifests/`: the shell opens the directory for reading.
      const fd = openSync(work, 'r');
      try {
        expectUsage(run(args, { stdin: fd }), 'standard input is a directory');
      } finally {
        closeSync(fd);
      }
    }
  });

  it('closed or empty standard input is empty input (exit 0), as for cat', () => {
    expect(run(['mutate', '-f', '-'], { input: '' })).toMatchObject({ status: 0, stdout: '', stderr: '' });
  });

  const script = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!script)('waiting on a terminal says so on stderr (end it with Ctrl-D)', () => {
    // script(1) gives the command a terminal; its own standard input at end of file sends Ctrl-D.
    const r = spawnSync('script', ['-qec', `"${process.execPath}" "${envless}" mutate -f -`, '/dev/null'], {
      cwd: work,
      encoding: 'utf8',
      input: '',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('envless: reading standard input (end it with Ctrl-D');
    // Not on a pipe, where the input is coming.
    expect(run(['mutate', '-f', '-'], { input: '' }).stderr).toBe('');
  });

  it('NO_COLOR counts when set and not empty (no-color.org); FORCE_COLOR never colours a pipe', () => {
    const tty = (env: Record<string, string>) => useColor({ ...capturedIO(work).io, stdoutIsTTY: true, env });
    expect(tty({})).toBe(true);
    expect(tty({ NO_COLOR: '' })).toBe(true);
    expect(tty({ NO_COLOR: '1' })).toBe(false);
    expect(tty({ NO_COLOR: '0' })).toBe(false); // any value, even 0
    expect(tty({ TERM: 'dumb' })).toBe(false);
    expect(useColor({ ...capturedIO(work).io, stdoutIsTTY: false, env: { FORCE_COLOR: '1' } })).toBe(false);
  });
});

describe('the launcher (bin/envless) under a Node that cannot run the sources', () => {
  it('a Node 22 older than 22.18 (no type stripping) runs the sources with the Node of node_modules', () => {
    // --no-experimental-strip-types makes this Node behave as Node 22.0-22.17 does by default.
    const r = run(['--version'], { nodeArgs: ['--no-experimental-strip-types'] });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`);
    expect(r.status).toBe(0);
  });

  it('when no Node found can run them either, one line and exit 2, not a loop of relaunches', () => {
    const r = run(['--version'], { env: { NODE_OPTIONS: '--no-experimental-strip-types' } });
    expectUsage(r, 'running from source needs Node.js >= 22.18 with type stripping on');
  });

  // The shell's Node (20 on this machine) re-runs the launcher with Node 24: a signal that ends
  // the child must end the launcher the same way, or `timeout`/CI sees a killed run as exit 0.
  const systemNode = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => dir && !dir.includes('node_modules'))
    .map((dir) => join(dir, 'node'))
    .find((candidate) => {
      try {
        const major = Number(
          execFileSync(candidate, ['-p', 'process.versions.node.split(".")[0]']).toString(),
        );
        return major < 22;
      } catch {
        return false;
      }
    });

  /** The pid of a process whose parent is `ppid`, once there is one. */
  async function childOf(ppid: number): Promise<number> {
    for (;;) {
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        let stat: string;
        try {
          stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        } catch {
          continue;
        }
        // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) return Number(entry);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it.skipIf(!systemNode)(
    'a Node older than 22 relaunching: SIGTERM/SIGINT end it by that signal, not exit 0',
    async () => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        // Standard input stays open, so the child waits in `mutate -f -` until the signal.
        const launcher = spawn(systemNode!, [envless, 'mutate', '-f', '-'], {
          cwd: work,
          stdio: ['pipe', 'ignore', 'pipe'],
          env: { ...process.env, ENVLESS_RELAUNCHED: '' },
        });
        let stderr = '';
        launcher.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
          launcher.on('exit', (code, sig) => resolve([code, sig])),
        );
        // Once the child exists, the launcher's forwarding handlers are installed (same tick).
        await childOf(launcher.pid!);
        launcher.kill(signal);
        const [code, sig] = await ended;
        expect({ signal, code, sig, stderr }).toEqual({ signal, code: null, sig: signal, stderr: '' });
        launcher.stdin.destroy();
      }
    },
  );
});
