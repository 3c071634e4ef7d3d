import { readFileSync } from 'node:fs';
import {
  DiagnosticCode,
  type ExporterHost,
  ManualClock,
  Monitor,
  type MonitorExporterHost,
} from '@prsm/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BusinessOutcomes,
  type BusinessOutcomesOptions,
  calculateCostMetrics,
  calculateMonitoringRoi,
  VERSION,
} from './index.js';

const H = 3_600_000;
const D = 24 * H;

function setup(
  start: number,
  options: Omit<BusinessOutcomesOptions, 'monitor' | 'clock'> = {},
): { outcomes: BusinessOutcomes; monitor: Monitor; clock: ManualClock } {
  const clock = new ManualClock(start);
  const monitor = new Monitor({ clock });
  const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 0, ...options });
  return { outcomes, monitor, clock };
}

function counter(monitor: Monitor, name: string, tags: Record<string, string> = {}): number {
  return (
    monitor.getRates(name, { component: 'business', tags, windowSeconds: 'cumulative' })?.count ?? 0
  );
}

afterEach(() => {
  vi.useRealTimers();
});

describe('KPIs per period, with targets and trends', () => {
  it.each([
    ['increasing', [10, 12, 15, 16, 19, 22, 24]],
    ['decreasing', [30, 27, 26, 22, 20, 17, 15]],
    ['stable', [20, 20, 20, 20, 20, 20, 20]],
    ['stable', [20, 23, 18, 21, 19, 22, 20]],
  ])('classifies daily outcome counts as %s', (trend, perDay) => {
    const { outcomes, clock } = setup(Date.UTC(2024, 0, 1, 9));
    for (const count of perDay) {
      for (let i = 0; i < count; i++) outcomes.recordOutcome('signup');
      clock.advance(D);
    }
    const kpi = outcomes.kpi('signup');
    expect(kpi?.history.map((h) => h.value)).toEqual(perDay);
    expect(kpi?.history[0]?.period).toBe('2024-01-01');
    expect(kpi?.trend).toBe(trend);
    expect(outcomes.dashboard().trends['signup']).toBe(trend);
  });

  it('measures achievement as current / target', () => {
    const { outcomes } = setup(Date.UTC(2024, 0, 15, 14, 30));
    outcomes.defineKpi({ name: 'daily_signups', target: 400, aggregation: 'sum' });
    for (let i = 0; i < 100; i++) outcomes.recordOutcome('daily_signups');
    expect(outcomes.dashboard().targets['daily_signups']).toEqual({
      current: 100,
      target: 400,
      achievement: 0.25,
    });
    outcomes.recordMetric({ metricName: 'nps', value: 45, target: 60 });
    outcomes.recordMetric({ metricName: 'nps', value: 48 });
    expect(outcomes.dashboard().targets['nps']).toEqual({
      current: 48,
      target: 60,
      achievement: 0.8,
    });
    outcomes.setTarget('nps', 50);
    expect(outcomes.dashboard().targets['nps']?.achievement).toBe(0.96);
  });

  it.each([
    [2023, 1, 28],
    [2024, 3, 30],
    [2024, 0, 31],
  ])('counts a whole month of %i-%i (%i days) into one monthly period', (year, month, days) => {
    const { outcomes, clock } = setup(Date.UTC(year, month, 1, 0, 0));
    outcomes.defineKpi({ name: 'orders', aggregation: 'sum', dimension: ['monthly', 'daily'] });
    while (new Date(clock.now()).getUTCMonth() === month) {
      outcomes.recordOutcome('orders');
      clock.advance(H);
    }
    // First hour of the next month.
    outcomes.recordOutcome('orders');
    const kpi = outcomes.kpi('orders');
    expect(kpi?.dimension).toBe('monthly');
    expect(kpi?.current).toBe(1);
    expect(kpi?.history.at(-1)).toEqual({
      period: `${year}-${String(month + 1).padStart(2, '0')}`,
      value: days * 24,
    });
  });

  it('cuts days and months in the configured time zone', () => {
    // 23:30 in New York on January 31 is 04:30 UTC on February 1.
    const { outcomes, clock } = setup(Date.UTC(2024, 1, 1, 4, 30), {
      timeZone: 'America/New_York',
    });
    outcomes.recordMetric({ metricName: 'mrr', value: 100, dimension: 'monthly' });
    outcomes.recordOutcome('visit', { dimension: ['daily', 'monthly'] });
    clock.advance(H); // 00:30 on February 1 in New York
    outcomes.recordMetric({ metricName: 'mrr', value: 110, dimension: 'monthly' });
    outcomes.recordOutcome('visit', { dimension: ['daily', 'monthly'] });
    outcomes.recordOutcome('visit', { dimension: ['daily', 'monthly'] });
    expect(outcomes.kpi('mrr')?.history).toEqual([
      { period: '2024-01', value: 100 },
      { period: '2024-02', value: 110 },
    ]);
    const visit = outcomes.kpi('visit');
    expect(visit?.current).toBe(2);
    expect(visit?.history).toEqual([{ period: '2024-01-31', value: 1 }]);
  });

  it('keeps hours apart across a DST change (America/New_York, spring forward)', () => {
    // 01:30 EST, then one real hour later 03:30 EDT.
    const { outcomes, clock } = setup(Date.UTC(2024, 2, 10, 6, 30), {
      timeZone: 'America/New_York',
    });
    outcomes.recordOutcome('click', { dimension: 'hourly' });
    clock.advance(H);
    outcomes.recordOutcome('click', { dimension: 'hourly' });
    outcomes.recordOutcome('click', { dimension: 'hourly' });
    clock.advance(H);
    expect(outcomes.kpi('click')?.history).toEqual([
      { period: '2024-03-10T01:00-05:00', value: 1 },
      { period: '2024-03-10T03:00-04:00', value: 2 },
    ]);
  });

  it('keeps the last value of a `last` KPI and the mean of a `mean` one', () => {
    const { outcomes } = setup(Date.UTC(2024, 0, 15));
    outcomes.defineKpi({ name: 'score', aggregation: 'mean' });
    outcomes.recordMetric({ metricName: 'score', value: 4 });
    outcomes.recordMetric({ metricName: 'score', value: 5 });
    outcomes.recordMetric({ metricName: 'gauge_like', value: 4 });
    outcomes.recordMetric({ metricName: 'gauge_like', value: 5 });
    const d = outcomes.dashboard();
    expect(d.kpis['score']).toBe(4.5);
    expect(d.kpis['gauge_like']).toBe(5);
    expect(outcomes.kpi('score')?.metadata).toBeUndefined();
    outcomes.recordMetric({ metricName: 'score', value: 4, metadata: { segment: 'enterprise' } });
    expect(outcomes.kpi('score')?.metadata).toEqual({ segment: 'enterprise' });
  });
});

