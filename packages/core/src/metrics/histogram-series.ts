import { type CentroidArray, mergePass, type Scale, unionSorted } from '../sketch/centroids.js';
import { sortFloat64 } from '../sketch/radix-sort.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { type DropSink, SeriesBase, type SeriesIdentity } from './series-base.js';
import type { SlotTicker } from './ticker.js';
import type { BoundTimer, StopTimer } from './instruments.js';

/**
 * A histogram or timer series handle with its tags already resolved: the hot path.
 *
 * @example
 * ```ts
 * const latency = monitor.timer('api.latency', { component: 'api_gateway' }).bind({ route: '/users/:id' });
 * latency.record(12.5);
 * latency.recordError(250); // a failed call: counted in the error rate too
 * ```
 */
export interface BoundHistogram {
  /** Records one value. Never throws: NaN, infinities and non-numbers are dropped and counted. */
  record(value: number): void;
  /** Records one value of a failed operation: it counts in the percentiles and as an error. */
  recordError(value: number): void;
}

/** Values buffered before a sorted merge: 2 KiB, ~1 centroid op per value amortized. */
const BUFFER_SIZE = 256;
/** Per ring slot: sub-window id, count, sum, min, max, errors, centroid count. */
const STATS = 7;
const EMPTY = new Float64Array(0);

let mergeScratch: Float64Array = new Float64Array(2048);
let unionScratchA: Float64Array = new Float64Array(4096);
let unionScratchB: Float64Array = new Float64Array(4096);

/** Slot numbers can be negative under a test clock set before 1970. */
export function ringIndex(slot: number, size: number): number {
  const i = slot % size;
  return i < 0 ? i + size : i;
}

function grow(array: Float64Array, numbers: number): Float64Array {
  if (array.length >= numbers) return array;
  let size = array.length;
  while (size < numbers) size *= 2;
  return new Float64Array(size);
}

/**
 * What a window read found. `centroids` is scratch shared by every series: valid until
 * the next read of any series.
 *
 * @internal
 */
export interface HistogramWindowRead {
  count: number;
  sum: number;
  min: number;
  max: number;
  errors: number;
  /** Start of the time the window actually covers (ms), for rates. */
  startMs: number;
  centroids: Float64Array;
  length: number;
}

/**
 * One histogram or timer series: a ring of sub-window digests plus a cumulative one.
 *
 * Records go to a 256-value buffer; a full buffer is sorted and merged into the open
 * sub-window's centroids (Float64). When the sub-window closes, its centroids are
 * stored in single precision in the ring and folded into the cumulative digest. A
 * window read unions the open sub-window with the closed ones it covers, without
 * recompressing, so a window is as accurate as its parts. Every ring slot owns its own
 * arrays (prom-client shares one digest across its ring: a bug we test against).
 *
 * @internal
 */
export class HistogramSeries extends SeriesBase implements BoundTimer {
  buffer = new Float64Array(BUFFER_SIZE);
  buffered = 0;
  errors = 0;
  readonly scale: Scale;
  readonly ringSize: number;
  // The open sub-window.
  active: Float64Array = new Float64Array(32);
  activeLength = 0;
  activeWeight = 0;
  activeSum = 0;
  activeMin = Infinity;
  activeMax = -Infinity;
  // Closed sub-windows.
  readonly ring: (Float32Array | null)[];
  readonly ringStats: Float64Array;
  // Everything before the open sub-window.
  cumulative: Float32Array | null = null;
  cumulativeLength = 0;
  cumulativeWeight = 0;
  cumulativeSum = 0;
  cumulativeMin = Infinity;
  cumulativeMax = -Infinity;
  cumulativeErrors = 0;

  constructor(
    ticker: SlotTicker,
    identity: SeriesIdentity,
    sink: DropSink,
    scale: Scale,
    ringSize: number,
  ) {
    super(ticker, identity, sink);
    this.scale = scale;
    this.ringSize = ringSize;
    this.ring = new Array<Float32Array | null>(ringSize).fill(null);
    this.ringStats = new Float64Array(ringSize * STATS).fill(-1);
  }

  record(value: number): void {
    if (typeof value !== 'number' || value - value !== 0) {
      this.sink.drop(DiagnosticCode.INVALID_VALUE, this.identity.name, value);
      return;
    }
    const ticker = this.ticker;
    if (ticker.poll) ticker.read();
    if (ticker.slot !== this.slot) this.rotate(ticker.slot);
    this.buffer[this.buffered++] = value;
    if (this.buffered === BUFFER_SIZE) this.flush();
  }

  recordError(value: number): void {
    if (typeof value !== 'number' || value - value !== 0) {
      this.sink.drop(DiagnosticCode.INVALID_VALUE, this.identity.name, value);
      return;
    }
    const ticker = this.ticker;
    if (ticker.poll) ticker.read();
    if (ticker.slot !== this.slot) this.rotate(ticker.slot);
    this.errors++;
    this.buffer[this.buffered++] = value;
    if (this.buffered === BUFFER_SIZE) this.flush();
  }

  /** Starts timing on the monitor's monotonic clock; the returned function records. */
  startTimer(): StopTimer {
    const monotonic = this.ticker.monotonic;
    const start = monotonic();
    return (outcome) => {
      const elapsed = monotonic() - start;
      if (outcome?.error === true) this.recordError(elapsed);
      else this.record(elapsed);
      return elapsed;
    };
  }

