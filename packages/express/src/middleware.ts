import { type IncomingHttpHeaders, type IncomingMessage, ServerResponse } from 'node:http';
import { context } from '@opentelemetry/api';
import {
  chunkLength,
  type HttpInstrumentationOptions,
  HttpMetrics,
  HttpTracing,
  type RequestSpan,
  type RequestState,
} from '@prsm/http';
import { expressRoute } from './route.js';
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
export type PrsmExpressOptions = HttpInstrumentationOptions<ExpressRequestLike>;

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
 * The per-request record (in {@link LIVES}, by response). It holds nothing that leads
 * back to the request or the response: with a WeakMap value that did (the request,
 * whose `res` is the key), a hello-world Express request cost about 10 µs more CPU,
 * mostly in garbage collection (the key and its value form a cycle through the
 * WeakMap, which V8's collectors handle far more slowly than plain references). What
 * needs the request gets it from the `close` listener's closure instead.
 */
class Live {
  readonly state: RequestState;
  readonly metrics: HttpMetrics<ExpressRequestLike>;
  readonly tracing: HttpTracing;
  readonly span: RequestSpan | undefined;
  readonly counting: boolean;
  /** Whether the response's own methods were wrapped (not Express's prototype). */
  ownWrapped = false;
  /** The route label, once read (at `res.end`, or when the response closes). */
  route: string | undefined = undefined;

  constructor(
    state: RequestState,
    metrics: HttpMetrics<ExpressRequestLike>,
    tracing: HttpTracing,
    span: RequestSpan | undefined,
    counting: boolean,
  ) {
    this.state = state;
    this.metrics = metrics;
    this.tracing = tracing;
    this.span = span;
    this.counting = counting;
  }
}

/**
 * The record of each response in flight. Not a property of the response: Express
 * changes every response's prototype, after which adding a property costs
 * microseconds (V8 gives the object a map of its own); a WeakMap entry costs a
 * fraction of that, as long as its value leads back to neither request nor response.
 */
const LIVES = new WeakMap<ServerResponse, Live>();
type Carrier = ServerResponse & { locals?: Record<string, unknown> };
type Method = (...args: unknown[]) => unknown;

/** Counts a chunk about to be written through Express's shared prototype. */
function beforeSharedWrite(res: Carrier, chunk: unknown, encoding: unknown): void {
  const live = LIVES.get(res);
  // A response whose own methods we wrapped counts there (and may reach these too).
  if (live === undefined || !live.counting || live.ownWrapped || live.state.ended) return;
  try {
    if (typeof chunk !== 'function') live.state.bytesWritten += chunkLength(chunk, encoding);
  } catch (error) {
    live.metrics.internalError(error, 'counting response bytes');
  }
}

/**
 * Wraps the response's own `write` and `end`: when another middleware wrapped them
 * already (they would skip the prototype's), when we adopt another instrumentation's
 * span (named before its owner ends it, at `res.end`), and outside Express.
 */
function wrapOwn(live: Live, req: ExpressRequestLike, res: Carrier): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
  const write = res.write as Method;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
  const end = res.end as Method;
  live.ownWrapped = true;
  const methods = res as unknown as Record<'write' | 'end', Method>;
  methods.write = function countingWrite(this: Carrier, ...args: unknown[]): unknown {
    if (live.counting && !live.state.ended) {
      try {
        live.state.bytesWritten += chunkLength(args[0], args[1]);
      } catch (error) {
        live.metrics.internalError(error, 'counting response bytes');
      }
    }
    return Reflect.apply(write, this, args);
  };
  methods.end = function countingEnd(this: Carrier, ...args: unknown[]): unknown {
    if (!live.state.ended) {
      try {
        if (live.counting && typeof args[0] !== 'function') {
          live.state.bytesWritten += chunkLength(args[0], args[1]);
        }
        // Another instrumentation's span ends when the response finishes: named before that.
        if (live.span !== undefined && !live.span.own && live.route === undefined) {
          live.tracing.name(live.span, live.state.method, routeOf(live, req));
        }
      } catch (error) {
        live.metrics.internalError(error, 'ending a response');
      }
    }
    return Reflect.apply(end, this, args);
  };
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
    if (!Object.hasOwn(target, COUNTING)) install(target);
    shared = target;
  }
  lastPrototype = proto;
  lastShared = shared;
  return shared;
}

