// The compose checks: secrets in `environment:`, `build.args` and `env_file:`, `X` next to
// `X_FILE`, and `/run/secrets/NAME` paths the service is not granted. Anchors, aliases and merge
// keys are followed per service, but each finding is reported once where it is written.
import { analyzeName, assessVariable, classifyLiteral, maskReferenceWords } from '../../detect/index.ts';
import type { Assessment } from '../../detect/index.ts';
import { parseDotenv } from '../dotenv/parse.ts';
import type { CheckContext, Checker } from '../types.ts';
import { at, firstParseError, OncePerPlace, parseYamlStream, subjects } from '../yaml.ts';
import type { YamlDocument, YMap } from '../yaml.ts';
import { readEnvFileRefs } from './env-file.ts';
import { expectedSecret, grantedSecretPaths, isGranted } from './secrets.ts';
import { readVariables } from './variables.ts';
import type { ComposeVariable } from './variables.ts';

interface ServiceScope {
  readonly ctx: CheckContext;
  readonly doc: YamlDocument;
  readonly found: OncePerPlace;
  /** env_file contents by path, read once per check. */
  readonly envFiles: Map<string, string | undefined>;
  readonly service: string;
  readonly definition: YMap;
}

export const checkCompose: Checker = (ctx) => {
  const stream = parseYamlStream(ctx.file.text);
  const error = firstParseError(stream);
  if (error) throw error;
  const found = new OncePerPlace();
  const envFiles = new Map<string, string | undefined>();
  for (const doc of stream.documents) {
    for (const entry of doc.entries(doc.get(doc.root, 'services'))) {
      // `x-*` keys are extensions, never services; what they define is reported through the
      // services that use it.
      if (entry.key.startsWith('x-')) continue;
      const definition = doc.map(entry.value);
      if (!definition) continue;
      checkService({ ctx, doc, found, envFiles, service: entry.key, definition });
    }
  }
  found.flush((finding) => ctx.report(finding));
};

function checkService(scope: ServiceScope): void {
  const { doc, definition } = scope;
  const environment = readVariables(doc, doc.get(definition, 'environment'));
  checkEnvironment(scope, environment);
  checkSecretAndFile(scope, environment);
  checkGranted(scope, environment, grantedSecretPaths(doc, doc.get(definition, 'secrets')));
  const build = doc.get(definition, 'build');
  if (doc.map(build)) checkBuildArgs(scope, readVariables(doc, doc.get(build, 'args')));
  checkEnvFiles(scope);
}

function valueNote(value: string | undefined, assessment: Assessment): string {
  if (value === undefined) return ', passed through from the environment that runs compose';
  if (assessment.because === 'value') return '';
  if (assessment.valueKind === 'reference') return `, interpolated from ${maskReferenceWords(value.trim())}`;
  if (assessment.valueKind === 'empty') return ', empty here but meant to be filled in';
  return '';
}

function checkEnvironment(scope: ServiceScope, environment: readonly ComposeVariable[]): void {
  for (const variable of environment) {
    const assessment = assessVariable(variable.name, variable.value, 'compose-env', scope.ctx.names);
    if (!assessment) continue;
    scope.found.add(`compose/secret-env@${variable.place.offset}`, scope.service, (services) => ({
      ruleId: 'compose/secret-env',
      ...at(variable.place),
      key: variable.name,
      severity: assessment.severity,
      secret: assessment.secret,
      message: `${variable.name} puts a secret into the environment of ${subjects('service', services)} (${assessment.reason})${valueNote(variable.value, assessment)}`,
    }));
  }
}

/** `X_FILE` and, for grafana and others, `X__FILE` name the file holding `X`. */
function fileVariableBases(name: string): string[] {
  const bases: string[] = [];
  if (name.endsWith('__FILE')) bases.push(name.slice(0, -'__FILE'.length));
  if (name.endsWith('_FILE')) bases.push(name.slice(0, -'_FILE'.length));
  return bases.filter((base) => base !== '');
}

