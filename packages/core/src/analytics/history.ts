/**
 * A bounded per-minute and per-hour history of each component: requests, errors,
 * mean and p99 latency of its timers, and a configured list of gauges. The Monitor
 * keeps sliding windows of at most its longest window; trends, usage patterns,
 * anomalies and capacity forecasts need longer series, sampled here once a minute.
 */
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';
import type { AnalyticsSource } from './source.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * The gauges a {@link MinuteHistory} keeps by default: the resource sampler's system
 * gauges, the database pool's and background task queues'.
 *
 * @example
 * ```ts
 * new MinuteHistory(source, diagnostics, { gauges: [...DEFAULT_HISTORY_GAUGES, 'search_cache_hit_rate'] });
 * ```
 */
export const DEFAULT_HISTORY_GAUGES: readonly string[] = Object.freeze([
  'cpu_usage',
  'memory_usage',
  'disk_usage',
  'event_loop_utilization',
  'process_heap_used',
  'db_connections',
  'max_connections',
  'task_queue_depth',
]);

/**
 * The metrics every component's history has, besides its gauges: `throughput`
 * (timer samples per minute), `errors` (error samples per minute), `error_rate`
 * (errors over samples; NaN in a minute without samples), `latency` (mean timer
 * sample, ms) and `latency_p99` (the 99th percentile of the component's timers over
 * the sampling window, ms).
 *
 * @example
 * ```ts
 * for (const m of HISTORY_METRICS) console.log(m, history.series('marketplace', m).values.at(-1));
 * ```
 */
export const HISTORY_METRICS: readonly string[] = Object.freeze([
  'throughput',
  'errors',
  'error_rate',
  'latency',
  'latency_p99',
]);

/**
 * Limits of a {@link MinuteHistory}. Every option is checked (a `TypeError` names it).
 *
 * Memory: each component kept costs, once it is first written,
 * `8 × (minutes × (6 + G) + hours × (7 + 2G))` bytes with G gauges: with the defaults
 * (1440 minutes, 168 hours, 8 gauges) 192 KB (161 KB of minutes, 31 KB of hours), so
 * the default 16 components take at most 3.1 MB.
 *
 * @example
 * ```ts
 * const options: MinuteHistoryOptions = { minutes: 1440, hours: 168, maxComponents: 16 };
 * ```
 */
export interface MinuteHistoryOptions {
  /** Minutes kept per component. Default 1440 (24 h). */
  readonly minutes?: number;
  /** Hours kept per component. Default 168 (7 days). */
  readonly hours?: number;
  /** Components kept; further ones are not recorded (reported once each tick). Default 16. */
  readonly maxComponents?: number;
  /** Gauges kept per component (at most 32). Default {@link DEFAULT_HISTORY_GAUGES}. */
  readonly gauges?: readonly string[];
  /** The window the per-minute p99 is read over (seconds). Default 60. */
  readonly sampleWindowSeconds?: number;
}

/**
 * One minute's values, for {@link MinuteHistory.record}. Absent fields are unknown.
 *
 * @example
 * ```ts
 * const point: MinutePoint = { requests: 850, errors: 12, latency: 145, latencyP99: 620, gauges: { cpu_usage: 0.45 } };
 * ```
 */
export interface MinutePoint {
  /** Timer samples in the minute. */
  readonly requests?: number;
  /** Error samples in the minute. */
  readonly errors?: number;
  /** Mean sample, ms. */
  readonly latency?: number;
  /** 99th percentile, ms. */
  readonly latencyP99?: number;
  /** Gauge values by name (names not configured are ignored). */
  readonly gauges?: Readonly<Record<string, number>>;
}

/**
 * A series read from the history: `values[i]` is the minute (or hour) starting at
 * `startMs + i × stepMs`; NaN where nothing was recorded.
 *
 * @example
 * ```ts
 * const { startMs, stepMs, values } = history.series('marketplace', 'latency');
 * ```
 */
