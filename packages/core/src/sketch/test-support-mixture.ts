/**
 * The reference reading of a window made of several sub-window digests: `Mixture`
 * builds every knot of the parts' summed CDF in one sweep (a bottom-up merge of every
 * part's boundaries). The monitor reads windows with `mixtureQuantiles`, which finds
 * the same quantiles without sorting every knot; the tests hold it to this one.
 *
 * @internal
 */
import { type DigestPart, half } from './centroids.js';

let knotX = new Float64Array(1024);
let knotBefore = new Float64Array(1024);
let knotAfter = new Float64Array(1024);

/**
 * The exact sum of several digests' interpolated distributions, for reading a window
 * made of many sub-window digests (or merging digests of many processes).
 *
 * Each digest is read as a piecewise-uniform density: half a centroid's weight lies
 * on each side of its mean, spread evenly up to the neighbouring mean (or to the exact
 * min and max at the ends); a zero-width piece is a point mass. The mixture's CDF is
 * then piecewise linear with a knot at every centroid mean of every part, built in
 * one sweep. Quantiles read straight off it keep each part's accuracy, where merging
 * the parts' centroids (interleaved from different digests) loses some: measured on
 * six 167k-sample parts, the worst p99 error on Pareto data fell from 0.58% to 0.24%.
 *
 * The knot arrays are scratch shared by every mixture: a mixture is valid until the
 * next one is built.
 *
 * @internal
 */
export class Mixture {
  /** Total weight. */
  readonly total: number;
  readonly min: number;
  readonly max: number;
  /** Knot count; `knotX[i]`, rank just before any point mass at it, rank just after. */
  readonly knots: number;

  constructor(parts: readonly DigestPart[]) {
    let total = 0;
    let min = Infinity;
    let max = -Infinity;
    let capacity = 0;
    for (const p of parts) {
      if (p.length === 0 || p.total <= 0) continue;
      total += p.total;
      if (p.min < min) min = p.min;
      if (p.max > max) max = p.max;
      capacity += p.length + 2;
    }
    this.total = total;
    this.min = min;
    this.max = max;
    if (knotX.length < capacity) {
      let size = knotX.length;
      while (size < capacity) size *= 2;
      knotX = new Float64Array(size);
      knotBefore = new Float64Array(size);
      knotAfter = new Float64Array(size);
    }
    this.knots = total > 0 ? sweep(parts) : 0;
  }

  /** The value at quantile `q` of the mixture (NaN when empty). */
  quantile(q: number): number {
    if (this.knots === 0) return NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const target = q * this.total;
    const xs = knotX;
    const before = knotBefore;
    const after = knotAfter;
    for (let j = 0; j < this.knots; j++) {
      if (after[j]! < target) continue;
      if (before[j]! <= target || j === 0) return xs[j]!;
      const r0 = after[j - 1]!;
      const r1 = before[j]!;
      const x0 = xs[j - 1]!;
      return r1 > r0 ? x0 + ((target - r0) / (r1 - r0)) * (xs[j]! - x0) : xs[j]!;
    }
    return this.max;
  }
}

// Event lists (x, slope change, point mass), two sets for ping-pong merging.
let eventX = new Float64Array(1024);
let eventSlope = new Float64Array(1024);
let eventJump = new Float64Array(1024);
let spareX = new Float64Array(1024);
let spareSlope = new Float64Array(1024);
let spareJump = new Float64Array(1024);
function ensureEvents(events: number): void {
  if (eventX.length < events) {
    let size = eventX.length;
    while (size < events) size *= 2;
    eventX = new Float64Array(size);
    eventSlope = new Float64Array(size);
    eventJump = new Float64Array(size);
    spareX = new Float64Array(size);
    spareSlope = new Float64Array(size);
    spareJump = new Float64Array(size);
  }
}

/**
 * Writes one part's events at `offset` of `px`/`ps`/`pj`: at each boundary (min, every mean,
 * max) the point mass there and the change of density. This is the interpolation of
 * `quantileOf` as a distribution: half of each centroid spreads evenly towards each
 * neighbouring mean; a weight-1 centroid is a point mass at its mean (a sample is
 * exact); the first and last centroids put one sample exactly at the min and max and
 * spread the rest of their outer half up to it.
 */
