import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { type Clock, ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import { quantilesOfParts } from '../sketch/centroids.js';
import { HistogramSeries } from './histogram-series.js';

const MIN = 60_000;
/** A realistic start time, on a minute boundary: 2024-01-15T00:00Z. */
const T0 = Date.UTC(2024, 0, 15);

/**
 * A monitor on a manual clock with the default windows (60, 300, 900) and 60 s
 * sub-windows. `clock.set(t)` takes times relative to T0 (sub-window k starts at k * MIN).
 */
function setup(start = 0): {
  clock: { set(t: number): void };
  manual: ManualClock;
  monitor: Monitor;
} {
  const manual = new ManualClock(T0 + start);
  return {
    clock: { set: (t) => manual.set(T0 + t) },
    manual,
    monitor: new Monitor({ clock: manual }),
  };
}

function statsOf(monitor: Monitor, name: string, windowSeconds: number | 'cumulative') {
  const stats = monitor.getStats(name, { windowSeconds });
  expect(stats, `${name} exists`).toBeDefined();
  return stats!;
}

describe('histogram windows on a ManualClock', () => {
  it('puts values in the sub-window of the time they were recorded', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    h.record(1);
    clock.set(59_999);
    h.record(2);
    clock.set(60_000);
    h.record(3);
    // 60 s window = the open sub-window (1) + one closed one (0).
    expect(statsOf(monitor, 'h', 60).count).toBe(3);
    clock.set(2 * MIN);
    // Now the 60 s window holds sub-windows 1 and 2: only the value 3.
    const s = statsOf(monitor, 'h', 60);
    expect(s.count).toBe(1);
    expect(s.min).toBe(3);
    expect(s.max).toBe(3);
    expect(statsOf(monitor, 'h', 300).count).toBe(3);
  });

  it('the 60 s window forgets a value after 2 minutes, not before', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    h.record(10);
    for (const t of [0, 30_000, MIN, MIN + 59_999]) {
      clock.set(t);
      expect(statsOf(monitor, 'h', 60).count, `at ${t} ms`).toBe(1);
    }
    clock.set(2 * MIN);
    expect(statsOf(monitor, 'h', 60).count).toBe(0);
    expect(monitor.getPercentiles('h', [0.5], { windowSeconds: 60 })).toEqual([NaN]);
    expect(statsOf(monitor, 'h', 'cumulative').count).toBe(1);
  });

  it('the 300 s and 900 s windows keep 5 and 15 closed sub-windows', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    h.record(10);
    clock.set(5 * MIN + 59_999);
    expect(statsOf(monitor, 'h', 300).count).toBe(1);
    clock.set(6 * MIN);
    expect(statsOf(monitor, 'h', 300).count).toBe(0);
    expect(statsOf(monitor, 'h', 900).count).toBe(1);
    clock.set(15 * MIN + 59_999);
    expect(statsOf(monitor, 'h', 900).count).toBe(1);
    clock.set(16 * MIN);
    expect(statsOf(monitor, 'h', 900).count).toBe(0);
    expect(statsOf(monitor, 'h', 'cumulative').count).toBe(1);
  });

  it('cumulative keeps everything, across many ring revolutions', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    let sum = 0;
    for (let minute = 0; minute < 100; minute++) {
      clock.set(minute * MIN + 1000);
      h.record(minute);
      h.record(minute + 0.5);
      sum += 2 * minute + 0.5;
    }
    const c = statsOf(monitor, 'h', 'cumulative');
    expect(c.count).toBe(200);
    expect(c.sum).toBe(sum);
    expect(c.min).toBe(0);
    expect(c.max).toBe(99.5);
    expect(c.windowSeconds).toBe('cumulative');
    // The 900 s window holds the current minute and the 15 before it.
    const w = statsOf(monitor, 'h', 900);
    expect(w.count).toBe(32);
    expect(w.min).toBe(84);
  });

  it('reads windows that are not a configured size by whole sub-windows', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    for (let minute = 0; minute < 10; minute++) {
      clock.set(minute * MIN);
      h.record(minute);
    }
    // 90 s -> 2 closed sub-windows + the open one: minutes 7, 8, 9.
    expect(statsOf(monitor, 'h', 90).min).toBe(7);
    expect(statsOf(monitor, 'h', 120).min).toBe(7);
    // 30 s -> 1 closed sub-window + the open one.
    expect(statsOf(monitor, 'h', 30).min).toBe(8);
  });

  it('rotates correctly when the clock jumps several sub-windows at once', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    h.record(1);
    clock.set(3 * MIN + 5000);
    h.record(2);
    expect(statsOf(monitor, 'h', 60).min).toBe(2);
    expect(statsOf(monitor, 'h', 60).count).toBe(1);
    expect(statsOf(monitor, 'h', 300).count).toBe(2);
    clock.set(7 * MIN);
    h.record(3);
    expect(statsOf(monitor, 'h', 300).count).toBe(2);
    expect(statsOf(monitor, 'h', 300).min).toBe(2);
  });

  it('rotates correctly when the clock jumps further than the whole ring', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    h.record(1);
    clock.set(MIN);
    h.record(2);
    // Ring: 15 + 1 slots. Jump 40 minutes: every window is empty, cumulative is not.
    clock.set(41 * MIN);
    for (const w of [60, 300, 900]) expect(statsOf(monitor, 'h', w).count).toBe(0);
    h.record(3);
    for (const w of [60, 300, 900]) {
      const s = statsOf(monitor, 'h', w);
      expect(s.count).toBe(1);
      expect(s.min).toBe(3);
    }
    // Exactly one ring revolution later (16 sub-windows): the slot index is reused.
    clock.set(57 * MIN);
    h.record(4);
    expect(statsOf(monitor, 'h', 900).count).toBe(1);
    expect(statsOf(monitor, 'h', 900).min).toBe(4);
    expect(statsOf(monitor, 'h', 'cumulative').count).toBe(4);
  });

  it('attributes values still buffered at a rotation to the old sub-window', () => {
    // Fewer than the 256-value buffer, and more: the rotation, not a read, flushes them.
    for (const n of [10, 300]) {
      const { clock, monitor } = setup();
      const h = monitor.histogram('h').bind();
      for (let i = 0; i < n; i++) h.record(i);
      clock.set(2 * MIN);
      h.record(-1); // the first record of the new sub-window triggers the rotation
      expect(statsOf(monitor, 'h', 60).count, `${n} values`).toBe(1);
      expect(statsOf(monitor, 'h', 60).min, `${n} values`).toBe(-1);
      expect(statsOf(monitor, 'h', 300).count, `${n} values`).toBe(n + 1);
      clock.set(5 * MIN + 59_999);
      expect(statsOf(monitor, 'h', 300).count, `${n} values`).toBe(n + 1);
      clock.set(6 * MIN);
      expect(statsOf(monitor, 'h', 300).count, `${n} values`).toBe(1);
    }
    // Several clock moves with no record or read in between.
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    h.record(5);
    clock.set(3 * MIN);
    clock.set(3 * MIN + 1);
    clock.set(4 * MIN);
    expect(statsOf(monitor, 'h', 60).count).toBe(0);
    expect(statsOf(monitor, 'h', 300).count).toBe(1);
  });

  // ManualClock starts at the epoch by default, so sub-window numbers of windows reaching
  // back before it are negative: they must read as empty, like any never-written slot.
  it('works from the epoch (a ManualClock with the default start of 0)', () => {
    const clock = new ManualClock();
    const monitor = new Monitor({ clock });
    const h = monitor.histogram('h').bind();
    h.record(5);
    for (const w of [60, 300, 900, 'cumulative'] as const) {
      const s = statsOf(monitor, 'h', w);
      expect([s.count, s.sum, s.min, s.max, s.errors], `window ${w}`).toEqual([1, 5, 5, 5, 0]);
      expect(monitor.getPercentiles('h', [0, 0.5, 1], { windowSeconds: w })).toEqual([5, 5, 5]);
    }
    clock.set(3 * MIN);
    h.recordError(7);
    const s = statsOf(monitor, 'h', 900);
    expect([s.count, s.sum, s.min, s.max, s.errors]).toEqual([2, 12, 5, 7, 1]);
  });

  it('keeps a sub-window whose clock went backwards until time catches up', () => {
    const { clock, monitor } = setup(10 * MIN);
    const h = monitor.histogram('h').bind();
    h.record(1);
    clock.set(5 * MIN); // backwards
    h.record(2);
    expect(monitor.diagnostics.count('PRSM_CLOCK_BACKWARDS')).toBeGreaterThan(0);
    clock.set(11 * MIN);
    h.record(3);
    const s = statsOf(monitor, 'h', 60);
    expect(s.count).toBe(3);
    clock.set(12 * MIN);
    expect(statsOf(monitor, 'h', 60).count).toBe(1);
  });
});

