/**
 * The spec's API-gateway monitoring, read from what the middleware recorded: request
 * volume per minute and per hour with trends, p50/p95/p99 latency, 4xx/5xx rates by
 * category, and rate-limit quota use. Reads a `Monitor`'s public surface only
 * (`snapshot`, `history`, `windows`); imports `@prsm/core`.
 */
import {
  classifyTrend,
  type ComponentName,
  type HistorySeries,
  type HistorySeriesQuery,
  type MonitorSnapshot,
  type SnapshotOptions,
  TDigest,
  type TrendOptions,
} from '@prsm/core';
import { ABORTED_STATUS, HTTP_METRICS } from './names.js';

/**
 * What {@link apiGatewayReport} reads of a monitor: a `Monitor` fits.
 *
 * @example
 * ```ts
 * const source: GatewayMonitor = monitor;
 * ```
 */
export interface GatewayMonitor {
  /** The configured windows, seconds, ascending. */
  readonly windows: readonly number[];
  /** One consistent read of every series. */
  snapshot(options?: SnapshotOptions): MonitorSnapshot;
  /** The per-minute and per-hour history (ticked once a minute). */
  readonly history: {
    series(component: string, metric: string, query?: HistorySeriesQuery): HistorySeries;
  };
}

/**
 * Options of {@link apiGatewayReport}.
 *
 * @example
 * ```ts
 * const options: ApiGatewayReportOptions = { component: 'api_gateway', windowSeconds: 300, trendMinutes: 30 };
 * ```
 */
export interface ApiGatewayReportOptions {
  /** The middleware's component. Default `'api_gateway'`. */
  readonly component?: ComponentName;
  /**
   * The window (seconds, one of the monitor's windows) of the percentiles, error
   * rates and rate limiting. Default: the monitor's longest window.
   */
  readonly windowSeconds?: number;
  /** Minutes of history the per-minute volume trend is fitted over. Default 60. */
  readonly trendMinutes?: number;
  /** Hours of history the per-hour volume trend is fitted over. Default 24. */
  readonly trendHours?: number;
  /** The significance rule of both trends (see `classifyTrend`); `minPoints` defaults to 10 and 6. */
  readonly trend?: TrendOptions;
  /** A route whose quota use is at least this is listed in `near_limit_routes`. Default 0.8. */
  readonly quotaThreshold?: number;
}

/**
 * The direction of a request volume trend.
 *
 * @example
 * ```ts
 * const t: VolumeTrend = report.request_volume.minute_trend; // 'increasing'
 * ```
 */
export type VolumeTrend = 'increasing' | 'stable' | 'decreasing';

/**
 * One category of error answers.
 *
 * @example
 * ```ts
 * const c: ErrorCategory = { status_code: '429', category: 'rate_limited', class: '4xx', count: 12, rate: 0.01 };
 * ```
 */
export interface ErrorCategory {
  /** The status code (`499`: the client went away). */
  readonly status_code: string;
  /** Its name: `unauthorized`, `forbidden`, `not_found`, `rate_limited`, `internal_error`... */
  readonly category: string;
  /** `4xx` or `5xx`. */
  readonly class: '4xx' | '5xx';
  /** Answers in the window. */
  readonly count: number;
  /** Their share of all answers in the window. */
  readonly rate: number;
}

/**
 * The spec's API-gateway monitoring for one component, in the analytics object's
 * snake case. Latencies are ms; `null` where there was nothing to measure.
 *
 * @example
 * ```ts
 * const r: ApiGatewayReport = apiGatewayReport(monitor);
 * console.log(r.request_volume.per_minute, r.response_times.p99, r.error_rates.server_error_rate);
 * ```
 */
export interface ApiGatewayReport {
  /** The component read. */
  readonly component: string;
  /** The window of the percentiles, error rates and rate limiting, seconds. */
  readonly window_seconds: number;
  /** Requests per minute and per hour, with trends. */
  readonly request_volume: {
    /** Requests since the monitor started. */
    readonly total_requests: number;
    /** Requests in the window. */
    readonly window_requests: number;
    /** Requests in the latest minute of the history; else the window's rate per minute. */
    readonly per_minute: number;
    /** Requests in the latest hour of the history (its mean per minute × 60); else the window's rate × 60. */
    readonly per_hour: number;
    /** The per-minute volume's trend over `trendMinutes`. */
    readonly minute_trend: VolumeTrend;
    /** The per-hour volume's trend over `trendHours`. */
    readonly hour_trend: VolumeTrend;
    /** The fitted change of the per-minute volume per minute (NaN with too few points). */
    readonly minute_slope: number;
  };
  /** Latency percentiles over the window, every route together, ms. */
  readonly response_times: {
    readonly p50: number | null;
    readonly p95: number | null;
    readonly p99: number | null;
    /** The mean, ms. */
    readonly average: number | null;
  };
  /** 4xx and 5xx answers over the window. */
  readonly error_rates: {
    /** 4xx answers (aborted requests, `499`, included) over all answers. */
    readonly client_error_rate: number;
    /** 5xx answers over all answers. */
    readonly server_error_rate: number;
    /** Each error status seen, most frequent first. */
    readonly categories: readonly ErrorCategory[];
  };
  /** Rate limiting. */
  readonly rate_limiting: {
    /** 429 answers in the window. */
    readonly rate_limited: number;
    /** Their share of all answers. */
    readonly rate_limited_rate: number;
    /** The largest quota use of any route (0..1), from `RateLimit-*` headers; null without any. */
    readonly quota_utilization: number | null;
    /** Quota use by route, highest first. */
    readonly routes: readonly { readonly route: string; readonly utilization: number }[];
    /** Routes at or above `quotaThreshold`. */
    readonly near_limit_routes: readonly string[];
  };
}

