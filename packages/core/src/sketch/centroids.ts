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

/** Default compression: at most about 190 centroids for a million samples. */
export const DEFAULT_COMPRESSION = 200;

/**
 * Builds the scale for a compression factor. Higher compression means more, smaller
 * centroids: the centroid count grows linearly with it.
 *
 * @internal
 */
export function scaleFor(compression: number): Scale {
  return { oddsStep: Math.exp(-40 / compression), cap: 4 / compression };
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

/**
 * One digest as the mixture reads it: its centroids, total weight and exact extremes.
 *
 * @internal
 */
export interface DigestPart {
  readonly centroids: CentroidArray;
  readonly length: number;
  readonly total: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /**
   * The top boundary of its CDF when the holder knows it (NaN or absent: read when
   * needed): `Math.max(max, last mean, min)`, the last mean as stored (a
   * single-precision one may round a hair above the max). A walk that starts below
   * the top then never touches the end of the centroids.
   */
  readonly top?: number;
  /**
   * What names these centroids while they stay the same (a closed sub-window's number;
   * the open sub-window's, negative, changes with every merge into it), so a read's
   * cursors into them can be kept for the next read. NaN or absent: nothing kept.
   */
  readonly id?: number;
}

/** Half of a centroid spreads to each side; a single sample stays a point. @internal */
export function half(weight: number): number {
  return weight === 1 ? 0 : weight / 2;
}

/**
 * Quantiles of several digest parts, in the order asked: one part is read directly
 * (with its exact treatment of single samples), several as their exact mixture (see
 * {@link mixtureQuantiles}), from the guesses in `hints` when given (see
 * {@link guidedQuantiles}, which leaves the answers there for the next read).
 *
 * @internal
 */
export function quantilesOfParts(
  parts: readonly DigestPart[],
  qs: readonly number[],
  hints?: Float64Array,
  offset = 0,
  memo?: QuantileMemo,
): number[] {
  if (parts.length === 0) return qs.map(() => NaN);
  if (parts.length === 1) {
    const p = parts[0]!;
    return qs.map((q) => quantileOf(p.centroids, p.length, p.total, p.min, p.max, q));
  }
  return hints === undefined
    ? mixtureQuantiles(parts, qs)
    : guidedQuantiles(parts, qs, hints, offset, memo);
}

// Per part, side by side: each boundary's x, the rank just before and just after any
// point mass there, and the density of the piece that starts there.
let cdfX = new Float64Array(1024);
let cdfBefore = new Float64Array(1024);
let cdfAfter = new Float64Array(1024);
let cdfDensity = new Float64Array(1024);
let cdfStart = new Int32Array(32);
let cdfEnd = new Int32Array(32);
let searchLo = new Int32Array(32);
let searchHi = new Int32Array(32);
let searchAt = new Int32Array(32);
let searchFloor = new Int32Array(32);

/**
 * Writes one part's CDF at `offset`: the interpolation of `quantileOf` as a
 * distribution. Half of each centroid spreads evenly towards each neighbouring mean; a
 * weight-1 centroid is a point mass at its mean (a sample is exact); the first and
 * last centroids put one sample exactly at the min and max and spread the rest of
 * their outer half up to it; a zero-width piece is a point mass. Reading windows this
 * way (the exact sum of the sub-windows' distributions) keeps each part's accuracy,
 * where merging their centroids (interleaved from different digests) loses some:
 * measured on six 167k-sample parts, the worst p99 error on Pareto data fell from
 * 0.58% to 0.24%.
 */
function partCdf(p: DigestPart, offset: number): number {
  const c = p.centroids;
  const L = p.length;
  const X = cdfX;
  const B = cdfBefore;
  const A = cdfAfter;
  const D = cdfDensity;
  const firstWeight = c[1]!;
  const lastWeight = c[2 * L - 1]!;
  let rank = 0;
  let previousX = 0;
  let previousDensity = 0;
  for (let b = 0; b <= L + 1; b++) {
    let x = b === 0 ? p.min : b <= L ? c[2 * (b - 1)]! : p.max;
    // A closed sub-window keeps its means in single precision and its extremes in
    // double: a rounded mean may fall a hair outside them. The search needs sorted
    // boundaries, so such a mean is read at the extreme.
    if (b > 0 && x < previousX) x = previousX;
    let jump = 0;
    if (b === 0) {
      if (firstWeight !== 1) jump = Math.min(1, firstWeight / 2);
    } else if (b <= L) {
      if (c[2 * b - 1] === 1) jump = 1;
    } else if (lastWeight !== 1) {
      jump = Math.min(1, lastWeight / 2);
    }
    let density = 0;
    if (b <= L) {
      let mass: number;
      if (b === 0) mass = firstWeight === 1 ? 0 : firstWeight / 2 - Math.min(1, firstWeight / 2);
      else if (b === L) mass = lastWeight === 1 ? 0 : lastWeight / 2 - Math.min(1, lastWeight / 2);
      else mass = half(c[2 * b - 1]!) + half(c[2 * b + 1]!);
      const next = b < L ? c[2 * b]! : p.max;
      const width = next - x;
      if (width > 0) density = mass / width;
      else jump += mass;
    }
    if (b > 0) rank += previousDensity * (x - previousX);
    const i = offset + b;
    X[i] = x;
    B[i] = rank;
    rank += jump;
    A[i] = rank;
    D[i] = density;
    previousX = x;
    previousDensity = density;
  }
  return L + 2;
}

/** The number of boundaries of part `p` at or below `x`, searched within [lo, hi]. */
function countAtOrBelow(start: number, lo: number, hi: number, x: number): number {
  const X = cdfX;
  let a = start + lo;
  let b = start + hi;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (X[mid]! <= x) a = mid + 1;
    else b = mid;
  }
  return a - start;
}

/** Part `p`'s rank at `x` (right-continuous) given `u`, its boundaries at or below `x`. */
function rankAt(start: number, u: number, x: number): number {
  if (u === 0) return 0;
  const i = start + u - 1;
  return cdfAfter[i]! + cdfDensity[i]! * (x - cdfX[i]!);
}

/** Part `p`'s rank just below `x` given `u`, its boundaries at or below `x`. */
function rankBelow(start: number, u: number, x: number): number {
  let l = u;
  while (l > 0 && cdfX[start + l - 1] === x) l--;
  if (l < u) return cdfBefore[start + l]!;
  return rankAt(start, u, x);
}

/**
 * Quantiles of the exact mixture (sum) of several parts' distributions, without sorting
 * every knot of it (the reference, `Mixture` in test-support-mixture.ts, does; the
 * tests hold both readings to it): {@link sweepQuantiles} for up to ten parts (a 60 s
 * or 300 s window of 60 s sub-windows), {@link searchQuantiles} for more, where the
 * sweep's scan of every part per knot costs more than a search. Measured on parts of
 * 60 centroids, the five default quantiles: 6 parts, sweep 7.3 µs, search 11.6 µs;
 * 10 parts, 16.3 and 19.7 µs; 16 parts, 44.8 and 32.1 µs.
 *
 * @internal
 */
export function mixtureQuantiles(parts: readonly DigestPart[], qs: readonly number[]): number[] {
  let count = 0;
  for (const p of parts) if (p.length > 0 && p.total > 0) count++;
  return count <= SWEEP_MAX_PARTS ? sweepQuantiles(parts, qs) : searchQuantiles(parts, qs);
}

/**
 * Up to this many parts, {@link sweepQuantiles} (a scan of every part's cursor per
 * knot) beats {@link searchQuantiles} (binary searches per part).
 */