describe('raw reads: the buffer read as it is', () => {
  // Snapshots, visits and the monitor's getters read a series without merging its
  // buffer (a merge pass per read of a series that got one value since): the values
  // still buffered are a part of their own, exact, and the digests stay as they were.
  it('count the buffered values in the statistics and hand them out as the first part', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind() as unknown as HistogramSeries;
    for (let i = 0; i < 300; i++) h.record(i); // 256 merged, 44 buffered
    clock.set(MIN);
    for (const v of [7, 3, 1000, -2]) h.record(v);
    const version = h.digestVersion;
    const read = h.read(5, true, undefined, true);
    expect(h.buffered).toBe(4);
    expect(h.digestVersion).toBe(version);
    expect(read.open).toBe(1);
    expect([read.count, read.min, read.max]).toEqual([304, -2, 1000]);
    expect(read.sum).toBe((299 * 300) / 2 + 7 + 3 + 1000 - 2);
    // The buffer, sorted, as centroids of weight 1; then the closed sub-window.
    const raw = read.parts[0]!;
    expect([raw.length, raw.total, raw.min, raw.max, raw.sum]).toEqual([4, 4, -2, 1000, 1008]);
    expect(Array.from(raw.centroids.subarray(0, 8))).toEqual([-2, 1, 3, 1, 7, 1, 1000, 1]);
    expect(read.parts.map((p) => p.total)).toEqual([4, 300]);
    // A stats-only raw read agrees, and merges nothing either.
    const stats = h.read(5, false, undefined, true);
    expect([stats.count, stats.sum, stats.min, stats.max]).toEqual([
      read.count,
      read.sum,
      read.min,
      read.max,
    ]);
    // A read that merges gives the same statistics, and a new version of the digests.
    const merged = h.read(5);
    expect(h.buffered).toBe(0);
    expect(h.digestVersion).toBeGreaterThan(version);
    expect(merged.open).toBe(0);
    expect([merged.count, merged.sum, merged.min, merged.max]).toEqual([
      read.count,
      read.sum,
      read.min,
      read.max,
    ]);
    expect(merged.parts.map((p) => p.total)).toEqual([4, 300]);
  });

  it('leave the open sub-window whole for the sub-windows an export reads', () => {
    const { monitor } = setup();
    const h = monitor.histogram('h').bind() as unknown as HistogramSeries;
    for (const v of [1, 2, 3]) h.record(v);
    expect(monitor.getStats('h', { windowSeconds: 60 })?.count).toBe(3);
    expect(h.buffered).toBe(3);
    const snapshot = monitor.snapshot({ subWindows: { since: T0, open: true } });
    const series = snapshot.series.find((s) => s.name === 'h');
    if (series?.type !== 'histogram') throw new Error('no histogram series');
    const open = series.subWindows?.find((w) => w.open);
    expect(open?.count).toBe(3);
    expect(open?.sum).toBe(6);
    expect(Array.from(open?.centroids ?? [])).toEqual([1, 1, 2, 1, 3, 1]);
  });

  it('merge a buffer of more than 16 values first', () => {
    const { monitor } = setup();
    const h = monitor.histogram('h').bind() as unknown as HistogramSeries;
    for (let i = 0; i < 16; i++) h.record(i);
    expect(h.read(5, true, undefined, true).open).toBe(1);
    expect(h.buffered).toBe(16);
    h.record(16);
    const read = h.read(5, true, undefined, true);
    expect(h.buffered).toBe(0);
    expect([read.open, read.count, read.parts.length]).toEqual([0, 17, 1]);
  });

  it('change the digests only at a merge or a rotation', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind() as unknown as HistogramSeries;
    const v0 = h.digestVersion;
    h.record(1);
    monitor.getPercentiles('h', [0.5]);
    monitor.snapshot();
    expect(h.digestVersion).toBe(v0);
    for (let i = 0; i < 255; i++) h.record(i); // the 256th value merges the buffer
    expect(h.digestVersion).toBe(v0 + 1);
    clock.set(MIN);
    h.record(1); // the rotation closes the sub-window
    expect(h.digestVersion).toBe(v0 + 2);
  });

  it("answer as a read that merges first, within the digest's accuracy", () => {
    const { clock, monitor } = setup();
    const h = monitor.timer('t').bind() as unknown as HistogramSeries;
    let seed = 3;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let minute = 0; minute < 5; minute++) {
      for (let i = 0; i < 500; i++) h.record(10 + 90 * random() ** 2);
      clock.set((minute + 1) * MIN);
    }
    for (let i = 0; i < 12; i++) h.record(10 + 90 * random() ** 2);
    expect(h.buffered).toBe(12);
    const qs = [0.5, 0.9, 0.99];
    const raw = quantilesOfParts(h.read(5, true, undefined, true).parts, qs);
    expect(h.buffered).toBe(12);
    const merged = quantilesOfParts(h.read(5).parts, qs);
    for (let i = 0; i < qs.length; i++) {
      expect(Math.abs(raw[i]! - merged[i]!) / merged[i]!).toBeLessThan(0.01);
    }
  });
});

