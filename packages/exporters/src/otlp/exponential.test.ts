/**
 * The exponential histogram built from centroids: bucket bounds, the scale that fits
 * `maxSize`, zero and negative values, whole counts.
 */
import { describe, expect, it } from 'vitest';

import {
  exponentialFromCentroids,
  exponentialIndex,
  exponentialLowerBound,
} from './exponential.js';

describe('exponentialIndex', () => {
  it('puts powers of two at the top of their bucket: (base^i, base^(i+1)]', () => {
    expect(exponentialIndex(1, 0)).toBe(-1);
    expect(exponentialIndex(8, 0)).toBe(2);
    expect(exponentialIndex(8.000001, 0)).toBe(3);
    expect(exponentialIndex(2, 3)).toBe(7);
    expect(exponentialIndex(4, -1)).toBe(0);
    expect(exponentialIndex(4.5, -1)).toBe(1);
  });

  it('brackets values at every scale', () => {
    for (const scale of [-10, -3, 0, 1, 5, 12, 20]) {
      for (const v of [1e-300, 0.001, 0.3, 1, 1.5, 7, 1000, 123456.789, 1e300]) {
        const i = exponentialIndex(v, scale);
        expect(exponentialLowerBound(i, scale), `${v} at ${scale}`).toBeLessThan(v);
        expect(v).toBeLessThanOrEqual(exponentialLowerBound(i + 1, scale));
      }
    }
  });
});

describe('exponentialFromCentroids', () => {
  it('empty: nothing counted, scale 20', () => {
    expect(exponentialFromCentroids([])).toEqual({
      count: 0,
      scale: 20,
      zeroCount: 0,
      positive: { offset: 0, bucketCounts: [] },
      negative: { offset: 0, bucketCounts: [] },
    });
  });

  it('one value: one bucket at scale 20', () => {
    const h = exponentialFromCentroids([5, 3]);
    expect(h.scale).toBe(20);
    expect(h.positive.bucketCounts).toEqual([3]);
    expect(h.positive.offset).toBe(exponentialIndex(5, 20));
    expect(h.count).toBe(3);
  });

  it('zeros, negatives and rounded weights', () => {
    const h = exponentialFromCentroids([-4, 1, -1, 2, 0, 2, 1, 1.0000001, 4, 1]);
    expect(h.count).toBe(7);
    expect(h.zeroCount).toBe(2);
    expect(h.negative.bucketCounts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(h.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(2);
    // Both sides span 1..4 (two octaves): 2 · 2^scale + 1 buckets <= 160 at scale 6.
    expect(h.scale).toBe(6);
    expect(h.negative.offset).toBe(exponentialIndex(1, 6));
    expect(h.negative.bucketCounts).toHaveLength(129);
  });

  it('keeps each side within maxSize buckets, at the finest such scale', () => {
    for (const maxSize of [2, 4, 20, 160]) {
      const centroids = [1e-5, 1, 3, 1, 1e9, 1];
      const h = exponentialFromCentroids(centroids, maxSize);
      expect(h.positive.bucketCounts.length).toBeLessThanOrEqual(maxSize);
      const span = (scale: number) =>
        exponentialIndex(1e9, scale) - exponentialIndex(1e-5, scale) + 1;
      expect(span(h.scale)).toBe(h.positive.bucketCounts.length);
      expect(span(h.scale + 1)).toBeGreaterThan(maxSize);
    }
  });

  it('stops at scale -10 for the widest ranges', () => {
    const h = exponentialFromCentroids([Number.MIN_VALUE, 1, Number.MAX_VALUE, 1], 2);
    expect(h.scale).toBeGreaterThanOrEqual(-10);
    expect(h.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(2);
  });
});
