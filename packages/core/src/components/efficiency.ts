/**
 * The spec's "Resource Efficiency Monitoring" (compute optimization: CPU and memory
 * utilization trends), per component: operations per CPU-second, per GB-second of
 * resident memory and the compute cost of 1,000 operations, measured period by period
 * from the components' operation counts and the process's CPU time and memory, each
 * with a trend (`increasing`, `decreasing` or `stable`) from a least-squares slope over
 * the last periods and a significance rule. Part of `monitor.costs`.
 */
import { fitLine } from '../analytics/stats.js';
import type { Clock } from '../clock/clock.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { type ComponentHost, isFiniteNumber, put } from './host.js';
import { type JobProbes, PROCESS_PROBES } from './jobs.js';
import { MonitoringComponent } from './names.js';

/**
 * Which way an efficiency figure is going over the kept periods.
 *
 * @example
 * ```ts
 * const t: EfficiencyTrend = monitor.costs.efficiency('api_gateway')!.requests_per_cpu_second.trend;
 * ```
 */
export type EfficiencyTrend = 'increasing' | 'decreasing' | 'stable';

/**
 * Options of the efficiency trends (`new Monitor({ costs: { efficiency } })`). Checked at
 * construction: a bad value throws a `TypeError` naming it.
 *
 * The significance rule: over the last `periods` periods (periods without operations
 * skipped), a figure is `increasing` or `decreasing` only when at least `minPeriods`
 * have a value, the least-squares slope's t-statistic is at least `minTStatistic` in
 * size, and the fitted change across the window is at least `minRelativeChange` of the
 * figure's mean; otherwise `stable`.
 *
 * @example
 * ```ts
 * new Monitor({ costs: { computePerHour: 3.4, efficiency: { periodSeconds: 300, periods: 12 } } });
 * ```
 */
export interface EfficiencyOptions {
  /**
   * Length of a period, seconds. A period closes at the first read, export or cost
   * refresh past it (no timer of its own). Default 60.
   */
  readonly periodSeconds?: number;
  /** Periods kept and fitted per component. Default 12. */
  readonly periods?: number;
  /** Fewer periods with a value than this read as stable. Default 6. */
  readonly minPeriods?: number;
  /** |slope ÷ its standard error| needed for a trend. Default 3. */
  readonly minTStatistic?: number;
  /** |fitted change across the window| ÷ |mean| needed for a trend. Default 0.1. */
  readonly minRelativeChange?: number;
  /** Components tracked; further ones are dropped and counted. Default 50. */
  readonly maxComponents?: number;
  /** The process's CPU time and memory. Default `process.cpuUsage()` and `process.memoryUsage.rss()`. */
  readonly probes?: JobProbes;
}

/**
 * One efficiency figure of a component: its value in the latest period and its trend.
 *
 * @example
 * ```ts
 * const f: EfficiencyFigure = monitor.costs.efficiency('api_gateway')!.requests_per_cpu_second;
 * console.log(f.latest, f.trend, f.slope_per_period);
 * ```
 */
export interface EfficiencyFigure {
  /** The value in the latest period that had one; `null` when none did. */
  readonly latest: number | null;
  /** The mean over the kept periods that had a value; `null` when none did. */
  readonly mean: number | null;
  /** Which way it is going (see {@link EfficiencyOptions} for the rule). */
  readonly trend: EfficiencyTrend;
  /** The least-squares slope, per period; `null` with fewer than 3 values. */
  readonly slope_per_period: number | null;
  /** The slope's t-statistic, capped at ±1e6 (a perfect line); 0 with fewer than 3 values. */
  readonly t_statistic: number;
  /** Periods that had a value. */
  readonly periods: number;
}

/**
 * A component's resource efficiency over the kept periods. CPU and memory are the
 * process's (shared by its components): a component's figures are its operations over
 * the process's whole CPU time and memory, so they compare one component over time,
 * and compare components only as shares of the same process.
 *
 * @example
 * ```ts
 * const e: ComponentEfficiency | undefined = monitor.costs.efficiency('api_gateway');
 * if (e?.requests_per_cpu_second.trend === 'decreasing') console.warn('more CPU per request');
 * ```
 */
