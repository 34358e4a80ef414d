// `.envless.yaml`: project settings for `envless lint`, found by walking up from the directory
// being checked (like .gitignore or .eslintrc). Every problem is reported as `file:line: message`
// with the YAML line, all at once, so a broken config is fixed in one round trip.
//
//   ignore: [vendor/, 'test/fixtures/**']   # gitignore syntax, relative to this file's directory
//   allow: [GPG_KEY, '*_PUBLIC_KEY']        # names that never hold a secret
//   secrets: [MY_APP_PIN]                   # extra names that always do
//   rules: { compose/secret-env: warning, dotenv/secret-not-ignored: off }
//   failOn: warning                         # lowest severity that fails the run
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import ignore from 'ignore';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { CliError } from '../cli/errors.ts';
import type { NameOptions } from '../detect/index.ts';
import { isRuleId, RULES, type RuleId } from './rules.ts';
import type { Severity } from './types.ts';

/** Looked for in this order in each directory from the start directory up to the root. */
export const CONFIG_FILE_NAMES = ['.envless.yaml', '.envless.yml'] as const;

export type RuleSetting = Severity | 'off';

export const DEFAULT_FAIL_ON: Severity = 'error';
/** `failOn` values: a severity, or `never` (report only), as `--fail-on` takes. */
export type FailOnSetting = Severity | 'never';

/** The settings a config file holds, defaults filled in. */
export interface ConfigSettings {
  /** gitignore-syntax patterns, relative to `dir`. */
  readonly ignore: readonly string[];
  /** Variable names never treated as secrets (`*` wildcards). */
  readonly allow: readonly string[];
  /** Extra variable names always treated as secrets (`*` wildcards). */
  readonly secrets: readonly string[];
  /** Per-rule severity overrides; `off` disables the rule. */
  readonly rules: Readonly<Partial<Record<RuleId, RuleSetting>>>;
  /** Lowest severity that makes `envless lint` exit non-zero. */
  readonly failOn: FailOnSetting;
}

export interface LintConfig extends ConfigSettings {
  /** The config file in effect (absolute); undefined when there is none. */
  readonly path?: string;
  /** Directory `ignore` patterns are relative to: the config file's, else the start directory. */
  readonly dir: string;
}

/** Returns the 1-based YAML line of the value (or the key) at a path in the config, if known. */
export type ConfigLocator = (path: readonly (string | number)[], part: 'key' | 'value') => number | undefined;

const SETTINGS = ['ignore', 'allow', 'secrets', 'rules', 'failOn'] as const;
const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];
const RULE_SETTINGS: readonly RuleSetting[] = [...SEVERITIES, 'off'];
const FAIL_ON: readonly FailOnSetting[] = [...SEVERITIES, 'never'];

/**
 * Loads the config in effect for `startDir`: `explicitPath` if given (relative to `cwd`), else the
 * nearest `.envless.yaml`/`.envless.yml` upward from `startDir`, else defaults. `cwd` only decides
 * how paths are shown in error messages and how `explicitPath` resolves.
 * Throws CliError: ENVLESS_IO (unreadable), ENVLESS_CONFIG_INVALID (bad YAML or settings).
 */
export function loadConfig(
  startDir: string,
  explicitPath?: string,
  options: { readonly cwd?: string } = {},
): LintConfig {
  const cwd = options.cwd ?? process.cwd();
  const configPath =
    explicitPath === undefined ? findConfigFile(resolve(cwd, startDir)) : resolve(cwd, explicitPath);
  if (configPath === undefined) return { ...defaultSettings(), dir: directoryOf(resolve(cwd, startDir)) };

  const shown = explicitPath ?? displayPath(configPath, cwd);
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(error);
    throw new CliError('ENVLESS_IO', `cannot read config ${shown}: ${reason}`);
  }
  return { ...parseConfig(text, shown), path: configPath, dir: dirname(configPath) };
}

