import type { ComponentName } from '@prsm/core';
import { type MonitorPerformanceOptions, resolveSettings } from './options.js';
import {
  decorateLegacyMethod,
  decorateTc39Method,
  describeLegacyMember,
  describeMember,
  isDecoratorContext,
} from './runtime/decorate.js';

const WHO = '@monitorPerformance';

function isMethodDescriptor(descriptor: unknown): descriptor is PropertyDescriptor {
  if (typeof descriptor !== 'object' || descriptor === null) return false;
  const d = descriptor as PropertyDescriptor;
  return typeof d.value === 'function' && d.get === undefined && d.set === undefined;
}

/**
 * The decorator `@monitorPerformance(...)` returns. Its two call signatures are the
 * two decorator standards: TypeScript checks the first under TC39 decorators (the
 * default since TypeScript 5) and the second under `experimentalDecorators` (NestJS,
 * Angular), so one import type-checks in both. Only methods are accepted.
 *
 * @example
 * ```ts
 * const timed: MonitorPerformanceDecorator = monitorPerformance('marketplace');
 * class Search {
 *   @timed
 *   run(query: string): Result[] { return []; }
 * }
 * ```
 */
export interface MonitorPerformanceDecorator {
  /** TC39 decorators: `(method, context)`, returns the replacement method (same type). */
  <This, T>(value: T, context: ClassMethodDecoratorContext<This>): T;
  /** Legacy decorators: `(prototype or constructor, key, descriptor)`, returns the descriptor. */
  <T extends (...args: never) => unknown>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T>;
}

/**
 * Instruments a method: each call is timed into the `operation.duration` timer and
 * counted in `operation.calls` (and `operation.errors` with an `error.type` tag when
 * it throws or rejects, `operation.slow` past `slowThresholdMs`), all tagged with the
 * `operation` (default `ClassName.methodName`), in the component given; and runs in
 * an OpenTelemetry span of the same name.
 *
 * - Works under TC39 decorators and legacy `experimentalDecorators` alike, detected
 *   from the arguments at run time.
 * - Sync methods stay sync. A returned promise or other thenable is the very object
 *   the method returned, timed until it settles. Generator and async generator
 *   methods return an iterator over the original, timed from the first `next()` to
 *   completion.
 * - The same value is returned, the same error object thrown, with `this` as the
 *   caller bound it; `name` and `length` are kept. Instrumentation failures go to the
 *   monitor's diagnostics, never to the caller.
 * - The monitor is looked up on every call (`options.monitor`, else the global one).
 *   With none configured (the no-op monitor) the original is called directly and
 *   nothing else happens, spans included.
 * - Decorating a field, getter, setter, accessor or class throws a `TypeError` when
 *   the class is defined.
 *
 * @param component The component the operation belongs to (`marketplace`, `api_gateway`...).
 * @param operation The operation tag and span name; default `ClassName.methodName`.
 * @param options Tags, slow threshold, span attributes, tracing, monitor.
 *
 * @example
 * ```ts
 * import { Monitor, setGlobalMonitor } from '@prsm/core';
 * import { monitorPerformance } from '@prsm/decorators';
 *
 * setGlobalMonitor(new Monitor());
 *
 * class RecommendationService {
 *   @monitorPerformance('recommendation', 'generate_recommendations', { slowThresholdMs: 250 })
 *   async generate(userId: string): Promise<Item[]> {
 *     return this.model.predict(userId);
 *   }
 * }
 * ```
 */
export function monitorPerformance(
  component: ComponentName,
  operation?: string,
  options?: MonitorPerformanceOptions,
): MonitorPerformanceDecorator;
/**
 * `@monitorPerformance(component, options)`: the operation name defaults to
 * `ClassName.methodName`.
 *
 * @example
 * ```ts
 * class Payments {
 *   @monitorPerformance('payments', { tags: { provider: 'stripe' } })
 *   charge(amount: number): Receipt { return gateway.charge(amount); }
 * }
 * ```
 */
export function monitorPerformance(
  component: ComponentName,
  options?: MonitorPerformanceOptions,
): MonitorPerformanceDecorator;
export function monitorPerformance(
  component: ComponentName,
  operationOrOptions?: string | MonitorPerformanceOptions,
  maybeOptions?: MonitorPerformanceOptions,
): MonitorPerformanceDecorator {
  let operation: unknown = operationOrOptions;
  let options: unknown = maybeOptions;
  if (typeof operationOrOptions === 'object' && operationOrOptions !== null) {
    if (maybeOptions !== undefined) {
      throw new TypeError(`${WHO}: operation must be a string when options follow it`);
    }
    operation = undefined;
    options = operationOrOptions;
  }
  const settings = resolveSettings(WHO, component, operation, options);
  function decorate(...args: unknown[]): unknown {
    const [target, context, descriptor] = args;
    const argc = args.length;
    if (isDecoratorContext(argc, context)) {
      if (context.kind !== 'method') {
        throw new TypeError(`${WHO} can only decorate methods; ${describeMember(context)}`);
      }
      return decorateTc39Method(target, context, settings);
    }
    if (
      argc === 3 &&
      target !== null &&
      (typeof target === 'object' || typeof target === 'function') &&
      (typeof context === 'string' || typeof context === 'symbol') &&
      isMethodDescriptor(descriptor)
    ) {
      return decorateLegacyMethod(target, context, descriptor, settings);
    }
    throw new TypeError(
      `${WHO} can only decorate methods; ${describeLegacyMember(target, context, descriptor)}`,
    );
  }
  return decorate as MonitorPerformanceDecorator;
}
