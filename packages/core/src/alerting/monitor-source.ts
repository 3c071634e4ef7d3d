/**
 * The alert engine's {@link SignalSource} over the monitor's series: one
 * `EvaluationPass` per tick, reading each (metric, component, window) once however
 * many rules ask for it. A component's signal aggregates every tag set of the metric
 * in that component (its overflow series included). @internal
 */
import type { DigestPart } from '../sketch/centroids.js';
import { quantileOfUnion } from '../sketch/centroids.js';
import { CounterSeries } from '../metrics/counter-series.js';
import type { AnySeries, MetricFamily } from '../metrics/family.js';
import { GaugeSeries } from '../metrics/gauge-series.js';
import { HistogramSeries } from '../metrics/histogram-series.js';
import type { AggregateFunction } from './condition/ast.js';
import type { SignalSource } from './condition/signal-source.js';
import type { SlotDigestCache } from './slot-cache.js';

/** What the engine may read of a monitor: handed over by the Monitor itself. @internal */
export interface MonitorReader {
  readonly families: ReadonlyMap<string, MetricFamily>;
  /** Ring sub-windows a window of `windowSeconds` spans. */
  slotsFor(windowSeconds: number): number;
  /** Brings every series' sub-window up to date with the clock. */
  sync(): void;
  /** `anomaly(m)`'s score from the monitor's history, when it keeps one. */
  anomaly?(name: string, component: string): number | undefined;
}

/** The component system-wide resource gauges are recorded under. */
export const SYSTEM_COMPONENT = 'system';

interface DistributionAggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
  errors: number;
  startMs: number;
  /** The window's parts, built on the first quantile asked of it. */
  parts: DigestPart[] | undefined;
  /** Whether any series exists (a count of 0 then means "no samples", not "no metric"). */
  series: number;
}

/** One metric's histogram series in a component, with their open sub-windows summed. */
interface OpenAggregate {
  /** The slot cache's key: metric and component. */
  readonly key: string;
  readonly series: readonly HistogramSeries[];
  readonly stats: DistributionAggregate;
  /** The earliest creation time among the series. */
  readonly createdMs: number;
  readonly slotMs: number;
}

const NO_SERIES: readonly AnySeries[] = [];

/**
 * Each metric's series by component, kept across evaluations and rebuilt for a metric
 * only when it gained a series (series are never removed). @internal
 */
export class SeriesIndex {
  readonly #byFamily = new Map<
    MetricFamily,
    { count: number; byComponent: Map<string, AnySeries[]> }
  >();

  /** The series of `family` in `component`. */
  of(family: MetricFamily, component: string): readonly AnySeries[] {
    const count = family.series.size + family.overflowSeries.size;
    let entry = this.#byFamily.get(family);
    if (entry?.count !== count) {
      const byComponent = new Map<string, AnySeries[]>();
      for (const s of family.all()) {
        const c = s.identity.component;
        const list = byComponent.get(c);
        if (list === undefined) byComponent.set(c, [s]);
        else list.push(s);
      }
      entry = { count, byComponent };
      this.#byFamily.set(family, entry);
    }
    return entry.byComponent.get(component) ?? NO_SERIES;
  }
}

/** One evaluation tick's view of the monitor, with every read cached. @internal */
export class EvaluationPass implements SignalSource {
  readonly #reader: MonitorReader;
  readonly #cache: SlotDigestCache;
  #now: number;
  readonly #index: SeriesIndex;
  readonly #distributions = new Map<string, DistributionAggregate>();
  readonly #quantiles = new Map<string, number | undefined>();
  readonly #builtins = new Map<string, DistributionAggregate>();
  readonly #opens = new Map<string, OpenAggregate>();

  constructor(reader: MonitorReader, cache: SlotDigestCache, index: SeriesIndex, now: number) {
    this.#reader = reader;
    this.#cache = cache;
    this.#index = index;
    this.#now = now;
  }

  /**
   * Starts another tick with this pass (emptied by `release`). The engine keeps one
   * pass for its life: with the instance alive, the class's shape survives a major
   * GC, and V8's optimized code for the readers is not thrown away with it (a pass
   * per tick cost a re-optimization after every full GC).
   */
  begin(now: number): this {
    this.release();
    this.#now = now;
    this.#reader.sync();
    return this;
  }

