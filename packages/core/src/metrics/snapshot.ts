import type { TDigest } from '../sketch/tdigest.js';
import type { Exemplar } from './histogram-series.js';
import type { Labels, Tags } from './types.js';

/**
 * Counts and rates of a series over one window.
 *
 * `coveredSeconds` is the time the numbers really span: a window of W seconds holds
 * the sub-window in progress plus the W/sub-window closed ones before it (so between
 * W and W + one sub-window), and never reaches back before the series existed.
 * Rates divide by it (at least one millisecond), so a series younger than its
 * window reports its true rate rather than one diluted over time it did not exist.
 *
 * @example
 * ```ts
 * const rates: WindowRates | undefined = monitor.getRates('api.latency', { windowSeconds: 300 });
 * rates?.perMinute;
 * ```
 */
export interface WindowRates {
  /** The window asked for, in seconds, or `'cumulative'` for everything since the series began. */
  readonly windowSeconds: number | 'cumulative';
  /** The time the numbers actually span, in seconds. */
  readonly coveredSeconds: number;
  /** Samples (histograms, timers) or the increase (counters) within the window. */
  readonly count: number;
  /** Samples recorded as errors (histograms, timers; 0 for counters). */
  readonly errors: number;
  /** `errors / count`, 0 when there were no calls. */
  readonly errorRate: number;
  /** `count / coveredSeconds`. */
  readonly perSecond: number;
  /** `perSecond * 60`. */
  readonly perMinute: number;
}

/**
 * Distribution statistics of a histogram or timer series over one window.
 *
 * @example
 * ```ts
 * const stats = monitor.getStats('api.latency', { windowSeconds: 60 });
 * console.log(stats?.mean, stats?.max);
 * ```
 */
export interface WindowStats extends WindowRates {
  /** Exact sum of the samples. */
  readonly sum: number;
  /** Exact minimum (NaN when empty). */
  readonly min: number;
  /** Exact maximum (NaN when empty). */
  readonly max: number;
  /** Exact mean (NaN when empty). */
  readonly mean: number;
}

/**
 * A window of a histogram or timer in a snapshot: its statistics, its standard
 * quantiles and (unless the snapshot was taken with `digests: false`) a digest that
 * answers any other and merges with digests of other processes.
 *
 * @example
 * ```ts
 * const p99 = windowSnapshot.quantiles.find((q) => q.quantile === 0.99)?.value;
 * const p75 = windowSnapshot.digest?.quantile(0.75);
 * ```
 */
export interface DistributionSnapshot extends WindowStats {
  /**
   * The monitor's `snapshotQuantiles` over this window, read from the exact mixture
   * of the sub-window digests (as `getPercentiles` does). Empty for a `cumulative`
   * taken with `cumulativeQuantiles: false`.
   */
  readonly quantiles: readonly { readonly quantile: number; readonly value: number }[];
  /**
   * The window's sub-window digests merged into one (a copy: later records do not
   * change it), for exporting and merging across processes. Merging costs a little
   * accuracy at high quantiles; prefer `quantiles` for the standard ones. Absent from
   * snapshots taken with `digests: false` (and from a `cumulative` taken with
   * `cumulativeQuantiles: false`).
   */
  readonly digest?: TDigest;
  /**
   * The slowest traced value of each sub-window the window covers, slowest first
   * (cumulative: of every sub-window still in the ring).
   */
  readonly exemplars: readonly Exemplar[];
}

/**
 * A counter's rates over one window in a snapshot.
 *
 * @example
 * ```ts
 * const perMinute = counterSnapshot.windows[0]?.perMinute;
 * ```
 */
export type CounterWindowSnapshot = WindowRates;

/**
 * What every series snapshot carries.
 *
 * @example
 * ```ts
 * const where = `${s.component}/${s.name}${JSON.stringify(s.tags)}`;
 * ```
 */
export interface SeriesSnapshotBase {
  readonly name: string;
  readonly component: string;
  readonly tags: Tags;
  readonly labels: Labels;
  /** True for an overflow series (tag sets beyond the per-metric cap). */
  readonly overflow: boolean;
  readonly unit: string;
  readonly description: string;
}

/**
 * A counter series in a snapshot.
 *
 * @example
 * ```ts
 * if (s.type === 'counter') console.log(s.total);
 * ```
 */
export interface CounterSnapshot extends SeriesSnapshotBase {
  readonly type: 'counter';
  /** Everything counted since the series began. */
  readonly total: number;
  /** One entry per window of the snapshot's `windows`, in that order. */
  readonly windows: readonly CounterWindowSnapshot[];
}

