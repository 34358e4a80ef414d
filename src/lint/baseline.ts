// Baselines let a project adopt envless without fixing every existing finding first:
// `--write-baseline FILE` records today's findings, `--baseline FILE` hides exactly those and
// reports anything new. Entries hold fingerprints plus enough context for a reviewer to read the
// file (rule, file, key), never values.
import { readFileSync, writeFileSync } from 'node:fs';
import { CliError } from '../cli/errors.ts';
import { normalizeFilePath } from './fingerprint.ts';
import type { Finding } from './types.ts';

export interface BaselineEntry {
  readonly fingerprint: string;
  readonly ruleId: string;
  readonly file: string;
  readonly key?: string;
}

export interface Baseline {
  readonly version: 1;
  readonly tool: 'envless';
  readonly findings: readonly BaselineEntry[];
}

const FINGERPRINT = /^[0-9a-f]{16}$/;

/** Never baselined: a file that cannot be parsed cannot be checked, so hiding it would hide everything in it. */
const NEVER_BASELINED = 'parse-error';

/** A baseline of these findings: one entry per fingerprint, sorted so the file diffs cleanly. */
export function createBaseline(findings: readonly Finding[]): Baseline {
  const byFingerprint = new Map<string, BaselineEntry>();
  for (const finding of findings) {
    if (finding.ruleId === NEVER_BASELINED || byFingerprint.has(finding.fingerprint)) continue;
    byFingerprint.set(finding.fingerprint, {
      fingerprint: finding.fingerprint,
      ruleId: finding.ruleId,
      file: normalizeFilePath(finding.file),
      ...(finding.key === undefined ? {} : { key: finding.key }),
    });
  }
  const entries = [...byFingerprint.values()].sort(
    (a, b) =>
      compare(a.file, b.file) ||
      compare(a.ruleId, b.ruleId) ||
      compare(a.key ?? '', b.key ?? '') ||
      compare(a.fingerprint, b.fingerprint),
  );
  return { version: 1, tool: 'envless', findings: entries };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The baseline as written to disk: 2-space JSON, fixed key order, trailing newline. */
export function serializeBaseline(baseline: Baseline): string {
  const findings = baseline.findings.map((entry) => ({
    fingerprint: entry.fingerprint,
    ruleId: entry.ruleId,
    file: entry.file,
    ...(entry.key === undefined ? {} : { key: entry.key }),
  }));
  return `${JSON.stringify({ version: baseline.version, tool: baseline.tool, findings }, null, 2)}\n`;
}

/** Parses and checks a baseline file's text; `file` is only used in error messages. */
export function parseBaseline(text: string, file: string): Baseline {
  let data: unknown;
  try {
    // A byte order mark is what Windows editors and PowerShell 5 put before UTF-8 text.
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw invalid(file, `not valid JSON (${detail})`);
  }
  if (!isRecord(data)) throw invalid(file, 'expected a JSON object with "version", "tool" and "findings"');
  if (data.tool !== 'envless')
    throw invalid(file, '"tool" must be "envless": this is not an envless baseline');
  if (data.version !== 1) {
    throw invalid(file, `unsupported version ${JSON.stringify(data.version)} (this envless reads version 1)`);
  }
  if (!Array.isArray(data.findings)) throw invalid(file, '"findings" must be an array');

  const findings = data.findings.map((entry: unknown, index: number): BaselineEntry => {
    const where = `findings[${index}]`;
    if (!isRecord(entry)) throw invalid(file, `${where} must be an object`);
    const { fingerprint, ruleId, file: entryFile, key } = entry;
    if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint)) {
      throw invalid(file, `${where}.fingerprint must be 16 lower-case hex digits`);
    }
    if (typeof ruleId !== 'string') throw invalid(file, `${where}.ruleId must be a string`);
    if (typeof entryFile !== 'string') throw invalid(file, `${where}.file must be a string`);
    if (key !== undefined && typeof key !== 'string') throw invalid(file, `${where}.key must be a string`);
    return { fingerprint, ruleId, file: entryFile, ...(key === undefined ? {} : { key }) };
  });
  return { version: 1, tool: 'envless', findings };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(file: string, message: string): CliError {
  return new CliError('ENVLESS_CONFIG_INVALID', `baseline ${file}: ${message}`);
}

/** Reads a baseline file. Missing or unreadable: ENVLESS_IO; malformed: ENVLESS_CONFIG_INVALID. */
export function readBaseline(path: string): Baseline {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError('ENVLESS_IO', `cannot read baseline ${path}: ${ioReason(error)}`);
  }
  return parseBaseline(text, path);
}

/** Reads a baseline file and returns the fingerprints it lists (what the lint pipeline filters by). */
export function loadBaseline(path: string): ReadonlySet<string> {
  return new Set(readBaseline(path).findings.map((entry) => entry.fingerprint));
}

/** Writes a baseline of these findings (call it with the findings left after inline suppression). */
export function writeBaseline(path: string, findings: readonly Finding[]): Baseline {
  const baseline = createBaseline(findings);
  try {
    writeFileSync(path, serializeBaseline(baseline), 'utf8');
  } catch (error) {
    throw new CliError('ENVLESS_IO', `cannot write baseline ${path}: ${ioReason(error)}`);
  }
  return baseline;
}

function ioReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message : String(error);
}

/** Drops findings the baseline lists (never parse errors); `baselined` counts them for the summary. */
export function applyBaseline<T extends { readonly ruleId: string; readonly fingerprint: string }>(
  findings: readonly T[],
  baseline: Baseline | ReadonlySet<string>,
): { readonly kept: T[]; readonly baselined: number } {
  const known =
    baseline instanceof Set
      ? baseline
      : new Set((baseline as Baseline).findings.map((entry) => entry.fingerprint));
  const kept = findings.filter(
    (finding) => finding.ruleId === NEVER_BASELINED || !known.has(finding.fingerprint),
  );
  return { kept, baselined: findings.length - kept.length };
}
