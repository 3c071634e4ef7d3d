/**
 * Trend classification of per-minute series (least-squares slope with a significance
 * rule) and the daily usage pattern from per-hour volume.
 */
import type { HistorySeries } from './history.js';
import { fitLine } from './stats.js';
import type { AnalyticsUsagePattern, TrendDirection, TrendFit, UsagePatternName } from './types.js';

/**
 * The significance rule of {@link classifyTrend}. A trend is called only when all
 * three hold: the slope's t-statistic is at least `minTStatistic` in size (the slope
 * is not noise), the fitted change over the window is at least `minRelativeChange` of
 * the series' mean, and at least `minAbsoluteChange` in the series' unit (it matters).
 *
 * @example
 * ```ts
 * const rule: TrendOptions = { minTStatistic: 3, minRelativeChange: 0.1, minAbsoluteChange: 0.005, minPoints: 10 };
 * ```
 */
export interface TrendOptions {
  /** Default 3. */
  readonly minTStatistic?: number;
  /** Default 0.1 (10%). */
  readonly minRelativeChange?: number;
  /** Default 0. */
  readonly minAbsoluteChange?: number;
  /** Fewer points than this (NaN minutes skipped) read as stable. Default 10. */
  readonly minPoints?: number;
  /** When true a rising series is `improving` (throughput); default false (latency, errors). */
  readonly higherIsBetter?: boolean;
}

/**
 * Classifies a series (one value a minute, NaN where unknown) as improving, stable or
 * degrading: a least-squares line over the points, and the rule of
 * {@link TrendOptions}: `|t| ≥ 3`, `|slope × (n − 1)| ≥ 10%` of the mean, and any
 * absolute floor. For latency and error rate a falling series is `improving`.
 *
 * @example
 * ```ts
 * classifyTrend(history.series('marketplace', 'latency', { points: 60 }).values).direction; // 'degrading'
 * ```
 */
export function classifyTrend(values: ArrayLike<number>, options: TrendOptions = {}): TrendFit {
  const minT = options.minTStatistic ?? 3;
  const minRel = options.minRelativeChange ?? 0.1;
  const minAbs = options.minAbsoluteChange ?? 0;
  const minPoints = options.minPoints ?? 10;
  const xs = new Float64Array(values.length);
  let firstX = -1;
  let lastX = -1;
  for (let i = 0; i < values.length; i++) {
    xs[i] = i;
    if (!Number.isNaN(values[i]!)) {
      if (firstX < 0) firstX = i;
      lastX = i;
    }
  }
  const fit = fitLine(xs, values);
  if (fit.n < minPoints || Number.isNaN(fit.slope)) {
    return {
      direction: 'stable',
      points: fit.n,
      slopePerMinute: NaN,
      tStatistic: 0,
      relativeChange: 0,
      absoluteChange: 0,
      mean: fit.meanY,
    };
  }
  const absoluteChange = fit.slope * (lastX - firstX);
  const relativeChange = fit.meanY !== 0 ? absoluteChange / Math.abs(fit.meanY) : 0;
  const significant =
    Math.abs(fit.tStatistic) >= minT &&
    Math.abs(relativeChange) >= minRel &&
    Math.abs(absoluteChange) >= minAbs &&
    fit.slope !== 0;
  let direction: TrendDirection = 'stable';
  if (significant) {
    const rising = fit.slope > 0;
    direction = rising === (options.higherIsBetter === true) ? 'improving' : 'degrading';
  }
  return {
    direction,
    points: fit.n,
    slopePerMinute: fit.slope,
    tStatistic: fit.tStatistic,
    relativeChange,
    absoluteChange,
    mean: fit.meanY,
  };
}

/**
 * Mean volume by hour of the day (24 values, index 0 is 00:00-01:00 in the offset's
 * local time; NaN for hours never seen) from an hourly history series.
 *
 * @example
 * ```ts
 * const profile = hourlyProfile(history.series('marketplace', 'throughput', { resolution: 'hour' }));
 * ```
 */