function checkSecretAndFile(scope: ServiceScope, environment: readonly ComposeVariable[]): void {
  const byName = new Map(environment.map((variable) => [variable.name, variable]));
  for (const fileVariable of environment) {
    if (fileVariable.value !== undefined && fileVariable.value.trim() === '') continue;
    for (const base of fileVariableBases(fileVariable.name)) {
      const variable = byName.get(base);
      if (!variable || variable.value?.trim() === '') continue;
      // `LOG` next to `LOG_FILE` is no secret: require a secret name or a secret-file path.
      const aboutSecret =
        analyzeName(base, scope.ctx.names).secret ||
        (fileVariable.value !== undefined && classifyLiteral(fileVariable.value) === 'secret-file');
      if (!aboutSecret) continue;
      scope.found.add(`compose/secret-and-file@${variable.place.offset}`, scope.service, (services) => ({
        ruleId: 'compose/secret-and-file',
        ...at(variable.place),
        key: variable.name,
        message: `${variable.name} and ${fileVariable.name} are both set for ${subjects('service', services)}: the secret still reaches the environment, and file_env entrypoints refuse to start`,
        fix: `remove ${variable.name} and keep ${fileVariable.name}`,
      }));
    }
  }
}

function checkGranted(
  scope: ServiceScope,
  environment: readonly ComposeVariable[],
  granted: readonly string[],
): void {
  for (const variable of environment) {
    const expected = expectedSecret(variable.value);
    if (!expected || isGranted(expected.path, granted)) continue;
    scope.found.add(`compose/secret-not-granted@${variable.place.offset}`, scope.service, (services) => ({
      ruleId: 'compose/secret-not-granted',
      ...at(variable.place),
      key: variable.name,
      message: `${variable.name} points at ${expected.path}, but secret "${expected.name}" is not granted to ${subjects('service', services)}: the file will not exist`,
      fix: `add "${expected.name}" to the secrets: list of ${subjects('service', services)}`,
    }));
  }
}

function checkBuildArgs(scope: ServiceScope, args: readonly ComposeVariable[]): void {
  for (const arg of args) {
    const assessment = assessVariable(arg.name, arg.value, 'compose-build-arg', scope.ctx.names);
    if (!assessment) continue;
    const id = arg.name.toLowerCase();
    scope.found.add(`compose/secret-build-arg@${arg.place.offset}`, scope.service, (services) => ({
      ruleId: 'compose/secret-build-arg',
      ...at(arg.place),
      key: arg.name,
      severity: assessment.severity,
      secret: assessment.secret,
      message: `build argument ${arg.name} of ${subjects('service', services)} carries a secret (${assessment.reason}); build arguments are recorded in the image history`,
      fix: `declare it under build.secrets and read it with RUN --mount=type=secret,id=${id}`,
    }));
  }
}

function readEnvFile(scope: ServiceScope, path: string): string | undefined {
  if (!scope.envFiles.has(path)) scope.envFiles.set(path, scope.ctx.readRelative(path));
  return scope.envFiles.get(path);
}

function checkEnvFiles(scope: ServiceScope): void {
  const { doc, definition } = scope;
  for (const ref of readEnvFileRefs(doc, doc.get(definition, 'env_file'))) {
    // A missing file: compose fails (or skips it with `required: false`); nothing leaks.
    const text = readEnvFile(scope, ref.path);
    if (text === undefined) continue;
    const reported = new Set<string>();
    for (const entry of parseDotenv(text)) {
      if (reported.has(entry.key)) continue;
      const assessment = assessVariable(entry.key, entry.value, 'compose-env', scope.ctx.names);
      if (!assessment) continue;
      reported.add(entry.key);
      scope.found.add(
        `compose/env-file-secret@${ref.place.offset}:${entry.key}`,
        scope.service,
        (services) => ({
          ruleId: 'compose/env-file-secret',
          ...at(ref.place),
          key: entry.key,
          severity: assessment.severity,
          secret: assessment.secret,
          message: `env_file "${ref.path}" (line ${entry.line}) sets secret ${entry.key} (${assessment.reason}); every key becomes an environment variable of ${subjects('service', services)}`,
        }),
      );
    }
  }
}
