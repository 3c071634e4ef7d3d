import type { BusinessOutcomes } from './outcomes.js';

let current: BusinessOutcomes | undefined;

/**
 * Sets the `BusinessOutcomes` that `@recordBusinessOutcome` records into when it was
 * given no `outcomes` option (looked up on every call, so setting it after decoration
 * works). `undefined` unsets it: decorated methods then record nothing.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { BusinessOutcomes, setGlobalBusinessOutcomes } from '@prsm/business-outcomes';
 *
 * setGlobalBusinessOutcomes(new BusinessOutcomes({ monitor: new Monitor() }));
 * ```
 */
export function setGlobalBusinessOutcomes(outcomes: BusinessOutcomes | undefined): void {
  current = outcomes;
}

/**
 * The global `BusinessOutcomes`, if one was set.
 *
 * @example
 * ```ts
 * getGlobalBusinessOutcomes()?.dashboard();
 * ```
 */
export function getGlobalBusinessOutcomes(): BusinessOutcomes | undefined {
  return current;
}