describe('bounded memory', () => {
  it('drops KPIs beyond maxKpis, counted', () => {
    const { outcomes, monitor } = setup(Date.UTC(2024, 0, 15), { maxKpis: 3 });
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      outcomes.recordMetric({ metricName: name, value: 1 });
    outcomes.recordOutcome('f');
    expect(outcomes.stats()).toMatchObject({ kpis: 3, kpisDropped: 3 });
    expect(Object.keys(outcomes.dashboard().kpis)).toEqual(['a', 'b', 'c']);
    expect(monitor.diagnostics.count(DiagnosticCode.METRIC_LIMIT)).toBe(3);
    expect(counter(monitor, 'business.records.dropped', { reason: 'kpi_limit' })).toBe(3);
  });

  it('keeps at most `retention` periods per KPI', () => {
    const { outcomes, clock } = setup(Date.UTC(2024, 0, 1, 12), {
      retention: { daily: 5 },
      trend: { periods: 30 },
    });
    const bytes = (): number => outcomes.stats().bytes;
    outcomes.recordOutcome('x');
    const before = bytes();
    for (let day = 0; day < 20; day++) {
      outcomes.recordOutcome('x');
      clock.advance(D);
    }
    expect(bytes()).toBe(before);
    expect(outcomes.kpi('x')?.history).toHaveLength(5);
  });

  it('evicts the oldest session beyond maxSessions, counted', () => {
    const { outcomes, monitor } = setup(Date.UTC(2024, 0, 15, 10), { maxSessions: 2 });
    outcomes.startSession('s1', 'u1');
    outcomes.startSession('s2', 'u2');
    outcomes.startSession('s3', 'u3');
    expect(outcomes.stats()).toMatchObject({ sessionsInFlight: 2, sessionsEvicted: 1 });
    expect(counter(monitor, 'business.sessions.evicted')).toBe(1);
    outcomes.endSession('s1'); // gone: dropped, not thrown
    expect(counter(monitor, 'business.records.dropped', { reason: 'unknown_session' })).toBe(1);
  });

  it('ends a session idle past the timeout at its last activity', () => {
    const { outcomes, clock } = setup(Date.UTC(2024, 0, 15, 10), { sessionTimeoutMinutes: 30 });
    outcomes.startSession('s1', 'u1');
    clock.advance(10 * 60_000);
    outcomes.pageView('s1');
    clock.advance(45 * 60_000);
    outcomes.startSession('s2', 'u2');
    expect(outcomes.stats().sessionsInFlight).toBe(1);
    expect(outcomes.dashboard().user_metrics).toMatchObject({
      session_duration_avg: 10,
      pages_per_session: 1,
      bounce_rate: 1,
    });
  });
});