/** The nearest config file from `startDir` (a directory, or a file whose directory is used) upward. */
export function findConfigFile(startDir: string): string | undefined {
  let dir = directoryOf(resolve(startDir));
  for (;;) {
    const present = CONFIG_FILE_NAMES.map((name) => join(dir, name)).filter(isFile);
    if (present.length > 1) {
      // Picking one silently would leave the user editing the file that is not read.
      throw new CliError('ENVLESS_CONFIG_INVALID', `both ${present.join(' and ')} exist; keep one of them`);
    }
    if (present[0] !== undefined) return present[0];
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Parses and validates config text; `file` names it in error messages. */
export function parseConfig(text: string, file: string): ConfigSettings {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      return `${file}:${line}:${col}: YAML syntax error: ${error.message.split('\n')[0]}`;
    });
    throw new CliError('ENVLESS_CONFIG_INVALID', problems.join('\n'));
  }

  const locate: ConfigLocator = (path, part) => {
    let node: unknown = doc.contents;
    for (const [index, segment] of path.entries()) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && item.key.value === segment,
        );
        if (!pair) return undefined;
        node = index === path.length - 1 && part === 'key' ? pair.key : pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
      } else {
        return undefined;
      }
    }
    const range = (node as { range?: readonly number[] } | null | undefined)?.range;
    return range?.[0] === undefined ? undefined : lineCounter.linePos(range[0]).line;
  };
  return validateConfig(doc.toJS({ maxAliasCount: 100 }), file, locate);
}

/**
 * Checks a parsed config object and returns its settings with defaults. Collects every problem and
 * throws one CliError('ENVLESS_CONFIG_INVALID') listing them as `file:line: message` (`file: message`
 * when `locate` cannot place it).
 */
export function validateConfig(
  obj: unknown,
  file: string,
  locate: ConfigLocator = () => undefined,
): ConfigSettings {
  const problems: string[] = [];
  const report = (path: readonly (string | number)[], part: 'key' | 'value', message: string): void => {
    const line = locate(path, part);
    problems.push(line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`);
  };

  if (obj === null || obj === undefined) return defaultSettings(); // an empty file
  if (!isRecord(obj)) {
    report([], 'value', `the config must be a mapping of settings (${SETTINGS.join(', ')})`);
    throw new CliError('ENVLESS_CONFIG_INVALID', problems.join('\n'));
  }

  for (const key of Object.keys(obj)) {
    if ((SETTINGS as readonly string[]).includes(key)) continue;
    const suggestion = closest(key, SETTINGS);
    report(
      [key],
      'key',
      `unknown setting "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; known settings: ${SETTINGS.join(', ')}`,
    );
  }

  const ignorePatterns = stringList(obj.ignore, 'ignore', 'a gitignore pattern', report);
  const allow = stringList(obj.allow, 'allow', 'a variable name', report, checkName);
  const secrets = stringList(obj.secrets, 'secrets', 'a variable name', report, checkName);
  const rules = ruleSettings(obj.rules, report);

  let failOn: FailOnSetting = DEFAULT_FAIL_ON;
  if (obj.failOn !== undefined && obj.failOn !== null) {
    if (typeof obj.failOn === 'string' && (FAIL_ON as readonly string[]).includes(obj.failOn)) {
      failOn = obj.failOn as FailOnSetting;
    } else {
      report(
        ['failOn'],
        'value',
        `failOn must be one of ${FAIL_ON.join(', ')}; got ${describe(obj.failOn)}${hint(obj.failOn, FAIL_ON)}`,
      );
    }
  }

  if (problems.length > 0) throw new CliError('ENVLESS_CONFIG_INVALID', problems.join('\n'));
  return { ignore: ignorePatterns, allow, secrets, rules, failOn };
}

type Report = (path: readonly (string | number)[], part: 'key' | 'value', message: string) => void;

function stringList(
  value: unknown,
  setting: string,
  what: string,
  report: Report,
  check?: (item: string) => string | undefined,
): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    report([setting], 'value', `${setting} must be a list (each item ${what}); got ${describe(value)}`);
    return [];
  }
  const items: string[] = [];
  value.forEach((item: unknown, index) => {
    if (typeof item !== 'string' || item.trim() === '') {
      report(
        [setting, index],
        'value',
        `${setting}[${index}] must be ${what} (a non-empty string); got ${describe(item)}`,
      );
      return;
    }
    const problem = check?.(item);
    if (problem) report([setting, index], 'value', `${setting}[${index}]: ${problem}`);
    else items.push(item);
  });
  return items;
}

function checkName(name: string): string | undefined {
  return /\s/.test(name) ? `"${name}" is not a variable name (it contains whitespace)` : undefined;
}