export interface HistorySeries {
  /** Start of the first point, ms since the epoch. */
  readonly startMs: number;
  /** 60,000 for minutes, 3,600,000 for hours. */
  readonly stepMs: number;
  /** One value a step, oldest first. */
  readonly values: Float64Array;
}

/**
 * What to read of {@link MinuteHistory.series}.
 *
 * @example
 * ```ts
 * history.series('system', 'disk_usage', { resolution: 'hour', points: 168 });
 * ```
 */
export interface HistorySeriesQuery {
  /** Default `'minute'`. */
  readonly resolution?: 'minute' | 'hour';
  /** Points to read, ending with the latest one recorded. Default: all kept. */
  readonly points?: number;
}

// Minute row: requests, errors, latency mean, p99, written flag, then one value per gauge.
const M_REQ = 0;
const M_ERR = 1;
const M_LAT = 2;
const M_P99 = 3;
const M_SEEN = 4;
const M_FIXED = 5;
// Hour row: requests, errors, latency × requests, p99 max, minutes seen, minutes with
// requests, then per gauge a sum and a count.
const H_REQ = 0;
const H_ERR = 1;
const H_LATSUM = 2;
const H_P99 = 3;
const H_MIN = 4;
const H_FIXED = 6;

interface ComponentHistory {
  readonly minuteOf: Float64Array;
  readonly minutes: Float64Array;
  readonly hourOf: Float64Array;
  readonly hours: Float64Array;
  lastMinute: number;
  /** Totals at the previous tick, to difference. */
  prevCount: number;
  prevErrors: number;
  prevSum: number;
  ticked: boolean;
}

