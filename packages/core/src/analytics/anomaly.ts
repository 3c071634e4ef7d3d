/**
 * Robust anomaly detection on per-minute series: each minute is scored against the
 * median and median absolute deviation (MAD) of the minutes before it, so a spike
 * does not hide itself by inflating the baseline (as a mean and standard deviation
 * would) and the baseline follows slow daily swings. `anomalyScore` is what the alert
 * condition language's `anomaly(metric)` reads.
 */
import type { MinuteHistory } from './history.js';
import { round } from './stats.js';
import type { AnomalyRecord } from './types.js';

/**
 * How a minute is scored. The score is `(value − median) / scale` over the
 * `baselinePoints` minutes before it (minutes without a value skipped), with
 * `scale = max(1.4826 × MAD, relativeFloor × |median|, absoluteFloor,
 * countFloor ? √median : 0)`: 1.4826 × MAD estimates the standard deviation of normal
 * noise, and the floors keep a flat baseline from making every wobble infinite.
 *
 * @example
 * ```ts
 * const options: AnomalyOptions = { baselinePoints: 60, minBaseline: 30, threshold: 4, direction: 'up' };
 * ```
 */
export interface AnomalyOptions {
  /** Minutes before a point that form its baseline. Default 60. */
  readonly baselinePoints?: number;
  /** Fewer baseline minutes with a value: no score. Default 30. */
  readonly minBaseline?: number;
  /** |score| at or above this is an anomaly (in the flagged direction). Default 4. */
  readonly threshold?: number;
  /** Which side is anomalous. Default `'both'`. */
  readonly direction?: 'up' | 'down' | 'both';
  /** Default 0.01 (1% of the median). */
  readonly relativeFloor?: number;
  /** Default 1e-9. */
  readonly absoluteFloor?: number;
  /** For counts (Poisson noise): the scale is at least √median. Default false. */
  readonly countFloor?: boolean;
}

/**
 * The detector's defaults for each history metric: latency, p99 latency, error rate
 * and gauges are anomalous upwards only; throughput both ways (a drop is an outage),
 * with a Poisson floor. The error rate has an absolute floor of 0.01 (one percentage
 * point), so a few errors over a clean baseline score by how many points they add.
 *
 * @example
 * ```ts
 * detectAnomalies(values, anomalyDefaults('throughput'));
 * ```
 */
export function anomalyDefaults(metric: string): AnomalyOptions {
  switch (metric) {
    case 'throughput':
      return { direction: 'both', countFloor: true };
    case 'errors':
      return { direction: 'up', countFloor: true };
    case 'error_rate':
      return { direction: 'up', absoluteFloor: 0.01 };
    default:
      return { direction: 'up' };
  }
}

/**
 * A point's score and its baseline.
 *
 * @example
 * ```ts
 * const s: AnomalyScore = scoreAt(values, values.length - 1)!;
 * ```
 */
export interface AnomalyScore {
  /** The point's value. */
  readonly value: number;
  /** The baseline's median. */
  readonly baseline: number;
  /** The scale the deviation was divided by. */
  readonly scale: number;
  /** `(value − baseline) / scale`. */
  readonly score: number;
}

/**
 * Scores point `index` of `values` against the points before it; undefined when the
 * point has no value or the baseline too few.
 *
 * @example
 * ```ts
 * const latest = scoreAt(values, values.length - 1);
 * if (latest && latest.score > 4) console.warn('latency anomaly');
 * ```
 */
export function scoreAt(
  values: ArrayLike<number>,
  index: number,
  options: AnomalyOptions = {},
  scratch?: Float64Array,
): AnomalyScore | undefined {
  const baselinePoints = options.baselinePoints ?? 60;
  const minBaseline = options.minBaseline ?? 30;
  const value = values[index];
  if (value === undefined || !Number.isFinite(value)) return undefined;
  const buf =
    scratch !== undefined && scratch.length >= baselinePoints
      ? scratch
      : new Float64Array(baselinePoints);
  let n = 0;
  for (let i = Math.max(0, index - baselinePoints); i < index; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) buf[n++] = v;
  }
  if (n < Math.max(1, minBaseline)) return undefined;
  const window = buf.subarray(0, n).sort();
  const med = medianOf(window);
  for (let i = 0; i < n; i++) window[i] = Math.abs(window[i]! - med);
  window.sort();
  const mad = medianOf(window);
  const scale = Math.max(
    1.4826 * mad,
    (options.relativeFloor ?? 0.01) * Math.abs(med),
    options.absoluteFloor ?? 1e-9,
    options.countFloor === true ? Math.sqrt(Math.max(0, med)) : 0,
  );
  return { value, baseline: med, scale, score: (value - med) / scale };
}

function medianOf(sorted: Float64Array): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function flagged(score: number, options: AnomalyOptions): boolean {
  const t = options.threshold ?? 4;
  const d = options.direction ?? 'both';
  return d === 'up' ? score >= t : d === 'down' ? score <= -t : Math.abs(score) >= t;
}