function ruleSettings(value: unknown, report: Report): Partial<Record<RuleId, RuleSetting>> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    report(
      ['rules'],
      'value',
      `rules must be a mapping of rule id to ${RULE_SETTINGS.join('|')}; got ${describe(value)}`,
    );
    return {};
  }
  const settings: Partial<Record<RuleId, RuleSetting>> = {};
  for (const [id, setting] of Object.entries(value)) {
    if (!isRuleId(id)) {
      report(['rules', id], 'key', `unknown rule "${id}"${ruleSuggestion(id)}`);
      continue;
    }
    // A file that cannot be parsed is never checked: its error cannot be lowered or turned off,
    // and a setting that looked as if it could would be a silent no-op.
    if (id === 'parse-error') {
      report(
        ['rules', id],
        'key',
        'parse-error cannot be configured: a file that cannot be parsed is not checked at all, so it always fails the run (exit 2); exclude the file with `ignore:` instead',
      );
      continue;
    }
    if (typeof setting === 'string' && (RULE_SETTINGS as readonly string[]).includes(setting)) {
      settings[id] = setting as RuleSetting;
      continue;
    }
    const offHint = setting === false ? ' (write "off" to disable a rule)' : hint(setting, RULE_SETTINGS);
    report(
      ['rules', id],
      'value',
      `rules.${id} must be one of ${RULE_SETTINGS.join(', ')}; got ${describe(setting)}${offHint}`,
    );
  }
  return settings;
}

/** `(did you mean ...?)` for an unknown rule id: ids with the same name part, else the closest id. */
function ruleSuggestion(id: string): string {
  const ids = RULES.map((rule) => rule.id as string);
  const sameName = ids.filter((candidate) => candidate.endsWith(`/${id.toLowerCase()}`));
  const suggestions = sameName.length > 0 ? sameName : [closest(id, ids)].filter((s) => s !== undefined);
  return suggestions.length > 0 ? ` (did you mean ${suggestions.map((s) => `"${s}"`).join(' or ')}?)` : '';
}

function hint(value: unknown, choices: readonly string[]): string {
  if (typeof value !== 'string') return '';
  const suggestion = closest(value, choices);
  return suggestion ? ` (did you mean "${suggestion}"?)` : '';
}

function describe(value: unknown): string {
  if (value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}

/** The candidate nearest to `word` by edit distance (case-insensitive), if near enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  // An abbreviation (`warn`, `sec`) is a typo too, even when far from the full word.
  const expansion = candidates.find(
    (candidate) => lower.length >= 3 && candidate.toLowerCase().startsWith(lower),
  );
  if (expansion !== undefined) return expansion;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function defaultSettings(): ConfigSettings {
  return { ignore: [], allow: [], secrets: [], rules: {}, failOn: DEFAULT_FAIL_ON };
}

/** The name options the shared detectors take (`CheckContext.names`). */
export function nameOptions(config: ConfigSettings): NameOptions {
  return { allow: config.allow, deny: config.secrets };
}

/** The configured setting for a rule, or undefined when the config leaves it at its default. */
export function ruleSetting(config: ConfigSettings, ruleId: string): RuleSetting | undefined {
  return isRuleId(ruleId) ? config.rules[ruleId] : undefined;
}

/**
 * A matcher for the config's `ignore` patterns. Paths are absolute or relative to the current
 * directory; paths outside `dir` are never ignored (gitignore semantics). Pass
 * `isDirectory` so that directory-only patterns (`vendor/`) match directories.
 */
export function createIgnoreMatcher(config: LintConfig): (path: string, isDirectory?: boolean) => boolean {
  if (config.ignore.length === 0) return () => false;
  const matcher = ignore().add(config.ignore);
  return (path, isDirectory = false) => {
    const rel = relative(config.dir, resolve(path)).replace(/\\/g, '/');
    if (rel === '' || rel.startsWith('../') || rel === '..' || isAbsolute(rel)) return false;
    return matcher.ignores(isDirectory ? `${rel}/` : rel);
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function directoryOf(path: string): string {
  try {
    return statSync(path).isDirectory() ? path : dirname(path);
  } catch {
    return path;
  }
}

function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel) ? path : rel;
}
