// The Kubernetes checks: every workload's pod spec (containers, init and ephemeral containers)
// Secret manifests and ConfigMaps, across multi-document YAML and JSON, List objects included.
import type { Checker } from '../types.ts';
import { firstParseError, OncePerPlace, parseYamlStream } from '../yaml.ts';
import { checkConfigMap } from './configmap.ts';
import { checkPodSpec } from './containers.ts';
import { manifestsIn, podSpecOf } from './manifests.ts';
import { checkSecretManifest } from './secret-manifest.ts';

const YAML_FIELD = (field: string): RegExp =>
  new RegExp(`^\\ufeff?[ \\t]*(?:-[ \\t]+)?["']?${field}["']?[ \\t]*:`, 'm');
const API_VERSION_LINE = YAML_FIELD('apiVersion');
const KIND_LINE = YAML_FIELD('kind');

/**
 * A cheap textual test run before parsing: `apiVersion:` and `kind:` at the start of a line (or
 * as JSON fields). GitHub workflows, Helm values and app config are skipped without parsing.
 */
export function looksLikeKubernetes(text: string): boolean {
  if (/^\s*[[{]/.test(text)) return /"apiVersion"\s*:/.test(text) && /"kind"\s*:/.test(text);
  return API_VERSION_LINE.test(text) && KIND_LINE.test(text);
}

export const checkKubernetes: Checker = (ctx) => {
  const stream = parseYamlStream(ctx.file.text);
  const error = firstParseError(stream);
  if (error) {
    // Unrendered Helm templates are not YAML; `helm template` output is what can be checked.
    if (ctx.file.text.includes('{{')) return;
    throw error;
  }
  const found = new OncePerPlace();
  for (const doc of stream.documents) {
    for (const manifest of manifestsIn(doc, doc.root)) {
      if (manifest.kind === 'Secret') {
        checkSecretManifest(doc, found, manifest.node, manifest.name);
        continue;
      }
      if (manifest.kind === 'ConfigMap') {
        checkConfigMap(doc, found, ctx.names, manifest.node, manifest.name);
        continue;
      }
      const podSpec = podSpecOf(doc, manifest);
      if (!podSpec) continue;
      const owner = `${manifest.kind}${manifest.name === undefined ? '' : ` "${manifest.name}"`}`;
      checkPodSpec({ doc, found, names: ctx.names, owner }, podSpec);
    }
  }
  found.flush((finding) => ctx.report(finding));
};
