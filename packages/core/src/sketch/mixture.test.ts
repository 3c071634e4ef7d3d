/**
 * `mixtureQuantiles` finds the exact mixture's quantiles by a search over the parts'
 * boundaries; `Mixture` builds every knot of the mixture's CDF in one sweep. They
 * must agree, ties, point masses and single-sample parts included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DigestPart,
  guidedQuantiles,
  mixtureQuantiles,
  searchQuantiles,
  sweepQuantiles,
} from './centroids.js';
import { Mixture } from './test-support-mixture.js';
import { TDigest } from './tdigest.js';

function partOf(values: readonly number[], compression: number): DigestPart {
  const digest = new TDigest({ compression });
  for (const v of values) digest.add(v);
  const centroids = Float64Array.from(digest.toJSON().centroids);
  return {
    centroids,
    length: centroids.length / 2,
    total: digest.count,
    sum: digest.sum,
    min: digest.min,
    max: digest.max,
  };
}

const QS = [0, 1e-9, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1 - 1e-9, 1];

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** `got` must be Mixture's quantiles of `qs`, up to a target tied with a knot's rank. */
function expectMixture(
  mixture: Mixture,
  qs: readonly number[],
  got: readonly number[],
  name: string,
): void {
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i]!;
    const expected = mixture.quantile(q);
    if (close(got[i]!, expected)) continue;
    // A target that falls exactly on a knot's rank may land on either side of it by
    // rounding (the sweep sums ranks across parts, the search per part): then the
    // answer must lie between the quantiles just below and above.
    const lo = mixture.quantile(Math.max(0, q - 1e-9));
    const hi = mixture.quantile(Math.min(1, q + 1e-9));
    if (!(got[i]! >= Math.min(lo, hi) - 1e-12 && got[i]! <= Math.max(lo, hi) + 1e-12)) {
      throw new Error(`${name} q=${q}: got ${got[i]}, Mixture gives ${expected} (${lo}..${hi})`);
    }
  }
}

describe('mixtureQuantiles', () => {
  it('gives the quantiles of Mixture, for any parts (ties and repeated values included)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.oneof(
              fc.integer({ min: -50, max: 50 }), // many ties, point masses
              // No subnormals: a piece a few 1e-308 wide has an infinite density, and
              // the sweep of Mixture then answers outside the data (the search does not).
              fc.integer({ min: -1e9, max: 1e9 }).map((v) => v / 1024),
            ),
            { minLength: 1, maxLength: 400 },
          ),
          { minLength: 1, maxLength: 16 },
        ),
        fc.constantFrom(20, 100, 200),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        (groups, compression, extra) => {
          const parts = groups.map((g) => partOf(g, compression));
          const qs = [...QS, ...extra];
          const mixture = new Mixture(parts);
          for (const read of [sweepQuantiles, searchQuantiles]) {
            expectMixture(mixture, qs, read(parts, qs), read.name);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same quantiles from any guesses (guidedQuantiles), and leaves its answers as the next guesses', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.oneof(
              fc.integer({ min: -50, max: 50 }),
              fc.integer({ min: -1e9, max: 1e9 }).map((v) => v / 1024),
            ),
            { minLength: 1, maxLength: 300 },
          ),
          { minLength: 1, maxLength: 12 },
        ),
        fc.constantFrom(20, 100, 200),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }),
        fc.boolean(),
        (groups, compression, extra, where, onKnots) => {
          const parts = groups.map((g) => partOf(g, compression));
          const qs = [...QS, ...extra];
          const mixture = new Mixture(parts);
          // Guesses anywhere: around the data (a little beyond its extremes too), or on
          // a centroid mean or an extreme of some part (a knot, where point masses and
          // ties sit).
          const knots = parts.flatMap((p) => [
            p.min,
            p.max,
            ...Array.from(p.centroids.filter((_, i) => i % 2 === 0)),
          ]);
          const hints = new Float64Array(qs.length + 2).fill(-1);
          for (let i = 0; i < qs.length; i++) {
            const r = where[i % where.length]!;
            hints[i + 1] = onKnots
              ? knots[Math.floor(r * knots.length) % knots.length]!
              : mixture.min + (1.2 * r - 0.1) * (mixture.max - mixture.min);
          }
          const got = guidedQuantiles(parts, qs, hints, 1);
          expectMixture(mixture, qs, got, 'guided');
          // The answers are left as the guesses (the rest of the hints untouched); read
          // again from them, they are the mixture's quantiles again (a target tied with
          // a knot's rank by rounding may land on the other side of it this time).
          expect(Array.from(hints.subarray(1, qs.length + 1))).toEqual(got);
          expect(hints[0]).toBe(-1);
          expect(hints[qs.length + 1]).toBe(-1);
          const again = guidedQuantiles(parts, qs, hints, 1);
          expectMixture(mixture, qs, again, 'guided again');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('falls back to the sweep without a guess, and walks in from a guess outside the data', () => {
    const parts = [partOf([1, 2, 3, 4, 5], 100), partOf([10, 20, 30], 100)];
    const qs = [0.3, 0.5, 0.99];
    const want = sweepQuantiles(parts, qs);
    for (const guess of [NaN, Infinity, -Infinity]) {
      const hints = Float64Array.of(guess, 3, 3);
      expect(guidedQuantiles(parts, qs, hints, 0)).toEqual(want);
      expect(Array.from(hints)).toEqual(want);
    }
    for (const guess of [-1e6, -1, 0.5, 31, 1e6]) {
      const got = guidedQuantiles(parts, qs, Float64Array.of(guess, guess, guess), 0);
      expectMixture(new Mixture(parts), qs, got, `from ${guess}`);
    }
  });

  it('reads a single-precision part whose rounded mean falls outside its extremes', () => {
    // Closed sub-windows keep means as Float32: 0.7 rounds down to 0.69999998...
    const rounded: DigestPart = {
      centroids: Float32Array.from([0.7, 1, 2, 1]),
      length: 2,
      total: 2,
      sum: 2.7,
      min: 0.7,
      max: 2,
    };
    const other = partOf([1, 1.5], 100);
    for (const read of [sweepQuantiles, searchQuantiles]) {
      const got = read([rounded, other], [0, 0.1, 0.3, 0.5, 0.9, 1]);
      expect(got[0]).toBe(0.7);
      expect(got[5]).toBe(2);
      for (const v of got) expect(v >= 0.7 && v <= 2).toBe(true);
      expect([...got].sort((a, b) => a - b)).toEqual(got);
    }
  });

  it('skips empty parts and is NaN when every part is empty', () => {
    const empty: DigestPart = {
      centroids: new Float64Array(0),
      length: 0,
      total: 0,
      sum: 0,
      min: Infinity,
      max: -Infinity,
    };
    for (const read of [mixtureQuantiles, sweepQuantiles, searchQuantiles]) {
      expect(read([empty, empty], [0.5])).toEqual([NaN]);
      const one = partOf([1, 2, 3, 4, 5], 100);
      const two = partOf([10, 20], 100);
      expect(read([empty, one, empty, two], [0, 0.5, 1])).toEqual(
        [0, 0.5, 1].map((q) => new Mixture([one, two]).quantile(q)),
      );
      expect(read([one, two], [0, 1])).toEqual([1, 20]);
    }
  });
});