/**
 * A gauge series in a snapshot (only gauges that were ever set appear).
 *
 * @example
 * ```ts
 * if (s.type === 'gauge') console.log(s.value);
 * ```
 */
export interface GaugeSnapshot extends SeriesSnapshotBase {
  readonly type: 'gauge';
  readonly value: number;
}

/**
 * One sub-window of a histogram or timer: its exact statistics and its digest's
 * centroids, for a receiver that stores mergeable digests per minute (the REST
 * exporter sends these; `@prsm/server` merges them across processes).
 *
 * @example
 * ```ts
 * for (const w of series.subWindows ?? []) {
 *   console.log(new Date(w.startMs).toISOString(), w.count, w.centroids.length / 2, 'centroids');
 * }
 * ```
 */
export interface SubWindowSnapshot {
  /** When the sub-window began (ms since the epoch). */
  readonly startMs: number;
  /** Its length in seconds (the monitor's `subWindowSeconds`). */
  readonly seconds: number;
  /** True for the sub-window still open when the snapshot was taken. */
  readonly open: boolean;
  /** Samples in it. */
  readonly count: number;
  /** Their exact sum. */
  readonly sum: number;
  /** Their exact minimum. */
  readonly min: number;
  /** Their exact maximum. */
  readonly max: number;
  /** Samples recorded as errors. */
  readonly errors: number;
  /**
   * Its digest: interleaved centroid means and weights, sorted by mean, in single
   * precision (as closed sub-windows are kept). A copy.
   */
  readonly centroids: Float32Array;
  /**
   * The slowest value recorded in it with a trace id (an exemplar), absent when no
   * value of it was traced.
   */
  readonly exemplar?: Exemplar;
}

/**
 * A histogram or timer series in a snapshot.
 *
 * @example
 * ```ts
 * if (s.type === 'timer') console.log(s.windows[0]?.digest?.quantile(0.99));
 * ```
 */
export interface HistogramSnapshot extends SeriesSnapshotBase {
  readonly type: 'histogram' | 'timer';
  /** Everything since the series began. */
  readonly cumulative: DistributionSnapshot;
  /** One entry per window of the snapshot's `windows`, in that order. */
  readonly windows: readonly DistributionSnapshot[];
  /**
   * With the snapshot option `subWindows`: the sub-windows with data that closed at or
   * after `subWindows.since` (oldest first), and the open one with `subWindows.open`.
   */
  readonly subWindows?: readonly SubWindowSnapshot[];
}

/**
 * Any series in a snapshot; switch on `type`.
 *
 * @example
 * ```ts
 * for (const s of monitor.snapshot().series) if (s.type === 'gauge') console.log(s.value);
 * ```
 */
export type SeriesSnapshot = CounterSnapshot | GaugeSnapshot | HistogramSnapshot;

/**
 * What a {@link MonitorSnapshot} should carry, for readers that need less than all of
 * it (a Prometheus scrape reads one window's quantiles and the cumulative count and
 * sum): everything left out is not computed. Checked: a bad value throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * const scrape = monitor.snapshot({ windows: [300], digests: false, cumulativeQuantiles: false });
 * ```
 */
export interface SnapshotOptions {
  /**
   * The windows (seconds, each one of the monitor's configured windows) to include.
   * Default: every configured window. `[]`: none (counters keep their total,
   * histograms their cumulative statistics).
   */
  readonly windows?: readonly number[];
  /** Whether each histogram and timer window carries its merged `digest`. Default true. */
  readonly digests?: boolean;
  /**
   * Whether a histogram's `cumulative` carries quantiles (and a digest, with
   * `digests`). Default true; false leaves the statistics only (count, sum, min,
   * max, rates).
   */
  readonly cumulativeQuantiles?: boolean;
  /**
   * Adds to each histogram and timer its sub-windows that started at or after `since`
   * (ms since the epoch) and have closed, with the open one too when `open` is true
   * (what an exporter sends last, at shutdown). With `until`, only those that started
   * before it: an exporter that sends each sub-window once passes the start of the
   * sub-window open when it began reading, so that one sub-window closing while the
   * series are read goes out whole with the next export, not with some of its series
   * now and again with all of them later. Default: none.
   *
   * @example
   * ```ts
   * const minute = 60_000;
   * const until = Math.floor(Date.now() / minute) * minute;
   * monitor.snapshot({ subWindows: { since: lastUntil, until } });
   * ```
   */
  readonly subWindows?: {
    readonly since: number;
    readonly until?: number;
    readonly open?: boolean;
  };
}

/**
 * One consistent read of every series, taken at one instant: what exporters, alert
 * evaluation and health reports work from.
 *
 * @example
 * ```ts
 * const snap: MonitorSnapshot = monitor.snapshot();
 * console.log(snap.timestamp, snap.series.length, snap.diagnostics);
 * ```
 */
