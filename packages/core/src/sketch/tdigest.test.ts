import fc from 'fast-check';
import reference from 'tdigest';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { TDigest, type TDigestJSON } from './tdigest.js';

// ---------------------------------------------------------------------------
// Helpers: a seeded generator, sample distributions, exact ranks.
// ---------------------------------------------------------------------------

/** mulberry32: a small, fast, seeded PRNG returning [0, 1). */
function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Continuous distributions (no atoms, no gaps), in several arrival orders. */
const SMOOTH = [
  'uniform',
  'normal',
  'lognormal',
  'exponential',
  'pareto',
  'ascending',
  'descending',
] as const;
/** Distributions with atoms or a wide gap: interpolation between centroids is coarse there. */
const GAPPED = ['discrete', 'bimodal'] as const;
type Distribution = (typeof SMOOTH)[number] | (typeof GAPPED)[number];

function sample(distribution: Distribution, n: number, seed: number): number[] {
  const r = prng(seed);
  const draw: Record<Distribution, () => number> = {
    uniform: () => r() * 1000,
    normal: () => gaussian(r) * 10 - 5,
    lognormal: () => Math.exp(4 + gaussian(r)),
    exponential: () => -Math.log(1 - r()) * 50,
    pareto: () => Math.pow(1 - r(), -1 / 1.2),
    ascending: () => r() * 100,
    descending: () => r() * 100,
    discrete: () => Math.floor(r() * 20),
    bimodal: () => (r() < 0.8 ? 10 + gaussian(r) : 1000 + 50 * gaussian(r)),
  };
  const values = Array.from({ length: n }, draw[distribution]);
  if (distribution === 'ascending') values.sort((a, b) => a - b);
  if (distribution === 'descending') values.sort((a, b) => b - a);
  return values;
}

function digestOf(values: readonly number[], compression?: number): TDigest {
  const digest = new TDigest(compression === undefined ? {} : { compression });
  for (const v of values) digest.add(v);
  return digest;
}

/** Number of entries of ascending `sorted` that are < x (strict) or <= x. */
function countBelow(sorted: Float64Array, x: number, inclusive: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x || (inclusive && sorted[mid] === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * How far `q` is from the exact ranks of `estimate`: the exact CDF at the estimate is
 * anywhere in [count(< est) / n, count(<= est) / n] (ties), and the error is the
 * distance from q to that interval.
 */
function rankError(sorted: Float64Array, estimate: number, q: number): number {
  const n = sorted.length;
  const lo = countBelow(sorted, estimate, false) / n;
  const hi = countBelow(sorted, estimate, true) / n;
  const error = q < lo ? lo - q : q > hi ? q - hi : 0;
  // Rounded to 1e-9 so that, say, 0.995 - 0.994 compares equal to 0.001.
  return Math.round(error * 1e9) / 1e9;
}

/** Same for a CDF estimate at x: the distance from `p` to the exact CDF interval at x. */
function cdfError(sorted: Float64Array, x: number, p: number): number {
  return rankError(sorted, x, p);
}

/** The nearest-rank exact quantile of ascending `sorted`. */
function exactQuantile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
}

const MIDDLE_QS = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);
const TAIL_QS = [0.001, 0.002, 0.005, 0.995, 0.998, 0.999];

