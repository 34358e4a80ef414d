// Which secret files a service can read: its `secrets:` list, short (`- db`) or long
// (`- source: db` with optional `target:`). A top-level `secrets:` entry alone grants nothing.
import { posix } from 'node:path';
import type { YamlDocument, YNode } from '../yaml.ts';

export const SECRETS_DIR = '/run/secrets/';

/** Absolute paths of the secret files mounted into the service. */
export function grantedSecretPaths(doc: YamlDocument, secretsNode: YNode | undefined): string[] {
  const paths: string[] = [];
  for (const item of doc.items(secretsNode)) {
    const short = doc.text(item);
    if (short !== undefined) {
      paths.push(SECRETS_DIR + short);
      continue;
    }
    const target = doc.text(doc.get(item, 'target'));
    const source = doc.text(doc.get(item, 'source'));
    const mounted = target || source;
    if (!mounted) continue;
    // A relative target is a file name under /run/secrets; an absolute one is used as is.
    paths.push(mounted.startsWith('/') ? mounted : SECRETS_DIR + mounted);
  }
  return paths.map((path) => posix.normalize(path));
}

/**
 * The secret name a `/run/secrets/...` value expects to be granted, or undefined when the value is
 * not such a path. `/run/secrets/db/password` expects `db` (a directory secret).
 */
export function expectedSecret(value: string | undefined): { path: string; name: string } | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!trimmed.startsWith(SECRETS_DIR)) return undefined;
  const path = posix.normalize(trimmed);
  if (!path.startsWith(SECRETS_DIR)) return undefined; // `/run/secrets/../x` leaves the directory
  const name = path.slice(SECRETS_DIR.length).split('/')[0];
  return name ? { path, name } : undefined;
}

/** True when `path` is a granted file, or inside a granted directory. */
export function isGranted(path: string, granted: readonly string[]): boolean {
  return granted.some(
    (mounted) => path === mounted || path.startsWith(mounted.endsWith('/') ? mounted : `${mounted}/`),
  );
}
