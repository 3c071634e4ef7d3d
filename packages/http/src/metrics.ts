/**
 * The request metrics both adapters record: the recording handles of a monitor
 * (resolved once per monitor), the per-request state, and {@link HttpMetrics}, which
 * begins and ends requests. Imports `@prsm/core` and this package's names, sizes and
 * security signals; never a framework.
 */
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
import { performance } from 'node:perf_hooks';
import {
  ABORTED_STATUS,
  DEFAULT_UNMATCHED_ROUTE,
  HTTP_METRICS,
  KNOWN_METHODS,
  normalizeMethod,
  statusClass,
} from './names.js';
import type { HttpInstrumentationOptions } from './options.js';
import { type HeaderSource, parseLength, rateLimitUsed, responseLength } from './sizes.js';
import type { HttpTracing, RequestSpan } from './tracing.js';
import { reportSecuritySignals, type SecuritySignalSink, securitySinkOf } from './security.js';

/**
 * The bound handles of one request series (one method, route, status and extra tags).
 *
 * @example
 * ```ts
 * const handles: HttpSeriesHandles = instruments.seriesFor('GET', '/users/:id', 200, false, undefined);
 * handles.requests.inc();
 * ```
 */
export interface HttpSeriesHandles {
  /** `http.server.request.duration`. */
  readonly duration: BoundTimer;
  /** `http.server.requests`. */
  readonly requests: BoundCounter;
  /** `http.server.request.body.size`. */
  readonly requestBodySize: BoundHistogram;
  /** `http.server.response.body.size`. */
  readonly responseBodySize: BoundHistogram;
}

/** Series cached per monitor before the cache is emptied (the monitor caps series itself). */
const MAX_CACHED_SERIES = 1000;

/** Method numbers for the series cache: `_OTHER` is 0. */
const METHOD_SLOTS: ReadonlyMap<string, number> = new Map(KNOWN_METHODS.map((m, i) => [m, i + 1]));

/**
 * The recording handles of one monitor, made once per monitor by
 * {@link HttpMetrics.instruments}: the instruments, the monitor's clock and
 * diagnostics, its `monitor.security` (when it has one), and a cache of bound series.
 *
 * @example
 * ```ts
 * const instruments: HttpInstruments = metrics.instruments();
 * instruments.active.bind({ 'http.request.method': 'GET' }).inc();
 * ```
 */
export class HttpInstruments {
  /** The monitor recorded into. */
  readonly monitor: MonitorApi;
  /** Milliseconds from the monitor's clock (`performance.now()` for the system clock). */
  readonly now: () => number;
  /** Whether {@link HttpInstruments.now} is `performance.now()` (the monitor runs on the system clock). */
  readonly performanceClock: boolean;
  /**
   * What turns a reading of {@link HttpInstruments.now} into the monitor clock's
   * milliseconds: `performance.timeOrigin` for the system clock, else 0.
   */
  readonly clockOffset: number;
  /** The monitor's diagnostics, when it has any. */
  readonly diagnostics: Diagnostics | undefined;
  /** `monitor.security`, when the monitor has it. */
  readonly security: SecuritySignalSink | undefined;
  /** {@link HTTP_METRICS}`.duration`. */
  readonly duration: Timer;
  /** {@link HTTP_METRICS}`.requests`. */
  readonly requests: Counter;
  /** {@link HTTP_METRICS}`.active`. */
  readonly active: Gauge;
  /** {@link HTTP_METRICS}`.requestBodySize`. */
  readonly requestBodySize: Histogram;
  /** {@link HTTP_METRICS}`.responseBodySize`. */
  readonly responseBodySize: Histogram;
  /** {@link HTTP_METRICS}`.aborted`. */
  readonly aborted: Counter;
  /** {@link HTTP_METRICS}`.rateLimitUtilization`. */
  readonly rateLimitUtilization: Gauge;
  readonly #byRoute = new Map<string, Map<number, HttpSeriesHandles>>();
  readonly #byKey = new Map<string, HttpSeriesHandles>();
  readonly #activeByMethod = new Map<string, BoundGauge>();
  #cached = 0;