/** A digest of the reference `tdigest` package, made deterministic (it shuffles with Math.random). */
function referenceDigest(values: readonly number[], seed: number): reference.TDigest {
  const spy = vi.spyOn(Math, 'random').mockImplementation(prng(seed));
  try {
    const ref = new reference.TDigest();
    ref.push(values);
    ref.compress();
    return ref;
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------------------

describe('TDigest: small inputs are exact', () => {
  const smallIntegers = fc.array(fc.integer({ min: -1_000_000, max: 1_000_000 }), {
    minLength: 1,
    maxLength: 10,
  });

  it('count, sum, min, max and mean are exact', () => {
    fc.assert(
      fc.property(smallIntegers, (values) => {
        const d = digestOf(values);
        const sum = values.reduce((a, b) => a + b, 0);
        expect(d.count).toBe(values.length);
        expect(d.sum).toBe(sum);
        expect(d.min).toBe(Math.min(...values));
        expect(d.max).toBe(Math.max(...values));
        expect(d.mean).toBe(sum / values.length);
      }),
      { seed: 1, numRuns: 300 },
    );
  });

  it('quantiles at the sample points return the samples themselves', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), {
          minLength: 1,
          maxLength: 10,
        }),
        (values) => {
          const d = digestOf(values);
          const sorted = Float64Array.from(values).sort();
          const n = sorted.length;
          for (let k = 0; k < n; k++) {
            expect(d.quantile((k + 0.5) / n)).toBe(sorted[k]);
          }
          expect(d.quantile(0)).toBe(sorted[0]);
          expect(d.quantile(1)).toBe(sorted[n - 1]);
        },
      ),
      { seed: 2, numRuns: 300 },
    );
  });

  it('any quantile of a small input is a sample between the lower and upper order statistics', () => {
    fc.assert(
      fc.property(
        smallIntegers,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
        (values, qs) => {
          const d = digestOf(values);
          const sorted = Float64Array.from(values).sort();
          const n = sorted.length;
          for (const q of qs) {
            const lower = sorted[Math.max(0, Math.ceil(q * n) - 1)]!;
            const upper = sorted[Math.min(n - 1, Math.floor(q * n))]!;
            const estimate = d.quantile(q);
            expect(values).toContain(estimate);
            expect(estimate).toBeGreaterThanOrEqual(lower);
            expect(estimate).toBeLessThanOrEqual(upper);
          }
        },
      ),
      { seed: 3, numRuns: 300 },
    );
  });

  it('stays exact when read (flushed) after every add', () => {
    fc.assert(
      fc.property(smallIntegers, (values) => {
        const d = new TDigest();
        const seen: number[] = [];
        for (const v of values) {
          d.add(v);
          seen.push(v);
          const sorted = Float64Array.from(seen).sort();
          for (let k = 0; k < sorted.length; k++) {
            expect(d.quantile((k + 0.5) / sorted.length)).toBe(sorted[k]);
          }
          expect(d.count).toBe(seen.length);
          expect(d.min).toBe(sorted[0]);
          expect(d.max).toBe(sorted[sorted.length - 1]);
        }
      }),
      { seed: 4, numRuns: 200 },
    );
  });

  it('matches the documented example', () => {
    const d = digestOf([12, 15, 11, 240, 13]);
    expect(d.quantile(0.5)).toBe(13);
    expect(d.quantiles([0, 0.5, 1])).toEqual([11, 13, 240]);
  });

  it('a single value is every quantile', () => {
    const d = digestOf([42.5]);
    for (const q of [0, 0.001, 0.25, 0.5, 0.99, 1]) expect(d.quantile(q)).toBe(42.5);
    expect(d.mean).toBe(42.5);
    expect(d.cdf(42.4)).toBe(0);
    expect(d.cdf(42.5)).toBe(1);
  });
});

