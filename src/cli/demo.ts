// `envless demo`: the main job on an embedded default. Lints a small sample project held in memory
// (no files, no cluster), then shows what `envless mutate` makes of its Deployment.
import { formatFindings } from '../lint/format/index.ts';
import { lintFiles } from '../lint/run.ts';
import { SAMPLES } from '../demo/samples.ts';
import { EXIT, usageError } from './errors.ts';
import { useColor, type CliIO } from './io.ts';
import { VERSION } from './version.ts';

export async function runDemo(args: string[], io: CliIO): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.writeOut(
      'Usage: envless demo\n\nLints an embedded sample project and converts its Deployment; touches no file.\n',
    );
    return EXIT.ok;
  }
  if (args.length > 0)
    throw usageError(`demo: unexpected argument ${args[0]} (it takes none; see envless demo --help)`);
  const rules = {};
  const outcome = lintFiles([], { cwd: io.cwd, names: {}, rules }, SAMPLES);
  io.writeOut(`$ envless lint demo/   # ${SAMPLES.length} embedded sample files\n\n`);
  const count = (s: string) => outcome.findings.filter((f) => f.severity === s).length;
  io.writeOut(
    formatFindings(
      'text',
      outcome.findings,
      {
        filesChecked: outcome.filesChecked,
        errors: count('error'),
        warnings: count('warning'),
        infos: count('info'),
        suppressed: 0,
        baselined: 0,
        parseErrors: outcome.parseErrors,
      },
      { color: useColor(io), toolVersion: VERSION },
    ),
  );
  const deployment = SAMPLES.find((s) => s.filename.endsWith('deployment.yaml'));
  if (deployment) {
    const { runMutate } = await import('./mutate.ts');
    io.writeOut('\n$ envless mutate -f demo/deployment.yaml\n\n');
    // The sample stands in for standard input (as text and as bytes: mutate reads the bytes).
    const stdinIO: CliIO = {
      ...io,
      readStdin: async () => deployment.text,
      readStdinBytes: async () => new TextEncoder().encode(deployment.text),
    };
    await runMutate(['-f', '-'], stdinIO);
  }
  return EXIT.ok;
}
