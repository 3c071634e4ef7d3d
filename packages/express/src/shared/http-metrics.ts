/**
 * shared/: the HTTP server instrumentation both `@prsm/express` and `@prsm/fastify`
 * run (metric names and tags, the per-request state, server spans, security signals),
 * so dashboards work for either. The folder is byte-identical in both packages (a test
 * checks); each adapter only reads its framework's request into these calls. May import
 * `@prsm/core`, `@opentelemetry/api` and `@opentelemetry/core`; never a framework.
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import {
  type BoundCounter,
  type BoundGauge,
  type BoundHistogram,
  type BoundTimer,
  type Clock,
  type Counter,
  DiagnosticCode,
  type Diagnostics,
  type Gauge,
  getGlobalMonitor,
  type Histogram,
  type MonitorApi,
  systemClock,
  type Tags,
  type Timer,
} from '@prsm/core';

/**
 * The metric names `@prsm/express` and `@prsm/fastify` record (both the same, so
 * dashboards and alert rules work for either). Every series carries the tags
 * `http.request.method`, `http.route` (the route template; `(unmatched)` when none
 * matched), `http.response.status_code` and `http.response.status_class` (`2xx`...),
 * plus the adapter's extra `tags`; the security counters carry method, route,
 * `client.address` and `user.id` (when the `user` option names one).
 *
 * @example
 * ```ts
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
  /** Gauge (0..1): the share of the rate-limit quota used, from `RateLimit-*` response headers. */
  rateLimitUtilization: 'http.server.rate_limit.utilization',
  /** Counter: 401 responses (authentication failures), by route, client address and user. */
  authFailures: 'security.auth_failures',
  /** Counter: 403 responses (authorization failures), by route, client address and user. */
  authzFailures: 'security.authz_failures',
  /** Counter: 429 responses (rate limited), by route, client address and user. */
  rateLimited: 'security.rate_limited',
} as const;

/**
 * The `http.response.status_code` tag of a request the client abandoned before the
 * response was complete (nginx's "client closed request"); such a request is recorded
 * once, not as an error, and counted in `http.server.aborted_requests`.
 *
 * @example
 * ```ts
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
 * app.use(prsmExpress({ unmatchedRoute: DEFAULT_UNMATCHED_ROUTE }));
 * ```
 */
export const DEFAULT_UNMATCHED_ROUTE = '(unmatched)';

/**
 * Options both adapters take. `Req` is the framework's request object.
 *
 * @internal
 */
export interface SharedHttpOptions<Req> {
  readonly monitor?: MonitorApi;
  readonly component?: string;
  readonly ignorePaths?: readonly (string | RegExp)[];
  readonly routeLabel?: (req: Req) => string | undefined;
  readonly tags?: (req: Req) => Tags | undefined;
  readonly user?: (req: Req) => string | undefined;
  readonly unmatchedRoute?: string;
  readonly tracing?: boolean;
  readonly traceResponseHeader?: boolean;
  readonly serverTimingHeader?: boolean;
  readonly propagator?: TextMapPropagator;
  readonly security?: boolean;
  readonly countResponseBytes?: boolean;
}

