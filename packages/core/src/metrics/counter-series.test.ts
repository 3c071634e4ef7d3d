import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { type Clock, ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';

const MIN = 60_000;
/** 2024-01-15T00:00Z, on a minute boundary. */
const T0 = Date.UTC(2024, 0, 15);
/** Rates divide by the covered time, at least one millisecond (see WindowRates). */
const MIN_COVERED_SECONDS = 0.001;

function setup(start = T0): { clock: ManualClock; monitor: Monitor } {
  const clock = new ManualClock(start);
  return { clock, monitor: new Monitor({ clock }) };
}

describe('counter windows and rates', () => {
  it('counts increments per window and in total', () => {
    const { clock, monitor } = setup();
    const c = monitor.counter('requests').bind();
    c.inc();
    c.inc(4);
    c.inc(0);
    clock.advance(MIN);
    c.inc(10);
    clock.advance(MIN);
    c.inc(100);
    const w60 = monitor.getRates('requests', { windowSeconds: 60 })!;
    expect(w60.count).toBe(110);
    expect(w60.errors).toBe(0);
    expect(w60.errorRate).toBe(0);
    expect(monitor.getRates('requests', { windowSeconds: 300 })!.count).toBe(115);
    expect(monitor.getRates('requests', { windowSeconds: 'cumulative' })!.count).toBe(115);
    const snap = monitor.snapshot().series.find((s) => s.name === 'requests');
    expect(snap?.type === 'counter' && snap.total).toBe(115);
  });

  it('perSecond and perMinute divide by the time the window covers', () => {
    const { clock, monitor } = setup(T0 - 10 * MIN);
    // Created 10 minutes before T0, so every window below is fully covered.
    const c = monitor.counter('jobs').bind();
    clock.set(T0);
    for (let i = 0; i < 120; i++) {
      clock.set(T0 + i * 1000);
      c.inc();
    }
    clock.set(T0 + 120_000); // sub-window 2 after T0 has just opened
    // The 60 s window: the open sub-window (0 s so far) + the one before: 60 s, 60 incs.
    const r60 = monitor.getRates('jobs', { windowSeconds: 60 })!;
    expect(r60.coveredSeconds).toBe(60);
    expect(r60.count).toBe(60);
    expect(r60.perSecond).toBe(1);
    expect(r60.perMinute).toBe(60);
    // 300 s: 5 closed sub-windows + the open one: 300 s, 120 incs.
    const r300 = monitor.getRates('jobs', { windowSeconds: 300 })!;
    expect(r300.coveredSeconds).toBe(300);
    expect(r300.count).toBe(120);
    expect(r300.perSecond).toBeCloseTo(0.4, 12);
    expect(r300.perMinute).toBeCloseTo(24, 12);
    clock.set(T0 + 150_000);
    const later = monitor.getRates('jobs', { windowSeconds: 60 })!;
    expect(later.coveredSeconds).toBe(90);
    expect(later.count).toBe(60);
    // Cumulative: since the series was created.
    const all = monitor.getRates('jobs', { windowSeconds: 'cumulative' })!;
    expect(all.coveredSeconds).toBe(750);
    expect(all.perSecond).toBeCloseTo(120 / 750, 12);
  });

  it('never counts time before the series existed (a series created mid-window)', () => {
    const { clock, monitor } = setup(T0 + 40_000);
    const c = monitor.counter('late').bind();
    c.inc(5);
    clock.set(T0 + 50_000);
    const r = monitor.getRates('late', { windowSeconds: 300 })!;
    expect(r.coveredSeconds).toBe(10);
    expect(r.perSecond).toBe(0.5);
    clock.set(T0 + 4 * MIN);
    expect(monitor.getRates('late', { windowSeconds: 300 })!.coveredSeconds).toBe(200);
    expect(monitor.getRates('late', { windowSeconds: 60 })!.coveredSeconds).toBe(60);
    expect(monitor.getRates('late', { windowSeconds: 'cumulative' })!.coveredSeconds).toBe(200);
  });

  it('a series read at the instant it was created divides by the minimum covered time', () => {
    const { monitor } = setup(T0 + 30_000);
    monitor.counter('now').bind().inc(3);
    const r = monitor.getRates('now', { windowSeconds: 60 })!;
    expect(r.coveredSeconds).toBe(0);
    expect(r.count).toBe(3);
    expect(r.perSecond).toBe(3 / MIN_COVERED_SECONDS);
    expect(Number.isFinite(r.perSecond)).toBe(true);
  });

  it('an empty window has zero rates, not NaN', () => {
    const { clock, monitor } = setup();
    monitor.counter('idle').bind().inc();
    clock.advance(10 * MIN);
    const r = monitor.getRates('idle', { windowSeconds: 60 })!;
    expect(r.count).toBe(0);
    expect(r.perSecond).toBe(0);
    expect(r.perMinute).toBe(0);
    expect(r.errorRate).toBe(0);
  });

  it('inc with tags resolves the series every call; bind once is the same series', () => {
    const { monitor } = setup();
    const counter = monitor.counter('http.requests', { component: 'api' });
    counter.inc(1, { status: '2xx' });
    counter.inc(2, { status: '2xx' });
    counter.inc(7, { status: '5xx' });
    counter.bind({ status: '2xx' }).inc();
    counter.inc();
    const q = (status?: string) =>
      monitor.getRates('http.requests', {
        component: 'api',
        windowSeconds: 'cumulative',
        ...(status === undefined ? {} : { tags: { status } }),
      })?.count;
    expect(q('2xx')).toBe(4);
    expect(q('5xx')).toBe(7);
    expect(q()).toBe(1);
  });

  it('fractional increments add up', () => {
    const { monitor } = setup();
    const c = monitor.counter('bytes').bind();
    c.inc(0.5);
    c.inc(0.25);
    expect(monitor.getRates('bytes', { windowSeconds: 60 })!.count).toBe(0.75);
  });

  it('snapshot windows carry rates at the snapshot timestamp', () => {
    const { clock, monitor } = setup();
    const c = monitor.counter('c').bind();
    c.inc(30);
    clock.advance(30_000);
    const snap = monitor.snapshot();
    const s = snap.series.find((x) => x.name === 'c');
    if (s?.type !== 'counter') throw new Error('no counter');
    expect(s.windows.map((w) => w.windowSeconds)).toEqual([60, 300, 900]);
    for (const w of s.windows) {
      expect(w.count).toBe(30);
      expect(w.coveredSeconds).toBe(30);
      expect(w.perSecond).toBe(1);
    }
  });
});

// ---------------------------------------------------------------------------
// Model-based: random increments and clock moves against a list of records.
// ---------------------------------------------------------------------------

interface Step {
  readonly advance: number;
  readonly increments: readonly number[];
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
  increments: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 5 }),
  read: fc.boolean(),
});

