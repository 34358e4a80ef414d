// The shared detection rules: used by the linter, the webhook's warnings and the Docker and
// Kubernetes audits alike.
export { analyzeName, buildkitFlags, tokenizeName, type NameAnalysis, type NameOptions } from './names.ts';
export {
  classifyLiteral,
  findReferencedCredential,
  findSecretsInText,
  isReferenceOrPlaceholder,
  looksRandom,
  shannonEntropy,
  type LiteralKind,
  type SecretMatch,
} from './values.ts';
export { assessVariable, type Assessment, type Severity, type VariableContext } from './grade.ts';
export { maskReferenceWords, maskSecret, maskWithin } from './mask.ts';
export { secretFileReason } from './files.ts';