describe('every sub-window owns its digest (prom-client shares one across its ring)', () => {
  it('each window reflects only its own sub-windows', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('latency').bind();
    // Minute m gets the values 1000*m + 1 .. 1000*m + 100.
    const minutes = 8;
    for (let m = 0; m < minutes; m++) {
      clock.set(m * MIN);
      for (let i = 1; i <= 100; i++) h.record(1000 * m + i);
    }
    // Now in minute 7: the 60 s window is minutes 6-7, the 300 s window minutes 2-7.
    const w60 = statsOf(monitor, 'latency', 60);
    expect([w60.count, w60.min, w60.max]).toEqual([200, 6001, 7100]);
    const w300 = statsOf(monitor, 'latency', 300);
    expect([w300.count, w300.min, w300.max]).toEqual([600, 2001, 7100]);
    const w900 = statsOf(monitor, 'latency', 900);
    expect([w900.count, w900.min, w900.max]).toEqual([800, 1, 7100]);

    const [p0, p25, p50, p75, p100] = monitor.getPercentiles('latency', [0, 0.25, 0.5, 0.75, 1], {
      windowSeconds: 60,
    });
    expect(p0).toBe(6001);
    expect(p25).toBeGreaterThanOrEqual(6040);
    expect(p25).toBeLessThanOrEqual(6060);
    // The median of {6001..6100} U {7001..7100} is between the two ranges.
    expect(p50).toBeGreaterThanOrEqual(6100);
    expect(p50).toBeLessThanOrEqual(7001);
    expect(p75).toBeGreaterThanOrEqual(7040);
    expect(p75).toBeLessThanOrEqual(7060);
    expect(p100).toBe(7100);

    const [q50] = monitor.getPercentiles('latency', [0.5], { windowSeconds: 300 });
    // Minutes 2..7: the median sits between minute 4 and minute 5.
    expect(q50).toBeGreaterThanOrEqual(4100);
    expect(q50).toBeLessThanOrEqual(5001);
  });

  it("a rotated-out sub-window's values leave every window but stay in cumulative", () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('latency').bind();
    clock.set(0);
    for (let i = 0; i < 50; i++) h.record(1_000_000 + i); // an outage in minute 0
    for (let m = 1; m < 20; m++) {
      clock.set(m * MIN);
      for (let i = 0; i < 50; i++) h.record(10 + (i % 5));
    }
    // Minute 19: minute 0 is outside even the 900 s window (minutes 4..19).
    for (const w of [60, 300, 900]) {
      const s = statsOf(monitor, 'latency', w);
      expect(s.max, `${w} s window`).toBe(14);
      const [p99, p100] = monitor.getPercentiles('latency', [0.99, 1], { windowSeconds: w });
      expect(p99, `${w} s p99`).toBeLessThanOrEqual(14);
      expect(p100).toBe(14);
    }
    const c = statsOf(monitor, 'latency', 'cumulative');
    expect(c.count).toBe(1000);
    expect(c.max).toBe(1_000_049);
    const [cp99] = monitor.getPercentiles('latency', [0.99], { windowSeconds: 'cumulative' });
    expect(cp99).toBeGreaterThanOrEqual(1_000_000);
  });

  it('windows of two series never see each other', () => {
    const { clock, monitor } = setup();
    const a = monitor.histogram('h').bind({ s: 'a' });
    const b = monitor.histogram('h').bind({ s: 'b' });
    for (let m = 0; m < 5; m++) {
      clock.set(m * MIN);
      a.record(m);
      b.record(100 + m);
    }
    const sa = monitor.getStats('h', { tags: { s: 'a' }, windowSeconds: 300 })!;
    const sb = monitor.getStats('h', { tags: { s: 'b' }, windowSeconds: 300 })!;
    expect([sa.count, sa.min, sa.max]).toEqual([5, 0, 4]);
    expect([sb.count, sb.min, sb.max]).toEqual([5, 100, 104]);
  });
});

