// The lint pipeline: discover -> read -> check (per file kind) -> configure severities -> drop
// suppressed and baselined findings -> fingerprint -> mask. Formatting is the caller's job.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { maskSecret, maskWithin, type NameOptions } from '../detect/index.ts';
import { checkCompose } from './compose/check.ts';
import {
  classifyByContent,
  classifyByName,
  discover,
  looksLikeManifest,
  type Candidate,
} from './discover.ts';
import { checkDockerfile } from './dockerfile/check.ts';
import { checkDotenv } from './dotenv/check.ts';
import { fingerprintFindings } from './fingerprint.ts';
import { gitFacts } from './git.ts';
import { checkKubernetes } from './k8s/check.ts';
import { ruleMeta } from './rules.ts';
import { isSuppressed } from './suppress.ts';
import {
  ParseError,
  type Checker,
  type FileKind,
  type Finding,
  type GitFacts,
  type RawFinding,
  type Severity,
  type SourceFile,
} from './types.ts';

const CHECKERS: Record<FileKind, Checker> = {
  dockerfile: checkDockerfile,
  compose: checkCompose,
  kubernetes: checkKubernetes,
  dotenv: checkDotenv,
};

/** Files larger than this are not secrets-in-env material (generated bundles, data dumps). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

export interface LintSettings {
  readonly cwd: string;
  readonly names: NameOptions;
  /** Per-rule severity or 'off' (from .envless.yaml). */
  readonly rules: Readonly<Record<string, Severity | 'off'>>;
  readonly ignorePatterns?: readonly string[];
  readonly ignoreBase?: string;
  /** Fingerprints to drop (from --baseline). */
  readonly baseline?: ReadonlySet<string>;
  readonly git?: GitFacts;
}

/** A file given by content rather than on disk: standard input, or the demo's embedded files. */
export interface InlineSource {
  readonly text: string;
  readonly filename: string;
}

export interface LintOutcome {
  readonly findings: Finding[];
  /** Every finding before baseline filtering, for --write-baseline. */
  readonly unfiltered: Finding[];
  readonly filesChecked: number;
  readonly parseErrors: number;
  readonly suppressed: number;
  readonly baselined: number;
}

