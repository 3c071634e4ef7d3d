import { getGlobalMonitor } from '@prsm/core';
import { InstrumentedAsyncIterator, InstrumentedIterator } from './iterators.js';
import {
  type AnyFunction,
  type FunctionKind,
  isObjectLike,
  type Operation,
  tracerFor,
} from './operation.js';

const GENERATOR_FUNCTION = Object.getPrototypeOf(function* () {}) as object;
const ASYNC_GENERATOR_FUNCTION = Object.getPrototypeOf(async function* () {}) as object;

/** Every wrapper this package made, with its operation: `@monitored` skips them. */
const operations = new WeakMap<object, Operation>();

/**
 * Generator functions return iterators whose work happens on `next()`; everything
 * else is timed around the call (and until a returned thenable settles).
 *
 * @internal
 */
export function kindOf(fn: object): FunctionKind {
  const proto: unknown = Object.getPrototypeOf(fn);
  if (proto === GENERATOR_FUNCTION) return 'generator';
  if (proto === ASYNC_GENERATOR_FUNCTION) return 'async-generator';
  // Another realm's generator functions.
  const tag = (fn as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  if (tag === 'GeneratorFunction') return 'generator';
  if (tag === 'AsyncGeneratorFunction') return 'async-generator';
  return 'function';
}

/**
 * The operation of a wrapper made by this package, if `fn` is one.
 *
 * @internal
 */
export function operationOf(fn: unknown): Operation | undefined {
  return typeof fn === 'function' ? operations.get(fn) : undefined;
}

/** A symbol-named method is recorded under its description. */
export function renderKey(key: string | symbol): string {
  if (typeof key === 'string') return key;
  const description = key.description;
  return description === undefined || description === '' ? 'symbol' : description;
}

/**
 * Wraps `original`. The wrapper resolves the monitor on every call; when it is
 * disabled (the no-op monitor) it calls the original directly and does nothing else
 * (V8 passes rest arguments on through `Reflect.apply` without allocating them: ~2 ns
 * over a bare call). The wrapper is a method (not constructible, no `prototype`), like
 * the methods it replaces, and keeps the original's `name` and `length`.
 *
 * @internal
 */
export function createWrapper(original: AnyFunction, op: Operation): AnyFunction {
  const fixed = op.settings.monitor;
  let wrapper: AnyFunction;
  if (op.kind === 'function') {
    const traced = op.settings.trace;
    const holder = {
      wrapped(this: unknown, ...args: unknown[]): unknown {
        const monitor = fixed ?? getGlobalMonitor();
        if (monitor.enabled === false) return Reflect.apply(original, this, args);
        const h = op.handles(monitor, this);
        if (traced) {
          const tracer = tracerFor(h);
          // Spread, not passed: the array would escape and be allocated on every call.
          if (tracer !== undefined) return op.callTraced(h, tracer, original, this, ...args);
        }
        // Timed here rather than in a helper: `args` only ever reaches Reflect.apply,
        // so V8 never allocates it. Nothing below throws but the original.
        const start = op.now(h);
        let result: unknown;
        try {
          result = Reflect.apply(original, this, args);
        } catch (error) {
          op.finish(h, start, undefined, error, true);
          throw error;
        }
        if (isObjectLike(result) && op.observe(h, start, undefined, result)) return result;
        op.succeeded(h, start);
        return result;
      },
    };
    // eslint-disable-next-line @typescript-eslint/unbound-method -- taken as a method on purpose: not constructible, no prototype
    wrapper = holder.wrapped;
  } else {
    const Iterator = op.kind === 'generator' ? InstrumentedIterator : InstrumentedAsyncIterator;
    const holder = {
      wrapped(this: unknown, ...args: unknown[]): unknown {
        const monitor = fixed ?? getGlobalMonitor();
        // Creating a generator runs none of its body: nothing to time yet.
        const inner = Reflect.apply(original, this, args) as object;
        if (monitor.enabled === false) return inner;
        return new Iterator(op, op.handles(monitor, this), inner, args);
      },
    };
    // eslint-disable-next-line @typescript-eslint/unbound-method -- as above
    wrapper = holder.wrapped;
  }
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  operations.set(wrapper, op);
  return wrapper;
}
