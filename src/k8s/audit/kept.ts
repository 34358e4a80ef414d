// Why the engine keeps a secret reference as it was. The engine returns each kept reference with
// its reason (`MutationResult.kept`, the same decisions its warnings state, grouped and clipped to
// 120 characters for kubectl), so the audit never has to read warning text back.
import type { ContainerKind, KeptReference } from '../../engine/index.ts';

/** The fallback when the engine names no reason for a kept reference (it should not happen). */
export const UNEXPLAINED = 'not converted (the engine gave no reason)';

export interface KeptReasons {
  /** Reasons the engine gave for keeping the secretKeyRef variable `variable`. */
  ofVariable(variable: string): string[];
  /** Reasons the engine gave for keeping the envFrom entry at `index`. */
  ofEnvFrom(index: number): string[];
}

/** The kept references of one container. */
export function keptReasons(
  kept: readonly KeptReference[],
  kind: ContainerKind,
  container: string,
): KeptReasons {
  const own = kept.filter((entry) => entry.containerKind === kind && entry.container === container);
  const reasons = (matches: (entry: KeptReference) => boolean): string[] => {
    const found = [...new Set(own.filter(matches).map((entry) => entry.reason))];
    return found.length > 0 ? found : [UNEXPLAINED];
  };
  return {
    ofVariable: (variable) =>
      reasons((entry) => entry.source === 'secretKeyRef' && entry.variable === variable),
    ofEnvFrom: (index) => reasons((entry) => entry.source === 'envFrom' && entry.index === index),
  };
}
