import { describe, expect, it } from 'vitest';
import { DiagnosticCode, Diagnostics } from '../diagnostics/diagnostics.js';
import { MinuteHistory } from './history.js';
import { FixedSource, op, T0 } from './test-support.js';

const MIN = 60_000;

function values(h: MinuteHistory, c: string, m: string, points: number): number[] {
  return Array.from(h.series(c, m, { points }).values);
}

describe('MinuteHistory.tick', () => {
  it('records the differences of the timers since the previous tick, per minute', () => {
    const source = new FixedSource();
    const h = new MinuteHistory(source, new Diagnostics(), { gauges: ['cpu_usage'] });
    source.set('marketplace', {
      operations: [
        op('search', { totalCount: 100, totalErrors: 2, totalSum: 15_000 }),
        op('buy', { totalCount: 20, totalSum: 1000 }),
      ],
      latencyP99: 300,
      gauges: new Map([['cpu_usage', 0.4]]),
    });
    h.tick(T0 + MIN); // the minute T0..T0+1m: everything since the series began
    source.set('marketplace', {
      operations: [
        op('search', { totalCount: 160, totalErrors: 8, totalSum: 24_000 }),
        op('buy', { totalCount: 20, totalSum: 1000 }),
      ],
      latencyP99: 350,
      gauges: new Map([['cpu_usage', 0.5]]),
    });
    h.tick(T0 + 2 * MIN + 400); // a late timer still lands on the minute that just ended
    expect(h.latestMinute('marketplace')).toBe(T0 + MIN);
    expect(values(h, 'marketplace', 'throughput', 2)).toEqual([120, 60]);
    expect(values(h, 'marketplace', 'errors', 2)).toEqual([2, 6]);
    expect(values(h, 'marketplace', 'error_rate', 2)).toEqual([2 / 120, 0.1]);
    expect(values(h, 'marketplace', 'latency', 2)).toEqual([16_000 / 120, 150]);
    expect(values(h, 'marketplace', 'latency_p99', 2)).toEqual([300, 350]);
    expect(values(h, 'marketplace', 'cpu_usage', 2)).toEqual([0.4, 0.5]);
    expect(h.series('marketplace', 'latency', { points: 2 }).startMs).toBe(T0);
  });

  it('leaves minutes without a tick empty, and restarts counting after a reset', () => {
    const source = new FixedSource();
    const h = new MinuteHistory(source, new Diagnostics());
    source.set('a', { operations: [op('x', { totalCount: 50, totalSum: 500 })] });
    h.tick(T0 + MIN);
    source.set('a', { operations: [op('x', { totalCount: 10, totalSum: 100 })] });
    h.tick(T0 + 4 * MIN);
    expect(values(h, 'a', 'throughput', 4)).toEqual([50, NaN, NaN, 10]);
  });

  it('is bounded: the ring wraps, hours aggregate, components are capped', () => {
    const diagnostics = new Diagnostics();
    const h = new MinuteHistory(undefined, diagnostics, {
      minutes: 90,
      hours: 3,
      maxComponents: 1,
    });
    for (let m = 0; m < 300; m++) {
      h.record('a', T0 + m * MIN, {
        requests: m < 240 ? 10 : 30,
        errors: 1,
        latency: m < 240 ? 100 : 200,
        latencyP99: m,
        gauges: { cpu_usage: m / 1000 },
      });
    }
    const minutes = h.series('a', 'throughput');
    expect(minutes.values.length).toBe(90);
    expect(minutes.startMs).toBe(T0 + 210 * MIN);
    const hours = h.series('a', 'throughput', { resolution: 'hour' });
    expect(hours.values.length).toBe(3);
    expect(hours.startMs).toBe(T0 + 2 * 3_600_000);
    expect(Array.from(hours.values)).toEqual([10, 10, 30]);
    expect(Array.from(h.series('a', 'latency', { resolution: 'hour' }).values)).toEqual([
      100, 100, 200,
    ]);
    expect(Array.from(h.series('a', 'latency_p99', { resolution: 'hour' }).values)).toEqual([
      179, 239, 299,
    ]);
    expect(h.series('a', 'cpu_usage', { resolution: 'hour' }).values[2]).toBeCloseTo(0.2695, 10);
    expect(h.record('b', T0, { requests: 1 })).toBe(false);
    expect(h.components()).toEqual(['a']);
  });

  it('merges a second write of a minute: counts add, the mean is reweighted', () => {
    const h = new MinuteHistory(undefined, new Diagnostics());
    h.record('a', T0, { requests: 10, latency: 100 });
    h.record('a', T0 + 30_000, { requests: 30, latency: 200 });
    expect(values(h, 'a', 'throughput', 1)).toEqual([40]);
    expect(values(h, 'a', 'latency', 1)).toEqual([175]);
    expect(
      Array.from(h.series('a', 'throughput', { resolution: 'hour', points: 1 }).values),
    ).toEqual([40]);
  });

  it('never throws: a failing source and refused components are reported', () => {
    const diagnostics = new Diagnostics();
    const source = new FixedSource();
    const h = new MinuteHistory(source, diagnostics, { maxComponents: 1 });
    source.set('a', {});
    source.set('b', {});
    h.tick(T0 + MIN);
    expect(h.refusedComponents).toBe(1);
    source.fail = true;
    expect(() => h.tick(T0 + 2 * MIN)).not.toThrow();
    expect(diagnostics.counts()[DiagnosticCode.INTERNAL_ERROR]).toBe(2);
  });

  it('checks its options', () => {
    expect(() => new MinuteHistory(undefined, new Diagnostics(), { minutes: 0 })).toThrow(
      /history.minutes/,
    );
    expect(() => new MinuteHistory(undefined, new Diagnostics(), { gauges: [''] })).toThrow(
      /history.gauges/,
    );
    expect(
      new MinuteHistory(undefined, new Diagnostics()).series('x', 'latency').values.length,
    ).toBe(0);
  });
});
