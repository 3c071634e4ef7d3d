import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { context } from '@opentelemetry/api';
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';
import {
  abandonedAtClose,
  chunkLength,
  type HeaderSource,
  type HttpInstrumentationOptions,
  isRateLimitHeader,
  NO_HEADERS,
  HttpMetrics,
  HttpRequestOwner,
  HttpTracing,
  type RequestSpan,
  type RequestState,
  TrackedRequest,
  trackedRequest,
  watchServer,
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

/**
 * What the requests of one registration share: its options, and the recording of a
 * request once it is over (called by `@prsm/http`'s tracker, or by the `close`
 * listener of a request the tracker does not follow).
 */
class FastifyOwner extends HttpRequestOwner<FastifyRequest> {
  ended(tracked: TrackedRequest, aborted: boolean): void {
    finish(this, tracked, aborted);
  }
}

/**
 * The record of a request the tracker does not follow (an HTTP/2 request, or one of a
 * server Node's HTTP channels do not report), on its raw response under a symbol of
 * its own; it ends when the response closes.
 */
const LIVE = Symbol('prsm.fastify.request');
type Carrier = ServerResponse & { [LIVE]?: TrackedRequest };
type Method = (...args: unknown[]) => unknown;

/** The record of a raw response: the tracker's, else the one it carries. */
function recordOf(req: IncomingMessage | undefined, raw: Carrier): TrackedRequest | undefined {
  return trackedRequest(req, raw) ?? raw[LIVE];
}

/** Our request state of a record, when this plugin claimed it. */
function claimed(tracked: TrackedRequest | undefined): RequestState | undefined {
  return tracked?.owner instanceof FastifyOwner ? tracked.state : undefined;
}

/** Adds the bytes of a chunk about to be written to its request's state. */
function count(raw: Carrier, chunk: unknown, encoding: unknown): void {
  const tracked = recordOf(undefined, raw);
  const state = claimed(tracked);
  if (state === undefined || state.ended) return;
  try {
    state.bytesWritten += chunkLength(chunk, encoding);
  } catch (error) {
    (tracked!.owner as FastifyOwner).metrics.internalError(error, 'counting response bytes');
  }
}

/**
 * The response's `write` while it is recorded, counting the bytes it is given, then
 * calling its prototype's. Fastify ends a reply of a string, a buffer or an object with
 * `end(payload)` and a `Content-Length`; everything else comes through `write`: Node
 * streams piped in (and what a compressing plugin pipes), web `ReadableStream`s and
 * `Response` bodies read chunk by chunk, payloads with trailers, and a hijacked reply's
 * own writes. A response with a `write` of its own already (another wrapper's) gets a
 * wrapper calling that one instead.
 */
function countingWrite(this: Carrier, ...args: unknown[]): unknown {
  count(this, args[0], args[1]);
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the response as `this`
  const write = (Object.getPrototypeOf(this) as ServerResponse).write as Method;
  return Reflect.apply(write, this, args);
}

function countWrites(raw: Carrier): void {
  const methods = raw as unknown as Record<'write', Method>;
  if (!Object.hasOwn(raw, 'write')) {
    methods.write = countingWrite;
    return;
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
  const own = raw.write as Method;
  methods.write = function countingOwnWrite(this: Carrier, ...args: unknown[]): unknown {
    count(this, args[0], args[1]);
    return Reflect.apply(own, this, args);
  };
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

/** Records a request once it is over: finished, or `aborted` by its client. */
function finish(owner: FastifyOwner, tracked: TrackedRequest, aborted: boolean): void {
  const state = tracked.state;
  if (state === undefined || state.ended) return;
  const reply = tracked.adapter as FastifyReply;
  const request = reply.request;
  const headers = replyHeaders(reply);
  const metrics = owner.metrics;
  metrics.finish(
    state,
    request,
    {
      route: metrics.route(request, routeUrl),
      statusCode: tracked.response.statusCode,
      aborted,
      contentLength:
        headers?.['content-length'] ??
        (headers === undefined ? reply : tracked.response).getHeader('content-length'),
      countedBytes: owner.counting,
      clientAddress: tracked.clientAddress(request),
      // Fastify keeps reply headers apart until it writes them all with writeHead; its
      // getHeader reads both.
      headers: rateLimitSource(reply, headers),
    },
    owner.tracing,
    tracked.span,
  );
}

/** Ends a request the tracker does not follow (HTTP/2, `inject()`): its response closed. */
function onUnfollowedClose(this: Carrier): void {
  const tracked = this[LIVE];
  const owner = tracked?.owner;
  if (owner instanceof FastifyOwner) finish(owner, tracked!, abandonedAtClose(this));
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
  const owner = new FastifyOwner(metrics, tracing, options.countResponseBytes !== false);
  if (!fastify.hasRequestDecorator('prsmTraceId')) {
    fastify.decorateRequest('prsmTraceId', undefined);
  }
  // Node's HTTP server reports its requests' starts and ends: followed from the first.
  watchServer(fastify.server);

  fastify.addHook(
    'onRequest',
    function prsmOnRequest(
      request: FastifyRequest,
      reply: FastifyReply,
      next: HookHandlerDoneFunction,
    ) {
      let span: RequestSpan | undefined;
      try {
        const req = request.raw;
        const raw = reply.raw as Carrier;
        let tracked = recordOf(req, raw);
        tracked ??= new TrackedRequest(req, raw, performance.now(), false);
        if (
          tracked.owner === undefined &&
          routeConfig(request)?.prsm !== false &&
          (metrics.ignoresNothing || !metrics.ignored(pathOf(request)))
        ) {
          const state = owner.claim(tracked);
          if (state !== undefined) {
            tracked.adapter = reply;
            if (tracing.wanted()) {
              span = tracing.start({
                method: state.method,
                rawMethod: request.method,
                headers: request.headers,
                path: pathOf(request),
                scheme: request.protocol,
                clientAddress: tracked.clientAddress(request),
              });
            }
            if (span !== undefined) {
              tracked.span = span;
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
            if (owner.counting) countWrites(raw);
            if (!tracked.followed) {
              raw[LIVE] = tracked;
              raw.on('close', onUnfollowedClose);
            }
          }
        }
      } catch (error) {
        metrics.internalError(error, 'starting a request');
      }
      if (span !== undefined) context.with(span.context, next);
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
        const span = recordOf(request.raw, reply.raw)?.span;
        if (span === undefined) return handler.call(this, request, reply);
        return context.with(span.context, handler, this, request, reply);
      };
    });
  }

  fastify.addHook(
    'onError',
    function prsmOnError(
      request: FastifyRequest,
      reply: FastifyReply,
      error: unknown,
      next: HookHandlerDoneFunction,
    ) {
      const state = claimed(recordOf(request.raw, reply.raw));
      if (state !== undefined && !state.hasError) {
        state.hasError = true;
        state.error = error;
      }
      next();
    },
  );

  // Recorded when Node's server reports the response finished, or its connection closed
  // first: an `onResponse` hook would cost every request a hook runner and two listeners.
  done();
}

/**
 * The Fastify plugin (Fastify 4.29+ and 5) recording every request into a monitor (`MonitorApi`):
 * `http.server.request.duration` (a timer: percentiles, rate, error rate),
 * `http.server.requests`, `http.server.active_requests`, request and response body
 * sizes, tagged by method, route template (`request.routeOptions.url`, prefixes
 * included), status code and class; 401/403/429 answers fed to `monitor.security`
 * (failed logins, authorization denials, rate limiting: its threat detection sees
 * them); the rate-limit quota from `RateLimit-*` headers. Recorded when the response
 * finished (where `onResponse` runs, without the cost of a hook: Node's HTTP server
 * reports it through `node:diagnostics_channel`) or when the client went away first,
 * errors seen in `onError`; a route opts out with `config: { prsm: false }`. With a tracer provider
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