  signal(name: string, component: string, windowSeconds: number): number | undefined {
    const family = this.#reader.families.get(name);
    const series = family === undefined ? NO_SERIES : this.#seriesOf(family, component);
    if (family !== undefined && series.length > 0) {
      switch (family.type) {
        case 'gauge':
          return this.#gauge('sum', series);
        case 'counter':
          return this.#counter(series, windowSeconds).increase;
        default: {
          const d = this.#distribution(family, component, windowSeconds);
          return d.count > 0 ? d.sum / d.count : undefined;
        }
      }
    }
    switch (name) {
      case 'error_rate': {
        const d = this.#allDistributions(component, windowSeconds);
        return d.count > 0 ? d.errors / d.count : undefined;
      }
      case 'throughput': {
        const d = this.#allDistributions(component, windowSeconds);
        return d.series > 0 ? d.count / this.#covered(d.startMs) : undefined;
      }
      case 'cpu_usage':
      case 'memory_usage': {
        if (component === SYSTEM_COMPONENT || family === undefined) return undefined;
        const system = this.#seriesOf(family, SYSTEM_COMPONENT);
        return family.type === 'gauge' && system.length > 0
          ? this.#gauge('max', system)
          : undefined;
      }
      default:
        return undefined;
    }
  }

  /** Drops what the tick read (see `begin`). */
  release(): void {
    this.#distributions.clear();
    this.#quantiles.clear();
    this.#builtins.clear();
    this.#opens.clear();
  }

  anomaly(name: string, component: string): number | undefined {
    return this.#reader.anomaly?.(name, component);
  }

  quantile(name: string, component: string, q: number, windowSeconds: number): number | undefined {
    const family = this.#reader.families.get(name);
    if (family === undefined || (family.type !== 'histogram' && family.type !== 'timer')) {
      return undefined;
    }
    const key = `${name}\u0000${component}\u0000${this.#reader.slotsFor(windowSeconds)}\u0000${q}`;
    if (this.#quantiles.has(key)) return this.#quantiles.get(key);
    const d = this.#distribution(family, component, windowSeconds);
    let value: number | undefined;
    if (d.count > 0) {
      d.parts ??= this.#parts(family, component, this.#reader.slotsFor(windowSeconds));
      value = quantileOfUnion(d.parts, q);
    }
    this.#quantiles.set(key, value);
    return value;
  }

  aggregate(
    fn: AggregateFunction,
    name: string,
    component: string,
    windowSeconds: number,
  ): number | undefined {
    const family = this.#reader.families.get(name);
    if (family === undefined) return undefined;
    const series = this.#seriesOf(family, component);
    if (series.length === 0) return undefined;
    if (family.type === 'gauge') {
      if (fn === 'rate') return undefined;
      return this.#gauge(fn, series);
    }
    if (family.type === 'counter') {
      const c = this.#counter(series, windowSeconds);
      if (fn === 'sum' || fn === 'count') return c.increase;
      if (fn === 'rate') return c.increase / this.#covered(c.startMs);
      return undefined;
    }
    const d = this.#distribution(family, component, windowSeconds);
    switch (fn) {
      case 'count':
        return d.count;
      case 'rate':
        return d.count / this.#covered(d.startMs);
      case 'sum':
        return d.sum;
      case 'avg':
        return d.count > 0 ? d.sum / d.count : undefined;
      case 'min':
        return d.count > 0 ? d.min : undefined;
      case 'max':
        return d.count > 0 ? d.max : undefined;
    }
  }

  /** Each series' open sub-window, and the cached component-wide closed ones. */
  #parts(family: MetricFamily, component: string, slots: number): DigestPart[] {
    const open = this.#open(family, component);
    const parts: DigestPart[] = [];
    if (open.series.length === 0) return parts;
    for (const s of open.series) {
      const part = s.activePart();
      if (part !== undefined) parts.push(part);
    }
    const current = open.series[0]!.slot;
    this.#cache.closedParts(open.key, open.series, current - slots, current, parts);
    return parts;
  }

  /** Seconds a window covered, never below a millisecond (as the monitor's rates). */
  #covered(startMs: number): number {
    return Math.max(0.001, (this.#now - startMs) / 1000);
  }

  #seriesOf(family: MetricFamily, component: string): readonly AnySeries[] {
    return this.#index.of(family, component);
  }