  /** Makes the instruments of `monitor` in `component`. */
  constructor(monitor: MonitorApi, component: string) {
    this.monitor = monitor;
    const o = { component };
    const clock = (monitor as { clock?: Clock }).clock;
    const custom = clock === systemClock ? undefined : clock;
    this.performanceClock = custom === undefined;
    this.clockOffset = custom === undefined ? performance.timeOrigin : 0;
    this.now = custom === undefined ? (): number => performance.now() : (): number => custom.now();
    this.diagnostics = (monitor as { diagnostics?: Diagnostics }).diagnostics;
    this.security = securitySinkOf(monitor);
    this.duration = monitor.timer(HTTP_METRICS.duration, {
      ...o,
      description: 'Duration of HTTP server requests',
    });
    this.requests = monitor.counter(HTTP_METRICS.requests, {
      ...o,
      description: 'HTTP server requests',
    });
    this.active = monitor.gauge(HTTP_METRICS.active, {
      ...o,
      unit: '{request}',
      description: 'HTTP server requests in flight',
    });
    this.requestBodySize = monitor.histogram(HTTP_METRICS.requestBodySize, {
      ...o,
      unit: 'By',
      description: 'Size of HTTP server request bodies',
    });
    this.responseBodySize = monitor.histogram(HTTP_METRICS.responseBodySize, {
      ...o,
      unit: 'By',
      description: 'Size of HTTP server response bodies',
    });
    this.aborted = monitor.counter(HTTP_METRICS.aborted, {
      ...o,
      description: 'HTTP server requests abandoned by the client',
    });
    this.rateLimitUtilization = monitor.gauge(HTTP_METRICS.rateLimitUtilization, {
      ...o,
      unit: '1',
      description: 'Share of the rate-limit quota used, from RateLimit-* response headers',
    });
  }

  /** The in-flight gauge of a (normalised) method, bound once. */
  activeGauge(method: string): BoundGauge {
    let gauge = this.#activeByMethod.get(method);
    if (gauge === undefined) {
      gauge = this.active.bind({ 'http.request.method': method });
      this.#activeByMethod.set(method, gauge);
    }
    return gauge;
  }

  /**
   * The bound series of a finished request, bound on first use and cached (the cache
   * is emptied past 1,000 series; the monitor's own cap still applies).
   */
  seriesFor(
    method: string,
    route: string,
    statusCode: number,
    aborted: boolean,
    extra: Tags | undefined,
  ): HttpSeriesHandles {
    const code = aborted ? 499 : statusCode;
    if (extra === undefined) {
      let byStatus = this.#byRoute.get(route);
      if (byStatus === undefined) {
        byStatus = new Map();
        this.#byRoute.set(route, byStatus);
      }
      // Status codes are below 1000 (Node checks): one number per method and status.
      const slot = (METHOD_SLOTS.get(method) ?? 0) * 1000 + code;
      let handles = byStatus.get(slot);
      if (handles === undefined) {
        handles = this.#bind(method, route, code, aborted, undefined);
        byStatus.set(slot, handles);
      }
      return handles;
    }
    let key = `${method} ${code} ${route}`;
    for (const name of Object.keys(extra)) key += `\u0000${name}\u0000${String(extra[name])}`;
    let handles = this.#byKey.get(key);
    if (handles === undefined) {
      handles = this.#bind(method, route, code, aborted, extra);
      this.#byKey.set(key, handles);
    }
    return handles;
  }

