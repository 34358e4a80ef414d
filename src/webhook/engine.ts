// The webhook's view of the rewrite engine (src/engine): the one function it calls. The server
// takes the engine as an option so tests can inject a failing or slow one; `loadEngine` imports
// the real engine lazily, so that only `envless webhook` and `envless mutate` pay for loading it.
import type { EngineOptions, MutationResult, Pod } from '../engine/index.ts';

export type { EngineOptions, MutationResult, PatchOperation, Pod } from '../engine/index.ts';
export type Mode = NonNullable<EngineOptions['mode']>;
export type EngineOperation = NonNullable<EngineOptions['operation']>;

/** The real engine is synchronous; a promise is accepted so tests can hold a request in flight. */
export type PodEngine = (pod: Pod, options: EngineOptions) => MutationResult | Promise<MutationResult>;

export async function loadEngine(): Promise<PodEngine> {
  const { mutatePod } = await import('../engine/index.ts');
  return mutatePod;
}
