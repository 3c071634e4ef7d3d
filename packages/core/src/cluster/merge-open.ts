import { type CentroidArray, mergePass } from '../sketch/centroids.js';
import type { HistogramSeries } from '../metrics/histogram-series.js';

let scratch = new Float64Array(1024);

/**
 * Merges a digest (centroids with exact totals) into a series' open sub-window, as if
 * its values had been recorded there now: one merge pass, never an average. The
 * primary attributes a worker's sub-window to the sub-window in which it arrives, so
 * the primary's windows lag the workers' by at most one export interval.
 *
 * @internal
 */
export function mergeIntoOpen(
  series: HistogramSeries,
  centroids: CentroidArray,
  length: number,
  count: number,
  sum: number,
  min: number,
  max: number,
  errors: number,
): void {
  if (length === 0 || !(count > 0)) return;
  series.syncOpen();
  const total = series.activeWeight + count;
  const need = 2 * (series.activeLength + length);
  if (scratch.length < need) {
    let size = scratch.length;
    while (size < need) size *= 2;
    scratch = new Float64Array(size);
  }
  const n = mergePass(
    series.active,
    series.activeLength,
    centroids,
    length,
    true,
    total,
    series.scale,
    scratch,
  );
  if (series.active.length < 2 * n) series.active = new Float64Array(2 * n + (n >> 1) * 2);
  series.active.set(scratch.subarray(0, 2 * n));
  series.activeLength = n;
  series.activeWeight = total;
  series.activeSum += sum;
  if (min < series.activeMin) series.activeMin = min;
  if (max > series.activeMax) series.activeMax = max;
  series.errors += errors;
}
