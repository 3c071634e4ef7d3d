/**
 * The merging t-digest's two algorithms over centroid lists, kept free of classes so
 * the series code can run them on its own compact storage.
 *
 * A centroid list is an interleaved array `[mean0, weight0, mean1, weight1, ...]`
 * sorted by mean. Open windows use Float64Array; closed sub-windows are stored as
 * Float32Array (relative precision 6e-8, far below the sketch's own error) to halve
 * the memory of a series.
 */

/** A centroid list: interleaved means and weights, sorted by mean. */
export type CentroidArray = Float64Array | Float32Array;

/**
 * How wide a centroid may be at a given rank. The width in quantile space is
 * `min(cap, the step of a log-odds scale)`: the log-odds part (the t-digest "k2" scale)
 * keeps centroids tiny at both tails, which is what makes p99.9 accurate, and the cap
 * keeps the middle fine enough for 0.5% at the median, where plain k2 is coarse.
 *
 * @internal
 */
export interface Scale {
  /** `exp(-a)`: one step of the scale multiplies the odds `q / (1 - q)` by `exp(a)`. */
  readonly oddsStep: number;
  /** The widest a centroid may be, as a fraction of the total weight. */
  readonly cap: number;
}

/** Default compression: about 180 centroids at most for a million samples. */
export const DEFAULT_COMPRESSION = 200;

/**
 * Builds the scale for a compression factor. Higher compression means more, smaller
 * centroids: the centroid count grows linearly with it.
 *
 * @internal
 */
export function scaleFor(compression: number): Scale {
  return { oddsStep: Math.exp(-40 / compression), cap: 6 / compression };
}

/**
 * One greedy merge pass: walks two mean-sorted inputs in order and packs them into
 * centroids no wider than the scale allows, writing to `out` (interleaved, Float64).
 *
 * `a` holds weighted centroids. `b` holds weighted centroids when `bWeighted`, else raw
 * values of weight 1 (a sorted buffer). `total` must be the sum of every input weight.
 * `out` needs room for `2 * (aLength + bLength)` numbers. Returns the centroid count.
 *
 * @internal
 */
export function mergePass(
  a: CentroidArray,
  aLength: number,
  b: CentroidArray,
  bLength: number,
  bWeighted: boolean,
  total: number,
  scale: Scale,
  out: Float64Array,
): number {
  const oddsStep = scale.oddsStep;
  const cap = scale.cap;
  let outLength = 0;
  let mean = 0;
  let weight = 0;
  let weightSoFar = 0;
  // The first centroid holds the minimum alone.
  let limit = 1;
  let i = 0;
  let j = 0;
  while (i < aLength || j < bLength) {
    let m: number;
    let w: number;
    const bm = j < bLength ? (bWeighted ? b[2 * j]! : b[j]!) : Infinity;
    if (i < aLength && a[2 * i]! <= bm) {
      m = a[2 * i]!;
      w = a[2 * i + 1]!;
      i++;
    } else {
      m = bm;
      w = bWeighted ? b[2 * j + 1]! : 1;
      j++;
    }
    if (weight === 0) {
      mean = m;
      weight = w;
    } else if (weightSoFar + weight + w <= limit) {
      weight += w;
      mean += ((m - mean) * w) / weight;
    } else {
      out[2 * outLength] = mean;
      out[2 * outLength + 1] = weight;
      outLength++;
      weightSoFar += weight;
      const q = weightSoFar / total;
      let next = q / (q + (1 - q) * oddsStep);
      if (next > q + cap) next = q + cap;
      limit = next * total;
      if (limit < weightSoFar + 1) limit = weightSoFar + 1;
      mean = m;
      weight = w;
    }
  }
  if (weight > 0) {
    out[2 * outLength] = mean;
    out[2 * outLength + 1] = weight;
    outLength++;
  }
  return outLength;
}

/**
 * Merges two mean-sorted centroid lists without compressing them (every centroid is
 * kept), so a window read over several sub-windows loses no accuracy. Returns the
 * centroid count written to `out`.
 *
 * @internal
 */
export function unionSorted(
  a: CentroidArray,
  aLength: number,
  b: CentroidArray,
  bLength: number,
  out: Float64Array,
): number {
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < aLength && j < bLength) {
    if (a[2 * i]! <= b[2 * j]!) {
      out[2 * k] = a[2 * i]!;
      out[2 * k + 1] = a[2 * i + 1]!;
      i++;
    } else {
      out[2 * k] = b[2 * j]!;
      out[2 * k + 1] = b[2 * j + 1]!;
      j++;
    }
    k++;
  }
  for (; i < aLength; i++, k++) {
    out[2 * k] = a[2 * i]!;
    out[2 * k + 1] = a[2 * i + 1]!;
  }
  for (; j < bLength; j++, k++) {
    out[2 * k] = b[2 * j]!;
    out[2 * k + 1] = b[2 * j + 1]!;
  }
  return k;
}