  #bind(
    method: string,
    route: string,
    code: number,
    aborted: boolean,
    extra: Tags | undefined,
  ): HttpSeriesHandles {
    if (++this.#cached > MAX_CACHED_SERIES) {
      this.#byRoute.clear();
      this.#byKey.clear();
      this.#cached = 1;
    }
    const tags: Record<string, string> = {
      ...extra,
      'http.request.method': method,
      'http.route': route,
      'http.response.status_code': aborted ? ABORTED_STATUS : String(code),
      'http.response.status_class': aborted ? '4xx' : statusClass(code),
    };
    Object.freeze(tags);
    return {
      duration: this.duration.bind(tags),
      requests: this.requests.bind(tags),
      requestBodySize: this.requestBodySize.bind(tags),
      responseBodySize: this.responseBodySize.bind(tags),
    };
  }
}

/**
 * One request in flight: its start, its in-flight gauge and what was learnt on the
 * way (an error, bytes written, its trace). Ended once, whichever of finish, close or
 * abort comes first.
 *
 * @example
 * ```ts
 * const state: RequestState | undefined = metrics.begin(req.method, req.headers['content-length']);
 * if (state !== undefined) state.bytesWritten += chunk.length;
 * ```
 */
export class RequestState {
  /** When it began, in ms of {@link HttpInstruments.now}. */
  readonly start: number;
  /** The normalised method. */
  readonly method: string;
  /** The handles of the monitor it is recorded into. */
  readonly instruments: HttpInstruments;
  /** The in-flight gauge incremented at its start. */
  readonly activeGauge: BoundGauge;
  /** The request body's `Content-Length`, when declared. */
  readonly requestLength: number | undefined;
  /** The first error seen (a thrown error, a rejection, an error middleware's argument). */
  error: unknown = undefined;
  /** Whether an error was seen (the error itself may be `undefined`). */
  hasError = false;
  /** Whether it was recorded already. */
  ended = false;
  /** Response bytes counted as written (streams without `Content-Length`). */
  bytesWritten = 0;
  /** The trace the request is recorded in, set by the adapter from its span. */
  traceId: string | undefined = undefined;

