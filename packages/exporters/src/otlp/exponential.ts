/**
 * An OTLP exponential histogram built from a t-digest's centroids: each centroid's
 * weight goes to the bucket of its mean, at the finest scale (at most 20, at least
 * -10, as OpenTelemetry's) where the positive and the negative buckets each span at
 * most `maxSize` (160 by default, OpenTelemetry's) buckets. Pure arithmetic; imports
 * nothing.
 */

/** OpenTelemetry's largest and smallest exponential histogram scales. */
const MAX_SCALE = 20;
const MIN_SCALE = -10;

/**
 * An exponential histogram in the fields of OpenTelemetry's SDK (`ExponentialHistogram`
 * of `@opentelemetry/sdk-metrics`). Bucket `offset + k` holds the values in
 * `(base^(offset+k), base^(offset+k+1)]`, `base = 2^(2^-scale)`; negative values are
 * counted by their absolute value.
 *
 * @example
 * ```ts
 * const h: ExponentialBuckets = exponentialFromCentroids([1, 2, 10, 1], 160);
 * h.positive.bucketCounts.reduce((a, b) => a + b, 0) + h.zeroCount; // 3
 * ```
 */
export interface ExponentialBuckets {
  readonly count: number;
  readonly scale: number;
  readonly zeroCount: number;
  readonly positive: { offset: number; bucketCounts: number[] };
  readonly negative: { offset: number; bucketCounts: number[] };
}

/**
 * The lower bound of bucket `index` at `scale`: `2^(index * 2^-scale)`. Bucket
 * `index` holds `(lowerBound(index), lowerBound(index + 1)]`.
 *
 * @example
 * ```ts
 * exponentialLowerBound(3, 0); // 8
 * exponentialLowerBound(1, 1); // Math.SQRT2
 * ```
 */
export function exponentialLowerBound(index: number, scale: number): number {
  return 2 ** (index / 2 ** scale);
}

/**
 * The bucket holding `value` (> 0) at `scale`: the `i` with
 * `lowerBound(i) < value <= lowerBound(i + 1)`.
 *
 * @example
 * ```ts
 * exponentialIndex(8, 0); // 2: (4, 8]
 * exponentialIndex(9, 0); // 3: (8, 16]
 * ```
 */
export function exponentialIndex(value: number, scale: number): number {
  let index = Math.ceil(Math.log2(value) * 2 ** scale) - 1;
  // log2 rounds: settle on the bucket whose bounds (as computed) bracket the value.
  for (let i = 0; i < 4 && !(exponentialLowerBound(index + 1, scale) >= value); i++) index++;
  for (let i = 0; i < 4 && !(exponentialLowerBound(index, scale) < value); i++) index--;
  return index;
}

interface Side {
  readonly values: number[];
  readonly weights: number[];
}

/** The range of indexes the values span at `scale`, or 0 when there are none. */
function span(side: Side, scale: number): number {
  if (side.values.length === 0) return 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of side.values) {
    const i = exponentialIndex(v, scale);
    if (i < lo) lo = i;
    if (i > hi) hi = i;
  }
  return hi - lo + 1;
}

function buckets(side: Side, scale: number): { offset: number; bucketCounts: number[] } {
  if (side.values.length === 0) return { offset: 0, bucketCounts: [] };
  const indexes = side.values.map((v) => exponentialIndex(v, scale));
  const offset = Math.min(...indexes);
  const counts = new Array<number>(Math.max(...indexes) - offset + 1).fill(0);
  indexes.forEach((index, k) => {
    counts[index - offset]! += side.weights[k]!;
  });
  return { offset, bucketCounts: counts };
}

/**
 * Builds an exponential histogram from interleaved `[mean, weight, mean, weight...]`
 * centroids (what `TDigest.toJSON().centroids` gives): weights are rounded to whole
 * counts, a centroid of mean 0 counts as zero, and the scale is the largest (at most
 * 20) at which neither the positive nor the negative side needs more than `maxSize`
 * buckets. `count` is the sum of the rounded weights.
 *
 * @example
 * ```ts
 * const digest = snapshot.cumulative.digest;
 * const h = exponentialFromCentroids(digest?.toJSON().centroids ?? [], 160);
 * ```
 */
export function exponentialFromCentroids(
  centroids: readonly number[],
  maxSize = 160,
): ExponentialBuckets {
  const positive: Side = { values: [], weights: [] };
  const negative: Side = { values: [], weights: [] };
  let zeroCount = 0;
  let count = 0;
  for (let i = 0; i + 1 < centroids.length; i += 2) {
    const mean = centroids[i]!;
    const weight = Math.round(centroids[i + 1]!);
    if (!Number.isFinite(mean) || !(weight > 0)) continue;
    count += weight;
    if (mean === 0) zeroCount += weight;
    else {
      const side = mean > 0 ? positive : negative;
      side.values.push(Math.abs(mean));
      side.weights.push(weight);
    }
  }
  let scale = MAX_SCALE;
  if (positive.values.length + negative.values.length > 0) {
    // Halving the scale merges buckets pairwise: the span roughly halves each step.
    const widest = Math.max(span(positive, MAX_SCALE), span(negative, MAX_SCALE));
    if (widest > maxSize) {
      // One step finer than the estimate, which can be one too coarse; the loop settles.
      const estimate = MAX_SCALE - Math.ceil(Math.log2(widest / maxSize));
      scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, estimate + 1));
    }
    while (scale > MIN_SCALE && Math.max(span(positive, scale), span(negative, scale)) > maxSize) {
      scale--;
    }
  }
  return {
    count,
    scale,
    zeroCount,
    positive: buckets(positive, scale),
    negative: buckets(negative, scale),
  };
}
