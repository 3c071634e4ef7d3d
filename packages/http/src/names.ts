/**
 * The metric names and tag values `@prsm/express` and `@prsm/fastify` share, so
 * dashboards and alert rules work for either, and the normalisations that keep tag
 * values bounded. Imports nothing.
 */

/**
 * The metric names `@prsm/express` and `@prsm/fastify` record, in the component of
 * their `component` option (default `api_gateway`). Every request series carries the
 * tags `http.request.method`, `http.route` (the route template; `(unmatched)` when none
 * matched), `http.response.status_code` and `http.response.status_class` (`2xx`...),
 * plus the adapter's extra `tags`. 401, 403 and 429 answers are not counted here but
 * fed to `monitor.security` (see `reportSecuritySignals` in `@prsm/http`).
 *
 * @example
 * ```ts
 * import { HTTP_METRICS } from '@prsm/http';
 *
 * const [p50, p99] = monitor.getPercentiles(HTTP_METRICS.duration, [0.5, 0.99], {
 *   component: 'api_gateway',
 *   tags: {
 *     'http.request.method': 'GET',
 *     'http.route': '/users/:id',
 *     'http.response.status_code': '200',
 *     'http.response.status_class': '2xx',
 *   },
 * });
 * ```
 */
export const HTTP_METRICS = {
  /** Timer (ms; exporters convert to seconds): one sample per request, an error for 5xx and thrown errors. */
  duration: 'http.server.request.duration',
  /** Counter: requests completed (aborted ones included, as status `499`). */
  requests: 'http.server.requests',
  /** Gauge: requests in flight, by method. */
  active: 'http.server.active_requests',
  /** Histogram (bytes): request bodies, from `Content-Length`. */
  requestBodySize: 'http.server.request.body.size',
  /** Histogram (bytes): response bodies, from `Content-Length` or the bytes written. */
  responseBodySize: 'http.server.response.body.size',
  /** Counter: requests the client abandoned before the response was complete. */
  aborted: 'http.server.aborted_requests',
  /** Gauge (0..1): the share of the rate-limit quota used, by route, from `RateLimit-*` response headers. */
  rateLimitUtilization: 'http.server.rate_limit.utilization',
} as const;

/**
 * The `http.response.status_code` tag of a request the client abandoned before the
 * response was complete (nginx's "client closed request"); such a request is recorded
 * once, not as an error, and counted in `http.server.aborted_requests`.
 *
 * @example
 * ```ts
 * import { ABORTED_STATUS, HTTP_METRICS } from '@prsm/http';
 *
 * const abandoned = monitor
 *   .snapshot()
 *   .series.filter((s) => s.name === HTTP_METRICS.requests && s.tags['http.response.status_code'] === ABORTED_STATUS);
 * ```
 */
export const ABORTED_STATUS = '499';

/**
 * The default `http.route` of requests no route matched (404s, and responses sent by
 * middleware before any route): one value, never the raw URL.
 *
 * @example
 * ```ts
 * import { DEFAULT_UNMATCHED_ROUTE } from '@prsm/http';
 *
 * app.use(prsmExpress({ unmatchedRoute: DEFAULT_UNMATCHED_ROUTE }));
 * ```
 */
export const DEFAULT_UNMATCHED_ROUTE = '(unmatched)';

/**
 * The methods tagged as themselves, in a fixed order (the series cache numbers them);
 * any other is `_OTHER`. Not exported from the package.
 */
export const KNOWN_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
]);

const KNOWN: ReadonlySet<string> = new Set(KNOWN_METHODS);

/**
 * The `http.request.method` tag of a request method: a known method in upper case,
 * anything else `_OTHER` (OpenTelemetry's convention), so the tag stays bounded.
 *
 * @example
 * ```ts
 * import { normalizeMethod } from '@prsm/http';
 *
 * normalizeMethod('get'); // 'GET'
 * normalizeMethod('BREW'); // '_OTHER'
 * ```
 */
export function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return '_OTHER';
  if (KNOWN.has(method)) return method;
  const upper = method.toUpperCase();
  return KNOWN.has(upper) ? upper : '_OTHER';
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * The `http.response.status_class` tag of a status code: `2xx` for 204 and so on,
 * `unknown` outside 100..599.
 *
 * @example
 * ```ts
 * import { statusClass } from '@prsm/http';
 *
 * statusClass(204); // '2xx'
 * statusClass(42); // 'unknown'
 * ```
 */
export function statusClass(status: number): string {
  const i = Math.floor(status / 100) - 1;
  return STATUS_CLASSES[i] ?? 'unknown';
}