export interface MonitorSnapshot {
  /** When it was taken (ms since the epoch, from the monitor's clock). */
  readonly timestamp: number;
  /**
   * The windows every counter, histogram and timer carries, in seconds, ascending: the
   * monitor's configured windows, or those the snapshot's options asked for.
   */
  readonly windows: readonly number[];
  readonly series: readonly SeriesSnapshot[];
  /** The SDK's own event counts by diagnostic code (drops, overflows...). */
  readonly diagnostics: Readonly<Record<string, number>>;
}

/**
 * What {@link SeriesVisitor} is told of a series: its name, component, tags and
 * descriptive fields. The monitor's own record of the series: read it, never keep
 * or change it.
 *
 * @example
 * ```ts
 * const key = (s: VisitedSeries): string => `${s.component}/${s.name}${JSON.stringify(s.tags)}`;
 * ```
 */
export type VisitedSeries = SeriesSnapshotBase;

/**
 * A histogram or timer series as `visitSeries` reads it: one window's statistics and
 * quantiles, and the cumulative count, sum and errors. One object, overwritten for the
 * next series: copy what you keep.
 *
 * @example
 * ```ts
 * const p99 = reading.values[reading.quantiles.indexOf(0.99)];
 * ```
 */
export interface DistributionReading {
  readonly type: 'histogram' | 'timer';
  /** The window read (seconds). */
  readonly windowSeconds: number;
  /** The time the window's numbers really span (see {@link WindowRates}). */
  readonly coveredSeconds: number;
  /** Samples in the window. */
  readonly count: number;
  /** Their exact sum. */
  readonly sum: number;
  /** Their exact minimum (NaN when empty). */
  readonly min: number;
  /** Their exact maximum (NaN when empty). */
  readonly max: number;
  /** Samples in the window recorded as errors. */
  readonly errors: number;
  /** The quantiles read: the monitor's `snapshotQuantiles`. */
  readonly quantiles: readonly number[];
  /** Their values over the window, in that order (NaN when empty). Overwritten per series. */
  readonly values: Float64Array;
  /** The slowest traced sample of the window, if any was traced. */
  readonly exemplar: Exemplar | undefined;
  /** Samples since the series began. */
  readonly totalCount: number;
  /** Their exact sum. */
  readonly totalSum: number;
  /** Samples since the series began recorded as errors. */
  readonly totalErrors: number;
}

/**
 * Receives every series `monitor.visitSeries` reads, as it reads it: families in
 * ascending order of name, each family's series together, in the order they were
 * created. Nothing is built per series, so an exporter that streams (a Prometheus
 * scrape) pays for no snapshot objects. A visitor that throws stops the visit (the
 * error reaches the caller of `visitSeries`).
 *
 * @example
 * ```ts
 * let lines = 0;
 * const visitor: SeriesVisitor = {
 *   counter: () => void lines++,
 *   gauge: () => void lines++,
 *   distribution: (_s, reading) => void (lines += reading.quantiles.length + 2),
 * };
 * monitor.visitSeries({ windowSeconds: 60 }, visitor);
 * ```
 */
export interface SeriesVisitor {
  /** A counter, with everything counted since it began. */
  counter(series: VisitedSeries, total: number): void;
  /** A gauge that was set, with its value. */
  gauge(series: VisitedSeries, value: number): void;
  /** A histogram or timer, read over the window asked for. */
  distribution(series: VisitedSeries, reading: DistributionReading): void;
}

/**
 * Options of `monitor.visitSeries`.
 *
 * @example
 * ```ts
 * const options: VisitOptions = { windowSeconds: 300 };
 * ```
 */
export interface VisitOptions {
  /** The window histograms and timers are read over: a configured window. Default the first. */
  readonly windowSeconds?: number;
}

/**
 * Options of `monitor.visitSeriesInSlices`: those of `visitSeries`, and how much is
 * read between two turns of the event loop: a slice ends after `sliceSeries` series or
 * once `sliceMs` milliseconds went by, whichever comes first.
 *
 * @example
 * ```ts
 * const options: SlicedVisitOptions = { windowSeconds: 300, sliceSeries: 250, sliceMs: 2 };
 * ```
 */
export interface SlicedVisitOptions extends VisitOptions {
  /** The most series a slice reads, a positive integer. Default 1000. */
  readonly sliceSeries?: number;
  /**
   * The time a slice may take, in milliseconds of the monitor's clock (checked every
   * 16 series), a positive number. Default 5. (A timer series with many new samples to
   * merge since the last read takes tens of microseconds; one with few, a few.)
   */
  readonly sliceMs?: number;
}
