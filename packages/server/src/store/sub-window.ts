/**
 * A REST batch's sub-window (`RestSubWindow`) checked past what the JSON schema says
 * and decoded into centroids ready for `TDigest.mergeCentroids`: base64 of
 * little-endian float32 pairs (mean, weight), means sorted and within the exact
 * `min`..`max` (up to float32 rounding, then clamped into them, so a stored digest
 * always reads back), weights positive and adding up to `count`. Imports only the
 * REST exporter's types and the server's `InputError`.
 */
import type { RestSubWindow } from '@prsm/exporters/rest';

import { InputError } from '../errors.js';

const MINUTE = 60_000;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A checked sub-window: its minute, its exact statistics and its centroids. @internal */
export interface DecodedSubWindow {
  /** The minute (ms since the epoch) holding `start_time`. */
  readonly bucket: number;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly errors: number;
  /** Interleaved means and weights, sorted by mean (empty when `count` is 0). */
  readonly centroids: Float64Array;
  /** The number of centroids. */
  readonly length: number;
  /** The sum of the weights (equal to `count` within float rounding). */
  readonly weight: number;
}

/** How far a float32 mean may lie outside the exact range it came from. */
function slack(min: number, max: number): number {
  return Math.max(Math.abs(min), Math.abs(max)) * 2 ** -20 + 2 ** -140;
}

/**
 * Checks and decodes one sub-window; `field` is its path (`metrics[0].sub_windows[1]`).
 * Throws an {@link InputError} (400) naming the offending field. @internal
 */
export function decodeSubWindow(w: RestSubWindow, field: string): DecodedSubWindow {
  const bad = (code: string, name: string, message: string): InputError =>
    new InputError(400, code, `${field}.${name}`, message);
  if (!(w.seconds > 0 && w.seconds <= 3600)) {
    throw bad('out_of_range', 'seconds', 'seconds must be > 0 and <= 3600');
  }
  if (w.min > w.max) throw bad('out_of_range', 'min', 'min must be <= max');
  if (w.error_count > w.count) {
    throw bad('out_of_range', 'error_count', 'error_count must be <= count');
  }
  const start = Date.parse(w.start_time);
  if (!Number.isFinite(start)) {
    throw bad('invalid_format', 'start_time', 'start_time must be a date-time');
  }
  // Checked here too: the store is also called without the HTTP schema.
  if (typeof w.centroids !== 'string' || !BASE64.test(w.centroids)) {
    throw bad('invalid_format', 'centroids', 'centroids must be base64');
  }
  const bytes = Buffer.from(w.centroids, 'base64');
  if (bytes.length % 8 !== 0) {
    throw bad(
      'invalid_length',
      'centroids',
      'centroids must decode to (mean, weight) float32 pairs: a multiple of 8 bytes',
    );
  }
  const length = bytes.length / 8;
  const centroids = new Float64Array(2 * length);
  const tolerance = slack(w.min, w.max);
  let weight = 0;
  let previous = -Infinity;
  for (let i = 0; i < length; i++) {
    const mean = bytes.readFloatLE(8 * i);
    const wt = bytes.readFloatLE(8 * i + 4);
    if (!Number.isFinite(mean) || mean < previous) {
      throw bad('invalid_value', 'centroids', `centroid ${i}: means must be finite and sorted`);
    }
    if (mean < w.min - tolerance || mean > w.max + tolerance) {
      throw bad('invalid_value', 'centroids', `centroid ${i}: mean outside min..max`);
    }
    if (!Number.isFinite(wt) || !(wt > 0)) {
      throw bad('invalid_value', 'centroids', `centroid ${i}: weight must be positive`);
    }
    previous = mean;
    centroids[2 * i] = Math.min(w.max, Math.max(w.min, mean));
    centroids[2 * i + 1] = wt;
    weight += wt;
  }
  if (Math.abs(weight - w.count) > 1e-6 * Math.max(1, w.count)) {
    throw bad(
      'invalid_value',
      'centroids',
      `the centroid weights add up to ${weight}, not to count (${w.count})`,
    );
  }
  return {
    bucket: Math.floor(start / MINUTE) * MINUTE,
    count: w.count,
    sum: w.sum,
    min: w.min,
    max: w.max,
    errors: w.error_count,
    centroids,
    length,
    weight,
  };
}
