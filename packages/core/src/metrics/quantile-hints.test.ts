/**
 * A snapshot starts each window's quantile search from the answers of the series' last
 * snapshot (`HistogramSeries.quantileHints`). Whatever those were (a few samples ago,
 * before a sub-window closed, before the data moved), the answers must be the ones a
 * read without them gives: `getPercentiles`, which sweeps from the top.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import { HistogramSeries } from './histogram-series.js';

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** A repeatable generator of numbers in [0, 1) (a linear congruential one). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** The quantiles `visitSeries` reads of the (last) histogram over `windowSeconds`. */
function visitedQuantiles(monitor: Monitor, windowSeconds: number): number[] {
  let got: number[] = [];
  monitor.visitSeries(
    { windowSeconds },
    {
      counter() {},
      gauge() {},
      distribution(_s, reading) {
        got = [...reading.values];
      },
    },
  );
  return got;
}

describe('snapshot quantiles started from the last snapshot', () => {
  it('equal an unguided read after new samples, closed sub-windows and a shift of the data', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0));
    const monitor = new Monitor({ clock, windows: [60, 300, 900] });
    const timer = monitor.timer('t', { component: 'c' });
    const random = seeded(7);
    const qs = monitor.snapshotQuantiles;
    let compared = 0;
    for (let step = 0; step < 120; step++) {
      // The data drifts upwards, then jumps (step 80): guesses fall far from answers.
      const shift = step < 80 ? step : 5000;
      const n = 1 + Math.floor(random() * (step % 7 === 0 ? 400 : 5));
      for (let i = 0; i < n; i++) {
        const v = shift + 100 * random() ** 3;
        // Ties and point masses too: some values repeat exactly.
        timer.record(i % 5 === 0 ? Math.round(v) : v);
      }
      const snapshot = monitor.snapshot({ digests: false });
      const series = snapshot.series.find((s) => s.name === 't');
      if (series?.type !== 'timer') throw new Error('no timer series');
      for (const w of series.windows) {
        const want = monitor.getPercentiles('t', qs, {
          component: 'c',
          windowSeconds: w.windowSeconds,
        });
        for (let i = 0; i < qs.length; i++) {
          const got = w.quantiles[i]!.value;
          if (!close(got, want[i]!)) {
            throw new Error(`step ${step}, ${w.windowSeconds} s, q=${qs[i]}: ${got} != ${want[i]}`);
          }
          compared++;
        }
      }
      const cumulative = monitor.getPercentiles('t', qs, {
        component: 'c',
        windowSeconds: 'cumulative',
      });
      series.cumulative.quantiles.forEach((q, i) =>
        expect(close(q.value, cumulative[i]!)).toBe(true),
      );
      clock.advance(step % 3 === 0 ? 20_000 : 7_000);
    }
    expect(compared).toBe(120 * 3 * qs.length);
  });
});

