// caBundle of the MutatingWebhookConfiguration: which webhooks need a patch, and the JSON patch
// that sets only their caBundle fields. Each `add` is guarded by a `test` of the webhook's name at
// that index, so a configuration reordered since we read it fails the patch instead of giving a
// CA to the wrong webhook; the caller re-reads and retries.
//
// Only our webhooks are touched: those that call our Service (clientConfig.service), and those
// given by URL (which cannot be told apart; the chart's URL mode). A webhook of the same object
// that calls another Service belongs to someone else and keeps its caBundle.
import type { JsonPatchOperation, WebhookCaBundle, WebhookConfigurationRecord } from './kube.ts';
import { bundleFingerprints } from './material.ts';

/** The Service our serving certificate is for; undefined: every webhook counts as ours. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item));
}

export function isOurWebhook(webhook: WebhookCaBundle, service: ServiceRef | undefined): boolean {
  if (!service || !webhook.service) return true;
  return webhook.service.namespace === service.namespace && webhook.service.name === service.name;
}

/** The webhooks of the configuration that call another Service (left alone), by name. */
export function foreignWebhooks(
  config: WebhookConfigurationRecord,
  service: ServiceRef | undefined,
): string[] {
  return config.webhooks.filter((webhook) => !isOurWebhook(webhook, service)).map((webhook) => webhook.name);
}

/** Our webhooks whose caBundle does not hold exactly the certificates of `bundle`. */
export function webhooksNeedingBundle(
  config: WebhookConfigurationRecord,
  bundle: string,
  service?: ServiceRef,
): string[] {
  const wanted = bundleFingerprints(bundle);
  return config.webhooks
    .filter((webhook) => isOurWebhook(webhook, service))
    .filter((webhook) => !sameSet(bundleFingerprints(webhook.caBundle), wanted))
    .map((webhook) => webhook.name);
}

/** JSON patch setting caBundle (base64 PEM) on each of our webhooks that needs it; [] when none. */
export function caBundlePatch(
  config: WebhookConfigurationRecord,
  bundle: string,
  service?: ServiceRef,
): JsonPatchOperation[] {
  const stale = new Set(webhooksNeedingBundle(config, bundle, service));
  const encoded = Buffer.from(bundle, 'utf8').toString('base64');
  const operations: JsonPatchOperation[] = [];
  config.webhooks.forEach((webhook, index) => {
    if (!stale.has(webhook.name) || !isOurWebhook(webhook, service)) return;
    operations.push({ op: 'test', path: `/webhooks/${index}/name`, value: webhook.name });
    // `add` sets the member whether it exists or not (`replace` fails on an absent one).
    operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: encoded });
  });
  return operations;
}

/** Fingerprints of the CAs that every one of our webhooks trusts. */
export function trustedByAllWebhooks(config: WebhookConfigurationRecord, service?: ServiceRef): Set<string> {
  const [first, ...rest] = config.webhooks
    .filter((webhook) => isOurWebhook(webhook, service))
    .map((webhook) => bundleFingerprints(webhook.caBundle));
  if (!first) return new Set();
  return new Set([...first].filter((fingerprint) => rest.every((set) => set.has(fingerprint))));
}
