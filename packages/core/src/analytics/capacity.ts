/**
 * Capacity planning: least-squares forecasts of resource gauges and throughput from
 * the history, the time until each crosses its threshold ("disk_usage at 90% in 12
 * days"), and scaling advice when that is within the horizon.
 */
import type { MinuteHistory } from './history.js';
import { fitLine, round } from './stats.js';
import type { CapacityForecast } from './types.js';

const DAY_MS = 86_400_000;

/**
 * The default thresholds: 90% of CPU, memory, the fullest disk and the event loop.
 * `db_connections` is forecast against 90% of the latest `max_connections` when the
 * history keeps both.
 *
 * @example
 * ```ts
 * forecastCapacity(history, 'system', { thresholds: { ...DEFAULT_CAPACITY_THRESHOLDS, disk_usage: 0.8 } });
 * ```
 */
export const DEFAULT_CAPACITY_THRESHOLDS: Readonly<Record<string, number>> = Object.freeze({
  cpu_usage: 0.9,
  memory_usage: 0.9,
  disk_usage: 0.9,
  event_loop_utilization: 0.9,
});

/**
 * Options of the capacity forecasts.
 *
 * @example
 * ```ts
 * const options: CapacityOptions = { thresholds: { disk_usage: 0.9 }, throughputPerMinute: 5000, horizonDays: 14 };
 * ```
 */
export interface CapacityOptions {
  /** Gauge thresholds by name. Default {@link DEFAULT_CAPACITY_THRESHOLDS}. */
  readonly thresholds?: Readonly<Record<string, number>>;
  /** The throughput (samples per minute) a component can take; without it throughput is not forecast. */
  readonly throughputPerMinute?: number;
  /** Advice is given when a threshold is this close. Default 14 days. */
  readonly horizonDays?: number;
  /** The slope's |t| at least this, or no forecast. Default 3. */
  readonly minTStatistic?: number;
  /** Fewer points with a value: no forecast. Default 30 minutes, or 24 hours. */
  readonly minPoints?: number;
}

/**
 * The numbers of a forecast of one series, before naming.
 *
 * @example
 * ```ts
 * const f: LinearForecast = forecastLinear(values, 60_000, 0.9);
 * ```
 */
export interface LinearForecast {
  /** The fitted value at the last point. */
  readonly current: number;
  /** Fitted change per day. */
  readonly slopePerDay: number;
  /** The slope's t-statistic. */
  readonly tStatistic: number;
  /** Points fitted. */
  readonly points: number;
  /** 0 when at or past the threshold; null without a significant approach. */
  readonly timeToThresholdMs: number | null;
}

/**
 * Fits a line to `values` (one every `stepMs`, NaN skipped) and extrapolates the time
 * until it reaches `threshold` from its fitted value at the last point: 0 when the
 * fitted value is there already, null when the slope is not significant
 * (`|t| < minTStatistic`) or points away from the threshold.
 *
 * @example
 * ```ts
 * const { timeToThresholdMs } = forecastLinear(diskMinutes, 60_000, 0.9);
 * ```
 */
export function forecastLinear(
  values: ArrayLike<number>,
  stepMs: number,
  threshold: number,
  options: { readonly minTStatistic?: number; readonly minPoints?: number } = {},
): LinearForecast {
  const xs = new Float64Array(values.length);
  let lastX = -1;
  for (let i = 0; i < values.length; i++) {
    xs[i] = i;
    if (!Number.isNaN(values[i]!)) lastX = i;
  }
  const fit = fitLine(xs, values);
  const minPoints = options.minPoints ?? 30;
  if (fit.n < minPoints || Number.isNaN(fit.slope)) {
    return {
      current: lastX >= 0 ? values[lastX]! : NaN,
      slopePerDay: NaN,
      tStatistic: 0,
      points: fit.n,
      timeToThresholdMs: null,
    };
  }
  const current = fit.intercept + fit.slope * lastX;
  const slopePerDay = (fit.slope * DAY_MS) / stepMs;
  let timeToThresholdMs: number | null = null;
  if (current >= threshold) timeToThresholdMs = 0;
  else if (fit.slope > 0 && Math.abs(fit.tStatistic) >= (options.minTStatistic ?? 3)) {
    timeToThresholdMs = ((threshold - current) / fit.slope) * stepMs;
  }
  return { current, slopePerDay, tStatistic: fit.tStatistic, points: fit.n, timeToThresholdMs };
}

