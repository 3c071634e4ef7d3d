/**
 * The small statistics analytics/ is built on: a least-squares line with its slope's
 * t-statistic, the median and the median absolute deviation. NaN values are skipped
 * everywhere (a minute without data).
 */

/**
 * A least-squares line `y = intercept + slope × x` and its slope's significance.
 *
 * @example
 * ```ts
 * const fit: LineFit = fitLine([0, 1, 2, 3], [1, 3, 5, 7]); // slope 2, intercept 1
 * ```
 */
export interface LineFit {
  /** Points fitted (pairs where neither value is NaN). */
  readonly n: number;
  /** Change of y per unit of x; NaN with fewer than 3 points. */
  readonly slope: number;
  /** y at x = 0. */
  readonly intercept: number;
  /** The slope over its standard error; ±Infinity for a perfect non-flat fit, 0 for a flat one. */
  readonly tStatistic: number;
  /** Mean of the fitted y. */
  readonly meanY: number;
  /** Mean of the fitted x. */
  readonly meanX: number;
}

/**
 * Fits a line by ordinary least squares. The slope's standard error is
 * `sqrt(SSE / (n − 2) / Sxx)`; its t-statistic is `slope / SE`.
 *
 * @example
 * ```ts
 * const { slope, tStatistic } = fitLine(minutes, latencies);
 * if (Math.abs(tStatistic) > 3) console.log('a real trend of', slope, 'ms per minute');
 * ```
 */
export function fitLine(xs: ArrayLike<number>, ys: ArrayLike<number>): LineFit {
  let n = 0;
  let sx = 0;
  let sy = 0;
  const len = Math.min(xs.length, ys.length);
  for (let i = 0; i < len; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    n++;
    sx += x;
    sy += y;
  }
  if (n < 3) {
    return {
      n,
      slope: NaN,
      intercept: NaN,
      tStatistic: 0,
      meanY: n > 0 ? sy / n : NaN,
      meanX: n > 0 ? sx / n : NaN,
    };
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < len; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    const dx = x - mx;
    const dy = y - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return { n, slope: NaN, intercept: NaN, tStatistic: 0, meanY: my, meanX: mx };
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const sse = Math.max(0, syy - slope * sxy);
  const se = Math.sqrt(sse / (n - 2) / sxx);
  let tStatistic: number;
  // A fit with no residual: infinitely significant unless flat.
  if (se === 0 || se < Math.abs(slope) * 1e-12)
    tStatistic = slope === 0 ? 0 : slope > 0 ? Infinity : -Infinity;
  else tStatistic = slope / se;
  return { n, slope, intercept, tStatistic, meanY: my, meanX: mx };
}

/**
 * The median of the values that are not NaN; NaN when there are none. Sorts a copy.
 *
 * @example
 * ```ts
 * median([3, 1, NaN, 2]); // 2
 * ```
 */
export function median(values: ArrayLike<number>): number {
  const sorted = finiteSorted(values);
  return medianOfSorted(sorted);
}

/**
 * The median and the median absolute deviation (MAD) of the values that are not NaN.
 * For normal data, `1.4826 × mad` estimates the standard deviation.
 *
 * @example
 * ```ts
 * const { median, mad } = medianAndMad([10, 11, 9, 10, 50]); // 10, 1
 * ```
 */
export function medianAndMad(values: ArrayLike<number>): { median: number; mad: number } {
  const sorted = finiteSorted(values);
  const m = medianOfSorted(sorted);
  if (sorted.length === 0) return { median: NaN, mad: NaN };
  const deviations = new Float64Array(sorted.length);
  for (let i = 0; i < sorted.length; i++) deviations[i] = Math.abs(sorted[i]! - m);
  deviations.sort();
  return { median: m, mad: medianOfSorted(deviations) };
}

function finiteSorted(values: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) n++;
  const out = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) out[j++] = v;
  }
  return out.sort();
}

function medianOfSorted(sorted: Float64Array): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Rounds to `digits` decimals. @internal */
export function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return 0;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
