import { type IncomingHttpHeaders, type IncomingMessage, ServerResponse } from 'node:http';
import { context } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import {
  abandonedAtClose,
  chunkLength,
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
import { expressRoute } from './route.js';
import { requestShaper } from './shape.js';
import { VERSION } from './version.js';

/**
 * The request as the middleware reads it: Node's `IncomingMessage` plus the fields
 * Express 4 and 5 add. Express's own `Request` type fits it.
 *
 * @example
 * ```ts
 * const options: PrsmExpressOptions = { routeLabel: (req: ExpressRequestLike) => req.baseUrl };
 * ```
 */
export interface ExpressRequestLike {
  /** The request method, as received. */
  readonly method?: string | undefined;
  /** The URL (relative to the router handling the request). */
  readonly url?: string | undefined;
  /** The request headers, names lower-cased. */
  readonly headers: IncomingHttpHeaders;
  /** The connection. */
  readonly socket?: { readonly remoteAddress?: string | undefined } | undefined;
  /** The matched mount path of the router handling the request (`/users/42`). */
  readonly baseUrl?: string;
  /** The URL as received, before routers strip their mount paths. */
  readonly originalUrl?: string;
  /** The path of the URL, without the query. */
  readonly path?: string;
  /** The route that matched, whose `path` is the template relative to its router. */
  readonly route?: { readonly path?: unknown } | undefined;
  /** The Express application (a mounted sub-app inside one). */
  readonly app?: unknown;
  /** The client address Express derived (honours `trust proxy`). */
  readonly ip?: string | undefined;
}

/**
 * Options of {@link prsmExpress}: the options `@prsm/http` shares with
 * `@prsm/fastify`, over an Express request. Every option is checked when the
 * middleware is made: a bad value throws a `TypeError`.
 *
 * @example
 * ```ts
 * app.use(
 *   prsmExpress({
 *     monitor,
 *     component: 'api_gateway',
 *     ignorePaths: ['/healthz', /^\/static\//],
 *     tags: (req) => ({ tenant: String(req.headers['x-tenant'] ?? 'none') }),
 *     user: (req) => (req as { user?: { id: string } }).user?.id,
 *   }),
 * );
 * ```
 */
export interface PrsmExpressOptions extends HttpInstrumentationOptions<ExpressRequestLike> {
  /**
   * Whether the requests of the app are given, before Express changes their
   * prototypes, the properties Express and its router add to them later (`req.next`,
   * `req.baseUrl`, `req.params`, `res.locals`...), each set to what it reads without
   * them, so that they share V8's hidden classes from request to request (default
   * true). Without this, every Express request's objects get classes of their own,
   * and every property read on them takes V8's slow path: a hello-world Express 5 app
   * with the middleware answered 2.6× the requests per second with it as without it
   * (BENCHMARKS.md). Names the app's
   * prototypes define (Express 5's `req.query` getter, or one of your own) are left
   * alone. The difference the app can see: `Object.keys(req)` lists those names from
   * the start, with `undefined` values. From the server's second request on.
   */
  readonly shapeRequests?: boolean;
}

/**
 * A connect-style middleware, as `app.use` takes it (Express 4 and 5).
 *
 * @example
 * ```ts
 * const middleware: ExpressMiddleware = prsmExpress();
 * app.use(middleware);
 * ```
 */
export type ExpressMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * A connect-style error middleware (four arguments), as `app.use` takes it.
 *
 * @example
 * ```ts
 * const errors: ExpressErrorMiddleware = prsmExpressErrors();
 * app.use(errors);
 * ```
 */
export type ExpressErrorMiddleware = (
  error: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * What the requests of one middleware share: its options, and the recording of a
 * request once it is over (called by `@prsm/http`'s tracker, or by the `close`
 * listener of a request the tracker does not follow).
 */
class ExpressOwner extends HttpRequestOwner<ExpressRequestLike> {
  ended(tracked: TrackedRequest, aborted: boolean): void {
    finish(this, tracked, aborted);
  }
}

/**
 * The records of requests `@prsm/http`'s tracker does not follow (the first request
 * of a server, or a request that does not come from Node's HTTP server), by response.
 * Not a property of the response: Express changes every response's prototype, after
 * which each response gets a map of its own and adding a property costs
 * microseconds. A record refers to its response, a cycle through the WeakMap that
 * costs the collector more than plain references (measured at about 10 µs a
 * hello-world request when every request went this way); followed requests, all but
 * a server's first, need neither: the tracker finds them through their socket, and
 * ends them without a listener per request.
 */
const LIVES = new WeakMap<ServerResponse, TrackedRequest>();
type Carrier = ServerResponse & { locals?: Record<string, unknown> };
type Method = (...args: unknown[]) => unknown;

/** The record of a response: the tracker's, else one of {@link LIVES}. */
function recordOf(res: ServerResponse): TrackedRequest | undefined {
  return trackedRequest(undefined, res) ?? LIVES.get(res);
}

/** Counts a chunk about to be written through Express's shared prototype. */
function beforeSharedWrite(res: Carrier, chunk: unknown, encoding: unknown): void {
  const tracked = recordOf(res);
  if (tracked === undefined) return;
  const { owner, state } = tracked;
  // A response whose own methods we wrapped counts there (and may reach these too).
  if (!(owner instanceof ExpressOwner) || state === undefined) return;
  if (!owner.counting || tracked.wrapped || state.ended) return;
  try {
    if (typeof chunk !== 'function') state.bytesWritten += chunkLength(chunk, encoding);
  } catch (error) {
    owner.metrics.internalError(error, 'counting response bytes');
  }
}

/**
 * Wraps the response's own `write` and `end`: when another middleware wrapped them
 * already (they would skip the prototype's), when we adopt another instrumentation's
 * span (named before its owner ends it, at `res.end`), and outside Express.
 */
function wrapOwn(
  owner: ExpressOwner,
  tracked: TrackedRequest,
  state: RequestState,
  req: ExpressRequestLike,
  res: Carrier,
): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
  const write = res.write as Method;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
  const end = res.end as Method;
  tracked.wrapped = true;
  const methods = res as unknown as Record<'write' | 'end', Method>;
  methods.write = function countingWrite(this: Carrier, ...args: unknown[]): unknown {
    if (owner.counting && !state.ended && ending !== this) {
      try {
        state.bytesWritten += chunkLength(args[0], args[1]);
      } catch (error) {
        owner.metrics.internalError(error, 'counting response bytes');
      }
    }
    return Reflect.apply(write, this, args);
  };
  methods.end = function countingEnd(this: Carrier, ...args: unknown[]): unknown {
    if (!state.ended) {
      try {
        if (owner.counting && typeof args[0] !== 'function') {
          state.bytesWritten += chunkLength(args[0], args[1]);
        }
        // Another instrumentation's span ends when the response finishes: named before that.
        const span = tracked.span;
        if (span !== undefined && !span.own && tracked.route === undefined) {
          owner.tracing.name(span, state.method, routeOf(owner, tracked, req));
        }
      } catch (error) {
        owner.metrics.internalError(error, 'ending a response');
      }
    }
    return endCounted(end, this, args);
  };
}

/**
 * The response whose `end` we are in, once its chunk is counted: an `end` that writes
 * its chunk through `this.write` (light-my-request's, which serverless adapters and
 * `inject()` use) would count it twice.
 */
let ending: Carrier | undefined;

/** Calls a response's `end` with its writes left uncounted until it returns. */
function endCounted(end: Method, res: Carrier, args: unknown[]): unknown {
  const outer = ending;
  ending = res;
  try {
    return Reflect.apply(end, res, args);
  } finally {
    ending = outer;
  }
}

/**
 * Assigning `write` and `end` on every response cost more than the rest of the
 * middleware together: Express sets each response's prototype to its app's
 * `response`, after which each new own property costs microseconds. That prototype
 * inherits from Express's own `response` object: counting `write` and `end` are
 * installed there once instead, count only responses that carry our record, and
 * call whatever `ServerResponse.prototype` holds at the time.
 */
const COUNTING = Symbol('prsm.express.counting');
let lastPrototype: object | null | undefined;
let lastShared: object | undefined;
/** Set when {@link sharedPrototype} installed the methods just now (read and reset by the middleware). */
let installedNow = false;

/** Express's shared `response` object of `res`, with counting methods; undefined outside Express. */
function sharedPrototype(res: ServerResponse): object | undefined {
  const proto = Object.getPrototypeOf(res) as object | null;
  if (proto === lastPrototype) return lastShared;
  let target = proto;
  for (let i = 0; i < 8 && target !== null; i++) {
    const up = Object.getPrototypeOf(target) as object | null;
    if (up === ServerResponse.prototype) break;
    target = up;
  }
  let shared: object | undefined;
  if (target !== null && Object.getPrototypeOf(target) === ServerResponse.prototype) {
    if (!Object.hasOwn(target, COUNTING)) {
      install(target);
      installedNow = true;
    }
    shared = target;
  }
  lastPrototype = proto;
  lastShared = shared;
  return shared;
}

function install(target: object): void {
  const base = ServerResponse.prototype as unknown as Record<
    'write' | 'end' | 'setHeader' | 'appendHeader',
    Method
  >;
  const own = target as Record<string, unknown>;
  const ownWrite = Object.hasOwn(target, 'write') ? (own['write'] as Method) : undefined;
  const ownEnd = Object.hasOwn(target, 'end') ? (own['end'] as Method) : undefined;
  const ownSetHeader = Object.hasOwn(target, 'setHeader')
    ? (own['setHeader'] as Method)
    : undefined;
  const ownAppendHeader = Object.hasOwn(target, 'appendHeader')
    ? (own['appendHeader'] as Method)
    : undefined;
  function write(this: Carrier, ...args: unknown[]): unknown {
    if (ending !== this) beforeSharedWrite(this, args[0], args[1]);
    return Reflect.apply(ownWrite ?? base.write, this, args);
  }
  // Node's own `end` writes its chunk itself, not through `this.write`.
  const end =
    ownEnd === undefined
      ? function end(this: Carrier, ...args: unknown[]): unknown {
          beforeSharedWrite(this, args[0], args[1]);
          return Reflect.apply(base.end, this, args);
        }
      : function end(this: Carrier, ...args: unknown[]): unknown {
          beforeSharedWrite(this, args[0], args[1]);
          return endCounted(ownEnd, this, args);
        };
  // Rate-limit headers are noted as they are set (`res.set`, `writeHead` with headers
  // already set, and `setHeaders` all call `setHeader`): a response without one is not
  // read for a quota at its end, which would cost more than these checks.
  function setHeader(this: Carrier, name: unknown, value: unknown): unknown {
    if (typeof name === 'string' && isRateLimitHeader(name)) noteRateLimit(this);
    return (ownSetHeader ?? base.setHeader).call(this, name, value);
  }
  function appendHeader(this: Carrier, name: unknown, value: unknown): unknown {
    if (typeof name === 'string' && isRateLimitHeader(name)) noteRateLimit(this);
    return (ownAppendHeader ?? base.appendHeader).call(this, name, value);
  }
  Object.defineProperties(target, {
    [COUNTING]: { value: true },
    write: { configurable: true, writable: true, value: write },
    end: { configurable: true, writable: true, value: end },
    setHeader: { configurable: true, writable: true, value: setHeader },
    ...(typeof base.appendHeader === 'function' && {
      appendHeader: { configurable: true, writable: true, value: appendHeader },
    }),
  });
}

function noteRateLimit(res: Carrier): void {
  const tracked = trackedRequest(undefined, res);
  if (tracked !== undefined) tracked.rateLimitHeaders = true;
}

/** The request's URL path, without the query. */
function pathOf(req: ExpressRequestLike): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function routeOf(owner: ExpressOwner, tracked: TrackedRequest, req: ExpressRequestLike): string {
  tracked.route ??= owner.metrics.route(req, expressRoute);
  return tracked.route;
}

/** Records a request once it is over: finished, or `aborted` by its client. */
function finish(owner: ExpressOwner, tracked: TrackedRequest, aborted: boolean): void {
  const state = tracked.state;
  if (state === undefined || state.ended) return;
  const req = tracked.request as unknown as ExpressRequestLike;
  const res = tracked.response;
  owner.metrics.finish(
    state,
    req,
    {
      route: routeOf(owner, tracked, req),
      statusCode: res.statusCode,
      aborted,
      // The bytes counted are the body's (a HEAD answer's are none): Content-Length is
      // read when none were, or when they are not counted.
      contentLength:
        owner.counting && state.bytesWritten > 0 ? undefined : res.getHeader('content-length'),
      countedBytes: owner.counting,
      clientAddress: tracked.clientAddress(req),
      headers: tracked.headersSeen && !tracked.rateLimitHeaders ? NO_HEADERS : res,
    },
    owner.tracing,
    tracked.span,
  );
}

/** Ends a request the tracker does not follow: its response closed. */
function onUnfollowedClose(this: Carrier): void {
  const tracked = LIVES.get(this);
  const owner = tracked?.owner;
  if (owner instanceof ExpressOwner) finish(owner, tracked!, abandonedAtClose(this));
}

/**
 * Express middleware (Express 4.17+ and 5) recording every request into a
 * monitor (`MonitorApi`): `http.server.request.duration` (a timer: percentiles, rate,
 * error rate), `http.server.requests`, `http.server.active_requests`, request and
 * response body sizes, tagged by method, route template (with the routers' mount
 * paths), status code and class; 401/403/429 answers fed to `monitor.security`
 * (failed logins, authorization denials, rate limiting: its threat detection sees
 * them); the rate-limit quota from `RateLimit-*` headers. With a tracer provider registered, a
 * SERVER span per request continues the incoming `traceparent` and is active while
 * the handlers run; the trace id is in `res.locals.prsmTraceId`. Add it before the
 * routes; add {@link prsmExpressErrors} after them to record thrown errors. As an
 * Express 5 app's first middleware, it leaves the router's stack at the first request
 * and begins each request from the router's `handle` (the same requests, one router
 * layer fewer).
 *
 * Never breaks the app: the same response and the same errors reach the client, and
 * a failure of the instrumentation is counted in `monitor.diagnostics`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { Monitor } from '@prsm/core';
 * import { prsmExpress, prsmExpressErrors } from '@prsm/express';
 *
 * const monitor = new Monitor({ tracing: true });
 * const app = express();
 * app.use(prsmExpress({ monitor, component: 'api_gateway', ignorePaths: ['/healthz'] }));
 * app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
 * app.use(prsmExpressErrors());
 * app.listen(3000);
 * ```
 */
export function prsmExpress(options: PrsmExpressOptions = {}): ExpressMiddleware {
  const metrics = new HttpMetrics<ExpressRequestLike>(options, 'prsmExpress');
  const shape = (options as { shapeRequests?: unknown }).shapeRequests ?? true;
  if (typeof shape !== 'boolean')
    throw new TypeError('prsmExpress: shapeRequests must be a boolean');
  const tracing = new HttpTracing('@prsm/express', VERSION, options);
  const owner = new ExpressOwner(metrics, tracing, options.countResponseBytes !== false);
  /** Starts recording a request: its span, when one was started. */
  function begin(request: IncomingMessage, response: ServerResponse): RequestSpan | undefined {
    const req = request as unknown as ExpressRequestLike;
    const res = response as Carrier;
    let span: RequestSpan | undefined;
    try {
      // Followed by the tracker from the second request of a server on; the first (and
      // requests that do not come from Node's HTTP server) by a listener of their own.
      let tracked = trackedRequest(request, res);
      if (tracked === undefined) {
        tracked = LIVES.get(res);
        if (tracked === undefined) {
          watchServer(
            (request.socket as { server?: unknown } | undefined)?.server,
            shape ? requestShaper(request, res) : undefined,
          );
          tracked = new TrackedRequest(request, res, performance.now(), false);
        }
      }
      if (
        tracked.owner === undefined &&
        (metrics.ignoresNothing || !metrics.ignored(pathOf(req)))
      ) {
        const state = owner.claim(tracked);
        if (state !== undefined) {
          if (tracing.wanted()) {
            span = tracing.start({
              method: state.method,
              rawMethod: req.method,
              headers: req.headers,
              path: pathOf(req),
              scheme:
                (request.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
              clientAddress: tracked.clientAddress(req),
            });
          }
          if (span !== undefined) {
            tracked.span = span;
            state.traceId = span.traceId;
            if (res.locals !== undefined) res.locals['prsmTraceId'] = span.traceId;
            for (const [name, value] of tracing.responseHeaders(span)) {
              if (!res.hasHeader(name)) res.setHeader(name, value);
            }
          }
          const shared = sharedPrototype(res);
          // Headers set on a followed request went through the prototype's setHeader if
          // it was there when the request arrived, and nothing of the response's own
          // stands in front of it.
          tracked.headersSeen =
            tracked.followed &&
            shared !== undefined &&
            !installedNow &&
            !Object.hasOwn(res, 'setHeader');
          installedNow = false;
          const adopted = span !== undefined && !span.own;
          if (
            (owner.counting || adopted) &&
            // Another instrumentation that wrapped this response's methods (OpenTelemetry's
            // http one wraps `end` before Express runs) would skip the prototype's.
            (adopted ||
              Object.hasOwn(res, 'write') ||
              Object.hasOwn(res, 'end') ||
              shared === undefined)
          ) {
            wrapOwn(owner, tracked, state, req, res);
          }
          if (!tracked.followed) {
            LIVES.set(res, tracked);
            res.on('close', onUnfollowedClose);
          }
        }
      }
    } catch (error) {
      metrics.internalError(error, 'starting a request');
    }
    return span;
  }
  /** The apps this middleware has looked at for {@link runFromRouter}, and the last of them. */
  const looked = new WeakSet<object>();
  let lastApp: unknown;
  const middleware: ExpressMiddleware = function prsmExpressMiddleware(request, response, next) {
    const span = begin(request, response);
    const app = (request as unknown as ExpressRequestLike).app;
    if (app !== lastApp) {
      lastApp = app;
      try {
        if (typeof app === 'function' && !looked.has(app)) {
          looked.add(app);
          runFromRouter(app, request, middleware, begin);
        }
      } catch (error) {
        metrics.internalError(error, 'taking the middleware out of the router');
      }
    }
    if (span !== undefined) context.with(span.context, next);
    else next();
  };
  return middleware;
}

interface RouterLike {
  stack?: unknown;
  handle?: unknown;
}

/**
 * An Express 5 app whose router's first layer is this middleware, mounted at `/`, gets
 * it out of its router: its router's `handle` begins each request instead (after Express
 * set the request's prototypes and `res.locals`, before the first layer), with the span
 * active through every layer as before. Every request of the app went through that
 * layer first, so the same requests are recorded the same way, without the cost of a
 * router layer (matching it, the `next` it calls back). Counted under Cachegrind, a
 * hello-world request took 586,000 to 588,000 CPU instructions with this, and 588,000
 * to 607,000 without it (three runs each). The stack is replaced, not changed: requests
 * already in the router go on through the old one, and find their request begun.
 * Anywhere else (a sub-app, a path, after other middleware, Express 4, whose
 * prototypes are set by a layer), the middleware stays a layer.
 */
function runFromRouter(
  app: object,
  req: ExpressRequestLike,
  middleware: ExpressMiddleware,
  begin: (request: IncomingMessage, response: ServerResponse) => RequestSpan | undefined,
): void {
  const a = app as { parent?: unknown; router?: unknown };
  // Express 4 (`_router`), a mounted sub-app (`parent`), a layer mounted at a path.
  if ('_router' in a || a.parent !== undefined || req.baseUrl !== '') return;
  const found: unknown = a.router;
  if (typeof found !== 'function') return;
  const router = found as RouterLike;
  const { stack, handle } = router;
  if (!Array.isArray(stack) || typeof handle !== 'function' || Object.hasOwn(router, 'handle')) {
    return;
  }
  const layer = stack[0] as { handle?: unknown; route?: unknown } | undefined;
  if (layer?.handle !== middleware || layer.route !== undefined) return;
  Object.defineProperty(router, 'handle', {
    configurable: true,
    writable: true,
    value: function prsmRouterHandle(
      this: unknown,
      request: IncomingMessage,
      response: ServerResponse,
      done: unknown,
    ): unknown {
      const span = begin(request, response);
      const original = handle as Method;
      if (span === undefined) return original.call(this, request, response, done);
      return context.with(span.context, original, this, request, response, done);
    },
  });
  router.stack = stack.slice(1);
}

/**
 * Error middleware recording the error of a request (a thrown error, a rejected
 * promise, `next(err)`) on its metrics and span, then passing the same error object
 * on with `next(error)`. Add it after the routes and before your own error handlers.
 *
 * @example
 * ```ts
 * app.use(prsmExpress({ monitor }));
 * app.get('/boom', () => {
 *   throw new Error('boom');
 * });
 * app.use(prsmExpressErrors());
 * app.use((err, req, res, next) => res.status(500).json({ error: 'internal' }));
 * ```
 */
export function prsmExpressErrors(): ExpressErrorMiddleware {
  return function prsmExpressErrorMiddleware(error, _req, res, next): void {
    const state = recordOf(res)?.state;
    if (state !== undefined && !state.hasError) {
      state.hasError = true;
      state.error = error;
    }
    next(error);
  };
}
