// How the fixes report: one line per conversion, note and variable left as is (`file:line: ...`),
// then what is (or would be) written. Values never appear; secret files are named, not shown.
import { findSecretsInText } from '../detect/index.ts';
import { maskSecrets } from './mask.ts';
import { unifiedDiff } from './diff.ts';
import { displayPath, type FileChange } from './files.ts';
import type { FixMessage } from './compose.ts';
import type { DockerfileFix } from './dockerfile.ts';

export interface FixReport {
  readonly converted: readonly FixMessage[];
  readonly notes: readonly FixMessage[];
  readonly skipped: readonly FixMessage[];
  readonly housekeeping: readonly FixMessage[];
}

function where(message: FixMessage): string {
  return message.line === undefined ? message.file : `${message.file}:${message.line}`;
}

/** In file order, then line order (stable: messages of one line keep their order). */
function inOrder(messages: readonly FixMessage[]): FixMessage[] {
  const files = [...new Set(messages.map((m) => m.file))];
  return [...messages].sort(
    (a, b) => files.indexOf(a.file) - files.indexOf(b.file) || (a.line ?? 0) - (b.line ?? 0),
  );
}

export function formatMessages(report: FixReport): string {
  const lines = [
    ...inOrder(report.converted).map((m) => `${where(m)}: ${m.text}`),
    ...inOrder(report.notes).map((m) => `${where(m)}: note: ${m.text}`),
    ...inOrder(report.skipped).map((m) => `${where(m)}: ${m.text}`),
    ...report.housekeeping.map((m) => `${where(m)}: ${m.text}`),
  ];
  return lines.map((line) => `${line}\n`).join('');
}

/** `wrote ...` / `would write ...` per changed file. */
export function formatChanges(changes: readonly FileChange[], cwd: string, dryRun: boolean): string {
  return changes
    .map((change) => {
      const verb =
        change.before === undefined
          ? dryRun
            ? 'would create'
            : 'created'
          : dryRun
            ? 'would update'
            : 'updated';
      return `${verb} ${displayPath(change.path, cwd)}${change.secret ? ' (secret value, mode 0600)' : ''}\n`;
    })
    .join('');
}

/**
 * Unified diffs of the non-secret changes, every known secret masked, and every credential-shaped
 * value too (a token in a `command:` or a RUN step that the fix leaves in place shows on context lines).
 */
export function formatDiffs(
  changes: readonly FileChange[],
  cwd: string,
  sensitive: readonly string[],
): string {
  return changes
    .filter((change) => !change.secret)
    .map((change) => {
      const shown = displayPath(change.path, cwd);
      const found = [change.before ?? '', change.after].flatMap((text) =>
        findSecretsInText(text).map((match) => match.secret),
      );
      const secrets = [...sensitive, ...found];
      const before = maskSecrets(change.before ?? '', secrets);
      const after = maskSecrets(change.after, secrets);
      return unifiedDiff(before, after, {
        from: change.before === undefined ? '/dev/null' : `a/${shown}`,
        to: `b/${shown}`,
      });
    })
    .join('');
}

export function summaryLine(report: FixReport, changes: readonly FileChange[], dryRun: boolean): string {
  if (changes.length === 0 && report.skipped.length === 0) return 'nothing to fix';
  const parts: string[] = [];
  const converted = report.converted.length;
  if (converted > 0)
    parts.push(
      `${dryRun ? 'would convert' : 'converted'} ${converted} variable${converted === 1 ? '' : 's'}`,
    );
  const files = changes.length;
  if (files > 0) parts.push(`${dryRun ? 'would write' : 'wrote'} ${files} file${files === 1 ? '' : 's'}`);
  const left = report.skipped.length;
  if (left > 0) parts.push(`${left} left as is (see above)`);
  return parts.join(', ');
}

/** Report lines of a Dockerfile fix; `buildHint` says how to pass the secret to `docker build`. */
export function dockerfileMessages(
  fix: DockerfileFix,
  file: string,
  buildHint: boolean,
): { converted: FixMessage[]; notes: FixMessage[]; skipped: FixMessage[] } {
  const converted: FixMessage[] = [];
  const notes: FixMessage[] = [];
  for (const conversion of fix.converted) {
    const { name, id, line, runLines, otherRunLines } = conversion;
    if (runLines.length === 0) {
      converted.push({
        file,
        line,
        text: `global ARG ${name} removed (no FROM uses it; stages declare their own)`,
      });
      continue;
    }
    const hint = buildHint
      ? `; build with --secret id=${id},env=${name} (compose: build.secrets) instead of --build-arg`
      : '';
    converted.push({
      file,
      line,
      text: `ARG ${name} -> RUN --mount=type=secret,id=${id},env=${name} on ${lines(runLines)}${hint}`,
    });
    if (otherRunLines.length > 0) {
      notes.push({
        file,
        line,
        text: `${lines(otherRunLines)} no longer ${otherRunLines.length === 1 ? 'sees' : 'see'} ${name}; add the same --mount to any that reads it from the environment`,
      });
    }
  }
  const skipped = fix.skipped.map((skip) => ({
    file,
    line: skip.line,
    text: `ARG ${skip.name} left as is: ${skip.reason}`,
  }));
  notes.push(...fix.notes.map((text) => ({ file, text })));
  return { converted, notes, skipped };
}

/** `the RUN step at line 5`, `the RUN steps at lines 5, 9`. */
function lines(numbers: readonly number[]): string {
  return numbers.length === 1
    ? `the RUN step at line ${numbers[0]}`
    : `the RUN steps at lines ${numbers.join(', ')}`;
}
