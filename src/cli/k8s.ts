// `envless k8s audit`: the commands that talk to a Kubernetes API server. The client library is
// loaded only inside them (src/k8s/client.ts), never by `envless lint`.
import { parseArgs } from 'node:util';
import { mountRootProblem } from '../engine/names.ts';
import { loadConfig, nameOptions } from '../lint/config.ts';
import { ALWAYS_EXCLUDED_NAMESPACES, DEFAULT_NAMESPACE } from '../k8s/webhook-configuration.ts';
import { buildReport } from '../k8s/audit/report.ts';
import { AUDIT_FORMATS, formatAudit, type AuditFormat } from '../k8s/audit/format.ts';
import { EXIT, usageError } from './errors.ts';
import { FAIL_ON_LEVELS, flagProblem, oneOf, reachesFailOn, type FailOn } from './options.ts';
import { useColor, type CliIO } from './io.ts';
import { VERSION } from './version.ts';

const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const K8S_HELP = `Usage: envless k8s <command> [options]

Commands:
  audit    list the pods and workloads that get secrets through environment variables, and
           what the envless webhook would change

Run \`envless k8s audit --help\` for its options.
`;

export const AUDIT_HELP = `Usage: envless k8s audit [--namespace NS | --all-namespaces] [options]

Lists Deployments, StatefulSets, DaemonSets, CronJobs, ReplicaSets not owned by a Deployment,
Jobs not owned by a CronJob and Pods not owned by any of these, and reports for each container:
env vars read from Secrets (secretKeyRef), whole Secrets imported with envFrom, and secret values
written literally into env (values are never printed, only masked). For each Secret reference it
runs the webhook's engine on the object and shows the file it would become, or why it would stay
an env var. Read-only: needs list on those resources.

Options:
  -n, --namespace NS      namespace to audit (default: the context's namespace, else default)
  -A, --all-namespaces    audit every namespace
  -f, --format FORMAT     text (default), json or sarif (files are k8s://namespace/Kind/name)
      --kubeconfig FILE   kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or the
                          pod's service account when run in a cluster)
      --context NAME      kubeconfig context to use (default: the current context)
      --fail-on LEVEL     exit 1 when a finding reaches LEVEL: error (default), warning, info, never
  -c, --config FILE       .envless.yaml with allow/secrets lists and rule severities
      --mount-root DIR    the webhook's --mount-root, for the paths shown (default /run/secrets)
      --webhook-namespace NS
                          the namespace the webhook is installed in (default envless): the
                          webhook never sees it, nor kube-system and kube-node-lease
      --exclude-namespace NS
                          a namespace the chart's namespaceSelector.excludeNamespaces leaves
                          out (repeatable)
  -h, --help              show this help

Exit status: 0 nothing found at --fail-on level, 1 findings, 2 usage error, bad kubeconfig,
API server unreachable, or access refused (RBAC).
`;

export async function runK8s(args: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.writeOut(K8S_HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === 'audit') return runAudit(rest, io);
  throw usageError(`unknown command "k8s ${command}" (run \`envless k8s --help\`)`);
}

const AUDIT_OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  format: { type: 'string', short: 'f' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'fail-on': { type: 'string' },
  config: { type: 'string', short: 'c' },
  'mount-root': { type: 'string' },
  'webhook-namespace': { type: 'string' },
  'exclude-namespace': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseAuditArgs(args: string[]) {
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options: AUDIT_OPTIONS }).values;
  } catch (error) {
    throw usageError(`${flagProblem(error, AUDIT_OPTIONS)} (run \`envless k8s audit --help\`)`);
  }
}

/** The namespaces the webhook's namespaceSelector leaves out by name, as the chart sets it. */
function webhookExclusions(webhookNamespace: string | undefined, extra: readonly string[] = []): string[] {
  for (const [flag, name] of [
    ['--webhook-namespace', webhookNamespace],
    ...extra.map((name) => ['--exclude-namespace', name] as const),
  ] as const) {
    if (name !== undefined && !NAMESPACE_NAME.test(name))
      throw usageError(
        `k8s audit: ${flag} needs a namespace name (a DNS label: a-z, 0-9, "-"), got "${name}"`,
      );
  }
  return [...new Set([...ALWAYS_EXCLUDED_NAMESPACES, webhookNamespace ?? DEFAULT_NAMESPACE, ...extra])];
}

export async function runAudit(args: string[], io: CliIO): Promise<number> {
  const values = parseAuditArgs(args);
  if (values.help) {
    io.writeOut(AUDIT_HELP);
    return EXIT.ok;
  }
  if (values.namespace !== undefined && values['all-namespaces']) {
    throw usageError('--namespace and --all-namespaces exclude each other');
  }
  if (values.namespace === '') throw usageError('--namespace needs a name');
  const mountRoot = values['mount-root'];
  const problem = mountRoot === undefined ? undefined : mountRootProblem(mountRoot);
  if (problem !== undefined) throw usageError(`k8s audit: --mount-root ${problem} (got "${mountRoot}")`);
  const excludedNamespaces = webhookExclusions(values['webhook-namespace'], values['exclude-namespace']);
  const format: AuditFormat = oneOf(values.format, AUDIT_FORMATS, '--format') ?? 'text';
  const config = loadConfig(io.cwd, values.config, { cwd: io.cwd });
  const failOn: FailOn = oneOf(values['fail-on'], FAIL_ON_LEVELS, '--fail-on') ?? config.failOn;

  // Loaded only now: the client library is heavy and only this command needs it.
  const { listWorkloads, namespaceIsMissing, openCluster, optedOutNamespaces } =
    await import('../k8s/audit/kube.ts');
  const cluster = await openCluster({
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
  });
  const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? cluster.defaultNamespace);
  const listed = await listWorkloads(cluster, namespace);
  // A mistyped -n lists nothing, which would read as a clean bill of health.
  if (
    listed.length === 0 &&
    values.namespace !== undefined &&
    (await namespaceIsMissing(cluster, values.namespace))
  ) {
    throw usageError(`namespace "${values.namespace}" does not exist (context ${cluster.context})`);
  }
  const namespaces = [...new Set(listed.map((item) => item.object.metadata?.namespace ?? ''))];
  const report = buildReport(
    listed,
    { ...(namespace !== undefined ? { namespace } : {}), context: cluster.context, server: cluster.server },
    {
      names: nameOptions(config),
      rules: config.rules,
      excludedNamespaces,
      ...(mountRoot !== undefined ? { engine: { mountRoot } } : {}),
      optedOutNamespaces: await optedOutNamespaces(cluster, namespaces),
    },
  );
  io.writeOut(formatAudit(format, report, { color: useColor(io), toolVersion: VERSION }));
  return report.findings.some((finding) => reachesFailOn(finding, failOn)) ? EXIT.findings : EXIT.ok;
}