/**
 * The value at quantile `q` (0..1) of a centroid list, interpolating between centroid
 * centres, treating weight-1 centroids as exact samples and using the exact minimum
 * and maximum at the ends. NaN when the list is empty.
 *
 * @internal
 */
export function quantileOf(
  c: CentroidArray,
  length: number,
  total: number,
  min: number,
  max: number,
  q: number,
): number {
  if (length === 0 || total <= 0) return NaN;
  if (q <= 0) return min;
  if (q >= 1) return max;
  if (length === 1) {
    // One centroid: all we know is its mean and the exact extremes.
    return interpolateEnds(c[0]!, total, min, max, q);
  }
  const index = q * total;
  if (index < 1) return min;
  const firstWeight = c[1]!;
  if (firstWeight > 2 && index < firstWeight / 2) {
    // One sample sits at the minimum; spread the rest of the first half-centroid.
    return min + ((index - 1) / (firstWeight / 2 - 1)) * (c[0]! - min);
  }
  if (index > total - 1) return max;
  const lastWeight = c[2 * length - 1]!;
  if (lastWeight > 2 && total - index <= lastWeight / 2) {
    return max - ((total - index - 1) / (lastWeight / 2 - 1)) * (max - c[2 * length - 2]!);
  }
  let weightSoFar = firstWeight / 2;
  for (let i = 0; i < length - 1; i++) {
    const leftWeight = c[2 * i + 1]!;
    const rightWeight = c[2 * i + 3]!;
    const dw = (leftWeight + rightWeight) / 2;
    if (weightSoFar + dw > index) {
      const leftMean = c[2 * i]!;
      const rightMean = c[2 * i + 2]!;
      let leftUnit = 0;
      if (leftWeight === 1) {
        if (index - weightSoFar < 0.5) return leftMean;
        leftUnit = 0.5;
      }
      let rightUnit = 0;
      if (rightWeight === 1) {
        if (weightSoFar + dw - index <= 0.5) return rightMean;
        rightUnit = 0.5;
      }
      const z1 = index - weightSoFar - leftUnit;
      const z2 = weightSoFar + dw - index - rightUnit;
      return weightedAverage(leftMean, z2, rightMean, z1);
    }
    weightSoFar += dw;
  }
  return c[2 * length - 2]!;
}

/**
 * The fraction of the weight at or below `x` (the inverse of {@link quantileOf}),
 * interpolating the same way. NaN when the list is empty.
 *
 * @internal
 */
export function rankOf(
  c: CentroidArray,
  length: number,
  total: number,
  min: number,
  max: number,
  x: number,
): number {
  if (length === 0 || total <= 0) return NaN;
  if (x < min) return 0;
  if (x >= max) return 1;
  if (length === 1) {
    return max === min ? 1 : (x - min) / (max - min);
  }
  const firstMean = c[0]!;
  const firstWeight = c[1]!;
  if (x < firstMean) {
    // Between the minimum (one sample) and the first centroid's centre.
    const span = firstMean - min;
    const fraction = span > 0 ? (x - min) / span : 1;
    return (1 + fraction * (firstWeight / 2 - 1)) / total;
  }
  const lastMean = c[2 * length - 2]!;
  const lastWeight = c[2 * length - 1]!;
  if (x >= lastMean) {
    const span = max - lastMean;
    const fraction = span > 0 ? (max - x) / span : 0;
    return 1 - (1 + fraction * (lastWeight / 2 - 1)) / total;
  }
  let weightSoFar = firstWeight / 2;
  for (let i = 0; i < length - 1; i++) {
    const leftMean = c[2 * i]!;
    const rightMean = c[2 * i + 2]!;
    const dw = (c[2 * i + 1]! + c[2 * i + 3]!) / 2;
    if (x < rightMean) {
      const fraction = rightMean > leftMean ? (x - leftMean) / (rightMean - leftMean) : 0;
      return (weightSoFar + fraction * dw) / total;
    }
    weightSoFar += dw;
  }
  return 1;
}

function interpolateEnds(mean: number, total: number, min: number, max: number, q: number): number {
  if (total <= 1 || min === max) return mean;
  // Piecewise-linear through (0, min), (0.5, mean), (1, max).
  return q < 0.5 ? min + (mean - min) * (q / 0.5) : mean + (max - mean) * ((q - 0.5) / 0.5);
}

function weightedAverage(x1: number, w1: number, x2: number, w2: number): number {
  const lo = Math.min(x1, x2);
  const hi = Math.max(x1, x2);
  const v = (x1 * w1 + x2 * w2) / (w1 + w2);
  return v < lo ? lo : v > hi ? hi : v;
}
