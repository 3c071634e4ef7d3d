import { ManualClock, Monitor } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { BusinessOutcomes } from '../index.js';

/** The spec's `GET /business-dashboard` example, verbatim. */
const SPEC_EXAMPLE = {
  kpis: {
    daily_active_users: 12500,
    monthly_recurring_revenue: 125000.0,
    recommendation_click_rate: 0.12,
    marketplace_conversion_rate: 0.034,
    user_satisfaction_score: 4.2,
    system_uptime: 99.8,
  },
  trends: {
    daily_active_users: 'increasing',
    monthly_recurring_revenue: 'increasing',
    recommendation_click_rate: 'stable',
    marketplace_conversion_rate: 'increasing',
    user_satisfaction_score: 'stable',
    system_uptime: 'stable',
  },
  targets: {
    daily_active_users: { current: 12500, target: 15000, achievement: 0.83 },
    monthly_recurring_revenue: { current: 125000.0, target: 150000.0, achievement: 0.83 },
    recommendation_click_rate: { current: 0.12, target: 0.15, achievement: 0.8 },
  },
  user_metrics: {
    session_duration_avg: 12.5,
    pages_per_session: 4.2,
    bounce_rate: 0.23,
    return_user_rate: 0.68,
  },
  revenue_metrics: {
    monthly_recurring_revenue: 125000.0,
    average_revenue_per_user: 45.0,
    customer_lifetime_value: 1250.0,
  },
  growth_metrics: {
    user_growth_rate: 0.15,
    revenue_growth_rate: 0.22,
    market_penetration: 0.08,
  },
  quality_metrics: {
    model_accuracy_avg: 0.87,
    recommendation_relevance: 0.82,
    system_reliability: 0.998,
  },
  generated_at: '2024-01-15T14:30:00Z',
} as const;

const at = (month: number, day: number, hour = 12, minute = 0): number =>
  Date.UTC(month >= 12 ? 2024 : 2023, month % 12, day, hour, minute);

/** Replays a service whose numbers are the spec's example. */
function specScenario(): { outcomes: BusinessOutcomes; monitor: Monitor } {
  const clock = new ManualClock(at(10, 1)); // 2023-11-01
  const monitor = new Monitor({ clock });
  const outcomes = new BusinessOutcomes({
    monitor,
    marketSize: 156_250,
    publishIntervalSeconds: 0,
  });
  // Monthly active users: 1000 in November, 1150 in December (+15%).
  for (let i = 0; i < 1000; i++) outcomes.trackActivity(`u${i}`);
  clock.set(at(11, 2));
  for (let i = 0; i < 1150; i++) outcomes.trackActivity(`u${i}`);
  // MRR: 102,459.02 in December, 125,000 in January (+22%).
  outcomes.recordRevenue({ mrr: 125_000 / 1.22 });
  clock.set(at(12, 10));
  outcomes.recordRevenue({
    mrr: 125_000,
    mrrTarget: 150_000,
    customers: 125_000 / 45,
    churnRate: 0.036,
  });
  // January 14: 8500 users; January 15: 12,500, of whom those 8500 return (68%).
  clock.set(at(12, 14));
  for (let i = 0; i < 8500; i++) outcomes.trackActivity(`u${i}`);
  clock.set(at(12, 15, 9));
  for (let i = 0; i < 8500; i++) outcomes.trackActivity(`u${i}`);
  for (let i = 0; i < 4000; i++) outcomes.trackActivity(`new${i}`);
  outcomes.setTarget('daily_active_users', 15_000);
  // 100 sessions: 23 bounces of 5 minutes, 65 of 15 minutes and 5 pages, 12 of 13⅓
  // minutes and 6 pages: 12.5 minutes and 4.2 pages on average.
  const sessions: { id: string; minutes: number; pages: number }[] = [];
  for (let i = 0; i < 100; i++) {
    const kind = i < 23 ? 0 : i < 88 ? 1 : 2;
    sessions.push({
      id: `s${i}`,
      minutes: [5, 15, 40 / 3][kind]!,
      pages: [1, 5, 6][kind]!,
    });
  }
  const start = at(12, 15, 10);
  clock.set(start);
  for (const [i, s] of sessions.entries()) {
    outcomes.startSession(s.id, `u${i}`);
    for (let p = 0; p < s.pages; p++) outcomes.pageView(s.id);
  }
  for (const s of [...sessions].sort((a, b) => a.minutes - b.minutes)) {
    clock.set(start + s.minutes * 60_000);
    outcomes.endSession(s.id);
  }
  outcomes.defineFunnel({ name: 'marketplace', steps: ['view', 'purchase'] });
  outcomes.funnelStep('marketplace', 'view', 1000);
  outcomes.funnelStep('marketplace', 'purchase', 34);
  outcomes.recordImpression('recommendation', 100);
  outcomes.recordClick('recommendation', 12);
  outcomes.setTarget('recommendation_click_rate', 0.15);
  outcomes.recordMetric({ metricName: 'user_satisfaction_score', value: 4.2 });
  outcomes.recordModelAccuracy(0.86);
  outcomes.recordModelAccuracy(0.88);
  outcomes.recordRecommendationRelevance(0.82);
  clock.set(at(12, 15, 14, 30));
  const checkout = monitor.timer('checkout', { component: 'marketplace' }).bind();
  for (let i = 0; i < 998; i++) checkout.record(100);
  checkout.recordError(100);
  checkout.recordError(100);
  return { outcomes, monitor };
}