export interface ComponentEfficiency {
  /** The component. */
  readonly component: string;
  /** Periods closed since the component was first seen (at most `periods` kept). */
  readonly periods: number;
  /** Operations (timer samples) in the latest period. */
  readonly latest_requests: number;
  /** Operations per CPU-second of the process. */
  readonly requests_per_cpu_second: EfficiencyFigure;
  /** Operations per GB-second of the process's resident memory (operations/s per GB). */
  readonly requests_per_gb_second: EfficiencyFigure;
  /** The compute price (`costs.computePerHour`) of the period per 1,000 operations. */
  readonly cost_per_1k_requests: EfficiencyFigure;
}

/** The figures, in the order they are stored. */
const FIGURES = [
  'requests_per_cpu_second',
  'requests_per_gb_second',
  'cost_per_1k_requests',
] as const;
type Figure = (typeof FIGURES)[number];

/** Components whose operations are not the service's work. */
const SKIPPED: ReadonlySet<string> = new Set([
  MonitoringComponent.SYSTEM,
  MonitoringComponent.COSTS,
  MonitoringComponent.BUSINESS,
]);

interface Track {
  /** Operations since the series began, at the last period's close. */
  total: number;
  closed: number;
  latestRequests: number;
  /** Period index (x) of each kept value, oldest first. */
  readonly xs: number[];
  readonly values: Record<Figure, number[]>;
}

interface Mark {
  readonly at: number;
  readonly cpuMicros: number;
  readonly rssBytes: number;
}

interface Settings {
  readonly periodMs: number;
  readonly periods: number;
  readonly minPeriods: number;
  readonly minTStatistic: number;
  readonly minRelativeChange: number;
  readonly maxComponents: number;
  readonly probes: JobProbes;
}

/**
 * What the efficiency tracker reads besides the host: the components there are and the
 * compute price.
 *
 * @example
 * ```ts
 * const sources: EfficiencySources = { components: () => ['api_gateway'], computePerHour: () => 3.4 };
 * ```
 */
export interface EfficiencySources {
  /** The components with series now. */
  readonly components: () => readonly string[];
  /** The compute price per hour, when configured. */
  readonly computePerHour: () => number | undefined;
}

/**
 * Resource efficiency trends per component (`monitor.costs.efficiency()`). A period
 * closes at the first read (`get`, `all`, analytics), export (the Monitor publishes the
 * helpers' keys before each) or cost refresh at least `periodSeconds` after the last
 * (no timer of its own: a monitor nobody reads or exports closes one long period at the
 * next read). Each closed period sets, in each component with operations, the gauges
 * `efficiency.requests_per_cpu_second`, `efficiency.requests_per_gb_second`,
 * `efficiency.cost_per_1k_requests` (when a compute price is set) and
 * `efficiency.trend` (tag `figure`; 1 increasing, 0 stable, −1 decreasing), which every
 * exporter sends.
 *
 * @example
 * ```ts
 * const tracker = new EfficiencyTracker(host, { periodSeconds: 60 }, {
 *   components: () => ['api_gateway'],
 *   computePerHour: () => 3.4,
 * });
 * tracker.sample();
 * tracker.get('api_gateway')?.requests_per_cpu_second.trend;
 * ```
 */
export class EfficiencyTracker {
  readonly #host: ComponentHost;
  readonly #clock: Clock;
  readonly #sources: EfficiencySources;
  readonly #settings: Settings;
  readonly #tracks = new Map<string, Track>();
  #mark: Mark | undefined;
  #index = 0;
  #stopped = false;
  /** Components not tracked because `maxComponents` were. */
  dropped = 0;

