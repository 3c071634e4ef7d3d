import {
  type Context,
  context,
  type Exception,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import {
  type BoundCounter,
  type BoundHistogram,
  type Clock,
  type Counter,
  DiagnosticCode,
  type MonitorApi,
  systemClock,
  type Tags,
} from '@prsm/core';
import type { Settings } from '../options.js';
import type { MonitorPerformanceMetadata } from './metadata.js';
import { currentTracer } from './tracer.js';

/** What the original function is: decides how its result is observed. */
export type FunctionKind = 'function' | 'generator' | 'async-generator';

/** A function as the wrappers see it. */
export type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** Error types kept with a bound counter per handles; further ones bind on each error. */
const MAX_CACHED_ERROR_TYPES = 64;

const NOOP_COUNTER: BoundCounter = Object.freeze({ inc: (): void => {} });
const NOOP_HISTOGRAM: BoundHistogram = Object.freeze({
  record: (): void => {},
  recordError: (): void => {},
});

interface DiagnosticsSink {
  error(code: string, error: unknown, context?: Record<string, unknown>): void;
}

/**
 * Everything one operation records into on one monitor, resolved once: re-resolved
 * only when the monitor resolved for a call is another object.
 *
 * @internal
 */
export class Handles {
  readonly monitor: MonitorApi;
  readonly duration: BoundHistogram;
  readonly calls: BoundCounter;
  readonly slow: BoundCounter;
  readonly errors: Counter | undefined;
  readonly errorHandles = new Map<string, BoundCounter>();
  /** Undefined: `performance.now()` (the monitor's own choice for its system clock). */
  readonly clock: Clock | undefined;
  readonly tags: Tags;
  readonly #diagnostics: DiagnosticsSink | undefined;
  readonly #operation: string;

  constructor(
    monitor: MonitorApi,
    duration: BoundHistogram,
    calls: BoundCounter,
    slow: BoundCounter,
    errors: Counter | undefined,
    clock: Clock | undefined,
    tags: Tags,
    operation: string,
  ) {
    this.monitor = monitor;
    this.duration = duration;
    this.calls = calls;
    this.slow = slow;
    this.errors = errors;
    this.clock = clock;
    this.tags = tags;
    this.#operation = operation;
    this.#diagnostics = diagnosticsOf(monitor);
  }

  /** Reports an internal failure to the monitor's diagnostics; silent without them. Never throws. */
  report(error: unknown): void {
    try {
      this.#diagnostics?.error(DiagnosticCode.INTERNAL_ERROR, error, {
        where: '@prsm/decorators',
        operation: this.#operation,
      });
    } catch {
      // Nothing left to tell.
    }
  }
}

function diagnosticsOf(monitor: MonitorApi): DiagnosticsSink | undefined {
  try {
    const diagnostics = (monitor as { diagnostics?: Partial<DiagnosticsSink> }).diagnostics;
    return typeof diagnostics?.error === 'function' ? (diagnostics as DiagnosticsSink) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The clock durations are measured on: the monitor's injected clock (so a
 * `ManualClock` decides durations in tests, as it does for the monitor's own timers),
 * `performance.now()` for the system clock or a monitor without one.
 */
function clockOf(monitor: MonitorApi): Clock | undefined {
  try {
    const clock = (monitor as { clock?: Partial<Clock> }).clock;
    if (clock === undefined || clock === null || clock === systemClock) return undefined;
    return typeof clock.now === 'function' ? (clock as Clock) : undefined;
  } catch {
    return undefined;
  }
}

/** Node's global `performance` is a lazy getter: read it once (~6 ns saved per read). */
const perf = performance;

function now(h: Handles): number {
  const clock = h.clock;
  if (clock === undefined) return perf.now();
  try {
    return clock.now();
  } catch (error) {
    h.report(error);
    return NaN;
  }
}

/**
 * The `error.type` tag of a thrown value: its class name (`TypeError`,
 * `PaymentDeclinedError`, `Object` for a plain object), `typeof` for anything that is
 * not an object (`string`, `number`, `undefined`...), `null` for null.
 *
 * @internal
 */
export function errorType(error: unknown): string {
  if (error === null) return 'null';
  const type = typeof error;
  if (type !== 'object' && type !== 'function') return type;
  try {
    const ctor = (error as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name.length > 0) {
      return ctor.name.length > 128 ? ctor.name.slice(0, 128) : ctor.name;
    }
  } catch {
    // A throwing `constructor` getter: fall through.
  }
  return type;
}

function exceptionOf(error: unknown): Exception {
  if (error instanceof Error || typeof error === 'string') return error;
  try {
    return String(error);
  } catch {
    return errorType(error);
  }
}

function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return error.message;
    return typeof error === 'string' ? error : errorType(error);
  } catch {
    return errorType(error);
  }
}