describe('TDigest: empty digests and bad values', () => {
  it('an empty digest answers NaN and counts zero', () => {
    const d = new TDigest();
    expect(d.count).toBe(0);
    expect(d.sum).toBe(0);
    expect(d.min).toBeNaN();
    expect(d.max).toBeNaN();
    expect(d.mean).toBeNaN();
    expect(d.quantile(0.5)).toBeNaN();
    expect(d.quantiles([0, 0.5, 1])).toEqual([NaN, NaN, NaN]);
    expect(d.cdf(0)).toBeNaN();
    expect(d.centroidCount).toBe(0);
  });

  it.each([NaN, Infinity, -Infinity])('add(%s) is ignored and returns false', (bad) => {
    const d = new TDigest();
    expect(d.add(1)).toBe(true);
    expect(d.add(bad)).toBe(false);
    expect(d.add(3)).toBe(true);
    expect(d.count).toBe(2);
    expect(d.sum).toBe(4);
    expect(d.min).toBe(1);
    expect(d.max).toBe(3);
    expect(d.quantile(0.25)).toBe(1);
    expect(d.quantile(0.75)).toBe(3);
  });

  it('never lets a non-finite value poison a large digest', () => {
    const d = new TDigest();
    const r = prng(99);
    for (let i = 0; i < 5000; i++) {
      d.add(r() * 100);
      if (i % 7 === 0) expect(d.add(i % 2 === 0 ? NaN : Infinity)).toBe(false);
    }
    expect(d.count).toBe(5000);
    expect(Number.isFinite(d.sum)).toBe(true);
    expect(Number.isFinite(d.quantile(0.5))).toBe(true);
    expect(d.max).toBeLessThan(100);
  });

  it('clamps q below 0 to the minimum and above 1 to the maximum', () => {
    const d = digestOf(sample('lognormal', 2000, 5));
    expect(d.quantile(-0.5)).toBe(d.min);
    expect(d.quantile(-Infinity)).toBe(d.min);
    expect(d.quantile(1.5)).toBe(d.max);
    expect(d.quantile(Infinity)).toBe(d.max);
    expect(d.quantiles([-1, 2])).toEqual([d.min, d.max]);
  });

  it.each([19.99, 10_000.5, 0, -200, NaN, Infinity])(
    'rejects compression %s with a TypeError naming the option',
    (compression) => {
      expect(() => new TDigest({ compression })).toThrow(TypeError);
      expect(() => new TDigest({ compression })).toThrow(/compression/);
    },
  );

  it('rejects a non-number compression', () => {
    expect(() => new TDigest({ compression: '200' as unknown as number })).toThrow(TypeError);
  });

  it('accepts the bounds of the compression range', () => {
    expect(new TDigest({ compression: 20 }).compression).toBe(20);
    expect(new TDigest({ compression: 10_000 }).compression).toBe(10_000);
    expect(new TDigest().compression).toBe(200);
  });
});

describe('TDigest: accuracy against exact quantiles', () => {
  const smoothCase = fc.record({
    distribution: fc.constantFrom(...SMOOTH),
    n: fc.integer({ min: 1000, max: 20_000 }),
    seed: fc.integer(),
  });

  it('rank error <= 0.01 for q in [0.01, 0.99] and <= 0.001 at the tails (smooth data)', () => {
    fc.assert(
      fc.property(smoothCase, ({ distribution, n, seed }) => {
        const values = sample(distribution, n, seed);
        const d = digestOf(values);
        const sorted = Float64Array.from(values).sort();
        for (const q of MIDDLE_QS) {
          expect(rankError(sorted, d.quantile(q), q), `q=${q}`).toBeLessThanOrEqual(0.01);
        }
        for (const q of TAIL_QS) {
          expect(rankError(sorted, d.quantile(q), q), `q=${q}`).toBeLessThanOrEqual(0.001);
        }
        expect(d.count).toBe(n);
        expect(d.min).toBe(sorted[0]);
        expect(d.max).toBe(sorted[n - 1]);
      }),
      { seed: 101, numRuns: 40 },
    );
  });

  it('with 100k samples the extreme tails are within 0.0002 in rank', () => {
    for (const distribution of ['lognormal', 'pareto', 'normal'] as const) {
      const values = sample(distribution, 100_000, 7);
      const d = digestOf(values);
      const sorted = Float64Array.from(values).sort();
      for (const q of [0.0001, 0.0005, 0.001, 0.999, 0.9995, 0.9999]) {
        expect(rankError(sorted, d.quantile(q), q), `${distribution} q=${q}`).toBeLessThanOrEqual(
          0.0002,
        );
      }
    }
  });

  // With atoms (many equal values) or a wide gap between modes, an estimate that falls
  // between two centroid means can land between atoms or inside the gap; its rank error
  // is then bounded by the weight of the two centroids it interpolates between (each at
  // most 3% of the total at compression 200), so the bound is looser.
  it('rank error stays within two middle centroids (<= 0.06) on discrete and bimodal data', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...GAPPED),
        fc.integer({ min: 1000, max: 20_000 }),
        fc.integer(),
        (distribution, n, seed) => {
          const values = sample(distribution, n, seed);
          const d = digestOf(values);
          const sorted = Float64Array.from(values).sort();
          for (const q of MIDDLE_QS) {
            expect(rankError(sorted, d.quantile(q), q), `q=${q}`).toBeLessThanOrEqual(0.06);
          }
          for (const q of TAIL_QS) {
            expect(rankError(sorted, d.quantile(q), q), `q=${q}`).toBeLessThanOrEqual(0.001);
          }
        },
      ),
      { seed: 102, numRuns: 20 },
    );
  });

  it('quantile is monotone in q', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SMOOTH, ...GAPPED),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer(),
        (distribution, n, seed) => {
          const d = digestOf(sample(distribution, n, seed));
          let previous = -Infinity;
          for (let i = 0; i <= 1000; i++) {
            const v = d.quantile(i / 1000);
            expect(v).toBeGreaterThanOrEqual(previous);
            previous = v;
          }
          expect(d.quantile(0)).toBe(d.min);
          expect(d.quantile(1)).toBe(d.max);
        },
      ),
      { seed: 103, numRuns: 40 },
    );
  });

  it('200k lognormal latencies: relative error <= 0.5% at p50/p90/p99 and <= 1% at p99.9', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = prng(seed);
      const n = 200_000;
      const values = new Float64Array(n);
      // Median 100 ms, sigma 1: p99 is about 10x the median.
      for (let i = 0; i < n; i++) values[i] = Math.exp(Math.log(100) + gaussian(r));
      const d = new TDigest();
      for (let i = 0; i < n; i++) d.add(values[i]!);
      const sorted = values.slice().sort();
      const relative = (q: number): number => {
        const exact = exactQuantile(sorted, q);
        return Math.abs(d.quantile(q) - exact) / exact;
      };
      expect(relative(0.5), `seed ${seed} p50`).toBeLessThanOrEqual(0.005);
      expect(relative(0.9), `seed ${seed} p90`).toBeLessThanOrEqual(0.005);
      expect(relative(0.99), `seed ${seed} p99`).toBeLessThanOrEqual(0.005);
      expect(relative(0.999), `seed ${seed} p99.9`).toBeLessThanOrEqual(0.01);
      expect(d.count).toBe(n);
      expect(d.min).toBe(sorted[0]);
      expect(d.max).toBe(sorted[n - 1]);
      // Compact: a couple of hundred centroids, not thousands.
      expect(d.centroidCount).toBeLessThanOrEqual(250);
    }
  });
});