  /** Throws a `TypeError` naming a bad option. */
  constructor(host: ComponentHost, options: EfficiencyOptions, sources: EfficiencySources) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('efficiency must be an object');
    }
    this.#host = host;
    this.#clock = host.clock;
    this.#sources = sources;
    const num = (v: unknown, fallback: number, name: string, min: number, int = false): number => {
      if (v === undefined) return fallback;
      if (!isFiniteNumber(v) || v < min || (int && !Number.isInteger(v))) {
        throw new TypeError(
          `efficiency.${name} must be ${int ? 'an integer' : 'a number'} >= ${min}`,
        );
      }
      return v;
    };
    const periods = num(options.periods, 12, 'periods', 3, true);
    const probes = options.probes ?? PROCESS_PROBES;
    if (
      probes === null ||
      typeof probes !== 'object' ||
      typeof probes.cpuMicros !== 'function' ||
      typeof probes.rssBytes !== 'function'
    ) {
      throw new TypeError('efficiency.probes must have cpuMicros() and rssBytes()');
    }
    this.#settings = {
      periodMs: num(options.periodSeconds, 60, 'periodSeconds', 1) * 1000,
      periods,
      minPeriods: Math.min(periods, num(options.minPeriods, 6, 'minPeriods', 3, true)),
      minTStatistic: num(options.minTStatistic, 3, 'minTStatistic', 0),
      minRelativeChange: num(options.minRelativeChange, 0.1, 'minRelativeChange', 0),
      maxComponents: num(options.maxComponents, 50, 'maxComponents', 1, true),
      probes,
    };
    // No timer of its own: periods close at reads, before each export (the helpers
    // publish) and at the cost refresh, so a monitor gains no timer for this.
    this.sample();
  }

  /**
   * Opens the first period, or closes the current one when it is `periodSeconds` old
   * (then opens the next). Never throws.
   *
   * @example
   * ```ts
   * tracker.sample(); // what reads and exports do
   * ```
   */
  sample(): void {
    if (this.#stopped) return;
    try {
      const now = this.#clock.now();
      const mark = this.#mark;
      if (mark !== undefined && now - mark.at < this.#settings.periodMs) return;
      const next: Mark = {
        at: now,
        cpuMicros: this.#read(() => this.#settings.probes.cpuMicros()),
        rssBytes: this.#read(() => this.#settings.probes.rssBytes()),
      };
      const totals = this.#totals();
      if (mark === undefined) {
        for (const [component, total] of totals) this.#track(component, total);
      } else {
        this.#close(mark, next, totals);
      }
      this.#mark = next;
    } catch (error) {
      this.#host.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'efficiency' });
    }
  }

  /**
   * A component's efficiency over the kept periods (closing a due period first);
   * `undefined` before its first closed period.
   *
   * @example
   * ```ts
   * monitor.costs.efficiency('api_gateway')?.cost_per_1k_requests.latest;
   * ```
   */
  get(component: string): ComponentEfficiency | undefined {
    this.sample();
    const track = this.#tracks.get(component);
    return track === undefined || track.closed === 0 ? undefined : this.#report(component, track);
  }

  /**
   * Every tracked component's efficiency (closing a due period first).
   *
   * @example
   * ```ts
   * for (const e of tracker.all()) console.log(e.component, e.requests_per_cpu_second.trend);
   * ```
   */
  all(): ComponentEfficiency[] {
    this.sample();
    const out: ComponentEfficiency[] = [];
    for (const [component, track] of this.#tracks) {
      if (track.closed > 0 && track.xs.length > 0) out.push(this.#report(component, track));
    }
    return out;
  }

  /**
   * The component's `component_specific` keys: `efficiency_<figure>` (the latest value)
   * and `efficiency_<figure>_trend` (1 increasing, 0 stable, −1 decreasing) for each of
   * `requests_per_cpu_second`, `requests_per_gb_second` and `cost_per_1k_requests` that
   * has a value. Empty before the component's first closed period with operations.
   *
   * @example
   * ```ts
   * tracker.specific('api_gateway').efficiency_requests_per_cpu_second_trend; // -1
   * ```
   */
  specific(component: string): Record<string, number> {
    const e = this.get(component);
    const out: Record<string, number> = {};
    if (e === undefined) return out;
    for (const figure of FIGURES) {
      const f = e[figure];
      if (f.latest === null) continue;
      put(out, `efficiency_${figure}`, f.latest, 6);
      out[`efficiency_${figure}_trend`] = trendNumber(f.trend);
    }
    return out;
  }

  /**
   * The components with at least one closed period with operations.
   *
   * @example
   * ```ts
   * tracker.components(); // ['api_gateway', 'marketplace']
   * ```
   */
  components(): string[] {
    const out: string[] = [];
    for (const [component, track] of this.#tracks) if (track.xs.length > 0) out.push(component);
    return out;
  }

  /**
   * Stops sampling: later reads close no period.
   *
   * @example
   * ```ts
   * tracker.stop();
   * ```
   */
  stop(): void {
    this.#stopped = true;
  }

  #close(from: Mark, to: Mark, totals: Map<string, number>): void {
    const s = this.#settings;
    const seconds = (to.at - from.at) / 1000;
    const cpuSeconds = (to.cpuMicros - from.cpuMicros) / 1e6;
    const gb = (from.rssBytes + to.rssBytes) / 2 / 1e9;
    const price = this.#sources.computePerHour();
    const x = this.#index++;
    for (const [component, total] of totals) {
      const track = this.#track(component, 0);
      if (track === undefined) continue;
      // A series evicted and begun again counts from zero.
      const ops = total >= track.total ? total - track.total : total;
      track.total = total;
      track.closed++;
      track.latestRequests = ops;
      if (ops <= 0) continue;
      const values: Record<Figure, number> = {
        requests_per_cpu_second: cpuSeconds > 0 ? ops / cpuSeconds : NaN,
        requests_per_gb_second: gb > 0 && seconds > 0 ? ops / gb / seconds : NaN,
        cost_per_1k_requests:
          price !== undefined && seconds > 0 ? ((price * seconds) / 3600 / ops) * 1000 : NaN,
      };
      track.xs.push(x);
      for (const figure of FIGURES) track.values[figure].push(values[figure]);
      if (track.xs.length > s.periods) {
        track.xs.shift();
        for (const figure of FIGURES) track.values[figure].shift();
      }
      this.#publish(component, track);
    }
  }

  #publish(component: string, track: Track): void {
    const report = this.#report(component, track);
    const trend = this.#host.gauge('efficiency.trend', {
      component,
      description: 'Efficiency trend by figure: 1 increasing, 0 stable, -1 decreasing',
    });
    for (const figure of FIGURES) {
      const f = report[figure];
      if (f.latest === null) continue;
      this.#host
        .gauge(`efficiency.${figure}`, {
          component,
          description: `Resource efficiency: ${figure.replace(/_/g, ' ')} (see monitor.costs.efficiency)`,
        })
        .set(f.latest);
      trend.set(trendNumber(f.trend), { figure });
    }
  }

  #report(component: string, track: Track): ComponentEfficiency {
    const figure = (name: Figure): EfficiencyFigure => {
      const values = track.values[name];
      let latest: number | null = null;
      let sum = 0;
      let n = 0;
      for (let i = values.length - 1; i >= 0; i--) {
        const v = values[i]!;
        if (Number.isNaN(v)) continue;
        if (latest === null) latest = v;
        sum += v;
        n++;
      }
      // x: the period index, so slopes are per period even with periods skipped.
      const xs = new Float64Array(track.xs.length);
      const ys = new Float64Array(track.xs.length);
      for (let i = 0; i < xs.length; i++) {
        xs[i] = track.xs[i]!;
        ys[i] = values[i]!;
      }
      const fit = efficiencyTrend(xs, ys, this.#settings);
      return {
        latest,
        mean: n > 0 ? sum / n : null,
        trend: fit.trend,
        slope_per_period: Number.isFinite(fit.slope) ? fit.slope : null,
        t_statistic: Math.max(-1e6, Math.min(1e6, fit.tStatistic)),
        periods: n,
      };
    };
    return {
      component,
      periods: track.closed,
      latest_requests: track.latestRequests,
      requests_per_cpu_second: figure('requests_per_cpu_second'),
      requests_per_gb_second: figure('requests_per_gb_second'),
      cost_per_1k_requests: figure('cost_per_1k_requests'),
    };
  }

  /** A track for the component (a new one at `total`), or undefined past the cap. */
  #track(component: string, total: number): Track | undefined {
    let track = this.#tracks.get(component);
    if (track !== undefined) return track;
    if (this.#tracks.size >= this.#settings.maxComponents) {
      this.dropped++;
      if (this.dropped === 1) {
        this.#host.diagnostics.report(
          DiagnosticCode.METRIC_LIMIT,
          `efficiency: ${this.#settings.maxComponents} components tracked (maxComponents); ${component} and later ones are not`,
        );
      }
      return undefined;
    }
    track = {
      total,
      closed: 0,
      latestRequests: 0,
      xs: [],
      values: { requests_per_cpu_second: [], requests_per_gb_second: [], cost_per_1k_requests: [] },
    };
    this.#tracks.set(component, track);
    return track;
  }

  /** Operations since the series began, per component with timers. */
  #totals(): Map<string, number> {
    const out = new Map<string, number>();
    const host = this.#host;
    if (host.readComponent === undefined) return out;
    const window = host.windows[0] ?? 60;
    for (const component of this.#sources.components()) {
      if (SKIPPED.has(component)) continue;
      const reading = host.readComponent(component, window);
      if (reading.operations.length === 0) continue;
      let total = 0;
      for (const op of reading.operations) total += op.totalCount;
      out.set(component, total);
    }
    return out;
  }

  #read(probe: () => number): number {
    try {
      const v = probe();
      return isFiniteNumber(v) ? v : NaN;
    } catch {
      return NaN;
    }
  }
}

