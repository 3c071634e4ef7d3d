/**
 * analytics/: the spec's Performance Analytics Engine. A bounded per-minute and
 * per-hour history of each component, trend and usage-pattern analysis, robust
 * anomaly detection, capacity forecasts, bottlenecks found in stored traces, and
 * recommendations tied to the evidence behind them; the spec's `GET /analytics`
 * object. May import from clock/, diagnostics/, metrics/, sketch/, tracing/ (types
 * and the trace record helpers) and alerting/ (the series reader type), never from
 * exporters or the server. Nothing here needs a Monitor: every input comes through
 * {@link AnalyticsSource}, {@link MinuteHistory} and a trace callback.
 *
 * This file: the spec's analytics object, key by key, in its snake_case, and the
 * structured evidence behind it.
 */

/**
 * The direction of a trend: for latency and error rate, `improving` means falling.
 *
 * @example
 * ```ts
 * const t: TrendDirection = report.trends.response_time_trend; // 'stable'
 * ```
 */
export type TrendDirection = 'improving' | 'stable' | 'degrading';

/**
 * A named daily usage pattern (see `classifyUsagePattern` for the rules).
 *
 * @example
 * ```ts
 * const p: UsagePatternName = 'business_hours_with_evening_peak';
 * ```
 */
export type UsagePatternName =
  | 'insufficient_data'
  | 'steady'
  | 'business_hours'
  | 'business_hours_with_evening_peak'
  | 'evening_peak'
  | 'overnight_peak'
  | 'irregular';

/**
 * The spec's `summary`.
 *
 * @example
 * ```ts
 * const s: AnalyticsSummary = {
 *   total_requests: 125000, average_response_time: 145.3, error_rate: 0.023, throughput_per_minute: 850,
 * };
 * ```
 */
export interface AnalyticsSummary {
  /** Timer samples of the component since the monitor started (every operation). */
  readonly total_requests: number;
  /** Their mean duration, ms, rounded to 0.1; 0 without any. */
  readonly average_response_time: number;
  /** Their errors over samples, 0..1, rounded to 4 decimals; 0 without any. */
  readonly error_rate: number;
  /** Timer samples per minute over the engine's recent window, rounded to 0.1. */
  readonly throughput_per_minute: number;
}

/**
 * The spec's `usage_pattern`.
 *
 * @example
 * ```ts
 * const u: AnalyticsUsagePattern = { peak_hours: ['14:00-16:00', '20:00-22:00'], pattern: 'business_hours_with_evening_peak' };
 * ```
 */
export interface AnalyticsUsagePattern {
  /** Ranges of hours of the day (`HH:00-HH:00`, end exclusive) holding the peak volume, in time order. */
  readonly peak_hours: readonly string[];
  /** The pattern's name. */
  readonly pattern: UsagePatternName;
}

/**
 * The spec's `trends`.
 *
 * @example
 * ```ts
 * const t: AnalyticsTrends = {
 *   response_time_trend: 'improving', error_rate_trend: 'stable',
 *   usage_pattern: { peak_hours: [], pattern: 'insufficient_data' },
 * };
 * ```
 */
export interface AnalyticsTrends {
  /** Mean latency per minute over the trend window. */
  readonly response_time_trend: TrendDirection;
  /** Error rate per minute over the trend window. */
  readonly error_rate_trend: TrendDirection;
  /** Volume by hour of the day over the hourly history. */
  readonly usage_pattern: AnalyticsUsagePattern;
}

/**
 * One of the spec's `top_operations`.
 *
 * @example
 * ```ts
 * const op: AnalyticsTopOperation = { operation: 'marketplace_search', avg_duration_ms: 180.5, request_count: 15000 };
 * ```
 */
export interface AnalyticsTopOperation {
  /** The timer's name. */
  readonly operation: string;
  /** Its mean duration since the monitor started, ms, rounded to 0.1. */
  readonly avg_duration_ms: number;
  /** Its samples since the monitor started. */
  readonly request_count: number;
}

/**
 * The spec's `GET /api/v1/monitoring/analytics?component=...` object, key by key.
 * Anomalies and capacity forecasts reach it as recommendations (with their numbers);
 * their structured form is in {@link AnalyticsInsights}.
 *
 * @example
 * ```ts
 * const report: AnalyticsReport = monitor.analytics({ component: 'marketplace' });
 * console.log(report.trends.response_time_trend, report.bottlenecks, report.recommendations);
 * ```
 */
export interface AnalyticsReport {
  /** Totals and rates of the component's timers. */
  readonly summary: AnalyticsSummary;
  /** Trends and the daily usage pattern. */
  readonly trends: AnalyticsTrends;
  /** Names of the component's bottlenecks, worst first (see `findBottlenecks`). */
  readonly bottlenecks: readonly string[];
  /** Recommendations, each stating the numbers behind it, most important first. */
  readonly recommendations: readonly string[];
  /** Operations by request count, most first. */
  readonly top_operations: readonly AnalyticsTopOperation[];
  /** The component asked for. */
  readonly component: string;
  /** Domain ratios found among the component's metrics (see `readComponentSpecific`). */
  readonly component_specific: Readonly<Record<string, number>>;
}

/**
 * A trend's fit: the least-squares slope of a per-minute series and the numbers the
 * significance rule looked at.
 *
 * @example
 * ```ts
 * const fit: TrendFit = insights.trends.responseTime;
 * console.log(fit.direction, fit.slopePerMinute, fit.tStatistic, fit.relativeChange);
 * ```
 */
