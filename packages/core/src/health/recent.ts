/**
 * What the monitor recorded recently, for the health report's `recent_performance`
 * and `metrics_collected`: one pass over every series' exact window statistics (no
 * quantile is computed), so it stays within the report's budget at 10,000 series.
 */
import type { MonitorReader } from '../alerting/monitor-source.js';
import { CounterSeries } from '../metrics/counter-series.js';
import type { AnySeries } from '../metrics/family.js';
import { HistogramSeries } from '../metrics/histogram-series.js';

/**
 * The monitor's recent measurements, in camelCase (the report renames them).
 *
 * @example
 * ```ts
 * const recent: RecentPerformance = readRecentPerformance(reader, 300, monitor.clock.now());
 * ```
 */
export interface RecentPerformance {
  /** Histogram and timer samples plus counter increases in the window. */
  readonly totalMetrics: number;
  /** The same per minute of the time the window covered. */
  readonly metricsPerMinute: number;
  /** Histogram and timer samples recorded as errors in the window. */
  readonly errorCount: number;
  /** `errorCount` over the window's histogram and timer samples; 0 without any. */
  readonly errorRate: number;
  /** Mean of the window's timer samples (ms); 0 without any. */
  readonly performanceAverage: number;
  /** Measurements (as `totalMetrics` counts them) since the monitor started. */
  readonly metricsCollected: number;
}

/**
 * Options of {@link readRecentPerformance}.
 *
 * @example
 * ```ts
 * const options: RecentPerformanceOptions = { excludeComponents: ['system', 'tasks'] };
 * ```
 */
export interface RecentPerformanceOptions {
  /**
   * Components left out: the health pieces' own measurements are not the service's
   * traffic. Default `['system']` (resource gauges and GC pauses). The SDK's own
   * `prsm.*` metrics are always left out.
   */
  readonly excludeComponents?: readonly string[];
}

const DEFAULT_EXCLUDED: ReadonlySet<string> = new Set(['system']);

/**
 * Reads the monitor's recent measurements over `windowSeconds` (a window the monitor
 * keeps; the reader's `slotsFor` rounds it to whole sub-windows) as of `now`.
 * Counters count by their increase (a counter of events by its events); gauges, which
 * keep no count, are not counted.
 *
 * @example
 * ```ts
 * // Inside Monitor, with the reader it hands the alert engine:
 * const recent = readRecentPerformance(reader, 300, this.clock.now());
 * ```
 */
export function readRecentPerformance(
  reader: MonitorReader,
  windowSeconds: number,
  now: number,
  options: RecentPerformanceOptions = {},
): RecentPerformance {
  const excluded =
    options.excludeComponents === undefined ? DEFAULT_EXCLUDED : new Set(options.excludeComponents);
  reader.sync();
  const slots = reader.slotsFor(windowSeconds);
  let total = 0;
  let samples = 0;
  let errors = 0;
  let timerCount = 0;
  let timerSum = 0;
  let collected = 0;
  let startMs = now;
  const visit = (s: AnySeries, isTimer: boolean): void => {
    if (excluded.has(s.identity.component)) return;
    if (s instanceof HistogramSeries) {
      const w = s.read(slots, false);
      total += w.count;
      samples += w.count;
      errors += w.errors;
      if (isTimer) {
        timerCount += w.count;
        timerSum += w.sum;
      }
      if (w.startMs < startMs) startMs = w.startMs;
      // The read flushed the series: its open and cumulative weights are everything.
      collected += s.activeWeight + s.cumulativeWeight;
    } else if (s instanceof CounterSeries) {
      const w = s.read(slots);
      total += w.increase;
      if (w.startMs < startMs) startMs = w.startMs;
      collected += s.total;
    }
  };
  for (const family of reader.families.values()) {
    if (family.type === 'gauge' || family.name.startsWith('prsm.')) continue;
    const isTimer = family.type === 'timer';
    // The maps themselves, not family.all(): a generator costs more at 10,000 series.
    for (const s of family.series.values()) visit(s, isTimer);
    for (const s of family.overflowSeries.values()) visit(s, isTimer);
  }
  const coveredSeconds = Math.max(0.001, (now - startMs) / 1000);
  return {
    totalMetrics: total,
    metricsPerMinute: (total / coveredSeconds) * 60,
    errorCount: errors,
    errorRate: samples > 0 ? errors / samples : 0,
    performanceAverage: timerCount > 0 ? timerSum / timerCount : 0,
    metricsCollected: collected,
  };
}
