import { describe, expect, it } from 'vitest';
import { fitLine, median, medianAndMad } from './stats.js';
import { classifyTrend, classifyUsagePattern, hourlyProfile } from './trends.js';
import { gaussian, rng } from './test-support.js';

function series(n: number, f: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

describe('fitLine, median, MAD', () => {
  it('fits an exact line with an infinite t, skipping NaN', () => {
    const fit = fitLine([0, 1, 2, 3, 4], [1, 3, NaN, 7, 9]);
    expect(fit.n).toBe(4);
    expect(fit.slope).toBeCloseTo(2, 12);
    expect(fit.intercept).toBeCloseTo(1, 12);
    expect(fit.tStatistic).toBe(Infinity);
    expect(fitLine([0, 1, 2], [5, 5, 5]).tStatistic).toBe(0);
    expect(Number.isNaN(fitLine([0, 1], [1, 2]).slope)).toBe(true);
  });

  it('computes the t-statistic of a noisy slope', () => {
    // y = x + e with e alternating ±1: slope 1, SE small, t large.
    const xs = series(20, (i) => i);
    const ys = xs.map((x, i) => x + (i % 2 === 0 ? 1 : -1));
    const fit = fitLine(xs, ys);
    expect(fit.slope).toBeCloseTo(1, 1);
    expect(fit.tStatistic).toBeGreaterThan(20);
  });

  it('median and MAD ignore NaN and resist an outlier', () => {
    expect(median([3, 1, NaN, 2])).toBe(2);
    expect(medianAndMad([10, 11, 9, 10, 50])).toEqual({ median: 10, mad: 1 });
    expect(Number.isNaN(median([]))).toBe(true);
  });
});

describe('classifyTrend', () => {
  const noise = (seed: number, sd: number): (() => number) => {
    const g = gaussian(rng(seed));
    return () => g() * sd;
  };

  it('calls rising latency degrading, falling improving, flat stable', () => {
    const e = noise(1, 2);
    expect(classifyTrend(series(60, (i) => 100 + i + e())).direction).toBe('degrading');
    expect(classifyTrend(series(60, (i) => 200 - i + e())).direction).toBe('improving');
    expect(classifyTrend(series(60, () => 100 + e())).direction).toBe('stable');
    expect(classifyTrend(series(60, () => 100)).direction).toBe('stable');
  });

  it('flips for higher-is-better series', () => {
    expect(
      classifyTrend(
        series(60, (i) => 100 + i),
        { higherIsBetter: true },
      ).direction,
    ).toBe('improving');
  });

  it('classifies correctly across 100 noisy seeds each', () => {
    const counts = { rising: 0, falling: 0, flat: 0, noisy: 0 };
    for (let seed = 1; seed <= 100; seed++) {
      const e = noise(seed, 10);
      // +40% over the hour under noise of sd 10 ms around 150 ms.
      if (classifyTrend(series(60, (i) => 150 + i + e())).direction === 'degrading')
        counts.rising++;
      if (classifyTrend(series(60, (i) => 210 - i + e())).direction === 'improving')
        counts.falling++;
      if (classifyTrend(series(60, () => 150 + e())).direction === 'stable') counts.flat++;
      // Heavy noise (sd 40% of the mean) with no trend.
      const big = noise(seed + 1000, 60);
      if (classifyTrend(series(60, () => 150 + big())).direction === 'stable') counts.noisy++;
    }
    expect(counts.rising).toBeGreaterThanOrEqual(98);
    expect(counts.falling).toBeGreaterThanOrEqual(98);
    expect(counts.flat).toBeGreaterThanOrEqual(98);
    expect(counts.noisy).toBeGreaterThanOrEqual(98);
  });

  it('needs a relevant change: a significant 2% drift is stable', () => {
    const fit = classifyTrend(series(60, (i) => 1000 + i * 0.3));
    expect(fit.tStatistic).toBeGreaterThan(1e6);
    expect(fit.relativeChange).toBeCloseTo((0.3 * 59) / (1000 + 0.3 * 29.5), 6);
    expect(fit.direction).toBe('stable');
  });

  it('honours the absolute floor and the minimum of points', () => {
    const rates = series(60, (i) => 0.0001 + i * 0.00001);
    expect(classifyTrend(rates).direction).toBe('degrading');
    expect(classifyTrend(rates, { minAbsoluteChange: 0.005 }).direction).toBe('stable');
    const sparse = series(60, (i) => (i % 10 === 0 ? 100 + i * 10 : NaN));
    expect(classifyTrend(sparse).points).toBe(6);
    expect(classifyTrend(sparse).direction).toBe('stable');
  });
});

describe('usage pattern', () => {
  const base = (peaks: Record<number, number>): number[] =>
    Array.from({ length: 24 }, (_, h) => peaks[h] ?? 100);

  it('names the spec example: business hours with an evening peak', () => {
    const profile = base({ 9: 200, 10: 250, 11: 250, 13: 300, 14: 500, 15: 480, 20: 450, 21: 470 });
    expect(classifyUsagePattern(profile)).toEqual({
      peak_hours: ['14:00-16:00', '20:00-22:00'],
      pattern: 'business_hours_with_evening_peak',
    });
  });

  it('names business hours, evening, overnight, steady, irregular and too little data', () => {
    expect(classifyUsagePattern(base({ 10: 400, 11: 420 })).pattern).toBe('business_hours');
    expect(classifyUsagePattern(base({ 19: 400 })).pattern).toBe('evening_peak');
    expect(classifyUsagePattern(base({ 2: 400, 3: 400 })).pattern).toBe('overnight_peak');
    expect(classifyUsagePattern(base({ 3: 400, 11: 400 })).pattern).toBe('irregular');
    expect(classifyUsagePattern(base({ 12: 120 }))).toEqual({ peak_hours: [], pattern: 'steady' });
    const sparse = base({}).map((v, h) => (h < 10 ? v : NaN));
    expect(classifyUsagePattern(sparse).pattern).toBe('insufficient_data');
  });

  it('merges a peak across midnight', () => {
    expect(classifyUsagePattern(base({ 23: 400, 0: 400, 1: 400 })).peak_hours).toEqual([
      '23:00-02:00',
    ]);
  });

  it('folds hourly history into hours of the day, in local time', () => {
    const start = Date.UTC(2024, 0, 15, 0);
    const values = new Float64Array(48).map((_, i) => (i % 24 === 14 ? 500 : 100));
    values[3] = NaN;
    const profile = hourlyProfile({ startMs: start, stepMs: 3_600_000, values });
    expect(profile[14]).toBe(500);
    expect(profile[3]).toBe(100);
    expect(hourlyProfile({ startMs: start, stepMs: 3_600_000, values }, 120)[16]).toBe(500);
  });
});
