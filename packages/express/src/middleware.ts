import { type IncomingHttpHeaders, type IncomingMessage, ServerResponse } from 'node:http';
import { context } from '@opentelemetry/api';
import type { MonitorApi, Tags } from '@prsm/core';
import type { TextMapPropagator } from '@opentelemetry/api';
import { expressRoute } from './route.js';
import {
  chunkLength,
  HttpMetrics,
  type RequestState,
  responseLength,
} from './shared/http-metrics.js';
import { HttpTracing, type RequestSpan } from './shared/http-tracing.js';
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
 * Options of {@link prsmExpress}. Every option is checked when the middleware is
 * made: a bad value throws a `TypeError`.
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
export interface PrsmExpressOptions {
  /** The monitor to record into. Default: the global monitor, resolved at each request. */
  readonly monitor?: MonitorApi;
  /** The component of every metric. Default `'api_gateway'`. */
  readonly component?: string;
  /** Paths (without the query) not recorded at all: exact strings or RegExps. */
  readonly ignorePaths?: readonly (string | RegExp)[];
  /**
   * The `http.route` of a request, instead of the route template; return undefined
   * for the default. Keep it low-cardinality: never a raw URL.
   */
  readonly routeLabel?: (req: ExpressRequestLike) => string | undefined;
  /** Extra tags of the request metrics (low-cardinality values only). */
  readonly tags?: (req: ExpressRequestLike) => Tags | undefined;
  /** The user id of 401/403/429 responses (the `user.id` tag of the security counters). */
  readonly user?: (req: ExpressRequestLike) => string | undefined;
  /** The `http.route` of requests no route matched. Default `'(unmatched)'`. */
  readonly unmatchedRoute?: string;
  /**
   * A SERVER span per request (when a tracer provider is registered), continuing an
   * incoming `traceparent`. Default true.
   */
  readonly tracing?: boolean;
  /** Adds a `traceresponse` header naming the request's trace. Default false. */
  readonly traceResponseHeader?: boolean;
  /** Adds a `Server-Timing: traceparent;desc="..."` header. Default false. */
  readonly serverTimingHeader?: boolean;
  /** How trace context is read from headers. Default: W3C Trace Context. */
  readonly propagator?: TextMapPropagator;
  /** Counts 401, 403 and 429 responses as security events. Default true. */
  readonly security?: boolean;
  /**
   * Counts the bytes of responses sent without `Content-Length` (streams), for
   * `http.server.response.body.size`. Default true.
   */
  readonly countResponseBytes?: boolean;
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

/** The per-request record, on the response under a symbol of its own. */
interface Live {
  readonly state: RequestState;
  readonly metrics: HttpMetrics<ExpressRequestLike>;
  readonly tracing: HttpTracing;
  readonly req: ExpressRequestLike;
  readonly span: RequestSpan | undefined;
  readonly counting: boolean;
  write: ((...args: unknown[]) => unknown) | undefined;
  end: ((...args: unknown[]) => unknown) | undefined;
  /** The route label, once read (at `res.end`, or when the response closes). */
  route: string | undefined;
}

const LIVE = Symbol('prsm.express.request');
type Carrier = ServerResponse & { [LIVE]?: Live; locals?: Record<string, unknown> };

/** The prototype's methods, in case a response lost its record (it cannot, but must not throw). */
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with the response as `this`
const PROTO_WRITE = ServerResponse.prototype.write as (...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with the response as `this`
const PROTO_END = ServerResponse.prototype.end as (...args: unknown[]) => unknown;

function countingWrite(this: Carrier, ...args: unknown[]): unknown {
  const live = this[LIVE];
  if (live !== undefined) live.state.bytesWritten += chunkLength(args[0], args[1]);
  return Reflect.apply(live?.write ?? PROTO_WRITE, this, args);
}

function countingEnd(this: Carrier, ...args: unknown[]): unknown {
  const live = this[LIVE];
  if (live !== undefined && !live.state.ended) {
    if (live.counting && typeof args[0] !== 'function') {
      live.state.bytesWritten += chunkLength(args[0], args[1]);
    }
    // Another instrumentation's span ends when the response finishes: named before that.
    if (live.span !== undefined && !live.span.own && live.route === undefined) {
      const route = routeOf(live);
      try {
        live.tracing.name(live.span, live.state.method, route);
      } catch (error) {
        live.metrics.internalError(error, 'naming the server span');
      }
    }
  }
  return Reflect.apply(live?.end ?? PROTO_END, this, args);
}

function routeOf(live: Live): string {
  if (live.route !== undefined) return live.route;
  const { metrics, req } = live;
  let route: string | undefined;
  try {
    route = metrics.callOption(metrics.options.routeLabel, req, 'routeLabel') ?? expressRoute(req);
  } catch (error) {
    metrics.internalError(error, 'route template');
  }
  live.route = route ?? metrics.unmatchedRoute;
  return live.route;
}

function finish(res: Carrier): void {
  const live = res[LIVE];
  if (live === undefined || live.state.ended) return;
  const { state, metrics, req } = live;
  const aborted = !res.writableFinished;
  const label = routeOf(live);
  const statusCode = res.statusCode;
  metrics.end(state, {
    route: label,
    statusCode,
    aborted,
    responseLength: aborted
      ? undefined
      : responseLength(res.getHeader('content-length'), state, live.counting),
    clientAddress: req.ip ?? req.socket?.remoteAddress,
    user:
      metrics.security && statusCode >= 400
        ? metrics.callOption(metrics.options.user, req, 'user')
        : undefined,
    extraTags: metrics.callOption(metrics.options.tags, req, 'tags'),
    header: (name) => res.getHeader(name),
  });
  if (live.span !== undefined) {
    try {
      live.tracing.end(
        live.span,
        state.method,
        label,
        statusCode,
        aborted,
        state.error,
        state.hasError,
      );
    } catch (error) {
      metrics.internalError(error, 'ending the server span');
    }
  }
}

function onClose(this: Carrier): void {
  finish(this);
}

/**
 * Express middleware (Express 4.17+ and 5) recording every request into a
 * {@link MonitorApi}: `http.server.request.duration` (a timer: percentiles, rate,
 * error rate), `http.server.requests`, `http.server.active_requests`, request and
 * response body sizes, tagged by method, route template (with the routers' mount
 * paths), status code and class; 401/403/429 responses as security counters; the
 * rate-limit quota from `RateLimit-*` headers. With a tracer provider registered, a
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
      if (res[LIVE] === undefined && !metrics.ignored(path)) {
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
                clientAddress: req.ip ?? req.socket?.remoteAddress,
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
          res[LIVE] = live;
          if (span !== undefined) {
            state.traceId = span.traceId;
            if (res.locals !== undefined) res.locals['prsmTraceId'] = span.traceId;
            for (const [name, value] of tracing.responseHeaders(span)) {
              if (!res.hasHeader(name)) res.setHeader(name, value);
            }
          }
          if (counting) {
            // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
            live.write = res.write as Live['write'];
            res.write = countingWrite as ServerResponse['write'];
          }
          if (counting || (span !== undefined && !span.own)) {
            // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with the response as `this`
            live.end = res.end as Live['end'];
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
    const live = (res as Carrier)[LIVE];
    if (live !== undefined && !live.state.hasError) {
      live.state.hasError = true;
      live.state.error = error;
    }
    next(error);
  };
}
