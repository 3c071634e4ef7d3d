/**
 * decorator/: `@recordBusinessOutcome`, under TC39 and legacy (experimentalDecorators)
 * decorators alike. The detection of the two standards and the method-shaped wrapper
 * (no prototype, same `name` and `length`) follow `@prsm/decorators`' runtime/decorate.ts
 * and runtime/wrap.ts, copied in small because that package does not export them.
 * Imports the outcomes aggregator and the global lookup.
 */
import type { Dimension } from '../calendar/calendar.js';
import type { BusinessMetadata } from '../dashboard/types.js';
import { getGlobalBusinessOutcomes } from '../global.js';
import { type BusinessOutcomes, type OutcomeHandle, resolveDimensions } from '../outcomes.js';

const WHO = '@recordBusinessOutcome';

/**
 * Options of {@link recordBusinessOutcome}. `R` is what the method returns (for an
 * async method, what its promise resolves to); annotate the hooks' parameter to let
 * TypeScript check the decorated method against it.
 *
 * @example
 * ```ts
 * const options: RecordBusinessOutcomeOptions<Receipt> = {
 *   dimension: ['daily', 'monthly'],
 *   value: (receipt) => receipt.total,
 *   when: (receipt) => receipt.status === 'paid',
 * };
 * ```
 */
export interface RecordBusinessOutcomeOptions<R = unknown> {
  /** The periods the outcome is counted per. Default `'daily'`. */
  readonly dimension?: Dimension | readonly Dimension[];
  /**
   * The amount the outcome adds (revenue, a quality score); default 1 (a count). A
   * hook that throws or returns something other than a finite number is reported to
   * the monitor's diagnostics and the outcome is not counted.
   */
  readonly value?: (result: R, args: readonly unknown[]) => number;
  /** Counts only the results it accepts. Default: every successful call. */
  readonly when?: (result: R) => boolean;
  /**
   * Opt-in: flat metadata kept as the KPI's latest (arguments are never recorded
   * otherwise).
   */
  readonly metadata?: (result: R, args: readonly unknown[]) => BusinessMetadata;
  /**
   * The `BusinessOutcomes` to record into. Default: the global one
   * (`setGlobalBusinessOutcomes`), looked up on every call; with none, nothing is recorded.
   */
  readonly outcomes?: BusinessOutcomes;
}

/**
 * The decorator `@recordBusinessOutcome(...)` returns: its first call signature is the
 * TC39 one, its second the legacy (`experimentalDecorators`) one, so one import
 * type-checks under both. Only methods returning `R` (or a promise of `R`) are accepted.
 *
 * @example
 * ```ts
 * const purchases: RecordBusinessOutcomeDecorator<Receipt> = recordBusinessOutcome('purchase', {
 *   value: (r: Receipt) => r.total,
 * });
 * ```
 */
export interface RecordBusinessOutcomeDecorator<R = unknown> {
  /** TC39 decorators: `(method, context)`, returns the replacement method (same type). */
  <This, T extends (this: This, ...args: never) => R | PromiseLike<R>>(
    value: T,
    context: ClassMethodDecoratorContext<This>,
  ): T;
  /** Legacy decorators: `(prototype or constructor, key, descriptor)`, returns the descriptor. */
  <T extends (...args: never) => R | PromiseLike<R>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T>;
}

interface Settings {
  readonly name: string;
  readonly dimensions: readonly Dimension[];
  readonly value: ((result: unknown, args: readonly unknown[]) => unknown) | undefined;
  readonly when: ((result: unknown) => unknown) | undefined;
  readonly metadata: ((result: unknown, args: readonly unknown[]) => unknown) | undefined;
  readonly outcomes: BusinessOutcomes | undefined;
}

const KNOWN = new Set(['dimension', 'value', 'when', 'metadata', 'outcomes']);

