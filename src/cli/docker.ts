// `envless docker secrets sync` and `envless docker audit`: the commands that talk to a Docker
// engine. dockerode is loaded only here (through src/docker/engine.ts), never by `envless lint`.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { auditContainer, auditFindings, auditImage, type AuditReport } from '../docker/audit.ts';
import { connectEngine, engineCall, type DockerClient } from '../docker/engine.ts';
import { isValidPrefix } from '../docker/secrets/naming.ts';
import { selectSecrets, type SkippedEntry } from '../docker/secrets/select.ts';
import type { KeyResult } from '../docker/secrets/sync.ts';
import { loadConfig } from '../lint/config.ts';
import { parseDotenv, type DotenvProblem } from '../lint/dotenv/parse.ts';
import { formatFindings, OUTPUT_FORMATS, type LintSummary, type OutputFormat } from '../lint/format/index.ts';
import { summaryLine } from '../lint/format/text.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { FAIL_ON_LEVELS, flagProblem, oneOf, reachesFailOn, type FailOn } from './options.ts';
import { useColor, type CliIO } from './io.ts';
import { VERSION } from './version.ts';

export const DOCKER_HELP = `Usage: envless docker <command> [options]

Commands:
  secrets sync --env-file FILE   create Swarm secrets from the secret keys of a dotenv file and
                                 move services to new versions when a value changes
  audit                          find secrets in the environment of running containers, in image
                                 config Env and in image history (build arguments)

The engine is found like the docker CLI finds it: DOCKER_HOST, else /var/run/docker.sock.
Run \`envless docker <command> --help\` for the options of each command.
`;

export const SYNC_HELP = `Usage: envless docker secrets sync [--env-file FILE] [options]

Creates one Swarm secret per secret key of the dotenv file (the linter's detection decides which
keys are secrets; the others are skipped and listed), named <prefix><key>-<sha256 of the value,
12 hex digits> and labelled envless.managed=true, envless.key, envless.hash. Re-running with the
same values changes nothing. When a value changes, the new version is created, every service
that mounts an old version of that key is updated to the new one at the same target path, uid,
gid and mode, and the old version is removed once the services run the new one.
Values are never printed.

Options:
      --env-file FILE     dotenv file to read (default: .env)
      --prefix PREFIX     prefix for secret names, e.g. "myapp_" (default: none)
      --label KEY=VALUE   extra label for created secrets (repeatable)
      --timeout SECONDS   how long to wait for updated services (default: 60)
      --dry-run           read the engine and report what a run would create, rotate and
                          remove; change nothing (in JSON, "removed" lists what would go)
  -f, --format FORMAT     text (default) or json
  -c, --config FILE       .envless.yaml to read allow/secrets lists from
  -h, --help              show this help

Exit status: 0 done, 1 a service did not converge in time (its old version is kept), 2 usage
error, unreadable file, engine unreachable or not a Swarm manager.
`;

export const AUDIT_HELP = `Usage: envless docker audit [--containers] [--images] [options]

Checks running containers (their environment), images (config Env) and image history (build
arguments of RUN steps, ARG defaults, ENV values and credentials in build steps) with the
linter's rules. Without --containers or --images, both are checked. Findings name
container:<name> or image:<repo:tag> as their file.

Options:
      --containers        check running containers
      --images            check images and their history
  -f, --format FORMAT     text (default), json, sarif or github
      --fail-on LEVEL     exit 1 when a finding reaches LEVEL: error (default), warning, info, never
  -c, --config FILE       .envless.yaml with allow/secrets lists and rule severities
  -h, --help              show this help

Exit status: 0 no finding at --fail-on level, 1 findings, 2 usage error or engine unreachable.
`;

export async function runDocker(args: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.writeOut(DOCKER_HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === 'audit') return runAudit(rest, io);
  if (command === 'secrets') {
    const [sub, ...syncArgs] = rest;
    if (sub === 'sync') return runSecretsSync(syncArgs, io);
    if (sub === undefined || sub === '-h' || sub === '--help') {
      io.writeOut(SYNC_HELP);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    }
    throw usageError(
      `unknown command "docker secrets ${sub}" (did you mean \`envless docker secrets sync\`?)`,
    );
  }
  throw usageError(`unknown command "docker ${command}" (run \`envless docker --help\`)`);
}

/** Runs node:util parseArgs, turning its errors into usage errors that point at the command's help. */
function parsed<T>(command: string, options: Readonly<Record<string, unknown>>, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw usageError(`${flagProblem(error, options)} (run \`envless docker ${command} --help\`)`);
  }
}

// ---------------------------------------------------------------------------------------------
// envless docker secrets sync

const SYNC_FORMATS = ['text', 'json'] as const;