describe('TDigest: agreement with the reference `tdigest` package', () => {
  it('both estimates are close to exact and to each other (smooth data)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SMOOTH),
        fc.integer({ min: 1000, max: 20_000 }),
        fc.integer(),
        (distribution, n, seed) => {
          const values = sample(distribution, n, seed);
          const ours = digestOf(values);
          const ref = referenceDigest(values, seed ^ 0x5eed);
          const sorted = Float64Array.from(values).sort();
          for (const q of [...MIDDLE_QS, ...TAIL_QS]) {
            const mine = ours.quantile(q);
            const theirs = ref.percentile(q);
            const tail = q < 0.01 || q > 0.99;
            // Tails: two samples' worth at the smallest n (the reference is a sample off
            // at times); our own tail bound (0.001) is tested above.
            const tolerance = tail ? 0.002 : 0.01;
            // The reference is within tolerance of exact: the harness is sound.
            expect(rankError(sorted, theirs, q), `reference q=${q}`).toBeLessThanOrEqual(tolerance);
            expect(rankError(sorted, mine, q), `ours q=${q}`).toBeLessThanOrEqual(tolerance);
            if (!tail) {
              // Each other: within half the value span of q +- 0.01 in rank.
              const span =
                exactQuantile(sorted, Math.min(1, q + 0.01)) -
                exactQuantile(sorted, Math.max(0, q - 0.01));
              expect(Math.abs(mine - theirs), `q=${q}: ${mine} vs ${theirs}`).toBeLessThanOrEqual(
                0.5 * span,
              );
            }
          }
        },
      ),
      { seed: 104, numRuns: 25 },
    );
  });

  it('agrees with the reference on min and max (q = 0 and q = 1)', () => {
    const values = sample('exponential', 5000, 3);
    const ref = referenceDigest(values, 3);
    const ours = digestOf(values);
    expect(ours.quantile(0)).toBe(ref.percentile(0));
    expect(ours.quantile(1)).toBe(ref.percentile(1));
  });

  it('agrees with the reference cdf (p_rank) within 0.01', () => {
    for (const distribution of SMOOTH) {
      const values = sample(distribution, 10_000, 21);
      const ours = digestOf(values);
      const ref = referenceDigest(values, 21);
      const sorted = Float64Array.from(values).sort();
      for (const q of MIDDLE_QS) {
        const x = exactQuantile(sorted, q);
        expect(Math.abs(ours.cdf(x) - ref.p_rank(x)), `${distribution} x=${x}`).toBeLessThanOrEqual(
          0.01,
        );
      }
    }
  });
});

