import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { DiagnosticCode, Diagnostics } from '../diagnostics/diagnostics.js';
import { familiesReader } from '../health/test-support.js';
import type { CounterSeries } from '../metrics/counter-series.js';
import type { GaugeSeries } from '../metrics/gauge-series.js';
import type { HistogramSeries } from '../metrics/histogram-series.js';
import type { StoredSpan } from '../tracing/trace-store.js';
import { AnalyticsEngine } from './analytics.js';
import { readComponentSpecific } from './component-specific.js';
import { MinuteHistory } from './history.js';
import { familiesSource } from './source.js';
import { FixedSource, gaussian, op, rng, T0, traceOf } from './test-support.js';
import type { AnalyticsReport } from './types.js';

/** The spec's example, as printed in `GET /api/v1/monitoring/analytics?component=marketplace`. */
const SPEC_EXAMPLE = {
  summary: {
    total_requests: 125000,
    average_response_time: 145.3,
    error_rate: 0.023,
    throughput_per_minute: 850,
  },
  trends: {
    response_time_trend: 'improving',
    error_rate_trend: 'stable',
    usage_pattern: {
      peak_hours: ['14:00-16:00', '20:00-22:00'],
      pattern: 'business_hours_with_evening_peak',
    },
  },
  bottlenecks: [
    'database_query_optimization',
    'recommendation_model_inference',
    'external_api_dependencies',
  ],
  recommendations: [
    'Implement query result caching for 25% performance improvement',
    'Optimize recommendation model for 40ms latency reduction',
    'Add circuit breaker for external API resilience',
  ],
  top_operations: [
    { operation: 'marketplace_search', avg_duration_ms: 180.5, request_count: 15000 },
    { operation: 'recommendation_generation', avg_duration_ms: 245.0, request_count: 8500 },
  ],
  component: 'marketplace',
  component_specific: {
    search_cache_hit_rate: 0.78,
    recommendation_accuracy: 0.87,
    conversion_rate: 0.034,
  },
};

/** Keys (in order) and value types, recursively; arrays by their elements' shapes. */
function shape(value: unknown): unknown {
  if (Array.isArray(value))
    return ['array', ...new Set(value.map((v) => JSON.stringify(shape(v))))];
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, shape(v)]);
  }
  return typeof value;
}

const MIN = 60_000;
const NOW = T0 + 2 * 1440 * MIN;

/** Two days of marketplace history with afternoon and evening peaks, rising latency at the end. */
function marketplaceHistory(): MinuteHistory {
  const h = new MinuteHistory(undefined, new Diagnostics());
  const g = gaussian(rng(42));
  for (let m = 0; m < 2 * 1440; m++) {
    const hour = Math.floor(m / 60) % 24;
    const busy = hour === 14 || hour === 15 || hour === 20 || hour === 21;
    const requests = busy ? 900 : hour >= 9 && hour < 18 ? 500 : 200;
    const lastHour = m >= 2 * 1440 - 60;
    const latency = 140 + (lastHour ? (m - (2 * 1440 - 60)) * 2 : 0) + 4 * g();
    h.record('marketplace', T0 + m * MIN, {
      requests,
      errors: Math.round(requests * 0.02),
      latency,
      latencyP99: latency * 3,
    });
    h.record('system', T0 + m * MIN, {
      gauges: {
        disk_usage: 0.7 + (0.02 * m) / 1440 + 0.001 * g(),
        cpu_usage: m === 2 * 1440 - 3 ? 0.97 : 0.4 + 0.01 * g(),
      },
    });
  }
  return h;
}

function marketplaceSource(): FixedSource {
  const source = new FixedSource();
  source.set('marketplace', {
    operations: [
      op('recommendation_generation', {
        totalCount: 8500,
        totalErrors: 170,
        totalSum: 8500 * 245,
        count: 600,
        errors: 12,
        sum: 600 * 245,
        p50: 120,
        p99: 900,
      }),
      op('marketplace_search', {
        totalCount: 15000,
        totalErrors: 300,
        totalSum: 15000 * 180.5,
        count: 1200,
        errors: 24,
        sum: 1200 * 180.5,
        p50: 150,
        p99: 400,
      }),
    ],
    coveredSeconds: 900,
    counters: new Map([
      ['recommendation.correct', 87],
      ['recommendation.incorrect', 13],
    ]),
    gauges: new Map([
      ['search_cache_hit_rate', 0.62],
      ['conversion_rate', 0.034],
    ]),
  });
  return source;
}

function marketplaceTraces(): StoredSpan[][] {
  const traces: StoredSpan[][] = [];
  for (let i = 0; i < 20; i++) {
    traces.push(
      traceOf(`r${i}`, 'marketplace', 'recommendation_generation', i < 2 ? 300 : 60, [
        { name: 'recommendation_model_inference', ms: i < 2 ? 200 : 10 },
      ]),
    );
    traces.push(
      traceOf(`s${i}`, 'marketplace', 'marketplace_search', i < 2 ? 400 : 50, [
        {
          name: 'SELECT listings',
          ms: i < 2 ? 300 : 10,
          attributes: { 'db.system': 'postgresql' },
        },
        {
          name: 'GET /prices',
          ms: 5,
          attributes: { 'peer.service': 'pricing-api' },
          status: i % 4 === 0 ? 'error' : 'success',
        },
      ]),
    );
  }
  return traces;
}