const SYNC_OPTIONS = {
  'env-file': { type: 'string' },
  prefix: { type: 'string' },
  label: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  'dry-run': { type: 'boolean' },
  format: { type: 'string', short: 'f' },
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runSecretsSync(args: string[], io: CliIO): Promise<number> {
  const { values } = parsed('secrets sync', SYNC_OPTIONS, () =>
    parseArgs({ args, strict: true, options: SYNC_OPTIONS }),
  );
  if (values.help) {
    io.writeOut(SYNC_HELP);
    return EXIT.ok;
  }
  const format = oneOf(values.format, SYNC_FORMATS, '--format') ?? 'text';
  const prefix = values.prefix ?? '';
  if (!isValidPrefix(prefix))
    throw usageError(
      `--prefix "${prefix}" must start with a letter or digit and hold only letters, digits, _ . -`,
    );
  const labels = parseLabels(values.label ?? []);
  const timeoutMs = parseTimeout(values.timeout);
  const envFile = values['env-file'] ?? '.env';
  const config = loadConfig(io.cwd, values.config === undefined ? undefined : resolve(io.cwd, values.config));

  // Everything is read and validated before the engine is touched.
  const text = readEnvFile(io.cwd, envFile);
  const problems: DotenvProblem[] = [];
  const entries = parseDotenv(text, problems);
  // A file compose would refuse must not become secrets (a half-read value is a wrong secret).
  if (problems.length > 0)
    throw new CliError('ENVLESS_INPUT_INVALID', `${envFile}:${problems[0]!.line}: ${problems[0]!.message}`);
  const { secrets, skipped } = selectSecrets(entries, {
    allow: config.allow,
    deny: config.secrets,
  });

  const { docker } = await connectEngine(io.env);
  const { syncSecrets } = await import('../docker/secrets/sync.ts');
  const dryRun = values['dry-run'] ?? false;
  const results = await syncSecrets(docker, secrets, { prefix, labels, timeoutMs, dryRun });

  io.writeOut(
    format === 'json'
      ? syncJson(envFile, results, skipped, dryRun)
      : syncTable(envFile, results, skipped, dryRun),
  );
  return results.some((r) => r.status === 'pending') ? EXIT.findings : EXIT.ok;
}

function readEnvFile(cwd: string, envFile: string): string {
  try {
    const bytes = readFileSync(resolve(cwd, envFile));
    // Secrets hold the file's exact bytes: a replacement character would be a different value.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch (error) {
    if (error instanceof TypeError)
      throw new CliError('ENVLESS_INPUT_INVALID', `env file ${envFile} is not UTF-8 text; save it as UTF-8`);
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (code ?? String(error));
    throw new CliError('ENVLESS_IO', `cannot read env file ${envFile}: ${reason}`);
  }
}

function parseLabels(labels: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const label of labels) {
    const eq = label.indexOf('=');
    const key = eq < 0 ? label : label.slice(0, eq);
    if (!key || /\s/.test(key)) throw usageError(`--label "${label}" must be KEY=VALUE`);
    if (key.startsWith('envless.'))
      throw usageError(`--label ${key}: the envless.* labels are set by envless`);
    result[key] = eq < 0 ? '' : label.slice(eq + 1);
  }
  return result;
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return 60_000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw usageError(`--timeout must be a number of seconds (got "${value}")`);
  return seconds * 1000;
}

function syncTable(
  envFile: string,
  results: readonly KeyResult[],
  skipped: readonly SkippedEntry[],
  dryRun: boolean,
): string {
  const lines: string[] = [];
  if (dryRun) lines.push('dry run: nothing was changed; a run would do this:');
  if (results.length === 0) lines.push(`no secret keys in ${envFile}`);
  else {
    const rows = [
      ['KEY', 'SECRET', 'STATUS', 'SERVICES'],
      ...results.map((r) => [r.key, r.secret, r.status, r.services.join(', ')]),
    ];
    const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
    for (const row of rows)
      lines.push(
        row
          .map((cell, col) => cell.padEnd(widths[col]!))
          .join('  ')
          .trimEnd(),
      );
  }
  const removed = results.flatMap((r) => r.removed);
  if (removed.length > 0)
    lines.push(
      dryRun
        ? `would remove old versions, once the services run the new ones: ${removed.join(', ')}`
        : `removed old versions: ${removed.join(', ')}`,
    );
  for (const r of results) {
    if (r.kept.length > 0) lines.push(`kept ${r.kept.join(', ')} for ${r.key}: ${r.note ?? 'still in use'}`);
  }
  const notSecret = skipped.filter((s) => s.reason === 'not a secret').map((s) => s.key);
  if (notSecret.length > 0) lines.push(`skipped (not secrets): ${notSecret.join(', ')}`);
  for (const s of skipped) if (s.reason !== 'not a secret') lines.push(`skipped ${s.key}: ${s.reason}`);
  const count = (status: string) => results.filter((r) => r.status === status).length;
  if (results.length > 0)
    lines.push(
      `${results.length} secret${results.length === 1 ? '' : 's'} from ${envFile}: ${count('created')}${dryRun ? ' to be' : ''} created, ${count('rotated')}${dryRun ? ' to be' : ''} rotated, ${count('unchanged')} unchanged${count('pending') > 0 ? `, ${count('pending')} pending` : ''}`,
    );
  return `${lines.join('\n')}\n`;
}

