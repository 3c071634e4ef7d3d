import { ServerResponse } from 'node:http';
import { context } from '@opentelemetry/api';
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';
import {
  chunkLength,
  type HeaderSource,
  type HttpInstrumentationOptions,
  isRateLimitHeader,
  NO_HEADERS,
  HttpMetrics,
  HttpTracing,
  type RequestSpan,
  rawHeader,
  type RequestState,
} from '@prsm/http';
import { VERSION } from './version.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The trace id of the request's server span (set by `@prsm/fastify`), when traced. */
    prsmTraceId: string | undefined;
  }
  interface FastifyContextConfig {
    /** `false`: `@prsm/fastify` records nothing for this route. */
    prsm?: boolean;
  }
}

/**
 * Options of {@link prsmFastify}: the options `@prsm/http` shares with
 * `@prsm/express`, over a Fastify request. Every option is checked at registration: a
 * bad value fails the registration with a `TypeError`.
 *
 * @example
 * ```ts
 * await app.register(prsmFastify, {
 *   monitor,
 *   component: 'api_gateway',
 *   ignorePaths: ['/healthz'],
 *   user: (request) => (request.headers['x-user-id'] as string | undefined),
 * });
 * ```
 */
export type PrsmFastifyOptions = HttpInstrumentationOptions<FastifyRequest>;

/** The per-request record, on the raw response under a symbol of its own. */
interface Live {
  readonly state: RequestState;
  readonly metrics: HttpMetrics<FastifyRequest>;
  readonly tracing: HttpTracing;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly span: RequestSpan | undefined;
  readonly counting: boolean;
  /** The response's `write` before ours replaced it (when counting). */
  write: ((...args: unknown[]) => unknown) | undefined;
}

const LIVE = Symbol('prsm.fastify.request');
type Carrier = ServerResponse & { [LIVE]?: Live };

/** The prototype's `write`, in case a response lost its record (it cannot, but must not throw). */
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with the response as `this`
const PROTO_WRITE = ServerResponse.prototype.write as (...args: unknown[]) => unknown;

/**
 * The response's `write` while it is recorded, counting the bytes it is given. Fastify
 * ends a reply of a string, a buffer or an object with `end(payload)` and a
 * `Content-Length`; everything else comes through `write`: Node streams piped in (and
 * what a compressing plugin pipes), web `ReadableStream`s and `Response` bodies read
 * chunk by chunk, payloads with trailers, and a hijacked reply's own writes.
 */
function countingWrite(this: Carrier, ...args: unknown[]): unknown {
  const live = this[LIVE];
  if (live !== undefined) {
    try {
      live.state.bytesWritten += chunkLength(args[0], args[1]);
    } catch (error) {
      live.metrics.internalError(error, 'counting response bytes');
    }
  }
  return Reflect.apply(live?.write ?? PROTO_WRITE, this, args);
}

/** Fastify's route context (its `config` holds the route's `url` and the user's config). */
interface RouteContextLike {
  readonly config?: { readonly url?: unknown; readonly prsm?: unknown };
}

/**
 * `request.routeOptions` builds a new object of a dozen fields on every read (a few
 * microseconds, as much as the rest of a hello-world request): the route's context is
 * read directly instead, under Fastify's `fastify.context` symbol, found once; the
 * getter remains the fallback if a Fastify version names it otherwise.
 */
let contextSymbol: symbol | null | undefined;

function routeConfig(request: FastifyRequest): RouteContextLike['config'] {
  if (contextSymbol === undefined) {
    contextSymbol =
      Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ??
      null;
  }
  if (contextSymbol !== null) {
    const ctx = (request as unknown as Record<symbol, RouteContextLike | undefined>)[contextSymbol];
    if (ctx !== undefined && ctx !== null && typeof ctx === 'object') return ctx.config;
  }
  return request.routeOptions.config;
}

/**
 * Fastify keeps a reply's headers in an object of its own until it writes them all with
 * `writeHead` (under its `fastify.reply.headers` symbol, found once): read directly, a
 * finished reply's `Content-Length` and its rate-limit headers cost a property read each
 * instead of a `reply.getHeader` call. `reply.getHeader` remains the fallback if a
 * Fastify version keeps them otherwise.
 */
