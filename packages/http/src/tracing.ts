/**
 * Server spans for HTTP requests. The incoming W3C `traceparent`/`tracestate` is
 * continued; an active SERVER span (OpenTelemetry's http instrumentation) is reused
 * instead of starting a second. No span is started while no tracer provider is
 * registered. May import `@opentelemetry/api` and `@opentelemetry/core`.
 */
import {
  type Context,
  context,
  defaultTextMapGetter,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  trace,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { IncomingHttpHeaders } from 'node:http';

const W3C: TextMapPropagator = new W3CTraceContextPropagator();

/** The API's proxy provider (the global one), by duck type. */
interface DelegatingProvider {
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

/** A tracer cached until the global provider changes; undefined while none is registered. */
class TracerCache {
  readonly #name: string;
  readonly #version: string;
  #provider: TracerProvider | undefined;
  #tracer: Tracer | undefined;
  #proxy: DelegatingProvider | undefined;

  constructor(name: string, version: string) {
    this.#name = name;
    this.#version = version;
  }

  get(): Tracer | undefined {
    const provider = trace.getTracerProvider();
    if (provider !== this.#provider) {
      this.#provider = provider;
      this.#tracer = undefined;
      this.#proxy = undefined;
      if (typeof (provider as Partial<DelegatingProvider>).getDelegateTracer === 'function') {
        this.#proxy = provider as unknown as DelegatingProvider;
      } else {
        this.#tracer = provider.getTracer(this.#name, this.#version);
      }
    }
    if (this.#tracer === undefined && this.#proxy !== undefined) {
      this.#tracer = this.#proxy.getDelegateTracer(this.#name, this.#version);
    }
    return this.#tracer;
  }
}

/**
 * The span of one request: ours (ended by us) or OpenTelemetry's http
 * instrumentation's (only named and annotated by us).
 *
 * @example
 * ```ts
 * const s: RequestSpan | undefined = tracing.start(info);
 * if (s !== undefined) context.with(s.context, next);
 * ```
 */
export interface RequestSpan {
  /** The span. */
  readonly span: Span;
  /** True when we started it (and end it); false for another instrumentation's. */
  readonly own: boolean;
  /** The context with the span active, for running the handlers in. */
  readonly context: Context;
  /** The span's trace id. */
  readonly traceId: string;
}

/**
 * What the adapter tells about a request as it starts, for {@link HttpTracing.start}.
 *
 * @example
 * ```ts
 * const info: SpanStart = {
 *   method: 'GET', rawMethod: req.method, headers: req.headers, path: '/users/7',
 *   scheme: 'http', clientAddress: req.socket.remoteAddress,
 * };
 * ```
 */
export interface SpanStart {
  /** The normalised method (`_OTHER` for unknown ones). */
  readonly method: string;
  /** The method as received. */
  readonly rawMethod: string | undefined;
  /** The request headers (Node's, names lower-cased), read for trace context. */
  readonly headers: IncomingHttpHeaders;
  /** The URL path, without the query. */
  readonly path: string;
  /** `http` or `https`. */
  readonly scheme: string;
  /** The client's address, when known. */
  readonly clientAddress: string | undefined;
}

/** A header map for the propagator (node's lower-cased headers). */
const getter = defaultTextMapGetter;

/** Only SDK spans expose `kind`: ours to read, never to rely on for anything else. */
function isServerSpan(span: Span): boolean {
  return (span as unknown as { kind?: unknown }).kind === SpanKind.SERVER && span.isRecording();
}

/**
 * Starts (or adopts) the server span of each request, names it after the route and
 * ends it. The tracer is looked up from the global tracer provider, and again when it
 * changes; while none is registered no span is started.
 *
 * @example
 * ```ts
 * import { HttpTracing } from '@prsm/http';
 *
 * const tracing = new HttpTracing('@my/adapter', '1.0.0', { traceResponseHeader: true });
 * const s = tracing.start({
 *   method: 'GET', rawMethod: req.method, headers: req.headers, path: '/users/7',
 *   scheme: 'http', clientAddress: req.socket.remoteAddress,
 * });
 * // ... run the handler in s.context, then:
 * if (s !== undefined) tracing.end(s, 'GET', '/users/:id', 200, false, undefined, false);
 * ```
 */
export class HttpTracing {
  readonly #tracers: TracerCache;
  readonly #propagator: TextMapPropagator;
  /** False with `tracing: false`: {@link HttpTracing.start} returns undefined. */
  readonly enabled: boolean;
  /** Whether a `traceresponse` header is added. */
  readonly traceResponseHeader: boolean;
  /** Whether a `Server-Timing` header is added. */
  readonly serverTimingHeader: boolean;

  /** A tracer named `name`@`version` (the instrumentation scope); `options` as the adapters take them. */
  constructor(
    name: string,
    version: string,
    options: {
      readonly tracing?: boolean;
      readonly propagator?: TextMapPropagator;
      readonly traceResponseHeader?: boolean;
      readonly serverTimingHeader?: boolean;
    },
  ) {
    this.#tracers = new TracerCache(name, version);
    this.#propagator = options.propagator ?? W3C;
    this.enabled = options.tracing !== false;
    this.traceResponseHeader = options.traceResponseHeader === true;
    this.serverTimingHeader = options.serverTimingHeader === true;
  }

  /**
   * Whether {@link HttpTracing.start} would give a span now (tracing on, and a server
   * span active or a tracer provider registered): adapters skip describing a request
   * when it would not.
   */
  wanted(): boolean {
    if (!this.enabled) return false;
    const current = trace.getSpan(context.active());
    if (current !== undefined && isServerSpan(current)) return true;
    return this.#tracers.get() !== undefined;
  }

  /** The request's span, or undefined when tracing is off or no provider is registered. */
  start(info: SpanStart): RequestSpan | undefined {
    if (!this.enabled) return undefined;
    const active = context.active();
    const current = trace.getSpan(active);
    if (current !== undefined && isServerSpan(current)) {
      return { span: current, own: false, context: active, traceId: current.spanContext().traceId };
    }
    const tracer = this.#tracers.get();
    if (tracer === undefined) return undefined;
    const parent = this.#propagator.extract(active, info.headers, getter);
    const attributes: Record<string, string> = {
      'http.request.method': info.method,
      'url.path': info.path,
      'url.scheme': info.scheme,
    };
    if (info.method === '_OTHER' && info.rawMethod !== undefined) {
      attributes['http.request.method_original'] = info.rawMethod;
    }
    if (info.clientAddress !== undefined) attributes['client.address'] = info.clientAddress;
    const userAgent = info.headers['user-agent'];
    if (typeof userAgent === 'string') attributes['user_agent.original'] = userAgent;
    const span = tracer.startSpan(
      info.method === '_OTHER' ? 'HTTP' : info.method,
      { kind: SpanKind.SERVER, attributes },
      parent,
    );
    return {
      span,
      own: true,
      context: trace.setSpan(parent, span),
      traceId: span.spanContext().traceId,
    };
  }

  /** `traceresponse` and `Server-Timing` header values, when asked for. */
  responseHeaders(s: RequestSpan): [string, string][] {
    if (!this.traceResponseHeader && !this.serverTimingHeader) return [];
    const sc = s.span.spanContext();
    const value = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1) === 1 ? '01' : '00'}`;
    const headers: [string, string][] = [];
    if (this.traceResponseHeader) headers.push(['traceresponse', value]);
    if (this.serverTimingHeader) headers.push(['server-timing', `traceparent;desc="${value}"`]);
    return headers;
  }

  /** Names the span after the route (before another instrumentation ends its span). */
  name(s: RequestSpan, method: string, route: string): void {
    s.span.setAttribute('http.route', route);
    s.span.updateName(`${method === '_OTHER' ? 'HTTP' : method} ${route}`);
  }

  /** Names the span after the route, records the error and status, and ends it if ours. */
  end(
    s: RequestSpan,
    method: string,
    route: string | undefined,
    statusCode: number,
    aborted: boolean,
    error: unknown,
    hasError: boolean,
  ): void {
    const span = s.span;
    if (route !== undefined) this.name(s, method, route);
    if (s.own) span.setAttribute('http.response.status_code', statusCode);
    if (hasError) {
      if (error instanceof Error) span.recordException(error);
      span.setAttribute('error.type', error instanceof Error ? error.name : 'error');
      span.setStatus({
        code: SpanStatusCode.ERROR,
        ...(error instanceof Error && { message: error.message }),
      });
    } else if (aborted) {
      span.setAttribute('error.type', 'aborted');
    } else if (statusCode >= 500) {
      span.setAttribute('error.type', String(statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    if (s.own) span.end();
  }
}
