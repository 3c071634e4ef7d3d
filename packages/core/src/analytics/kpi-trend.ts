/**
 * The trend rule of business KPIs: a least-squares slope over the values of the last
 * N calendar periods, called a trend only when it is both large and significant. Kept
 * here, pure and dependency-free, so `@prsm/business-outcomes` (in process) and
 * `@prsm/server` (over its stored history) classify a KPI the same way.
 */

/**
 * The direction of a KPI over its last periods, as the spec's business dashboard
 * writes it.
 *
 * @example
 * ```ts
 * const t: KpiTrend = classifyKpiTrend([0, 1, 2], [10, 20, 30]); // 'increasing'
 * ```
 */
export type KpiTrend = 'increasing' | 'decreasing' | 'stable';

/**
 * How KPI trends are told apart from noise (see {@link classifyKpiTrend}).
 *
 * @example
 * ```ts
 * const rule: KpiTrendRule = { periods: 14, minRelativeChange: 0.05, minTStatistic: 3 };
 * ```
 */
export interface KpiTrendRule {
  /** How many of the latest periods the slope is fitted over. Default 7; at least 3. */
  readonly periods?: number;
  /**
   * The fitted change across the window (|slope| × (x_last − x_first)) must be at
   * least this fraction of the mean absolute value. Default 0.02 (2%).
   */
  readonly minRelativeChange?: number;
  /**
   * The slope divided by its standard error must be at least this (in absolute
   * value). Default: Student's t at 97.5% for n − 2 degrees of freedom (a two-sided
   * test at the 5% level: 2.571 for 7 periods, 2.179 for 14), so flat noise is called
   * a trend about one time in twenty before the change rule removes most of those.
   */
  readonly minTStatistic?: number | undefined;
}

/**
 * A {@link KpiTrendRule} after checking, every field filled in
 * (`minTStatistic` undefined: Student's t at 97.5% for the points' degrees of freedom).
 *
 * @example
 * ```ts
 * const rule: ResolvedKpiTrendRule = resolveKpiTrendRule({ periods: 14 }, 'trend');
 * ```
 */
export interface ResolvedKpiTrendRule {
  readonly periods: number;
  readonly minRelativeChange: number;
  readonly minTStatistic: number | undefined;
}

/**
 * The metadata key of a business metric body (`POST /business-metrics`) that tells how
 * the KPI's samples make a period's value. `'sum'` (outcome counts): the body's value
 * is the running total of the current period, and the trend is fitted over the
 * complete periods before it, a period without a sample counting 0. Absent (or any
 * other value): the value is the period's value, and the trend is fitted over the
 * periods with a value among the last N, the current one included.
 * `@prsm/business-outcomes` sets it; `@prsm/server` reads it.
 *
 * @example
 * ```ts
 * const body = { metric_name: 'purchase_completed', value: 42, dimension: 'daily', metadata: { [KPI_AGGREGATION_KEY]: 'sum' } };
 * ```
 */
export const KPI_AGGREGATION_KEY = 'prsm_aggregation';

/**
 * The metadata key of a business metric body (`POST /business-metrics`) that names the
 * calendar period its value belongs to, as an integer ordinal in its dimension
 * (consecutive periods have consecutive ordinals): hours since the epoch, days since
 * 1970-01-01, ISO weeks as `floor((day + 3) / 7)` (weeks turn on Mondays), months as
 * `year × 12 + month − 1`, days and months counted in the sender's time zone.
 * `@prsm/business-outcomes` sets it; `@prsm/server` groups a KPI's stored values by it
 * (by the time it stored them when absent) and reads the current period from its
 * clock, in UTC.
 *
 * @example
 * ```ts
 * const body = { metric_name: 'daily_active_users', value: 12500, dimension: 'daily', metadata: { [KPI_PERIOD_KEY]: 19737 } };
 * ```
 */
export const KPI_PERIOD_KEY = 'prsm_period';

/** Student's t, 0.975 quantile, for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

/**
 * The two-sided 5% critical value of Student's t with `df` degrees of freedom (the
 * default `minTStatistic` of {@link classifyKpiTrend}).
 *
 * @example
 * ```ts
 * kpiTrendTCritical(5); // 2.571
 * ```
 */
export function kpiTrendTCritical(df: number): number {
  if (df <= 30) return T975[Math.max(1, Math.floor(df)) - 1]!;
  if (df <= 40) return 2.021;
  if (df <= 60) return 2.0;
  if (df <= 120) return 1.98;
  return 1.96;
}

/**
 * The default KPI trend rule: 7 periods, a 2% change, significance at the 5% level.
 *
 * @example
 * ```ts
 * classifyKpiTrend(x, y, DEFAULT_KPI_TREND_RULE);
 * ```
 */
export const DEFAULT_KPI_TREND_RULE: ResolvedKpiTrendRule = Object.freeze({
  periods: 7,
  minRelativeChange: 0.02,
  minTStatistic: undefined,
});

