/**
 * The KPI trend rule shared by `@prsm/business-outcomes` and `@prsm/server`: the
 * significance and size rules, invariance to the numbering of periods, and option
 * checks. (Series of every shape are in business-outcomes' kpi/trend.test.ts.)
 */
import { describe, expect, it } from 'vitest';

import {
  classifyKpiTrend,
  DEFAULT_KPI_TREND_RULE,
  kpiTrendTCritical,
  resolveKpiTrendRule,
} from './kpi-trend.js';

describe('classifyKpiTrend', () => {
  it('needs 3 points, a significant slope and a 2% change', () => {
    expect(classifyKpiTrend([0, 1], [1, 100])).toBe('stable');
    expect(classifyKpiTrend([0, 1, 2], [10, 20, 30])).toBe('increasing');
    expect(classifyKpiTrend([0, 1, 2], [30, 20, 10])).toBe('decreasing');
    // Significant but tiny: stable; allowed by the rule: increasing.
    const tiny = [1000, 1000.1, 1000.2, 1000.3, 1000.4, 1000.5, 1000.6];
    const x = [0, 1, 2, 3, 4, 5, 6];
    expect(classifyKpiTrend(x, tiny)).toBe('stable');
    expect(classifyKpiTrend(x, tiny, { minRelativeChange: 0 })).toBe('increasing');
    // Large but noisy (t below 2.571 for 5 degrees of freedom): stable.
    expect(classifyKpiTrend(x, [100, 140, 90, 150, 95, 160, 120])).toBe('stable');
    // A last-period spike on a flat series: stable (not a two-point comparison).
    expect(classifyKpiTrend(x, [100, 101, 99, 100, 101, 99, 130])).toBe('stable');
  });

  it('depends only on differences of x: any consecutive period numbering agrees', () => {
    const y = [12, 15, 14, 18, 19, 23, 22];
    const days = [20_480, 20_481, 20_482, 20_483, 20_484, 20_485, 20_486];
    const gaps = [0, 1, 3, 4, 5, 8, 9];
    expect(classifyKpiTrend(days, y)).toBe(classifyKpiTrend([0, 1, 2, 3, 4, 5, 6], y));
    expect(classifyKpiTrend(gaps, y)).toBe(
      classifyKpiTrend(
        gaps.map((g) => g + 24_000),
        y,
      ),
    );
  });

  it('uses Student t at 97.5% by default, and a given minTStatistic instead', () => {
    expect(kpiTrendTCritical(5)).toBe(2.571);
    expect(kpiTrendTCritical(12)).toBe(2.179);
    expect(kpiTrendTCritical(1000)).toBe(1.96);
    const x = [0, 1, 2, 3, 4, 5, 6];
    const y = [100, 108, 103, 112, 109, 118, 113]; // t ≈ 3.3
    expect(classifyKpiTrend(x, y, DEFAULT_KPI_TREND_RULE)).toBe('increasing');
    expect(classifyKpiTrend(x, y, { minTStatistic: 10 })).toBe('stable');
  });
});

describe('resolveKpiTrendRule', () => {
  it('fills in defaults and throws a TypeError naming a bad field', () => {
    expect(resolveKpiTrendRule(undefined, 'trend')).toBe(DEFAULT_KPI_TREND_RULE);
    expect(resolveKpiTrendRule({ periods: 14 }, 'trend')).toEqual({
      periods: 14,
      minRelativeChange: 0.02,
      minTStatistic: undefined,
    });
    expect(() => resolveKpiTrendRule({ periods: 2 }, 'trend')).toThrow(
      new TypeError('trend.periods must be an integer from 3 to 1000'),
    );
    expect(() => resolveKpiTrendRule({ minTStatistic: -1 }, 'trend')).toThrow(TypeError);
    expect(() => resolveKpiTrendRule({ window: 3 }, 'trend')).toThrow(/unknown option window/);
    expect(() => resolveKpiTrendRule(5, 'trend')).toThrow(/trend must be an object/);
  });
});
