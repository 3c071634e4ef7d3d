/**
 * The options of `@monitorPerformance`, `@monitored` and `instrument()`, and their
 * checking. Every mistake is a `TypeError` naming the option, thrown when the
 * decorator is built (at class definition), never on a call. Imports only types.
 */
import type { ComponentName, MonitorApi, Tags } from '@prsm/core';

/**
 * Span attributes computed from a call's arguments by the opt-in
 * {@link MonitorPerformanceOptions.attributes} hook.
 *
 * @example
 * ```ts
 * const attributes: SpanAttributesOf = { 'order.items': 3, 'order.express': true };
 * ```
 */
export type SpanAttributesOf = Record<string, string | number | boolean>;

/**
 * What `@monitorPerformance`, `@monitored` and `instrument()` accept besides the
 * component and operation names.
 *
 * @example
 * ```ts
 * class Checkout {
 *   @monitorPerformance('marketplace', 'checkout', {
 *     tags: { tier: 'enterprise' },
 *     slowThresholdMs: 500,
 *     attributes: ([order]) => ({ 'order.items': (order as Order).items.length }),
 *   })
 *   async run(order: Order): Promise<Receipt> {
 *     return pay(order);
 *   }
 * }
 * ```
 */
export interface MonitorPerformanceOptions {
  /**
   * Fixed tags added to every series of the operation (low-cardinality values only).
   * `operation` and `error.type` are set by the decorator and cannot be given here.
   */
  readonly tags?: Tags;
  /**
   * Calls that take longer (ms) increment the `operation.slow` counter and carry the
   * span attribute `prsm.slow=true`. Default: no threshold.
   */
  readonly slowThresholdMs?: number;
  /**
   * Opt-in: span attributes computed from the call's arguments. Arguments are never
   * recorded otherwise. Only called when the span is recording; a hook that throws
   * is reported to the monitor's diagnostics and the call goes on.
   */
  readonly attributes?: (args: readonly unknown[]) => SpanAttributesOf;
  /** `false`: record metrics only, start no span. Default `true`. */
  readonly trace?: boolean;
  /**
   * The monitor to record on. Default: the global monitor (`getGlobalMonitor()` of
   * `@prsm/core`), looked up on every call, so setting it after decoration works.
   */
  readonly monitor?: MonitorApi;
  /**
   * Which returned thenables are timed until they settle. `'all'` (default): native
   * promises (observed with one `then` call) and any other object with a `then`
   * method, whose `then` is intercepted rather than called, so a lazy thenable (a
   * knex, drizzle or mongoose query) still runs once, when the caller awaits it.
   * `'promises'`: only native promises; other thenables are timed until the method
   * returns.
   */
  readonly thenables?: 'all' | 'promises';
}

/**
 * Options of the class decorator `@monitored`: those of `@monitorPerformance` plus the
 * methods to leave alone.
 *
 * @example
 * ```ts
 * @monitored('recommendation', { exclude: ['toJSON'], slowThresholdMs: 200 })
 * class Recommender {
 *   generate(userId: string): Item[] { return []; }
 *   toJSON(): object { return {}; }
 * }
 * ```
 */
export interface MonitoredOptions extends MonitorPerformanceOptions {
  /** Method names (symbol methods: their description) not to instrument. */
  readonly exclude?: readonly string[];
}

/**
 * Options of {@link instrument}: a component, an optional operation name (default:
 * the function's name) and the options of `@monitorPerformance`.
 *
 * @example
 * ```ts
 * const fetchPrices = instrument(rawFetchPrices, { component: 'pricing', operation: 'fetch_prices' });
 * ```
 */
export interface InstrumentFunctionOptions extends MonitorPerformanceOptions {
  /** The component the operation belongs to (`MonitoringComponent.API_GATEWAY`, `'billing'`...). */
  readonly component: ComponentName;
  /** The operation tag and span name. Default: the function's `name`. */
  readonly operation?: string;
}

