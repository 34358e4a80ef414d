// ConfigMaps with secret values. A ConfigMap is not secret (no encryption at rest, readable with
// a plain `get configmaps`), and `envFrom.configMapRef` turns every key into an environment
// variable: a secret there is a secret in env. Keys are graded as env variables, by the shared
// rules (a file-like key such as `application.properties` is checked for credential-shaped text).
import { assessVariable } from '../../detect/index.ts';
import type { NameOptions } from '../../detect/index.ts';
import { at } from '../yaml.ts';
import type { OncePerPlace, YamlDocument, YMap } from '../yaml.ts';

export function checkConfigMap(
  doc: YamlDocument,
  found: OncePerPlace,
  names: NameOptions,
  configMap: YMap,
  configMapName: string | undefined,
): void {
  const owner = `ConfigMap ${configMapName === undefined ? '(unnamed)' : `"${configMapName}"`}`;
  for (const entry of doc.entries(doc.get(configMap, 'data'))) {
    const value = doc.text(entry.value);
    if (value === undefined) continue;
    const assessment = assessVariable(entry.key, value, 'k8s-env', names);
    if (!assessment) continue;
    const place = doc.place(entry.keyNode, true);
    if (!place) continue;
    found.add(`k8s/configmap-secret@${place.offset}`, owner, () => ({
      ruleId: 'k8s/configmap-secret',
      ...at(place),
      key: entry.key,
      severity: assessment.severity,
      secret: assessment.secret,
      message: `${owner} holds a secret in data key "${entry.key}" (${assessment.reason}); ConfigMaps are not secret, and envFrom.configMapRef puts every key into the environment`,
    }));
  }
}