function engine(
  overrides: { source?: FixedSource; traces?: () => Iterable<readonly StoredSpan[]> } = {},
) {
  const diagnostics = new Diagnostics();
  const e = new AnalyticsEngine(
    {
      clock: new ManualClock(NOW),
      diagnostics,
      source: overrides.source ?? marketplaceSource(),
      history: marketplaceHistory(),
      traces: overrides.traces ?? marketplaceTraces,
      defaultComponent: 'marketplace',
    },
    { recommendations: { minDependencyCalls: 20 } },
  );
  return { e, diagnostics };
}

describe('AnalyticsEngine.report', () => {
  it("has the spec's shape, key by key and type by type", () => {
    const report: AnalyticsReport = engine().e.report({ component: 'marketplace' });
    // component_specific is a map: its keys are data (sorted in the report), not schema.
    const sorted = (o: Readonly<Record<string, number>>): Record<string, number> =>
      Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
    expect(shape(report)).toEqual(
      shape({ ...SPEC_EXAMPLE, component_specific: sorted(SPEC_EXAMPLE.component_specific) }),
    );
    expect(report.trends.usage_pattern.peak_hours.every((p) => /^\d\d:00-\d\d:00$/.test(p))).toBe(
      true,
    );
    expect(['improving', 'stable', 'degrading']).toContain(report.trends.error_rate_trend);
  });

  it('computes the summary, trends, usage pattern, top operations and component metrics', () => {
    const { e } = engine();
    const report = e.report();
    expect(report.component).toBe('marketplace');
    expect(report.summary).toEqual({
      total_requests: 23500,
      average_response_time: Math.round(((8500 * 245 + 15000 * 180.5) / 23500) * 10) / 10,
      error_rate: 0.02,
      throughput_per_minute: 120,
    });
    expect(report.trends).toEqual({
      response_time_trend: 'degrading',
      error_rate_trend: 'stable',
      usage_pattern: {
        peak_hours: ['14:00-16:00', '20:00-22:00'],
        pattern: 'business_hours_with_evening_peak',
      },
    });
    expect(report.top_operations).toEqual([
      { operation: 'marketplace_search', avg_duration_ms: 180.5, request_count: 15000 },
      { operation: 'recommendation_generation', avg_duration_ms: 245, request_count: 8500 },
    ]);
    expect(report.component_specific).toEqual({
      conversion_rate: 0.034,
      recommendation_accuracy: 0.87,
      search_cache_hit_rate: 0.62,
    });
    expect(report.bottlenecks).toEqual([
      'database_query_optimization',
      'recommendation_model_inference',
      'recommendation_generation',
    ]);
  });

  it('gives recommendations that carry the numbers of their evidence', () => {
    const insights = engine().e.insights({ component: 'marketplace' });
    const byRule = new Map(insights.recommendations.map((r) => [r.rule, r]));
    expect([...byRule.keys()]).toEqual([
      'scale',
      'anomaly',
      'circuit_breaker',
      'caching',
      'optimize_span',
      'tail_latency',
      'cache_hit_rate',
    ]);
    expect(byRule.get('caching')!.text).toBe(
      'Implement query result caching for 75% performance improvement (SELECT listings takes 75% of the slowest 2 marketplace_search traces, 300 ms each)',
    );
    expect(byRule.get('optimize_span')!.text).toBe(
      'Optimize recommendation_model_inference for 100ms latency reduction (recommendation_model_inference takes 66.7% of the slowest 2 recommendation_generation traces, 200 ms each; halving it)',
    );
    expect(byRule.get('circuit_breaker')!.text).toBe(
      'Add circuit breaker for pricing-api resilience: 5 of 20 calls failed (25%)',
    );
    expect(byRule.get('circuit_breaker')!.evidence).toEqual({
      dependency: 'pricing-api',
      kind: 'external',
      calls: 20,
      errors: 5,
      error_rate: 0.25,
    });
    expect(byRule.get('tail_latency')!.text).toBe(
      'Reduce tail latency of recommendation_generation: p99 900 ms is 7.5× p50 120 ms',
    );
    expect(byRule.get('cache_hit_rate')!.text).toBe(
      'Improve search_cache_hit_rate: 62% is below the 80% target',
    );
    expect(byRule.get('scale')!.text).toMatch(
      /^Scale disk space: disk_usage at 90% in (8|9|10) days \(now 74(\.\d)?%, \+2(\.\d+)? points\/day\)$/,
    );
    expect(byRule.get('anomaly')!.text).toMatch(
      /^Investigate cpu_usage anomaly in system at 23:57 UTC: 0\.97 against a baseline of 0\.4\d* \(score \d+(\.\d+)?\)$/,
    );
    expect(insights.report.recommendations).toEqual(insights.recommendations.map((r) => r.text));
    for (const r of insights.recommendations) expect(r.text).toMatch(/\d/);
    const disk = insights.capacity.find((f) => f.metric === 'disk_usage')!;
    expect(disk.component).toBe('system');
    expect(Math.abs(disk.timeToThresholdMs! / 86_400_000 - 8)).toBeLessThan(0.8);
  });

  it('answers for a component without data', () => {
    const report = engine().e.report({ component: 'search' });
    expect(report).toEqual({
      summary: {
        total_requests: 0,
        average_response_time: 0,
        error_rate: 0,
        throughput_per_minute: 0,
      },
      trends: {
        response_time_trend: 'stable',
        error_rate_trend: 'stable',
        usage_pattern: { peak_hours: [], pattern: 'insufficient_data' },
      },
      bottlenecks: [],
      // System-wide evidence belongs to every component's report.
      recommendations: report.recommendations,
      top_operations: [],
      component: 'search',
      component_specific: {},
    });
    expect(report.recommendations.every((r) => /disk_usage|cpu_usage/.test(r))).toBe(true);
  });

  it('never throws: failing parts are reported and read as empty', () => {
    const source = marketplaceSource();
    source.fail = true;
    const { e, diagnostics } = engine({
      source,
      traces: () => {
        throw new Error('store gone');
      },
    });
    const report = e.report({ component: 'marketplace' });
    expect(report.summary.total_requests).toBe(0);
    expect(report.bottlenecks).toEqual([]);
    expect(report.trends.response_time_trend).toBe('degrading'); // the history still answers
    expect(diagnostics.counts()[DiagnosticCode.INTERNAL_ERROR]).toBe(2);
    expect(() => new AnalyticsEngine({ ...contextOf() }, { windowSeconds: -1 })).toThrow(
      /windowSeconds/,
    );
  });
});