const SWEEP_MAX_PARTS = 10;

// Per part, for the sweep and the guided walk: its centroids, its minimum, its top
// boundary (the max, or a single-precision last mean rounded a hair above it), its
// centroid count; the boundary its cursor crosses next (index, x, the point mass
// there) and the density of the piece on the far side of that boundary.
// (Kept between calls, overwritten in place: truncating the list would free its store
// and the next call would grow it again. It holds at most the widest call's parts.)
const sweepCentroids: CentroidArray[] = [];
let sweepMin = new Float64Array(32);
let sweepTop = new Float64Array(32);
let sweepMax = new Float64Array(32);
let sweepTotal = new Float64Array(32);
let sweepStrict = new Int32Array(32);
let sweepLength = new Int32Array(32);
let sweepB = new Int32Array(32);
let sweepX = new Float64Array(32);
let sweepJump = new Float64Array(32);
let sweepDensity = new Float64Array(32);
// Per part, for partRanks: its cursor (how many means are at or below the last x asked)
// and the weight of the centroids from the cursor up.
let sweepCursor = new Int32Array(32);
let sweepAbove = new Float64Array(32);
/** Per part: its `id` (NaN when it has none). */
let sweepId = new Float64Array(32);

let orderOf: readonly number[] = [];
let orderFor: readonly number[] | undefined;

/**
 * The indices of `qs` by descending value. A frozen list (the monitor's snapshot
 * quantiles, asked for once per series) keeps its order for the next call.
 */
function descendingOrder(qs: readonly number[]): readonly number[] {
  if (qs === orderFor) return orderOf;
  const order = qs.map((_, i) => i);
  order.sort((a, b) => qs[b]! - qs[a]!);
  if (Object.isFrozen(qs)) {
    orderFor = qs;
    orderOf = order;
  }
  return order;
}

/** The mixture's total weight, min and max, as {@link loadParts} found them. */
let loadedTotal = 0;
let loadedMin = Infinity;
let loadedMax = -Infinity;

/**
 * Puts every non-empty part in the scratch (centroids, min, top boundary, length);
 * returns how many, and sets the loaded total, min and max.
 */
function loadParts(parts: readonly DigestPart[]): number {
  let count = 0;
  for (const p of parts) if (p.length > 0 && p.total > 0) count++;
  if (sweepB.length < count) {
    const size = 2 * count;
    sweepMin = new Float64Array(size);
    sweepTop = new Float64Array(size);
    sweepMax = new Float64Array(size);
    sweepTotal = new Float64Array(size);
    sweepStrict = new Int32Array(size);
    sweepLength = new Int32Array(size);
    sweepB = new Int32Array(size);
    sweepX = new Float64Array(size);
    sweepJump = new Float64Array(size);
    sweepDensity = new Float64Array(size);
    sweepCursor = new Int32Array(size);
    sweepAbove = new Float64Array(size);
    sweepId = new Float64Array(size);
  }
  const cs = sweepCentroids;
  let total = 0;
  let min = Infinity;
  let max = -Infinity;
  let k = 0;
  for (const p of parts) {
    if (p.length === 0 || p.total <= 0) continue;
    const c = p.centroids;
    if (k < cs.length) cs[k] = c;
    else cs.push(c);
    const L = p.length;
    sweepMin[k] = p.min;
    sweepMax[k] = p.max;
    sweepLength[k] = L;
    // Known, or read when first needed (see topOf): a part the walk never reads stays
    // untouched.
    sweepTop[k] = p.top ?? NaN;
    sweepTotal[k] = p.total;
    sweepCursor[k] = L;
    sweepAbove[k] = 0;
    sweepId[k] = p.id ?? NaN;
    total += p.total;
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
    k++;
  }
  loadedTotal = total;
  loadedMin = min;
  loadedMax = max;
  return count;
}

/** Part `k`'s top boundary: its max, or a single-precision last mean rounded a hair above it. */
function topOf(k: number): number {
  let top = sweepTop[k]!;
  if (top === top) return top;
  const L = sweepLength[k]!;
  top = Math.max(sweepMax[k]!, sweepCentroids[k]![2 * L - 2]!, sweepMin[k]!);
  sweepTop[k] = top;
  return top;
}

/**
 * Part `k`'s boundary `b` (0: the min; 1..L: centroid b - 1's mean; L + 1: the top),
 * as `partCdf` reads it: a single-precision mean a hair below the min is read at it.
 */
function boundaryX(k: number, b: number): number {
  if (b === 0) return sweepMin[k]!;
  const L = sweepLength[k]!;
  if (b > L) return topOf(k);
  const x = sweepCentroids[k]![2 * b - 2]!;
  const min = sweepMin[k]!;
  return x < min ? min : x;
}

/** The point mass at part `k`'s boundary `b`, leaving out a zero-width piece's. */
function boundaryJump(k: number, b: number): number {
  const c = sweepCentroids[k]!;
  const L = sweepLength[k]!;
  if (b === 0 || b === L + 1) {
    const w = b === 0 ? c[1]! : c[2 * L - 1]!;
    return w !== 1 ? Math.min(1, w / 2) : 0;
  }
  return c[2 * b - 1] === 1 ? 1 : 0;
}

/** The mass of part `k`'s piece from boundary `b` (0..L) up to the next. */
function pieceMass(k: number, b: number): number {
  const c = sweepCentroids[k]!;
  const L = sweepLength[k]!;
  if (b === 0 || b === L) {
    const w = b === 0 ? c[1]! : c[2 * L - 1]!;
    return w === 1 ? 0 : w / 2 - Math.min(1, w / 2);
  }
  return half(c[2 * b - 1]!) + half(c[2 * b + 1]!);
}

/** Part `k`'s rank just before `x`, as {@link partRanks} last found it. */
let rankBefore = 0;

/**
 * Part `k`'s rank at `x`, just after any point mass there (returned) and just before
 * it (left in `rankBefore`); its count of boundaries at or below `x` is left in
 * `sweepB[k]` and of those below `x` in `sweepStrict[k]`.
 */
function partRanks(k: number, x: number): number {
  const c = sweepCentroids[k]!;
  const L = sweepLength[k]!;
  const min = sweepMin[k]!;
  const top = topOf(k);
  // Boundaries at or below x: min, the means (read no lower than min), the top; and the
  // weight of the centroids below the highest of them (cum).
  let u: number;
  let cum: number;
  if (x < min) {
    u = 0;
    cum = 0;
  } else if (x >= top) {
    u = L + 2;
    cum = sweepTotal[k]!;
  } else {
    // Means 0..L-1 (boundaries 1..L) at or below x, plus the min: the part's cursor
    // (left at the last x asked) moves there, keeping the weight of the centroids from
    // it up. One walk over a part's knots serves every quantile of a read, asked in
    // descending order from the top, where a binary search per quantile mispredicted
    // half its branches and a sum of the weights below cost as much again.
    let lo = sweepCursor[k]!;
    let above = sweepAbove[k]!;
    while (lo > 0 && c[2 * lo - 2]! > x) {
      lo--;
      above += c[2 * lo + 1]!;
    }
    while (lo < L && c[2 * lo]! <= x) {
      above -= c[2 * lo + 1]!;
      lo++;
    }
    sweepCursor[k] = lo;
    sweepAbove[k] = above;
    u = lo + 1;
    // Weights are counts (integers), so this difference is exact, as the sum was.
    cum = lo >= 1 ? sweepTotal[k]! - above - c[2 * lo - 1]! : 0;
  }
  let strict = u;
  while (strict > 0 && boundaryX(k, strict - 1) === x) strict--;
  sweepB[k] = u;
  sweepStrict[k] = strict;
  // The rank after the highest boundary at or below x, then after the highest one below
  // x (the few centroids at x less).
  const b = u - 1;
  const after = rankThrough(k, b, x, cum);
  if (strict === u) rankBefore = after;
  else {
    let below = cum;
    for (let i = Math.max(0, strict - 2); i < b - 1; i++) below -= c[2 * i + 1]!;
    rankBefore = rankThrough(k, strict - 1, x, below);
  }
  return after;
}