function check(
  monitor: Monitor,
  records: readonly { slot: number; value: number }[],
  now: number,
  createdMs: number,
): void {
  const slot = Math.floor(now / MIN);
  for (const w of [30, 60, 90, 300, 600, 900, 'cumulative'] as const) {
    const from = w === 'cumulative' ? -Infinity : slot - Math.ceil(w / 60);
    const count = records.filter((r) => r.slot >= from).reduce((a, r) => a + r.value, 0);
    const rates = monitor.getRates('model', { windowSeconds: w })!;
    const label = `window ${w} at ${now}`;
    expect(rates.count, label).toBe(count);
    const startMs = w === 'cumulative' ? createdMs : Math.max(from * MIN, createdMs);
    const covered = (now - startMs) / 1000;
    expect(rates.coveredSeconds, label).toBeCloseTo(covered, 9);
    expect(rates.perSecond, label).toBeCloseTo(count / Math.max(MIN_COVERED_SECONDS, covered), 6);
    expect(rates.perMinute, label).toBeCloseTo(rates.perSecond * 60, 6);
  }
}

describe('counter windows against a model', () => {
  it.each<['manual' | 'poll', string, number]>([
    ['manual', '2024', T0],
    ['poll', '2024', T0],
    ['manual', 'the epoch', 0],
  ])('every window holds exactly its increments (%s clock, from %s)', (mode, _from, base) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 * MIN }),
        fc.array(step, { minLength: 1, maxLength: 15 }),
        (offset, steps) => {
          let now = base + offset;
          const manual = new ManualClock(now);
          const clock: Clock = mode === 'manual' ? manual : { now: () => manual.now() };
          const monitor = new Monitor({ clock });
          const c = monitor.counter('model').bind();
          const createdMs = now;
          const records: { slot: number; value: number }[] = [];
          for (const s of steps) {
            now += s.advance;
            manual.set(now);
            for (const v of s.increments) {
              c.inc(v);
              records.push({ slot: Math.floor(now / MIN), value: v });
            }
            if (s.read) check(monitor, records, now, createdMs);
          }
          check(monitor, records, now, createdMs);
        },
      ),
      { seed: 777, numRuns: 150 },
    );
  });
});
