// Entry point: dispatches subcommands. Each subcommand module is imported lazily so that
// `envless lint` never loads fastify, the Kubernetes client or dockerode.
import { CliError, EXIT, usageError } from './errors.ts';
import { processIO, type CliIO } from './io.ts';
import { closest } from './options.ts';
import { VERSION } from './version.ts';

export type Command = (args: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  lint: async () => (await import('./lint.ts')).runLint,
  compose: async () => (await import('./compose.ts')).runCompose,
  demo: async () => (await import('./demo.ts')).runDemo,
  mutate: async () => (await import('./mutate.ts')).runMutate,
  webhook: async () => (await import('./webhook.ts')).runWebhook,
  certs: async () => (await import('./certs.ts')).runCerts,
  k8s: async () => (await import('./k8s.ts')).runK8s,
  docker: async () => (await import('./docker.ts')).runDocker,
};

const HELP = `envless: keep secrets out of environment variables in Docker and Kubernetes

Usage: envless <command> [options]

Commands:
  compose fix           move secrets in compose files into compose secrets (files);
                        \`envless compose --help\`
  demo                  lint an embedded sample project and convert its Deployment (no cluster)
  lint [PATH...]        check Dockerfiles, compose files, Kubernetes manifests and .env files
                        (alias: lint-compose); run \`envless lint --help\` for options
  mutate -f FILE|-      convert secret env vars in Kubernetes manifests into secret files
  webhook               run the Kubernetes admission webhook (HTTPS); \`envless webhook --help\`
  certs bootstrap       create or renew the webhook's CA and serving certificate in a Secret and
                        patch caBundle (install jobs); \`envless certs --help\`
  certs rotate-ca       stage a new CA for the webhook's certificates
  k8s audit             list workloads that get secrets through env vars, and what the webhook
                        would change (current kubeconfig); \`envless k8s audit --help\`
  docker secrets sync   create Swarm secrets from a .env file, rotating services onto new values
  docker audit          find secrets in running containers, images and image history

Options:
  -h, --help            show this help
  -V, --version         show the version

Exit status: 0 success; 1 findings, a denial (mutate --mode enforce) or work left undone (each
command's --help says which); 2 usage error, invalid input, or an unreachable Docker engine or
cluster. NO_COLOR turns colour off; ENVLESS_DEBUG=1 adds the stack trace to an internal error.
`;

/** Commands that exist only under a group, and flags, for the hint of an unknown command. */
const NESTED: Record<string, string> = {
  fix: 'compose fix',
  audit: 'k8s audit" or "docker audit',
  bootstrap: 'certs bootstrap',
  'rotate-ca': 'certs rotate-ca',
  secrets: 'docker secrets sync',
  sync: 'docker secrets sync',
  version: '--version',
};

function unknownCommand(name: string): CliError {
  if (name.startsWith('-')) {
    const meant = name.startsWith('--') ? closest(name.slice(2), ['help', 'version']) : undefined;
    return usageError(
      `unknown option ${name}${meant ? ` (did you mean --${meant}?)` : ''} (run \`envless --help\`)`,
    );
  }
  const meant = NESTED[name.toLowerCase()] ?? closest(name, Object.keys(COMMANDS));
  return usageError(
    `unknown command "${name}"${meant ? ` (did you mean "${meant}"?)` : ''} (run \`envless --help\`)`,
  );
}

export async function main(
  argv: string[],
  options: { invokedAs?: string; io?: CliIO } = {},
): Promise<number> {
  const io = options.io ?? processIO();
  const prog = options.invokedAs ?? 'envless';
  try {
    const [name, ...rest] = argv;
    if (name === undefined) {
      // No command is a usage error: the help goes where errors go.
      io.writeErr(HELP);
      return EXIT.usage;
    }
    if (name === 'help' && rest[0] !== undefined) {
      // `envless help lint` is `envless lint --help`, `envless help k8s audit` is
      // `envless k8s audit --help`; `envless help frob` is an unknown command, not the help.
      const [topic, ...sub] = rest;
      const loadTopic = COMMANDS[topic!];
      if (!loadTopic) throw unknownCommand(topic!);
      return await (
        await loadTopic()
      )([...sub, '--help'], io);
    }
    if (name === '-h' || name === '--help' || name === 'help') {
      io.writeOut(HELP);
      return EXIT.ok;
    }
    if (name === '-V' || name === '--version') {
      io.writeOut(`${VERSION}\n`);
      return EXIT.ok;
    }
    const load = COMMANDS[name];
    if (!load) throw unknownCommand(name);
    const command = await load();
    return await command(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.writeErr(`${prog}: ${error.message}\n`);
      return error.status;
    }
    // An unexpected failure is a bug: say so plainly, without a stack trace unless asked for.
    const message = error instanceof Error ? error.message : String(error);
    io.writeErr(`${prog}: internal error: ${message}\n`);
    if (io.env.ENVLESS_DEBUG) io.writeErr(`${error instanceof Error ? error.stack : ''}\n`);
    return EXIT.usage;
  }
}