/** Options after checking, shared by every decorated member of one decorator call. @internal */
export interface Settings {
  readonly component: string;
  /** The explicit operation name; undefined: `ClassName.methodName`. */
  readonly operation: string | undefined;
  readonly tags: Tags | undefined;
  /** Infinity when no threshold was given. */
  readonly slowThresholdMs: number;
  readonly attributes: ((args: readonly unknown[]) => SpanAttributesOf) | undefined;
  readonly trace: boolean;
  readonly monitor: MonitorApi | undefined;
  readonly allThenables: boolean;
  readonly exclude: ReadonlySet<string>;
}

const RESERVED_TAGS = new Set(['operation', 'error.type']);
const KNOWN = new Set(['tags', 'slowThresholdMs', 'attributes', 'trace', 'monitor', 'thenables']);

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 255;
}

/**
 * Checks the options of one decorator call. Throws a `TypeError` naming the option.
 *
 * @internal
 */
export function resolveSettings(
  who: string,
  component: unknown,
  operation: unknown,
  options: unknown,
  extraKeys: readonly string[] = [],
): Settings {
  if (!isName(component)) {
    throw new TypeError(`${who}: component must be a non-empty string of at most 255 characters`);
  }
  if (operation !== undefined && !isName(operation)) {
    throw new TypeError(`${who}: operation must be a non-empty string of at most 255 characters`);
  }
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${who}: options must be an object`);
  }
  const o = options as MonitoredOptions;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key) && !extraKeys.includes(key)) {
      throw new TypeError(`${who}: unknown option ${key}`);
    }
  }
  let tags: Tags | undefined;
  if (o.tags !== undefined) {
    if (o.tags === null || typeof o.tags !== 'object' || Array.isArray(o.tags)) {
      throw new TypeError(`${who}: tags must map names to strings`);
    }
    const copy: Record<string, string> = {};
    for (const [key, value] of Object.entries(o.tags)) {
      if (typeof value !== 'string') {
        throw new TypeError(`${who}: tags.${key} must be a string, got ${typeof value}`);
      }
      if (RESERVED_TAGS.has(key)) {
        throw new TypeError(`${who}: tags.${key} is set by the decorator and cannot be given`);
      }
      copy[key] = value;
    }
    tags = Object.freeze(copy);
  }
  const slow = o.slowThresholdMs;
  if (slow !== undefined && (typeof slow !== 'number' || !(slow >= 0) || slow === Infinity)) {
    throw new TypeError(`${who}: slowThresholdMs must be a finite number >= 0`);
  }
  if (o.attributes !== undefined && typeof o.attributes !== 'function') {
    throw new TypeError(`${who}: attributes must be a function (args) => attributes`);
  }
  if (o.trace !== undefined && typeof o.trace !== 'boolean') {
    throw new TypeError(`${who}: trace must be a boolean`);
  }
  const monitor = o.monitor;
  if (
    monitor !== undefined &&
    (monitor === null ||
      typeof monitor !== 'object' ||
      typeof monitor.timer !== 'function' ||
      typeof monitor.counter !== 'function')
  ) {
    throw new TypeError(`${who}: monitor must be a Monitor (with timer() and counter())`);
  }
  if (o.thenables !== undefined && o.thenables !== 'all' && o.thenables !== 'promises') {
    throw new TypeError(`${who}: thenables must be 'all' or 'promises'`);
  }
  const exclude = new Set<string>();
  if (o.exclude !== undefined) {
    if (!Array.isArray(o.exclude) || !o.exclude.every((name) => typeof name === 'string')) {
      throw new TypeError(`${who}: exclude must be an array of method names`);
    }
    for (const name of o.exclude) exclude.add(name);
  }
  return Object.freeze({
    component,
    operation,
    tags,
    slowThresholdMs: slow ?? Infinity,
    attributes: o.attributes,
    trace: o.trace ?? true,
    monitor,
    allThenables: o.thenables !== 'promises',
    exclude,
  });
}
