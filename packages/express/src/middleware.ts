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

/** The per-request record (in {@link LIVES}, by response). */
interface Live {
  readonly state: RequestState;
  readonly metrics: HttpMetrics<ExpressRequestLike>;
  readonly tracing: HttpTracing;
  readonly req: ExpressRequestLike;
  readonly span: RequestSpan | undefined;
  readonly counting: boolean;
  /** The response's own methods we wrapped, when we wrapped them (not Express's prototype). */
  write: ((...args: unknown[]) => unknown) | undefined;
  end: ((...args: unknown[]) => unknown) | undefined;
  /** The route label, once read (at `res.end`, or when the response closes). */
  route: string | undefined;
}

/**
 * The record of each response in flight. Not a property of the response: Express
 * changes every response's prototype, after which adding a property costs
 * microseconds (V8 gives the object a map of its own); a WeakMap entry costs a
 * fraction of that.
 */
const LIVES = new WeakMap<ServerResponse, Live>();
type Carrier = ServerResponse & { locals?: Record<string, unknown> };

/** The prototype's methods, in case a response lost its record (it cannot, but must not throw). */
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with the response as `this`
const PROTO_WRITE = ServerResponse.prototype.write as (...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with the response as `this`
const PROTO_END = ServerResponse.prototype.end as (...args: unknown[]) => unknown;

/**
 * Counts a chunk about to be written. `shared`: called from Express's prototype,
 * which leaves a response whose own methods we wrapped to those wrappers (they may
 * reach the prototype's too: counted once).
 */
function beforeWrite(res: Carrier, args: unknown[], shared: boolean): void {
  const live = LIVES.get(res);
  if (
    live !== undefined &&
    live.counting &&
    !live.state.ended &&
    !(shared && live.end !== undefined)
  ) {
    try {
      live.state.bytesWritten += chunkLength(args[0], args[1]);
    } catch (error) {
      live.metrics.internalError(error, 'counting response bytes');
    }
  }
}

/** Counts the last chunk, and names an adopted span before its owner ends it. */
function beforeEnd(res: Carrier, args: unknown[], shared: boolean): void {
  const live = LIVES.get(res);
  if (live === undefined || live.state.ended || (shared && live.end !== undefined)) return;
  try {
    if (live.counting && typeof args[0] !== 'function') {
      live.state.bytesWritten += chunkLength(args[0], args[1]);
    }
    // Another instrumentation's span ends when the response finishes: named before that.
    if (live.span !== undefined && !live.span.own && live.route === undefined) {
      live.tracing.name(live.span, live.state.method, routeOf(live));
    }
  } catch (error) {
    live.metrics.internalError(error, 'ending a response');
  }
}

function countingWrite(this: Carrier, ...args: unknown[]): unknown {
  beforeWrite(this, args, false);
  return Reflect.apply(LIVES.get(this)?.write ?? PROTO_WRITE, this, args);
}

function countingEnd(this: Carrier, ...args: unknown[]): unknown {
  beforeEnd(this, args, false);
  return Reflect.apply(LIVES.get(this)?.end ?? PROTO_END, this, args);
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
  type Method = (...args: unknown[]) => unknown;
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
        beforeWrite(this, args, true);
        return Reflect.apply(ownWrite ?? base.write, this, args);
      },
    },
    end: {
      configurable: true,
      writable: true,
      value: function end(this: Carrier, ...args: unknown[]): unknown {
        beforeEnd(this, args, true);
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

function routeOf(live: Live): string {
  live.route ??= live.metrics.route(live.req, expressRoute);
  return live.route;
}

function finish(res: Carrier): void {
  const live = LIVES.get(res);
  if (live === undefined || live.state.ended) return;
  live.metrics.finish(
    live.state,
    live.req,
    {
      route: routeOf(live),
      statusCode: res.statusCode,
      aborted: !res.writableFinished,
      contentLength: res.getHeader('content-length'),
      countedBytes: live.counting,
      clientAddress: clientAddress(live.req),
      headers: res,
    },
    live.tracing,
    live.span,
  );
}

function onClose(this: Carrier): void {
  finish(this);
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
      const url = req.originalUrl ?? req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      if (!LIVES.has(res) && !metrics.ignored(path)) {
        const state = metrics.begin(req.method, req.headers['content-length']);
        const span =
          tracing.enabled && state !== undefined
            ? tracing.start({
                method: state.method,
                rawMethod: req.method,
                headers: req.headers,
                path,
                scheme:
                  (request.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
                clientAddress: clientAddress(req),
              })
            : undefined;
        if (state !== undefined) {
          live = {
            state,
            metrics,
            tracing,
            req,
            span,
            counting,
            write: undefined,
            end: undefined,
            route: undefined,
          };
          LIVES.set(res, live);
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
            // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
            live.write = res.write as Live['write'];
            // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
            live.end = res.end as Live['end'];
            res.write = countingWrite as ServerResponse['write'];
            res.end = countingEnd as ServerResponse['end'];
          }
          res.on('close', onClose);
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