function contextOf() {
  return {
    clock: new ManualClock(0),
    diagnostics: new Diagnostics(),
    source: new FixedSource(),
    history: new MinuteHistory(undefined, new Diagnostics()),
  };
}

describe('component_specific', () => {
  it('reads ratio gauges and counter pairs, documented names only', () => {
    const source = new FixedSource();
    source.set('m', {
      counters: new Map([
        ['search.cache.hits', 78],
        ['search.cache.misses', 22],
        ['checkout.conversions', 34],
        ['checkout.visits', 1000],
        ['hits', 1],
        ['misses', 3],
        ['orders', 5],
        ['lonely.hits', 5],
      ]),
      gauges: new Map([
        ['recommendationAccuracy', 0.87],
        ['queue_depth', 3],
        ['bad_hit_rate', 7],
      ]),
    });
    expect(readComponentSpecific(source.read('m'))).toEqual({
      cache_hit_rate: 0.25,
      checkout_conversion_rate: 0.034,
      recommendation_accuracy: 0.87,
      search_cache_hit_rate: 0.78,
    });
  });
});

describe('familiesSource', () => {
  it('reads timers across tag sets, counters, the largest gauge, and lists components', () => {
    const clock = new ManualClock(T0);
    const { reader, family } = familiesReader(clock);
    const search = family('marketplace_search', 'timer');
    const timer = (tier: string) =>
      search.resolve('marketplace', { tier }, undefined) as HistogramSeries;
    for (let i = 1; i <= 100; i++) timer(i % 2 ? 'a' : 'b').record(i);
    timer('a').recordError(1000);
    (
      family('cache.hits', 'counter').resolve('marketplace', undefined, undefined) as CounterSeries
    ).inc(7);
    const disk = family('disk_usage', 'gauge');
    (disk.resolve('system', { path: '/' }, undefined) as GaugeSeries).set(0.4);
    (disk.resolve('system', { path: '/data' }, undefined) as GaugeSeries).set(0.8);
    family('prsm.self', 'counter').resolve('prsm', undefined, undefined);
    // As the Monitor's, the reader refuses windows past the longest; the source clamps.
    const strict: typeof reader = {
      ...reader,
      slotsFor: (w) => {
        if (w > 960) throw new TypeError(`window ${w} too long`);
        return reader.slotsFor(w);
      },
    };
    const source = familiesSource(strict, 960);
    expect(() => familiesSource(strict).read('marketplace', 3600, 'none', clock.now())).toThrow();
    expect(source.read('marketplace', 3600, 'none', clock.now()).operations).toHaveLength(1);
    expect([...source.components()].sort()).toEqual(['marketplace', 'system']);
    clock.advance(30_000);
    const r = source.read('marketplace', 60, 'all', clock.now());
    expect(r.operations).toHaveLength(1);
    const o = r.operations[0]!;
    expect([o.totalCount, o.totalErrors, o.totalSum, o.count, o.errors]).toEqual([
      101, 1, 6050, 101, 1,
    ]);
    expect(o.p50).toBeGreaterThan(45);
    expect(o.p50).toBeLessThan(56);
    expect(o.p99).toBeGreaterThan(95);
    expect(r.latencyP99).toBe(o.p99);
    expect(r.coveredSeconds).toBeCloseTo(30, 6);
    expect(r.counters.get('cache.hits')).toBe(7);
    expect(source.read('system', 60, 'none', clock.now()).gauges.get('disk_usage')).toBe(0.8);
  });
});