function typeTree(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeTree(v)]));
}

describe('dashboard()', () => {
  it("has the spec's example's keys and types, key by key", () => {
    const { outcomes } = specScenario();
    const d = outcomes.dashboard();
    expect(typeTree(d)).toEqual(typeTree(SPEC_EXAMPLE));
    expect(Object.keys(d)).toEqual(Object.keys(SPEC_EXAMPLE));
    for (const trend of Object.values(d.trends)) {
      expect(['increasing', 'decreasing', 'stable']).toContain(trend);
    }
    // JSON round trip: no NaN, no undefined.
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it("reproduces the spec's example's values", () => {
    const { outcomes } = specScenario();
    const d = outcomes.dashboard();
    const close = (actual: number | undefined, expected: number, tolerance: number): void => {
      expect(actual).toBeDefined();
      expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(tolerance);
    };
    // Distinct counts are HyperLogLog estimates (±2%).
    close(d.kpis['daily_active_users'], 12_500, 250);
    expect(d.kpis['monthly_recurring_revenue']).toBe(125_000);
    close(d.kpis['recommendation_click_rate'], 0.12, 1e-12);
    close(d.kpis['marketplace_conversion_rate'], 0.034, 1e-12);
    expect(d.kpis['user_satisfaction_score']).toBe(4.2);
    close(d.kpis['system_uptime'], 99.8, 1e-9);
    expect(d.targets['monthly_recurring_revenue']).toEqual(
      SPEC_EXAMPLE.targets.monthly_recurring_revenue,
    );
    expect(d.targets['recommendation_click_rate']?.achievement).toBe(0.8);
    expect(d.targets['recommendation_click_rate']?.target).toBe(0.15);
    close(d.targets['daily_active_users']?.achievement, 0.83, 0.02);
    close(d.user_metrics.session_duration_avg, 12.5, 1e-9);
    close(d.user_metrics.pages_per_session, 4.2, 1e-9);
    close(d.user_metrics.bounce_rate, 0.23, 1e-12);
    close(d.user_metrics.return_user_rate, 0.68, 0.03);
    expect(d.revenue_metrics.monthly_recurring_revenue).toBe(125_000);
    close(d.revenue_metrics.average_revenue_per_user, 45, 1e-9);
    close(d.revenue_metrics.customer_lifetime_value, 1250, 1e-6);
    close(d.growth_metrics.user_growth_rate, 0.15, 0.01);
    close(d.growth_metrics.revenue_growth_rate, 0.22, 1e-9);
    close(d.growth_metrics.market_penetration, 0.08, 0.002);
    close(d.quality_metrics.model_accuracy_avg, 0.87, 1e-12);
    expect(d.quality_metrics.recommendation_relevance).toBe(0.82);
    close(d.quality_metrics.system_reliability, 0.998, 1e-12);
    expect(d.generated_at).toBe('2024-01-15T14:30:00Z');
  });

  it('records every value into the monitor (gauges)', () => {
    const { outcomes, monitor } = specScenario();
    const d = outcomes.dashboard();
    const gauges = new Map<string, number>();
    for (const s of monitor.snapshot({ windows: [], digests: false }).series) {
      if (s.type !== 'gauge' || s.component !== 'business') continue;
      gauges.set(`${s.name}|${Object.values(s.tags).join('|')}`, s.value);
    }
    expect(gauges.get('business.kpi|user_satisfaction_score')).toBe(4.2);
    expect(gauges.get('business.kpi|monthly_recurring_revenue')).toBe(125_000);
    expect(gauges.get('business.kpi.target|monthly_recurring_revenue')).toBe(150_000);
    expect(gauges.get('business.kpi.achievement|recommendation_click_rate')).toBeCloseTo(0.8, 12);
    expect(gauges.get('business.dashboard|user_metrics|bounce_rate')).toBeCloseTo(0.23, 12);
    expect(gauges.get('business.dashboard|quality_metrics|system_reliability')).toBeCloseTo(
      d.quality_metrics.system_reliability,
      12,
    );
    expect(gauges.get('business.dashboard|growth_metrics|market_penetration')).toBe(
      d.growth_metrics.market_penetration,
    );
  });

  it('is all zeros and empty maps with no data', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 30, 0, 999));
    const outcomes = new BusinessOutcomes({
      monitor: new Monitor({ clock }),
      publishIntervalSeconds: 0,
    });
    expect(outcomes.dashboard()).toEqual({
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
      generated_at: '2024-01-15T14:30:00Z',
    });
  });

  it('gives the KPIs as POST /business-metrics bodies', () => {
    const { outcomes } = specScenario();
    const bodies = outcomes.businessMetricBodies();
    expect(bodies.find((b) => b.metric_name === 'monthly_recurring_revenue')).toEqual({
      metric_name: 'monthly_recurring_revenue',
      value: 125_000,
      dimension: 'monthly',
      target: 150_000,
      // The period the value belongs to (January 2024), for the server's trend.
      metadata: { prsm_period: 2024 * 12 },
    });
    // The KPIs, and every derived metric of the four groups under its dashboard name
    // (monthly_recurring_revenue is the KPI's body), with the dashboard's values.
    const d = outcomes.dashboard();
    const derived: Record<string, number> = {
      ...d.user_metrics,
      ...d.revenue_metrics,
      ...d.growth_metrics,
      ...d.quality_metrics,
    };
    delete derived['monthly_recurring_revenue'];
    expect(bodies.map((b) => b.metric_name).sort()).toEqual(
      [...Object.keys(SPEC_EXAMPLE.kpis), ...Object.keys(derived)].sort(),
    );
    for (const body of bodies) {
      expect(body.value, body.metric_name).toBe(
        d.kpis[body.metric_name] ?? derived[body.metric_name],
      );
    }
    const dimensions = Object.fromEntries(bodies.map((b) => [b.metric_name, b.dimension]));
    expect(dimensions).toMatchObject({
      session_duration_avg: 'daily',
      return_user_rate: 'daily',
      average_revenue_per_user: 'monthly',
      user_growth_rate: 'monthly',
      model_accuracy_avg: 'daily',
      system_reliability: 'daily',
    });
    expect(bodies.filter((b) => !(b.metric_name in d.kpis)).every((b) => !('target' in b))).toBe(
      true,
    );
  });

  it('offers a derived metric from its first non-zero value on; marks sum KPIs', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 12));
    const outcomes = new BusinessOutcomes({
      monitor: new Monitor({ clock }),
      publishIntervalSeconds: 0,
      sessionTimeoutMinutes: 60,
    });
    // Nothing yet: no derived body (the server shows 0 for a missing one, as here).
    expect(outcomes.businessMetricBodies()).toEqual([]);
    outcomes.recordOutcome('purchase_completed', { value: 2, metadata: { channel: 'web' } });
    outcomes.startSession('s1', 'u1');
    outcomes.pageView('s1');
    outcomes.pageView('s1');
    clock.advance(10 * 60_000);
    outcomes.endSession('s1');
    const bodies = outcomes.businessMetricBodies();
    expect(bodies.find((b) => b.metric_name === 'purchase_completed')).toEqual({
      metric_name: 'purchase_completed',
      value: 2,
      dimension: 'daily',
      metadata: { channel: 'web', prsm_period: 19737, prsm_aggregation: 'sum' },
    });
    const byName = Object.fromEntries(bodies.map((b) => [b.metric_name, b.value]));
    expect(byName).toMatchObject({
      session_duration_avg: 10,
      pages_per_session: 2,
      daily_active_users: 1,
    });
    expect(byName).not.toHaveProperty('bounce_rate'); // 0 so far
    expect(byName).not.toHaveProperty('average_revenue_per_user');
    // A bounced session: bounce_rate becomes 0.5 and stays offered when it is 0 again.
    outcomes.startSession('s2', 'u2');
    clock.advance(60_000);
    outcomes.endSession('s2');
    expect(
      outcomes.businessMetricBodies().find((b) => b.metric_name === 'bounce_rate')?.value,
    ).toBe(0.5);
    clock.advance(86_400_000);
    outcomes.startSession('s3', 'u1');
    outcomes.pageView('s3');
    outcomes.pageView('s3');
    clock.advance(60_000);
    outcomes.endSession('s3');
    expect(
      outcomes.businessMetricBodies().find((b) => b.metric_name === 'bounce_rate')?.value,
    ).toBe(0);
    // A listed KPI named like a derived metric replaces it.
    outcomes.recordMetric({ metricName: 'bounce_rate', value: 0.3 });
    const named = outcomes.businessMetricBodies().filter((b) => b.metric_name === 'bounce_rate');
    expect(named).toEqual([
      {
        metric_name: 'bounce_rate',
        value: 0.3,
        dimension: 'daily',
        metadata: { prsm_period: 19738 },
      },
    ]);
    outcomes.shutdown();
  });
});
