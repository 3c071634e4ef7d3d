/**
 * A snapshot starts each window's quantile search from the answers of the series' last
 * snapshot (`HistogramSeries.quantileHints`). Whatever those were (a few samples ago,
 * before a sub-window closed, before the data moved), the answers must be the ones a
 * read without them gives: `getPercentiles`, which sweeps from the top.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

describe('snapshot quantiles started from the last snapshot', () => {
  it('equal an unguided read after new samples, closed sub-windows and a shift of the data', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0));
    const monitor = new Monitor({ clock, windows: [60, 300, 900] });
    const timer = monitor.timer('t', { component: 'c' });
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
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