// ---------------------------------------------------------------------------
// A model-based property: random records and clock moves, every window compared with
// a list of (time, value) records. Few values per series, so every centroid holds one
// value and the window quantiles are exact.
// ---------------------------------------------------------------------------

interface Step {
  /** How far the clock moves before this step's records. */
  readonly advance: number;
  readonly values: readonly number[];
  readonly errors: readonly boolean[];
  /** Read every window after the step (a read flushes buffers). */
  readonly read: boolean;
}

const step: fc.Arbitrary<Step> = fc.record({
  advance: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 59_999 }),
    fc.integer({ min: 60_000, max: 6 * MIN }),
    fc.integer({ min: 14 * MIN, max: 40 * MIN }),
    fc.constantFrom(MIN, 5 * MIN, 15 * MIN, 16 * MIN),
  ),
  values: fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 5 }),
  errors: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  read: fc.boolean(),
});

type ClockMode = 'manual' | 'poll' | 'after-shutdown';

function makeClock(mode: ClockMode, start: number): { clock: Clock; set: (t: number) => void } {
  if (mode === 'poll') {
    let now = start;
    return { clock: { now: () => now }, set: (t) => (now = t) };
  }
  const manual = new ManualClock(start);
  return { clock: manual, set: (t) => manual.set(t) };
}