/**
 * Part `k`'s rank at `x` from its boundary `b`, the highest at or below `x` (or below
 * it), given `cum`, the weight of the centroids below it: that weight, its point mass,
 * and the piece above it up to `x` (which reaches past `x`, so it is never of zero
 * width).
 */
function rankThrough(k: number, b: number, x: number, cum: number): number {
  if (b < 0) return 0;
  const L = sweepLength[k]!;
  if (b > L) return sweepTotal[k]!;
  let after: number;
  if (b === 0) after = boundaryJump(k, 0);
  else {
    const w = sweepCentroids[k]![2 * b - 1]!;
    after = cum + (w === 1 ? 1 : w / 2);
  }
  const bx = boundaryX(k, b);
  if (x === bx) return after;
  const mass = pieceMass(k, b);
  return mass === 0 ? after : after + (mass * (x - bx)) / (boundaryX(k, b + 1) - bx);
}

/**
 * {@link mixtureQuantiles} by one sweep down from the maximum: each part is a cursor
 * on its CDF's boundaries (min, every mean, max, as `partCdf` lays them out), read in
 * place, and the mass above the sweep grows by the parts' summed density between
 * knots and their point masses at them. Targets are met in descending order, so the
 * tail quantiles a scrape asks for read only the top of every part, and a median
 * half of it; nothing is laid out or sorted. The answers are the same as `Mixture`'s
 * (the reference sweep, bottom-up): the lowest knot whose rank after its point mass
 * reaches the target, or the linear piece below it.
 *
 * @internal
 */
export function sweepQuantiles(parts: readonly DigestPart[], qs: readonly number[]): number[] {
  if (qs.length === 0) return [];
  const count = loadParts(parts);
  if (count === 0) return qs.map(() => NaN);
  const total = loadedTotal;
  for (let k = 0; k < count; k++) {
    const L = sweepLength[k]!;
    sweepB[k] = L + 1;
    sweepX[k] = topOf(k);
    sweepJump[k] = boundaryJump(k, L + 1);
    sweepDensity[k] = 0;
  }
  // Descending targets; q <= 0 and q >= 1 are the extremes.
  const order = descendingOrder(qs);
  const out = new Array<number>(qs.length);
  let o = 0;
  while (o < order.length && qs[order[o]!]! >= 1) out[order[o++]!] = loadedMax;
  let end = order.length;
  while (end > o && !(qs[order[end - 1]!]! > 0)) {
    const i = order[--end]!;
    out[i] = Number.isNaN(qs[i]!) ? NaN : loadedMin;
  }
  descend(count, total, qs, order, o, end, out, 0, NaN, 0);
  return out;
}

/**
 * The share of the total by which a rank summed along a sweep may fall short and still
 * reach its target. Those ranks add a density times a width per knot crossed, each
 * rounded (an ulp of the total at worst, so 2^-36 allows some 10^5 knots): a target
 * equal to a knot's exact rank (common with integer counts: a median of an even count
 * of singletons) must be met at that knot, as the parts' exact ranks (the guided walk,
 * the search, the reference) meet it, and not at the next one a rounding away.
 */
const TIE = 2 ** -36;

/**
 * The sweep down from a knot: the cursors are on every part's next boundary below it,
 * `above` is the mass at or above it and `upperBefore` the rank just before its point
 * mass (`upperX` NaN: no knot yet, start at the top). Writes the answers of
 * `order[o..end)` (descending targets) to `out`.
 */
function descend(
  count: number,
  total: number,
  qs: readonly number[],
  order: readonly number[],
  o: number,
  end: number,
  out: number[],
  above: number,
  upperX: number,
  upperBefore: number,
): void {
  // Locals: module-level bindings are slower to reach inside hot loops.
  const cs = sweepCentroids;
  const M = sweepMin;
  const Ls = sweepLength;
  const B = sweepB;
  const X = sweepX;
  const J = sweepJump;
  const D = sweepDensity;
  let target = o < end ? qs[order[o]!]! * total : 0;
  const slack = total * TIE;
  while (o < end) {
    // The next knot down: the highest boundary any part has yet to cross; the summed
    // density of the pieces between it and the knot above.
    let x = -Infinity;
    let density = 0;
    for (let k = 0; k < count; k++) {
      x = Math.max(x, X[k]!);
      density += D[k]!;
    }
    if (x === -Infinity) break;
    if (upperX === upperX) above += density * (upperX - x);
    // Cross every boundary at x: its point mass, then the piece below it.
    let jump = 0;
    for (let k = 0; k < count; k++) {
      if (X[k] !== x) continue;
      const c = cs[k]!;
      const L = Ls[k]!;
      const partMin = M[k]!;
      let b = B[k]!;
      let upper = x;
      do {
        jump += J[k]!;
        b--;
        if (b < 0) {
          X[k] = -Infinity;
          J[k] = 0;
          D[k] = 0;
          break;
        }
        // Boundary b: the min (b = 0) or centroid b - 1's mean, read no lower than it.
        // (boundaryX, boundaryJump and pieceMass, inline: calling them made the sweep
        // 9% slower, 8.6 against 7.9 µs for six parts of 60 centroids.)
        let bx: number;
        let bJump: number;
        let mass: number;
        if (b === 0) {
          bx = partMin;
          const w = c[1]!;
          const end1 = w !== 1 ? Math.min(1, w / 2) : 0;
          bJump = end1;
          mass = w === 1 ? 0 : w / 2 - end1;
        } else {
          bx = c[2 * b - 2]!;
          if (bx < partMin) bx = partMin;
          const w = c[2 * b - 1]!;
          bJump = w === 1 ? 1 : 0;
          if (b === L) mass = w === 1 ? 0 : w / 2 - Math.min(1, w / 2);
          else {
            const w2 = c[2 * b + 1]!;
            mass = (w === 1 ? 0 : w / 2) + (w2 === 1 ? 0 : w2 / 2);
          }
        }
        const width = upper - bx;
        if (mass === 0) D[k] = 0;
        else if (width > 0) D[k] = mass / width;
        else {
          D[k] = 0;
          bJump += mass;
        }
        X[k] = bx;
        J[k] = bJump;
        upper = bx;
      } while (upper === x);
      B[k] = b;
    }
    const after = total - above;
    // Targets above this knot's rank are met at the knot above (which exists: the top
    // knot's rank after is the whole total, and a guided start's is at least its target).
    while (after + slack < target) {
      out[order[o]!] =
        upperBefore <= target
          ? upperX
          : upperBefore > after
            ? x + ((target - after) / (upperBefore - after)) * (upperX - x)
            : upperX;
      if (++o === end) break;
      target = qs[order[o]!]! * total;
    }
    upperX = x;
    upperBefore = after - jump;
    above += jump;
  }
  // Targets no knot's rank fell below: the lowest knot.
  while (o < end) out[order[o++]!] = upperX === upperX ? upperX : NaN;
}

