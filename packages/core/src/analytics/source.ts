/**
 * What the analytics engine reads of a monitor's series, as plain numbers per
 * component: {@link AnalyticsSource}. Two implementations: `familiesSource` over the
 * series reader the Monitor hands its alert engine (what `monitor.analytics()` uses:
 * no quantile beyond what the report needs, within its budget at 10,000 series), and
 * `snapshotSource` over the public `monitor.snapshot()` (for code outside the Monitor).
 */
import type { MonitorReader } from '../alerting/monitor-source.js';
import { CounterSeries } from '../metrics/counter-series.js';
import type { AnySeries } from '../metrics/family.js';
import { GaugeSeries } from '../metrics/gauge-series.js';
import { HistogramSeries } from '../metrics/histogram-series.js';
import type { MonitorSnapshot, SnapshotOptions } from '../metrics/snapshot.js';
import { type DigestPart, quantilesOfParts } from '../sketch/centroids.js';
import { TDigest } from '../sketch/tdigest.js';

/**
 * One operation of a component: a timer with all its tag sets together, or, for a
 * timer tagged `operation` (the decorators' `operation.duration`), each value of that tag.
 *
 * @example
 * ```ts
 * const op: OperationReading = reading.operations[0]!;
 * console.log(op.name, op.totalCount, op.totalSum / op.totalCount, op.p99);
 * ```
 */
export interface OperationReading {
  /** The timer's name. */
  readonly name: string;
  /** Samples since the series began. */
  readonly totalCount: number;
  /** Error samples since the series began. */
  readonly totalErrors: number;
  /** Sum of the samples since the series began, ms. */
  readonly totalSum: number;
  /** Samples in the window. */
  readonly count: number;
  /** Error samples in the window. */
  readonly errors: number;
  /** Sum of the window's samples, ms. */
  readonly sum: number;
  /** The window's median, ms; NaN without samples or when quantiles were not asked for. */
  readonly p50: number;
  /** The window's 99th percentile, ms; NaN likewise. */
  readonly p99: number;
}

/**
 * What the analytics engine reads of one component at one instant.
 *
 * @example
 * ```ts
 * const reading: ComponentReading = source.read('marketplace', 900, 'operations', Date.now());
 * console.log(reading.operations.length, reading.latencyP99, reading.gauges.get('cpu_usage'));
 * ```
 */
export interface ComponentReading {
  /** The component. */
  readonly component: string;
  /** Its timers. Histograms (arbitrary values) are not operations and are left out. */
  readonly operations: readonly OperationReading[];
  /** The 99th percentile of all its timers' samples in the window; NaN without any. */
  readonly latencyP99: number;
  /** Seconds the window actually covered (never below 0.001). */
  readonly coveredSeconds: number;
  /** Counter totals since they began, by name (tag sets summed). */
  readonly counters: ReadonlyMap<string, number>;
  /** Gauge values by name: the largest over tag sets that were set. */
  readonly gauges: ReadonlyMap<string, number>;
}

/**
 * The analytics engine's view of a monitor: its components and a reading of each.
 * Implement it with fixed numbers in tests.
 *
 * @example
 * ```ts
 * const fixed: AnalyticsSource = {
 *   components: () => ['marketplace'],
 *   read: (component) => ({
 *     component, operations: [], latencyP99: NaN, coveredSeconds: 60,
 *     counters: new Map(), gauges: new Map([['search_cache_hit_rate', 0.78]]),
 *   }),
 * };
 * ```
 */
export interface AnalyticsSource {
  /** Components that have series (the SDK's own `prsm` component left out). */
  components(): readonly string[];
  /**
   * Reads a component over the last `windowSeconds` (rounded as the monitor rounds
   * windows) as of `now`. Quantiles cost most: `quantiles` says which are computed
   * (the others read NaN, or are computed anyway when that costs nothing more).
   */
  read(
    component: string,
    windowSeconds: number,
    quantiles: ReadQuantiles,
    now: number,
  ): ComponentReading;
}

/**
 * Which quantiles a read computes: `operations` (each operation's p50 and p99, for the
 * report), `component` (the component's p99, for the history), `all` or `none`.
 *
 * @example
 * ```ts
 * source.read('marketplace', 60, 'component', Date.now()).latencyP99;
 * ```
 */
export type ReadQuantiles = 'none' | 'operations' | 'component' | 'all';

