/**
 * The analytics engine: the spec's `GET /analytics` object for a component, from the
 * monitor's series (through an {@link AnalyticsSource}), the {@link MinuteHistory} and
 * the stored traces, with the structured evidence behind it.
 */
import type { Clock } from '../clock/clock.js';
import type { ComponentName } from '../components/names.js';
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';
import type { StoredSpan } from '../tracing/trace-store.js';
import { findAnomalies } from './anomaly.js';
import {
  analyzeTraces,
  type BottleneckOptions,
  operationBottlenecks,
  type TraceAnalysis,
} from './bottlenecks.js';
import { type CapacityOptions, forecastCapacity } from './capacity.js';
import { readComponentSpecific } from './component-specific.js';
import type { MinuteHistory } from './history.js';
import { buildRecommendations, type RecommendationOptions } from './recommendations.js';
import type { ComponentReading, AnalyticsSource } from './source.js';
import { round } from './stats.js';
import {
  classifyTrend,
  classifyUsagePattern,
  hourlyProfile,
  type TrendOptions,
  type UsagePatternOptions,
} from './trends.js';
import type {
  AnalyticsInsights,
  AnalyticsReport,
  AnalyticsTopOperation,
  AnomalyRecord,
  Bottleneck,
  CapacityForecast,
  TrendFit,
} from './types.js';

/**
 * What the engine reads, as injected pieces: no Monitor needed.
 *
 * @example
 * ```ts
 * const context: AnalyticsContext = {
 *   clock: monitor.clock,
 *   diagnostics: monitor.diagnostics,
 *   source: snapshotSource(monitor),
 *   history,
 *   traces: () => spansOf(monitor.traces),
 *   defaultComponent: monitor.defaultComponent,
 * };
 * ```
 */
export interface AnalyticsContext {
  /** Where `now` comes from. */
  readonly clock: Clock;
  /** Where failures are reported. */
  readonly diagnostics: Diagnostics;
  /** The monitor's series. */
  readonly source: AnalyticsSource;
  /** The per-minute and per-hour history (ticked by its owner). */
  readonly history: MinuteHistory;
  /** The stored traces, each as its spans; absent: no trace bottlenecks. */
  readonly traces?: () => Iterable<readonly StoredSpan[]>;
  /** The component of a report asked without one. Default `'default'`. */
  readonly defaultComponent?: string;
}

/**
 * Options of the {@link AnalyticsEngine}.
 *
 * @example
 * ```ts
 * const options: AnalyticsOptions = { windowSeconds: 900, trendMinutes: 60, utcOffsetMinutes: 60, capacity: { horizonDays: 7 } };
 * ```
 */
export interface AnalyticsOptions {
  /** The recent window (seconds) of throughput, p50/p99 and operation bottlenecks. Default 900. */
  readonly windowSeconds?: number;
  /** Minutes of history the trends are fitted over. Default 60. */
  readonly trendMinutes?: number;
  /** Minutes of history searched for anomalies. Default 60. */
  readonly anomalyMinutes?: number;
  /** The anomaly score threshold. Default 4. */
  readonly anomalyThreshold?: number;
  /** The usage pattern's hours are local to this offset from UTC. Default 0. */
  readonly utcOffsetMinutes?: number;
  /** `top_operations` listed at most. Default 10. */
  readonly topOperations?: number;
  /** `bottlenecks` listed at most. Default 5. */
  readonly maxBottlenecks?: number;
  /** The trend significance rule (the error-rate trend also needs a 0.005 absolute change). */
  readonly trend?: TrendOptions;
  /** The usage pattern's thresholds. */
  readonly usage?: UsagePatternOptions;
  /** Bottleneck thresholds. */
  readonly bottlenecks?: BottleneckOptions;
  /** Capacity thresholds and horizon. */
  readonly capacity?: CapacityOptions;
  /** Recommendation thresholds. */
  readonly recommendations?: RecommendationOptions;
}

/**
 * Which component a report is about.
 *
 * @example
 * ```ts
 * const query: AnalyticsQuery = { component: 'marketplace' };
 * ```
 */
export interface AnalyticsQuery {
  /** Default: the context's `defaultComponent`. */
  readonly component?: ComponentName;
}

