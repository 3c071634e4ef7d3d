/**
 * The options `@prsm/express` and `@prsm/fastify` share, checked once by
 * {@link HttpMetrics}. Imports only types.
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import type { ComponentName, MonitorApi, Tags } from '@prsm/core';

/**
 * The options both adapters take (`Req` is the framework's request object):
 * `PrsmExpressOptions` and `PrsmFastifyOptions` are this with their request type.
 * Every option is checked when the middleware is made: a bad value is a `TypeError`.
 *
 * @example
 * ```ts
 * import type { HttpInstrumentationOptions } from '@prsm/http';
 * import type { IncomingMessage } from 'node:http';
 *
 * const options: HttpInstrumentationOptions<IncomingMessage> = {
 *   component: 'api_gateway',
 *   ignorePaths: ['/healthz', /^\/static\//],
 *   user: (req) => req.headers['x-user-id'] as string | undefined,
 * };
 * ```
 */
export interface HttpInstrumentationOptions<Req> {
  /** The monitor to record into. Default: the global monitor, resolved at each request. */
  readonly monitor?: MonitorApi;
  /** The component of every metric. Default `'api_gateway'`. */
  readonly component?: ComponentName;
  /** Paths (without the query) not recorded at all: exact strings or RegExps. */
  readonly ignorePaths?: readonly (string | RegExp)[];
  /**
   * The `http.route` of a request, instead of the route template; return undefined
   * for the default. Keep it low-cardinality: never a raw URL.
   */
  readonly routeLabel?: (req: Req) => string | undefined;
  /** Extra tags of the request metrics (low-cardinality values only). */
  readonly tags?: (req: Req) => Tags | undefined;
  /**
   * The user of a 401, 403 or 429 answer, handed to `monitor.security` (brute force per
   * user, denial bursts). Called only for those answers.
   */
  readonly user?: (req: Req) => string | undefined;
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
  /**
   * Feeds `monitor.security`: 401 as failed logins, 403 as authorization denials, 429
   * as rate limiting, and each request's client address for the request-rate
   * baseline. Default true.
   */
  readonly security?: boolean;
  /**
   * Counts the bytes of responses sent without `Content-Length` (streams), for
   * `http.server.response.body.size`. Default true.
   */
  readonly countResponseBytes?: boolean;
}