  /** Merges the buffer into the open sub-window. */
  flush(): void {
    const n = this.buffered;
    if (n === 0) return;
    this.buffered = 0;
    const buffer = this.buffer;
    sortFloat64(buffer, n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += buffer[i]!;
    this.activeSum += sum;
    if (buffer[0]! < this.activeMin) this.activeMin = buffer[0]!;
    if (buffer[n - 1]! > this.activeMax) this.activeMax = buffer[n - 1]!;
    const total = this.activeWeight + n;
    mergeScratch = grow(mergeScratch, 2 * (this.activeLength + n));
    const length = mergePass(
      this.active,
      this.activeLength,
      buffer,
      n,
      false,
      total,
      this.scale,
      mergeScratch,
    );
    if (this.active.length < 2 * length) {
      this.active = new Float64Array(2 * length + (length >> 1) * 2);
    }
    this.active.set(mergeScratch.subarray(0, 2 * length));
    this.activeLength = length;
    this.activeWeight = total;
    // A loop that never yields keeps the timer from firing: check the time here too.
    if (!this.ticker.poll) this.ticker.read();
  }

  rotate(slot: number): void {
    if (slot <= this.slot) return;
    this.flush();
    this.#close();
    this.slot = slot;
  }

  /** Reads the last `slots` closed sub-windows plus the open one (`slots < 0`: cumulative). */
  read(slots: number): HistogramWindowRead {
    this.sync();
    this.flush();
    let count = this.activeWeight;
    let sum = this.activeSum;
    let min = this.activeMin;
    let max = this.activeMax;
    let errors = this.errors;
    let startMs: number;
    // Start from the open sub-window's centroids.
    unionScratchA = grow(unionScratchA, 2 * this.activeLength);
    unionScratchA.set(this.active.subarray(0, 2 * this.activeLength));
    let current = unionScratchA;
    let length = this.activeLength;
    const addCentroids = (c: CentroidArray, n: number): void => {
      const other = current === unionScratchA ? 'B' : 'A';
      let out = other === 'B' ? unionScratchB : unionScratchA;
      out = grow(out, 2 * (length + n));
      if (other === 'B') unionScratchB = out;
      else unionScratchA = out;
      length = unionSorted(current, length, c, n, out);
      current = out;
    };
    if (slots < 0) {
      startMs = this.createdMs;
      if (this.cumulativeWeight > 0 && this.cumulative !== null) {
        addCentroids(this.cumulative, this.cumulativeLength);
        count += this.cumulativeWeight;
        sum += this.cumulativeSum;
        errors += this.cumulativeErrors;
        if (this.cumulativeMin < min) min = this.cumulativeMin;
        if (this.cumulativeMax > max) max = this.cumulativeMax;
      }
    } else {
      const from = this.slot - slots;
      startMs = Math.max(from * this.ticker.slotMs, this.createdMs);
      const stats = this.ringStats;
      for (let s = from; s < this.slot; s++) {
        const i = ringIndex(s, this.ringSize);
        const base = i * STATS;
        if (stats[base] !== s || stats[base + 1]! === 0) continue;
        count += stats[base + 1]!;
        sum += stats[base + 2]!;
        if (stats[base + 3]! < min) min = stats[base + 3]!;
        if (stats[base + 4]! > max) max = stats[base + 4]!;
        errors += stats[base + 5]!;
        addCentroids(this.ring[i]!, stats[base + 6]!);
      }
    }
    return { count, sum, min, max, errors, startMs, centroids: current, length };
  }

  /** Approximate bytes held, for the memory benchmark and tests. */
  retainedBytes(): number {
    let bytes = this.buffer.byteLength + this.active.byteLength + this.ringStats.byteLength;
    for (const c of this.ring) if (c !== null) bytes += c.byteLength;
    if (this.cumulative !== null) bytes += this.cumulative.byteLength;
    return bytes;
  }

  #close(): void {
    const i = ringIndex(this.slot, this.ringSize);
    const base = i * STATS;
    const stats = this.ringStats;
    const length = this.activeLength;
    stats[base] = this.slot;
    stats[base + 1] = this.activeWeight;
    stats[base + 2] = this.activeSum;
    stats[base + 3] = this.activeMin;
    stats[base + 4] = this.activeMax;
    stats[base + 5] = this.errors;
    stats[base + 6] = length;
    if (this.activeWeight > 0) {
      let stored = this.ring[i] ?? null;
      if (stored === null || stored.length < 2 * length) stored = new Float32Array(2 * length);
      stored.set(this.active.subarray(0, 2 * length));
      this.ring[i] = stored;
      // Fold into the cumulative digest.
      const total = this.cumulativeWeight + this.activeWeight;
      mergeScratch = grow(mergeScratch, 2 * (this.cumulativeLength + length));
      const n = mergePass(
        this.cumulative ?? EMPTY,
        this.cumulativeLength,
        this.active,
        length,
        true,
        total,
        this.scale,
        mergeScratch,
      );
      let cumulative = this.cumulative;
      if (cumulative === null || cumulative.length < 2 * n)
        cumulative = new Float32Array(2 * n + 16);
      cumulative.set(mergeScratch.subarray(0, 2 * n));
      this.cumulative = cumulative;
      this.cumulativeLength = n;
      this.cumulativeWeight = total;
      this.cumulativeSum += this.activeSum;
      if (this.activeMin < this.cumulativeMin) this.cumulativeMin = this.activeMin;
      if (this.activeMax > this.cumulativeMax) this.cumulativeMax = this.activeMax;
    } else {
      this.ring[i] = null;
    }
    this.cumulativeErrors += this.errors;
    this.activeLength = 0;
    this.activeWeight = 0;
    this.activeSum = 0;
    this.activeMin = Infinity;
    this.activeMax = -Infinity;
    this.errors = 0;
  }
}
