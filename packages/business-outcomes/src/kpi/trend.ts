/**
 * kpi/: KPI values per calendar period (a bounded ring per KPI and dimension) and
 * their trend. Imports calendar/ and `@prsm/core` only.
 *
 * The trend rule itself lives in `@prsm/core` (`classifyKpiTrend`), so that
 * `@prsm/server` classifies the KPIs it stores exactly as this package does in
 * process; the names below are this package's names for it.
 */
import {
  classifyKpiTrend,
  DEFAULT_KPI_TREND_RULE,
  type KpiTrend,
  type KpiTrendRule,
  kpiTrendTCritical,
  type ResolvedKpiTrendRule,
  resolveKpiTrendRule,
} from '@prsm/core';

/**
 * The direction of a KPI over its last periods.
 *
 * @example
 * ```ts
 * const t: Trend = outcomes.dashboard().trends['daily_active_users'] ?? 'stable';
 * ```
 */
export type Trend = KpiTrend;

/**
 * How trends are told apart from noise: a least-squares slope over the last `periods`,
 * called a trend only when both its size and its significance pass (see the package
 * README and `classifyKpiTrend` in `@prsm/core`).
 *
 * @example
 * ```ts
 * const rule: TrendRule = { periods: 14, minRelativeChange: 0.05, minTStatistic: 3 };
 * ```
 */
export type TrendRule = KpiTrendRule;

/** A trend rule after checking. @internal */
export type ResolvedTrendRule = ResolvedKpiTrendRule;

/** The two-sided 5% critical value of Student's t with `df` degrees of freedom. @internal */
export const tCritical: (df: number) => number = kpiTrendTCritical;

/** @internal */
export const DEFAULT_TREND_RULE: ResolvedTrendRule = DEFAULT_KPI_TREND_RULE;

/** Checks a trend rule; throws a `TypeError` naming the option. @internal */
export const resolveTrendRule: (rule: unknown, option: string) => ResolvedTrendRule =
  resolveKpiTrendRule;

/**
 * Classifies a series (`x` ascending, one `y` each) by its least-squares slope: see
 * `classifyKpiTrend` in `@prsm/core` for the rule.
 *
 * @example
 * ```ts
 * classifyTrend([0, 1, 2, 3], [10, 11, 12, 13], DEFAULT_TREND_RULE); // 'increasing'
 * ```
 *
 * @internal
 */
export const classifyTrend: (
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  rule: ResolvedTrendRule,
) => Trend = classifyKpiTrend;
