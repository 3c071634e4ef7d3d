import { describe, expect, it } from 'vitest';

import { ManualClock } from '../clock/clock.js';
import type { CounterSeries } from '../metrics/counter-series.js';
import type { GaugeSeries } from '../metrics/gauge-series.js';
import type { HistogramSeries } from '../metrics/histogram-series.js';
import { readRecentPerformance, RecentSlotCache } from './recent.js';
import { familiesReader, T0 } from './test-support.js';

function setup() {
  const clock = new ManualClock(T0);
  const { reader, family } = familiesReader(clock);
  const timer = (name: string, component = 'api', tags = {}) =>
    family(name, 'timer').resolve(component, tags, undefined) as HistogramSeries;
  const histogram = (name: string, component = 'api') =>
    family(name, 'histogram').resolve(component, {}, undefined) as HistogramSeries;
  const counter = (name: string, component = 'api') =>
    family(name, 'counter').resolve(component, {}, undefined) as CounterSeries;
  const gauge = (name: string, component = 'api') =>
    family(name, 'gauge').resolve(component, {}, undefined) as GaugeSeries;
  return { clock, reader, timer, histogram, counter, gauge };
}

describe('readRecentPerformance', () => {
  it('counts samples and counter increases, errors, and the mean of timers only', () => {
    const { clock, reader, timer, histogram, counter, gauge } = setup();
    const a = timer('http.request', 'api', { route: '/a' });
    const b = timer('http.request', 'api', { route: '/b' });
    for (let i = 0; i < 30; i++) a.record(100);
    for (let i = 0; i < 10; i++) b.recordError(300);
    histogram('payload.size', 'web').record(1_000_000); // a sample, not a duration
    counter('orders').inc(9);
    gauge('queue.depth').set(1e9); // gauges keep no count
    clock.advance(30_000);
    const r = readRecentPerformance(reader, 300, clock.now());
    expect(r).toEqual({
      totalMetrics: 30 + 10 + 1 + 9,
      metricsPerMinute: 100, // 50 over the 30 s the window covered
      errorCount: 10,
      errorRate: 10 / 41,
      performanceAverage: (30 * 100 + 10 * 300) / 40,
      metricsCollected: 50,
    });
  });

  it('leaves out the SDK’s own prsm.* metrics and the system component', () => {
    const { clock, reader, timer, counter } = setup();
    timer('prsm.alerts.evaluation.duration', 'prsm').record(5);
    counter('prsm.records.dropped', 'prsm').inc(100);
    timer('gc.pause', 'system').record(50);
    counter('network_io.bytes_sent', 'system').inc(1e9);
    timer('task.run', 'tasks').recordError(10);
    const r = readRecentPerformance(reader, 300, clock.now());
    expect(r).toMatchObject({ totalMetrics: 1, errorCount: 1, performanceAverage: 10 });
    const all = readRecentPerformance(reader, 300, clock.now(), { excludeComponents: [] });
    expect(all.totalMetrics).toBe(1 + 1 + 1e9); // gc.pause, task.run, the bytes; prsm.* still out
    expect(all.performanceAverage).toBe(30);
  });

  it('forgets what left the window, and keeps it in metricsCollected', () => {
    const { clock, reader, timer, counter } = setup();
    timer('db.query', 'database').record(20);
    counter('logins').inc(4);
    clock.advance(10 * 60_000);
    timer('db.query', 'database').recordError(40);
    const r = readRecentPerformance(reader, 300, clock.now());
    expect(r).toMatchObject({
      totalMetrics: 1,
      errorCount: 1,
      errorRate: 1,
      performanceAverage: 40,
      metricsCollected: 6,
    });
    // The 5-minute window covers 5 closed sub-windows and the open one.
    expect(r.metricsPerMinute).toBeCloseTo(1 / 5, 5);
  });

  it('is all zeros for a monitor that recorded nothing', () => {
    const { clock, reader } = setup();
    expect(readRecentPerformance(reader, 60, clock.now())).toEqual({
      totalMetrics: 0,
      metricsPerMinute: 0,
      errorCount: 0,
      errorRate: 0,
      performanceAverage: 0,
      metricsCollected: 0,
    });
  });
});

describe('RecentSlotCache', () => {
  it('gives what a fresh read gives, minute after minute, as series come and sub-windows leave', () => {
    const { clock, reader, timer, histogram, counter } = setup();
    const cache = new RecentSlotCache();
    let seed = 7;
    const random = (): number => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (let step = 0; step < 120; step++) {
      // A new tag set now and then: it holds nothing of the sub-windows already closed.
      const t = timer('http.request', 'api', { route: `/r${step % 7}` });
      const h = histogram('payload.size', step % 2 === 0 ? 'api' : 'web');
      for (let i = 0; i < 5; i++) {
        if (random() < 0.1) t.recordError(random() * 100);
        else t.record(random() * 100);
        h.record(random() * 1000);
      }
      counter('orders').inc(1);
      clock.advance(Math.floor(random() * 40_000));
      const now = clock.now();
      for (const window of [60, 300]) {
        const cached = readRecentPerformance(reader, window, now, {}, cache);
        const fresh = readRecentPerformance(reader, window, now);
        expect(cached.totalMetrics).toBe(fresh.totalMetrics);
        expect(cached.errorCount).toBe(fresh.errorCount);
        expect(cached.metricsCollected).toBe(fresh.metricsCollected);
        expect(cached.metricsPerMinute).toBeCloseTo(fresh.metricsPerMinute, 9);
        expect(cached.performanceAverage).toBeCloseTo(fresh.performanceAverage, 9);
      }
    }
  });
});