export interface TrendFit {
  /** The classification. */
  readonly direction: TrendDirection;
  /** Minutes with a value that were fitted. */
  readonly points: number;
  /** The fitted change per minute (NaN with fewer than the minimum points). */
  readonly slopePerMinute: number;
  /** The slope over its standard error (±Infinity for a perfect fit). */
  readonly tStatistic: number;
  /** The fitted change over the window over the series' mean (0 when the mean is 0). */
  readonly relativeChange: number;
  /** The fitted change over the window, in the series' unit. */
  readonly absoluteChange: number;
  /** The series' mean. */
  readonly mean: number;
}

/**
 * A minute whose value the anomaly detector flagged.
 *
 * @example
 * ```ts
 * for (const a of insights.anomalies) console.log(a.metric, new Date(a.timestamp), a.value, a.baseline, a.score);
 * ```
 */
export interface AnomalyRecord {
  /** The history metric (`latency`, `latency_p99`, `error_rate`, `throughput` or a gauge). */
  readonly metric: string;
  /** The component whose history it is. */
  readonly component: string;
  /** The minute's start, ms since the epoch. */
  readonly timestamp: number;
  /** The minute's value. */
  readonly value: number;
  /** The baseline's median. */
  readonly baseline: number;
  /** The robust z-score: (value − median) / scale. */
  readonly score: number;
}

/**
 * A capacity forecast of one gauge or of throughput.
 *
 * @example
 * ```ts
 * const f: CapacityForecast = insights.capacity[0]!;
 * if (f.timeToThresholdMs !== null) console.log(f.summary); // "disk_usage at 90% in 12 days"
 * ```
 */
export interface CapacityForecast {
  /** The gauge's name, or `throughput` (requests per minute). */
  readonly metric: string;
  /** The component whose history it is. */
  readonly component: string;
  /** The fitted value now. */
  readonly current: number;
  /** The fitted change per day. */
  readonly slopePerDay: number;
  /** The slope over its standard error. */
  readonly tStatistic: number;
  /** The threshold forecast against. */
  readonly threshold: number;
  /**
   * Milliseconds until the fitted line crosses the threshold; 0 when past it already;
   * null when the trend is not significant or points away from it.
   */
  readonly timeToThresholdMs: number | null;
  /** Which history was fitted. */
  readonly resolution: 'minute' | 'hour';
  /** Points fitted. */
  readonly points: number;
  /** One line for people: `disk_usage at 90% in 12 days`, or `disk_usage stable at 45%`. */
  readonly summary: string;
  /** Scaling advice when the threshold is within the horizon; undefined otherwise. */
  readonly advice: string | undefined;
}

/**
 * A bottleneck and what the traces showed.
 *
 * @example
 * ```ts
 * const b: Bottleneck = insights.bottlenecks[0]!;
 * console.log(b.name, b.kind, b.share, b.meanSelfMs);
 * ```
 */
export interface Bottleneck {
  /** The name listed in the report (`database_query_optimization`, a span's name...). */
  readonly name: string;
  /** `span`: a child span dominating slow traces; `operation`: large p99 × volume. */
  readonly kind: 'span' | 'operation';
  /** The span or operation name as recorded. */
  readonly source: string;
  /** The root operation whose traces showed it (for `span`). */
  readonly operation: string | undefined;
  /**
   * For `span`: its self time over the root durations of the slowest traces, 0..1.
   * For `operation`: its p99 × volume over the component's total, 0..1.
   */
  readonly share: number;
  /** For `span`: mean self time per slow trace, ms. For `operation`: its p99, ms. */
  readonly meanSelfMs: number;
  /** Traces examined (for `span`) or samples in the window (for `operation`). */
  readonly samples: number;
}

/**
 * A recommendation, the rule that made it and its evidence.
 *
 * @example
 * ```ts
 * const r: Recommendation = insights.recommendations[0]!;
 * console.log(r.rule, r.text, r.evidence);
 * ```
 */
export interface Recommendation {
  /** The rule: `caching`, `cache_hit_rate`, `optimize_span`, `circuit_breaker`, `tail_latency`, `scale`, `anomaly`. */
  readonly rule: RecommendationRule;
  /** The text listed in the report. */
  readonly text: string;
  /** The numbers behind it. */
  readonly evidence: Readonly<Record<string, number | string>>;
}

/**
 * The rules that make recommendations.
 *
 * @example
 * ```ts
 * const rule: RecommendationRule = 'circuit_breaker';
 * ```
 */
export type RecommendationRule =
  | 'caching'
  | 'cache_hit_rate'
  | 'optimize_span'
  | 'circuit_breaker'
  | 'tail_latency'
  | 'scale'
  | 'anomaly';

/**
 * The report and the structured evidence behind it.
 *
 * @example
 * ```ts
 * const { report, anomalies, capacity } = engine.insights({ component: 'marketplace' });
 * ```
 */
export interface AnalyticsInsights {
  /** The spec's object. */
  readonly report: AnalyticsReport;
  /** The two trend fits. */
  readonly trends: { readonly responseTime: TrendFit; readonly errorRate: TrendFit };
  /** Volume per hour of the day (24 values, NaN for hours never seen). */
  readonly hourlyProfile: readonly number[];
  /** Anomalous minutes in the anomaly window, most recent first. */
  readonly anomalies: readonly AnomalyRecord[];
  /** Capacity forecasts of the component's and the system's gauges and throughput. */
  readonly capacity: readonly CapacityForecast[];
  /** Bottlenecks, worst first. */
  readonly bottlenecks: readonly Bottleneck[];
  /** Recommendations, most important first. */
  readonly recommendations: readonly Recommendation[];
}
