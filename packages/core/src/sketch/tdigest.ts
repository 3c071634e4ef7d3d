import { sortFloat64 } from './radix-sort.js';
import {
  type CentroidArray,
  DEFAULT_COMPRESSION,
  mergePass,
  quantileOf,
  rankOf,
  type Scale,
  scaleFor,
} from './centroids.js';

/**
 * A t-digest in plain data: what {@link TDigest.toJSON} writes and
 * {@link TDigest.fromJSON} reads, so digests cross process boundaries and merge.
 *
 * @example
 * ```ts
 * const wire: TDigestJSON = digest.toJSON();
 * const back = TDigest.fromJSON(JSON.parse(JSON.stringify(wire)));
 * ```
 */
export interface TDigestJSON {
  /** The compression the digest was built with. */
  readonly compression: number;
  /** Number of values (total weight). */
  readonly count: number;
  /** Exact sum of the values. */
  readonly sum: number;
  /** Exact minimum (`null` when empty, as JSON has no Infinity). */
  readonly min: number | null;
  /** Exact maximum (`null` when empty). */
  readonly max: number | null;
  /** Interleaved `[mean, weight, mean, weight, ...]`, sorted by mean. */
  readonly centroids: readonly number[];
}

/**
 * Options for {@link TDigest}.
 *
 * @example
 * ```ts
 * const options: TDigestOptions = { compression: 300 };
 * ```
 */
export interface TDigestOptions {
  /**
   * More centroids (and memory) for more accuracy; the centroid count grows linearly.
   * Default 200: relative error under 0.5% at p50..p99 and under 1% at p99.9 on
   * heavy-tailed latency data (see BENCHMARKS.md).
   */
  readonly compression?: number;
}

const BUFFER_SIZE = 512;
let scratch = new Float64Array(1024);

function scratchFor(numbers: number): Float64Array {
  if (scratch.length < numbers) {
    let size = scratch.length;
    while (size < numbers) size *= 2;
    scratch = new Float64Array(size);
  }
  return scratch;
}

/**
 * Checks a compression factor; shared by the digest and the monitor's options.
 *
 * @internal
 */