let headersSymbol: symbol | null | undefined;

function replyHeaders(reply: FastifyReply): Record<string, unknown> | undefined {
  if (headersSymbol === undefined) {
    headersSymbol =
      Object.getOwnPropertySymbols(reply).find((s) => s.description === 'fastify.reply.headers') ??
      null;
  }
  if (headersSymbol === null) return undefined;
  const headers = (reply as unknown as Record<symbol, unknown>)[headersSymbol];
  return headers !== null && typeof headers === 'object'
    ? (headers as Record<string, unknown>)
    : undefined;
}

/**
 * Where the rate-limit quota of a finished reply is read: the reply itself when one of
 * its headers (Fastify's or set on the raw response) is a rate-limit header, else
 * {@link NO_HEADERS}, so that most replies are not read for one.
 */
function rateLimitSource(
  reply: FastifyReply,
  headers: Record<string, unknown> | undefined,
): HeaderSource {
  if (headers === undefined) return reply;
  for (const name in headers) if (isRateLimitHeader(name)) return reply;
  for (const name of reply.raw.getHeaderNames()) if (isRateLimitHeader(name)) return reply;
  return NO_HEADERS;
}

/** The route template; undefined for requests no route matched. */
function routeUrl(request: FastifyRequest): string | undefined {
  const url = routeConfig(request)?.url;
  return typeof url === 'string' && url !== '' ? url : undefined;
}

