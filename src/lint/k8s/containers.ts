// Secrets reaching a container's environment: `secretKeyRef`, `envFrom.secretRef`, and literal
// values. Init and ephemeral containers count too; policy engines that check only `containers`
// miss them.
import { assessVariable } from '../../detect/index.ts';
import type { NameOptions } from '../../detect/index.ts';
import { at } from '../yaml.ts';
import type { OncePerPlace, YamlDocument, YNode } from '../yaml.ts';

const CONTAINER_LISTS = [
  ['containers', 'container'],
  ['initContainers', 'init container'],
  ['ephemeralContainers', 'ephemeral container'],
] as const;

const CIS = 'CIS 5.4.1 prefers secrets as files';

export interface PodSpecScope {
  readonly doc: YamlDocument;
  readonly found: OncePerPlace;
  readonly names: NameOptions;
  /** `Deployment "web"`: names the object in messages. */
  readonly owner: string;
}

function quoted(text: string | undefined): string {
  return text === undefined ? '(unnamed)' : `"${text}"`;
}

export function checkPodSpec(scope: PodSpecScope, podSpec: YNode): void {
  const { doc } = scope;
  for (const [field, noun] of CONTAINER_LISTS) {
    for (const container of doc.items(doc.get(podSpec, field))) {
      if (!doc.map(container)) continue;
      const subject = `${noun} ${quoted(doc.text(doc.get(container, 'name')))} in ${scope.owner}`;
      checkEnv(scope, subject, doc.get(container, 'env'));
      checkEnvFrom(scope, subject, doc.get(container, 'envFrom'));
    }
  }
}

function checkEnv(scope: PodSpecScope, subject: string, envNode: YNode | undefined): void {
  const { doc, found } = scope;
  for (const env of doc.items(envNode)) {
    if (!doc.map(env)) continue;
    const nameNode = doc.get(env, 'name');
    const name = doc.text(nameNode);
    const secretKeyRef = doc.map(doc.get(doc.get(env, 'valueFrom'), 'secretKeyRef'));
    if (secretKeyRef) {
      const place = doc.place(nameNode, true) ?? doc.place(env);
      if (!place) continue;
      const secretName = doc.text(doc.get(secretKeyRef, 'name'));
      const key = doc.text(doc.get(secretKeyRef, 'key'));
      found.add(`k8s/secret-key-ref@${place.offset}`, subject, (subjects) => ({
        ruleId: 'k8s/secret-key-ref',
        ...at(place),
        key: name,
        message: `env ${name ?? '(unnamed)'} of ${subjects.join(', ')} reads secret ${quoted(secretName)} key ${quoted(key)} as an environment variable (${CIS})`,
      }));
      continue;
    }
    const valueEntry = doc.entry(env, 'value');
    if (!valueEntry) continue;
    const value = doc.text(valueEntry.value);
    // No name: still catch a token-shaped value (the assessment grades values on their own).
    const assessment = assessVariable(name ?? '', value, 'k8s-env', scope.names);
    if (!assessment) continue;
    const place = doc.place(nameNode, true) ?? doc.place(doc.resolve(valueEntry.value), true);
    if (!place) continue;
    found.add(`k8s/literal-secret-env@${place.offset}`, subject, (subjects) => ({
      ruleId: 'k8s/literal-secret-env',
      ...at(place),
      key: name,
      severity: assessment.severity,
      secret: assessment.secret,
      message: `env ${name ?? '(unnamed)'} of ${subjects.join(', ')} holds a secret written into the manifest (${assessment.reason})`,
    }));
  }
}

function checkEnvFrom(scope: PodSpecScope, subject: string, envFromNode: YNode | undefined): void {
  const { doc, found } = scope;
  for (const source of doc.items(envFromNode)) {
    const secretRef = doc.entry(source, 'secretRef');
    if (!secretRef || !doc.map(secretRef.value)) continue;
    const nameNode = doc.get(secretRef.value, 'name');
    const secretName = doc.text(nameNode);
    const prefix = doc.text(doc.get(source, 'prefix'));
    const place = doc.place(nameNode, true) ?? doc.place(secretRef.keyNode);
    if (!place) continue;
    found.add(`k8s/secret-env-from@${place.offset}`, subject, (subjects) => ({
      ruleId: 'k8s/secret-env-from',
      ...at(place),
      key: secretName,
      anchor: `envFrom secretRef ${secretName ?? ''} ${subjects[0] ?? ''}`,
      message: `envFrom of ${subjects.join(', ')} imports every key of secret ${quoted(secretName)} as environment variables${prefix ? ` prefixed "${prefix}"` : ''} (${CIS})`,
    }));
  }
}