const CATEGORIES: Readonly<Record<string, string>> = {
  '400': 'bad_request',
  '401': 'unauthorized',
  '403': 'forbidden',
  '404': 'not_found',
  '405': 'method_not_allowed',
  '408': 'request_timeout',
  '409': 'conflict',
  '410': 'gone',
  '413': 'payload_too_large',
  '415': 'unsupported_media_type',
  '422': 'unprocessable',
  '429': 'rate_limited',
  [ABORTED_STATUS]: 'client_closed_request',
  '500': 'internal_error',
  '501': 'not_implemented',
  '502': 'bad_gateway',
  '503': 'unavailable',
  '504': 'gateway_timeout',
};

function volumeTrend(direction: string): VolumeTrend {
  // classifyTrend with higherIsBetter: rising volume is 'improving'.
  return direction === 'improving'
    ? 'increasing'
    : direction === 'degrading'
      ? 'decreasing'
      : 'stable';
}

function lastValue(values: ArrayLike<number>): number {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i]!;
    if (!Number.isNaN(v)) return v;
  }
  return NaN;
}

function ratio(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : 0;
}

function ms(value: number): number | null {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : null;
}

/**
 * The spec's API-gateway monitoring of what `@prsm/express` or `@prsm/fastify`
 * recorded in `component`: request volume per minute and per hour (from the monitor's
 * minute history) with least-squares trends, p50/p95/p99 over the window (every
 * route's digests merged), 4xx and 5xx rates with each status as a named category,
 * and the rate-limit quota use per route. Reads one snapshot; never throws for a
 * monitor that recorded nothing (zeros and nulls). A bad option is a `TypeError`.
 *
 * @example
 * ```ts
 * import { apiGatewayReport } from '@prsm/http';
 *
 * const gateway = apiGatewayReport(monitor, { windowSeconds: 300 });
 * if (gateway.error_rates.server_error_rate > 0.05) console.warn('5xx above 5%');
 * console.log(gateway.request_volume.per_minute, gateway.request_volume.minute_trend);
 * ```
 */
