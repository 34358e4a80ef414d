// `envless certs`: one-shot certificate management for install jobs and operators.
//   bootstrap  make sure the Secret holds a valid CA and serving certificate, and caBundle is
//              patched (idempotent: a second run changes nothing)
//   rotate-ca  stage a new CA in caBundle; running webhooks switch to it after the trust delay
// The same pass as the webhook's self-managed mode (src/k8s/certs/manager.ts), run once.
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { ReconcileResult } from '../k8s/certs/manager.ts';
import {
  CERTS_COMMAND_FLAGS,
  certFlagList,
  resolveCertSettings,
  type CertSettings,
} from '../k8s/certs/settings.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { flagProblem } from './options.ts';
import type { CliIO } from './io.ts';

export const CERTS_HELP = `Usage: envless certs bootstrap --secret NAME --webhook-config NAME --service NAME [options]
       envless certs rotate-ca --secret NAME --webhook-config NAME --service NAME [options]

Self-managed TLS for the webhook (see docs/certificates.md). bootstrap makes sure the Secret holds
an ECDSA P-256 CA and a serving certificate for the Service's DNS names, renews what is due and
patches caBundle into the webhooks of the MutatingWebhookConfiguration that call the Service (or
a URL; webhooks calling another Service are left alone); running it again changes nothing.
rotate-ca stages a new CA (caBundle then holds the new and the old CA); webhooks running with
--cert-secret serve a certificate signed by it once the API server trusts it.

Options (environment variable in brackets):
      --secret NAME          the Secret (kubernetes.io/tls; keys ca.crt, ca.key, tls.crt, tls.key)
                             [ENVLESS_CERT_SECRET]
  -n, --namespace NS         its namespace and the Service's (default $POD_NAMESPACE or the pod's
                             own) [ENVLESS_CERT_NAMESPACE]
      --webhook-config NAME  MutatingWebhookConfiguration to patch [ENVLESS_WEBHOOK_CONFIG]
      --service NAME         the webhook's Service [ENVLESS_SERVICE]
      --extra-sans LIST      more DNS names or IP addresses, comma-separated
                             [ENVLESS_CERT_EXTRA_SANS]
      --lifetime D           serving certificate lifetime (default 24h) [ENVLESS_CERT_LIFETIME]
      --ca-lifetime D        CA lifetime (default 3650d) [ENVLESS_CERT_CA_LIFETIME]
      --renew-fraction F     renew when less than F of the lifetime remains (default 0.1)
                             [ENVLESS_CERT_RENEW_FRACTION]
      --kubeconfig FILE      credentials (default $KUBECONFIG, ~/.kube/config, or in-cluster)
  -h, --help                 show this help

Exit status: 0 when done, 2 for bad flags, an unreachable API server, refused credentials or RBAC
(the message names the verb and resource), or a MutatingWebhookConfiguration that is missing or
has no webhook calling the Service.
`;

const SUBCOMMANDS = ['bootstrap', 'rotate-ca'] as const;

function parse(args: string[]) {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const flag of certFlagList(CERTS_COMMAND_FLAGS)) options[flag] = { type: 'string' };
  options.namespace = { type: 'string', short: 'n' };
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw usageError(`${flagProblem(error, options)} (run \`envless certs --help\`)`);
  }
}

function describeCertificate(pem: string): string {
  const cert = new X509Certificate(pem);
  return `SHA-256 ${cert.fingerprint256.slice(0, 23)}..., expires ${cert.validToDate.toISOString()}`;
}

