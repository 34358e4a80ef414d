// Secret values are never printed in full: at most a few leading characters, enough to recognise
// which credential it is (`ghp_***`, `AKI***`), never enough to use it.

/** Masks a secret: up to 3 leading characters for long values, none for short ones. */
export function maskSecret(secret: string): string {
  const visible = secret.length >= 16 ? 3 : secret.length >= 8 ? 1 : 0;
  return `${secret.slice(0, visible)}***`;
}

const EXPANSION_WITH_WORD = /\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-+?=])([^}]*)\}/g;

/**
 * A variable reference as it may be shown: the word of `${NAME:-default}` (and `-`, `:+`, `+`,
 * `:?`, `?`, `:=`) is masked, since a default is often the secret itself written inline; `only`
 * limits that to some names.
 */
export function maskReferenceWords(text: string, only: (name: string) => boolean = () => true): string {
  if (!text.includes('${')) return text;
  return text.replace(EXPANSION_WITH_WORD, (whole, name: string, operator: string, word: string) =>
    word === '' || !only(name) ? whole : `\${${name}${operator}${maskSecret(word)}}`,
  );
}

/**
 * Where `secret` is masked: everywhere, even inside a longer name (`airflow-webserver` when the
 * password is `airflow`): the output must never hold the value, and a weak default is exactly the
 * value that also names things. Only a secret of one to three letters or digits is masked as a word
 * of its own, or every identifier that happens to hold it would be cut up.
 */
export function secretPattern(secret: string): RegExp {
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return /^[A-Za-z0-9]{1,3}$/.test(secret)
    ? new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`, 'g')
    : new RegExp(escaped, 'g');
}

/** Replaces `secret` inside `text` with its mask (used to show a URL with its password masked). */
export function maskWithin(text: string, secret: string): string {
  if (!secret) return text;
  const mask = maskSecret(secret);
  return text.replace(secretPattern(secret), () => mask);
}