const SELF = 'prsm';
const QS: readonly number[] = [0.5, 0.99];
const Q99: readonly number[] = [0.99];

/** An operation's sums while its series are read. */
interface OperationWork {
  totalCount: number;
  totalErrors: number;
  totalSum: number;
  count: number;
  errors: number;
  sum: number;
  readonly parts: DigestPart[];
}

/**
 * An {@link AnalyticsSource} over the metric families the Monitor hands its alert
 * engine: a component index rebuilt only when series were added, and one pass over a
 * component's series per read. Windows longer than `longestWindowSeconds` (the
 * monitor's longest, which its reader refuses to exceed) are read as that window.
 *
 * @example
 * ```ts
 * // Inside Monitor, with the reader it builds for the alert engine:
 * const source = familiesSource(reader, this.windows[this.windows.length - 1]);
 * ```
 */
export function familiesSource(
  reader: MonitorReader,
  longestWindowSeconds = Infinity,
): AnalyticsSource {
  let seen = -1;
  let index = new Map<string, Map<string, { type: string; series: AnySeries[] }>>();
  const indexed = (): Map<string, Map<string, { type: string; series: AnySeries[] }>> => {
    let count = 0;
    for (const f of reader.families.values()) count += f.series.size + f.overflowSeries.size;
    if (count === seen) return index;
    const next = new Map<string, Map<string, { type: string; series: AnySeries[] }>>();
    for (const family of reader.families.values()) {
      if (family.name.startsWith('prsm.')) continue;
      for (const s of family.all()) {
        const c = s.identity.component;
        if (c === SELF) continue;
        let byName = next.get(c);
        if (byName === undefined) {
          byName = new Map<string, { type: string; series: AnySeries[] }>();
          next.set(c, byName);
        }
        let entry = byName.get(family.name);
        if (entry === undefined)
          byName.set(family.name, (entry = { type: family.type, series: [] }));
        entry.series.push(s);
      }
    }
    index = next;
    seen = count;
    return index;
  };
  return {
    components: () => [...indexed().keys()],
    read: (component, windowSeconds, quantiles, now) => {
      const opQuantiles = quantiles === 'operations' || quantiles === 'all';
      const componentP99 = quantiles === 'component' || quantiles === 'all';
      const withParts = opQuantiles || componentP99;
      reader.sync();
      const slots = reader.slotsFor(Math.min(windowSeconds, longestWindowSeconds));
      const operations: OperationReading[] = [];
      const counters = new Map<string, number>();
      const gauges = new Map<string, number>();
      const allParts: DigestPart[] = [];
      let startMs = now;
      for (const [name, { type, series }] of indexed().get(component) ?? []) {
        if (type === 'timer') {
          // An operation is a timer, or one `operation` tag of a timer that carries it
          // (the decorators' `operation.duration`): named by the tag's value.
          const byOperation = new Map<string, OperationWork>();
          for (const s of series) {
            if (!(s instanceof HistogramSeries)) continue;
            const opName = s.identity.tags['operation'] ?? name;
            let op = byOperation.get(opName);
            if (op === undefined) {
              op = {
                totalCount: 0,
                totalErrors: 0,
                totalSum: 0,
                count: 0,
                errors: 0,
                sum: 0,
                parts: [],
              };
              byOperation.set(opName, op);
            }
            const w = s.read(slots, withParts);
            op.count += w.count;
            op.errors += w.errors;
            op.sum += w.sum;
            if (w.startMs < startMs) startMs = w.startMs;
            for (const p of w.parts) op.parts.push(p);
            const c = s.read(-1, false);
            op.totalCount += c.count;
            op.totalErrors += c.errors;
            op.totalSum += c.sum;
          }
          for (const [opName, op] of byOperation) {
            const [p50, p99] =
              opQuantiles && op.count > 0 ? quantilesOfParts(op.parts, QS) : [NaN, NaN];
            if (componentP99) for (const p of op.parts) allParts.push(p);
            operations.push({
              name: opName,
              totalCount: op.totalCount,
              totalErrors: op.totalErrors,
              totalSum: op.totalSum,
              count: op.count,
              errors: op.errors,
              sum: op.sum,
              p50: p50 ?? NaN,
              p99: p99 ?? NaN,
            });
          }
        } else if (type === 'counter') {
          let total = 0;
          for (const s of series) if (s instanceof CounterSeries) total += s.total;
          counters.set(name, total);
        } else if (type === 'gauge') {
          let max = -Infinity;
          for (const s of series)
            if (s instanceof GaugeSeries && s.hasValue && s.value > max) max = s.value;
          if (max > -Infinity) gauges.set(name, max);
        }
      }
      const latencyP99 = allParts.length > 0 ? (quantilesOfParts(allParts, Q99)[0] ?? NaN) : NaN;
      return {
        component,
        operations,
        latencyP99,
        coveredSeconds: Math.max(0.001, (now - startMs) / 1000),
        counters,
        gauges,
      };
    },
  };
}