  /** A request that began at `start`; its gauge was incremented by the caller. */
  constructor(
    start: number,
    method: string,
    instruments: HttpInstruments,
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

/**
 * What an adapter knows about a request once it is over, for {@link HttpMetrics.end}.
 *
 * @example
 * ```ts
 * const outcome: RequestOutcome = {
 *   route: '/users/:id', statusCode: 200, aborted: false, responseLength: 11,
 *   clientAddress: '127.0.0.1', user: undefined, extraTags: undefined, headers: res,
 * };
 * ```
 */
export interface RequestOutcome {
  /** The route template (`(unmatched)` for none), already resolved by the adapter. */
  readonly route: string;
  /** The response status code. */
  readonly statusCode: number;
  /** The client went away before the response was complete. */
  readonly aborted: boolean;
  /** The response body's size, when known. */
  readonly responseLength: number | undefined;
  /** The client's address, when known. */
  readonly clientAddress: string | undefined;
  /** The user of a 401/403/429 answer (see {@link HttpMetrics.wantsUser}). */
  readonly user: string | undefined;
  /** The adapter's extra tags (its `tags` option). */
  readonly extraTags: Tags | undefined;
  /** The response headers (for `RateLimit-*`). */
  readonly headers: HeaderSource;
}

/**
 * What an adapter reads of a finished response, for {@link HttpMetrics.finish}.
 *
 * @example
 * ```ts
 * const response: FinishedResponse = {
 *   route: '/users/:id', statusCode: res.statusCode, aborted: !res.writableFinished,
 *   contentLength: res.getHeader('content-length'), countedBytes: true,
 *   clientAddress: req.socket.remoteAddress, headers: res,
 * };
 * ```
 */
export interface FinishedResponse {
  /** The route template (see {@link HttpMetrics.route}). */
  readonly route: string;
  /** The response status code. */
  readonly statusCode: number;
  /** The client went away before the response was complete. */
  readonly aborted: boolean;
  /** The response's `Content-Length` header, as set. */
  readonly contentLength: unknown;
  /** Whether the bytes written were counted into the state (`countResponseBytes`). */
  readonly countedBytes: boolean;
  /** The client's address, when known. */
  readonly clientAddress: string | undefined;
  /** The response headers (for `RateLimit-*`). */
  readonly headers: HeaderSource;
}

/**
 * Records HTTP server metrics into the monitor given in the options, or the global
 * one resolved at each request (so a monitor set after the app was built is used),
 * and feeds `monitor.security`. The constructor checks the options; nothing else
 * throws.
 *
 * @example
 * ```ts
 * import { HttpMetrics } from '@prsm/http';
 *
 * const metrics = new HttpMetrics<IncomingMessage>({ monitor }, 'myAdapter');
 * const state = metrics.begin(req.method, req.headers['content-length']);
 * res.on('close', () => {
 *   if (state !== undefined) {
 *     metrics.end(state, {
 *       route: '/hello', statusCode: res.statusCode, aborted: !res.writableFinished,
 *       responseLength: undefined, clientAddress: req.socket.remoteAddress,
 *       user: undefined, extraTags: undefined, headers: res,
 *     });
 *   }
 * });
 * ```
 */
export class HttpMetrics<Req> {
  /** The options, as given. */
  readonly options: HttpInstrumentationOptions<Req>;
  /** The component recorded into. */
  readonly component: string;
  /** The route of unmatched requests. */
  readonly unmatchedRoute: string;
  /** Whether `monitor.security` is fed. */
  readonly security: boolean;
  /** True when `ignorePaths` is empty: adapters need not read the path to call {@link HttpMetrics.ignored}. */
  readonly ignoresNothing: boolean;
  readonly #ignore: readonly (string | RegExp)[];
  #last: HttpInstruments | undefined;

  /** Checks the options; `adapter` names the caller in `TypeError` messages. */
  constructor(options: HttpInstrumentationOptions<Req> | undefined, adapter: string) {
    const o: unknown = options ?? {};
    if (o === null || typeof o !== 'object')
      throw new TypeError(`${adapter}: options must be an object`);
    const opts = o as HttpInstrumentationOptions<Req>;
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
    this.ignoresNothing = ignore.length === 0;
    for (const key of ['routeLabel', 'tags', 'user'] as const) {
      if (opts[key] !== undefined && typeof opts[key] !== 'function') {
        throw new TypeError(`${adapter}: ${key} must be a function`);
      }
    }
    for (const key of [
      'tracing',
      'traceResponseHeader',
      'serverTimingHeader',
      'security',
      'countResponseBytes',
    ] as const) {
      if (opts[key] !== undefined && typeof opts[key] !== 'boolean') {
        throw new TypeError(`${adapter}: ${key} must be a boolean`);
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

  /** The monitor's handles, made once per monitor. */
  instruments(): HttpInstruments {
    const monitor = this.options.monitor ?? getGlobalMonitor();
    const last = this.#last;
    if (last !== undefined && last.monitor === monitor) return last;
    const made = new HttpInstruments(monitor, this.component);
    this.#last = made;
    return made;
  }

  /**
   * Starts a request; undefined when the monitor records nothing. `startedAt`, a
   * `performance.now()` reading taken when the request arrived, is its start when the
   * monitor runs on the system clock; else (or without it) the start is now.
   */
  begin(
    rawMethod: string | undefined,
    contentLength: unknown,
    startedAt?: number,
  ): RequestState | undefined {
    const instruments = this.instruments();
    if (!instruments.monitor.enabled) return undefined;
    const method = normalizeMethod(rawMethod);
    const gauge = instruments.activeGauge(method);
    gauge.inc();
    return new RequestState(
      startedAt !== undefined && instruments.performanceClock ? startedAt : instruments.now(),
      method,
      instruments,
      gauge,
      parseLength(contentLength),
    );
  }

  /** Whether the `user` option is wanted for an answer: 401, 403 and 429 with `security` on. */
  wantsUser(statusCode: number): boolean {
    return (
      this.security &&
      this.options.user !== undefined &&
      (statusCode === 401 || statusCode === 403 || statusCode === 429)
    );
  }

  /** Records a finished (or abandoned) request. Once per state; never throws. */
  end(state: RequestState, outcome: RequestOutcome): void {
    if (state.ended) return;
    state.ended = true;
    const inst = state.instruments;
    try {
      state.activeGauge.dec();
      const ended = inst.now();
      const elapsed = ended - state.start;
      const aborted = outcome.aborted;
      const handles = inst.seriesFor(
        state.method,
        outcome.route,
        outcome.statusCode,
        aborted,
        outcome.extraTags,
      );
      const failed = !aborted && (outcome.statusCode >= 500 || state.hasError);
      if (failed) handles.duration.recordError(elapsed, state.traceId);
      else handles.duration.record(elapsed, state.traceId);
      handles.requests.inc();
      if (state.requestLength !== undefined) handles.requestBodySize.record(state.requestLength);
      const responseLength = outcome.responseLength;
      if (responseLength !== undefined) handles.responseBodySize.record(responseLength);
      if (aborted) {
        inst.aborted.inc(1, {
          'http.request.method': state.method,
          'http.route': outcome.route,
        });
      } else {
        const used = rateLimitUsed(outcome.headers);
        if (used !== undefined) {
          inst.rateLimitUtilization.set(used, { 'http.route': outcome.route });
        }
      }
      if (this.security && inst.security !== undefined) {
        reportSecuritySignals(inst.security, {
          statusCode: aborted ? 499 : outcome.statusCode,
          method: state.method,
          route: outcome.route,
          clientAddress: outcome.clientAddress,
          user: outcome.user,
          at: inst.clockOffset + ended,
        });
      }
    } catch (error) {
      this.internalError(error, 'recording a request', inst);
    }
  }

  /**
   * The `http.route` of a request: the `routeLabel` option's, else the framework's
   * template (`template(req)`), else the unmatched route. Never throws.
   */
  route(req: Req, template: (req: Req) => string | undefined): string {
    let route: string | undefined;
    try {
      route = this.callOption(this.options.routeLabel, req, 'routeLabel') ?? template(req);
    } catch (error) {
      this.internalError(error, 'route template');
    }
    return route ?? this.unmatchedRoute;
  }

  /**
   * Ends a request as an adapter saw it finish: {@link HttpMetrics.end} with the
   * `user` and `tags` options applied, then the request's span (when it has one)
   * named, given its status and ended. Once per state; never throws.
   */
  finish(
    state: RequestState,
    req: Req,
    response: FinishedResponse,
    tracing: HttpTracing,
    span: RequestSpan | undefined,
  ): void {
    if (state.ended) return;
    const { route, statusCode, aborted } = response;
    this.end(state, {
      route,
      statusCode,
      aborted,
      responseLength: aborted
        ? undefined
        : responseLength(response.contentLength, state, response.countedBytes),
      clientAddress: response.clientAddress,
      user: this.wantsUser(statusCode)
        ? this.callOption(this.options.user, req, 'user')
        : undefined,
      extraTags: this.callOption(this.options.tags, req, 'tags'),
      headers: response.headers,
    });
    if (span === undefined) return;
    try {
      tracing.end(span, state.method, route, statusCode, aborted, state.error, state.hasError);
    } catch (error) {
      this.internalError(error, 'ending the server span');
    }
  }

  /** Our own failure: counted in the monitor's diagnostics, never thrown into the app. */
  internalError(error: unknown, where: string, inst?: HttpInstruments): void {
    try {
      (inst ?? this.instruments()).diagnostics?.error(DiagnosticCode.INTERNAL_ERROR, error, {
        where,
      });
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