describe('TDigest: cdf', () => {
  it('is 0 below the minimum, 1 at and above the maximum, in [0, 1] and monotone', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SMOOTH, ...GAPPED),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer(),
        fc.array(fc.double({ noNaN: true }), { maxLength: 200 }),
        (distribution, n, seed, extra) => {
          const values = sample(distribution, n, seed);
          const d = digestOf(values);
          const sorted = Float64Array.from(values).sort();
          const xs = [...extra, ...values.slice(0, 200)];
          for (let i = 0; i <= 100; i++) xs.push(d.min + ((d.max - d.min) * i) / 100);
          xs.sort((a, b) => a - b);
          let previous = 0;
          for (const x of xs) {
            const p = d.cdf(x);
            expect(p).toBeGreaterThanOrEqual(previous);
            expect(p).toBeLessThanOrEqual(1);
            previous = p;
          }
          expect(d.cdf(sorted[0]! - 1)).toBe(0);
          expect(d.cdf(-Infinity)).toBe(0);
          expect(d.cdf(sorted[n - 1]!)).toBe(1);
          expect(d.cdf(Infinity)).toBe(1);
        },
      ),
      { seed: 105, numRuns: 60 },
    );
  });

  it('is close to the exact CDF and inverse-ish of quantile (smooth data)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SMOOTH),
        fc.integer({ min: 1000, max: 20_000 }),
        fc.integer(),
        (distribution, n, seed) => {
          const values = sample(distribution, n, seed);
          const d = digestOf(values);
          const sorted = Float64Array.from(values).sort();
          for (const q of MIDDLE_QS) {
            const x = exactQuantile(sorted, q);
            expect(cdfError(sorted, x, d.cdf(x)), `cdf at q=${q}`).toBeLessThanOrEqual(0.01);
            expect(Math.abs(d.cdf(d.quantile(q)) - q), `cdf(quantile(${q}))`).toBeLessThanOrEqual(
              0.01,
            );
          }
        },
      ),
      { seed: 106, numRuns: 30 },
    );
  });

  it('answers "what share finished within x" for a small sample', () => {
    // 1..10: the mid-rank convention puts sample k at (k - 0.5) / n, inside [(k-1)/n, k/n].
    const d = digestOf([3, 1, 4, 10, 5, 9, 2, 6, 8, 7]);
    for (let k = 1; k <= 9; k++) {
      expect(d.cdf(k)).toBeGreaterThanOrEqual((k - 1) / 10);
      expect(d.cdf(k)).toBeLessThanOrEqual(k / 10);
    }
    expect(d.cdf(0.5)).toBe(0);
    expect(d.cdf(10)).toBe(1);
  });
});