function report(settings: CertSettings, result: ReconcileResult, rotation: boolean, io: CliIO): void {
  const secret = `${settings.namespace}/${settings.secretName}`;
  const what =
    result.secret === 'unchanged'
      ? 'unchanged (valid)'
      : `${result.secret}: ${result.reason ?? ''}`.replace(/: $/, '');
  const lines = [`Secret ${secret}: ${what}`];
  if (result.conflicts > 0)
    lines.push(`  another writer was first ${result.conflicts} time(s); its certificates are used`);
  lines.push(`  CA                  ${describeCertificate(result.material.ca.cert)}`);
  lines.push(`  serving certificate ${describeCertificate(result.material.serving.cert)}`);
  lines.push(`  names               ${settings.policy.hosts.join(', ')}`);
  if (result.material.previousCas.length > 0) {
    lines.push(
      `  previous CA kept in caBundle until ${result.material.previousCaUntil?.toISOString() ?? 'its last certificate expires'}`,
    );
  }
  if (rotation && result.secret === 'unchanged' && result.material.previousCas.length > 0) {
    lines.push(
      '  a CA change is already in progress (the serving certificate is not yet signed by the new CA): ' +
        'the running webhooks finish it; run rotate-ca again afterwards for another new CA',
    );
  }
  const patched = result.patchedWebhooks ?? [];
  if (result.ownWebhooks?.length !== 0) {
    lines.push(
      `MutatingWebhookConfiguration ${settings.webhookConfiguration}: ${
        patched.length > 0 ? `caBundle patched (${patched.join(', ')})` : 'caBundle already current'
      }`,
    );
  }
  if (result.foreignWebhooks.length > 0) {
    lines.push(`  left alone (they call another Service): ${result.foreignWebhooks.join(', ')}`);
  }
  io.writeOut(`${lines.join('\n')}\n`);
}

export async function runCerts(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (values.help) {
    io.writeOut(CERTS_HELP);
    return EXIT.ok;
  }
  const [subcommand, ...extra] = positionals;
  if (subcommand === undefined || !(SUBCOMMANDS as readonly string[]).includes(subcommand)) {
    throw usageError(
      subcommand === undefined
        ? 'name a subcommand: envless certs bootstrap | rotate-ca (run `envless certs --help`)'
        : `unknown subcommand "${subcommand}"; use bootstrap or rotate-ca`,
    );
  }
  if (extra.length > 0) throw usageError(`unexpected argument "${extra[0]}" (run \`envless certs --help\`)`);

  const flags = Object.fromEntries(
    certFlagList(CERTS_COMMAND_FLAGS).map((flag) => [flag, values[flag] as string | undefined]),
  );
  const settings = resolveCertSettings(flags, io.env, CERTS_COMMAND_FLAGS, { loop: false });
  if (settings === undefined) throw usageError('give --secret NAME (or ENVLESS_CERT_SECRET)');

  // Loaded only now: the Kubernetes client is not needed for --help or bad flags.
  const { cliErrorOf, connectForCertificates, managerFor } = await import('../k8s/certs/self-managed.ts');
  const api = await connectForCertificates(settings);
  // One pass, no Lease: optimistic concurrency on the Secret keeps racing jobs and replicas safe.
  const manager = managerFor(api, settings, { lease: false, watch: false });
  let result: ReconcileResult;
  try {
    result = subcommand === 'rotate-ca' ? await manager.rotateCa() : await manager.reconcile();
  } catch (error) {
    throw cliErrorOf(error);
  }
  report(settings, result, subcommand === 'rotate-ca', io);
  if (result.patchedWebhooks === undefined) {
    throw new CliError(
      'ENVLESS_INPUT_INVALID',
      `MutatingWebhookConfiguration "${settings.webhookConfiguration}" not found: caBundle not patched ` +
        '(the Secret is ready; run again once the configuration exists)',
    );
  }
  if (result.ownWebhooks?.length === 0) {
    throw new CliError(
      'ENVLESS_INPUT_INVALID',
      `no webhook of MutatingWebhookConfiguration "${settings.webhookConfiguration}" calls Service ` +
        `${settings.namespace}/${settings.service} (${result.foreignWebhooks.join(', ') || 'it has no webhooks'}): ` +
        'caBundle not patched; check --service and --namespace (the Secret is ready)',
    );
  }
  return EXIT.ok;
}