/**
 * The anomalous points of a series, as indices with their scores, in order.
 *
 * @example
 * ```ts
 * const found = detectAnomalies(latencies, { threshold: 4, direction: 'up' });
 * ```
 */
export function detectAnomalies(
  values: ArrayLike<number>,
  options: AnomalyOptions = {},
  from = 0,
): (AnomalyScore & { readonly index: number })[] {
  const out: (AnomalyScore & { readonly index: number })[] = [];
  const scratch = new Float64Array(options.baselinePoints ?? 60);
  for (let i = Math.max(0, from); i < values.length; i++) {
    const s = scoreAt(values, i, options, scratch);
    if (s !== undefined && flagged(s.score, options)) out.push({ ...s, index: i });
  }
  return out;
}

/**
 * Error-rate minutes with fewer samples than this are not scored (too few to tell).
 *
 * @example
 * ```ts
 * if (requests < MIN_REQUESTS_FOR_ERROR_RATE) console.log('error rate not scored this minute');
 * ```
 */
export const MIN_REQUESTS_FOR_ERROR_RATE = 20;

/**
 * The series the detector scores for a metric: the error rate blanks minutes with
 * fewer than {@link MIN_REQUESTS_FOR_ERROR_RATE} samples; a gauge the component does
 * not have is read from the `system` component (as alert conditions read `cpu_usage`).
 *
 * @internal
 */
export function anomalySeries(
  history: MinuteHistory,
  metric: string,
  component: string,
  points: number,
): { values: Float64Array; startMs: number; component: string } {
  let c = component;
  let s = history.series(c, metric, { points });
  if (history.gauges.includes(metric) && !s.values.some((v) => !Number.isNaN(v))) {
    c = 'system';
    s = history.series(c, metric, { points });
  }
  const values = s.values;
  if (metric === 'error_rate') {
    const t = history.series(c, 'throughput', { points });
    for (let i = 0; i < values.length; i++) {
      if (!(t.values[i]! >= MIN_REQUESTS_FOR_ERROR_RATE)) values[i] = NaN;
    }
  }
  return { values, startMs: s.startMs, component: c };
}

/**
 * The robust score of the latest minute recorded of `metric` in `component`'s history
 * (`throughput`, `error_rate`, `latency`, `latency_p99`, `errors` or a kept gauge;
 * gauges fall back to the `system` component), against the minutes before it;
 * undefined (the condition's `no_data`) without a value or enough baseline. Signed:
 * `anomaly(latency) > 4` is a latency spike, `anomaly(throughput) < -4` a drop.
 * Never throws.
 *
 * @example
 * ```ts
 * // In the alert engine's SignalSource:
 * anomaly: (name, component) => anomalyScore(history, name, component),
 * ```
 */
export function anomalyScore(
  history: MinuteHistory,
  metric: string,
  component: string,
  options: AnomalyOptions = {},
): number | undefined {
  try {
    const merged = { ...anomalyDefaults(metric), ...options };
    const points = (merged.baselinePoints ?? 60) + 1;
    const { values } = anomalySeries(history, metric, component, points);
    if (values.length === 0) return undefined;
    return scoreAt(values, values.length - 1, merged)?.score;
  } catch {
    return undefined;
  }
}

/**
 * Anomalous minutes among the last `minutes` of each metric (the history's fixed
 * metrics and kept gauges, with {@link anomalyDefaults}), most recent first, at most
 * `limit`.
 *
 * @example
 * ```ts
 * for (const a of findAnomalies(history, 'marketplace')) console.log(a.metric, a.score);
 * ```
 */
export function findAnomalies(
  history: MinuteHistory,
  component: string,
  options: { readonly minutes?: number; readonly limit?: number; readonly threshold?: number } = {},
): AnomalyRecord[] {
  const minutes = options.minutes ?? 60;
  const limit = options.limit ?? 20;
  const out: AnomalyRecord[] = [];
  for (const metric of ['latency', 'latency_p99', 'error_rate', 'throughput', ...history.gauges]) {
    const defaults = anomalyDefaults(metric);
    const o: AnomalyOptions =
      options.threshold === undefined ? defaults : { ...defaults, threshold: options.threshold };
    const baseline = o.baselinePoints ?? 60;
    const s = anomalySeries(history, metric, component, baseline + minutes);
    // System gauges belong to every component's report, named as the system's.
    for (const a of detectAnomalies(s.values, o, Math.max(0, s.values.length - minutes))) {
      out.push({
        metric,
        component: s.component,
        timestamp: s.startMs + a.index * 60_000,
        value: round(a.value, 4),
        baseline: round(a.baseline, 4),
        score: round(a.score, 2),
      });
    }
  }
  out.sort((a, b) => b.timestamp - a.timestamp || Math.abs(b.score) - Math.abs(a.score));
  return out.slice(0, limit);
}