describe('TDigest: merge', () => {
  const parts = fc.record({
    distribution: fc.constantFrom(...SMOOTH),
    n: fc.integer({ min: 2000, max: 20_000 }),
    seed: fc.integer(),
    cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 6 }),
  });

  function split(values: readonly number[], cuts: readonly number[]): number[][] {
    const at = [0, ...cuts.map((c) => Math.floor(c * values.length)), values.length].sort(
      (a, b) => a - b,
    );
    const out: number[][] = [];
    for (let i = 1; i < at.length; i++) out.push(values.slice(at[i - 1], at[i]));
    return out;
  }

  it('merging digests of parts is about the digest of the whole', () => {
    fc.assert(
      fc.property(parts, ({ distribution, n, seed, cuts }) => {
        const values = sample(distribution, n, seed);
        const pieces = split(values, cuts).map((p) => digestOf(p));
        const whole = digestOf(values);
        const sorted = Float64Array.from(values).sort();
        for (const merged of [new TDigest().merge(...pieces), TDigest.mergeAll(pieces)]) {
          expect(merged.count).toBe(n);
          expect(merged.min).toBe(sorted[0]);
          expect(merged.max).toBe(sorted[n - 1]);
          expect(merged.sum).toBeCloseTo(whole.sum, 6);
          for (const q of MIDDLE_QS) {
            const m = merged.quantile(q);
            expect(rankError(sorted, m, q), `merged q=${q}`).toBeLessThanOrEqual(0.01);
            const span =
              exactQuantile(sorted, Math.min(1, q + 0.01)) -
              exactQuantile(sorted, Math.max(0, q - 0.01));
            expect(Math.abs(m - whole.quantile(q)), `merged vs whole q=${q}`).toBeLessThanOrEqual(
              span,
            );
          }
          for (const q of TAIL_QS) {
            expect(rankError(sorted, merged.quantile(q), q), `merged q=${q}`).toBeLessThanOrEqual(
              0.001,
            );
          }
        }
      }),
      { seed: 107, numRuns: 30 },
    );
  });

  it('merge into a non-empty digest returns this and adds everything', () => {
    const a = digestOf(sample('uniform', 3000, 1));
    const b = digestOf(sample('uniform', 2000, 2));
    const countA = a.count;
    const sumA = a.sum;
    expect(a.merge(b)).toBe(a);
    expect(a.count).toBe(countA + 2000);
    expect(a.sum).toBeCloseTo(sumA + b.sum, 6);
    // b is unchanged.
    expect(b.count).toBe(2000);
  });

  it('merging a digest with itself doubles every weight', () => {
    const values = sample('lognormal', 3000, 8);
    const d = digestOf(values);
    const median = d.quantile(0.5);
    d.merge(d);
    expect(d.count).toBe(6000);
    expect(d.sum).toBeCloseTo(2 * values.reduce((a, b) => a + b, 0), 6);
    const sorted = Float64Array.from([...values, ...values]).sort();
    expect(rankError(sorted, d.quantile(0.5), 0.5)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(d.quantile(0.5) - median) / median).toBeLessThanOrEqual(0.01);
  });

  it('merging with buffered (unflushed) values counts them', () => {
    const a = new TDigest();
    const b = new TDigest();
    for (let i = 0; i < 10; i++) {
      a.add(i);
      b.add(100 + i);
    }
    a.merge(b);
    expect(a.count).toBe(20);
    expect(a.min).toBe(0);
    expect(a.max).toBe(109);
    expect(a.sum).toBe(45 + 1045);
  });

  it('merging empty digests changes nothing; merging into an empty one copies', () => {
    const a = digestOf([1, 2, 3]);
    a.merge(new TDigest(), new TDigest());
    expect(a.count).toBe(3);
    expect(a.quantiles([0, 0.5, 1])).toEqual([1, 2, 3]);
    const empty = new TDigest().merge(a);
    expect(empty.count).toBe(3);
    expect(empty.quantiles([0, 0.5, 1])).toEqual([1, 2, 3]);
    expect(TDigest.mergeAll([]).count).toBe(0);
    expect(TDigest.mergeAll([]).quantile(0.5)).toBeNaN();
  });

  it('mergeAll keeps small inputs exact and leaves its inputs alone', () => {
    const a = digestOf([5, 1]);
    const b = digestOf([3]);
    const c = digestOf([4, 2]);
    const all = TDigest.mergeAll([a, b, c]);
    expect(all.count).toBe(5);
    expect(all.sum).toBe(15);
    for (let k = 0; k < 5; k++) expect(all.quantile((k + 0.5) / 5)).toBe(k + 1);
    expect(a.count).toBe(2);
    expect(b.count).toBe(1);
    expect(c.count).toBe(2);
  });

  it('mergeAll uses the highest compression among its inputs', () => {
    const low = digestOf([1, 2, 3], 50);
    const high = digestOf([4, 5, 6], 500);
    expect(TDigest.mergeAll([low, high]).compression).toBe(500);
    // "the highest among them": two digests of compression 100 merge at 100.
    const a = digestOf([1, 2], 100);
    const b = digestOf([3, 4], 100);
    expect(TDigest.mergeAll([a, b]).compression).toBe(100);
  });
});

