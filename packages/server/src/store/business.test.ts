/**
 * The server's business dashboard over a real SQLite file with a manual clock: the
 * spec's group keys, KPI trends by the least-squares rule over calendar periods (not
 * the last two values), `sum` KPIs (outcome counts) over complete periods with gaps as
 * 0, and the UTC period arithmetic of every dimension against JavaScript's.
 */
import { join } from 'node:path';

import { classifyKpiTrend, KPI_AGGREGATION_KEY, KPI_PERIOD_KEY, ManualClock } from '@prsm/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { tempDir } from '../test-support.js';
import { openStore, type MonitorStore } from './store.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-02T10:00:00Z'); // a Monday

let tmp: ReturnType<typeof tempDir>;
let clock: ManualClock;
let store: MonitorStore;

beforeEach(() => {
  tmp = tempDir();
  clock = new ManualClock(T0);
  store = openStore(join(tmp.dir, 'business.db'), { clock });
});

afterEach(() => {
  store.close();
  tmp.remove();
});

/** Records `values[i]` on day i at 10:00, after half of it at 09:00 (the later one counts). */
function daily(name: string, values: readonly number[], extra: Record<string, unknown> = {}): void {
  values.forEach((value, i) => {
    clock.set(T0 + i * DAY - 3_600_000);
    store.recordBusinessMetric({
      metric_name: name,
      value: value / 2,
      dimension: 'daily',
      ...extra,
    });
    clock.set(T0 + i * DAY);
    store.recordBusinessMetric({ metric_name: name, value, dimension: 'daily', ...extra });
  });
}

