import type { Tags } from '@prsm/core';

/**
 * The reflect-metadata key under which every decorated method (the wrapper function)
 * carries its {@link MonitorPerformanceMetadata}; legacy decorators also store it on
 * the class prototype (or constructor) and property key.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * const meta = Reflect.getMetadata(MONITOR_PERFORMANCE_METADATA, Checkout.prototype.run) as
 *   MonitorPerformanceMetadata;
 * console.log(meta.component, meta.operation); // 'marketplace' 'Checkout.run'
 * ```
 */
export const MONITOR_PERFORMANCE_METADATA = 'prsm:monitorPerformance';

/**
 * What a decorated method says about its instrumentation, readable through
 * reflect-metadata under {@link MONITOR_PERFORMANCE_METADATA} (a NestJS `Reflector`
 * reads it with `reflector.get(MONITOR_PERFORMANCE_METADATA, context.getHandler())`).
 *
 * @example
 * ```ts
 * const meta: MonitorPerformanceMetadata | undefined =
 *   Reflect.getMetadata(MONITOR_PERFORMANCE_METADATA, handler);
 * if (meta?.slowThresholdMs !== undefined) console.log(`${meta.operation} is slow past ${meta.slowThresholdMs} ms`);
 * ```
 */
export interface MonitorPerformanceMetadata {
  readonly component: string;
  /** The operation tag and span name (`ClassName.methodName` unless one was given). */
  readonly operation: string;
  /** The method's name (a symbol's description). */
  readonly method: string;
  readonly tags: Tags | undefined;
  readonly slowThresholdMs: number | undefined;
  /** Whether calls run in spans. */
  readonly trace: boolean;
}

/** The part of reflect-metadata used here; the package is never required at run time. */
interface ReflectMetadata {
  getOwnMetadataKeys(target: object, propertyKey?: string | symbol): unknown[];
  getOwnMetadata(key: unknown, target: object, propertyKey?: string | symbol): unknown;
  defineMetadata(key: unknown, value: unknown, target: object, propertyKey?: string | symbol): void;
}

function reflectMetadata(): ReflectMetadata | undefined {
  const api = Reflect as unknown as Partial<ReflectMetadata>;
  return typeof api.getOwnMetadataKeys === 'function' &&
    typeof api.getOwnMetadata === 'function' &&
    typeof api.defineMetadata === 'function'
    ? (api as ReflectMetadata)
    : undefined;
}

/**
 * Copies the metadata stored on the original function (route, guard or interceptor
 * metadata of NestJS-style decorators applied before ours) to the wrapper, and
 * stores ours on the wrapper (and on `target` + `key` when given). Metadata stored on
 * `target` + `key` needs no copy: the wrapper takes over the same property. Does
 * nothing without reflect-metadata loaded at decoration time.
 *
 * @internal
 */
export function carryMetadata(
  original: object,
  wrapper: object,
  own: MonitorPerformanceMetadata,
  target?: object,
  key?: string | symbol,
): void {
  const api = reflectMetadata();
  if (api === undefined) return;
  try {
    for (const k of api.getOwnMetadataKeys(original)) {
      api.defineMetadata(k, api.getOwnMetadata(k, original), wrapper);
    }
    api.defineMetadata(MONITOR_PERFORMANCE_METADATA, own, wrapper);
    if (target !== undefined && key !== undefined) {
      api.defineMetadata(MONITOR_PERFORMANCE_METADATA, own, target, key);
    }
  } catch {
    // A broken metadata polyfill must not break the class definition.
  }
}