/**
 * Where {@link guidedQuantiles} remembers, per quantile, what it read of the parts that
 * stay (the digests) around its answer: `array[offset]` names them (`key`: the series'
 * `digestVersion`, so a merge or a rotation starts the row afresh), then per quantile
 * {@link MEMO_PER_QUANTILE} numbers (see {@link walkFrom}), then (see
 * {@link MEMO_CURSOR_PARTS}) each digest's cursor at the lowest quantile's answer (3
 * numbers per digest: the cursor, the weight from it up, the digest's `id`; kept when
 * the key changes, for the digests whose `id` stays). `open`: how many of the first
 * parts change while the key stays (0, or 1 for the unmerged buffer of a raw read:
 * single samples, of weight 1).
 *
 * @internal
 */
export interface QuantileMemo {
  readonly array: Float64Array;
  readonly offset: number;
  readonly key: number;
  readonly open: number;
}

/**
 * Per quantile in a {@link QuantileMemo} row: the point `p` the digests were last read
 * at, their summed ranks just after and just before any point mass there; and, when the
 * digests' summed CDF is flat from their highest boundary below `p` (`d`) up to `p` and
 * from `p` up to their lowest boundary above it (`u`), `d`, `u` and the summed rank
 * just after `u` (else NaN, NaN, NaN). Between `d` and `u` the digests then add only
 * their point masses at `p` and `u`, and an answer that moved there is found without
 * reading them (see {@link flatWalk}).
 *
 * @internal
 */
export const MEMO_PER_QUANTILE = 6;

/**
 * How many quantiles of a {@link QuantileMemo} row (the lowest ones, above 0 and below
 * 1) remember the digests' stretch one boundary further each way (see
 * {@link MEMO_PER_EXTENSION}): the ones whose answers move most from read to read (a
 * median's rank moves by half a sample with every sample, a 99th percentile's by a
 * hundredth of one from the top). Two, so that a series' memo stays within the memory
 * target of a series (32 KiB, the ring full).
 *
 * @internal
 */
export const MEMO_EXTENDED = 2;

/**
 * Per extended quantile (see {@link MEMO_EXTENDED}), after the cursors: the digests'
 * boundary below `d` (`d2`) and their summed rank just after it, and their boundary
 * above `u` (`u2`) and the rank just after it, each pair kept when the digests' CDF is
 * flat from `d2` up to `d` (from `u` up to `u2`), else NaN, NaN. An answer that moved a
 * knot past `d` or `u` (a median a few samples later) is then found without reading
 * the digests either.
 *
 * @internal
 */
export const MEMO_PER_EXTENSION = 4;

/**
 * The numbers of one row of a {@link QuantileMemo} for `quantiles` quantiles: the key,
 * {@link MEMO_PER_QUANTILE} per quantile, {@link MEMO_PER_CURSOR} per digest of up
 * to {@link MEMO_CURSOR_PARTS} digests, and {@link MEMO_PER_EXTENSION} per extended
 * quantile (up to {@link MEMO_EXTENDED}).
 *
 * @internal
 */
export function quantileMemoRow(quantiles: number): number {
  return (
    1 +
    MEMO_PER_QUANTILE * quantiles +
    MEMO_PER_CURSOR * MEMO_CURSOR_PARTS +
    MEMO_PER_EXTENSION * Math.min(quantiles, MEMO_EXTENDED)
  );
}

/**
 * Per digest in a {@link QuantileMemo} row's cursors: the cursor, the weight of the
 * centroids from it up, the digest's `id`.
 *
 * @internal
 */
export const MEMO_PER_CURSOR = 3;

/**
 * Up to this many digests (a 300 s window of 60 s sub-windows has five closed ones and
 * the open one), a {@link QuantileMemo} row also keeps, for the lowest quantile (a
 * median: the one whose answer moves most often and lies deepest in every digest),
 * each digest's cursor (how many of its means are at or below the guess) and the
 * weight from it up. A moved answer's next read then starts every cursor there instead
 * of walking it down from the top (half of every digest for a median).
 *
 * @internal
 */
export const MEMO_CURSOR_PARTS = 6;

const ONE_Q: number[] = [0];
const ONE_ORDER: readonly number[] = [0];
const ONE_OUT: number[] = [NaN];

/**
 * {@link mixtureQuantiles} started from a guess per quantile, `hints[offset + i]` for
 * `qs[i]` (the answers of the series' last snapshot, say), which it then overwrites
 * with the answers. Each part's rank at the guess is read in place (a binary search
 * and a sum of the weights below), and the answer is walked to knot by knot, down as
 * {@link sweepQuantiles} does or up its mirror image: a scrape a few samples after the
 * last one reads a few knots per quantile instead of sweeping half of every part. No
 * guess (NaN, or an infinity) falls back to the sweep. The answers are the same as the
 * sweep's (to rounding), whatever the guesses. With a `memo` (see {@link QuantileMemo}),
 * the ranks of the parts that stay (the digests) at each answer are summed once per
 * version of them, with the flat stretch around it: while an answer stays there, or
 * moves within that stretch, only the parts that change (a raw read's buffer) are
 * read.
 *
 * @internal
 */
export function guidedQuantiles(
  parts: readonly DigestPart[],
  qs: readonly number[],
  hints: Float64Array,
  offset: number,
  memo?: QuantileMemo,
): number[] {
  if (qs.length === 0) return [];
  const count = loadParts(parts);
  const min = loadedMin;
  const max = loadedMax;
  // Any finite guess will do (outside the data, the walk starts at an end).
  let guided = count > 0;
  for (let i = 0; guided && i < qs.length; i++) {
    const g = hints[offset + i]!;
    if (!(g - g === 0)) guided = false;
  }
  if (!guided) {
    const out = mixtureQuantiles(parts, qs);
    for (let i = 0; i < qs.length; i++) hints[offset + i] = out[i]!;
    return out;
  }
  const total = loadedTotal;
  const out = new Array<number>(qs.length);
  // The memo's row holds the ranks of this version of the digests, or is started afresh.
  let m = -1;
  let open = 0;
  if (memo !== undefined) {
    const row = memo.offset;
    if (memo.array[row] !== memo.key) {
      // The quantiles' part: the cursors stay, each named by its digest's id.
      memo.array.fill(NaN, row + 1, row + 1 + MEMO_PER_QUANTILE * qs.length);
      memo.array[row] = memo.key;
    }
    m = row + 1;
    open = memo.open;
  }
  // From the highest quantile down: every part's cursor then walks down from its top
  // once (see partRanks), and the tail quantiles a scrape asks for read only the top.
  const order = descendingOrder(qs);
  // The lowest quantile's digests' cursors, when the row has room for them; and the
  // lowest quantiles' extended stretches.
  let lowest = -1;
  let second = -1;
  if (m >= 0) {
    for (let o = order.length - 1; o >= 0; o--) {
      const q = qs[order[o]!]!;
      if (q > 0 && q < 1) {
        if (lowest < 0) lowest = order[o]!;
        else {
          second = order[o]!;
          break;
        }
      }
    }
  }
  const cursors = lowest >= 0 && count - open <= MEMO_CURSOR_PARTS ? lowest : -1;
  // After the quantiles' part and the cursors.
  const extensions = m + MEMO_PER_QUANTILE * qs.length + MEMO_PER_CURSOR * MEMO_CURSOR_PARTS;
  for (let o = 0; o < order.length; o++) {
    const i = order[o]!;
    const q = qs[i]!;
    let value: number;
    if (q <= 0) value = min;
    else if (q >= 1) value = max;
    else if (q === q) {
      value = walkFrom(
        count,
        total,
        q,
        hints[offset + i]!,
        open,
        memo?.array,
        m < 0 ? -1 : m + MEMO_PER_QUANTILE * i,
        i === cursors ? m + MEMO_PER_QUANTILE * qs.length : -1,
        i === lowest ? extensions : i === second ? extensions + MEMO_PER_EXTENSION : -1,
      );
    } else value = NaN;
    out[i] = value;
    hints[offset + i] = value;
  }
  return out;
}

