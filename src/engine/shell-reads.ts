// What may read a container's environment when it runs, beyond the kubelet's `$(NAME)`: shells
// (and `python -c`, `printenv`...) in `command`/`args`, probes and lifecycle hooks, and apps that
// expand `${NAME}` in other env values. A secret variable such a reader names stays an env var;
// an envFrom secret stays when a name they read may be one of its keys.
import { mentionsName, shellReferencedNames } from './expansion.ts';
import { fileVariableName, isServiceLinkName, SECRETS_DIR_PREFIX } from './names.ts';
import type { Container, EnvVar } from './types.ts';

const NO_NAMES: ReadonlySet<string> = new Set();

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Variables the runtime, the image, the kubelet, bash or awk set: a shell reading them is not
// reading an envFrom key.
const RUNTIME_VARIABLE =
  /^(?:HOME|PATH|HOSTNAME|PWD|OLDPWD|USER|LOGNAME|SHELL|SHLVL|TERM|LANG|LANGUAGE|TZ|TMPDIR|IFS|PS[1-4]|RANDOM|SRANDOM|SECONDS|EPOCHSECONDS|EPOCHREALTIME|LINENO|UID|EUID|PPID|GROUPS|OPTARG|OPTIND|OPTERR|REPLY|PIPESTATUS|FUNCNAME|HOSTTYPE|OSTYPE|MACHTYPE|COLUMNS|LINES|BASH|BASHPID|BASH_[A-Z_]+|LC_[A-Z_]+|KUBERNETES_[A-Z0-9_]+|NF|NR|FNR)$/;

/**
 * Whether a name a shell reads may be a key of an envFrom secret. Lower-case names are shell
 * locals by custom, but `kubectl create secret --from-literal=password=...` makes lower-case keys
 * too: one counts unless it is a single letter (`$f`, sed's `$d`) or the script itself assigns it
 * (`name=`, `for name`, `read name`, `local name`...).
 */
function mayComeFromEnvFrom(name: string, script: readonly string[], serviceLinks: boolean): boolean {
  if (RUNTIME_VARIABLE.test(name)) return false;
  // With `enableServiceLinks: false` only the `kubernetes` Service's (KUBERNETES_*, above) exist:
  // `REDIS_PORT` then comes from an envFrom source or from nowhere.
  if (serviceLinks && isServiceLinkName(name)) return false;
  if (/[A-Z]/.test(name)) return true;
  return name.length > 1 && !script.some((text) => assigns(text, name));
}

/** Whether a script assigns the (lower-case) shell variable `name`. */
function assigns(text: string, name: string): boolean {
  return new RegExp(
    `(?:^|[\\s;&|(){}'"\`])(?:${name}(?:\\[[^\\]]*\\])?\\+?=|(?:for|select)\\s+${name}\\b)` +
      `|\\b(?:read|local|declare|typeset|export|readonly|getopts)\\b[^;&|\\n]*\\s${name}\\b`,
    'm',
  ).test(text);
}

/** The exec commands of a container's probes and lifecycle hooks: shells that run in it too. */
function execCommands(container: Container): unknown[] {
  const commands: unknown[] = [];
  for (const field of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const probe = container[field];
    if (isObject(probe) && isObject(probe.exec)) commands.push(probe.exec.command);
  }
  const lifecycle = container.lifecycle;
  if (isObject(lifecycle)) {
    for (const hook of [lifecycle.postStart, lifecycle.preStop])
      if (isObject(hook) && isObject(hook.exec)) commands.push(hook.exec.command);
  }
  return commands;
}

function strings(lists: readonly unknown[]): string[] {
  const texts: string[] = [];
  for (const list of lists)
    if (Array.isArray(list)) for (const text of list) if (typeof text === 'string') texts.push(text);
  return texts;
}

export interface ShellReads {
  readonly variables: ReadonlySet<string>;
  readonly inValues: ReadonlySet<string>;
  readonly envFrom: ReadonlySet<string>;
}

const NO_READS: ShellReads = { variables: NO_NAMES, inValues: NO_NAMES, envFrom: NO_NAMES };

/**
 * What may read the container's environment at run time: a shell (or `python -c`...) in
 * `command`/`args` (one script), and each probe's and lifecycle hook's exec command.
 *
 * A secret variable X counts when a script reads `$X` (see shellReferencedNames) or, for a name
 * with an upper-case letter, names it as a word (`printenv X`, `env | grep ^X=`, `$((X + 1))`,
 * `os.environ['X']`): unless the same script also names `X_FILE`, as Bitnami's probes do
 * (`[ -f "$X_FILE" ] && X=$(cat "$X_FILE")`). `$X` or `${X}` in another env value counts too
 * (`-Dpw=${X}`, expanded by Spring or an `eval`), except in envless's own path variables.
 * For envFrom: every name a script or another env value reads that the secret may supply (its
 * X_FILE does not help: envless gives an envFrom key a directory, not an X_FILE).
 */
export function shellReads(
  container: Container,
  env: readonly EnvVar[],
  variables: readonly string[],
  serviceLinks = true,
): ShellReads {
  let found: Set<string> | undefined;
  let inValues: Set<string> | undefined;
  let fromEnvFrom: Set<string> | undefined;
  const reads = (texts: readonly string[], names: ReadonlySet<string>, variable: string, words: boolean) =>
    (names.has(variable) ||
      (words && /[A-Z]/.test(variable) && texts.some((text) => mentionsName(text, variable)))) &&
    !texts.some((text) => mentionsName(text, fileVariableName(variable)));
  const scan = (texts: readonly string[], kubelet: boolean): void => {
    if (texts.length === 0) return;
    const names = new Set<string>();
    for (const text of texts) for (const name of shellReferencedNames(text, kubelet)) names.add(name);
    for (const variable of variables)
      if (reads(texts, names, variable, true)) (found ??= new Set()).add(variable);
    for (const name of names)
      if (mayComeFromEnvFrom(name, texts, serviceLinks)) (fromEnvFrom ??= new Set()).add(name);
  };
  scan(strings([container.command, container.args]), true);
  for (const command of execCommands(container)) scan(strings([command]), false);
  for (const entry of env) {
    const { name, value } = entry ?? {};
    if (typeof value !== 'string' || !value.includes('$') || typeof name !== 'string') continue;
    if (name.endsWith('_FILE') || name.startsWith(SECRETS_DIR_PREFIX)) continue; // paths
    const texts = [value];
    const names = new Set(shellReferencedNames(value, true));
    for (const variable of variables)
      if (variable !== name && reads(texts, names, variable, false)) (inValues ??= new Set()).add(variable);
    // The app (or an `eval`) reads these from the environment: an envFrom key too.
    for (const read of names)
      if (read !== name && mayComeFromEnvFrom(read, texts, serviceLinks))
        (fromEnvFrom ??= new Set()).add(read);
  }
  if (!found && !inValues && !fromEnvFrom) return NO_READS;
  return {
    variables: found ?? NO_NAMES,
    inValues: inValues ?? NO_NAMES,
    envFrom: fromEnvFrom ?? NO_NAMES,
  };
}
