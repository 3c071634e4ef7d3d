/**
 * `monitor.visitSeries`: every series read as `snapshot()` reads it, handed to a visitor
 * as it is read (the Prometheus handler's path). What it hands over must equal the
 * snapshot of the same instant, field by field.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock/clock.js';
import { Monitor } from './monitor.js';
import type { DistributionReading, SeriesVisitor, VisitedSeries } from './metrics/snapshot.js';

interface Visited {
  kind: 'counter' | 'gauge' | 'distribution';
  name: string;
  component: string;
  tags: Readonly<Record<string, string>>;
  value?: number;
  reading?: Omit<DistributionReading, 'values' | 'quantiles'> & {
    values: number[];
    quantiles: number[];
  };
}

function collect(monitor: Monitor, windowSeconds?: number): Visited[] {
  const out: Visited[] = [];
  const base = (s: VisitedSeries) => ({ name: s.name, component: s.component, tags: s.tags });
  const visitor: SeriesVisitor = {
    counter: (s, total) => void out.push({ kind: 'counter', ...base(s), value: total }),
    gauge: (s, value) => void out.push({ kind: 'gauge', ...base(s), value }),
    distribution: (s, r) =>
      void out.push({
        kind: 'distribution',
        ...base(s),
        // The reading is overwritten for the next series: copied here.
        reading: { ...r, values: [...r.values], quantiles: [...r.quantiles] },
      }),
  };
  monitor.visitSeries(windowSeconds === undefined ? {} : { windowSeconds }, visitor);
  return out;
}

function busyMonitor(): { monitor: Monitor; clock: ManualClock } {
  const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0));
  const monitor = new Monitor({ clock, windows: [60, 300] });
  const latency = monitor.timer('api.latency', { component: 'api' });
  const sizes = monitor.histogram('body.size', { component: 'api', unit: 'By' });
  const orders = monitor.counter('orders', { component: 'shop' });
  const pool = monitor.gauge('pool.size', { component: 'db' });
  monitor.gauge('never.set', { component: 'db' }); // no value: not visited
  for (let minute = 0; minute < 4; minute++) {
    for (let i = 0; i < 50; i++) {
      latency.record(5 + ((i * 37) % 200), { route: `/r${i % 3}` });
      if (i % 7 === 0) latency.recordError(900, { route: '/r0' });
      sizes.record(100 * (i % 9));
      orders.inc(1, { status: i % 4 === 0 ? 'failed' : 'ok' });
    }
    pool.set(minute + 3);
    clock.advance(60_000);
  }
  latency.record(42, { route: '/r1' });
  return { monitor, clock };
}

describe('monitor.visitSeries', () => {
  it('hands over what a snapshot of the same instant holds, families in order of name', () => {
    const { monitor } = busyMonitor();
    const visited = collect(monitor, 300);
    const snapshot = monitor.snapshot({
      windows: [300],
      digests: false,
      cumulativeQuantiles: false,
    });
    expect(visited.map((v) => v.name)).toEqual(
      [...visited.map((v) => v.name)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    expect(visited).toHaveLength(snapshot.series.length);
    for (const s of snapshot.series) {
      const v = visited.find(
        (x) => x.name === s.name && JSON.stringify(x.tags) === JSON.stringify(s.tags),
      );
      if (v === undefined) throw new Error(`${s.name} ${JSON.stringify(s.tags)} not visited`);
      expect(v.component).toBe(s.component);
      if (s.type === 'counter') expect(v).toMatchObject({ kind: 'counter', value: s.total });
      else if (s.type === 'gauge') expect(v).toMatchObject({ kind: 'gauge', value: s.value });
      else {
        const w = s.windows[0]!;
        const r = v.reading!;
        expect(r.type).toBe(s.type);
        expect(r.windowSeconds).toBe(300);
        expect(r.quantiles).toEqual(w.quantiles.map((q) => q.quantile));
        expect(r.values).toEqual(w.quantiles.map((q) => q.value));
        expect([r.count, r.sum, r.errors, r.coveredSeconds]).toEqual([
          w.count,
          w.sum,
          w.errors,
          w.coveredSeconds,
        ]);
        expect([r.min, r.max]).toEqual([w.min, w.max]);
        expect(r.exemplar).toEqual(w.exemplars[0]);
        expect([r.totalCount, r.totalSum, r.totalErrors]).toEqual([
          s.cumulative.count,
          s.cumulative.sum,
          s.cumulative.errors,
        ]);
      }
    }
    expect(visited.some((v) => v.name === 'never.set')).toBe(false);
  });

  it('reads the first configured window by default, and an empty window as NaN', () => {
    const { monitor, clock } = busyMonitor();
    clock.advance(10 * 60_000); // every window empty now; the totals remain
    const [timer] = collect(monitor).filter((v) => v.name === 'api.latency');
    expect(timer!.reading!.windowSeconds).toBe(60);
    expect(timer!.reading!.count).toBe(0);
    expect(timer!.reading!.values.every(Number.isNaN)).toBe(true);
    expect(Number.isNaN(timer!.reading!.min)).toBe(true);
    expect(timer!.reading!.totalCount).toBeGreaterThan(0);
  });

  it('rejects a window it does not keep and a visitor without its three methods', () => {
    const { monitor } = busyMonitor();
    const noop: SeriesVisitor = { counter() {}, gauge() {}, distribution() {} };
    expect(() => monitor.visitSeries({ windowSeconds: 120 }, noop)).toThrow(
      /visitSeries: windowSeconds must be one of the monitor's windows \(60, 300\), got 120/,
    );
    expect(() => monitor.visitSeries(null as never, noop)).toThrow(TypeError);
    expect(() =>
      monitor.visitSeries({}, { counter() {}, gauge() {} } as unknown as SeriesVisitor),
    ).toThrow(/visitor must have counter, gauge and distribution methods/);
  });

  it("lets a visitor's error reach the caller and reads alike afterwards", () => {
    const { monitor } = busyMonitor();
    const failing: SeriesVisitor = {
      counter() {
        throw new Error('visitor broke');
      },
      gauge() {},
      distribution() {},
    };
    expect(() => monitor.visitSeries({}, failing)).toThrow('visitor broke');
    const a = collect(monitor, 300);
    const b = collect(monitor, 300);
    expect(b).toEqual(a);
  });
});