function install(target: object): void {
  const base = ServerResponse.prototype as unknown as Record<'write' | 'end', Method>;
  const own = target as Record<string, unknown>;
  const ownWrite = Object.hasOwn(target, 'write') ? (own['write'] as Method) : undefined;
  const ownEnd = Object.hasOwn(target, 'end') ? (own['end'] as Method) : undefined;
  Object.defineProperties(target, {
    [COUNTING]: { value: true },
    write: {
      configurable: true,
      writable: true,
      value: function write(this: Carrier, ...args: unknown[]): unknown {
        beforeSharedWrite(this, args[0], args[1]);
        return Reflect.apply(ownWrite ?? base.write, this, args);
      },
    },
    end: {
      configurable: true,
      writable: true,
      value: function end(this: Carrier, ...args: unknown[]): unknown {
        beforeSharedWrite(this, args[0], args[1]);
        return Reflect.apply(ownEnd ?? base.end, this, args);
      },
    },
  });
}

/**
 * `req.ip` (which honours `trust proxy`) parses `X-Forwarded-For` on every read; without
 * that header it is the socket's address, read directly.
 */
function clientAddress(req: ExpressRequestLike): string | undefined {
  if (req.headers['x-forwarded-for'] === undefined) return req.socket?.remoteAddress;
  return req.ip ?? req.socket?.remoteAddress;
}

/** The request's URL path, without the query. */
function pathOf(req: ExpressRequestLike): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function routeOf(live: Live, req: ExpressRequestLike): string {
  live.route ??= live.metrics.route(req, expressRoute);
  return live.route;
}

function finish(live: Live, req: ExpressRequestLike, res: Carrier): void {
  if (live.state.ended) return;
  live.metrics.finish(
    live.state,
    req,
    {
      route: routeOf(live, req),
      statusCode: res.statusCode,
      aborted: !res.writableFinished,
      contentLength: res.getHeader('content-length'),
      countedBytes: live.counting,
      clientAddress: clientAddress(req),
      headers: res,
    },
    live.tracing,
    live.span,
  );
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
 * routes; add {@link prsmExpressErrors} after them to record thrown errors.
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
  const tracing = new HttpTracing('@prsm/express', VERSION, options);
  const counting = options.countResponseBytes !== false;
  return function prsmExpressMiddleware(request, response, next): void {
    const req = request as unknown as ExpressRequestLike;
    const res = response as Carrier;
    let live: Live | undefined;
    try {
      if (!LIVES.has(res) && (metrics.ignoresNothing || !metrics.ignored(pathOf(req)))) {
        const state = metrics.begin(req.method, req.headers['content-length']);
        const span =
          state !== undefined && tracing.wanted()
            ? tracing.start({
                method: state.method,
                rawMethod: req.method,
                headers: req.headers,
                path: pathOf(req),
                scheme:
                  (request.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
                clientAddress: clientAddress(req),
              })
            : undefined;
        if (state !== undefined) {
          const record = new Live(state, metrics, tracing, span, counting);
          live = record;
          LIVES.set(res, record);
          if (span !== undefined) {
            state.traceId = span.traceId;
            if (res.locals !== undefined) res.locals['prsmTraceId'] = span.traceId;
            for (const [name, value] of tracing.responseHeaders(span)) {
              if (!res.hasHeader(name)) res.setHeader(name, value);
            }
          }
          const adopted = span !== undefined && !span.own;
          if (
            (counting || adopted) &&
            // Another instrumentation that wrapped this response's methods (OpenTelemetry's
            // http one wraps `end` before Express runs) would skip the prototype's.
            (adopted ||
              Object.hasOwn(res, 'write') ||
              Object.hasOwn(res, 'end') ||
              sharedPrototype(res) === undefined)
          ) {
            wrapOwn(record, req, res);
          }
          res.on('close', () => {
            finish(record, req, res);
          });
        }
      }
    } catch (error) {
      metrics.internalError(error, 'starting a request');
    }
    if (live?.span !== undefined) context.with(live.span.context, next);
    else next();
  };
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
    const live = LIVES.get(res);
    if (live !== undefined && !live.state.hasError) {
      live.state.hasError = true;
      live.state.error = error;
    }
    next(error);
  };
}
