/**
 * A minimal OpenTelemetry tracer provider and an AsyncLocalStorage context manager,
 * for users who have not set up the OpenTelemetry SDK: `new Monitor({ tracing: true })`
 * registers them, so decorated calls form parent/child spans across `await` and land
 * in the monitor's trace store. Always samples; no exporters (the trace store and,
 * later, our exporters read the spans).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Attributes,
  type AttributeValue,
  type Context,
  type ContextManager,
  type Exception,
  type HrTime,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  trace,
  type Tracer,
  type TracerProvider,
  TraceFlags,
  context as contextApi,
} from '@opentelemetry/api';
import type { FinishedSpan } from './span-processor.js';

/** What the provider hands finished spans to. @internal */
export interface SpanSink {
  onEnd(span: FinishedSpan): void;
}

const MAX_ATTRIBUTES = 128;
const MAX_EVENTS = 32;
const ids = Buffer.allocUnsafe(16);

function randomId(bytes: 8 | 16): string {
  for (;;) {
    for (let i = 0; i < bytes; i += 4) ids.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, i);
    const id = ids.toString('hex', 0, bytes);
    if (!/^0+$/.test(id)) return id;
  }
}

function msToHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function timeInputToMs(time: TimeInput): number {
  if (typeof time === 'number') return time;
  if (time instanceof Date) return time.getTime();
  return time[0] * 1000 + time[1] / 1e6;
}

/** Times of a span: epoch at start from the clock, durations from the monotonic clock. @internal */
export interface SpanClock {
  now(): number;
  monotonic(): number;
}

class MinimalSpan implements Span, FinishedSpan {
  readonly attributes: Attributes = {};
  readonly events: { name: string; attributes: Attributes | undefined; timeMs: number }[] = [];
  readonly links: Link[] = [];
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  name: string;
  startTime: HrTime;
  endTime: HrTime = [0, 0];
  readonly #context: SpanContext;
  readonly #sink: SpanSink;
  readonly #clock: SpanClock;
  readonly #startMs: number;
  readonly #startMonotonic: number;
  #ended = false;

  constructor(
    name: string,
    spanContext: SpanContext,
    parent: SpanContext | undefined,
    options: SpanOptions,
    sink: SpanSink,
    clock: SpanClock,
  ) {
    this.name = name;
    this.#context = spanContext;
    this.parentSpanContext = parent;
    this.kind = options.kind ?? SpanKind.INTERNAL;
    this.#sink = sink;
    this.#clock = clock;
    this.#startMonotonic = clock.monotonic();
    this.#startMs =
      options.startTime === undefined ? clock.now() : timeInputToMs(options.startTime);
    this.startTime = msToHrTime(this.#startMs);
    if (options.attributes !== undefined) this.setAttributes(options.attributes);
    if (options.links !== undefined) this.links.push(...options.links.slice(0, MAX_EVENTS));
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (this.#ended || value === undefined) return this;
    if (!(key in this.attributes) && Object.keys(this.attributes).length >= MAX_ATTRIBUTES) {
      return this;
    }
    this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const [key, value] of Object.entries(attributes)) this.setAttribute(key, value);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.#ended || this.events.length >= MAX_EVENTS) return this;
    const isTime =
      typeof attributesOrTime === 'number' ||
      attributesOrTime instanceof Date ||
      Array.isArray(attributesOrTime);
    const attributes = isTime ? undefined : attributesOrTime;
    const at = isTime ? attributesOrTime : time;
    this.events.push({
      name,
      attributes,
      timeMs: at === undefined ? this.#clock.now() : timeInputToMs(at),
    });
    return this;
  }

  addLink(link: Link): this {
    if (!this.#ended && this.links.length < MAX_EVENTS) this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.#ended) return this;
    // OK is final; UNSET never overrides a status already set.
    if (this.status.code === SpanStatusCode.OK || status.code === SpanStatusCode.UNSET) return this;
    this.status = { ...status };
    return this;
  }

  updateName(name: string): this {
    if (!this.#ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.#ended) return;
    this.#ended = true;
    const endMs =
      endTime === undefined
        ? this.#startMs + (this.#clock.monotonic() - this.#startMonotonic)
        : timeInputToMs(endTime);
    this.endTime = msToHrTime(Math.max(endMs, this.#startMs));
    this.#sink.onEnd(this);
  }

  isRecording(): boolean {
    return !this.#ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception;
    } else if (exception !== null && typeof exception === 'object') {
      const name = exception.name ?? exception.code;
      if (name !== undefined) attributes['exception.type'] = String(name);
      if (exception.message !== undefined) attributes['exception.message'] = exception.message;
      if (exception.stack !== undefined) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes, time);
  }
}

class MinimalTracer implements Tracer {
  readonly #sink: SpanSink;
  readonly #clock: SpanClock;

  constructor(sink: SpanSink, clock: SpanClock) {
    this.#sink = sink;
    this.#clock = clock;
  }

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = contextApi.active()): Span {
    const parent = options.root === true ? undefined : trace.getSpanContext(ctx);
    const validParent = parent !== undefined && isSpanContextValid(parent) ? parent : undefined;
    const spanContext: SpanContext = {
      traceId: validParent?.traceId ?? randomId(16),
      spanId: randomId(8),
      traceFlags: TraceFlags.SAMPLED,
      ...(validParent?.traceState === undefined ? {} : { traceState: validParent.traceState }),
    };
    return new MinimalSpan(name, spanContext, validParent, options, this.#sink, this.#clock);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    a?: SpanOptions | F,
    b?: Context | F,
    c?: F,
  ): ReturnType<F> {
    let options: SpanOptions = {};
    let ctx: Context = contextApi.active();
    let fn: F;
    if (typeof a === 'function') fn = a;
    else if (typeof b === 'function') {
      options = a ?? {};
      fn = b;
    } else {
      options = a ?? {};
      ctx = b ?? ctx;
      fn = c!;
    }
    const span = this.startSpan(name, options, ctx);
    return contextApi.with(trace.setSpan(ctx, span), () => fn(span) as ReturnType<F>);
  }
}

/**
 * The minimal tracer provider: one tracer per name, spans handed to the monitor's
 * span processor when they end.
 *
 * @internal
 */
export class MinimalTracerProvider implements TracerProvider {
  readonly #tracer: MinimalTracer;

  constructor(sink: SpanSink, clock: SpanClock) {
    this.#tracer = new MinimalTracer(sink, clock);
  }

  getTracer(): Tracer {
    return this.#tracer;
  }
}

/**
 * An OpenTelemetry context manager on `AsyncLocalStorage`: the active context follows
 * `await`, timers and event emitters' callbacks.
 *
 * @internal
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.apply(thisArg, args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    const storage = this.#storage;
    const bound = function (this: unknown, ...args: unknown[]): unknown {
      return storage.run(ctx, () => fn.apply(this, args));
    };
    Object.defineProperty(bound, 'length', { value: fn.length });
    return bound as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}