/**
 * Checks a {@link KpiTrendRule} and fills in its defaults; throws a `TypeError`
 * naming `option` and the bad field.
 *
 * @example
 * ```ts
 * const rule = resolveKpiTrendRule(options.trend, 'trend'); // TypeError: trend.periods must be ...
 * ```
 */
export function resolveKpiTrendRule(rule: unknown, option: string): ResolvedKpiTrendRule {
  if (rule === undefined) return DEFAULT_KPI_TREND_RULE;
  if (rule === null || typeof rule !== 'object') {
    throw new TypeError(`${option} must be an object`);
  }
  const r = rule as KpiTrendRule;
  for (const key of Object.keys(r)) {
    if (key !== 'periods' && key !== 'minRelativeChange' && key !== 'minTStatistic') {
      throw new TypeError(`${option}: unknown option ${key}`);
    }
  }
  const periods = r.periods ?? DEFAULT_KPI_TREND_RULE.periods;
  if (!Number.isInteger(periods) || periods < 3 || periods > 1000) {
    throw new TypeError(`${option}.periods must be an integer from 3 to 1000`);
  }
  const minRelativeChange = r.minRelativeChange ?? DEFAULT_KPI_TREND_RULE.minRelativeChange;
  if (
    typeof minRelativeChange !== 'number' ||
    !(minRelativeChange >= 0) ||
    minRelativeChange === Infinity
  ) {
    throw new TypeError(`${option}.minRelativeChange must be a finite number >= 0`);
  }
  const minTStatistic = r.minTStatistic;
  if (
    minTStatistic !== undefined &&
    (typeof minTStatistic !== 'number' || !(minTStatistic >= 0) || minTStatistic === Infinity)
  ) {
    throw new TypeError(`${option}.minTStatistic must be a finite number >= 0`);
  }
  return Object.freeze({ periods, minRelativeChange, minTStatistic });
}

/**
 * Classifies a KPI's values over its last periods (`x` period ordinals ascending, one
 * `y` each; the caller picks the last `rule.periods` periods) by their least-squares
 * slope. Pure and allocation-free; it never throws.
 *
 * The rule: fewer than 3 points is `stable`. Otherwise fit `y = a + b·x`; the trend is
 * `increasing` (`decreasing`) when `b > 0` (`< 0`) and both
 * - the fitted change across the window, `|b| × (x_last − x_first)`, is at least
 *   `minRelativeChange` × the mean of `|y|` (a change too small to matter is stable,
 *   however regular), and
 * - `|b| / SE(b)` is at least `minTStatistic` (default: Student's t at 97.5% for
 *   `n − 2` degrees of freedom, i.e. the slope is significant at the 5% level), where
 *   `SE(b) = sqrt(Σ residual² / (n − 2) / Σ (x − x̄)²)` (a slope the noise could
 *   explain is stable). A perfect line has `SE(b) = 0` and passes.
 *
 * It is not a comparison of the last two values: a spike at the end of a flat series
 * stays `stable`. Only differences of `x` matter, so any consecutive numbering of the
 * periods gives the same answer.
 *
 * @example
 * ```ts
 * import { classifyKpiTrend } from '@prsm/core';
 *
 * classifyKpiTrend([0, 1, 2, 3], [10, 11, 12, 13]); // 'increasing'
 * classifyKpiTrend([0, 1, 2, 3, 4, 5, 6], [100, 101, 99, 100, 101, 99, 130]); // 'stable'
 * ```
 */
export function classifyKpiTrend(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  rule: KpiTrendRule = DEFAULT_KPI_TREND_RULE,
): KpiTrend {
  const n = Math.min(x.length, y.length);
  if (n < 3) return 'stable';
  const minRelativeChange = rule.minRelativeChange ?? DEFAULT_KPI_TREND_RULE.minRelativeChange;
  let mx = 0;
  let my = 0;
  let mabs = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
    mabs += Math.abs(y[i]!);
  }
  mx /= n;
  my /= n;
  mabs /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    sxx += dx * dx;
    sxy += dx * (y[i]! - my);
  }
  if (sxx === 0) return 'stable';
  const slope = sxy / sxx;
  if (slope === 0 || !Number.isFinite(slope)) return 'stable';
  const change = Math.abs(slope) * (x[n - 1]! - x[0]!);
  if (change < minRelativeChange * mabs || change === 0) return 'stable';
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const r = y[i]! - (intercept + slope * x[i]!);
    sse += r * r;
  }
  const se = Math.sqrt(sse / (n - 2) / sxx);
  // Rounding leaves residuals of a perfect line at ~1e-16 of the values, not 0.
  const t = se <= Math.abs(slope) * 1e-9 ? Infinity : Math.abs(slope) / se;
  if (t < (rule.minTStatistic ?? kpiTrendTCritical(n - 2))) return 'stable';
  return slope > 0 ? 'increasing' : 'decreasing';
}
