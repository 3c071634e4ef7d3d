import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DigestPart, quantileOf, quantileOfUnion } from './centroids.js';
import { TDigest } from './tdigest.js';

/** The reference: every centroid of the parts in one list sorted by mean. */
function sortedUnion(parts: readonly DigestPart[]): { centroids: Float64Array; length: number } {
  const pairs: [number, number][] = [];
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) pairs.push([p.centroids[2 * i]!, p.centroids[2 * i + 1]!]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return { centroids: Float64Array.from(pairs.flat()), length: pairs.length };
}

/** A part from a digest of `values` (its own copy of the centroids). */
function partOf(values: readonly number[], compression: number): DigestPart {
  const digest = new TDigest({ compression });
  for (const v of values) digest.add(v);
  const json = digest.toJSON();
  const centroids = Float64Array.from(json.centroids);
  return {
    centroids,
    length: centroids.length / 2,
    total: digest.count,
    sum: digest.sum,
    min: digest.min,
    max: digest.max,
  };
}

describe('quantileOfUnion: quantiles of many parts without building their union', () => {
  it('reads the union exactly as quantileOf reads the merged centroid list', () => {
    fc.assert(
      fc.property(
        // Distinct values: with ties, the order of equal means in the union is arbitrary
        // and single samples may be read on either side of each other.
        fc
          .tuple(
            fc.uniqueArray(
              fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
              {
                minLength: 1,
                maxLength: 2000,
                comparator: (x, y) => x === y,
              },
            ),
            fc.integer({ min: 1, max: 12 }),
          )
          .map(([values, k]) =>
            Array.from({ length: k }, (_, g) => values.filter((_, i) => i % k === g)),
          ),
        fc.constantFrom(20, 100, 200),
        (groups, compression) => {
          const parts = groups.filter((g) => g.length > 0).map((g) => partOf(g, compression));
          const union = sortedUnion(parts);
          const merged = union.centroids.slice(0, 2 * union.length);
          let total = 0;
          let min = Infinity;
          let max = -Infinity;
          for (const p of parts) {
            total += p.total;
            min = Math.min(min, p.min);
            max = Math.max(max, p.max);
          }
          for (const q of [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]) {
            const expected = quantileOf(merged, union.length, total, min, max, q);
            const got = quantileOfUnion(parts, q);
            if (Number.isNaN(expected)) expect(got).toBeNaN();
            else
              expect(Math.abs(got - expected)).toBeLessThanOrEqual(
                1e-9 * Math.max(1, Math.abs(expected), max - min),
              );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles empty parts, one centroid, and the extremes', () => {
    expect(quantileOfUnion([], 0.5)).toBeNaN();
    const one = partOf([5, 5, 5], 100);
    expect(quantileOfUnion([one], 0)).toBe(5);
    expect(quantileOfUnion([one, partOf([1], 100)], 0)).toBe(1);
    expect(quantileOfUnion([one, partOf([9], 100)], 1)).toBe(9);
    const a = partOf(
      Array.from({ length: 1000 }, (_, i) => i),
      100,
    );
    const b = partOf(
      Array.from({ length: 1000 }, (_, i) => 1000 + i),
      100,
    );
    expect(Math.abs(quantileOfUnion([a, b], 0.99) - 1980)).toBeLessThan(5);
    expect(Math.abs(quantileOfUnion([a, b], 0.01) - 20)).toBeLessThan(5);
  });
});
