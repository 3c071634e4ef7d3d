import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import type { HistogramSeries } from '../metrics/histogram-series.js';
import { Monitor } from '../monitor.js';
import type { DigestPart } from '../sketch/centroids.js';
import { SlotDigestCache } from './slot-cache.js';
import { alertingMonitor } from './engine-test-support.js';

const MIN = 60_000;

describe('SlotDigestCache: closed sub-windows merged once per component, then dropped', () => {
  it('merges every tag set of a closed sub-window, reuses it, and drops what no rule reads', () => {
    const clock = new ManualClock(0);
    const monitor = new Monitor({ clock });
    const h = monitor.histogram('lat', { component: 'api' });
    const series = ['a', 'b', 'c'].map((route) => h.bind({ route }) as unknown as HistogramSeries);
    for (let minute = 0; minute < 5; minute++) {
      series.forEach((s, i) => {
        for (let k = 0; k < 10 * (i + 1); k++) s.record(minute * 100 + k);
      });
      clock.advance(MIN);
    }
    for (const s of series) s.read(5); // sync, as the evaluation pass does
    const cache = new SlotDigestCache();
    cache.beginTick();
    const parts: DigestPart[] = [];
    cache.closedParts('lat/api', series, 0, 5, parts);
    expect(parts.map((p) => p.total)).toEqual([60, 60, 60, 60, 60]);
    expect(parts.map((p) => p.min)).toEqual([0, 100, 200, 300, 400]);
    expect(parts.map((p) => p.max)).toEqual([29, 129, 229, 329, 429]);
    const again: DigestPart[] = [];
    cache.closedParts('lat/api', series, 3, 5, again);
    expect(again[0]).toBe(parts[3]); // cached, not rebuilt
    cache.endTick();
    expect(cache.size).toBe(5);
    // A tick that reads only the last two sub-windows keeps only those.
    cache.beginTick();
    cache.closedParts('lat/api', series, 3, 5, []);
    cache.endTick();
    expect(cache.size).toBe(2);
    // A tick that reads nothing of it drops the entry.
    cache.beginTick();
    cache.endTick();
    expect(cache.size).toBe(0);
  });

  it('keeps rule quantiles over several sub-windows within 1% of the exact value', () => {
    const { monitor, clock } = alertingMonitor();
    const values: number[] = [];
    const routes = Array.from({ length: 20 }, (_, i) =>
      monitor.histogram('api.latency', { component: 'api' }).bind({ route: `/r${i}` }),
    );
    let seed = 42;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let minute = 0; minute < 5; minute++) {
      for (const r of routes) {
        for (let i = 0; i < 300; i++) {
          const v = 10 + 1000 * random() ** 4;
          r.record(v);
          values.push(v);
        }
      }
      if (minute < 4) clock.advance(MIN);
    }
    values.sort((a, b) => a - b);
    const exact = (q: number) => values[Math.ceil(q * values.length) - 1]!;
    for (const [fn, q] of [
      ['p50', 0.5],
      ['p95', 0.95],
      ['p99', 0.99],
    ] as const) {
      const rule = monitor.alerts.create({
        name: fn,
        severity: 'info',
        component: 'api',
        condition: `${fn}(api.latency[5m]) > 0`,
      });
      monitor.alerts.evaluate();
      const got = monitor.alerts.get(rule.id)!.lastEvaluation!.value!;
      expect(Math.abs(got - exact(q)) / exact(q)).toBeLessThan(0.01);
    }
  });
});
