// The rewrite engine: pure functions from a pod (or workload) to the rewritten object, an RFC 6902
// patch, warnings and an optional denial. No I/O; shared by `envless mutate` and the webhook.
export { mutateObject, mutatePod, POD_TEMPLATE_PATHS, type ObjectOptions } from './workload.ts';
export { ANNOTATION } from './annotations.ts';
export { DEFAULT_MOUNT_ROOT } from './state.ts';
export { MAX_WARNING } from './messages.ts';
export { diff, escapePointerToken, unescapePointerToken } from './diff.ts';
export { referencedNames } from './expansion.ts';
export { resolveFile, secretSourcesOf, type SecretFile } from './volumes.ts';
export {
  fileVariableName,
  keysVolumeName,
  mountRootProblem,
  secretsDirVariableName,
  wholeSecretVolumeName,
} from './names.ts';
export type * from './types.ts';