/** The request's URL path, without the query. */
function pathOf(request: FastifyRequest): string {
  const url = request.url;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function finish(live: Live): void {
  const { state, metrics, request, reply } = live;
  if (state.ended) return;
  const raw = reply.raw;
  const headers = replyHeaders(reply);
  metrics.finish(
    state,
    request,
    {
      route: metrics.route(request, routeUrl),
      statusCode: raw.statusCode,
      aborted: !raw.writableFinished,
      contentLength:
        headers?.['content-length'] ??
        (headers === undefined ? reply : raw).getHeader('content-length'),
      countedBytes: live.counting,
      clientAddress: request.ip,
      // Fastify keeps reply headers apart until it writes them all with writeHead; its
      // getHeader reads both.
      headers: rateLimitSource(reply, headers),
    },
    live.tracing,
    live.span,
  );
}

function onRawClose(this: Carrier): void {
  const live = this[LIVE];
  if (live !== undefined) finish(live);
}

function plugin(
  fastify: FastifyInstance,
  options: PrsmFastifyOptions,
  done: (error?: Error) => void,
): void {
  let metrics: HttpMetrics<FastifyRequest>;
  try {
    // Fastify hands plugins an object of its own when none was given.
    metrics = new HttpMetrics<FastifyRequest>(options, 'prsmFastify');
  } catch (error) {
    done(error as Error);
    return;
  }
  const tracing = new HttpTracing('@prsm/fastify', VERSION, options);
  const counting = options.countResponseBytes !== false;
  if (!fastify.hasRequestDecorator('prsmTraceId')) {
    fastify.decorateRequest('prsmTraceId', undefined);
  }

  fastify.addHook(
    'onRequest',
    function prsmOnRequest(
      request: FastifyRequest,
      reply: FastifyReply,
      next: HookHandlerDoneFunction,
    ) {
      let live: Live | undefined;
      try {
        const raw = reply.raw as Carrier;
        if (raw[LIVE] === undefined && routeConfig(request)?.prsm !== false) {
          if (metrics.ignoresNothing || !metrics.ignored(pathOf(request))) {
            // From the raw header list: Fastify builds no `headers` object for a GET.
            const state = metrics.begin(
              request.method,
              rawHeader(request.raw.rawHeaders, 'content-length'),
            );
            if (state !== undefined) {
              const span = tracing.wanted()
                ? tracing.start({
                    method: state.method,
                    rawMethod: request.method,
                    headers: request.headers,
                    path: pathOf(request),
                    scheme: request.protocol,
                    clientAddress: request.ip,
                  })
                : undefined;
              live = {
                state,
                metrics,
                tracing,
                request,
                reply,
                span,
                counting,
                write: undefined,
              };
              raw[LIVE] = live;
              if (span !== undefined) {
                // Another instrumentation's span ends when the response finishes, before
                // it closes: it is named now (Fastify knows the route already).
                if (!span.own) {
                  tracing.name(span, state.method, routeUrl(request) ?? metrics.unmatchedRoute);
                }
                state.traceId = span.traceId;
                request.prsmTraceId = span.traceId;
                for (const [name, value] of tracing.responseHeaders(span)) {
                  if (!reply.hasHeader(name)) void reply.header(name, value);
                }
              }
              if (counting) {
                // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
                live.write = raw.write as Live['write'];
                raw.write = countingWrite as ServerResponse['write'];
              }
              raw.on('close', onRawClose);
            }
          }
        }
      } catch (error) {
        metrics.internalError(error, 'starting a request');
      }
      if (live?.span !== undefined) context.with(live.span.context, next);
      else next();
    },
  );

  // Body parsing runs outside the request's context: handlers registered after the
  // plugin are run in it again (a wrapper costs less than a preHandler hook).
  if (tracing.enabled) {
    fastify.addHook('onRoute', (route) => {
      const handler = route.handler;
      if (typeof handler !== 'function') return;
      route.handler = function prsmTracedHandler(
        this: FastifyInstance,
        request: FastifyRequest,
        reply: FastifyReply,
      ): unknown {
        const span = (reply.raw as Carrier)[LIVE]?.span;
        if (span === undefined) return handler.call(this, request, reply);
        return context.with(span.context, handler, this, request, reply);
      };
    });
  }

  fastify.addHook(
    'onError',
    function prsmOnError(
      _request: FastifyRequest,
      reply: FastifyReply,
      error: unknown,
      next: HookHandlerDoneFunction,
    ) {
      const live = (reply.raw as Carrier)[LIVE];
      if (live !== undefined && !live.state.hasError) {
        live.state.hasError = true;
        live.state.error = error;
      }
      next();
    },
  );

  // Recorded when the raw response closes (after it finished, or when the client went
  // away): an `onResponse` hook would cost every request a hook runner of its own.
  done();
}

/**
 * The Fastify plugin (Fastify 4.29+ and 5) recording every request into a monitor (`MonitorApi`):
 * `http.server.request.duration` (a timer: percentiles, rate, error rate),
 * `http.server.requests`, `http.server.active_requests`, request and response body
 * sizes, tagged by method, route template (`request.routeOptions.url`, prefixes
 * included), status code and class; 401/403/429 answers fed to `monitor.security`
 * (failed logins, authorization denials, rate limiting: its threat detection sees
 * them); the rate-limit quota from `RateLimit-*` headers. Recorded when the raw response
 * closes (right after it finished, where `onResponse` runs, without the cost of a hook;
 * or when the client went away), errors seen in `onError`; a route opts out with `config: { prsm: false }`. With a tracer provider
 * registered, a SERVER span per request continues the incoming `traceparent` and is
 * active in the handler; its trace id is `request.prsmTraceId`.
 *
 * The plugin is not encapsulated (like `fastify-plugin`'s): registered once at the
 * root, before the routes, it applies to the whole app. It never breaks the app: the
 * same replies and errors reach the client, and a failure of the instrumentation is
 * counted in `monitor.diagnostics`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { Monitor } from '@prsm/core';
 * import { prsmFastify } from '@prsm/fastify';
 *
 * const monitor = new Monitor({ tracing: true });
 * const app = Fastify();
 * await app.register(prsmFastify, { monitor, component: 'api_gateway' });
 * app.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id }));
 * app.get('/healthz', { config: { prsm: false } }, async () => 'ok');
 * await app.listen({ port: 3000 });
 * ```
 */
export const prsmFastify: FastifyPluginCallback<PrsmFastifyOptions> = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@prsm/fastify',
  [Symbol.for('plugin-meta')]: { name: '@prsm/fastify', fastify: '4.x || 5.x' },
});