describe('the closed sub-windows remembered between snapshots', () => {
  // Each snapshot keeps, per window and quantile, the closed sub-windows' ranks at its
  // answer (`HistogramSeries.quantileMemo`): the next one reads only the open
  // sub-window when its answer did not move. Whatever the sequence of samples, ticks
  // and reads, every answer must still be the unguided one.
  it('leave every answer as an unguided read gives it', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            // Small integers repeat: point masses, the answers that stay put.
            values: fc.array(
              fc.oneof(
                fc.integer({ min: 0, max: 40 }),
                fc.double({ min: 0, max: 1000, noNaN: true }),
              ),
              { maxLength: 30 },
            ),
            advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 90_000 })),
            visit: fc.boolean(),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (steps) => {
          const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0));
          const monitor = new Monitor({ clock, windows: [60, 300] });
          const timer = monitor.timer('t', { component: 'c' });
          const qs = monitor.snapshotQuantiles;
          for (const step of steps) {
            for (const v of step.values) timer.record(v);
            for (const windowSeconds of [60, 300]) {
              let got: readonly number[] = [];
              if (step.visit) got = visitedQuantiles(monitor, windowSeconds);
              else {
                const series = monitor
                  .snapshot({ windows: [windowSeconds], digests: false })
                  .series.find((s) => s.name === 't');
                if (series?.type === 'timer')
                  got = series.windows[0]!.quantiles.map((q) => q.value);
              }
              const want = monitor.getPercentiles('t', qs, { component: 'c', windowSeconds });
              if (got.length === 0) continue; // no series yet
              for (let i = 0; i < qs.length; i++) {
                if (!close(got[i]!, want[i]!)) {
                  throw new Error(`${windowSeconds} s, q=${qs[i]}: ${got[i]} != ${want[i]}`);
                }
              }
            }
            clock.advance(step.advanceMs);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is kept per series beside the guesses, and counted in its memory', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0));
    const monitor = new Monitor({ clock, windows: [60, 300] });
    const timer = monitor.timer('t', { component: 'c' });
    for (let i = 0; i < 100; i++) timer.record(i % 10);
    clock.advance(60_000);
    timer.record(3);
    const before = monitor.snapshot({ digests: false });
    const after = monitor.snapshot({ digests: false });
    const values = (s: typeof before): number[] =>
      s.series.flatMap((x) =>
        x.type === 'timer' ? x.windows.flatMap((w) => w.quantiles.map((q) => q.value)) : [],
      );
    expect(values(after)).toEqual(values(before));
    const series = timer.bind() as unknown as HistogramSeries;
    expect(series).toBeInstanceOf(HistogramSeries);
    // Two windows and cumulative, five quantiles: a key, six numbers per quantile (the
    // point read, two sums, the flat stretch around it), (cursor, weight above it, the
    // digest's id) per digest of up to six for the lowest quantile, and for the two
    // lowest quantiles the stretch one boundary further each way (two pairs).
    const rowSize = 1 + 6 * 5 + 3 * 6 + 4 * 2;
    expect(series.quantileMemo?.length).toBe(3 * rowSize);
    // The digests' ranks were remembered at the answers of the 300 s window, under the
    // version of the digests they were read from: the snapshots merged nothing (the
    // sample recorded last is still in the buffer, read as a part of its own).
    const row = 1 * rowSize;
    expect(series.buffered).toBe(1);
    const memo = series.quantileMemo!;
    expect(memo[row]).toBe(series.digestVersion);
    const median = series.quantileHints![1 * 5 + 0]!;
    expect(memo[row + 1]).toBe(median);
    // The median's cursor in the one digest (the closed minute; the buffered sample is
    // the raw part before it): how many of its means are at or below the median, and
    // the weight of the centroids from there up.
    const parts = series.read(5, true, undefined, true).parts;
    expect(parts).toHaveLength(2);
    const digest = parts[1]!;
    let below = 0;
    let above = 0;
    for (let j = 0; j < digest.length; j++) {
      if (digest.centroids[2 * j]! <= median) below++;
      else above += digest.centroids[2 * j + 1]!;
    }
    expect(below).toBeGreaterThan(0);
    expect(below).toBeLessThan(digest.length);
    const cursors = row + 1 + 6 * 5;
    expect(memo[cursors]).toBe(below);
    expect(memo[cursors + 1]).toBe(above);
    // Named by the closed minute's sub-window number (its id): the same id, the same
    // centroids.
    const minute = Date.UTC(2024, 0, 15, 14, 0, 0) / 60_000;
    expect(digest.id).toBe(minute);
    expect(memo[cursors + 2]).toBe(minute);
    // The slot of a second digest names none.
    expect(memo[cursors + 3 + 2]).toBeNaN();
    // Samples enough to be merged into the open sub-window: the digests' version, the
    // key, changes, and the remembered ranks go; the closed minute's cursor stays, for
    // the next read to start from.
    for (let i = 0; i < 40; i++) timer.record(i % 10);
    const merged = monitor.snapshot({ digests: false });
    for (const x of merged.series) {
      if (x.type !== 'timer') continue;
      for (const w of x.windows) {
        const want = monitor.getPercentiles(
          't',
          w.quantiles.map((q) => q.quantile),
          { component: 'c', windowSeconds: w.windowSeconds as number },
        );
        w.quantiles.forEach((q, i) => expect(close(q.value, want[i]!)).toBe(true));
      }
    }
    expect(memo[row]).toBe(series.digestVersion);
    const open = series.read(5, true, undefined, true).parts;
    // The open sub-window's id is negative and new with each merge; the closed one's stays.
    expect(open.map((p) => p.id)).toEqual([-1 - series.digestVersion, minute]);
    const openCursor = memo.subarray(cursors, cursors + 6);
    expect([openCursor[2], openCursor[5]]).toEqual([-1 - series.digestVersion, minute]);
    // A closed digest's top boundary comes with it: the walk need not read its end.
    expect(digest.top).toBe(
      Math.max(digest.max, digest.centroids[2 * digest.length - 2]!, digest.min),
    );
    expect(series.retainedBytes()).toBeGreaterThanOrEqual(
      series.quantileMemo!.byteLength + series.quantileHints!.byteLength,
    );
  });
});

