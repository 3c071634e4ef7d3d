import { type CentroidArray, type DigestPart, mergePass, type Scale } from '../sketch/centroids.js';
import { trace } from '@opentelemetry/api';
import { sortFloat64 } from '../sketch/radix-sort.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { type DropSink, SeriesBase, type SeriesIdentity } from './series-base.js';
import type { SlotTicker } from './ticker.js';
import type { BoundTimer, StopTimer } from './instruments.js';
import type { SubWindowSnapshot } from './snapshot.js';

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
  /**
   * Records one value. Never throws: NaN, infinities and non-numbers are dropped and
   * counted. `traceId` (optional) names the trace the value was measured in: the
   * slowest traced value of each sub-window is kept as an exemplar, so a p99 can be
   * followed to a trace.
   */
  record(value: number, traceId?: string): void;
  /** Records one value of a failed operation: it counts in the percentiles and as an error. */
  recordError(value: number, traceId?: string): void;
}

/**
 * A recorded value with the trace it was measured in: the slowest traced value of a
 * sub-window, so a high percentile can be followed to a trace.
 *
 * @example
 * ```ts
 * const slowest: Exemplar | undefined = windowSnapshot.exemplars[0];
 * console.log(slowest?.value, slowest?.traceId);
 * ```
 */
export interface Exemplar {
  readonly value: number;
  readonly traceId: string;
}

/** Values buffered before a sorted merge: 2 KiB, ~1 centroid op per value amortized. */
const BUFFER_SIZE = 256;
/**
 * Up to this many buffered values, a raw read reads the buffer as it is; more are
 * merged first (into a digest its next reads remember: see `digestVersion`), so a raw
 * part stays a few values long.
 */
const RAW_MAX = 16;
/**
 * Per ring slot: sub-window id, count, sum, min, max, errors, centroid count, exemplar
 * value, and the top boundary of its centroids (see `DigestPart.top`).
 */
const STATS = 9;
const EMPTY = new Float64Array(0);

let mergeScratch: Float64Array = new Float64Array(2048);

/**
 * The buffered values of the series a raw read (see `HistogramSeries.read`) read last,
 * as centroids of weight 1 (the weights are written once): shared, so valid until the
 * next raw read of any series.
 */
const rawCentroids = new Float64Array(2 * BUFFER_SIZE).fill(1);

/** Floats per block that snapshot copies of centroids are cut from (256 KiB). */
const COPY_BLOCK = 65_536;
let copyBlock = new Float32Array(COPY_BLOCK);
let copyUsed = 0;

/**
 * A single-precision copy of `source[0, n)`, cut from a shared block: a snapshot of
 * ten thousand sub-windows then allocates a few blocks instead of ten thousand
 * buffers (each with its own backing store for the collector to track). A copy
 * pins its block; a block is only ever cut into copies, so what a kept snapshot
 * holds beyond its own data is at most one partly used block.
 */
function copyOut(source: Float32Array | Float64Array, n: number): Float32Array {
  if (n > COPY_BLOCK >> 2) {
    const own = new Float32Array(n);
    own.set(source.subarray(0, n));
    return own;
  }
  if (copyUsed + n > COPY_BLOCK) {
    copyBlock = new Float32Array(COPY_BLOCK);
    copyUsed = 0;
  }
  const copy = copyBlock.subarray(copyUsed, copyUsed + n);
  copy.set(source.subarray(0, n));
  copyUsed += n;
  return copy;
}

/** A sub-window's exemplar, or undefined when none of its values was traced. */
function exemplarOf(value: number, traceId: string | undefined): Exemplar | undefined {
  return traceId === undefined ? undefined : { value, traceId };
}

/** Slot numbers can be negative under a test clock set before 1970. */
export function ringIndex(slot: number, size: number): number {
  const i = slot % size;
  return i < 0 ? i + size : i;
}

const NO_PARTS: readonly DigestPart[] = Object.freeze([]);

type MutablePart = { -readonly [K in keyof DigestPart]: DigestPart[K] };