/**
 * `12 days`, `5 hours`, `40 minutes`.
 *
 * @example
 * ```ts
 * formatDuration(12 * 86_400_000); // '12 days'
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 3_600_000) {
    const m = Math.max(1, Math.round(ms / 60_000));
    return `${m} minute${m === 1 ? '' : 's'}`;
  }
  if (ms < 2 * DAY_MS) {
    const h = Math.round(ms / 3_600_000);
    return `${h} hour${h === 1 ? '' : 's'}`;
  }
  const d = Math.round(ms / DAY_MS);
  return `${d} days`;
}

function isFraction(metric: string): boolean {
  return metric.endsWith('_usage') || metric.endsWith('_utilization');
}

function show(metric: string, value: number): string {
  return isFraction(metric) ? `${round(value * 100, 1)}%` : `${round(value, 1)}`;
}

const SCALE_WHAT: Readonly<Record<string, string>> = {
  cpu_usage: 'CPU (more instances or cores)',
  memory_usage: 'memory',
  disk_usage: 'disk space',
  event_loop_utilization: 'instances (the event loop is saturating)',
  db_connections: 'the database connection pool',
  throughput: 'instances for the growing traffic',
};

/**
 * Forecasts of the component's gauges that have a threshold (and `db_connections`
 * against 90% of `max_connections`), and of its throughput when `throughputPerMinute`
 * is set. Fits the hourly history when it holds at least 24 hours, else the minutes.
 *
 * @example
 * ```ts
 * for (const f of forecastCapacity(history, 'system')) if (f.advice) console.warn(f.advice);
 * ```
 */
export function forecastCapacity(
  history: MinuteHistory,
  component: string,
  options: CapacityOptions = {},
): CapacityForecast[] {
  const thresholds: Record<string, number> = {
    ...(options.thresholds ?? DEFAULT_CAPACITY_THRESHOLDS),
  };
  if (history.gauges.includes('db_connections') && history.gauges.includes('max_connections')) {
    const max = lastValue(history.series(component, 'max_connections', { points: 60 }).values);
    if (max > 0) thresholds['db_connections'] = 0.9 * max;
  }
  const targets: [string, number][] = [];
  for (const [metric, threshold] of Object.entries(thresholds)) {
    if (history.gauges.includes(metric) && Number.isFinite(threshold))
      targets.push([metric, threshold]);
  }
  if (options.throughputPerMinute !== undefined && options.throughputPerMinute > 0) {
    targets.push(['throughput', options.throughputPerMinute]);
  }
  const horizonMs = (options.horizonDays ?? 14) * DAY_MS;
  const out: CapacityForecast[] = [];
  for (const [metric, threshold] of targets) {
    const hourly = history.series(component, metric, { resolution: 'hour' });
    const useHours = countValues(hourly.values) >= 24;
    const s = useHours ? hourly : history.series(component, metric);
    if (countValues(s.values) === 0) continue;
    const f = forecastLinear(s.values, s.stepMs, threshold, {
      minTStatistic: options.minTStatistic ?? 3,
      minPoints: options.minPoints ?? (useHours ? 24 : 30),
    });
    if (Number.isNaN(f.current)) continue;
    const at = `${metric} at ${show(metric, threshold)}`;
    let summary: string;
    if (f.timeToThresholdMs === 0) summary = `${at} now (${show(metric, f.current)})`;
    else if (f.timeToThresholdMs !== null)
      summary = `${at} in ${formatDuration(f.timeToThresholdMs)}`;
    else if (Number.isNaN(f.slopePerDay) || Math.abs(f.tStatistic) < (options.minTStatistic ?? 3)) {
      summary = `${metric} stable at ${show(metric, f.current)}`;
    } else summary = `${metric} falling from ${show(metric, f.current)}`;
    const advice =
      f.timeToThresholdMs !== null && f.timeToThresholdMs <= horizonMs
        ? `Scale ${SCALE_WHAT[metric] ?? metric}: ${summary} (now ${show(metric, f.current)}, ${
            isFraction(metric)
              ? `${f.slopePerDay >= 0 ? '+' : ''}${round(f.slopePerDay * 100, 2)} points/day`
              : `${f.slopePerDay >= 0 ? '+' : ''}${round(f.slopePerDay, 2)}/day`
          })`
        : undefined;
    out.push({
      metric,
      component,
      current: round(f.current, 4),
      slopePerDay: Number.isNaN(f.slopePerDay) ? 0 : round(f.slopePerDay, 6),
      tStatistic: Number.isFinite(f.tStatistic) ? round(f.tStatistic, 2) : f.tStatistic,
      threshold,
      timeToThresholdMs: f.timeToThresholdMs === null ? null : Math.round(f.timeToThresholdMs),
      resolution: useHours ? 'hour' : 'minute',
      points: f.points,
      summary,
      advice,
    });
  }
  return out;
}

function countValues(values: Float64Array): number {
  let n = 0;
  for (const v of values) if (!Number.isNaN(v)) n++;
  return n;
}

function lastValue(values: Float64Array): number {
  for (let i = values.length - 1; i >= 0; i--) if (!Number.isNaN(values[i]!)) return values[i]!;
  return NaN;
}