describe('engagement', () => {
  it('counts daily and monthly active users, and users returning from earlier days', () => {
    const { outcomes, clock } = setup(Date.UTC(2024, 0, 14, 12));
    for (let i = 0; i < 500; i++) outcomes.trackActivity(`u${i}`);
    clock.advance(D);
    for (let i = 250; i < 1250; i++) outcomes.trackActivity(`u${i}`);
    const d = outcomes.dashboard();
    expect(Math.abs(d.kpis['daily_active_users']! - 1000)).toBeLessThanOrEqual(20);
    expect(Math.abs(d.user_metrics.return_user_rate - 0.25)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(outcomes.kpi('monthly_active_users')!.current! - 1250)).toBeLessThanOrEqual(25);
    expect(outcomes.kpi('daily_active_users')?.history.map((h) => h.period)).toEqual([
      '2024-01-14',
      '2024-01-15',
    ]);
  });

  it('reports a funnel step by step', () => {
    const { outcomes } = setup(Date.UTC(2024, 0, 15));
    outcomes.defineFunnel({ name: 'checkout', steps: ['view', 'cart', 'pay'], target: 0.1 });
    outcomes.funnelStep('checkout', 'view', 200);
    outcomes.funnelStep('checkout', 'cart', 50);
    outcomes.funnelStep('checkout', 'pay', 10);
    expect(outcomes.funnel('checkout')).toEqual({
      name: 'checkout',
      steps: [
        { step: 'view', count: 200, rateFromPrevious: 1 },
        { step: 'cart', count: 50, rateFromPrevious: 0.25 },
        { step: 'pay', count: 10, rateFromPrevious: 0.2 },
      ],
      conversionRate: 0.05,
    });
    expect(outcomes.dashboard().targets['checkout_conversion_rate']).toEqual({
      current: 0.05,
      target: 0.1,
      achievement: 0.5,
    });
    expect(() => outcomes.defineFunnel({ name: 'x', steps: ['only'] })).toThrow(/steps must be/);
  });

  it('trends a click-through rate over days', () => {
    const { outcomes, clock } = setup(Date.UTC(2024, 0, 1, 12));
    for (let day = 0; day < 7; day++) {
      outcomes.recordImpression('banner', 1000);
      outcomes.recordClick('banner', 50 + day * 10);
      clock.advance(D);
    }
    outcomes.recordImpression('banner', 1000);
    outcomes.recordClick('banner', 200);
    const d = outcomes.dashboard();
    expect(d.kpis['banner_click_rate']).toBe(0.2);
    expect(d.trends['banner_click_rate']).toBe('increasing');
  });
});

describe('quality and reliability', () => {
  it('reads system reliability from the configured series only', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15));
    const monitor = new Monitor({ clock });
    const outcomes = new BusinessOutcomes({
      monitor,
      publishIntervalSeconds: 0,
      reliability: {
        sources: [{ name: 'api', component: 'gateway' }],
        windowSeconds: 'cumulative',
      },
    });
    const api = monitor.timer('api', { component: 'gateway' }).bind();
    for (let i = 0; i < 95; i++) api.record(1);
    for (let i = 0; i < 5; i++) api.recordError(1);
    monitor.timer('other').bind().recordError(1);
    const d = outcomes.dashboard();
    expect(d.quality_metrics.system_reliability).toBeCloseTo(0.95, 12);
    expect(d.kpis['system_uptime']).toBeCloseTo(95, 9);
  });
});