function resolveSettings(name: unknown, options: unknown): Settings {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new TypeError(`${WHO}: name must be a non-empty string of at most 200 characters`);
  }
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${WHO}: options must be an object`);
  }
  const o = options as RecordBusinessOutcomeOptions;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new TypeError(`${WHO}: unknown option ${key}`);
  }
  const dimensions = resolveDimensions(o.dimension, `${WHO}: dimension`);
  for (const hook of ['value', 'when', 'metadata'] as const) {
    if (o[hook] !== undefined && typeof o[hook] !== 'function') {
      throw new TypeError(`${WHO}: ${hook} must be a function`);
    }
  }
  const outcomes = o.outcomes;
  if (
    outcomes !== undefined &&
    (outcomes === null ||
      typeof outcomes !== 'object' ||
      typeof (outcomes as { outcomeHandle?: unknown }).outcomeHandle !== 'function')
  ) {
    throw new TypeError(`${WHO}: outcomes must be a BusinessOutcomes`);
  }
  return Object.freeze({
    name,
    dimensions,
    value: o.value,
    when: o.when,
    metadata: o.metadata,
    outcomes,
  });
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

// eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call on native promises only, so a subclass's then is never run
const then = Promise.prototype.then;
const ignore = (): void => {};

/** Counts one successful result; never throws. */
class Recorder {
  readonly #settings: Settings;
  #for: BusinessOutcomes | undefined;
  #handle: OutcomeHandle | undefined;

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  record(outcomes: BusinessOutcomes, result: unknown, args: readonly unknown[]): void {
    const s = this.#settings;
    try {
      if (s.when !== undefined && !s.when(result)) return;
      let value: number | undefined;
      if (s.value !== undefined) {
        const v = s.value(result, args);
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          outcomes.reportDropped(
            `${WHO} ${s.name}: value() returned ${String(v)}, not a finite number`,
          );
          return;
        }
        value = v;
      }
      if (s.metadata !== undefined) {
        const metadata = s.metadata(result, args) as BusinessMetadata;
        outcomes.recordOutcome(s.name, {
          dimension: s.dimensions,
          metadata,
          ...(value !== undefined && { value }),
        });
        return;
      }
      let handle = this.#handle;
      if (this.#for !== outcomes || handle === undefined) {
        handle = outcomes.outcomeHandle(s.name, s.dimensions);
        this.#handle = handle;
        this.#for = outcomes;
      }
      outcomes.countOutcome(handle, value);
    } catch (error) {
      try {
        outcomes.reportFailure(error, `${WHO} ${s.name}`);
      } catch {
        // Nothing to report to.
      }
    }
  }
}

function createWrapper(original: AnyFunction, settings: Settings): AnyFunction {
  const recorder = new Recorder(settings);
  const fixed = settings.outcomes;
  const holder = {
    wrapped(this: unknown, ...args: unknown[]): unknown {
      const outcomes = fixed ?? getGlobalBusinessOutcomes();
      if (outcomes === undefined) return Reflect.apply(original, this, args);
      // A throw goes to the caller untouched: nothing is counted.
      const result: unknown = Reflect.apply(original, this, args);
      if (result instanceof Promise) {
        // Counted when it resolves; a rejection stays the caller's to handle.
        void then.call(result, (value: unknown) => recorder.record(outcomes, value, args), ignore);
        return result;
      }
      recorder.record(outcomes, result, args);
      return result;
    },
  };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- taken as a method on purpose: not constructible, no prototype
  const wrapper = holder.wrapped;
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  return wrapper;
}

function describe(kind: string, key: unknown): string {
  const name =
    typeof key === 'string'
      ? key
      : typeof key === 'symbol'
        ? (key.description ?? 'symbol')
        : '(anonymous)';
  return `${WHO} can only decorate methods; \`${name}\` is ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}

/**
 * Counts a business outcome each time the decorated method succeeds: when it returns,
 * or when the promise it returns resolves; nothing when it throws or rejects. The
 * outcome is the KPI `name` (aggregation `sum`) of the `BusinessOutcomes` resolved at
 * call time, per calendar period of each `dimension`, and the monitor's
 * `business.outcome.count` (and `business.outcome.value` with `value`) tagged
 * `outcome: name`.
 *
 * - Works under TC39 decorators and legacy `experimentalDecorators` alike.
 * - The same value is returned (the very promise object for async methods), the same
 *   error thrown, with `this` as the caller bound it; `name` and `length` are kept.
 *   A hook that throws is reported to the monitor's diagnostics, never to the caller.
 * - Promises are native ones (what async methods return); any other returned value,
 *   thenables included, is the result as returned.
 * - Decorating a field, accessor or class throws a `TypeError` when the class is
 *   defined; so do bad options.
 *
 * @param name The outcome (KPI) name, such as `recommendation_generated`.
 * @param options Dimensions, value, filter and metadata hooks, the `BusinessOutcomes`.
 *
 * @example
 * ```ts
 * import { recordBusinessOutcome } from '@prsm/business-outcomes';
 *
 * class Recommendations {
 *   @recordBusinessOutcome('recommendation_generated', { dimension: 'daily' })
 *   async create(data: RecommendationData): Promise<Recommendation> {
 *     return this.store.insert(data);
 *   }
 *
 *   @recordBusinessOutcome('purchase_revenue', {
 *     dimension: ['daily', 'monthly'],
 *     value: (receipt: Receipt) => receipt.total,
 *     when: (receipt: Receipt) => receipt.status === 'paid',
 *   })
 *   checkout(cart: Cart): Receipt {
 *     return this.payments.charge(cart);
 *   }
 * }
 * ```
 */
export function recordBusinessOutcome<R = unknown>(
  name: string,
  options?: RecordBusinessOutcomeOptions<R>,
): RecordBusinessOutcomeDecorator<R> {
  const settings = resolveSettings(name, options);
  function decorate(...args: unknown[]): unknown {
    const [target, context, descriptor] = args;
    if (
      args.length === 2 &&
      typeof context === 'object' &&
      context !== null &&
      typeof (context as { kind?: unknown }).kind === 'string'
    ) {
      const c = context as { kind: string; name?: unknown };
      if (c.kind !== 'method' || typeof target !== 'function') {
        throw new TypeError(describe(c.kind, c.name));
      }
      return createWrapper(target as AnyFunction, settings);
    }
    if (
      args.length === 3 &&
      target !== null &&
      (typeof target === 'object' || typeof target === 'function') &&
      (typeof context === 'string' || typeof context === 'symbol')
    ) {
      const d = descriptor as PropertyDescriptor | undefined;
      if (
        d !== undefined &&
        d !== null &&
        typeof d === 'object' &&
        typeof d.value === 'function' &&
        d.get === undefined &&
        d.set === undefined
      ) {
        d.value = createWrapper(d.value as AnyFunction, settings);
        return d;
      }
      const kind =
        d === undefined || d === null || typeof d !== 'object'
          ? typeof d === 'number'
            ? 'parameter'
            : 'field'
          : d.get !== undefined || d.set !== undefined
            ? 'accessor'
            : 'field';
      throw new TypeError(describe(kind, context));
    }
    if (args.length === 1 && typeof target === 'function') {
      throw new TypeError(describe('class', (target as { name?: unknown }).name));
    }
    throw new TypeError(`${WHO} can only decorate methods`);
  }
  return decorate as RecordBusinessOutcomeDecorator<R>;
}
