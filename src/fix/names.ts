// Names the fix derives from a variable: the secret (`DB_PASSWORD` -> `db_password`, the same id a
// Dockerfile's `RUN --mount=type=secret,id=...` uses) and the variable that names the file
// (`DB_PASSWORD_FILE`, or Grafana's `GF_..._PASSWORD__FILE`).
import { tokenizeName } from '../detect/index.ts';

/** Lowercase snake case, stable for a given variable name: `dbPassword` and `DB_PASSWORD` -> `db_password`. */
export function secretNameFor(variable: string): string {
  const name = tokenizeName(variable)
    .map((word) => word.replace(/[^a-z0-9]+/g, '_'))
    .join('_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  return name === '' ? 'secret' : name;
}

/** The variable that points at the secret file: Grafana reads `GF_*__FILE`, file_env images `X_FILE`. */
export function fileVariableFor(variable: string): string {
  return /^GF_/i.test(variable) ? `${variable}__FILE` : `${variable}_FILE`;
}

/** Where a short-form grant (`secrets: [name]`) mounts the secret in a service's container. */
export function secretMountPath(name: string): string {
  return `/run/secrets/${name}`;
}