const KNOWN_METHODS: ReadonlySet<string> = new Set([
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

/** A method outside the known set is `_OTHER` (OpenTelemetry's convention): tags stay bounded. */
export function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return '_OTHER';
  if (KNOWN_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** `2xx` for 204 and so on; `unknown` outside 100..599. */
export function statusClass(status: number): string {
  const i = Math.floor(status / 100) - 1;
  return STATUS_CLASSES[i] ?? 'unknown';
}

/** The recording handles of one monitor, resolved once. */
interface Instruments {
  readonly monitor: MonitorApi;
  readonly now: () => number;
  readonly diagnostics: Diagnostics | undefined;
  readonly duration: Timer;
  readonly requests: Counter;
  readonly active: Gauge;
  readonly requestBodySize: Histogram;
  readonly responseBodySize: Histogram;
  readonly aborted: Counter;
  readonly rateLimitUtilization: Gauge;
  readonly authFailures: Counter;
  readonly authzFailures: Counter;
  readonly rateLimited: Counter;
  /** Bound series by tag key; cleared when it grows past {@link MAX_CACHED_SERIES}. */
  readonly series: Map<string, SeriesHandles>;
  readonly activeByMethod: Map<string, BoundGauge>;
}

interface SeriesHandles {
  readonly duration: BoundTimer;
  readonly requests: BoundCounter;
  readonly requestBodySize: BoundHistogram;
  readonly responseBodySize: BoundHistogram;
}

const MAX_CACHED_SERIES = 1000;

/**
 * What an adapter knows about a request once it is over.
 *
 * @internal
 */
export interface RequestOutcome {
  /** The route template (`(unmatched)` for none), already resolved by the adapter. */
  readonly route: string;
  readonly statusCode: number;
  /** The client went away before the response was complete. */
  readonly aborted: boolean;
  readonly responseLength: number | undefined;
  readonly clientAddress: string | undefined;
  readonly user: string | undefined;
  readonly extraTags: Tags | undefined;
  /** Reads a response header (for `RateLimit-*`). */
  readonly header: (name: string) => unknown;
}

/**
 * One request in flight: its start, its in-flight gauge and what was learnt on the
 * way (an error, bytes written). Ended once, whichever of finish, close or abort
 * comes first.
 *
 * @internal
 */
export class RequestState {
  readonly start: number;
  readonly method: string;
  readonly instruments: Instruments;
  readonly activeGauge: BoundGauge;
  readonly requestLength: number | undefined;
  /** The first error seen (a thrown error, a rejection, an error middleware's argument). */
  error: unknown = undefined;
  hasError = false;
  ended = false;
  bytesWritten = 0;
  /** Set by the tracing part: the trace the request is recorded in. */
  traceId: string | undefined = undefined;
  /** Opaque to this file: the tracing part's span record. */
  trace: unknown = undefined;

  constructor(
    start: number,
    method: string,
    instruments: Instruments,
    activeGauge: BoundGauge,
    requestLength: number | undefined,
  ) {
    this.start = start;
    this.method = method;
    this.instruments = instruments;
    this.activeGauge = activeGauge;
    this.requestLength = requestLength;
  }
}

function parseLength(value: unknown): number | undefined {
  if (typeof value === 'number') return value >= 0 ? value : undefined;
  if (typeof value !== 'string' || value === '') return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** `RateLimit-Remaining`/`-Limit` (or `X-RateLimit-*`, or draft-7's combined `RateLimit`). */
function quotaUsed(header: (name: string) => unknown): number | undefined {
  let limit = parseLength(first(header('ratelimit-limit') ?? header('x-ratelimit-limit')));
  let remaining = parseLength(
    first(header('ratelimit-remaining') ?? header('x-ratelimit-remaining')),
  );
  if (limit === undefined || remaining === undefined) {
    const combined = first(header('ratelimit'));
    if (typeof combined === 'string') {
      const l = /(?:^|[,;\s])limit=(\d+)/i.exec(combined);
      const r = /(?:^|[,;\s])remaining=(\d+)/i.exec(combined);
      if (l !== null && r !== null) {
        limit = Number(l[1]);
        remaining = Number(r[1]);
      }
    }
  }
  if (limit === undefined || remaining === undefined || limit <= 0) return undefined;
  return Math.min(1, Math.max(0, (limit - remaining) / limit));
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? (value as unknown[])[0] : value;
}

/**
 * Records HTTP server metrics into the monitor given in the options, or the global
 * one resolved at each request (so a monitor set after the app was built is used).
 *
 * @internal
 */
export class HttpMetrics<Req> {
  readonly options: SharedHttpOptions<Req>;
  readonly component: string;
  readonly unmatchedRoute: string;
  readonly security: boolean;
  readonly #ignore: readonly (string | RegExp)[];
  #last: Instruments | undefined;

  constructor(options: SharedHttpOptions<Req> | undefined, adapter: string) {
    const o: unknown = options ?? {};
    if (o === null || typeof o !== 'object')
      throw new TypeError(`${adapter}: options must be an object`);
    const opts = o as SharedHttpOptions<Req>;
    this.options = opts;
    const component = opts.component ?? 'api_gateway';
    if (typeof component !== 'string' || component === '') {
      throw new TypeError(`${adapter}: component must be a non-empty string`);
    }
    this.component = component;
    const unmatched = opts.unmatchedRoute ?? DEFAULT_UNMATCHED_ROUTE;
    if (typeof unmatched !== 'string' || unmatched === '') {
      throw new TypeError(`${adapter}: unmatchedRoute must be a non-empty string`);
    }
    this.unmatchedRoute = unmatched;
    const ignore: unknown = opts.ignorePaths ?? [];
    if (
      !Array.isArray(ignore) ||
      !ignore.every((p) => typeof p === 'string' || p instanceof RegExp)
    ) {
      throw new TypeError(`${adapter}: ignorePaths must be an array of strings and RegExps`);
    }
    this.#ignore = ignore;
    for (const key of ['routeLabel', 'tags', 'user'] as const) {
      if (opts[key] !== undefined && typeof opts[key] !== 'function') {
        throw new TypeError(`${adapter}: ${key} must be a function`);
      }
    }
    if (
      opts.monitor !== undefined &&
      (opts.monitor === null || typeof opts.monitor.timer !== 'function')
    ) {
      throw new TypeError(`${adapter}: monitor must be a Monitor`);
    }
    this.security = opts.security !== false;
  }

  /** True when `path` (without the query) is one of `ignorePaths`. */
  ignored(path: string): boolean {
    const list = this.#ignore;
    if (list.length === 0) return false;
    for (const p of list) {
      if (typeof p === 'string' ? p === path : p.test(path)) return true;
    }
    return false;
  }

  /** The monitor's handles, resolved once per monitor. */
  instruments(): Instruments {
    const monitor = this.options.monitor ?? getGlobalMonitor();
    const last = this.#last;
    if (last !== undefined && last.monitor === monitor) return last;
    const component = this.component;
    const o = { component };
    const clock = (monitor as { clock?: Clock }).clock;
    const now =
      clock === undefined || clock === systemClock
        ? (): number => performance.now()
        : (): number => clock.now();
    const diagnostics = (monitor as { diagnostics?: Diagnostics }).diagnostics;
    const made: Instruments = {
      monitor,
      now,
      diagnostics,
      duration: monitor.timer(HTTP_METRICS.duration, {
        ...o,
        description: 'Duration of HTTP server requests',
      }),
      requests: monitor.counter(HTTP_METRICS.requests, {
        ...o,
        description: 'HTTP server requests',
      }),
      active: monitor.gauge(HTTP_METRICS.active, {
        ...o,
        unit: '{request}',
        description: 'HTTP server requests in flight',
      }),
      requestBodySize: monitor.histogram(HTTP_METRICS.requestBodySize, {
        ...o,
        unit: 'By',
        description: 'Size of HTTP server request bodies',
      }),
      responseBodySize: monitor.histogram(HTTP_METRICS.responseBodySize, {
        ...o,
        unit: 'By',
        description: 'Size of HTTP server response bodies',
      }),
      aborted: monitor.counter(HTTP_METRICS.aborted, {
        ...o,
        description: 'HTTP server requests abandoned by the client',
      }),
      rateLimitUtilization: monitor.gauge(HTTP_METRICS.rateLimitUtilization, {
        ...o,
        unit: '1',
        description: 'Share of the rate-limit quota used, from RateLimit-* response headers',
      }),
      authFailures: monitor.counter(HTTP_METRICS.authFailures, {
        ...o,
        description: 'HTTP 401 responses (authentication failures)',
      }),
      authzFailures: monitor.counter(HTTP_METRICS.authzFailures, {
        ...o,
        description: 'HTTP 403 responses (authorization failures)',
      }),
      rateLimited: monitor.counter(HTTP_METRICS.rateLimited, {
        ...o,
        description: 'HTTP 429 responses (rate limited)',
      }),
      series: new Map(),
      activeByMethod: new Map(),
    };
    this.#last = made;
    return made;
  }

  /** Starts a request; undefined when the monitor records nothing. */
  begin(rawMethod: string | undefined, contentLength: unknown): RequestState | undefined {
    const instruments = this.instruments();
    if (!instruments.monitor.enabled) return undefined;
    const method = normalizeMethod(rawMethod);
    let gauge = instruments.activeByMethod.get(method);
    if (gauge === undefined) {
      gauge = instruments.active.bind({ 'http.request.method': method });
      instruments.activeByMethod.set(method, gauge);
    }
    gauge.inc();
    return new RequestState(
      instruments.now(),
      method,
      instruments,
      gauge,
      parseLength(first(contentLength)),
    );
  }

  /** Records a finished (or abandoned) request. Once per state; never throws. */
  end(state: RequestState, outcome: RequestOutcome): void {
    if (state.ended) return;
    state.ended = true;
    const inst = state.instruments;
    try {
      state.activeGauge.dec();
      const elapsed = inst.now() - state.start;
      const status = outcome.aborted ? ABORTED_STATUS : String(outcome.statusCode);
      const statusClassValue = outcome.aborted ? '4xx' : statusClass(outcome.statusCode);
      const extra = outcome.extraTags;
      let key = `${state.method} ${status} ${outcome.route}`;
      if (extra !== undefined) {
        for (const name of Object.keys(extra)) key += `\u0000${name}\u0000${String(extra[name])}`;
      }
      let handles = inst.series.get(key);
      if (handles === undefined) {
        const tags: Record<string, string> = {
          ...extra,
          'http.request.method': state.method,
          'http.route': outcome.route,
          'http.response.status_code': status,
          'http.response.status_class': statusClassValue,
        };
        Object.freeze(tags);
        handles = {
          duration: inst.duration.bind(tags),
          requests: inst.requests.bind(tags),
          requestBodySize: inst.requestBodySize.bind(tags),
          responseBodySize: inst.responseBodySize.bind(tags),
        };
        if (inst.series.size >= MAX_CACHED_SERIES) inst.series.clear();
        inst.series.set(key, handles);
      }
      const failed = !outcome.aborted && (outcome.statusCode >= 500 || state.hasError);
      if (failed) handles.duration.recordError(elapsed, state.traceId);
      else handles.duration.record(elapsed, state.traceId);
      handles.requests.inc();
      if (state.requestLength !== undefined) handles.requestBodySize.record(state.requestLength);
      const responseLength = outcome.responseLength;
      if (responseLength !== undefined) handles.responseBodySize.record(responseLength);
      if (outcome.aborted) {
        inst.aborted.inc(1, {
          'http.request.method': state.method,
          'http.route': outcome.route,
        });
        return;
      }
      const code = outcome.statusCode;
      if (this.security && (code === 401 || code === 403 || code === 429)) {
        const tags: Record<string, string> = {
          'http.request.method': state.method,
          'http.route': outcome.route,
          'client.address': outcome.clientAddress ?? 'unknown',
        };
        if (outcome.user !== undefined) tags['user.id'] = outcome.user;
        const counter =
          code === 401 ? inst.authFailures : code === 403 ? inst.authzFailures : inst.rateLimited;
        counter.inc(1, tags);
      }
      const used = quotaUsed(outcome.header);
      if (used !== undefined) inst.rateLimitUtilization.set(used, { 'http.route': outcome.route });
    } catch (error) {
      this.internalError(error, 'recording a request', inst);
    }
  }

  /** Our own failure: counted in the monitor's diagnostics, never thrown into the app. */
  internalError(error: unknown, where: string, inst: Instruments | undefined = this.#last): void {
    try {
      inst?.diagnostics?.error(DiagnosticCode.INTERNAL_ERROR, error, { where });
    } catch {
      // Nothing left to tell.
    }
  }

  /** Calls a user option (`routeLabel`, `tags`, `user`); its failure is ours to report, not the app's. */
  callOption<T>(
    fn: ((req: Req) => T | undefined) | undefined,
    req: Req,
    name: string,
  ): T | undefined {
    if (fn === undefined) return undefined;
    try {
      return fn(req);
    } catch (error) {
      this.internalError(error, name);
      return undefined;
    }
  }
}

/** `bytes` of a chunk passed to `write`/`end`. */
export function chunkLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(
      chunk,
      typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
    );
  }
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/** The response length: `Content-Length` when set, else the bytes counted. */
export function responseLength(
  contentLength: unknown,
  state: RequestState,
  counted: boolean,
): number | undefined {
  const declared = parseLength(first(contentLength));
  if (declared !== undefined) return declared;
  return counted ? state.bytesWritten : undefined;
}
