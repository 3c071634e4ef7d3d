import { describe, expect, it } from 'vitest';
import { classifyTrend, DEFAULT_TREND_RULE, resolveTrendRule } from './trend.js';

/** A seeded normal-ish noise source (sum of uniforms). */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let sum = 0;
    for (let i = 0; i < 6; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      sum += s / 2 ** 32;
    }
    return sum - 3; // mean 0, sd ~0.71
  };
}

const xs = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('classifyTrend', () => {
  const rule = DEFAULT_TREND_RULE;

  it('sees a rising series as increasing and a falling one as decreasing', () => {
    expect(classifyTrend(xs(7), [100, 104, 109, 111, 118, 120, 126], rule)).toBe('increasing');
    expect(classifyTrend(xs(7), [126, 120, 118, 111, 109, 104, 100], rule)).toBe('decreasing');
    expect(classifyTrend(xs(4), [1, 2, 3, 4], rule)).toBe('increasing');
  });

  it('sees a flat series as stable', () => {
    expect(classifyTrend(xs(7), [50, 50, 50, 50, 50, 50, 50], rule)).toBe('stable');
    expect(classifyTrend(xs(7), [0, 0, 0, 0, 0, 0, 0], rule)).toBe('stable');
  });

  it('sees noise around a level as stable, for many seeds', () => {
    let stable = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = noise(seed);
      const y = xs(7).map(() => 100 + 10 * r());
      if (classifyTrend(xs(7), y, rule) === 'stable') stable++;
    }
    // |t| >= 2 with 5 degrees of freedom happens ~10% of the time by chance, and the
    // 2% change rule removes most of those.
    expect(stable).toBeGreaterThanOrEqual(180);
  });

  it('sees a trend through noise when it is strong enough', () => {
    let rising = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const r = noise(seed);
      const y = xs(14).map((i) => 100 + 3 * i + 4 * r());
      if (classifyTrend(xs(14), y, rule) === 'increasing') rising++;
    }
    expect(rising).toBeGreaterThanOrEqual(98);
  });

  it('is not a two-point comparison: a spike at the end of a flat series stays stable', () => {
    expect(classifyTrend(xs(7), [100, 101, 99, 100, 101, 99, 130], rule)).toBe('stable');
    // ... while last-against-previous would call it increasing.
  });

  it('calls a regular but tiny change stable (below minRelativeChange)', () => {
    const y = xs(7).map((i) => 1000 + i * 0.1);
    expect(classifyTrend(xs(7), y, rule)).toBe('stable');
    expect(classifyTrend(xs(7), y, { ...rule, minRelativeChange: 0 })).toBe('increasing');
  });

  it('needs three points', () => {
    expect(classifyTrend([0, 1], [1, 100], rule)).toBe('stable');
  });
});

describe('resolveTrendRule', () => {
  it('throws a TypeError naming a bad field', () => {
    expect(() => resolveTrendRule({ periods: 2 }, 'trend')).toThrow(/trend\.periods/);
    expect(() => resolveTrendRule({ minTStatistic: -1 }, 'trend')).toThrow(/trend\.minTStatistic/);
    expect(() => resolveTrendRule({ minRelativeChange: NaN }, 'trend')).toThrow(
      /trend\.minRelativeChange/,
    );
    expect(() => resolveTrendRule({ window: 3 }, 'trend')).toThrow(/unknown option window/);
    expect(resolveTrendRule({ periods: 14 }, 'trend').periods).toBe(14);
  });
});