interface Checked {
  readonly file: SourceFile;
  readonly raw: RawFinding[];
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function resolveKind(
  candidate: Pick<Candidate, 'nameClass' | 'explicit'>,
  text: string,
): FileKind | undefined {
  const { nameClass } = candidate;
  if (nameClass === 'manifest-candidate') return looksLikeManifest(text) ? 'kubernetes' : undefined;
  if (nameClass) return nameClass;
  return candidate.explicit ? classifyByContent(text) : undefined;
}

function checkFile(file: SourceFile, names: NameOptions, git: GitFacts): RawFinding[] {
  const raw: RawFinding[] = [];
  const baseDir = dirname(file.path);
  const ctx = {
    file,
    names,
    git,
    report: (finding: RawFinding) => void raw.push(finding),
    readRelative: (relativePath: string) => {
      try {
        return readFileSync(resolve(baseDir, relativePath), 'utf8');
      } catch {
        return undefined;
      }
    },
  };
  try {
    CHECKERS[file.kind](ctx);
  } catch (error) {
    const where = error instanceof ParseError ? error : { line: 1, column: 1, message: String(error) };
    const message = error instanceof Error ? error.message : String(error);
    raw.push({
      ruleId: 'parse-error',
      line: where.line,
      column: where.column,
      message:
        error instanceof ParseError
          ? `cannot parse ${file.kind}: ${message}`
          : `cannot check file: ${message}`,
      anchor: 'parse-error',
    });
  }
  return raw;
}

/** Lints files on disk and inline sources. Throws MissingPathError for a path that does not exist. */
export function lintFiles(
  paths: readonly string[],
  settings: LintSettings,
  inline: readonly InlineSource[] = [],
): LintOutcome {
  const git = settings.git ?? gitFacts(settings.cwd);
  const checked: Checked[] = [];
  const candidates = discover(paths, {
    cwd: settings.cwd,
    ignorePatterns: settings.ignorePatterns,
    ignoreBase: settings.ignoreBase,
  });
  for (const candidate of candidates) {
    let text: string;
    try {
      const buffer = readFileSync(candidate.path);
      if (buffer.length > MAX_FILE_BYTES) continue;
      text = stripBom(buffer.toString('utf8'));
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      checked.push({
        file: { path: candidate.path, displayPath: candidate.displayPath, text: '', kind: 'dotenv' },
        raw: [
          {
            ruleId: 'parse-error',
            line: 1,
            column: 1,
            message: `cannot read file (${reason})`,
            anchor: 'read-error',
          },
        ],
      });
      continue;
    }
    const kind = resolveKind(candidate, text);
    if (!kind) continue;
    const file: SourceFile = { path: candidate.path, displayPath: candidate.displayPath, text, kind };
    checked.push({ file, raw: checkFile(file, settings.names, git) });
  }
  for (const source of inline) {
    // `-` with --stdin-filename compose.yaml checks as compose: the same name rules as on disk.
    const text = stripBom(source.text);
    const kind = resolveKind({ nameClass: classifyByName(source.filename), explicit: true }, text);
    if (!kind) continue;
    const file: SourceFile = {
      path: resolve(settings.cwd, source.filename),
      displayPath: source.filename,
      text,
      kind,
    };
    checked.push({ file, raw: checkFile(file, settings.names, noGit) });
  }
  return finish(checked, settings);
}

const noGit: GitFacts = { isTracked: () => undefined, isIgnored: () => undefined };

function finish(checked: readonly Checked[], settings: LintSettings): LintOutcome {
  let suppressed = 0;
  let parseErrors = 0;
  const kept: { file: SourceFile; raw: RawFinding; severity: Severity }[] = [];
  for (const { file, raw } of checked) {
    const lines = file.text.split(/\r?\n/);
    for (const finding of raw) {
      if (finding.ruleId === 'parse-error') {
        parseErrors++;
        kept.push({ file, raw: finding, severity: 'error' });
        continue;
      }
      const configured = settings.rules[finding.ruleId];
      if (configured === 'off') continue;
      if (isSuppressed(lines, finding)) {
        suppressed++;
        continue;
      }
      const severity = configured ?? finding.severity ?? ruleMeta(finding.ruleId).severity;
      kept.push({ file, raw: finding, severity });
    }
  }
  const fingerprints = fingerprintFindings(
    kept.map(({ file, raw }) => ({
      ruleId: raw.ruleId,
      file: file.displayPath,
      key: raw.key,
      anchor: raw.anchor,
      line: raw.line,
      column: raw.column,
    })),
  );
  const unfiltered: Finding[] = kept.map(({ file, raw, severity }, i) =>
    toFinding(file, raw, severity, fingerprints[i]!),
  );
  unfiltered.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      (a.ruleId < b.ruleId ? -1 : 1),
  );
  const findings = settings.baseline
    ? unfiltered.filter((f) => f.ruleId === 'parse-error' || !settings.baseline!.has(f.fingerprint))
    : unfiltered;
  return {
    findings,
    unfiltered,
    filesChecked: checked.length,
    parseErrors,
    suppressed,
    baselined: unfiltered.length - findings.length,
  };
}

function toFinding(file: SourceFile, raw: RawFinding, severity: Severity, fingerprint: string): Finding {
  const meta = ruleMeta(raw.ruleId);
  // Defence in depth: a check must never put the secret into its message; mask it if one did.
  const message = raw.secret && raw.secret.length >= 4 ? maskWithin(raw.message, raw.secret) : raw.message;
  return {
    ruleId: raw.ruleId,
    severity,
    file: file.displayPath,
    line: raw.line,
    column: raw.column,
    ...(raw.endLine !== undefined ? { endLine: raw.endLine } : {}),
    ...(raw.endColumn !== undefined ? { endColumn: raw.endColumn } : {}),
    ...(raw.key !== undefined ? { key: raw.key } : {}),
    message,
    ...(raw.secret ? { value: maskSecret(raw.secret) } : {}),
    fix: raw.fix ?? meta.fix,
    fingerprint,
  };
}