describe('robustness', () => {
  it('never throws on bad input: drops, reports and counts it', () => {
    const { outcomes, monitor } = setup(Date.UTC(2024, 0, 15));
    const bad = outcomes as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => {
      outcomes.recordMetric({ metricName: 'x', value: NaN });
      outcomes.recordMetric({ metricName: '', value: 1 });
      outcomes.recordMetric({ metricName: 'x', value: 1, dimension: 'yearly' as never });
      outcomes.recordMetric({ metricName: 'x', value: 1, metadata: { nested: {} } as never });
      bad['recordMetric']!(null);
      outcomes.recordOutcome('y', { value: Infinity });
      outcomes.trackActivity('');
      outcomes.pageView('nope');
      outcomes.funnelStep('nope', 'view');
      outcomes.recordClick('', 1);
      outcomes.recordModelAccuracy(NaN);
      outcomes.setTarget('unknown', 1);
      bad['recordRevenue']!(undefined);
    }).not.toThrow();
    expect(counter(monitor, 'business.records.dropped', { reason: 'invalid' })).toBe(12);
    expect(counter(monitor, 'business.records.dropped', { reason: 'unknown_session' })).toBe(1);
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(13);
    expect(outcomes.dashboard().kpis).toEqual({});
  });

  it('throws a TypeError naming a bad option', () => {
    const monitor = new Monitor();
    const make = (options: Record<string, unknown>): BusinessOutcomes =>
      new BusinessOutcomes({ monitor, publishIntervalSeconds: 0, ...options });
    expect(() => make({ timeZone: 'Mars/Olympus' })).toThrow(/timeZone/);
    expect(() => make({ maxKpis: 0 })).toThrow(/maxKpis/);
    expect(() => make({ retention: { yearly: 3 } })).toThrow(/retention: unknown dimension yearly/);
    expect(() => make({ retention: { daily: 1.5 } })).toThrow(/retention\.daily/);
    expect(() => make({ trend: { periods: 1 } })).toThrow(/trend\.periods/);
    expect(() => make({ marketSize: -1 })).toThrow(/marketSize/);
    expect(() => make({ engagementDimension: 'yearly' })).toThrow(/engagementDimension/);
    expect(() => make({ reliability: { windowSeconds: -5 } })).toThrow(
      /reliability\.windowSeconds/,
    );
    expect(() => make({ reliability: { sources: [{}] } })).toThrow(/reliability\.sources/);
    expect(() => make({ sessionTimeoutMinutes: 0 })).toThrow(/sessionTimeoutMinutes/);
    expect(() => make({ publishIntervalSeconds: -1 })).toThrow(/publishIntervalSeconds/);
    expect(() => make({ monitor: {} })).toThrow(/monitor must be/);
    expect(() => make({ clock: {} })).toThrow(/clock must be/);
    const outcomes = make({});
    expect(() => outcomes.defineKpi({ name: '' })).toThrow(/defineKpi: name/);
    expect(() => outcomes.defineKpi({ name: 'k', aggregation: 'max' as never })).toThrow(
      /defineKpi: aggregation/,
    );
    expect(() => outcomes.defineKpi({ name: 'k', dimension: 'yearly' as never })).toThrow(
      /defineKpi: dimension/,
    );
  });

  it('publishes to the monitor on an unref’d timer, until shutdown', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = new ManualClock(Date.UTC(2024, 0, 15));
    const monitor = new Monitor({ clock });
    const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 10 });
    const bounce = (): number | undefined => {
      for (const s of monitor.snapshot({ windows: [], digests: false }).series) {
        if (
          s.type === 'gauge' &&
          s.name === 'business.dashboard' &&
          s.tags['metric'] === 'bounce_rate'
        ) {
          return s.value;
        }
      }
      return undefined;
    };
    outcomes.startSession('s', 'u');
    outcomes.endSession('s');
    expect(bounce()).toBeUndefined();
    vi.advanceTimersByTime(10_000);
    expect(bounce()).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    outcomes.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('cost and ROI', () => {
  it("gives the spec's example outputs for its example inputs", () => {
    expect(calculateMonitoringRoi()).toEqual({
      monthly_savings: 70_500,
      monitoring_investment: 1500,
      roi_percentage: 4600,
      payback_period_days: 8,
    });
    expect(
      calculateMonitoringRoi({
        preventedIncidents: 12,
        avgIncidentCost: 5000,
        infrastructureSavings: 2500,
        developerProductivityGain: 8000,
        monitoringCost: 1500,
      }).roi_percentage,
    ).toBe(4600);
  });

  it('computes payback from a setup cost and refuses bad inputs', () => {
    // Net savings 69,000 a month: 2300 a day; 18,400 takes 8 days.
    expect(calculateMonitoringRoi({ setupCost: 18_400 }).payback_period_days).toBe(8);
    expect(calculateMonitoringRoi({ setupCost: 18_401 }).payback_period_days).toBe(9);
    expect(() => calculateMonitoringRoi({ monitoringCost: 0 })).toThrow(/monitoringCost/);
    expect(() => calculateMonitoringRoi({ avgIncidentCost: -1 })).toThrow(/avgIncidentCost/);
  });

  it("computes the spec's cost metrics from spend and volume", () => {
    expect(
      calculateCostMetrics({
        infrastructureCost: 31_250,
        users: 12_500,
        apiCost: 125,
        requests: 125_000,
        mlInferenceCost: 42.5,
        predictions: 8500,
        storageCost: 10,
        storageGb: 100,
        bandwidthCost: 5,
        bandwidthGb: 100,
      }),
    ).toEqual({
      infrastructure_cost_per_user: 2.5,
      api_cost_per_request: 0.001,
      ml_inference_cost_per_prediction: 0.005,
      storage_cost_per_gb_month: 0.1,
      bandwidth_cost_per_gb: 0.05,
    });
    expect(calculateCostMetrics({ apiCost: 1, requests: 0 })).toEqual({});
    expect(() => calculateCostMetrics({ apiCost: NaN, requests: 1 })).toThrow(/apiCost/);
  });
});