describe('TDigest: toJSON / fromJSON', () => {
  it('round-trips exactly through JSON text', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SMOOTH, ...GAPPED),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer(),
        fc.constantFrom(50, 200, 1000),
        (distribution, n, seed, compression) => {
          const d = digestOf(sample(distribution, n, seed), compression);
          const json = d.toJSON();
          const back = TDigest.fromJSON(JSON.parse(JSON.stringify(json)) as TDigestJSON);
          expect(back.toJSON()).toEqual(json);
          expect(back.compression).toBe(compression);
          expect(back.count).toBe(n);
          for (const q of [0, 0.01, 0.5, 0.99, 1]) {
            if (n === 0) expect(back.quantile(q)).toBeNaN();
            else expect(back.quantile(q)).toBe(d.quantile(q));
          }
        },
      ),
      { seed: 108, numRuns: 60 },
    );
  });

  it('writes null extremes for an empty digest and reads them back', () => {
    const json = new TDigest().toJSON();
    expect(json).toEqual({
      compression: 200,
      count: 0,
      sum: 0,
      min: null,
      max: null,
      centroids: [],
    });
    const back = TDigest.fromJSON(json);
    expect(back.count).toBe(0);
    expect(back.quantile(0.5)).toBeNaN();
  });

  it('a rebuilt digest keeps merging', () => {
    const a = TDigest.fromJSON(digestOf([1, 2, 3]).toJSON());
    a.add(4);
    a.merge(TDigest.fromJSON(digestOf([5]).toJSON()));
    expect(a.count).toBe(5);
    expect(a.quantile(0.5)).toBe(3);
    expect(a.max).toBe(5);
  });

  const valid: TDigestJSON = {
    compression: 200,
    count: 3,
    sum: 6,
    min: 1,
    max: 3,
    centroids: [1, 1, 2, 1, 3, 1],
  };

  it('accepts a well-formed object', () => {
    const d = TDigest.fromJSON(valid);
    expect(d.quantiles([0, 0.5, 1])).toEqual([1, 2, 3]);
  });

  const malformed: [string, unknown][] = [
    ['null', null],
    ['a number', 42],
    ['unsorted centroids', { ...valid, centroids: [2, 1, 1, 1, 3, 1] }],
    ['an odd-length centroid array', { ...valid, centroids: [1, 1, 2] }],
    ['centroids that are not an array', { ...valid, centroids: '1,1' }],
    ['weights that do not add up to count', { ...valid, count: 4 }],
    ['a zero weight', { ...valid, count: 2, centroids: [1, 1, 2, 0, 3, 1] }],
    ['a negative weight', { ...valid, count: 1, centroids: [1, 1, 2, -1, 3, 1] }],
    ['a NaN mean', { ...valid, centroids: [1, 1, NaN, 1, 3, 1] }],
    ['an infinite mean', { ...valid, centroids: [1, 1, 2, 1, Infinity, 1] }],
    ['an infinite weight', { ...valid, count: Infinity, centroids: [1, 1, 2, Infinity, 3, 1] }],
    ['a string mean', { ...valid, centroids: [1, 1, '2', 1, 3, 1] }],
    ['a NaN count', { ...valid, count: NaN }],
    ['a NaN count on an empty digest', { ...valid, count: NaN, centroids: [], min: null }],
    ['a missing count', { ...valid, count: undefined }],
    ['a non-finite sum', { ...valid, sum: Infinity }],
    ['a NaN sum', { ...valid, sum: NaN }],
    ['a min above the first mean', { ...valid, min: 1.5 }],
    ['a max below the last mean', { ...valid, max: 2.5 }],
    ['a missing min', { ...valid, min: null }],
    ['a -Infinity min', { ...valid, min: -Infinity }],
    ['an Infinity max', { ...valid, max: Infinity }],
    ['a compression out of range', { ...valid, compression: 5 }],
  ];

  it.each(malformed)('rejects %s with a TypeError', (_what, json) => {
    expect(() => TDigest.fromJSON(json as TDigestJSON)).toThrow(TypeError);
  });
});