/** The name of a class, undefined when it has none. @internal */
export function classNameOf(ctor: unknown): string | undefined {
  if (typeof ctor !== 'function') return undefined;
  try {
    const name: unknown = ctor.name;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The global provider's tracer; undefined while no provider is registered (then no
 * span is started: the API's would be a no-op) or when looking it up failed (reported).
 */
export function tracerFor(h: Handles): Tracer | undefined {
  try {
    return currentTracer();
  } catch (error) {
    h.report(error);
    return undefined;
  }
}

/** The active context, read once per call (the span's parent and the base of its context). */
export function activeContext(h: Handles): Context {
  try {
    return context.active();
  } catch (error) {
    h.report(error);
    return ROOT_CONTEXT;
  }
}

/** Whether a result may be a thenable: an object or a function. */
export function isObjectLike(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function applyIn(fn: AnyFunction, self: unknown, args: unknown[]): unknown {
  return Reflect.apply(fn, self, args);
}

/**
 * One instrumented function: its names, settings, cached handles and span options,
 * and what runs on each call. Shared by every call; holds no per-call state.
 *
 * @internal
 */
export class Operation {
  readonly settings: Settings;
  /** The method's (or function's) name as recorded: a symbol's description. */
  readonly method: string;
  readonly kind: FunctionKind;
  /** What reflect-metadata readers see; `operation` reads the current name. */
  readonly metadata: MonitorPerformanceMetadata;
  /** Finds the class from a call's `this` when a TC39 decorator could not tell it. */
  resolveOwner: ((self: unknown) => unknown) | undefined;
  #owner: unknown;
  #name: string | undefined;
  #handles: Handles | undefined;
  #spanOptions: SpanOptions | undefined;

  /**
   * @param owner The class the method belongs to (its constructor), when known. Its
   *   name is read at the first call, after the class is fully defined (some
   *   compilers name a class only once its static initializers have run).
   */
  constructor(settings: Settings, method: string, owner: unknown, kind: FunctionKind) {
    this.settings = settings;
    this.method = method;
    this.kind = kind;
    this.#owner = owner;
    const name = (): string => this.name();
    this.metadata = Object.freeze({
      component: settings.component,
      get operation(): string {
        return name();
      },
      method,
      tags: settings.tags,
      slowThresholdMs: Number.isFinite(settings.slowThresholdMs)
        ? settings.slowThresholdMs
        : undefined,
      trace: settings.trace,
    });
  }

  /** Whether the class of the method is known. */
  get hasOwner(): boolean {
    return this.#owner !== undefined;
  }

  /** The class name, read now. */
  get className(): string | undefined {
    return classNameOf(this.#owner);
  }

  /**
   * Sets the class when it was not known at decoration (TC39 method decorators learn
   * it from an initializer, from `@monitored` or from the first call). Handles bound
   * under the old name are dropped.
   */
  adoptOwner(owner: unknown): void {
    if (this.#owner !== undefined || typeof owner !== 'function') return;
    this.#owner = owner;
    this.#name = undefined;
    this.#handles = undefined;
    this.#spanOptions = undefined;
  }

  /** The operation tag and span name (fixed at the first call). */
  name(): string {
    if (this.#name !== undefined) return this.#name;
    if (this.settings.operation !== undefined) return this.settings.operation;
    const className = this.className;
    return className === undefined ? this.method : `${className}.${this.method}`;
  }

  /** The handles for `monitor`, cached until another monitor is resolved. */
  handles(monitor: MonitorApi, self: unknown): Handles {
    const h = this.#handles;
    if (h !== undefined && h.monitor === monitor) return h;
    return this.#bind(monitor, self);
  }

  /**
   * A call of a plain (sync, async or thenable-returning) function in a span of
   * `tracer`. (Calls without a span are timed by the wrapper itself, see `wrap.ts`, so
   * that their arguments are never materialized.)
   */
  callTraced(
    h: Handles,
    tracer: Tracer,
    fn: AnyFunction,
    self: unknown,
    ...args: unknown[]
  ): unknown {
    const parent = activeContext(h);
    const span = this.startSpan(h, tracer, args, parent);
    const ctx = span === undefined ? undefined : this.contextFor(h, span, parent);
    const start = now(h);
    let result: unknown;
    try {
      result =
        ctx === undefined
          ? Reflect.apply(fn, self, args)
          : context.with(ctx, applyIn, undefined, fn, self, args);
    } catch (error) {
      this.finish(h, start, span, error, true);
      throw error;
    }
    if (isObjectLike(result) && this.observe(h, start, span, result)) return result;
    if (span === undefined) this.succeeded(h, start);
    else this.finish(h, start, span, undefined, false);
    return result;
  }

  /** `finish` for the common case: a success without a span. Never throws. */
  succeeded(h: Handles, start: number): void {
    try {
      const ms = now(h) - start;
      h.duration.record(ms);
      h.calls.inc();
      if (ms > this.settings.slowThresholdMs) h.slow.inc();
    } catch (error) {
      h.report(error);
    }
  }

  /** Starts the call's span under `parent`; undefined when tracing failed (reported). */
  startSpan(
    h: Handles,
    tracer: Tracer,
    args: readonly unknown[],
    parent: Context,
  ): Span | undefined {
    let span: Span;
    try {
      span = tracer.startSpan(this.name(), (this.#spanOptions ??= this.#makeSpanOptions()), parent);
    } catch (error) {
      h.report(error);
      return undefined;
    }
    const attributes = this.settings.attributes;
    if (attributes !== undefined) {
      try {
        if (span.isRecording()) span.setAttributes(attributes(args.slice()));
      } catch (error) {
        h.report(error);
      }
    }
    return span;
  }

  /**
   * The context to run the call in: undefined when the span does not record (a no-op
   * span has nothing to propagate, and switching contexts costs).
   */
  contextFor(h: Handles, span: Span, parent: Context): Context | undefined {
    try {
      return span.isRecording() ? trace.setSpan(parent, span) : undefined;
    } catch (error) {
      h.report(error);
      return undefined;
    }
  }

  /** The start of a duration on the handles' clock. */
  now(h: Handles): number {
    return now(h);
  }

  /** Records the outcome of one call and ends its span. Never throws. */
  finish(h: Handles, start: number, span: Span | undefined, error: unknown, failed: boolean): void {
    let slow = false;
    let traceId: string | undefined;
    try {
      if (span !== undefined && span.isRecording()) traceId = span.spanContext().traceId;
    } catch (e) {
      h.report(e);
    }
    try {
      const ms = now(h) - start;
      h.calls.inc();
      if (failed) {
        h.duration.recordError(ms, traceId);
        this.#errorCounter(h, errorType(error)).inc();
      } else {
        h.duration.record(ms, traceId);
      }
      if (ms > this.settings.slowThresholdMs) {
        slow = true;
        h.slow.inc();
      }
    } catch (e) {
      h.report(e);
    }
    if (span === undefined) return;
    try {
      if (traceId !== undefined) {
        if (slow) span.setAttribute('prsm.slow', true);
        if (failed) {
          span.recordException(exceptionOf(error));
          span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
        }
      }
    } catch (e) {
      h.report(e);
    }
    try {
      span.end();
    } catch (e) {
      h.report(e);
    }
  }

  /**
   * Times a returned thenable until it settles; the caller keeps the original object.
   * False when `result` is not a thenable to observe.
   *
   * A native promise is observed by calling its `then` once with handlers that record
   * and never throw (the derived promise always fulfils, so observing cannot cause an
   * unhandled rejection). Any other thenable may be lazy (a query builder whose `then`
   * runs the query): calling `then` ourselves would run it twice. So its `then` is
   * intercepted instead: an own `then` property delegates the caller's first `then`
   * (their `await`) to the original with recording callbacks, then removes itself.
   */
  observe(h: Handles, start: number, span: Span | undefined, result: object): boolean {
    if (!(result instanceof Promise)) {
      return this.settings.allThenables && this.#intercept(h, start, span, result);
    }
    let then: unknown;
    try {
      if (!this.settings.allThenables && !(result instanceof Promise)) return false;
      then = (result as { then?: unknown }).then;
    } catch (error) {
      h.report(error);
      return false;
    }
    if (typeof then !== 'function') return false;
    let settled = false;
    const onFulfilled = (): void => {
      if (settled) return;
      settled = true;
      if (span === undefined) this.succeeded(h, start);
      else this.finish(h, start, span, undefined, false);
    };
    const onRejected = (error: unknown): void => {
      if (settled) return;
      settled = true;
      this.finish(h, start, span, error, true);
    };
    try {
      (then as (this: unknown, onFulfilled: unknown, onRejected: unknown) => unknown).call(
        result,
        onFulfilled,
        onRejected,
      );
    } catch (error) {
      // A `then` that throws: awaiting the object rejects with the same error.
      onRejected(error);
    }
    return true;
  }

  #intercept(h: Handles, start: number, span: Span | undefined, result: object): boolean {
    let original: unknown;
    let own: PropertyDescriptor | undefined;
    try {
      original = (result as { then?: unknown }).then;
      own = Object.getOwnPropertyDescriptor(result, 'then');
    } catch (error) {
      h.report(error);
      return false;
    }
    if (typeof original !== 'function') return false;
    const then = original as (this: unknown, ...callbacks: unknown[]) => unknown;
    let settled = false;
    const fulfilled = (): void => {
      if (settled) return;
      settled = true;
      if (span === undefined) this.succeeded(h, start);
      else this.finish(h, start, span, undefined, false);
    };
    const rejected = (error: unknown): void => {
      if (settled) return;
      settled = true;
      this.finish(h, start, span, error, true);
    };
    const restore = (): void => {
      try {
        if (own === undefined) delete (result as { then?: unknown }).then;
        else Object.defineProperty(result, 'then', own);
      } catch (error) {
        h.report(error);
      }
    };
    const intercept = function (
      this: unknown,
      onFulfilled?: unknown,
      onRejected?: unknown,
    ): unknown {
      restore();
      try {
        return then.call(
          this,
          (value: unknown): unknown => {
            fulfilled();
            return typeof onFulfilled === 'function'
              ? (onFulfilled as (v: unknown) => unknown)(value)
              : value;
          },
          (error: unknown): unknown => {
            rejected(error);
            if (typeof onRejected === 'function') {
              return (onRejected as (e: unknown) => unknown)(error);
            }
            throw error;
          },
        );
      } catch (error) {
        // A `then` that throws: the caller's await rejects with this same error.
        rejected(error);
        throw error;
      }
    };
    try {
      Object.defineProperty(result, 'then', {
        value: intercept,
        configurable: true,
        writable: true,
        enumerable: false,
      });
    } catch {
      // A frozen thenable cannot be intercepted: time it to the return instead.
      return false;
    }
    return true;
  }

  #errorCounter(h: Handles, type: string): BoundCounter {
    let counter = h.errorHandles.get(type);
    if (counter !== undefined) return counter;
    if (h.errors === undefined) return NOOP_COUNTER;
    counter = h.errors.bind({ ...h.tags, 'error.type': type });
    if (h.errorHandles.size < MAX_CACHED_ERROR_TYPES) h.errorHandles.set(type, counter);
    return counter;
  }

  #makeSpanOptions(): SpanOptions {
    const attributes: Record<string, string> = {
      'prsm.component': this.settings.component,
      'code.function': this.method,
    };
    const className = this.className;
    if (className !== undefined) attributes['code.namespace'] = className;
    return Object.freeze({ kind: SpanKind.INTERNAL, attributes: Object.freeze(attributes) });
  }

  #bind(monitor: MonitorApi, self: unknown): Handles {
    if (this.#owner === undefined && this.resolveOwner !== undefined) {
      try {
        this.adoptOwner(this.resolveOwner(self));
      } catch {
        // Stay with the method name alone.
      }
    }
    const operation = (this.#name = this.name());
    const tags: Tags = Object.freeze({ ...this.settings.tags, operation });
    let h: Handles;
    try {
      const options = { component: this.settings.component };
      h = new Handles(
        monitor,
        monitor
          .timer('operation.duration', {
            ...options,
            description: 'Duration of instrumented operations (ms)',
          })
          .bind(tags),
        monitor
          .counter('operation.calls', {
            ...options,
            description: 'Calls of instrumented operations',
          })
          .bind(tags),
        this.settings.slowThresholdMs < Infinity
          ? monitor
              .counter('operation.slow', {
                ...options,
                description: 'Calls of instrumented operations over their slowThresholdMs',
              })
              .bind(tags)
          : NOOP_COUNTER,
        monitor.counter('operation.errors', {
          ...options,
          description: 'Failed calls of instrumented operations, by error.type',
        }),
        clockOf(monitor),
        tags,
        operation,
      );
    } catch (error) {
      h = new Handles(
        monitor,
        NOOP_HISTOGRAM,
        NOOP_COUNTER,
        NOOP_COUNTER,
        undefined,
        undefined,
        tags,
        operation,
      );
      h.report(error);
    }
    this.#handles = h;
    return h;
  }
}
