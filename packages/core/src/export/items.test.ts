/**
 * `exportItemSize`: the export queue's byte bound counts what an item carries, its
 * sub-windows' centroids included.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import { type ExportItem, exportItemSize } from './items.js';

describe('exportItemSize', () => {
  it('grows with the sub-windows a series carries, within a factor of two of its JSON', () => {
    const t0 = Date.UTC(2024, 0, 15, 14);
    const clock = new ManualClock(t0);
    const monitor = new Monitor({ clock });
    const timer = monitor.timer('latency', { component: 'shop' }).bind({ route: '/x' });
    for (let minute = 0; minute < 5; minute++) {
      for (let i = 0; i < 500; i++) timer.record(1 + ((i * 7919) % 1000) / 3);
      clock.advance(60_000);
    }
    const needs = { windows: [], digests: false, cumulativeQuantiles: false };
    const item = (since: number): ExportItem => ({
      kind: 'series',
      timestamp: clock.now(),
      series: monitor.snapshot({ ...needs, subWindows: { since } }).series[0]!,
    });
    const none = item(Infinity);
    const five = item(t0);
    const series = five.kind === 'series' ? five.series : undefined;
    expect(series?.type === 'timer' ? series.subWindows?.length : 0).toBe(5);
    for (const it of [none, five]) {
      const json = JSON.stringify(it).length;
      expect(exportItemSize(it)).toBeGreaterThan(json / 2);
      expect(exportItemSize(it)).toBeLessThan(json * 2);
    }
    expect(exportItemSize(five)).toBeGreaterThan(10 * exportItemSize(none));
    void monitor.shutdown();
  });
});