it('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(VERSION).toBe(pkg.version);
});

describe('business metadata is redacted with the monitor redaction; KPIs are an export source', () => {
  const T = Date.UTC(2026, 2, 15, 12);

  it('masks configured keys and inline secrets before the metadata is kept', () => {
    const clock = new ManualClock(T);
    const monitor = new Monitor({ clock, redaction: { keys: ['ssn', 'password'] } });
    const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 0 });
    outcomes.recordMetric({
      metricName: 'mrr',
      value: 1,
      metadata: { currency: 'USD', customer_ssn: '078-05-1120', note: 'password=hunter2' },
    });
    const kept = outcomes.kpi('mrr')?.metadata;
    expect(kept).toEqual({
      currency: 'USD',
      customer_ssn: '[REDACTED]',
      note: 'password=[REDACTED]',
    });
    expect(JSON.stringify(outcomes.businessMetricBodies())).not.toMatch(/078-05|hunter2/);
    outcomes.recordOutcome('purchase', { metadata: { card: 'paid with 4111 1111 1111 1111' } });
    expect(outcomes.kpi('purchase')?.metadata).toEqual({ card: 'paid with [REDACTED]' });
  });

  it('keeps metadata as given with redaction: false; default rules for a monitor without redactor', () => {
    const off = new Monitor({ clock: new ManualClock(T), redaction: false });
    const plain = new BusinessOutcomes({ monitor: off, publishIntervalSeconds: 0 });
    plain.recordMetric({ metricName: 'mrr', value: 1, metadata: { token: 'abc' } });
    expect(plain.kpi('mrr')?.metadata).toEqual({ token: 'abc' });

    const base = new Monitor({ clock: new ManualClock(T) });
    const bare = {
      clock: base.clock,
      counter: base.counter.bind(base),
      gauge: base.gauge.bind(base),
      histogram: base.histogram.bind(base),
      timer: base.timer.bind(base),
      recordMetric: base.recordMetric.bind(base),
      enabled: true,
    } as unknown as Monitor;
    const defaults = new BusinessOutcomes({ monitor: bare, publishIntervalSeconds: 0 });
    defaults.recordMetric({ metricName: 'mrr', value: 1, metadata: { api_token: 'abc' } });
    expect(defaults.kpi('mrr')?.metadata).toEqual({ api_token: '[REDACTED]' });
  });

  it('offers businessMetricBodies() to the exporters as the business_metrics source', async () => {
    const clock = new ManualClock(T);
    const pulled: unknown[][] = [];
    const monitor = new Monitor({
      clock,
      exporters: [
        {
          attach(host: ExporterHost & Partial<MonitorExporterHost>) {
            host.onCollect?.(() => pulled.push(host.collect?.('business_metrics') ?? []));
          },
          export: () => Promise.resolve({ ok: true }),
          shutdown: () => Promise.resolve(),
        },
      ],
    });
    const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 0 });
    outcomes.recordMetric({
      metricName: 'mrr',
      value: 125000,
      dimension: 'monthly',
      target: 150000,
    });
    await monitor.forceFlush(1);
    const d = new Date(T);
    expect(pulled.at(-1)).toEqual([
      {
        metric_name: 'mrr',
        value: 125000,
        dimension: 'monthly',
        target: 150000,
        metadata: { prsm_period: d.getUTCFullYear() * 12 + d.getUTCMonth() },
      },
    ]);
    outcomes.shutdown();
    await monitor.shutdown();
    // The final export at the monitor's shutdown still pulls the KPIs.
    expect(pulled.at(-1)).toHaveLength(1);
  });
});