describe('MonitorStore.businessDashboard', () => {
  it('fills the spec group keys with 0 and puts each name in its group', () => {
    const empty = store.businessDashboard();
    expect(empty).toEqual({
      kpis: {},
      trends: {},
      targets: {},
      user_metrics: {
        session_duration_avg: 0,
        pages_per_session: 0,
        bounce_rate: 0,
        return_user_rate: 0,
      },
      revenue_metrics: {
        monthly_recurring_revenue: 0,
        average_revenue_per_user: 0,
        customer_lifetime_value: 0,
      },
      growth_metrics: { user_growth_rate: 0, revenue_growth_rate: 0, market_penetration: 0 },
      quality_metrics: {
        model_accuracy_avg: 0,
        recommendation_relevance: 0,
        system_reliability: 0,
      },
      generated_at: '2026-03-02T10:00:00Z',
    });
    store.recordBusinessMetric({
      metric_name: 'pages_per_session',
      value: 4.2,
      dimension: 'daily',
    });
    store.recordBusinessMetric({
      metric_name: 'monthly_recurring_revenue',
      value: 125_000,
      dimension: 'monthly',
      target: 150_000,
    });
    const d = store.businessDashboard();
    expect(d.user_metrics['pages_per_session']).toBe(4.2);
    expect(d.kpis).toEqual({ monthly_recurring_revenue: 125_000 });
    expect(d.revenue_metrics['monthly_recurring_revenue']).toBe(125_000);
    expect(d.targets).toEqual({
      monthly_recurring_revenue: { current: 125_000, target: 150_000, achievement: 0.83 },
    });
    // Trends are of KPIs only, as in the spec's example.
    expect(Object.keys(d.trends)).toEqual(['monthly_recurring_revenue']);
  });

  it('fits the last value of each period: rising, falling, flat, a final spike', () => {
    daily('rising', [100, 104, 109, 111, 118, 120, 126]);
    daily('falling', [126, 120, 118, 111, 109, 104, 100]);
    daily('flat', [50, 50, 50, 50, 50, 50, 50]);
    daily('spike', [100, 101, 99, 100, 101, 99, 130]);
    const d = store.businessDashboard();
    expect(d.trends).toEqual({
      rising: 'increasing',
      falling: 'decreasing',
      flat: 'stable',
      spike: 'stable', // a two-point comparison would call it increasing
    });
    expect(d.kpis['spike']).toBe(130);
  });

  it('reads only the last 7 periods, the current one included', () => {
    // Falling for a week, then flat for 7 days: stable (the fall is out of the window).
    daily('recovering', [200, 180, 160, 140, 120, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
    expect(store.businessDashboard().trends['recovering']).toBe('stable');
    // Days without a value are left out of a `last` KPI's fit: 10, 20, 30 on days 0, 3, 6.
    for (const day of [0, 3, 6]) {
      clock.set(T0 + day * DAY);
      store.recordBusinessMetric({
        metric_name: 'sparse',
        value: 10 + (day * 10) / 3,
        dimension: 'daily',
      });
    }
    expect(store.businessDashboard().trends['sparse']).toBe('increasing');
    clock.set(T0 + 9 * DAY); // days 3..9: 20 and 30 only
    expect(store.businessDashboard().trends['sparse']).toBe('stable');
  });

  it('fits a sum KPI over the complete periods before the current one, gaps as 0', () => {
    const sum = { metadata: { [KPI_AGGREGATION_KEY]: 'sum' } };
    // Totals of days 0..5 rising; today (day 6) only just started: 1 so far.
    daily('purchases', [10, 20, 30, 40, 50, 60, 1], sum);
    expect(store.businessDashboard().trends['purchases']).toBe('increasing');
    // The same values read as snapshots would see today's 1 and call it noise.
    daily('snapshots', [10, 20, 30, 40, 50, 60, 1]);
    expect(store.businessDashboard().trends['snapshots']).toBe(
      classifyKpiTrend([0, 1, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 60, 1]),
    );
    expect(store.businessDashboard().trends['snapshots']).not.toBe('increasing');
    // Busy days with idle days between them: the idle ones count as 0.
    const gaps = [30, 0, 0, 30, 0, 0, 30, 0];
    gaps.forEach((value, i) => {
      if (value === 0) return;
      clock.set(T0 + i * DAY);
      store.recordBusinessMetric({ metric_name: 'bursty', value, dimension: 'daily', ...sum });
    });
    clock.set(T0 + 7 * DAY);
    const x = [0, 1, 2, 3, 4, 5, 6];
    expect(store.businessDashboard().trends['bursty']).toBe(
      classifyKpiTrend(x, [30, 0, 0, 30, 0, 0, 30]),
    );
  });

  it('puts a value in the period its body names (KPI_PERIOD_KEY), not when it arrived', () => {
    const day0 = Math.floor(T0 / DAY);
    // Days 0..4 rising, each arriving just after its day ended (a late export).
    for (let i = 0; i < 5; i++) {
      clock.set(T0 + (i + 1) * DAY - 10 * 3_600_000 + 60_000); // 00:01 the next day
      store.recordBusinessMetric({
        metric_name: 'late',
        value: 10 * (i + 1),
        dimension: 'daily',
        metadata: { [KPI_PERIOD_KEY]: day0 + i },
      });
      // The same values without the key land one day later each: day 5 holds 50.
      store.recordBusinessMetric({
        metric_name: 'unnamed',
        value: 10 * (i + 1),
        dimension: 'daily',
      });
    }
    clock.set(T0 + 4 * DAY);
    const d = store.businessDashboard();
    expect(d.trends['late']).toBe('increasing'); // 10..40 on days 0..3, 50 on day 4
    expect(d.trends['unnamed']).toBe('increasing'); // 10..40 on days 1..4 (50 is tomorrow)
    // Days 3..9: 'late' has 40 and 50 (two points: stable), 'unnamed' 30, 40, 50.
    clock.set(T0 + 9 * DAY);
    expect(store.businessDashboard().trends).toMatchObject({
      late: 'stable',
      unnamed: 'increasing',
    });
    // A key that is not an integer is ignored: the time of arrival is used.
    store.recordBusinessMetric({
      metric_name: 'odd',
      value: 1,
      dimension: 'daily',
      metadata: { [KPI_PERIOD_KEY]: 'yesterday' },
    });
    expect(store.businessDashboard().kpis['odd']).toBe(1);
  });

  it('cuts hours, ISO weeks and months in UTC as JavaScript dates do', () => {
    const at = (iso: string, name: string, dimension: string, value: number): void => {
      clock.set(Date.parse(iso));
      store.recordBusinessMetric({ metric_name: name, value, dimension });
    };
    // Months of 31, 28 and 31 days: one value each on the last day, late.
    at('2026-01-31T23:59:59Z', 'monthly_kpi', 'monthly', 10);
    at('2026-02-28T23:59:59Z', 'monthly_kpi', 'monthly', 20);
    at('2026-03-01T00:00:00Z', 'monthly_kpi', 'monthly', 30);
    expect(store.businessDashboard().trends['monthly_kpi']).toBe('increasing');
    // Two values in one month are one period: the later wins, no trend from 2 points.
    at('2026-04-01T00:00:00Z', 'april', 'monthly', 1);
    at('2026-04-30T23:59:59Z', 'april', 'monthly', 2);
    at('2026-05-01T00:00:00Z', 'april', 'monthly', 3);
    expect(store.businessDashboard().trends['april']).toBe('stable');
    // ISO weeks turn on Monday 00:00 UTC: Sunday and Monday are different weeks.
    at('2026-03-01T23:00:00Z', 'weekly_kpi', 'weekly', 10); // Sunday
    at('2026-03-02T00:00:00Z', 'weekly_kpi', 'weekly', 20); // Monday
    at('2026-03-09T00:00:00Z', 'weekly_kpi', 'weekly', 30);
    expect(store.businessDashboard().trends['weekly_kpi']).toBe('increasing');
    at('2026-03-09T01:00:00Z', 'hourly_kpi', 'hourly', 5);
    at('2026-03-09T02:00:00Z', 'hourly_kpi', 'hourly', 9);
    at('2026-03-09T02:59:59Z', 'hourly_kpi', 'hourly', 6);
    expect(store.businessDashboard().trends['hourly_kpi']).toBe('stable');
    at('2026-03-09T03:00:00Z', 'hourly_kpi', 'hourly', 7);
    expect(store.businessDashboard().trends['hourly_kpi']).toBe('increasing');
  });
});