/**
 * The result of {@link efficiencyTrend}.
 *
 * @example
 * ```ts
 * const { trend, slope }: EfficiencyTrendFit = efficiencyTrend([0, 1, 2], [1, 2, 3]);
 * ```
 */
export interface EfficiencyTrendFit {
  /** The classification. */
  readonly trend: EfficiencyTrend;
  /** The least-squares slope per unit of x; NaN with fewer than 3 points. */
  readonly slope: number;
  /** The slope's t-statistic (±Infinity for a perfect non-flat line). */
  readonly tStatistic: number;
}

/**
 * Classifies a series by its least-squares slope (a pure function; NaN values are
 * skipped): `increasing` or `decreasing` when at least `minPeriods` values remain,
 * `|t| ≥ minTStatistic` and `|slope × (x_last − x_first)| ≥ minRelativeChange × |mean|`;
 * otherwise `stable`. Defaults: 6 values, t ≥ 3, 10%.
 *
 * @example
 * ```ts
 * efficiencyTrend([0, 1, 2, 3, 4, 5], [100, 90, 80, 70, 60, 50]).trend; // 'decreasing'
 * efficiencyTrend([0, 1, 2, 3, 4, 5], [100, 101, 99, 100, 101, 99]).trend; // 'stable'
 * ```
 */
