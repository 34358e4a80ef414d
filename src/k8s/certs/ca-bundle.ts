// caBundle of the MutatingWebhookConfiguration: which webhooks need a patch, and the JSON patch
// that sets only their caBundle fields. Each `add` is guarded by a `test` of the webhook's name at
// that index, so a configuration reordered since we read it fails the patch instead of giving a
// CA to the wrong webhook; the caller re-reads and retries.
import type { JsonPatchOperation, WebhookConfigurationRecord } from './kube.ts';
import { bundleFingerprints } from './material.ts';

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item));
}

/** Webhooks whose caBundle does not hold exactly the certificates of `bundle`. */
export function webhooksNeedingBundle(config: WebhookConfigurationRecord, bundle: string): string[] {
  const wanted = bundleFingerprints(bundle);
  return config.webhooks
    .filter((webhook) => !sameSet(bundleFingerprints(webhook.caBundle), wanted))
    .map((webhook) => webhook.name);
}

/** JSON patch setting caBundle (base64 PEM) on every webhook that needs it; [] when none does. */
export function caBundlePatch(config: WebhookConfigurationRecord, bundle: string): JsonPatchOperation[] {
  const stale = new Set(webhooksNeedingBundle(config, bundle));
  const encoded = Buffer.from(bundle, 'utf8').toString('base64');
  const operations: JsonPatchOperation[] = [];
  config.webhooks.forEach((webhook, index) => {
    if (!stale.has(webhook.name)) return;
    operations.push({ op: 'test', path: `/webhooks/${index}/name`, value: webhook.name });
    // `add` sets the member whether it exists or not (`replace` fails on an absent one).
    operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: encoded });
  });
  return operations;
}

/** Fingerprints of the CAs that every webhook of the configuration trusts. */
export function trustedByAllWebhooks(config: WebhookConfigurationRecord): Set<string> {
  const [first, ...rest] = config.webhooks.map((webhook) => bundleFingerprints(webhook.caBundle));
  if (!first) return new Set();
  return new Set([...first].filter((fingerprint) => rest.every((set) => set.has(fingerprint))));
}
