// The rule catalogue: one entry per stable rule id. Text output hints, SARIF rule metadata and the
// README's rule table all read from here, so they never drift apart.
import type { FileKind, Severity } from './types.ts';

export interface RuleMeta {
  readonly id: string;
  /** The file kind it checks; `docker-engine` for `envless docker audit` (live containers and images). */
  readonly kind: FileKind | 'any' | 'docker-engine';
  readonly severity: Severity;
  /** One line: what the rule finds. */
  readonly description: string;
  /** Why it matters and how to fix it (plain text, a few sentences). */
  readonly help: string;
  /** Short fix hint shown after each finding in text output. */
  readonly fix: string;
}

const DOCS = 'https://github.com/envless/envless/blob/main/docs/rules.md';

export const RULES = [
  {
    id: 'dockerfile/secret-env',
    kind: 'dockerfile',
    severity: 'error',
    description: 'ENV sets a secret: it is baked into every layer and container of the image',
    help: 'ENV values are stored in the image config and shown by `docker inspect`, also when they copy a secret build argument under another name (`ENV X=$NPM_TOKEN`). Pass the secret at run time as a file (`X_FILE=/run/secrets/x`) or, for build steps, with `RUN --mount=type=secret`.',
    fix: 'use RUN --mount=type=secret for build steps, or a secret file and X_FILE at run time',
  },
  {
    id: 'dockerfile/secret-arg',
    kind: 'dockerfile',
    severity: 'error',
    description: 'ARG carries a secret: build arguments are recorded in the image history',
    help: 'Build arguments used by RUN are visible in `docker history`. Use a BuildKit secret: `RUN --mount=type=secret,id=x,env=X` and `docker build --secret id=x,env=X`.',
    fix: 'use RUN --mount=type=secret,id=NAME,env=NAME and docker build --secret',
  },
  {
    id: 'dockerfile/secret-value',
    kind: 'dockerfile',
    severity: 'error',
    description: 'A credential-shaped value is written into the Dockerfile',
    help: 'Tokens, private keys and passwords in URLs written into LABEL, RUN or other instructions end up in the image, and so do literals given to secret-named variables in RUN commands and heredocs (`export DB_PASSWORD=…`, `echo API_KEY=… >> .env`, `NAME=value` lines of a COPY heredoc). Remove the value and rotate it.',
    fix: 'remove the value from the Dockerfile, rotate it, and pass it with a BuildKit secret',
  },
  {
    id: 'dockerfile/copy-secret-file',
    kind: 'dockerfile',
    severity: 'error',
    description: 'COPY or ADD puts a secret file (.env, private key, .npmrc, credentials) into the image',
    help: "Files copied into a layer stay in the image even if a later step deletes them. Mount them for the one step that needs them: `RUN --mount=type=secret,id=npmrc,target=/root/.npmrc`. For a Dockerfile on disk the build context is looked at: it is taken to be the Dockerfile's directory (`docker build .` beside it), or the nearest parent, up to three levels and not above a git work tree's root, that holds every file the Dockerfile copies when none of them is beside it (`docker build -f deb/Dockerfile .`). A source that is a directory there, `COPY . .` included, is reported for each secret file inside it that `.dockerignore` does not exclude (BuildKit's `<Dockerfile name>.dockerignore` beside the Dockerfile wins over the context root's; patterns are Docker's, anchored at the context root: `.env` is only the root's, `**/.env` every one), five per instruction at most; a directory is never reported for its name alone. A copied file the `.dockerignore` excludes is not reported. `--exclude` patterns apply inside each copied source (from the context root with `--parents`), as BuildKit applies them. A wildcard whose name says nothing (`COPY * /app/`, `COPY config/* ./`) is resolved in the context as BuildKit does (`*` matches dotfiles; a matched directory is copied whole). The listing skips `.git`, `node_modules` and directories the `.dockerignore` excludes, and stops at 5,000 entries or 8 levels; a finding says when it stopped. Variables, `--from` copies, ONBUILD and standard input are judged by the source's name only, and so is a wildcard that names secret files (`.env*`) or matches nothing here.",
    fix: 'mount the file with RUN --mount=type=secret instead of copying it, and list it in .dockerignore',
  },
  {
    id: 'compose/secret-env',
    kind: 'compose',
    severity: 'error',
    description: 'A secret is passed to a service through `environment:`',
    help: 'Literal values, `${VAR}` interpolation (also of a secret-named variable under another name: `HEADER: Bearer ${API_TOKEN}`) and bare names all put the secret into the container environment, where `docker inspect`, /proc and child processes see it. Declare a top-level `secrets:` entry, grant it to the service and point the app at /run/secrets/NAME (many images read X_FILE). `envless compose fix` does this.',
    fix: 'move it to a compose secret and set X_FILE=/run/secrets/NAME (envless compose fix)',
  },
  {
    id: 'compose/secret-and-file',
    kind: 'compose',
    severity: 'error',
    description: 'Both X and X_FILE are set for the same service',
    help: 'The secret still reaches the environment through X, and images with a file_env entrypoint (postgres, mysql, ...) refuse to start when both are set. Remove X.',
    fix: 'remove X and keep X_FILE',
  },
  {
    id: 'compose/secret-not-granted',
    kind: 'compose',
    severity: 'error',
    description: 'X_FILE points at /run/secrets/NAME but the service is not granted secret NAME',
    help: "A top-level secret grants nothing by itself: list it under the service's `secrets:` or the file will not exist in the container.",
    fix: "add the secret to the service's secrets: list",
  },
  {
    id: 'compose/secret-build-arg',
    kind: 'compose',
    severity: 'error',
    description: 'A secret is passed as a build argument',
    help: 'Build arguments are recorded in the image history. Use `build.secrets` and `RUN --mount=type=secret` in the Dockerfile.',
    fix: 'use build.secrets and RUN --mount=type=secret',
  },
  {
    id: 'compose/env-file-secret',
    kind: 'compose',
    severity: 'error',
    description: 'A file listed in `env_file:` holds secrets that become environment variables',
    help: 'Every key of an env_file becomes an environment variable of the container. Keep secrets in compose `secrets:` instead.',
    fix: 'move the secret keys to compose secrets (envless compose fix)',
  },
  {
    id: 'k8s/secret-key-ref',
    kind: 'kubernetes',
    severity: 'error',
    description:
      'env[].valueFrom.secretKeyRef exposes a Secret as an environment variable (CIS 5.4.1, CKV_K8S_35)',
    help: 'Mount the Secret as a read-only volume and point the app at the file. The envless webhook converts this at admission; `envless mutate` converts manifests at render time.',
    fix: 'mount the secret as a file and set X_FILE (envless mutate -f FILE)',
  },
  {
    id: 'k8s/secret-env-from',
    kind: 'kubernetes',
    severity: 'error',
    description:
      'envFrom[].secretRef exposes a whole Secret as environment variables (CIS 5.4.1, CKV_K8S_35)',
    help: 'Mount the Secret as a read-only volume directory instead. The envless webhook converts this at admission.',
    fix: 'mount the secret as a directory (envless mutate -f FILE)',
  },
  {
    id: 'k8s/literal-secret-env',
    kind: 'kubernetes',
    severity: 'error',
    description: "A secret value is written literally into a container's env",
    help: 'The value is stored in the manifest, in etcd and in the pod spec. Put it into a Secret and mount that as a file.',
    fix: 'store the value in a Secret, mount it as a file, and rotate the exposed value',
  },
  {
    id: 'k8s/secret-manifest',
    kind: 'kubernetes',
    severity: 'error',
    description: 'A Secret manifest with real data is committed',
    help: 'Base64 is not encryption. Keep Secret values out of the repository: use Sealed Secrets, SOPS, External Secrets or create the Secret out of band.',
    fix: 'remove the data from the repository and rotate it (Sealed Secrets, SOPS, External Secrets)',
  },
  {
    id: 'k8s/configmap-secret',
    kind: 'kubernetes',
    severity: 'error',
    description: 'A ConfigMap holds a secret value, which envFrom.configMapRef puts into the environment',
    help: 'ConfigMaps are not encrypted at rest and anyone who may read ConfigMaps reads the value; envFrom.configMapRef turns every key into an environment variable. Move the value into a Secret and mount that as a file.',
    fix: 'move the value into a Secret mounted as a file, and rotate it',
  },
  {
    id: 'dotenv/secret-tracked',
    kind: 'dotenv',
    severity: 'error',
    description: 'A .env file with secrets is tracked by git',
    help: 'Anything committed stays in the history. Remove it with `git rm --cached`, add it to .gitignore, and rotate the values.',
    fix: 'git rm --cached the file, add it to .gitignore, rotate the values',
  },
  {
    id: 'dotenv/secret-not-ignored',
    kind: 'dotenv',
    severity: 'error',
    description: 'A .env file with secrets is not ignored by git',
    help: 'One `git add .` away from being committed. Add it to .gitignore.',
    fix: 'add the file to .gitignore',
  },
  {
    id: 'dotenv/example-real-value',
    kind: 'dotenv',
    severity: 'error',
    description: 'An example env file (.env.example, .env.sample, .env.template) holds a real-looking secret',
    help: 'Example files are committed on purpose; they should list keys with empty values or obvious placeholders.',
    fix: 'replace the value with an empty value or a placeholder, and rotate it',
  },
  {
    id: 'docker/container-env-secret',
    kind: 'docker-engine',
    severity: 'error',
    description: "A running container's environment holds a secret",
    help: "Anything in a container's environment is shown by `docker inspect`, readable in /proc/1/environ and inherited by every child process. Give the secret to the container as a file (a Swarm or compose secret under /run/secrets/) and point the app at it with X_FILE; rotate the exposed value.",
    fix: 'pass the secret as a file under /run/secrets/ and set X_FILE; rotate the value',
  },
  {
    id: 'docker/image-env-secret',
    kind: 'docker-engine',
    severity: 'error',
    description: "An image's config sets a secret environment variable",
    help: 'ENV values are part of the image config: everyone who can pull the image can read them, and every container started from it gets them. Rebuild without the ENV, pass the secret at run time as a file, and rotate it.',
    fix: 'rebuild without the ENV, pass the secret at run time as a file, and rotate it',
  },
  {
    id: 'docker/image-history-secret',
    kind: 'docker-engine',
    severity: 'error',
    description:
      "An image's history records a secret (build argument, ARG default, ENV or a credential in a build step)",
    help: '`docker history --no-trunc` shows the build arguments used by each RUN step and the text of every instruction. Rebuild with `RUN --mount=type=secret` (BuildKit) instead of build arguments, and rotate the value.',
    fix: 'rebuild with RUN --mount=type=secret instead of build arguments, and rotate the value',
  },
  {
    id: 'parse-error',
    kind: 'any',
    severity: 'error',
    description: 'The file could not be parsed',
    help: 'envless could not parse the file, so it could not check it: the run fails with exit 2 whatever the other findings (it cannot be lowered or turned off in the config; exclude the file with `ignore:` if it is not meant for envless). Fix the syntax error.',
    fix: 'fix the syntax error',
  },
] as const satisfies readonly RuleMeta[];

export type RuleId = (typeof RULES)[number]['id'];

const byId = new Map<string, RuleMeta>(RULES.map((rule) => [rule.id, rule]));

export function ruleMeta(id: string): RuleMeta {
  const meta = byId.get(id);
  if (!meta) throw new Error(`unknown rule id ${id}`);
  return meta;
}

export function isRuleId(id: string): id is RuleId {
  return byId.has(id);
}

export function ruleHelpUri(id: string): string {
  return `${DOCS}#${id.replace(/[^a-z0-9]+/g, '-')}`;
}