const QUERY_WINDOWS = [30, 60, 90, 120, 300, 600, 900, 'cumulative'] as const;
/** Rates divide by the covered time, at least one millisecond (see WindowRates). */
const MIN_COVERED_SECONDS = 0.001;

function checkWindows(
  monitor: Monitor,
  records: readonly { slot: number; value: number; error: boolean }[],
  now: number,
  createdMs: number,
): void {
  const slot = Math.floor(now / MIN);
  for (const w of QUERY_WINDOWS) {
    const from = w === 'cumulative' ? -Infinity : slot - Math.ceil(w / 60);
    const inWindow = records.filter((r) => r.slot >= from);
    const values = inWindow.map((r) => r.value).sort((a, b) => a - b);
    const count = values.length;
    const stats = monitor.getStats('model', { windowSeconds: w })!;
    const label = `window ${w} at ${now}`;
    expect(stats.count, label).toBe(count);
    expect(stats.errors, label).toBe(inWindow.filter((r) => r.error).length);
    expect(stats.sum, label).toBe(values.reduce((a, b) => a + b, 0));
    if (count === 0) {
      expect(stats.min, label).toBeNaN();
      expect(stats.max, label).toBeNaN();
      expect(stats.mean, label).toBeNaN();
    } else {
      expect(stats.min, label).toBe(values[0]);
      expect(stats.max, label).toBe(values[count - 1]);
    }
    const startMs = w === 'cumulative' ? createdMs : Math.max(from * MIN, createdMs);
    const covered = (now - startMs) / 1000;
    expect(stats.coveredSeconds, label).toBeCloseTo(covered, 9);
    expect(stats.perSecond, label).toBeCloseTo(count / Math.max(MIN_COVERED_SECONDS, covered), 9);
    expect(stats.errorRate, label).toBe(count === 0 ? 0 : stats.errors / count);
    const qs = values.map((_, k) => (k + 0.5) / count);
    const estimates = monitor.getPercentiles('model', qs, { windowSeconds: w });
    expect(estimates, label).toEqual(values);
  }
}

