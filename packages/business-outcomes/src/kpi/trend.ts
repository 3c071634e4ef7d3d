/**
 * kpi/: KPI values per calendar period (a bounded ring per KPI and dimension) and
 * their trend. Imports calendar/ only.
 */

/**
 * The direction of a KPI over its last periods.
 *
 * @example
 * ```ts
 * const t: Trend = outcomes.dashboard().trends['daily_active_users'] ?? 'stable';
 * ```
 */
export type Trend = 'increasing' | 'decreasing' | 'stable';

/**
 * How trends are told apart from noise: a least-squares slope over the last `periods`, called a trend only when both its size and its significance pass (see the package README).
 *
 * @example
 * ```ts
 * const rule: TrendRule = { periods: 14, minRelativeChange: 0.05, minTStatistic: 3 };
 * ```
 */
export interface TrendRule {
  /** How many of the latest periods the slope is fitted over. Default 7; at least 3. */
  readonly periods?: number;
  /**
   * The fitted change across the window (slope × (n − 1)) must be at least this
   * fraction of the mean absolute value. Default 0.02 (2%).
   */
  readonly minRelativeChange?: number;
  /**
   * The slope divided by its standard error must be at least this (in absolute
   * value). Default: Student's t at 97.5% for n − 2 degrees of freedom (a two-sided
   * test at the 5% level: 2.571 for 7 periods, 2.179 for 14), so flat noise is called
   * a trend about one time in twenty before the change rule removes most of those.
   */
  readonly minTStatistic?: number;
}

/** A trend rule after checking. @internal */
export interface ResolvedTrendRule {
  readonly periods: number;
  readonly minRelativeChange: number;
  /** undefined: Student's t at 97.5% for the points' degrees of freedom. */
  readonly minTStatistic: number | undefined;
}

/** Student's t, 0.975 quantile, for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

/** The two-sided 5% critical value of Student's t with `df` degrees of freedom. @internal */
export function tCritical(df: number): number {
  if (df <= 30) return T975[Math.max(1, df) - 1]!;
  if (df <= 40) return 2.021;
  if (df <= 60) return 2.0;
  if (df <= 120) return 1.98;
  return 1.96;
}

/** @internal */
export const DEFAULT_TREND_RULE: ResolvedTrendRule = Object.freeze({
  periods: 7,
  minRelativeChange: 0.02,
  minTStatistic: undefined,
});

/** Checks a trend rule; throws a `TypeError` naming the option. @internal */
export function resolveTrendRule(rule: unknown, option: string): ResolvedTrendRule {
  if (rule === undefined) return DEFAULT_TREND_RULE;
  if (rule === null || typeof rule !== 'object') {
    throw new TypeError(`${option} must be an object`);
  }
  const r = rule as TrendRule;
  for (const key of Object.keys(r)) {
    if (key !== 'periods' && key !== 'minRelativeChange' && key !== 'minTStatistic') {
      throw new TypeError(`${option}: unknown option ${key}`);
    }
  }
  const periods = r.periods ?? DEFAULT_TREND_RULE.periods;
  if (!Number.isInteger(periods) || periods < 3 || periods > 1000) {
    throw new TypeError(`${option}.periods must be an integer from 3 to 1000`);
  }
  const minRelativeChange = r.minRelativeChange ?? DEFAULT_TREND_RULE.minRelativeChange;
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
 * Classifies a series (`x` ascending, one `y` each) by its least-squares slope.
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
 * @example
 * ```ts
 * classifyTrend([0, 1, 2, 3], [10, 11, 12, 13], DEFAULT_TREND_RULE); // 'increasing'
 * ```
 *
 * @internal
 */
export function classifyTrend(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  rule: ResolvedTrendRule,
): Trend {
  const n = Math.min(x.length, y.length);
  if (n < 3) return 'stable';
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
  if (change < rule.minRelativeChange * mabs || change === 0) return 'stable';
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const r = y[i]! - (intercept + slope * x[i]!);
    sse += r * r;
  }
  const se = Math.sqrt(sse / (n - 2) / sxx);
  // Rounding leaves residuals of a perfect line at ~1e-16 of the values, not 0.
  const t = se <= Math.abs(slope) * 1e-9 ? Infinity : Math.abs(slope) / se;
  if (t < (rule.minTStatistic ?? tCritical(n - 2))) return 'stable';
  return slope > 0 ? 'increasing' : 'decreasing';
}
