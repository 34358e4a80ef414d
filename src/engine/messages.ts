// Warning texts. kubectl prints admission warnings as they are, and the API server truncates long
// ones, so each message is at most 120 characters: names are listed until the budget runs out.
// Messages name variables, keys and secrets, never a value.
import type { ContainerKind } from './types.ts';

export const MAX_WARNING = 120;
const PREFIX = 'envless: ';

export function clip(text: string, max = MAX_WARNING): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function containerLabel(kind: ContainerKind, name: string): string {
  const shown = name.length > 40 ? `${name.slice(0, 39)}…` : name;
  const word =
    kind === 'initContainer'
      ? 'init container'
      : kind === 'ephemeralContainer'
        ? 'ephemeral container'
        : 'container';
  return `${word} "${shown}"`;
}

/** `envless: container "app" keeps DB_PASSWORD, API_KEY +2 more: <reason>` within 120 characters. */
export function keptMessage(container: string, subjects: readonly string[], reason: string): string {
  const head = `${PREFIX}${container} keeps `;
  const tail = `: ${reason}`;
  const budget = MAX_WARNING - head.length - tail.length;
  let list = '';
  for (let i = 0; i < subjects.length; i++) {
    const subject = subjects[i]!;
    const more = subjects.length - i - 1;
    const candidate = list ? `${list}, ${subject}` : subject;
    const suffix = more > 0 ? ` +${more} more` : '';
    // The first name always shows (a long one is clipped with the message); others while they fit.
    if (list && candidate.length + suffix.length > budget) {
      list = `${list} +${subjects.length - i} more`;
      break;
    }
    list = candidate;
  }
  return clip(`${head}${list}${tail}`);
}

export function message(text: string): string {
  return clip(`${PREFIX}${text}`);
}

/** Collects "kept" decisions of one container and groups them by reason. */
export class KeptNotes {
  private readonly byReason = new Map<string, string[]>();

  keep(subject: string, reason: string): void {
    const list = this.byReason.get(reason);
    if (list) list.push(subject);
    else this.byReason.set(reason, [subject]);
  }

  flush(container: string, into: string[]): void {
    for (const [reason, subjects] of this.byReason) into.push(keptMessage(container, subjects, reason));
  }
}

/** Why a secret variable stays an env var (grouped per container, so generic wording). */
export const REASON = {
  keepEnv: 'listed in envless.dev/keep-env',
  keepEnvFrom: 'may define a variable listed in envless.dev/keep-env',
  invalid: 'invalid secret name or key',
  duplicate: 'defined more than once',
  referenced: 'used as $(NAME) in env, command, args or subPathExpr',
  shellReferenced: 'a shell in command, args, a probe or a hook may read it ($NAME)',
  valueReferenced: 'another env value names it (${NAME}): an app or eval may expand it',
  envFromShellReferenced: 'a shell in command, args, a probe or a hook may read its keys ($NAME)',
  fileVariableSet: 'its _FILE variable is already set or used',
  nameReserved: 'its name is the _FILE or ENVLESS_SECRETS_DIR_ name of another secret',
  shadowed: 'envFrom may define it too (envless.dev/allow-envfrom-shadowing)',
  serviceLink: 'named like a Service link variable, which would take its place (enableServiceLinks)',
  earlierEnvFrom: 'earlier envFrom may share keys (envless.dev/allow-envfrom-shadowing)',
  envFromReferenced: 'a $(NAME) reference may resolve from it',
  dirVariableSet: 'its ENVLESS_SECRETS_DIR_ variable is set, used or taken',
  noVolume: 'no pod volume holds just these keys; cannot add one',
  volumeConflict: 'a volume with the name envless uses has other content',
  volumeShared: 'its envless volume is mounted by another container too',
  volumeNested: 'a mount below its envless volume would hide a key',
  volumeMissing: 'its envless volume is mounted but missing from the pod',
  noMountPath: 'no usable mount path under the mount root',
} as const;