/**
 * One quantile `q` of the loaded parts, walked to from the finite guess `g`. The first
 * `open` parts change between reads (a raw read's buffer); `memo[m..m+6)` (m >= 0, see
 * {@link MEMO_PER_QUANTILE}) holds the point the other parts' ranks were last summed
 * at and the sums: an answer that stayed there, or moved to where those parts' CDF is
 * flat around it, is found without reading them. `memo[c..)` (c >= 0) holds those
 * parts' cursors at that point (see {@link MEMO_CURSOR_PARTS}), `memo[e..e+4)` (e >= 0)
 * the stretch beyond the flat one (see {@link MEMO_PER_EXTENSION}).
 */
function walkFrom(
  count: number,
  total: number,
  q: number,
  g: number,
  open: number,
  memo: Float64Array | undefined,
  m: number,
  c: number,
  e: number,
): number {
  // Whether the memo held a flat stretch, around an answer near this one.
  let near = false;
  if (m >= 0 && memo![m + 3] === memo![m + 3]) {
    const flat = flatWalk(total, q, open, memo!, m, e);
    if (flat === flat) return flat;
    near = true;
  }
  const target = q * total;
  // Every part's rank just after any point mass at g, and just before it: the parts that
  // change, then the others (summed apart, so a remembered sum adds up the same).
  let openAfter = 0;
  let openBefore = 0;
  for (let k = 0; k < open; k++) {
    openAfter += sampleRanks(k, g);
    openBefore += rankBefore;
  }
  // Whether the memo held this guess: the answer was g at the last read.
  const remembered = m >= 0 && memo![m] === g;
  if (remembered) {
    const after = openAfter + memo![m + 1]!;
    const before = openBefore + memo![m + 2]!;
    if (after >= target && before < target) return g;
  }
  // The digests' cursors where the memo was last written, near g (any cursor of these
  // digests serves: partRanks walks it either way), for the digests still there.
  if (c >= 0) restoreCursors(memo!, c, open, count);
  let closedAfter = 0;
  let closedBefore = 0;
  for (let k = open; k < count; k++) {
    closedAfter += partRanks(k, g);
    closedBefore += rankBefore;
  }
  const after = openAfter + closedAfter;
  const before = openBefore + closedBefore;
  const stays = after >= target && before < target;
  if (m >= 0) {
    memo![m] = g;
    memo![m + 1] = closedAfter;
    memo![m + 2] = closedBefore;
    if (c >= 0) saveCursors(memo!, c, open, count);
    // Where the digests are flat around g: read now while their cursors are near (it
    // moves them, so only once the walk from g is done or not needed).
    if (stays) flatAround(open, count, closedAfter, closedBefore, memo!, m, e);
    else memo![m + 3] = NaN;
  }
  // g is a knot whose point mass holds the target (a tie with the rank below it is left
  // to the sweep: a lower knot may reach the target too).
  if (stays) return g;
  // The walk needs every part's boundaries at g (counted directly above for the parts
  // that change).
  for (let k = 0; k < open; k++) partRanks(k, g);
  const x = walkAway(count, total, q, g, after, before);
  if ((remembered || near) && x === x) {
    // The answer moved from where the last read left it, or from just outside the flat
    // stretch found there (a few samples since, in a scrape after scrape): the ranks at
    // the new one are remembered for the next read, which starts from it. Each cursor
    // is left near g, a knot or two from x, where the next read's would walk down from
    // the top. (After a merge or a rotation, or at a first read, x may be far from g:
    // the next read reads the ranks at x itself.)
    let xAfter = 0;
    let xBefore = 0;
    for (let k = open; k < count; k++) {
      xAfter += partRanks(k, x);
      xBefore += rankBefore;
    }
    memo![m] = x;
    memo![m + 1] = xAfter;
    memo![m + 2] = xBefore;
    if (c >= 0) saveCursors(memo!, c, open, count);
    flatAround(open, count, xAfter, xBefore, memo!, m, e);
  }
  return x;
}

/**
 * After the digests (parts `open..count`) were read at `memo[m]` (their summed ranks
 * `after` and `before` there, each one's boundaries in `sweepB` and `sweepStrict`):
 * their nearest boundaries below and above it, `d` and `u`, and the rank just after
 * `u`, kept when their summed CDF is flat on both sides (else NaN); then (e >= 0) their
 * next boundaries beyond, `d2` below `d` and `u2` above `u`, each kept with the rank
 * just after it when the CDF is flat up to `d` or from `u` (see
 * {@link MEMO_PER_EXTENSION}).
 */
function flatAround(
  open: number,
  count: number,
  after: number,
  before: number,
  memo: Float64Array,
  m: number,
  e: number,
): void {
  let d = -Infinity;
  let u = Infinity;
  for (let k = open; k < count; k++) {
    const strict = sweepStrict[k]!;
    if (strict > 0) d = Math.max(d, boundaryX(k, strict - 1));
    const b = sweepB[k]!;
    if (b <= sweepLength[k]! + 1) u = Math.min(u, boundaryX(k, b));
  }
  memo[m + 3] = NaN;
  if (e >= 0) {
    memo[e] = NaN;
    memo[e + 2] = NaN;
  }
  if (d === -Infinity || u === Infinity) return;
  let dAfter = 0;
  let dBefore = 0;
  for (let k = open; k < count; k++) {
    dAfter += partRanks(k, d);
    dBefore += rankBefore;
  }
  if (dAfter !== before) return;
  // One boundary further down, while the parts' boundaries are counted at d.
  let d2 = -Infinity;
  if (e >= 0) {
    for (let k = open; k < count; k++) {
      const strict = sweepStrict[k]!;
      if (strict > 0) d2 = Math.max(d2, boundaryX(k, strict - 1));
    }
  }
  let uAfter = 0;
  let uBefore = 0;
  for (let k = open; k < count; k++) {
    uAfter += partRanks(k, u);
    uBefore += rankBefore;
  }
  if (uBefore !== after) return;
  memo[m + 3] = d;
  memo[m + 4] = u;
  memo[m + 5] = uAfter;
  if (e < 0) return;
  // And one further up, from u's boundaries.
  let u2 = Infinity;
  for (let k = open; k < count; k++) {
    const b = sweepB[k]!;
    if (b <= sweepLength[k]! + 1) u2 = Math.min(u2, boundaryX(k, b));
  }
  if (u2 !== Infinity) {
    let u2After = 0;
    let u2Before = 0;
    for (let k = open; k < count; k++) {
      u2After += partRanks(k, u2);
      u2Before += rankBefore;
    }
    if (u2Before === uAfter) {
      memo[e + 2] = u2;
      memo[e + 3] = u2After;
    }
  }
  if (d2 !== -Infinity) {
    let d2After = 0;
    for (let k = open; k < count; k++) d2After += partRanks(k, d2);
    if (d2After === dBefore) {
      memo[e] = d2;
      memo[e + 1] = d2After;
    }
  }
}

