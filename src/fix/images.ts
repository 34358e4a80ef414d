// Images whose entrypoints read `X_FILE` (Grafana: `X__FILE`) instead of `X`, so a converted variable
// needs nothing else. Verified in the images' entrypoints (see docs/compose-fix.md); for any other
// image the application itself must read the file.

type VariableTest = (variable: string) => boolean;

const oneOf =
  (...names: string[]): VariableTest =>
  (variable) =>
    names.includes(variable);
const prefixed =
  (...prefixes: string[]): VariableTest =>
  (variable) =>
    prefixes.some((prefix) => variable.startsWith(prefix));

const POSTGRES = ['POSTGRES_PASSWORD', 'POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_INITDB_ARGS'];
const MYSQL = ['MYSQL_ROOT_PASSWORD', 'MYSQL_PASSWORD', 'MYSQL_USER', 'MYSQL_DATABASE', 'MYSQL_ROOT_HOST'];
const GRAFANA: VariableTest = prefixed('GF_');

/** Repository (registry, tag and digest stripped, `library/` dropped) -> variables it reads from files. */
const FILE_ENV_IMAGES: ReadonlyMap<string, VariableTest> = new Map([
  ['postgres', oneOf(...POSTGRES)],
  // Built FROM the official postgres image, so its entrypoint (file_env) is theirs.
  ['pgvector/pgvector', oneOf(...POSTGRES)],
  ['postgis/postgis', oneOf(...POSTGRES)],
  ['timescale/timescaledb', oneOf(...POSTGRES)],
  ['mysql', oneOf(...MYSQL)],
  ['mariadb', prefixed('MARIADB_', 'MYSQL_')],
  ['mongo', oneOf('MONGO_INITDB_ROOT_USERNAME', 'MONGO_INITDB_ROOT_PASSWORD')],
  ['wordpress', prefixed('WORDPRESS_')],
  ['redmine', prefixed('REDMINE_')],
  ['joomla', prefixed('JOOMLA_')],
  [
    'nextcloud',
    oneOf(
      ...POSTGRES.slice(0, 3),
      'MYSQL_DATABASE',
      'MYSQL_USER',
      'MYSQL_PASSWORD',
      'NEXTCLOUD_ADMIN_USER',
      'NEXTCLOUD_ADMIN_PASSWORD',
      'REDIS_HOST_PASSWORD',
      'SMTP_PASSWORD',
      'OBJECTSTORE_S3_KEY',
      'OBJECTSTORE_S3_SECRET',
      'OBJECTSTORE_SWIFT_USER_PASSWORD',
    ),
  ],
  // n8n documents `_FILE` for its database settings (docs: "Database environment variables").
  ['n8nio/n8n', (variable) => variable === 'DB_TYPE' || variable.startsWith('DB_POSTGRESDB_')],
  ['grafana/grafana', GRAFANA],
  ['grafana/grafana-oss', GRAFANA],
  ['grafana/grafana-enterprise', GRAFANA],
]);

/** `docker.io/library/postgres:16@sha256:...` -> `postgres`; `ghcr.io/acme/api:1` -> `acme/api`. */
export function imageRepository(image: string): string {
  let ref = image.trim().split('@')[0]!;
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) ref = ref.slice(0, colon);
  const parts = ref.split('/');
  // A registry host has a dot or a port, or is localhost; `${REGISTRY}/postgres` is one too.
  if (parts.length > 1 && (/[.:$]/.test(parts[0]!) || parts[0] === 'localhost')) parts.shift();
  return parts
    .join('/')
    .toLowerCase()
    .replace(/^(?:docker\/)?library\//, '');
}

/** True when `image` is known to read `variable` from the file its `_FILE` variant names. */
export function imageReadsFileVariant(image: string | undefined, variable: string): boolean {
  if (image === undefined) return false;
  return FILE_ENV_IMAGES.get(imageRepository(image))?.(variable) ?? false;
}