/** Part `n` of a read's list: a new object, or the one a previous read left there, overwritten. */
function setPart(
  parts: DigestPart[],
  n: number,
  centroids: CentroidArray,
  length: number,
  total: number,
  sum: number,
  min: number,
  max: number,
  top: number,
  id: number,
): void {
  const p: MutablePart | undefined = parts[n];
  if (p === undefined) {
    parts.push({ centroids, length, total, sum, min, max, top, id });
    return;
  }
  p.centroids = centroids;
  p.length = length;
  p.total = total;
  p.sum = sum;
  p.min = min;
  p.max = max;
  p.top = top;
  p.id = id;
}
const NO_EXEMPLARS: readonly Exemplar[] = Object.freeze([]);

function grow(array: Float64Array, numbers: number): Float64Array {
  if (array.length >= numbers) return array;
  let size = array.length;
  while (size < numbers) size *= 2;
  return new Float64Array(size);
}

/**
 * What a window read found: exact statistics and the digests of the sub-windows it
 * covers. The parts' arrays belong to the series: read them before it records again.
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
  parts: DigestPart[];
  /**
   * 1 when the first part is the unmerged buffer of a raw read (the only part that
   * changes while `digestVersion` stays), else 0.
   */
  open: number;
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
  /** The slowest traced value of the open sub-window, and its trace. */
  exemplarValue = -Infinity;
  exemplarTrace: string | undefined = undefined;
  /** Whether a value was ever recorded with a trace id (no exemplar to look for if not). */
  traced = false;
  readonly ringExemplars: (string | undefined)[];
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
  /**
   * The quantiles the last snapshot read of each window (the monitor lays them out),
   * where the next read's walk starts: a scrape a few samples later moves each by a
   * knot or two (see `guidedQuantiles`). Allocated by the first snapshot.
   */
  quantileHints: Float64Array | null = null;
  /**
   * Per window read with hints: the digests' summed ranks at each answer and the flat
   * stretch around it, and the lowest quantile's cursor in each digest (see
   * `QuantileMemo`), so a scrape whose answers did not move, or moved within those
   * stretches, reads only the buffered samples. Allocated with the hints.
   */
  quantileMemo: Float64Array | null = null;
  /**
   * Changes whenever a digest a read hands out changes (a merge into the open
   * sub-window, a rotation): the quantile memo's key. The buffer is not counted: a raw
   * read hands it out as a part of its own.
   */
  digestVersion = 0;

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
    // NaN marks an empty slot: no sub-window number equals it (-1 would, at the epoch).
    this.ringStats = new Float64Array(ringSize * STATS).fill(NaN);
    this.ringExemplars = new Array<string | undefined>(ringSize).fill(undefined);
  }

  record(value: number, traceId?: string): void {
    this.#add(value, traceId, 0);
  }

  recordError(value: number, traceId?: string): void {
    this.#add(value, traceId, 1);
  }

  /** The hot path: a check, an integer compare, a buffer write (V8 inlines it). */
  #add(value: number, traceId: string | undefined, error: 0 | 1): void {
    if (typeof value !== 'number' || value - value !== 0) {
      this.sink.drop(DiagnosticCode.INVALID_VALUE, this.identity.name, value);
      return;
    }
    const ticker = this.ticker;
    if (ticker.poll) ticker.read();
    if (ticker.slot !== this.slot) this.rotate(ticker.slot);
    if (traceId !== undefined && value > this.exemplarValue) this.#exemplar(value, traceId);
    this.errors += error;
    this.buffer[this.buffered++] = value;
    if (this.buffered === BUFFER_SIZE) this.flush();
  }

  /**
   * Starts timing on the monitor's monotonic clock; the returned function records,
   * with the active span's trace id (if a span is recording) as the exemplar.
   */
  startTimer(): StopTimer {
    const monotonic = this.ticker.monotonic;
    const start = monotonic();
    return (outcome) => {
      const elapsed = monotonic() - start;
      const span = trace.getActiveSpan();
      const traceId = span?.isRecording() === true ? span.spanContext().traceId : undefined;
      if (outcome?.error === true) this.recordError(elapsed, traceId);
      else this.record(elapsed, traceId);
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
    this.#mergeActive(buffer, n, false, n);
    // A loop that never yields keeps the timer from firing: check the time here too.
    if (!this.ticker.poll) this.ticker.read();
  }

  /**
   * Merges a digest (centroids with exact totals: another process's sub-window) into
   * the open sub-window, as if its values had been recorded now: one merge pass, never
   * an average.
   */
  mergeCentroids(
    centroids: CentroidArray,
    length: number,
    count: number,
    sum: number,
    min: number,
    max: number,
    errors: number,
  ): void {
    if (length === 0 || !(count > 0)) return;
    this.syncOpen();
    this.#mergeActive(centroids, length, true, count);
    this.activeSum += sum;
    if (min < this.activeMin) this.activeMin = min;
    if (max > this.activeMax) this.activeMax = max;
    this.errors += errors;
  }

  /** One merge pass of `n` values (or `n` centroids weighing `weight`) into the open digest. */
  #mergeActive(input: CentroidArray, n: number, centroids: boolean, weight: number): void {
    this.digestVersion++;
    const total = this.activeWeight + weight;
    mergeScratch = grow(mergeScratch, 2 * (this.activeLength + n));
    const length = mergePass(
      this.active,
      this.activeLength,
      input,
      n,
      centroids,
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
  }

  rotate(slot: number): void {
    if (slot <= this.slot) return;
    this.flush();
    this.#close();
    this.slot = slot;
  }

  /**
   * Reads the last `slots` closed sub-windows plus the open one (`slots < 0`:
   * cumulative). The sub-windows stay separate digests: quantiles over them are read
   * from their exact mixture (see `mixtureQuantiles`), because merging centroids that
   * interleave from different sub-windows costs accuracy. With `into` (a previous
   * read), that read and its parts are overwritten and returned: a visit of every
   * series then allocates no read per series.
   *
   * The buffer is merged into the open sub-window first, unless `raw` and it holds at
   * most `RAW_MAX` (16) values: then it is left unmerged (sorted in place) and read as
   * it is, its values exact, counted in the statistics and, with parts, handed out as
   * the first part (centroids of weight 1 in a shared array: a raw read's parts must be
   * read before the next raw read of any series). A read a few values after the last
   * one then merges nothing, and the digests it hands out are the ones the last read
   * did (see `digestVersion`).
   */
  read(
    slots: number,
    withParts = true,
    into?: HistogramWindowRead,
    raw = false,
  ): HistogramWindowRead {
    this.sync();
    if (!raw || this.buffered > RAW_MAX) this.flush();
    let count = this.activeWeight;
    let sum = this.activeSum;
    let min = this.activeMin;
    let max = this.activeMax;
    let errors = this.errors;
    let startMs: number;
    const buffered = this.buffered;
    let bufferSum = 0;
    if (buffered > 0) {
      const buffer = this.buffer;
      if (withParts) {
        sortFloat64(buffer, buffered);
        for (let i = 0; i < buffered; i++) {
          const v = buffer[i]!;
          rawCentroids[2 * i] = v;
          bufferSum += v;
        }
        if (buffer[0]! < min) min = buffer[0]!;
        if (buffer[buffered - 1]! > max) max = buffer[buffered - 1]!;
      } else {
        for (let i = 0; i < buffered; i++) {
          const v = buffer[i]!;
          bufferSum += v;
          if (v < min) min = v;
          if (v > max) max = v;
        }
      }
      count += buffered;
      sum += bufferSum;
    }
    // A stats-only read allocates no list (alert ticks make thousands of them); a read
    // `into` a previous one overwrites its list and parts in place.
    const parts: DigestPart[] = !withParts
      ? (NO_PARTS as DigestPart[])
      : into === undefined || into.parts === NO_PARTS
        ? []
        : into.parts;
    let n = 0;
    if (withParts && buffered > 0) {
      setPart(
        parts,
        n++,
        rawCentroids,
        buffered,
        buffered,
        bufferSum,
        rawCentroids[0]!,
        rawCentroids[2 * buffered - 2]!,
        // Single samples: the top is the last one, already at hand.
        rawCentroids[2 * buffered - 2]!,
        NaN,
      );
    }
    if (withParts && this.activeLength > 0) {
      setPart(
        parts,
        n++,
        this.active,
        this.activeLength,
        this.activeWeight,
        this.activeSum,
        this.activeMin,
        this.activeMax,
        NaN,
        // Negative, never a sub-window's number; new with every merge and rotation.
        -1 - this.digestVersion,
      );
    }
    if (slots < 0) {
      startMs = this.createdMs;
      if (this.cumulativeWeight > 0 && this.cumulative !== null) {
        if (withParts) {
          setPart(
            parts,
            n++,
            this.cumulative,
            this.cumulativeLength,
            this.cumulativeWeight,
            this.cumulativeSum,
            this.cumulativeMin,
            this.cumulativeMax,
            NaN,
            NaN,
          );
        }
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
        if (withParts) {
          setPart(
            parts,
            n++,
            this.ring[i]!,
            stats[base + 6]!,
            stats[base + 1]!,
            stats[base + 2]!,
            stats[base + 3]!,
            stats[base + 4]!,
            stats[base + 8]!,
            // A closed sub-window's centroids never change: its number names them.
            s,
          );
        }
        count += stats[base + 1]!;
        sum += stats[base + 2]!;
        if (stats[base + 3]! < min) min = stats[base + 3]!;
        if (stats[base + 4]! > max) max = stats[base + 4]!;
        errors += stats[base + 5]!;
      }
    }
    if (withParts && parts.length !== n) parts.length = n;
    const open = withParts && buffered > 0 ? 1 : 0;
    if (into === undefined) return { count, sum, min, max, errors, startMs, parts, open };
    into.count = count;
    into.sum = sum;
    into.min = min;
    into.max = max;
    into.errors = errors;
    into.startMs = startMs;
    // A stats-only read leaves the list of `into` for the next read with parts.
    if (withParts) {
      into.parts = parts;
      into.open = open;
    }
    return into;
  }

  /**
   * The open sub-window as a part (after `syncOpen`, or a `read` that was not raw), or
   * undefined when it holds nothing.
   */
  activePart(): DigestPart | undefined {
    if (this.activeLength === 0) return undefined;
    return {
      centroids: this.active,
      length: this.activeLength,
      total: this.activeWeight,
      sum: this.activeSum,
      min: this.activeMin,
      max: this.activeMax,
    };
  }

  /**
   * The closed sub-window `slot`'s count, sum, min, max and errors, or undefined when
   * the ring holds nothing of it (after `read` or `syncOpen`).
   */
  statsAt(
    slot: number,
  ): { count: number; sum: number; min: number; max: number; errors: number } | undefined {
    if (slot >= this.slot) return undefined;
    const i = ringIndex(slot, this.ringSize);
    const base = i * STATS;
    const stats = this.ringStats;
    if (stats[base] !== slot || stats[base + 1]! === 0) return undefined;
    return {
      count: stats[base + 1]!,
      sum: stats[base + 2]!,
      min: stats[base + 3]!,
      max: stats[base + 4]!,
      errors: stats[base + 5]!,
    };
  }

  /** Brings the series up to the clock and flushes its buffer into the open sub-window. */
  syncOpen(): void {
    this.sync();
    this.flush();
  }

  /** The closed sub-window `slot` as a part, or undefined when the ring holds nothing of it. */
  partAt(slot: number): DigestPart | undefined {
    if (slot >= this.slot) return undefined;
    const i = ringIndex(slot, this.ringSize);
    const base = i * STATS;
    const stats = this.ringStats;
    if (stats[base] !== slot || stats[base + 1]! === 0) return undefined;
    return {
      centroids: this.ring[i]!,
      length: stats[base + 6]!,
      total: stats[base + 1]!,
      sum: stats[base + 2]!,
      min: stats[base + 3]!,
      max: stats[base + 4]!,
      top: stats[base + 8]!,
    };
  }

  /**
   * The sub-windows with data from `fromSlot` on and before `toSlot` that the ring still
   * holds (closed), oldest first, and the open one (its buffer merged first) when
   * `withOpen`; after `read`, which syncs. Each carries a single-precision copy of its
   * centroids.
   */
  subWindows(fromSlot: number, withOpen: boolean, toSlot = Infinity): SubWindowSnapshot[] {
    // A raw read may have left values in the buffer: the open sub-window holds them all.
    if (withOpen) this.flush();
    const out: SubWindowSnapshot[] = [];
    const slotMs = this.ticker.slotMs;
    const stats = this.ringStats;
    const first = Math.max(fromSlot, this.slot - this.ringSize + 1);
    const end = Math.min(this.slot, toSlot);
    for (let s = first; s < end; s++) {
      const i = ringIndex(s, this.ringSize);
      const base = i * STATS;
      if (stats[base] !== s || stats[base + 1]! === 0) continue;
      out.push({
        startMs: s * slotMs,
        seconds: slotMs / 1000,
        open: false,
        count: stats[base + 1]!,
        sum: stats[base + 2]!,
        min: stats[base + 3]!,
        max: stats[base + 4]!,
        errors: stats[base + 5]!,
        centroids: copyOut(this.ring[i]!, 2 * stats[base + 6]!),
        exemplar: exemplarOf(stats[base + 7]!, this.ringExemplars[i]),
      });
    }
    if (withOpen && this.activeWeight > 0 && this.slot >= fromSlot && this.slot < toSlot) {
      out.push({
        startMs: this.slot * slotMs,
        seconds: slotMs / 1000,
        open: true,
        count: this.activeWeight,
        sum: this.activeSum,
        min: this.activeMin,
        max: this.activeMax,
        errors: this.errors,
        centroids: copyOut(this.active, 2 * this.activeLength),
        exemplar: exemplarOf(this.exemplarValue, this.exemplarTrace),
      });
    }
    return out;
  }

  /** Approximate bytes held, for the memory benchmark and tests. */
  retainedBytes(): number {
    let bytes = this.buffer.byteLength + this.active.byteLength + this.ringStats.byteLength;
    for (const c of this.ring) if (c !== null) bytes += c.byteLength;
    if (this.cumulative !== null) bytes += this.cumulative.byteLength;
    if (this.quantileHints !== null) bytes += this.quantileHints.byteLength;
    if (this.quantileMemo !== null) bytes += this.quantileMemo.byteLength;
    return bytes;
  }

  /** The exemplars (slowest traced value per sub-window) a window covers, slowest first. */
  exemplars(slots: number): readonly Exemplar[] {
    this.sync();
    if (!this.traced) return NO_EXEMPLARS;
    // Most series trace nothing: a snapshot of ten thousand of them then allocates no list.
    let out: Exemplar[] | undefined;
    if (this.exemplarTrace !== undefined) {
      out = [{ value: this.exemplarValue, traceId: this.exemplarTrace }];
    }
    const from = slots < 0 ? this.slot - this.ringSize + 1 : this.slot - slots;
    for (let s = from; s < this.slot; s++) {
      const i = ringIndex(s, this.ringSize);
      const traceId = this.ringExemplars[i];
      if (this.ringStats[i * STATS] === s && traceId !== undefined) {
        (out ??= []).push({ value: this.ringStats[i * STATS + 7]!, traceId });
      }
    }
    if (out === undefined) return NO_EXEMPLARS;
    return out.length > 1 ? out.sort((a, b) => b.value - a.value) : out;
  }

  #exemplar(value: number, traceId: string): void {
    if (typeof traceId !== 'string') return;
    this.traced = true;
    this.exemplarValue = value;
    this.exemplarTrace = traceId;
  }

  #close(): void {
    this.digestVersion++;
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
    stats[base + 7] = this.exemplarValue;
    this.ringExemplars[i] = this.exemplarTrace;
    this.exemplarValue = -Infinity;
    this.exemplarTrace = undefined;
    if (this.activeWeight > 0) {
      let stored = this.ring[i] ?? null;
      if (stored === null || stored.length < 2 * length) stored = new Float32Array(2 * length);
      stored.set(this.active.subarray(0, 2 * length));
      this.ring[i] = stored;
      // Read from here by a read's walk, which then need not touch the centroids' end.
      stats[base + 8] = Math.max(this.activeMax, stored[2 * length - 2]!, this.activeMin);
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
      stats[base + 8] = NaN;
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