/**
 * The answer of `q` when it lies where the memo (see {@link MEMO_PER_QUANTILE}) found
 * the digests flat, above `d` and up to `u` (above `d2` and up to `u2` when
 * `memo[e..)`, e >= 0, holds them): there the mixture's rank steps only at the
 * digests' point masses at `d`, `p`, `u` and `u2` and at the changing parts' samples
 * (single ones, weight 1), so the answer is the lowest of those knots whose rank after
 * it reaches the target (with the sweep's allowance for rounding, {@link TIE}), read
 * without touching the digests. NaN when the answer lies outside the stretch (at or
 * below its lowest knot, above its highest). Called only when the memo holds one
 * (`memo[m + 3]` not NaN).
 */
function flatWalk(
  total: number,
  q: number,
  open: number,
  memo: Float64Array,
  m: number,
  e: number,
): number {
  const d = memo[m + 3]!;
  const p = memo[m]!;
  const pAfter = memo[m + 1]!;
  const pBefore = memo[m + 2]!;
  const u = memo[m + 4]!;
  const uAfter = memo[m + 5]!;
  // (The walk below ends at u or u2: it must lie above d.)
  if (!(u > d)) return NaN;
  // The stretch's ends: d2 and u2 when kept, else d and u (u2 = Infinity: never passed).
  const hasD2 = e >= 0 && memo[e] === memo[e];
  const low = hasD2 ? memo[e]! : d;
  const d2After = hasD2 ? memo[e + 1]! : NaN;
  const hasU2 = e >= 0 && memo[e + 2] === memo[e + 2];
  const u2 = hasU2 ? memo[e + 2]! : Infinity;
  const u2After = hasU2 ? memo[e + 3]! : NaN;
  const high = hasU2 ? u2 : u;
  const target = q * total;
  const slack = total * TIE;
  // Reached at the lowest knot or below: not here.
  let rank = hasD2 ? d2After : pBefore;
  for (let k = 0; k < open; k++) rank += sampleRanks(k, low);
  if (rank + slack >= target) return NaN;
  // The knots above it in order: d, p, u, u2 and the changing parts' samples between.
  let x = low;
  for (;;) {
    let next = high;
    if (u > x) next = u;
    if (p > x) next = p;
    if (d > x) next = d;
    for (let k = 0; k < open; k++) {
      const above = sampleAbove(k, x);
      if (above < next) next = above;
    }
    rank =
      next < d ? d2After : next < p ? pBefore : next < u ? pAfter : next < u2 ? uAfter : u2After;
    for (let k = 0; k < open; k++) rank += sampleRanks(k, next);
    if (rank + slack >= target) return next;
    if (next === high) return NaN;
    x = next;
  }
}

/**
 * Part `k`'s rank at `x` when it holds single samples (weight 1, sorted; a raw read's
 * buffer): how many are at or below `x` (returned) and below it (left in
 * `rankBefore`), what {@link partRanks} gives for such a part, counted directly.
 */
function sampleRanks(k: number, x: number): number {
  const c = sweepCentroids[k]!;
  const L = sweepLength[k]!;
  let below = 0;
  while (below < L && c[2 * below]! < x) below++;
  let through = below;
  while (through < L && c[2 * through]! === x) through++;
  rankBefore = below;
  return through;
}

/** The lowest mean of part `k` (single samples, sorted) above `x`; Infinity when none. */
function sampleAbove(k: number, x: number): number {
  const c = sweepCentroids[k]!;
  const L = sweepLength[k]!;
  for (let j = 0; j < L; j++) if (c[2 * j]! > x) return c[2 * j]!;
  return Infinity;
}

/**
 * Parts `open..count`'s cursors into `memo[c..)`, each with the part's id (see
 * {@link MEMO_PER_CURSOR}); a slot past the parts is emptied.
 */
function saveCursors(memo: Float64Array, c: number, open: number, count: number): void {
  for (let j = 0; j < MEMO_CURSOR_PARTS; j++) {
    const at = c + MEMO_PER_CURSOR * j;
    const k = open + j;
    if (k < count) {
      memo[at] = sweepCursor[k]!;
      memo[at + 1] = sweepAbove[k]!;
      memo[at + 2] = sweepId[k]!;
    } else memo[at + 2] = NaN;
  }
}

/**
 * The cursors {@link saveCursors} left in `memo[c..)`, back into the parts `open..count`
 * with the same id (a part without one, or whose id is not there, keeps its cursor).
 * The same id, the same centroids: the cursor and the weight above it still hold.
 */
function restoreCursors(memo: Float64Array, c: number, open: number, count: number): void {
  for (let k = open; k < count; k++) {
    const id = sweepId[k]!;
    if (id !== id) continue;
    // Where it was saved, most often; after a rotation, a place or so away.
    let at = c + MEMO_PER_CURSOR * (k - open);
    if (k - open >= MEMO_CURSOR_PARTS || memo[at + 2] !== id) {
      at = -1;
      for (let j = 0; j < MEMO_CURSOR_PARTS; j++) {
        if (memo[c + MEMO_PER_CURSOR * j + 2] === id) {
          at = c + MEMO_PER_CURSOR * j;
          break;
        }
      }
      if (at < 0) continue;
    }
    sweepCursor[k] = memo[at]!;
    sweepAbove[k] = memo[at + 1]!;
  }
}

/**
 * The rest of {@link walkFrom} once every part's ranks at `g` are read (`after` and
 * `before`, summed; each part's boundaries in `sweepB` and `sweepStrict`) and `g` is
 * not the answer: the walk down or up to it.
 */
function walkAway(
  count: number,
  total: number,
  q: number,
  g: number,
  after: number,
  before: number,
): number {
  const target = q * total;
  const B = sweepB;
  const X = sweepX;
  const J = sweepJump;
  const D = sweepDensity;
  if (after >= target) {
    // The answer is at or below g: read g as a knot (if it is none, the line through
    // it is the piece it lies on), and sweep down from it, the cursors on every part's
    // highest boundary below g with the piece above it (which reaches past g, so it
    // has a width).
    for (let k = 0; k < count; k++) {
      const b = sweepStrict[k]! - 1;
      B[k] = b;
      if (b < 0) {
        X[k] = -Infinity;
        J[k] = 0;
        D[k] = 0;
        continue;
      }
      const bx = boundaryX(k, b);
      X[k] = bx;
      J[k] = boundaryJump(k, b);
      D[k] = b > sweepLength[k]! ? 0 : pieceMass(k, b) / (boundaryX(k, b + 1) - bx);
    }
    ONE_Q[0] = q;
    descend(count, total, ONE_Q, ONE_ORDER, 0, 1, ONE_OUT, total - before, g, before);
    return ONE_OUT[0]!;
  }
  // Up from g: the cursors on every part's lowest boundary above g, with the density
  // of the piece below it.
  for (let k = 0; k < count; k++) {
    const u = B[k]!;
    const L = sweepLength[k]!;
    X[k] = u > L + 1 ? Infinity : boundaryX(k, u);
    D[k] = u === 0 || u > L + 1 ? 0 : pieceMass(k, u - 1) / (X[k]! - boundaryX(k, u - 1));
  }
  let previous = g;
  let previousAfter = after;
  for (;;) {
    let x = Infinity;
    let density = 0;
    for (let k = 0; k < count; k++) {
      x = Math.min(x, X[k]!);
      density += D[k]!;
    }
    // Past the top every rank is the total, at or above any target below it.
    if (x === Infinity) return previous;
    const before = previousAfter + density * (x - previous);
    let jump = 0;
    for (let k = 0; k < count; k++) {
      if (X[k] !== x) continue;
      const L = sweepLength[k]!;
      let b = B[k]!;
      do {
        jump += boundaryJump(k, b);
        if (b > L) {
          X[k] = Infinity;
          D[k] = 0;
          b++;
          break;
        }
        const next = boundaryX(k, b + 1);
        const mass = pieceMass(k, b);
        const width = next - x;
        if (width > 0) D[k] = mass / width;
        else {
          D[k] = 0;
          jump += mass;
        }
        b++;
        X[k] = next;
      } while (X[k] === x);
      B[k] = b;
    }
    const rank = before + jump;
    if (rank + total * TIE >= target) {
      if (before <= target) return x;
      return before > previousAfter
        ? previous + ((target - previousAfter) / (before - previousAfter)) * (x - previous)
        : x;
    }
    previous = x;
    previousAfter = rank;
  }
}