function partEvents(
  p: DigestPart,
  px: Float64Array,
  ps: Float64Array,
  pj: Float64Array,
  offset: number,
): number {
  const c = p.centroids;
  const L = p.length;
  const firstWeight = c[1]!;
  const lastWeight = c[2 * L - 1]!;
  let previousDensity = 0;
  for (let b = 0; b <= L + 1; b++) {
    const x = b === 0 ? p.min : b <= L ? c[2 * (b - 1)]! : p.max;
    let jump = 0;
    if (b === 0) {
      if (firstWeight !== 1) jump = Math.min(1, firstWeight / 2);
    } else if (b <= L) {
      if (c[2 * b - 1] === 1) jump = 1;
    } else if (lastWeight !== 1) {
      jump = Math.min(1, lastWeight / 2);
    }
    // The piece from this boundary to the next.
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
    px[offset + b] = x;
    ps[offset + b] = density - previousDensity;
    pj[offset + b] = jump;
    previousDensity = density;
  }
  return L + 2;
}

let runStarts = new Int32Array(64);

/** Builds the mixture's knots in the shared scratch; returns how many. */
function sweep(parts: readonly DigestPart[]): number {
  let events = 0;
  let runs = 0;
  for (const p of parts) {
    if (p.length === 0 || p.total <= 0) continue;
    events += p.length + 2;
    runs++;
  }
  ensureEvents(events);
  if (runStarts.length < runs + 1) runStarts = new Int32Array(2 * (runs + 1));
  // Every part's events, each run sorted, side by side; then adjacent runs are merged
  // pairwise, pass after pass (bottom-up merge sort): O(events × log parts) where
  // merging the parts one by one into a growing list was O(events × parts). Locals:
  // module-level bindings are slower to reach inside hot loops.
  let ex = eventX;
  let es = eventSlope;
  let ej = eventJump;
  let sx = spareX;
  let ss = spareSlope;
  let sj = spareJump;
  const starts = runStarts;
  let n = 0;
  let r = 0;
  for (const p of parts) {
    if (p.length === 0 || p.total <= 0) continue;
    starts[r++] = n;
    n += partEvents(p, ex, es, ej, n);
  }
  starts[r] = n;
  while (r > 1) {
    let out = 0;
    for (let a = 0; a < r; a += 2) {
      let i = starts[a]!;
      const iEnd = starts[a + 1]!;
      let j = iEnd;
      const jEnd = a + 1 < r ? starts[a + 2]! : iEnd;
      let k = i;
      while (i < iEnd && j < jEnd) {
        if (ex[i]! <= ex[j]!) {
          sx[k] = ex[i]!;
          ss[k] = es[i]!;
          sj[k] = ej[i]!;
          i++;
        } else {
          sx[k] = ex[j]!;
          ss[k] = es[j]!;
          sj[k] = ej[j]!;
          j++;
        }
        k++;
      }
      for (; i < iEnd; i++, k++) {
        sx[k] = ex[i]!;
        ss[k] = es[i]!;
        sj[k] = ej[i]!;
      }
      for (; j < jEnd; j++, k++) {
        sx[k] = ex[j]!;
        ss[k] = es[j]!;
        sj[k] = ej[j]!;
      }
      starts[out++] = starts[a]!;
    }
    starts[out] = n;
    r = out;
    const tx = ex;
    const ts = es;
    const tj = ej;
    ex = sx;
    es = ss;
    ej = sj;
    sx = tx;
    ss = ts;
    sj = tj;
  }
  // One sweep: the rank grows along the summed density, jumps at point masses.
  const kx = knotX;
  const kb = knotBefore;
  const ka = knotAfter;
  let knots = 0;
  let rank = 0;
  let slope = 0;
  let lastX = -Infinity;
  for (let e = 0; e < n; e++) {
    const x = ex[e]!;
    if (knots === 0 || x > lastX) {
      if (knots > 0) rank += slope * (x - lastX);
      kx[knots] = x;
      kb[knots] = rank;
      knots++;
      lastX = x;
    }
    rank += ej[e]!;
    slope += es[e]!;
    ka[knots - 1] = rank;
  }
  return knots;
}
