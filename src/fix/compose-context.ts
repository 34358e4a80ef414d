// What the compose fix's steps share: the candidate variables, and the planner they report to and
// claim secret names from (one per compose file).
import type { Assessment } from '../detect/index.ts';
import type { ComposeFixOptions, ComposeFixResult, FixMessage } from './compose.ts';
import type { Service, Variable } from './compose-read.ts';
import type { ProjectFiles } from './files.ts';
import type { ValueSource } from './interpolation.ts';
import type { Wanted } from './secret-registry.ts';

/** A secret variable as written, with every service that reaches it. */
export interface Candidate {
  readonly variable: Variable;
  readonly assessment: Assessment;
  readonly services: Service[];
}

export type ConvertibleSource = Exclude<ValueSource, { kind: 'unsupported' }>;

export interface ClaimOptions {
  /** Names not to take (their mount path already holds another secret). */
  readonly avoid?: ReadonlySet<string>;
  /**
   * A build secret: compose builds only with `file:` or `environment:` secrets, so `--external`
   * does not apply to it.
   */
  readonly build?: boolean;
  /** Where the variable is written, for the report. */
  readonly node?: unknown;
  /** The value as written requires its variable (`${VAR:?err}`): compose checks it already. */
  readonly required?: boolean;
}

export interface ConversionContext {
  readonly options: ComposeFixOptions;
  readonly files: ProjectFiles;
  readonly result: ComposeFixResult;
  /** Records the secret values of a candidate, to mask them wherever text is shown. */
  remember(candidate: Candidate, source: ValueSource): void;
  /** Leaves a candidate as it is, with the reason. */
  skip(candidate: Candidate, kind: 'env' | 'arg', reason: string): void;
  /** Build args a Dockerfile must keep declaring (compose still passes them). */
  keep(dockerfile: string, candidates: readonly Candidate[]): void;
  message(node: unknown, text: string): FixMessage;
  /** A path as shown to the user. */
  show(path: string): string;
  /** A secret name for the value (derived from `base`), its literal saved, its definition planned. */
  claim(
    base: string,
    service: string,
    source: ConvertibleSource,
    options?: ClaimOptions,
  ): { name: string; wanted: Wanted };
  /** `secret db_password, value moved to secrets/db_password`. */
  describe(name: string, wanted: Wanted, source: ValueSource): string;
}

/** Where a variable is written: the pair or the list item. */
export function slotNode(variable: Variable): unknown {
  return variable.slot.kind === 'pair' ? variable.slot.pair : variable.slot.item;
}

/** The node to locate a variable by in messages: its key, or the list item. */
export function nameNode(variable: Variable): unknown {
  return variable.slot.kind === 'pair' ? variable.slot.pair.key : variable.slot.item;
}

export function quoteList(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}

export function servicesLabel(services: readonly Service[]): string {
  return `${services.length > 1 ? 'services' : 'service'} ${quoteList(services.map((s) => s.name))}`;
}