describe('windows against a model of every record', () => {
  it.each<[ClockMode, string, number]>([
    ['manual', '2024', T0],
    ['poll', '2024', T0],
    ['after-shutdown', '2024', T0],
    ['manual', 'the epoch', 0],
  ])(
    'every window holds exactly the records of its sub-windows (%s clock, from %s)',
    async (mode, _from, base) => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 100 * MIN }),
          fc.array(step, { minLength: 1, maxLength: 12 }),
          async (offset, steps) => {
            const start = base + offset;
            const { clock, set } = makeClock(mode, start);
            const monitor = new Monitor({ clock });
            if (mode === 'after-shutdown') await monitor.shutdown();
            const h = monitor.timer('model').bind();
            const createdMs = start;
            let now = start;
            const records: { slot: number; value: number; error: boolean }[] = [];
            for (const s of steps) {
              now += s.advance;
              set(now);
              s.values.forEach((value, i) => {
                const error = s.errors[i] === true;
                if (error) h.recordError(value);
                else h.record(value);
                records.push({ slot: Math.floor(now / MIN), value, error });
              });
              if (s.read) checkWindows(monitor, records, now, createdMs);
            }
            checkWindows(monitor, records, now, createdMs);
            await monitor.shutdown();
          },
        ),
        { seed: 4242, numRuns: 150 },
      );
    },
  );
});

describe('windowed accuracy', () => {
  it('a window read is as accurate as its sub-windows (lognormal, 20k values a minute)', () => {
    let a = 12345;
    const random = (): number => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const gaussian = (): number =>
      Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const { clock, monitor } = setup();
    const h = monitor.timer('latency').bind();
    const perMinute: number[][] = [];
    for (let m = 0; m < 10; m++) {
      clock.set(m * MIN + 1000);
      const values: number[] = [];
      // Each minute a little slower than the one before.
      for (let i = 0; i < 20_000; i++) values.push(Math.exp(Math.log(50 + 10 * m) + gaussian()));
      for (const v of values) h.record(v);
      perMinute.push(values);
    }
    const snapshot = monitor.snapshot().series.find((x) => x.name === 'latency');
    if (snapshot?.type !== 'timer') throw new Error('no timer in the snapshot');
    const check = (windowSeconds: number | 'cumulative', minutes: number[][]): void => {
      const all = Float64Array.from(minutes.flat()).sort();
      const qs = [0.5, 0.9, 0.99];
      const estimates = monitor.getPercentiles('latency', qs, { windowSeconds });
      const window =
        windowSeconds === 'cumulative'
          ? snapshot.cumulative
          : snapshot.windows.find((w) => w.windowSeconds === windowSeconds)!;
      qs.forEach((q, i) => {
        const exact = all[Math.ceil(q * all.length) - 1]!;
        const relative = Math.abs(estimates[i]! - exact) / exact;
        expect
          .soft(relative, `getPercentiles ${windowSeconds} p${q * 100}`)
          .toBeLessThanOrEqual(0.005);
        const fromSnapshot = Math.abs(window.digest!.quantile(q) - exact) / exact;
        expect
          .soft(fromSnapshot, `snapshot ${windowSeconds} p${q * 100}`)
          .toBeLessThanOrEqual(0.005);
      });
      const stats = monitor.getStats('latency', { windowSeconds })!;
      expect(stats.count).toBe(all.length);
      expect(stats.min).toBe(all[0]);
      expect(stats.max).toBe(all[all.length - 1]);
    };
    check(60, perMinute.slice(8));
    check(300, perMinute.slice(4));
    check(900, perMinute);
    check('cumulative', perMinute);
  });
});