  #gauge(fn: AggregateFunction | 'sum', series: readonly AnySeries[]): number | undefined {
    let n = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const s of series) {
      if (!(s instanceof GaugeSeries) || !s.hasValue) continue;
      n++;
      sum += s.value;
      if (s.value < min) min = s.value;
      if (s.value > max) max = s.value;
    }
    if (fn === 'count') return n;
    if (n === 0) return undefined;
    if (fn === 'sum') return sum;
    if (fn === 'avg') return sum / n;
    return fn === 'min' ? min : max;
  }

  #counter(
    series: readonly AnySeries[],
    windowSeconds: number,
  ): { increase: number; startMs: number } {
    const slots = this.#reader.slotsFor(windowSeconds);
    let increase = 0;
    let startMs = Infinity;
    for (const s of series) {
      if (!(s instanceof CounterSeries)) continue;
      const read = s.read(slots);
      increase += read.increase;
      if (read.startMs < startMs) startMs = read.startMs;
    }
    return { increase, startMs: startMs === Infinity ? this.#now : startMs };
  }

  #distribution(
    family: MetricFamily,
    component: string,
    windowSeconds: number,
  ): DistributionAggregate {
    const slots = this.#reader.slotsFor(windowSeconds);
    const key = `${family.name}\u0000${component}\u0000${slots}`;
    let d = this.#distributions.get(key);
    if (d === undefined) {
      const open = this.#open(family, component);
      d = { ...open.stats, parts: undefined };
      if (open.series.length > 0) {
        const current = open.series[0]!.slot;
        const from = current - slots;
        this.#cache.closedStats(open.key, open.series, from, current, d);
        d.startMs = Math.max(from * open.slotMs, open.createdMs);
      }
      this.#distributions.set(key, d);
    }
    return d;
  }

  /**
   * The open sub-windows of one metric's series in a component, read once per tick
   * whatever the windows rules ask for: each series is synced and flushed, and its
   * open sub-window summed; closed sub-windows come from the cache.
   */
  #open(family: MetricFamily, component: string): OpenAggregate {
    const key = `${family.name}\u0000${component}`;
    let open = this.#opens.get(key);
    if (open === undefined) {
      const series: HistogramSeries[] = [];
      const stats = emptyAggregate(this.#now);
      let createdMs = Infinity;
      let slotMs = 0;
      for (const s of this.#seriesOf(family, component)) {
        if (!(s instanceof HistogramSeries)) continue;
        s.syncOpen();
        series.push(s);
        stats.series++;
        if (s.createdMs < createdMs) createdMs = s.createdMs;
        slotMs = s.ticker.slotMs;
        const n = s.activeWeight;
        if (n > 0) {
          stats.count += n;
          stats.sum += s.activeSum;
          if (s.activeMin < stats.min) stats.min = s.activeMin;
          if (s.activeMax > stats.max) stats.max = s.activeMax;
        }
        stats.errors += s.errors;
      }
      open = { key, series, stats, createdMs, slotMs };
      this.#opens.set(key, open);
    }
    return open;
  }

  /** Every histogram and timer of a component: the built-in error rate and throughput. */
  #allDistributions(component: string, windowSeconds: number): DistributionAggregate {
    const slots = this.#reader.slotsFor(windowSeconds);
    const key = `${component}\u0000${slots}`;
    let d = this.#builtins.get(key);
    if (d === undefined) {
      d = emptyAggregate(this.#now);
      for (const family of this.#reader.families.values()) {
        if (family.type !== 'histogram' && family.type !== 'timer') continue;
        if (family.name.startsWith('prsm.')) continue; // the SDK's own timings
        if (this.#seriesOf(family, component).length === 0) continue;
        // Shared with rules that read this metric over the same window.
        const f = this.#distribution(family, component, windowSeconds);
        d.series += f.series;
        d.count += f.count;
        d.sum += f.sum;
        d.errors += f.errors;
        if (f.min < d.min) d.min = f.min;
        if (f.max > d.max) d.max = f.max;
        if (f.startMs < d.startMs) d.startMs = f.startMs;
      }
      this.#builtins.set(key, d);
    }
    return d;
  }
}

function emptyAggregate(now: number): DistributionAggregate {
  return {
    count: 0,
    sum: 0,
    min: Infinity,
    max: -Infinity,
    errors: 0,
    startMs: now,
    parts: undefined,
    series: 0,
  };
}