export function apiGatewayReport(
  monitor: GatewayMonitor,
  options: ApiGatewayReportOptions = {},
): ApiGatewayReport {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('apiGatewayReport: options must be an object');
  }
  const component = options.component ?? 'api_gateway';
  if (typeof component !== 'string' || component === '') {
    throw new TypeError('apiGatewayReport: component must be a non-empty string');
  }
  const windowSeconds = options.windowSeconds ?? monitor.windows[monitor.windows.length - 1];
  if (windowSeconds === undefined || !monitor.windows.includes(windowSeconds)) {
    throw new TypeError(
      `apiGatewayReport: windowSeconds must be one of the monitor's windows (${monitor.windows.join(', ')})`,
    );
  }
  const trendMinutes = options.trendMinutes ?? 60;
  const trendHours = options.trendHours ?? 24;
  const threshold = options.quotaThreshold ?? 0.8;
  for (const [name, value] of [
    ['trendMinutes', trendMinutes],
    ['trendHours', trendHours],
  ] as const) {
    if (!Number.isInteger(value) || value < 2) {
      throw new TypeError(`apiGatewayReport: ${name} must be an integer >= 2`);
    }
  }
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) {
    throw new TypeError('apiGatewayReport: quotaThreshold must be a number in 0..1');
  }

  const snapshot = monitor.snapshot({ windows: [windowSeconds], cumulativeQuantiles: false });
  let total = 0;
  let windowCount = 0;
  let windowSum = 0;
  let perMinuteRate = 0;
  const digest = new TDigest();
  const byStatus = new Map<string, number>();
  const routes: { route: string; utilization: number }[] = [];
  for (const s of snapshot.series) {
    if (s.component !== component) continue;
    if (s.type === 'timer' && s.name === HTTP_METRICS.duration) {
      total += s.cumulative.count;
      const w = s.windows[0];
      if (w === undefined || w.count === 0) continue;
      windowCount += w.count;
      windowSum += w.sum;
      perMinuteRate += w.perMinute;
      if (w.digest !== undefined) digest.merge(w.digest);
      const code = s.tags['http.response.status_code'] ?? '';
      byStatus.set(code, (byStatus.get(code) ?? 0) + w.count);
    } else if (s.type === 'gauge' && s.name === HTTP_METRICS.rateLimitUtilization) {
      if (!Number.isFinite(s.value)) continue;
      routes.push({ route: s.tags['http.route'] ?? '', utilization: s.value });
    }
  }
  routes.sort((a, b) => b.utilization - a.utilization || (a.route < b.route ? -1 : 1));

  let clientErrors = 0;
  let serverErrors = 0;
  const categories: ErrorCategory[] = [];
  for (const [code, count] of byStatus) {
    const cls = code.charAt(0) === '4' ? '4xx' : code.charAt(0) === '5' ? '5xx' : undefined;
    if (cls === undefined || code.length !== 3) continue;
    if (cls === '4xx') clientErrors += count;
    else serverErrors += count;
    categories.push({
      status_code: code,
      category: CATEGORIES[code] ?? (cls === '4xx' ? 'client_error' : 'server_error'),
      class: cls,
      count,
      rate: ratio(count, windowCount),
    });
  }
  categories.sort((a, b) => b.count - a.count || (a.status_code < b.status_code ? -1 : 1));
  const rateLimited = byStatus.get('429') ?? 0;

  const minutes = monitor.history.series(component, 'throughput', { points: trendMinutes });
  const hours = monitor.history.series(component, 'throughput', {
    resolution: 'hour',
    points: trendHours,
  });
  const minuteFit = classifyTrend(minutes.values, { higherIsBetter: true, ...options.trend });
  const hourFit = classifyTrend(hours.values, {
    minPoints: 6,
    higherIsBetter: true,
    ...options.trend,
  });
  const lastMinute = lastValue(minutes.values);
  const lastHourMean = lastValue(hours.values);
  const [p50, p95, p99] = digest.count > 0 ? digest.quantiles([0.5, 0.95, 0.99]) : [NaN, NaN, NaN];

  return {
    component,
    window_seconds: windowSeconds,
    request_volume: {
      total_requests: total,
      window_requests: windowCount,
      per_minute: Number.isNaN(lastMinute) ? Math.round(perMinuteRate * 10) / 10 : lastMinute,
      per_hour: Number.isNaN(lastHourMean)
        ? Math.round(perMinuteRate * 60)
        : Math.round(lastHourMean * 60),
      minute_trend: volumeTrend(minuteFit.direction),
      hour_trend: volumeTrend(hourFit.direction),
      minute_slope: minuteFit.slopePerMinute,
    },
    response_times: {
      p50: ms(p50!),
      p95: ms(p95!),
      p99: ms(p99!),
      average: windowCount > 0 ? ms(windowSum / windowCount) : null,
    },
    error_rates: {
      client_error_rate: ratio(clientErrors, windowCount),
      server_error_rate: ratio(serverErrors, windowCount),
      categories,
    },
    rate_limiting: {
      rate_limited: rateLimited,
      rate_limited_rate: ratio(rateLimited, windowCount),
      quota_utilization: routes.length > 0 ? routes[0]!.utilization : null,
      routes,
      near_limit_routes: routes.filter((r) => r.utilization >= threshold).map((r) => r.route),
    },
  };
}

/**
 * The report's numbers as flat, snake-case keys, for the analytics object's
 * `component_specific` of the gateway's component (a map of numbers): volume
 * (`requests_per_minute`, `requests_per_hour`), latency (`p50_ms`, `p95_ms`, `p99_ms`,
 * left out when nothing was measured), error rates (`client_error_rate`,
 * `server_error_rate`, and `status_<code>_rate` per error status), rate limiting
 * (`rate_limited_rate`, `rate_limit_utilization` when a quota was seen).
 *
 * @example
 * ```ts
 * import { apiGatewayComponentSpecific, apiGatewayReport } from '@prsm/http';
 *
 * apiGatewayComponentSpecific(apiGatewayReport(monitor));
 * // { client_error_rate: 0.031, p50_ms: 12, p95_ms: 88, p99_ms: 240, requests_per_minute: 850, ... }
 * ```
 */
export function apiGatewayComponentSpecific(report: ApiGatewayReport): Record<string, number> {
  const out: Record<string, number> = {
    requests_per_minute: report.request_volume.per_minute,
    requests_per_hour: report.request_volume.per_hour,
    client_error_rate: report.error_rates.client_error_rate,
    server_error_rate: report.error_rates.server_error_rate,
    rate_limited_rate: report.rate_limiting.rate_limited_rate,
  };
  const t = report.response_times;
  if (t.p50 !== null) out['p50_ms'] = t.p50;
  if (t.p95 !== null) out['p95_ms'] = t.p95;
  if (t.p99 !== null) out['p99_ms'] = t.p99;
  for (const c of report.error_rates.categories) out[`status_${c.status_code}_rate`] = c.rate;
  const quota = report.rate_limiting.quota_utilization;
  if (quota !== null) out['rate_limit_utilization'] = quota;
  const sorted: Record<string, number> = {};
  for (const key of Object.keys(out).sort()) sorted[key] = out[key]!;
  return sorted;
}