function positive(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(
      `analytics.${name} must be a positive number, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

const STABLE: TrendFit = Object.freeze({
  direction: 'stable',
  points: 0,
  slopePerMinute: NaN,
  tStatistic: 0,
  relativeChange: 0,
  absoluteChange: 0,
  mean: NaN,
});

/**
 * The Performance Analytics Engine: `report({ component })` is the spec's
 * `GET /analytics` object; `insights` adds the fits, anomalies, forecasts, bottleneck
 * evidence and each recommendation's numbers. Each part is computed on its own: a
 * part that fails is reported to `diagnostics` (`PRSM_INTERNAL_ERROR`) and reads as
 * empty, so neither method throws.
 *
 * - summary: the component's timers since they began (`total_requests`,
 *   `average_response_time`, `error_rate`) and their samples per minute over
 *   `windowSeconds` (`throughput_per_minute`).
 * - trends: {@link classifyTrend} over the last `trendMinutes` of the history's
 *   `latency` and `error_rate`; {@link classifyUsagePattern} of the hourly throughput.
 * - bottlenecks: {@link analyzeTraces} and {@link operationBottlenecks}, by share.
 * - recommendations: {@link buildRecommendations}.
 * - top_operations: timers by samples since they began.
 * - component_specific: {@link readComponentSpecific}.
 *
 * @example
 * ```ts
 * const engine = new AnalyticsEngine({ clock, diagnostics, source, history, traces: () => spansOf(store) });
 * const report = engine.report({ component: 'marketplace' });
 * ```
 */
export class AnalyticsEngine {
  readonly #context: AnalyticsContext;
  readonly #options: AnalyticsOptions;
  readonly #windowSeconds: number;
  readonly #trendMinutes: number;
  readonly #anomalyMinutes: number;

  constructor(context: AnalyticsContext, options: AnalyticsOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('analytics options must be an object');
    }
    this.#context = context;
    this.#options = options;
    this.#windowSeconds = positive(options.windowSeconds, 900, 'windowSeconds');
    this.#trendMinutes = Math.round(positive(options.trendMinutes, 60, 'trendMinutes'));
    this.#anomalyMinutes = Math.round(positive(options.anomalyMinutes, 60, 'anomalyMinutes'));
    positive(options.anomalyThreshold, 4, 'anomalyThreshold');
    if (
      options.utcOffsetMinutes !== undefined &&
      (typeof options.utcOffsetMinutes !== 'number' ||
        !(Math.abs(options.utcOffsetMinutes) <= 24 * 60))
    ) {
      throw new TypeError('analytics.utcOffsetMinutes must be a number of minutes within ±1440');
    }
  }

  /** The spec's `GET /analytics` object for a component. Never throws. */
  report(query: AnalyticsQuery = {}): AnalyticsReport {
    return this.insights(query).report;
  }

  /** The report and the evidence behind it. Never throws. */
  insights(query: AnalyticsQuery = {}): AnalyticsInsights {
    const ctx = this.#context;
    const o = this.#options;
    const asked: unknown =
      query !== null && typeof query === 'object' ? query.component : undefined;
    const component =
      typeof asked === 'string' && asked.length > 0 ? asked : (ctx.defaultComponent ?? 'default');
    const now = this.#safe('clock', () => ctx.clock.now(), Date.now());
    const empty: ComponentReading = {
      component,
      operations: [],
      latencyP99: NaN,
      coveredSeconds: 0.001,
      counters: new Map(),
      gauges: new Map(),
    };
    const reading = this.#safe(
      'source',
      () => ctx.source.read(component, this.#windowSeconds, 'operations', now),
      empty,
    );

    let count = 0;
    let errors = 0;
    let sum = 0;
    let windowCount = 0;
    for (const op of reading.operations) {
      count += op.totalCount;
      errors += op.totalErrors;
      sum += op.totalSum;
      windowCount += op.count;
    }
    const summary = {
      total_requests: count,
      average_response_time: count > 0 ? round(sum / count, 1) : 0,
      error_rate: count > 0 ? round(errors / count, 4) : 0,
      throughput_per_minute: round((windowCount / reading.coveredSeconds) * 60, 1),
    };

    const history = ctx.history;
    const trends = this.#safe(
      'trends',
      () => ({
        responseTime: classifyTrend(
          history.series(component, 'latency', { points: this.#trendMinutes }).values,
          o.trend,
        ),
        errorRate: classifyTrend(
          history.series(component, 'error_rate', { points: this.#trendMinutes }).values,
          { minAbsoluteChange: 0.005, ...o.trend },
        ),
      }),
      { responseTime: STABLE, errorRate: STABLE },
    );
    const profile = this.#safe(
      'usage pattern',
      () =>
        hourlyProfile(
          history.series(component, 'throughput', { resolution: 'hour' }),
          o.utcOffsetMinutes ?? 0,
        ),
      new Array<number>(24).fill(NaN),
    );
    const usage = classifyUsagePattern(profile, o.usage);

    const traces = this.#safe<TraceAnalysis>(
      'trace bottlenecks',
      () =>
        ctx.traces === undefined
          ? { bottlenecks: [], dependencies: [], traces: 0 }
          : analyzeTraces(ctx.traces(), component, o.bottlenecks),
      { bottlenecks: [], dependencies: [], traces: 0 },
    );
    const opBottlenecks = this.#safe<Bottleneck[]>(
      'operation bottlenecks',
      () => operationBottlenecks(reading.operations, o.bottlenecks),
      [],
    );
    const byName = new Map<string, Bottleneck>();
    for (const b of [...traces.bottlenecks, ...opBottlenecks]) {
      const prev = byName.get(b.name);
      if (prev === undefined || prev.share < b.share) byName.set(b.name, b);
    }
    const bottlenecks = [...byName.values()]
      .sort((a, b) => b.share - a.share)
      .slice(0, o.maxBottlenecks ?? 5);

    const capacity = this.#safe<CapacityForecast[]>(
      'capacity',
      () => {
        const own = forecastCapacity(history, component, o.capacity);
        if (component === 'system') return own;
        const { throughputPerMinute: _t, ...systemOptions } = o.capacity ?? {};
        return [...own, ...forecastCapacity(history, 'system', systemOptions)];
      },
      [],
    );
    const anomalies = this.#safe<AnomalyRecord[]>(
      'anomalies',
      () =>
        findAnomalies(history, component, {
          minutes: this.#anomalyMinutes,
          ...(o.anomalyThreshold !== undefined && { threshold: o.anomalyThreshold }),
        }),
      [],
    );
    const componentSpecific = this.#safe(
      'component_specific',
      () => readComponentSpecific(reading),
      {},
    );
    const recommendations = this.#safe(
      'recommendations',
      () =>
        buildRecommendations(
          {
            now,
            bottlenecks,
            dependencies: traces.dependencies,
            operations: reading.operations,
            componentSpecific,
            capacity,
            anomalies,
          },
          o.recommendations,
        ),
      [],
    );

    const top: AnalyticsTopOperation[] = reading.operations
      .filter((op) => op.totalCount > 0)
      .sort((a, b) => b.totalCount - a.totalCount || (a.name < b.name ? -1 : 1))
      .slice(0, o.topOperations ?? 10)
      .map((op) => ({
        operation: op.name,
        avg_duration_ms: round(op.totalSum / op.totalCount, 1),
        request_count: op.totalCount,
      }));

    const report: AnalyticsReport = {
      summary,
      trends: {
        response_time_trend: trends.responseTime.direction,
        error_rate_trend: trends.errorRate.direction,
        usage_pattern: usage,
      },
      bottlenecks: bottlenecks.map((b) => b.name),
      recommendations: recommendations.map((r) => r.text),
      top_operations: top,
      component,
      component_specific: componentSpecific,
    };
    return {
      report,
      trends,
      hourlyProfile: profile,
      anomalies,
      capacity,
      bottlenecks,
      recommendations,
    };
  }

  #safe<T>(part: string, compute: () => T, fallback: T): T {
    try {
      return compute();
    } catch (error) {
      try {
        this.#context.diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `analytics ${part}: ${error instanceof Error ? error.message : 'unknown error'}`,
        );
      } catch {
        // The funnel cannot throw; if it ever does, the report still goes out.
      }
      return fallback;
    }
  }
}