function positiveInteger(value: unknown, fallback: number, name: string, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new TypeError(`${name} must be an integer in 1..${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function add(a: number, b: number): number {
  return Number.isNaN(a) ? b : a + b;
}

/**
 * Per-minute (24 h by default) and per-hour (7 days) history of each component,
 * bounded by {@link MinuteHistoryOptions}. Call `tick(now)` once a minute (the Monitor
 * does, on an unref'd timer): each tick reads every component once from the
 * {@link AnalyticsSource} and records the minute ending nearest `now`
 * (`round(now / 60 s) − 1`): the timers' samples, errors and mean since the previous
 * tick (at the first tick, since the series began), their p99 over the sampling
 * window, and the configured gauges. A second tick in the same minute adds to it.
 * Never throws: a failure is reported to `diagnostics`.
 *
 * @example
 * ```ts
 * const history = new MinuteHistory(familiesSource(reader), monitor.diagnostics);
 * setInterval(() => history.tick(Date.now()), 60_000).unref();
 * const latency = history.series('marketplace', 'latency', { points: 60 });
 * ```
 */
export class MinuteHistory {
  /** Minutes kept per component. */
  readonly minuteCapacity: number;
  /** Hours kept per component. */
  readonly hourCapacity: number;
  /** The gauges kept. */
  readonly gauges: readonly string[];
  readonly #source: AnalyticsSource | undefined;
  readonly #diagnostics: Diagnostics;
  readonly #maxComponents: number;
  readonly #sampleWindow: number;
  readonly #gaugeIndex: ReadonlyMap<string, number>;
  readonly #components = new Map<string, ComponentHistory>();
  #refused = 0;

  constructor(
    source: AnalyticsSource | undefined,
    diagnostics: Diagnostics,
    options: MinuteHistoryOptions = {},
  ) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('history options must be an object');
    }
    this.minuteCapacity = positiveInteger(options.minutes, 1440, 'history.minutes', 100_000);
    this.hourCapacity = positiveInteger(options.hours, 168, 'history.hours', 10_000);
    this.#maxComponents = positiveInteger(options.maxComponents, 16, 'history.maxComponents', 1000);
    const window = options.sampleWindowSeconds ?? 60;
    if (typeof window !== 'number' || !(window > 0) || !Number.isFinite(window)) {
      throw new TypeError(
        `history.sampleWindowSeconds must be a positive number, got ${String(window)}`,
      );
    }
    this.#sampleWindow = window;
    const gauges: unknown = options.gauges ?? DEFAULT_HISTORY_GAUGES;
    if (
      !Array.isArray(gauges) ||
      gauges.length > 32 ||
      !gauges.every((g) => typeof g === 'string' && g.length > 0)
    ) {
      throw new TypeError('history.gauges must be an array of at most 32 metric names');
    }
    this.gauges = Object.freeze([...new Set(gauges as string[])]);
    this.#gaugeIndex = new Map(this.gauges.map((g, i) => [g, i]));
    this.#source = source;
    this.#diagnostics = diagnostics;
  }

  /** Components with a history. */
  components(): string[] {
    return [...this.#components.keys()];
  }

  /** Components seen but not kept (over `maxComponents`), counted at each tick. */
  get refusedComponents(): number {
    return this.#refused;
  }

  /**
   * Samples every component of the source for the minute ending nearest `now`.
   * Never throws.
   */
  tick(now: number): void {
    const source = this.#source;
    if (source === undefined) return;
    try {
      const minute = Math.round(now / MINUTE_MS) - 1;
      let refused = 0;
      for (const component of source.components()) {
        const h = this.#history(component);
        if (h === undefined) {
          refused++;
          continue;
        }
        const r = source.read(component, this.#sampleWindow, 'component', now);
        let count = 0;
        let errors = 0;
        let sum = 0;
        for (const op of r.operations) {
          count += op.totalCount;
          errors += op.totalErrors;
          sum += op.totalSum;
        }
        // A count going back means the series restarted: count from zero.
        const reset = !h.ticked || count < h.prevCount;
        const dCount = reset ? count : count - h.prevCount;
        const dErrors = reset ? errors : Math.max(0, errors - h.prevErrors);
        const dSum = reset ? sum : sum - h.prevSum;
        h.prevCount = count;
        h.prevErrors = errors;
        h.prevSum = sum;
        h.ticked = true;
        const gauges: Record<string, number> = {};
        for (const g of this.gauges) {
          const v = r.gauges.get(g);
          if (v !== undefined) gauges[g] = v;
        }
        this.#write(h, minute, {
          requests: dCount,
          errors: dErrors,
          latency: dCount > 0 ? dSum / dCount : NaN,
          latencyP99: dCount > 0 ? r.latencyP99 : NaN,
          gauges,
        });
      }
      if (refused > 0) {
        this.#refused = refused;
        this.#diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `analytics history: ${refused} components over maxComponents (${this.#maxComponents}) not recorded`,
        );
      }
    } catch (error) {
      this.#diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `analytics history tick: ${error instanceof Error ? error.message : 'unknown error'}`,
      );
    }
  }

  /**
   * Records one minute directly (the minute containing `timestampMs`), adding to what
   * that minute holds: for imports and tests. Never throws; false when the component
   * is over `maxComponents`.
   */
  record(component: string, timestampMs: number, point: MinutePoint): boolean {
    try {
      const h = this.#history(component);
      if (h === undefined) return false;
      this.#write(h, Math.floor(timestampMs / MINUTE_MS), {
        requests: point.requests ?? NaN,
        errors: point.errors ?? NaN,
        latency: point.latency ?? NaN,
        latencyP99: point.latencyP99 ?? NaN,
        gauges: point.gauges ?? {},
      });
      return true;
    } catch (error) {
      this.#diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `analytics history record: ${error instanceof Error ? error.message : 'unknown error'}`,
      );
      return false;
    }
  }

  /** The start (ms) of the latest minute recorded for `component`; undefined when none. */
  latestMinute(component: string): number | undefined {
    const h = this.#components.get(component);
    return h === undefined || h.lastMinute < 0 ? undefined : h.lastMinute * MINUTE_MS;
  }

  /**
   * A metric of a component (see {@link HISTORY_METRICS}, or a configured gauge),
   * ending with the latest minute (or that minute's hour) recorded. Hourly values are
   * per minute too: `throughput` and `errors` are the hour's means per minute seen,
   * `latency` its weighted mean, `latency_p99` its largest minute, a gauge its mean.
   * An unknown component or metric reads as an empty series.
   */
  series(component: string, metric: string, query: HistorySeriesQuery = {}): HistorySeries {
    const hourly = query.resolution === 'hour';
    const stepMs = hourly ? HOUR_MS : MINUTE_MS;
    const h = this.#components.get(component);
    const column = this.#column(metric);
    if (h === undefined || h.lastMinute < 0 || column === undefined) {
      return { startMs: 0, stepMs, values: new Float64Array(0) };
    }
    const capacity = hourly ? this.hourCapacity : this.minuteCapacity;
    const points = Math.min(capacity, Math.max(0, Math.floor(query.points ?? capacity)));
    const last = hourly ? Math.floor(h.lastMinute / 60) : h.lastMinute;
    const first = last - points + 1;
    const values = new Float64Array(points).fill(NaN);
    const width = hourly ? H_FIXED + 2 * this.gauges.length : M_FIXED + this.gauges.length;
    const rows = hourly ? h.hours : h.minutes;
    const stamps = hourly ? h.hourOf : h.minuteOf;
    for (let i = 0; i < points; i++) {
      const t = first + i;
      const slot = ((t % capacity) + capacity) % capacity;
      if (stamps[slot] !== t) continue;
      const b = slot * width;
      values[i] = hourly ? this.#hourValue(rows, b, column) : this.#minuteValue(rows, b, column);
    }
    return { startMs: first * stepMs, stepMs, values };
  }

  /** Metrics with a column: the fixed ones and the gauges. */
  metrics(): string[] {
    return [...HISTORY_METRICS, ...this.gauges];
  }

  #column(metric: string): number | string | undefined {
    if (HISTORY_METRICS.includes(metric)) return metric;
    return this.#gaugeIndex.get(metric);
  }

  #minuteValue(rows: Float64Array, b: number, column: number | string): number {
    if (typeof column === 'number') return rows[b + M_FIXED + column]!;
    const req = rows[b + M_REQ]!;
    switch (column) {
      case 'throughput':
        return req;
      case 'errors':
        return rows[b + M_ERR]!;
      case 'error_rate':
        return req > 0 ? rows[b + M_ERR]! / req : NaN;
      case 'latency':
        return rows[b + M_LAT]!;
      default:
        return rows[b + M_P99]!;
    }
  }

  #hourValue(rows: Float64Array, b: number, column: number | string): number {
    if (typeof column === 'number') {
      const n = rows[b + H_FIXED + 2 * column + 1]!;
      return n > 0 ? rows[b + H_FIXED + 2 * column]! / n : NaN;
    }
    const req = rows[b + H_REQ]!;
    const minutes = rows[b + H_MIN]!;
    switch (column) {
      case 'throughput':
        return minutes > 0 && !Number.isNaN(req) ? req / minutes : NaN;
      case 'errors':
        return minutes > 0 && !Number.isNaN(req) ? rows[b + H_ERR]! / minutes : NaN;
      case 'error_rate':
        return req > 0 ? rows[b + H_ERR]! / req : NaN;
      case 'latency': {
        const withLatency = rows[b + H_FIXED - 1]!;
        return withLatency > 0 ? rows[b + H_LATSUM]! / withLatency : NaN;
      }
      default:
        return rows[b + H_P99]!;
    }
  }

  #history(component: string): ComponentHistory | undefined {
    let h = this.#components.get(component);
    if (h !== undefined) return h;
    if (this.#components.size >= this.#maxComponents) return undefined;
    const g = this.gauges.length;
    h = {
      minuteOf: new Float64Array(this.minuteCapacity).fill(NaN),
      minutes: new Float64Array(this.minuteCapacity * (M_FIXED + g)),
      hourOf: new Float64Array(this.hourCapacity).fill(NaN),
      hours: new Float64Array(this.hourCapacity * (H_FIXED + 2 * g)),
      lastMinute: -1,
      prevCount: 0,
      prevErrors: 0,
      prevSum: 0,
      ticked: false,
    };
    this.#components.set(component, h);
    return h;
  }

  #write(
    h: ComponentHistory,
    minute: number,
    p: {
      requests: number;
      errors: number;
      latency: number;
      latencyP99: number;
      gauges: Readonly<Record<string, number>>;
    },
  ): void {
    if (!Number.isFinite(minute)) return;
    const g = this.gauges.length;
    const mw = M_FIXED + g;
    const ms = ((minute % this.minuteCapacity) + this.minuteCapacity) % this.minuteCapacity;
    const mb = ms * mw;
    const m = h.minutes;
    if (h.minuteOf[ms] !== minute) {
      h.minuteOf[ms] = minute;
      m.fill(NaN, mb, mb + mw);
    }
    const fin = (v: number): number => (Number.isFinite(v) ? v : NaN);
    const requests = fin(p.requests);
    const latency = fin(p.latency);
    // Merge into what the minute holds: counts add, the mean is reweighted.
    const oldReq = m[mb + M_REQ]!;
    const oldLat = m[mb + M_LAT]!;
    if (!Number.isNaN(latency)) {
      const w0 = Number.isNaN(oldLat) || Number.isNaN(oldReq) ? 0 : oldReq;
      const w1 = Number.isNaN(requests) ? 1 : requests;
      m[mb + M_LAT] =
        w0 + w1 > 0
          ? ((Number.isNaN(oldLat) ? 0 : oldLat * w0) + latency * w1) / (w0 + w1)
          : latency;
    }
    if (!Number.isNaN(requests)) m[mb + M_REQ] = add(oldReq, requests);
    const errors = fin(p.errors);
    if (!Number.isNaN(errors)) m[mb + M_ERR] = add(m[mb + M_ERR]!, errors);
    const p99 = fin(p.latencyP99);
    if (!Number.isNaN(p99) && !(m[mb + M_P99]! >= p99)) m[mb + M_P99] = p99;
    const gaugeValues = new Float64Array(g).fill(NaN);
    for (const [name, value] of Object.entries(p.gauges)) {
      const i = this.#gaugeIndex.get(name);
      if (i === undefined || !Number.isFinite(value)) continue;
      m[mb + M_FIXED + i] = value;
      gaugeValues[i] = value;
    }
    if (minute > h.lastMinute) h.lastMinute = minute;

    const hour = Math.floor(minute / 60);
    const hw = H_FIXED + 2 * g;
    const hs = ((hour % this.hourCapacity) + this.hourCapacity) % this.hourCapacity;
    const hb = hs * hw;
    const r = h.hours;
    if (h.hourOf[hs] !== hour) {
      h.hourOf[hs] = hour;
      r.fill(0, hb, hb + hw);
      r[hb + H_P99] = NaN;
      r[hb + H_REQ] = NaN;
    }
    // Minutes seen counts each minute once, however many writes it takes.
    const firstWrite = Number.isNaN(m[mb + M_SEEN]!);
    m[mb + M_SEEN] = 1;
    if (firstWrite) r[hb + H_MIN] = r[hb + H_MIN]! + 1;
    if (!Number.isNaN(requests)) r[hb + H_REQ] = add(r[hb + H_REQ]!, requests);
    if (!Number.isNaN(errors)) r[hb + H_ERR] = r[hb + H_ERR]! + errors;
    if (!Number.isNaN(latency)) {
      const w = Number.isNaN(requests) ? 1 : requests;
      r[hb + H_LATSUM] = r[hb + H_LATSUM]! + latency * w;
      r[hb + H_FIXED - 1] = r[hb + H_FIXED - 1]! + w;
    }
    if (!Number.isNaN(p99) && !(r[hb + H_P99]! >= p99)) r[hb + H_P99] = p99;
    for (let i = 0; i < g; i++) {
      const v = gaugeValues[i]!;
      if (Number.isNaN(v)) continue;
      r[hb + H_FIXED + 2 * i] = r[hb + H_FIXED + 2 * i]! + v;
      r[hb + H_FIXED + 2 * i + 1] = r[hb + H_FIXED + 2 * i + 1]! + 1;
    }
  }
}
