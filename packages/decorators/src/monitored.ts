import type { ComponentName } from '@prsm/core';
import { type MonitoredOptions, resolveSettings } from './options.js';
import {
  describeLegacyMember,
  describeMember,
  instrumentClass,
  isDecoratorContext,
} from './runtime/decorate.js';

const WHO = '@monitored';

/**
 * The class decorator `@monitored(...)` returns, typed for both decorator standards
 * (TC39 `(class, context)` and legacy `(constructor)`). It changes the class in place
 * and returns nothing.
 *
 * @example
 * ```ts
 * const monitoredService: MonitoredDecorator = monitored('marketplace');
 * @monitoredService
 * class Catalog { list(): Item[] { return []; } }
 * ```
 */
export interface MonitoredDecorator {
  /** TC39 decorators. */
  <C extends abstract new (...args: never) => unknown>(
    value: C,
    context: ClassDecoratorContext<C>,
  ): void;
  /** Legacy decorators. */
  <C extends abstract new (...args: never) => unknown>(target: C): void;
}

/**
 * Instruments every own prototype method of a class with `@monitorPerformance`
 * semantics: operation `ClassName.methodName`, the component and options given. The
 * constructor, getters, setters, static methods, `#private` methods, methods listed
 * in `exclude` and methods already decorated with `@monitorPerformance` are left as
 * they are (the latter keep their own options). Works under TC39 and legacy
 * decorators.
 *
 * @param component The component every method's operation belongs to.
 * @param options Those of `@monitorPerformance`, plus `exclude`.
 *
 * @example
 * ```ts
 * @monitored('marketplace', { exclude: ['toJSON'] })
 * class SearchService {
 *   async search(query: string): Promise<Item[]> { return index.query(query); }
 *
 *   @monitorPerformance('marketplace', 'marketplace_ranking', { slowThresholdMs: 50 })
 *   rank(items: Item[]): Item[] { return items; } // keeps its own options
 *
 *   toJSON(): object { return {}; } // not instrumented
 * }
 * ```
 */
export function monitored(
  component: ComponentName,
  options?: MonitoredOptions,
): MonitoredDecorator {
  const settings = resolveSettings(WHO, component, undefined, options, ['exclude']);
  function decorate(...args: unknown[]): void {
    const [target, context, descriptor] = args;
    const argc = args.length;
    if (isDecoratorContext(argc, context)) {
      if (context.kind !== 'class') {
        throw new TypeError(
          `${WHO} can only decorate classes (use @monitorPerformance on members); ${describeMember(context)}`,
        );
      }
    } else if (argc !== 1) {
      throw new TypeError(
        `${WHO} can only decorate classes (use @monitorPerformance on members); ${describeLegacyMember(
          target,
          context,
          descriptor,
        )}`,
      );
    }
    if (typeof target !== 'function') {
      throw new TypeError(`${WHO} can only decorate classes`);
    }
    instrumentClass(target, settings);
  }
  return decorate;
}
