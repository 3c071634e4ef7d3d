import { type InstrumentFunctionOptions, resolveSettings } from './options.js';
import { carryMetadata } from './runtime/metadata.js';
import { type AnyFunction, Operation } from './runtime/operation.js';
import { createWrapper, kindOf } from './runtime/wrap.js';

const WHO = 'instrument()';

/**
 * Wraps a plain function with `@monitorPerformance` semantics: sync, async,
 * thenable-returning, generator and async generator functions alike. The wrapper
 * keeps the function's `name` and `length`, returns the same values, throws the
 * same errors and passes `this` through. It cannot be called with `new`.
 *
 * @param fn The function to time.
 * @param options `component` (required), `operation` (default: the function's name)
 *   and the options of `@monitorPerformance`.
 *
 * @example
 * ```ts
 * import { instrument } from '@prsm/decorators';
 *
 * export const fetchPrices = instrument(
 *   async (sku: string): Promise<Price[]> => (await fetch(`${PRICES}/${sku}`)).json(),
 *   { component: 'pricing', operation: 'fetch_prices', slowThresholdMs: 300 },
 * );
 * ```
 */
export function instrument<F extends (...args: never) => unknown>(
  fn: F,
  options: InstrumentFunctionOptions,
): F {
  if (typeof fn !== 'function') throw new TypeError(`${WHO} needs a function`);
  if (/^class\b/.test(Function.prototype.toString.call(fn))) {
    throw new TypeError(`${WHO} wraps functions, not classes (use @monitored)`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${WHO} needs options with at least a component`);
  }
  const { component, operation, ...rest } = options;
  const settings = resolveSettings(WHO, component, operation, rest);
  const original = fn as unknown as AnyFunction;
  const name =
    typeof original.name === 'string' && original.name !== '' ? original.name : 'anonymous';
  const op = new Operation(settings, name, undefined, kindOf(original));
  const wrapper = createWrapper(original, op);
  carryMetadata(original, wrapper, op.metadata);
  return wrapper as unknown as F;
}
