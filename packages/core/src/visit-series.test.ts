/**
 * `monitor.visitSeries`: every series read as `snapshot()` reads it, handed to a visitor
 * as it is read (the Prometheus handler's path). What it hands over must equal the
 * snapshot of the same instant, field by field.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock/clock.js';
import { Monitor } from './monitor.js';
import type {
  DistributionReading,
  SeriesVisitor,
  SlicedVisitOptions,
  VisitedSeries,
} from './metrics/snapshot.js';

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

function recorder(out: Visited[]): SeriesVisitor {
  const base = (s: VisitedSeries) => ({ name: s.name, component: s.component, tags: s.tags });
  return {
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
}

function collect(monitor: Monitor, windowSeconds?: number): Visited[] {
  const out: Visited[] = [];
  monitor.visitSeries(windowSeconds === undefined ? {} : { windowSeconds }, recorder(out));
  return out;
}

/** What `visitSeriesInSlices` hands over, and how many turns of the event loop it let run. */
async function collectInSlices(
  monitor: Monitor,
  options: SlicedVisitOptions,
): Promise<{ visited: Visited[]; turns: number }> {
  const visited: Visited[] = [];
  let turns = 0;
  let running = true;
  const turn = (): void => {
    turns++;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  try {
    await monitor.visitSeriesInSlices(options, recorder(visited));
  } finally {
    running = false;
  }
  return { visited, turns };
}

/** A monitor with `n` timer series of a few samples each. */
function manySeries(n: number): Monitor {
  const monitor = new Monitor({ clock: new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0)) });
  const timer = monitor.timer('t');
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) timer.record(i + k, { i: String(i) });
  return monitor;
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

describe('monitor.visitSeriesInSlices', () => {
  it('hands over what visitSeries does, in the same order, letting the event loop run between slices', async () => {
    const monitor = manySeries(100);
    const { visited, turns } = await collectInSlices(monitor, { sliceSeries: 10 });
    expect(visited).toHaveLength(100);
    expect(visited).toEqual(collect(monitor));
    // 100 series in slices of 10: the event loop ran between them (9 times at least;
    // a visit that never yielded would leave it at 0 or 1).
    expect(turns).toBeGreaterThanOrEqual(9);
    const whole = await collectInSlices(monitor, { sliceSeries: 1000 });
    expect(whole.visited).toEqual(visited);
    expect(whole.turns).toBeLessThan(turns);
    await monitor.shutdown();
  });

  it('reads every kind of series alike and the default slice covers a whole small monitor', async () => {
    const { monitor } = busyMonitor();
    const { visited } = await collectInSlices(monitor, { windowSeconds: 300 });
    expect(visited).toEqual(collect(monitor, 300));
    expect(new Set(visited.map((v) => v.kind))).toEqual(
      new Set(['counter', 'gauge', 'distribution']),
    );
    await monitor.shutdown();
  });

  it('runs side by side with another visit and with records made between slices', async () => {
    const monitor = new Monitor({
      clock: new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0)),
      windows: [60, 300],
    });
    const timer = monitor.timer('t');
    for (let i = 0; i < 60; i++)
      for (let k = 0; k < 20; k++) timer.record(k * 3 + i, { i: String(i) });
    const expected60 = collect(monitor, 60);
    const expected300 = collect(monitor, 300);
    const [a, b] = await Promise.all([
      collectInSlices(monitor, { windowSeconds: 60, sliceSeries: 7 }),
      collectInSlices(monitor, { windowSeconds: 300, sliceSeries: 5 }),
    ]);
    expect(a.visited).toEqual(expected60);
    expect(b.visited).toEqual(expected300);
    // New series and new samples between slices: each series once, none lost or doubled.
    const visited: Visited[] = [];
    const visiting = monitor.visitSeriesInSlices({ sliceSeries: 4 }, recorder(visited));
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      timer.record(1, { i: `new${i}` });
      timer.record(2, { i: '0' });
    }
    await visiting;
    const keys = visited.map((v) => v.tags.i);
    expect(new Set(keys).size).toBe(keys.length);
    for (let i = 0; i < 60; i++) expect(keys).toContain(String(i));
    await monitor.shutdown();
  });

  it('rejects a bad slice size, window or visitor before reading any series', async () => {
    const monitor = manySeries(3);
    const visited: Visited[] = [];
    for (const sliceSeries of [0, -1, 1.5, Number.NaN, Infinity, '10']) {
      await expect(
        monitor.visitSeriesInSlices({ sliceSeries: sliceSeries as number }, recorder(visited)),
      ).rejects.toThrow(/visitSeriesInSlices: sliceSeries must be a positive integer/);
    }
    for (const sliceMs of [0, -5, Number.NaN, '5']) {
      await expect(
        monitor.visitSeriesInSlices({ sliceMs: sliceMs as number }, recorder(visited)),
      ).rejects.toThrow(/visitSeriesInSlices: sliceMs must be a positive number/);
    }
    await expect(
      monitor.visitSeriesInSlices({ windowSeconds: 120 }, recorder(visited)),
    ).rejects.toThrow(/visitSeriesInSlices: windowSeconds must be one of the monitor's windows/);
    await expect(
      monitor.visitSeriesInSlices({}, { counter() {} } as unknown as SeriesVisitor),
    ).rejects.toThrow(/visitSeriesInSlices: visitor must have counter, gauge and distribution/);
    expect(visited).toEqual([]);
    await monitor.shutdown();
  });

  it("ends a slice once sliceMs of the monitor's clock went by", async () => {
    // A clock that moves a quarter of a millisecond whenever it is read: time goes by
    // as the series are read, as it does on a real clock.
    let t = Date.UTC(2024, 0, 15, 14, 0, 0);
    const monitor = new Monitor({ clock: { now: () => (t += 0.25) } });
    const timer = monitor.timer('t');
    for (let i = 0; i < 200; i++) timer.record(i, { i: String(i) });
    // Looked at every 16 series: a slice ends at the first look past 1 ms.
    const timed = await collectInSlices(monitor, { sliceMs: 1 });
    expect(timed.visited).toHaveLength(200);
    expect(timed.turns).toBeGreaterThanOrEqual(200 / 16 - 1);
    const untimed = await collectInSlices(monitor, { sliceMs: Infinity });
    expect(untimed.visited.map((v) => v.tags.i)).toEqual(timed.visited.map((v) => v.tags.i));
    expect(untimed.turns).toBeLessThanOrEqual(1);
    await monitor.shutdown();
  });

  it("rejects with a visitor's error and stops there", async () => {
    const monitor = manySeries(50);
    let calls = 0;
    const failing: SeriesVisitor = {
      counter() {},
      gauge() {},
      distribution() {
        if (++calls === 12) throw new Error('visitor broke');
      },
    };
    await expect(monitor.visitSeriesInSlices({ sliceSeries: 5 }, failing)).rejects.toThrow(
      'visitor broke',
    );
    expect(calls).toBe(12);
    expect(collect(monitor)).toHaveLength(50);
    await monitor.shutdown();
  });
});