export function validateCompression(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 20 || value > 10000) {
    throw new TypeError(
      `${option} must be a finite number between 20 and 10000, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * A merging t-digest: a compact, mergeable sketch of a distribution that answers any
 * quantile with small relative error, smallest at the tails.
 *
 * Values are buffered and merged in sorted batches into one typed array of centroids,
 * so `add` is a buffer write most of the time. Digests from many processes combine
 * with {@link TDigest.merge}: merging, unlike averaging percentiles, is correct.
 *
 * @example
 * ```ts
 * import { TDigest } from '@prsm/core';
 *
 * const digest = new TDigest();
 * for (const ms of [12, 15, 11, 240, 13]) digest.add(ms);
 * digest.quantile(0.5); // 13
 * const fleet = TDigest.mergeAll([digest, otherDigest]);
 * fleet.quantile(0.99);
 * ```
 */
export class TDigest {
  /** The compression this digest was built with. */
  readonly compression: number;
  readonly #scale: Scale;
  #centroids: Float64Array;
  #length = 0;
  #weight = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;
  /** Allocated on the first `add`: digests built by merging never need one. */
  #buffer: Float64Array | undefined;
  #buffered = 0;

  constructor(options: TDigestOptions = {}) {
    this.compression =
      options.compression === undefined
        ? DEFAULT_COMPRESSION
        : validateCompression(options.compression, 'compression');
    this.#scale = scaleFor(this.compression);
    this.#centroids = new Float64Array(0);
  }

  /**
   * Adds one value. NaN and infinities are ignored (a sketch of latencies has no use
   * for them and they would poison the sum); returns whether the value was taken.
   */
  add(value: number): boolean {
    if (typeof value !== 'number' || value - value !== 0) return false;
    const buffer = (this.#buffer ??= new Float64Array(BUFFER_SIZE));
    buffer[this.#buffered++] = value;
    if (this.#buffered === BUFFER_SIZE) this.#flush();
    return true;
  }

  /** Number of values added (the total weight). */
  get count(): number {
    return this.#weight + this.#buffered;
  }

  /** Exact sum of the values added. */
  get sum(): number {
    this.#flush();
    return this.#sum;
  }

  /** Exact smallest value, NaN when empty. */
  get min(): number {
    this.#flush();
    return this.#weight === 0 ? NaN : this.#min;
  }

  /** Exact largest value, NaN when empty. */
  get max(): number {
    this.#flush();
    return this.#weight === 0 ? NaN : this.#max;
  }

  /** Exact mean, NaN when empty. */
  get mean(): number {
    this.#flush();
    return this.#weight === 0 ? NaN : this.#sum / this.#weight;
  }

  /** Number of centroids currently held (a measure of size, for tests and benchmarks). */
  get centroidCount(): number {
    this.#flush();
    return this.#length;
  }

  /**
   * The value below which a fraction `q` of the values fall. `q` is clamped to 0..1;
   * NaN when the digest is empty.
   */
  quantile(q: number): number {
    if (Number.isNaN(q)) return NaN;
    this.#flush();
    return quantileOf(this.#centroids, this.#length, this.#weight, this.#min, this.#max, q);
  }

  /** Several quantiles at once, in the order asked. */
  quantiles(qs: readonly number[]): number[] {
    this.#flush();
    return qs.map((q) =>
      quantileOf(this.#centroids, this.#length, this.#weight, this.#min, this.#max, q),
    );
  }

  /**
   * The fraction of values at or below `x` (the inverse of `quantile`), for questions
   * such as "what share of requests finished within 500 ms". NaN when empty.
   */
  cdf(x: number): number {
    this.#flush();
    return rankOf(this.#centroids, this.#length, this.#weight, this.#min, this.#max, x);
  }

  /**
   * Merges other digests into this one (compressing to this digest's compression).
   * Returns `this`.
   */
  merge(...others: readonly TDigest[]): this {
    this.#flush();
    for (const other of others) {
      other.#flush();
      this.mergeCentroids(
        other.#centroids,
        other.#length,
        other.#weight,
        other.#sum,
        other.#min,
        other.#max,
      );
    }
    return this;
  }

  /**
   * Merges a raw centroid list (interleaved, sorted by mean) with its exact totals.
   *
   * @internal
   */
  mergeCentroids(
    centroids: CentroidArray,
    length: number,
    weight: number,
    sum: number,
    min: number,
    max: number,
  ): void {
    if (length === 0 || weight <= 0) return;
    this.#flush();
    const total = this.#weight + weight;
    const out = scratchFor(2 * (this.#length + length));
    const n = mergePass(
      this.#centroids,
      this.#length,
      centroids,
      length,
      true,
      total,
      this.#scale,
      out,
    );
    this.#store(out, n);
    this.#weight = total;
    this.#sum += sum;
    if (min < this.#min) this.#min = min;
    if (max > this.#max) this.#max = max;
  }

  /** Plain data for the wire; see {@link TDigest.fromJSON}. */
  toJSON(): TDigestJSON {
    this.#flush();
    const empty = this.#weight === 0;
    return {
      compression: this.compression,
      count: this.#weight,
      sum: this.#sum,
      min: empty ? null : this.#min,
      max: empty ? null : this.#max,
      centroids: Array.from(this.#centroids.subarray(0, 2 * this.#length)),
    };
  }

  /**
   * Rebuilds a digest from {@link TDigest.toJSON} output. Throws a `TypeError` naming
   * the field when the data is malformed (unsorted centroids, weights that do not add
   * up to `count`, non-finite numbers).
   */
  static fromJSON(json: TDigestJSON): TDigest {
    if (json === null || typeof json !== 'object') throw new TypeError('digest must be an object');
    const digest = new TDigest({ compression: json.compression });
    const c = json.centroids;
    if (!Array.isArray(c) || c.length % 2 !== 0) {
      throw new TypeError('digest.centroids must be an array of [mean, weight] pairs');
    }
    let weight = 0;
    let previous = -Infinity;
    for (let i = 0; i < c.length; i += 2) {
      const mean: unknown = c[i];
      const w: unknown = c[i + 1];
      if (typeof mean !== 'number' || !Number.isFinite(mean) || mean < previous) {
        throw new TypeError(`digest.centroids[${i}] must be a finite mean, sorted ascending`);
      }
      if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0) {
        throw new TypeError(`digest.centroids[${i + 1}] must be a positive finite weight`);
      }
      previous = mean;
      weight += w;
    }
    if (
      typeof json.count !== 'number' ||
      !Number.isFinite(json.count) ||
      Math.abs(weight - json.count) > 1e-6 * Math.max(1, weight)
    ) {
      throw new TypeError(
        `digest.count (${String(json.count)}) must equal the sum of the weights (${weight})`,
      );
    }
    if (typeof json.sum !== 'number' || !Number.isFinite(json.sum)) {
      throw new TypeError('digest.sum must be a finite number');
    }
    if (c.length === 0) return digest;
    const min = json.min;
    const max = json.max;
    if (
      typeof min !== 'number' ||
      typeof max !== 'number' ||
      !Number.isFinite(min) ||
      !Number.isFinite(max) ||
      !(min <= c[0]!) ||
      !(max >= previous)
    ) {
      throw new TypeError('digest.min and digest.max must bound the centroid means');
    }
    digest.mergeCentroids(Float64Array.from(c), c.length / 2, weight, json.sum, min, max);
    return digest;
  }

  /**
   * Merges many digests into a new one; the compression is the highest among them.
   *
   * @example
   * ```ts
   * const fleetP99 = TDigest.mergeAll(perWorkerDigests).quantile(0.99);
   * ```
   */
  static mergeAll(digests: readonly TDigest[]): TDigest {
    let compression = digests.length === 0 ? DEFAULT_COMPRESSION : 0;
    for (const d of digests) compression = Math.max(compression, d.compression);
    // One merge pass per digest: each pass is linear in the centroids, so 100 digests
    // cost 100 short passes (measured as accurate as one pass over the whole union,
    // and ~10x faster than building that union).
    return new TDigest({ compression }).merge(...digests);
  }

  #flush(): void {
    const n = this.#buffered;
    const buffer = this.#buffer;
    if (n === 0 || buffer === undefined) return;
    this.#buffered = 0;
    sortFloat64(buffer, n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += buffer[i]!;
    this.#sum += sum;
    if (buffer[0]! < this.#min) this.#min = buffer[0]!;
    if (buffer[n - 1]! > this.#max) this.#max = buffer[n - 1]!;
    const total = this.#weight + n;
    const out = scratchFor(2 * (this.#length + n));
    const length = mergePass(
      this.#centroids,
      this.#length,
      buffer,
      n,
      false,
      total,
      this.#scale,
      out,
    );
    this.#store(out, length);
    this.#weight = total;
  }

  #store(source: Float64Array, length: number): void {
    if (this.#centroids.length < 2 * length) {
      // Room to grow by a quarter before the next allocation.
      this.#centroids = new Float64Array(2 * length + 2 * (length >> 2));
    }
    this.#centroids.set(source.subarray(0, 2 * length));
    this.#length = length;
  }
}