/**
 * {@link mixtureQuantiles} by a search: each part's CDF is laid out once (linear, no
 * sort); then, per quantile, a search over the union of the parts' boundaries narrows
 * every part's range of candidates around the first boundary whose mixture rank
 * reaches the target (each probe: one binary search per part). For many parts, where
 * the sweep's scan of every cursor per knot costs more.
 *
 * @internal
 */
export function searchQuantiles(parts: readonly DigestPart[], qs: readonly number[]): number[] {
  let events = 0;
  let count = 0;
  let total = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const p of parts) {
    if (p.length === 0 || p.total <= 0) continue;
    events += p.length + 2;
    count++;
    total += p.total;
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
  }
  if (count === 0) return qs.map(() => NaN);
  if (cdfX.length < events) {
    let size = cdfX.length;
    while (size < events) size *= 2;
    cdfX = new Float64Array(size);
    cdfBefore = new Float64Array(size);
    cdfAfter = new Float64Array(size);
    cdfDensity = new Float64Array(size);
  }
  if (cdfStart.length < count) {
    const size = 2 * count;
    cdfStart = new Int32Array(size);
    cdfEnd = new Int32Array(size);
    searchLo = new Int32Array(size);
    searchHi = new Int32Array(size);
    searchAt = new Int32Array(size);
    searchFloor = new Int32Array(size);
  }
  const start = cdfStart;
  const length = cdfEnd;
  let offset = 0;
  let k = 0;
  for (const p of parts) {
    if (p.length === 0 || p.total <= 0) continue;
    start[k] = offset;
    const n = partCdf(p, offset);
    length[k] = n;
    offset += n;
    k++;
  }
  // Ascending targets: each answer is at or above the one before, so each search
  // starts where the previous answer lies (the tail quantiles search a sliver).
  const order = qs.map((_, i) => i);
  order.sort((a, b) => qs[a]! - qs[b]!);
  const floor = searchFloor;
  floor.fill(0, 0, count);
  const out = new Array<number>(qs.length);
  let exhausted = false;
  for (const i of order) {
    const q = qs[i]!;
    if (q <= 0) out[i] = min;
    else if (q >= 1 || exhausted) out[i] = max;
    else {
      const value = mixtureQuantile(count, q * total, max);
      // NaN: no boundary reaches the target, nor will any larger one.
      exhausted = value === max && Number.isNaN(lastBest);
      out[i] = value;
    }
  }
  return out;
}

/** The boundary the last search found (NaN when none reached its target). */
let lastBest = NaN;

function mixtureQuantile(count: number, target: number, max: number): number {
  const X = cdfX;
  const start = cdfStart;
  const lo = searchLo;
  const hi = searchHi;
  const at = searchAt;
  const floor = searchFloor;
  for (let p = 0; p < count; p++) {
    lo[p] = floor[p]!;
    hi[p] = cdfEnd[p]!;
  }
  // The smallest boundary whose mixture rank (after its point masses) reaches target.
  let best = NaN;
  for (;;) {
    let widest = -1;
    let width = 0;
    for (let p = 0; p < count; p++) {
      const w = hi[p]! - lo[p]!;
      if (w > width) {
        width = w;
        widest = p;
      }
    }
    if (widest < 0) break;
    const x = X[start[widest]! + ((lo[widest]! + hi[widest]!) >>> 1)]!;
    // NaN (a corrupt part) would never narrow anything: give up rather than spin.
    if (x !== x) return NaN;
    // Every candidate lies between the probes so far, so each part's count of
    // boundaries at or below x lies within its range.
    let rank = 0;
    for (let p = 0; p < count; p++) {
      const u = countAtOrBelow(start[p]!, lo[p]!, hi[p]!, x);
      at[p] = u;
      rank += rankAt(start[p]!, u, x);
    }
    if (rank >= target) {
      best = x;
      for (let p = 0; p < count; p++) {
        let l = at[p]!;
        while (l > lo[p]! && X[start[p]! + l - 1] === x) l--;
        hi[p] = l;
      }
    } else {
      for (let p = 0; p < count; p++) {
        const u = at[p]!;
        lo[p] = u < hi[p]! ? u : hi[p]!;
      }
    }
  }
  lastBest = best;
  if (Number.isNaN(best)) return max;
  // The rank just before `best`, and the boundary before it.
  let before = 0;
  let previous = -Infinity;
  for (let p = 0; p < count; p++) {
    const s = start[p]!;
    const u = countAtOrBelow(s, floor[p]!, cdfEnd[p]!, best);
    before += rankBelow(s, u, best);
    let l = u;
    while (l > 0 && X[s + l - 1] === best) l--;
    // A larger target's answer is at or above `best`: its search starts here.
    floor[p] = l;
    if (l > 0 && X[s + l - 1]! > previous) previous = X[s + l - 1]!;
  }
  if (before <= target || previous === -Infinity) return best;
  let r0 = 0;
  for (let p = 0; p < count; p++) {
    const s = start[p]!;
    r0 += rankAt(s, countAtOrBelow(s, 0, cdfEnd[p]!, previous), previous);
  }
  return before > r0 ? previous + ((target - r0) / (before - r0)) * (best - previous) : best;
}

let runA = new Float64Array(2048);
let runB = new Float64Array(2048);
let pairStarts = new Int32Array(64);

/**
 * Every centroid of several parts in one list sorted by mean (interleaved mean,
 * weight), by pairwise merging of the parts' already sorted lists: O(n log parts).
 * Feed it to one `TDigest.mergeCentroids` to merge many digests in a single
 * compression pass instead of one pass per digest. The returned array is scratch,
 * valid until the next call.
 *
 * @internal
 */
