/**
 * `mixtureQuantiles` finds the exact mixture's quantiles by a search over the parts'
 * boundaries; `Mixture` builds every knot of the mixture's CDF in one sweep. They
 * must agree, ties, point masses and single-sample parts included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DigestPart, mixtureQuantiles } from './centroids.js';
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
          const got = mixtureQuantiles(parts, qs);
          for (let i = 0; i < qs.length; i++) {
            const q = qs[i]!;
            const expected = mixture.quantile(q);
            if (close(got[i]!, expected)) continue;
            // A target that falls exactly on a knot's rank may land on either side of
            // it by rounding (the sweep sums ranks across parts, the search per part):
            // then the answer must lie between the quantiles just below and above.
            const lo = mixture.quantile(Math.max(0, q - 1e-9));
            const hi = mixture.quantile(Math.min(1, q + 1e-9));
            if (!(got[i]! >= Math.min(lo, hi) - 1e-12 && got[i]! <= Math.max(lo, hi) + 1e-12)) {
              throw new Error(`q=${q}: got ${got[i]}, Mixture gives ${expected} (${lo}..${hi})`);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
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
    const got = mixtureQuantiles([rounded, other], [0, 0.1, 0.3, 0.5, 0.9, 1]);
    expect(got[0]).toBe(0.7);
    expect(got[5]).toBe(2);
    for (const v of got) expect(v >= 0.7 && v <= 2).toBe(true);
    expect([...got].sort((a, b) => a - b)).toEqual(got);
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
    expect(mixtureQuantiles([empty, empty], [0.5])).toEqual([NaN]);
    const one = partOf([1, 2, 3, 4, 5], 100);
    const two = partOf([10, 20], 100);
    expect(mixtureQuantiles([empty, one, empty, two], [0, 0.5, 1])).toEqual(
      [0, 0.5, 1].map((q) => new Mixture([one, two]).quantile(q)),
    );
    expect(mixtureQuantiles([one, two], [0, 1])).toEqual([1, 20]);
  });
});
