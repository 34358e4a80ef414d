// `envless mutate`: the rewrite engine over manifests, offline, so GitOps users can convert at
// render time instead of in the cluster. Reads YAML (multi-document) or JSON (an object, a List,
// or an array), rewrites every object with a pod template, and writes the objects in input order;
// how manifests are read and printed so that unchanged parts stay as written: manifests.ts.
import { parseArgs } from 'node:util';
import { mountRootProblem, mutateObject } from '../engine/index.ts';
import type { EngineOptions, KubeObject } from '../engine/index.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import type { CliIO } from './io.ts';
import { flagProblem } from './options.ts';
import {
  bigIntegerOf,
  indentsSequences,
  joinDocuments,
  markBigIntegers,
  parseObjects,
  readInput,
  renderYaml,
  type InputObject,
} from './manifests.ts';

const USAGE = `Usage: envless mutate -f FILE|- [-f FILE...] [options]

Converts secret env vars (secretKeyRef, envFrom secretRef) in Pods and workloads (Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate) into
read-only secret files and X_FILE variables. Other objects pass through unchanged.

Options:
  -f, --file FILE|-       manifest to read (YAML, multi-document YAML, JSON object, List, array,
                          or a stream of them);
                          "-" reads standard input; repeatable
  -o, --output yaml|json  yaml (default): multi-document YAML; json: a JSON array of the objects
      --mode warn|enforce enforce: exit 1 (and print nothing) when a literal secret is in env
      --mount-root DIR    directory for the secret files (default /run/secrets)
  -h, --help              show this help

Exit status: 0 converted (warnings on stderr), 1 denied in enforce mode, 2 invalid input or usage.
`;

interface MutateFlags {
  readonly files: string[];
  readonly output: 'yaml' | 'json';
  readonly engine: EngineOptions;
}

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  output: { type: 'string', short: 'o', default: 'yaml' },
  mode: { type: 'string', default: 'warn' },
  'mount-root': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseFlags(args: string[]): MutateFlags | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options: OPTIONS }));
  } catch (error) {
    throw usageError(`mutate: ${flagProblem(error, OPTIONS)} (see \`envless mutate --help\`)`);
  }
  if (values.help) return undefined;
  const files = values.file ?? [];
  if (files.length === 0) throw usageError('mutate: no input: pass -f FILE, or -f - for standard input');
  if (files.filter((file) => file === '-').length > 1)
    throw usageError('mutate: standard input can be read once: give -f - one time');
  if (values.output !== 'yaml' && values.output !== 'json')
    throw usageError(`mutate: -o must be yaml or json, not "${values.output}"`);
  if (values.mode !== 'warn' && values.mode !== 'enforce')
    throw usageError(`mutate: --mode must be warn or enforce, not "${values.mode}"`);
  const mountRoot = values['mount-root'];
  const problem = mountRoot === undefined ? undefined : mountRootProblem(mountRoot);
  if (problem !== undefined) throw usageError(`mutate: --mount-root ${problem} (got "${mountRoot}")`);
  return {
    files,
    output: values.output,
    engine: { mode: values.mode, ...(mountRoot !== undefined ? { mountRoot } : {}) },
  };
}

function describe(object: KubeObject, kindHint: string | undefined): string {
  const kind = typeof object.kind === 'string' ? object.kind : (kindHint ?? 'object');
  const meta = object.metadata;
  const name =
    typeof meta?.name === 'string'
      ? meta.name
      : typeof meta?.generateName === 'string'
        ? `${meta.generateName}*`
        : '(unnamed)';
  return `${kind}/${name}`;
}

export async function runMutate(args: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(args);
  if (!flags) {
    io.writeOut(USAGE);
    return EXIT.ok;
  }
  const inputs: InputObject[] = [];
  const texts: string[] = [];
  for (const file of flags.files) {
    const { label, text } = await readInput(file, io);
    texts.push(text);
    inputs.push(...parseObjects(label, text));
  }

  const results = inputs.map((input) =>
    mutateObject(input.object, input.kindHint ? { ...flags.engine, kind: input.kindHint } : flags.engine),
  );
  let denied = 0;
  results.forEach((result, i) => markBigIntegers(result.pod, inputs[i]!.bigIntegers));
  results.forEach((result, i) => {
    const { object, kindHint, where } = inputs[i]!;
    // `-f values.yaml` by mistake, or an object kubectl will refuse: say so, still pass it on.
    if (typeof (kindHint ?? object.kind) !== 'string')
      io.writeErr(`warning: ${where}: not a Kubernetes object (no kind); left unchanged\n`);
    else if (typeof object.apiVersion !== 'string')
      io.writeErr(
        `warning: ${where}: ${describe(object, kindHint)} has no apiVersion; kubectl will refuse it\n`,
      );
    const subject = describe(object, kindHint);
    for (const warning of result.warnings)
      io.writeErr(`warning: ${subject}: ${warning.replace(/^envless: /, '')}\n`);
    if (result.denied !== undefined) {
      denied++;
      io.writeErr(`error: ${subject}: denied: ${result.denied.replace(/^envless: /, '')}\n`);
    }
  });
  if (denied > 0) {
    // Nothing on stdout: a pipeline into `kubectl apply` must not apply a denied object.
    throw new CliError(
      'ENVLESS_DENIED',
      `mutate: ${denied} object(s) denied in enforce mode; nothing written`,
    );
  }

  if (flags.output === 'json') {
    // Integers beyond 2^53 print as they were written (JSON.rawJSON), not rounded.
    const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
    const replacer = function (this: unknown, key: string, value: unknown): unknown {
      // JSON has no .inf or .nan: JSON.stringify would write null, a changed value.
      if (typeof value === 'number' && !Number.isFinite(value))
        throw new CliError(
          'ENVLESS_INPUT_INVALID',
          `mutate: ${key}: ${value} cannot be written as JSON (-o yaml keeps it)`,
        );
      // !!binary, !!set and !!omap read as a Buffer, a Set and a Map: JSON.stringify would write
      // the Buffer's bytes as an array of numbers and the others as {}, changed values.
      const original = (this as Record<string, unknown>)[key];
      const yamlType =
        original instanceof Uint8Array
          ? '!!binary'
          : original instanceof Set
            ? '!!set'
            : original instanceof Map
              ? '!!omap'
              : undefined;
      if (yamlType !== undefined)
        throw new CliError(
          'ENVLESS_INPUT_INVALID',
          `mutate: ${key}: a ${yamlType} value cannot be written as JSON (write it as a plain YAML value, or use -o yaml, which keeps it)`,
        );
      const digits = bigIntegerOf(this, key, value);
      return digits === undefined ? value : rawJSON(digits);
    };
    io.writeOut(
      `${JSON.stringify(
        results.map((result) => result.pod),
        replacer,
        2,
      )}\n`,
    );
  } else {
    const indentSeq = indentsSequences(texts.find((text) => !/^\s*[[{]/.test(text)));
    io.writeOut(joinDocuments(results.map((result, i) => renderYaml(inputs[i]!, result, indentSeq))));
  }
  return EXIT.ok;
}