export function hourlyProfile(hourly: HistorySeries, utcOffsetMinutes = 0): number[] {
  const sums = new Float64Array(24);
  const counts = new Float64Array(24);
  for (let i = 0; i < hourly.values.length; i++) {
    const v = hourly.values[i]!;
    if (Number.isNaN(v)) continue;
    const local = hourly.startMs + i * hourly.stepMs + utcOffsetMinutes * 60_000;
    const hour = ((Math.floor(local / 3_600_000) % 24) + 24) % 24;
    sums[hour] = sums[hour]! + v;
    counts[hour] = counts[hour]! + 1;
  }
  return Array.from(sums, (s, h) => (counts[h]! > 0 ? s / counts[h]! : NaN));
}

/**
 * Thresholds of {@link classifyUsagePattern}.
 *
 * @example
 * ```ts
 * const o: UsagePatternOptions = { peakFraction: 0.8, steadyRatio: 1.3, minHours: 12 };
 * ```
 */
export interface UsagePatternOptions {
  /** An hour is a peak hour at this fraction of the busiest hour or more. Default 0.8. */
  readonly peakFraction?: number;
  /** The busiest hour at most this many times the mean hour: `steady`. Default 1.3. */
  readonly steadyRatio?: number;
  /** Fewer hours of the day seen: `insufficient_data`. Default 12. */
  readonly minHours?: number;
}

function hh(h: number): string {
  return `${String(h % 24).padStart(2, '0')}:00`;
}

/**
 * The spec's `usage_pattern` from a 24-hour profile. Peak hours are those at 80% of
 * the busiest hour or more, merged into ranges of consecutive hours (`14:00-16:00`,
 * end exclusive; 23:00 and 00:00 are consecutive). The pattern: `insufficient_data`
 * with fewer than 12 hours of the day seen; `steady` when the busiest hour is at most
 * 1.3 × the mean hour (no peak hours then); otherwise by where the peak ranges start:
 * business hours 08:00-18:00, evening 18:00-24:00, overnight 00:00-06:00 —
 * `business_hours_with_evening_peak` (both of the first two), `business_hours`,
 * `evening_peak`, `overnight_peak` (only that one), else `irregular`.
 *
 * @example
 * ```ts
 * classifyUsagePattern(profile); // { peak_hours: ['14:00-16:00', '20:00-22:00'], pattern: 'business_hours_with_evening_peak' }
 * ```
 */
export function classifyUsagePattern(
  profile: readonly number[],
  options: UsagePatternOptions = {},
): AnalyticsUsagePattern {
  const peakFraction = options.peakFraction ?? 0.8;
  const steadyRatio = options.steadyRatio ?? 1.3;
  const minHours = options.minHours ?? 12;
  let seen = 0;
  let sum = 0;
  let max = -Infinity;
  for (const v of profile) {
    if (Number.isNaN(v)) continue;
    seen++;
    sum += v;
    if (v > max) max = v;
  }
  if (seen < minHours || !(max > 0)) return { peak_hours: [], pattern: 'insufficient_data' };
  if (max <= steadyRatio * (sum / seen)) return { peak_hours: [], pattern: 'steady' };
  const peak = profile.map((v) => !Number.isNaN(v) && v >= peakFraction * max);
  // Ranges of consecutive peak hours, wrapping midnight: start from a non-peak hour.
  const startAt = peak.findIndex((p) => !p);
  const ranges: { start: number; length: number }[] = [];
  for (let k = 0; k < 24; k++) {
    const h = (startAt + k) % 24;
    if (!peak[h]) continue;
    const prev = ranges[ranges.length - 1];
    if (prev !== undefined && (prev.start + prev.length) % 24 === h) prev.length++;
    else ranges.push({ start: h, length: 1 });
  }
  ranges.sort((a, b) => a.start - b.start);
  let business = false;
  let evening = false;
  let night = false;
  let other = false;
  for (const r of ranges) {
    if (r.start >= 8 && r.start < 18) business = true;
    else if (r.start >= 18) evening = true;
    else if (r.start < 6) night = true;
    else other = true;
  }
  let pattern: UsagePatternName = 'irregular';
  if (business && evening && !night && !other) pattern = 'business_hours_with_evening_peak';
  else if (business && !evening && !night && !other) pattern = 'business_hours';
  else if (evening && !business && !night && !other) pattern = 'evening_peak';
  else if (night && !business && !evening && !other) pattern = 'overnight_peak';
  return {
    peak_hours: ranges.map((r) => `${hh(r.start)}-${hh(r.start + r.length)}`),
    pattern,
  };
}
