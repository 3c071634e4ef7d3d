import { context, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { Monitor } from '../monitor.js';
import { AnalyticsEngine } from './analytics.js';
import { anomalyScore } from './anomaly.js';
import { spansOf } from './bottlenecks.js';
import { MinuteHistory } from './history.js';
import { snapshotSource } from './source.js';
import { T0 } from './test-support.js';

const MIN = 60_000;
let monitor: Monitor | undefined;

afterEach(async () => {
  await monitor?.shutdown();
  monitor = undefined;
  trace.disable();
  context.disable();
});

describe('analytics end to end through a real Monitor', () => {
  it('samples the history each minute and reports trends, bottlenecks, capacity and anomalies', () => {
    const clock = new ManualClock(T0);
    monitor = new Monitor({ clock, tracing: true, defaultComponent: 'marketplace' });
    const source = snapshotSource(monitor);
    const history = new MinuteHistory(source, monitor.diagnostics);
    const engine = new AnalyticsEngine({
      clock,
      diagnostics: monitor.diagnostics,
      source,
      history,
      traces: () => spansOf(monitor!.traces),
      defaultComponent: 'marketplace',
    });
    const search = monitor.timer('marketplace_search');
    const reco = monitor.timer('recommendation_generation');
    const hits = monitor.counter('search.cache.hits');
    const misses = monitor.counter('search.cache.misses');
    const disk = monitor.gauge('disk_usage', { component: 'system' });

    let total = 0;
    let sum = 0;
    let errors = 0;
    for (let m = 0; m < 60; m++) {
      // Latency rising 2 ms a minute; one error a minute; disk filling 0.1 point a minute.
      for (let i = 0; i < 50; i++) {
        const v = 100 + 2 * m + (i % 10);
        if (i === 0) search.recordError(v);
        else search.record(v);
        sum += v;
      }
      for (let i = 0; i < 20; i++) {
        reco.record(200 + (i % 5));
        sum += 200 + (i % 5);
      }
      total += 70;
      errors += 1;
      hits.inc(39);
      misses.inc(11);
      disk.set(0.8 + 0.001 * m);
      clock.advance(MIN);
      history.tick(clock.now());
    }
    const throughput = Array.from(
      history.series('marketplace', 'throughput', { points: 60 }).values,
    );
    expect(throughput).toEqual(new Array(60).fill(70));
    expect(Array.from(history.series('marketplace', 'errors', { points: 3 }).values)).toEqual([
      1, 1, 1,
    ]);
    const latency = history.series('marketplace', 'latency', { points: 60 }).values;
    expect(latency[1]! - latency[0]!).toBeCloseTo((2 * 50) / 70, 6);
    expect(anomalyScore(history, 'latency', 'marketplace')!).toBeLessThan(4);

    // Traces: the model inference dominates the slow recommendation traces.
    const tracer = trace.getTracer('test');
    for (let t = 0; t < 10; t++) {
      tracer.startActiveSpan('recommendation_generation', (root) => {
        root.setAttribute('prsm.component', 'marketplace');
        const child = tracer.startSpan('recommendation_model_inference');
        clock.advance(t < 2 ? 160 : 10);
        child.end();
        clock.advance(40);
        root.end();
      });
    }
    // A latency spike in the last minute.
    for (let i = 0; i < 70; i++) {
      search.record(900);
      sum += 900;
    }
    total += 70;
    clock.set(T0 + 61 * MIN);
    history.tick(clock.now());
    expect(anomalyScore(history, 'latency', 'marketplace')!).toBeGreaterThan(4);

    const insights = engine.insights({ component: 'marketplace' });
    const report = insights.report;
    expect(report.component).toBe('marketplace');
    expect(report.summary.total_requests).toBe(total);
    expect(report.summary.average_response_time).toBe(Math.round((sum / total) * 10) / 10);
    expect(report.summary.error_rate).toBe(Math.round((errors / total) * 10_000) / 10_000);
    expect(report.summary.throughput_per_minute).toBeGreaterThan(60);
    expect(report.summary.throughput_per_minute).toBeLessThan(90);
    expect(report.trends.response_time_trend).toBe('degrading');
    expect(report.trends.error_rate_trend).toBe('stable');
    expect(report.trends.usage_pattern).toEqual({ peak_hours: [], pattern: 'insufficient_data' });
    expect(report.top_operations).toEqual([
      {
        operation: 'marketplace_search',
        avg_duration_ms: expect.any(Number) as number,
        request_count: 60 * 50 + 70,
      },
      { operation: 'recommendation_generation', avg_duration_ms: 202, request_count: 60 * 20 },
    ]);
    expect(report.component_specific).toEqual({ search_cache_hit_rate: 0.78 });
    expect(report.bottlenecks).toContain('recommendation_model_inference');
    const optimize = insights.recommendations.find((r) => r.rule === 'optimize_span')!;
    expect(optimize.evidence).toMatchObject({ span: 'recommendation_model_inference', traces: 1 });
    // Disk: 85.9% rising 0.1 point a minute: 90% in about 41 minutes.
    const scale = insights.recommendations.find((r) => r.rule === 'scale')!;
    expect(scale.text).toMatch(/^Scale disk space: disk_usage at 90% in 4\d minutes/);
    expect(report.recommendations).toContain(
      insights.recommendations.find(
        (r) => r.rule === 'anomaly' && r.evidence['metric'] === 'latency',
      )!.text,
    );
    expect(monitor.diagnostics.counts()[DiagnosticCode.INTERNAL_ERROR] ?? 0).toBe(0);
  });

  it('snapshotSource merges tag sets of an operation and picks a configured window', () => {
    const clock = new ManualClock(T0);
    monitor = new Monitor({ clock });
    const t = monitor.timer('search', { component: 'marketplace' });
    for (let i = 1; i <= 100; i++) t.record(i, { tier: i % 2 === 0 ? 'free' : 'paid' });
    t.recordError(500, { tier: 'paid' });
    monitor.counter('search.cache.hits', { component: 'marketplace' }).inc(3);
    const g = monitor.gauge('disk_usage', { component: 'system' });
    g.set(0.3, { path: '/' });
    g.set(0.6, { path: '/data' });
    clock.advance(30_000);
    const source = snapshotSource(monitor);
    expect([...source.components()].sort()).toEqual(['marketplace', 'system']);
    const r = source.read('marketplace', 3600, 'operations', clock.now());
    const o = r.operations[0]!;
    expect([o.name, o.totalCount, o.totalErrors, o.totalSum, o.count, o.errors]).toEqual([
      'search',
      101,
      1,
      5550,
      101,
      1,
    ]);
    expect(o.p50).toBeGreaterThan(47);
    expect(o.p50).toBeLessThan(54);
    expect(o.p99).toBeGreaterThan(98);
    expect(r.coveredSeconds).toBeCloseTo(30, 6);
    expect(r.counters.get('search.cache.hits')).toBe(3);
    expect(source.read('system', 60, 'none', clock.now()).gauges.get('disk_usage')).toBe(0.6);
  });
});
