/**
 * What the monitor recorded recently, for the health report's `recent_performance`
 * and `metrics_collected`: one pass over every series' exact window statistics (no
 * quantile is computed), so it stays within the report's budget at 10,000 series.
 */
import type { MonitorReader } from '../alerting/monitor-source.js';
import { CounterSeries } from '../metrics/counter-series.js';
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
  cache?: RecentSlotCache,
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
  for (const family of reader.families.values()) {
    if (family.type === 'gauge' || family.name.startsWith('prsm.')) continue;
    if (family.type === 'counter') {
      // The maps themselves, not family.all(): a generator costs more at 10,000 series.
      for (const map of [family.series, family.overflowSeries]) {
        for (const s of map.values()) {
          if (!(s instanceof CounterSeries) || excluded.has(s.identity.component)) continue;
          const w = s.read(slots);
          total += w.increase;
          if (w.startMs < startMs) startMs = w.startMs;
          collected += s.total;
        }
      }
      continue;
    }
    // Histograms and timers: each series' open sub-window, plus the closed ones summed
    // over the family once (cached while they stay in the window: they never change).
    const isTimer = family.type === 'timer';
    let current = -1;
    let slotMs = 0;
    let createdMs = Infinity;
    const series: HistogramSeries[] = [];
    for (const map of [family.series, family.overflowSeries]) {
      for (const s of map.values()) {
        if (!(s instanceof HistogramSeries) || excluded.has(s.identity.component)) continue;
        s.syncOpen();
        series.push(s);
        current = s.slot;
        slotMs = s.ticker.slotMs;
        if (s.createdMs < createdMs) createdMs = s.createdMs;
        const n = s.activeWeight;
        total += n;
        samples += n;
        errors += s.errors;
        if (isTimer) {
          timerCount += n;
          timerSum += s.activeSum;
        }
        collected += n + s.cumulativeWeight;
      }
    }
    if (series.length === 0) continue;
    const from = current - slots;
    for (let slot = from; slot < current; slot++) {
      const closed =
        cache === undefined
          ? sumSlot(series, slot)
          : cache.slot(family.name, series, slot, excluded);
      total += closed.count;
      samples += closed.count;
      errors += closed.errors;
      if (isTimer) {
        timerCount += closed.count;
        timerSum += closed.sum;
      }
    }
    const familyStart = Math.max(from * slotMs, createdMs);
    if (familyStart < startMs) startMs = familyStart;
  }
  cache?.prune(reader.slotsFor(windowSeconds));
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

interface SlotSum {
  count: number;
  sum: number;
  errors: number;
}

function sumSlot(series: readonly HistogramSeries[], slot: number): SlotSum {
  const out: SlotSum = { count: 0, sum: 0, errors: 0 };
  for (const s of series) {
    const stats = s.statsAt(slot);
    if (stats === undefined) continue;
    out.count += stats.count;
    out.sum += stats.sum;
    out.errors += stats.errors;
  }
  return out;
}

/**
 * The closed sub-windows' sums per histogram family, kept between health reports: a
 * closed sub-window never changes, so each is summed over the family's series once.
 * A series created after a sub-window closed holds nothing of it. @internal
 */
export class RecentSlotCache {
  readonly #families = new Map<string, Map<number, SlotSum>>();
  #excluded: ReadonlySet<string> | undefined;
  #newest = -Infinity;

  /** Sub-window `slot`'s sums over `series` (synced) of the family `name`. */
  slot(
    name: string,
    series: readonly HistogramSeries[],
    slot: number,
    excluded: ReadonlySet<string>,
  ): SlotSum {
    if (excluded !== this.#excluded) {
      // Other components left out: other sums.
      this.#families.clear();
      this.#excluded = excluded;
    }
    let slots = this.#families.get(name);
    if (slots === undefined) {
      slots = new Map();
      this.#families.set(name, slots);
    }
    let sum = slots.get(slot);
    if (sum === undefined) {
      sum = sumSlot(series, slot);
      slots.set(slot, sum);
    }
    if (slot > this.#newest) this.#newest = slot;
    return sum;
  }

  /** Drops sub-windows older than the `slots` before the newest one read. */
  prune(slots: number): void {
    const oldest = this.#newest - slots;
    for (const map of this.#families.values()) {
      for (const slot of map.keys()) if (slot < oldest) map.delete(slot);
    }
  }
}