export function efficiencyTrend(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  rule: Pick<EfficiencyOptions, 'minPeriods' | 'minTStatistic' | 'minRelativeChange'> = {},
): EfficiencyTrendFit {
  const fit = fitLine(xs, ys);
  if (fit.n < (rule.minPeriods ?? 6) || Number.isNaN(fit.slope)) {
    return { trend: 'stable', slope: fit.slope, tStatistic: fit.tStatistic };
  }
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i]!;
    if (Number.isNaN(x) || Number.isNaN(ys[i]!)) continue;
    if (x < first) first = x;
    if (x > last) last = x;
  }
  const change = Math.abs(fit.slope * (last - first));
  const relative = fit.meanY !== 0 ? change / Math.abs(fit.meanY) : 0;
  const significant =
    fit.slope !== 0 &&
    Math.abs(fit.tStatistic) >= (rule.minTStatistic ?? 3) &&
    relative >= (rule.minRelativeChange ?? 0.1);
  const trend: EfficiencyTrend = !significant
    ? 'stable'
    : fit.slope > 0
      ? 'increasing'
      : 'decreasing';
  return { trend, slope: fit.slope, tStatistic: fit.tStatistic };
}

/** 1 increasing, 0 stable, −1 decreasing (a gauge's and component_specific's value). */
function trendNumber(trend: EfficiencyTrend): number {
  return trend === 'increasing' ? 1 : trend === 'decreasing' ? -1 : 0;
}