export function sortedUnion(parts: readonly DigestPart[]): {
  centroids: Float64Array;
  length: number;
} {
  let pairs = 0;
  let runs = 0;
  for (const p of parts) {
    if (p.length === 0) continue;
    pairs += p.length;
    runs++;
  }
  if (runA.length < 2 * pairs) {
    let size = runA.length;
    while (size < 2 * pairs) size *= 2;
    runA = new Float64Array(size);
    runB = new Float64Array(size);
  }
  if (pairStarts.length < runs + 1) pairStarts = new Int32Array(2 * (runs + 1));
  let a = runA;
  let b = runB;
  const starts = pairStarts;
  let n = 0;
  let r = 0;
  for (const p of parts) {
    if (p.length === 0) continue;
    starts[r++] = n;
    const c = p.centroids;
    for (let i = 0; i < 2 * p.length; i++) a[2 * n + i] = c[i]!;
    n += p.length;
  }
  starts[r] = n;
  while (r > 1) {
    let out = 0;
    for (let x = 0; x < r; x += 2) {
      let i = starts[x]!;
      const iEnd = starts[x + 1]!;
      let j = iEnd;
      const jEnd = x + 1 < r ? starts[x + 2]! : iEnd;
      let k = i;
      while (i < iEnd && j < jEnd) {
        if (a[2 * i]! <= a[2 * j]!) {
          b[2 * k] = a[2 * i]!;
          b[2 * k + 1] = a[2 * i + 1]!;
          i++;
        } else {
          b[2 * k] = a[2 * j]!;
          b[2 * k + 1] = a[2 * j + 1]!;
          j++;
        }
        k++;
      }
      for (; i < iEnd; i++, k++) {
        b[2 * k] = a[2 * i]!;
        b[2 * k + 1] = a[2 * i + 1]!;
      }
      for (; j < jEnd; j++, k++) {
        b[2 * k] = a[2 * j]!;
        b[2 * k + 1] = a[2 * j + 1]!;
      }
      starts[out++] = starts[x]!;
    }
    starts[out] = n;
    r = out;
    const t = a;
    a = b;
    b = t;
  }
  return { centroids: a, length: n };
}

/**
 * A lazy k-way merge of several parts' centroid lists, ascending, or descending with
 * the means negated (the mirror image, ascending again), through a binary heap:
 * `next()` yields one centroid at a time, so a walk that stops early pays only for
 * what it read.
 */
class CentroidStream {
  /** The current centroid's mean (negated when descending) and weight. */
  mean = 0;
  weight = 0;
  readonly #arrays: CentroidArray[] = [];
  /** Per run: the index (into its interleaved array) of its next mean. */
  readonly #pos: number[] = [];
  /** Per run: one past its last mean's index (ascending), or -2 (descending). */
  readonly #stop: number[] = [];
  readonly #heap: number[] = [];
  readonly #keys: number[] = [];
  #step = 2;
  #size = 0;

  /**
   * Starts a walk over `parts`. One stream is reused by every call (a walk never
   * outlives its call): no allocation per quantile, and a shape V8's optimized code
   * keeps across major GCs (a short-lived instance's map dies with it, and the code
   * that read it is thrown away).
   */
  reset(parts: readonly DigestPart[], descending: boolean): this {
    this.#step = descending ? -2 : 2;
    this.#size = 0;
    this.#arrays.length = 0;
    this.#pos.length = 0;
    this.#stop.length = 0;
    for (const p of parts) {
      if (p.length === 0) continue;
      const r = this.#arrays.length;
      this.#arrays.push(p.centroids);
      const start = descending ? 2 * (p.length - 1) : 0;
      this.#pos.push(start);
      this.#stop.push(descending ? -2 : 2 * p.length);
      this.#push(r, this.#key(p.centroids[start]!));
    }
    return this;
  }

  /** Lets go of the parts' arrays once a walk is over. */
  release(): void {
    this.#arrays.length = 0;
  }

  /** Moves to the next centroid; false when there is none. */
  next(): boolean {
    if (this.#size === 0) return false;
    const heap = this.#heap;
    const keys = this.#keys;
    const r = heap[0]!;
    const c = this.#arrays[r]!;
    const p = this.#pos[r]!;
    this.mean = keys[0]!;
    this.weight = c[p + 1]!;
    const q = p + this.#step;
    let run = r;
    let key: number;
    if (q !== this.#stop[r]) {
      this.#pos[r] = q;
      key = this.#key(c[q]!);
    } else {
      const size = --this.#size;
      if (size === 0) return true;
      run = heap[size]!;
      key = keys[size]!;
    }
    const size = this.#size;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && keys[child + 1]! < keys[child]!) child++;
      if (keys[child]! >= key) break;
      heap[i] = heap[child]!;
      keys[i] = keys[child]!;
      i = child;
    }
    heap[i] = run;
    keys[i] = key;
    return true;
  }

  #key(mean: number): number {
    return this.#step < 0 ? -mean : mean;
  }

  #push(run: number, key: number): void {
    const heap = this.#heap;
    const keys = this.#keys;
    let i = this.#size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      heap[i] = heap[parent]!;
      keys[i] = keys[parent]!;
      i = parent;
    }
    heap[i] = run;
    keys[i] = key;
  }
}

const STREAM = new CentroidStream();

/**
 * The value at quantile `q` of the union of several parts' centroids, read the way
 * {@link quantileOf} reads one digest's centroid list (as a t-digest holding all of
 * them would, uncompressed), without building the union: a lazy merge walks in from
 * the nearer end (the top for q ≥ 0.5, on the mirror image) and stops at the target,
 * so a p99 reads about the top 1% of the centroids. NaN when the parts are empty.
 *
 * @internal
 */
export function quantileOfUnion(parts: readonly DigestPart[], q: number): number {
  let total = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const p of parts) {
    if (p.length === 0 || p.total <= 0) continue;
    total += p.total;
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
  }
  if (total <= 0) return NaN;
  if (q <= 0) return min;
  if (q >= 1) return max;
  const stream = STREAM;
  try {
    if (q <= 0.5) return walkUp(stream.reset(parts, false), total, min, max, q, false);
    // The mirror image: negated values, ascending from the top.
    return -walkUp(stream.reset(parts, true), total, -max, -min, 1 - q, true);
  } finally {
    stream.release();
  }
}

/**
 * {@link quantileOf}'s reading of a centroid list, fed one centroid at a time. On the
 * mirror image, exact ties between two single samples break the other way, so that
 * the answer is quantileOf's on the original list.
 */
function walkUp(
  stream: CentroidStream,
  total: number,
  min: number,
  max: number,
  q: number,
  mirrored: boolean,
): number {
  if (!stream.next()) return NaN;
  let leftMean = stream.mean;
  let leftWeight = stream.weight;
  if (!stream.next()) return interpolateEnds(leftMean, total, min, max, q);
  const index = q * total;
  if (index < 1) return min;
  if (leftWeight > 2 && index < leftWeight / 2) {
    return min + ((index - 1) / (leftWeight / 2 - 1)) * (leftMean - min);
  }
  if (index > total - 1) return max;
  let weightSoFar = leftWeight / 2;
  for (;;) {
    const rightMean = stream.mean;
    const rightWeight = stream.weight;
    const dw = (leftWeight + rightWeight) / 2;
    if (weightSoFar + dw > index) {
      let leftUnit = 0;
      if (leftWeight === 1) {
        const d = index - weightSoFar;
        if (mirrored ? d <= 0.5 : d < 0.5) return leftMean;
        leftUnit = 0.5;
      }
      let rightUnit = 0;
      if (rightWeight === 1) {
        const d = weightSoFar + dw - index;
        if (mirrored ? d < 0.5 : d <= 0.5) return rightMean;
        rightUnit = 0.5;
      }
      const z1 = index - weightSoFar - leftUnit;
      const z2 = weightSoFar + dw - index - rightUnit;
      return weightedAverage(leftMean, z2, rightMean, z1);
    }
    weightSoFar += dw;
    leftMean = rightMean;
    leftWeight = rightWeight;
    if (!stream.next()) break;
  }
  // Past the last centroid's centre: its upper half spreads up to the maximum.
  if (leftWeight > 2 && total - index <= leftWeight / 2) {
    return max - ((total - index - 1) / (leftWeight / 2 - 1)) * (max - leftMean);
  }
  return leftMean;
}