describe('the stretch one boundary beyond the flat one', () => {
  it('answers a median and a 90th percentile that moved past it as an unguided read, scrape after scrape', () => {
    // A scrape's pattern: five closed minutes of single samples (point masses, so the
    // digests' CDF is flat between them) and a sample or two before each read, which
    // moves the median a knot up or down every other read. The two lowest quantiles
    // remember the digests' boundaries one further each way (d2, u2); a move onto
    // them is answered from the memo, and must be the unguided answer.
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0));
    const monitor = new Monitor({ clock, windows: [60, 300] });
    const timer = monitor.timer('t', { component: 'c' });
    const random = seeded(11);
    for (let minute = 0; minute < 6; minute++) {
      for (let i = 0; i < 60; i++) timer.record(5 + 500 * random() ** 3);
      if (minute < 5) clock.advance(60_000);
    }
    const series = timer.bind() as unknown as HistogramSeries;
    const qs = monitor.snapshotQuantiles;
    const rowSize = 1 + 6 * qs.length + 3 * 6 + 4 * 2;
    // The 300 s window's row; its extensions after the quantiles and the cursors.
    const extensions = rowSize + 1 + 6 * qs.length + 3 * 6;
    let extended = 0;
    for (let read = 0; read < 80; read++) {
      const n = 1 + (read % 2);
      for (let i = 0; i < n; i++) timer.record(5 + 500 * random() ** 3);
      const got = visitedQuantiles(monitor, 300);
      const want = monitor.getPercentiles('t', qs, { component: 'c', windowSeconds: 300 });
      got.forEach((value, i) => {
        if (!close(value, want[i]!))
          throw new Error(`read ${read}, q=${qs[i]}: ${value} != ${want[i]}`);
      });
      const memo = series.quantileMemo!;
      for (let j = 0; j < 8; j += 2) if (!Number.isNaN(memo[extensions + j]!)) extended++;
    }
    // The extensions were there to be used (not NaN every time): boundaries were kept.
    expect(extended).toBeGreaterThan(80);
  });
});

describe("a window's first read", () => {
  it('starts from the answers of a window read before, and answers as a read from scratch', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0));
    const monitor = new Monitor({ clock, windows: [60, 300, 900] });
    const timer = monitor.timer('t', { component: 'c' });
    for (let minute = 0; minute < 8; minute++) {
      for (let i = 0; i < 200; i++) timer.record(((i * 7919) % 1000) / 3 + minute);
      clock.advance(60_000);
    }
    const series = timer.bind() as unknown as HistogramSeries;
    const qs = monitor.snapshotQuantiles;
    monitor.visitSeries({ windowSeconds: 300 }, { counter() {}, gauge() {}, distribution() {} });
    // Only the 300 s row has answers so far.
    expect(Number.isNaN(series.quantileHints![2 * qs.length])).toBe(true);
    const got = visitedQuantiles(monitor, 900);
    const want = monitor.getPercentiles('t', qs, { component: 'c', windowSeconds: 900 });
    got.forEach((value, i) => expect(close(value, want[i]!)).toBe(true));
    expect(got).not.toEqual(
      monitor.getPercentiles('t', qs, { component: 'c', windowSeconds: 300 }),
    );
  });
});