function syncJson(
  envFile: string,
  results: readonly KeyResult[],
  skipped: readonly SkippedEntry[],
  dryRun: boolean,
): string {
  return `${JSON.stringify(
    {
      envFile,
      ...(dryRun ? { dryRun: true } : {}),
      secrets: results.map((r) => ({
        key: r.key,
        secret: r.secret,
        status: r.status,
        services: r.services,
        removed: r.removed,
        kept: r.kept,
        ...(r.note ? { note: r.note } : {}),
      })),
      skipped: skipped.map((s) => ({ key: s.key, line: s.line, reason: s.reason })),
    },
    null,
    2,
  )}\n`;
}

// ---------------------------------------------------------------------------------------------
// envless docker audit

const AUDIT_OPTIONS = {
  containers: { type: 'boolean' },
  images: { type: 'boolean' },
  format: { type: 'string', short: 'f' },
  'fail-on': { type: 'string' },
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runAudit(args: string[], io: CliIO): Promise<number> {
  const { values } = parsed('audit', AUDIT_OPTIONS, () =>
    parseArgs({ args, strict: true, options: AUDIT_OPTIONS }),
  );
  if (values.help) {
    io.writeOut(AUDIT_HELP);
    return EXIT.ok;
  }
  const format: OutputFormat = oneOf(values.format, OUTPUT_FORMATS, '--format') ?? 'text';
  const config = loadConfig(io.cwd, values.config === undefined ? undefined : resolve(io.cwd, values.config));
  const failOn: FailOn = oneOf(values['fail-on'], FAIL_ON_LEVELS, '--fail-on') ?? config.failOn;
  const both = !values.containers && !values.images;
  const names = { allow: config.allow, deny: config.secrets };

  const { docker } = await connectEngine(io.env);
  const containerReports = values.containers || both ? await auditContainers(docker, names) : [];
  const imageReports = values.images || both ? await auditImages(docker, names) : [];
  const findings = auditFindings([...containerReports, ...imageReports], config.rules);

  const summary: LintSummary = {
    filesChecked: containerReports.length + imageReports.length,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    infos: findings.filter((f) => f.severity === 'info').length,
    suppressed: 0,
    baselined: 0,
    parseErrors: 0,
  };
  let report = formatFindings(format, findings, summary, { color: useColor(io), toolVersion: VERSION });
  if (format === 'text')
    report = withAuditScope(report, summary, containerReports.length, imageReports.length, values);
  io.writeOut(report);
  return findings.some((f) => reachesFailOn(f, failOn)) ? EXIT.findings : EXIT.ok;
}

/** The shared summary line counts files; an audit counts running containers and images. */
function withAuditScope(
  report: string,
  summary: LintSummary,
  containers: number,
  images: number,
  checked: { containers?: boolean; images?: boolean },
): string {
  const both = !checked.containers && !checked.images;
  const scope = [
    checked.containers || both ? `${containers} running container${containers === 1 ? '' : 's'}` : '',
    checked.images || both ? `${images} image${images === 1 ? '' : 's'}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  const line = summaryLine(summary);
  if (!report.endsWith(`${line}\n`)) return report;
  return `${report.slice(0, report.length - line.length - 1)}${line.replace(/ in \d+ files?/, ` in ${scope}`)}\n`;
}

async function auditContainers(
  docker: DockerClient,
  names: { allow: readonly string[]; deny: readonly string[] },
): Promise<AuditReport[]> {
  const listed = await engineCall('listing containers', () => docker.listContainers());
  const reports: AuditReport[] = [];
  for (const summary of listed) {
    // A container can stop between list and inspect: skip it rather than fail the audit.
    const inspected = await docker
      .getContainer(summary.Id)
      .inspect()
      .catch(() => undefined);
    if (!inspected) continue;
    reports.push(auditContainer({ name: inspected.Name, env: inspected.Config?.Env ?? [] }, names));
  }
  return reports.sort((a, b) => (a.target < b.target ? -1 : 1));
}

async function auditImages(
  docker: DockerClient,
  names: { allow: readonly string[]; deny: readonly string[] },
): Promise<AuditReport[]> {
  const listed = await engineCall('listing images', () => docker.listImages());
  const reports: AuditReport[] = [];
  for (const summary of listed) {
    const tags = (summary.RepoTags ?? []).filter((tag) => tag !== '<none>:<none>');
    const ref = tags.sort()[0] ?? summary.Id.replace(/^sha256:/, '').slice(0, 12);
    const image = docker.getImage(summary.Id);
    const inspected = await image.inspect().catch(() => undefined);
    if (!inspected) continue;
    const history = ((await image.history().catch(() => [])) as { CreatedBy?: string }[])
      .map((entry) => entry.CreatedBy ?? '')
      .reverse(); // the engine lists the newest step first
    reports.push(auditImage({ ref, env: inspected.Config?.Env ?? [], history }, names));
  }
  return reports.sort((a, b) => (a.target < b.target ? -1 : 1));
}