/**
 * What {@link snapshotSource} needs of a monitor (a `Monitor` fits).
 *
 * @example
 * ```ts
 * const readable: SnapshotReadable = monitor;
 * ```
 */
export interface SnapshotReadable {
  /** The configured windows, ascending. */
  readonly windows: readonly number[];
  /** One consistent read of every series. */
  snapshot(options?: SnapshotOptions): MonitorSnapshot;
}

/**
 * An {@link AnalyticsSource} over the public `monitor.snapshot()`: each read takes one
 * snapshot of the smallest configured window of at least `windowSeconds` (else the
 * longest), merging the digests of an operation's tag sets for its quantiles. Simpler
 * to reach than `familiesSource` but slower: it snapshots every series.
 *
 * @example
 * ```ts
 * const engine = new AnalyticsEngine({ source: snapshotSource(monitor), history, diagnostics: monitor.diagnostics });
 * ```
 */
export function snapshotSource(monitor: SnapshotReadable): AnalyticsSource {
  return {
    components: () => {
      const set = new Set<string>();
      for (const s of monitor.snapshot({ windows: [], digests: false, cumulativeQuantiles: false })
        .series) {
        if (s.component !== SELF && !s.name.startsWith('prsm.')) set.add(s.component);
      }
      return [...set];
    },
    read: (component, windowSeconds, quantiles) => {
      const withDigests = quantiles !== 'none';
      const window =
        monitor.windows.find((w) => w >= windowSeconds) ??
        monitor.windows[monitor.windows.length - 1]!;
      const snapshot = monitor.snapshot({
        windows: [window],
        digests: withDigests,
        cumulativeQuantiles: false,
      });
      const ops = new Map<
        string,
        {
          reading: { -readonly [K in keyof OperationReading]: OperationReading[K] };
          digests: TDigest[];
        }
      >();
      const counters = new Map<string, number>();
      const gauges = new Map<string, number>();
      let covered = 0;
      for (const s of snapshot.series) {
        if (s.component !== component || s.name.startsWith('prsm.')) continue;
        if (s.type === 'timer') {
          const opName = s.tags['operation'] ?? s.name;
          let op = ops.get(opName);
          if (op === undefined) {
            op = {
              reading: {
                name: opName,
                totalCount: 0,
                totalErrors: 0,
                totalSum: 0,
                count: 0,
                errors: 0,
                sum: 0,
                p50: NaN,
                p99: NaN,
              },
              digests: [],
            };
            ops.set(opName, op);
          }
          const w = s.windows[0];
          op.reading.totalCount += s.cumulative.count;
          op.reading.totalErrors += s.cumulative.errors;
          op.reading.totalSum += s.cumulative.sum;
          if (w !== undefined) {
            op.reading.count += w.count;
            op.reading.errors += w.errors;
            op.reading.sum += w.sum;
            if (w.coveredSeconds > covered) covered = w.coveredSeconds;
            if (w.digest !== undefined && w.count > 0) op.digests.push(w.digest);
          }
        } else if (s.type === 'counter') {
          counters.set(s.name, (counters.get(s.name) ?? 0) + s.total);
        } else if (s.type === 'gauge') {
          const prev = gauges.get(s.name);
          if (prev === undefined || s.value > prev) gauges.set(s.name, s.value);
        }
      }
      const all = new TDigest();
      const operations: OperationReading[] = [];
      for (const { reading, digests } of ops.values()) {
        if (digests.length > 0) {
          const merged = new TDigest().merge(...digests);
          all.merge(merged);
          reading.p50 = merged.quantile(0.5);
          reading.p99 = merged.quantile(0.99);
        }
        operations.push(reading);
      }
      return {
        component,
        operations,
        latencyP99: all.count > 0 ? all.quantile(0.99) : NaN,
        coveredSeconds: Math.max(0.001, covered),
        counters,
        gauges,
      };
    },
  };
}
