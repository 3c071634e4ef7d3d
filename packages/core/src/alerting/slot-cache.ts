/**
 * Per-component digests of closed sub-windows, kept across evaluation ticks. A
 * rule's quantile over a component merges every tag set's digest; rebuilding that
 * from every series' every sub-window on every tick costs O(series × sub-windows).
 * A closed sub-window never changes, so its component-wide merge is built once (on
 * the first tick after it closes), and so is each window's merge of those, until the
 * next sub-window closes. A tick then reads a mixture of one cached part plus each
 * series' open sub-window. The cached parts are t-digest merges (series into a
 * sub-window, sub-windows into a window): within the sketch's usual error, measured
 * against exact quantiles in the alerts benchmark. @internal
 */
import { type DigestPart, sortedUnion } from '../sketch/centroids.js';
import { TDigest } from '../sketch/tdigest.js';
import type { HistogramSeries } from '../metrics/histogram-series.js';

interface Entry {
  /** Sub-window → the component-wide part (null: no data in it). */
  readonly slots: Map<number, DigestPart | null>;
  /** Window length in sub-windows → its closed sub-windows merged, as of sub-window `to`. */
  readonly windows: Map<number, { to: number; part: DigestPart | null }>;
  /** The oldest sub-window read this tick. */
  oldest: number;
  usedAt: number;
}

/** @internal */
export class SlotDigestCache {
  readonly #compression: number;
  readonly #entries = new Map<string, Entry>();
  #tick = 0;

  constructor(compression: number) {
    this.#compression = compression;
  }

  /** Starts a tick: entries not read during it are dropped at `endTick`. */
  beginTick(): void {
    this.#tick++;
  }

  /**
   * The closed sub-windows `from` ≤ s < `to` of the (synced) series of one metric and
   * component (`key` names that pair), merged into one part; undefined when empty.
   */
  closedPart(
    key: string,
    series: readonly HistogramSeries[],
    from: number,
    to: number,
  ): DigestPart | undefined {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { slots: new Map(), windows: new Map(), oldest: from, usedAt: this.#tick };
      this.#entries.set(key, entry);
    }
    if (entry.usedAt !== this.#tick) {
      entry.usedAt = this.#tick;
      entry.oldest = from;
    } else if (from < entry.oldest) entry.oldest = from;
    const cached = entry.windows.get(to - from);
    if (cached?.to === to) return cached.part ?? undefined;
    const closed: DigestPart[] = [];
    for (let s = from; s < to; s++) {
      let part = entry.slots.get(s);
      if (part === undefined) {
        part = this.#merge(series, s);
        entry.slots.set(s, part);
      }
      if (part !== null) closed.push(part);
    }
    const part = this.#union(closed);
    entry.windows.set(to - from, { to, part });
    return part ?? undefined;
  }

  /**
   * The open sub-windows of the (synced) series merged into one part (a new digest:
   * the series' own arrays keep changing), or null when they hold nothing. One
   * series' open part is returned as is (read before it changes again).
   */
  openPart(series: readonly HistogramSeries[]): DigestPart | null {
    const parts: DigestPart[] = [];
    for (const s of series) {
      const part = s.activePart();
      if (part !== undefined) parts.push(part);
    }
    if (parts.length === 0) return null;
    if (parts.length === 1) return parts[0]!;
    // The union itself, uncompressed: a mixture reads it exactly, and it is read only
    // during this evaluation.
    let total = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const p of parts) {
      total += p.total;
      sum += p.sum;
      if (p.min < min) min = p.min;
      if (p.max > max) max = p.max;
    }
    const union = sortedUnion(parts);
    return {
      centroids: union.centroids.slice(0, 2 * union.length),
      length: union.length,
      total,
      sum,
      min,
      max,
    };
  }

  /** Drops entries no rule read this tick, and sub-windows older than any read. */
  endTick(): void {
    for (const [key, entry] of this.#entries) {
      if (entry.usedAt !== this.#tick) {
        this.#entries.delete(key);
        continue;
      }
      for (const slot of entry.slots.keys()) if (slot < entry.oldest) entry.slots.delete(slot);
    }
  }

  /** Cached sub-window and window parts, for tests. */
  get size(): number {
    let n = 0;
    for (const entry of this.#entries.values()) n += entry.slots.size + entry.windows.size;
    return n;
  }

  #merge(series: readonly HistogramSeries[], slot: number): DigestPart | null {
    const parts: DigestPart[] = [];
    for (const s of series) {
      const part = s.partAt(slot);
      if (part !== undefined) parts.push(part);
    }
    // Merged into a digest even when alone: the ring reuses its arrays.
    return this.#union(parts);
  }

  /** Several parts as one new digest, in one compression pass. */
  #union(parts: readonly DigestPart[]): DigestPart | null {
    if (parts.length === 0) return null;
    let total = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const p of parts) {
      total += p.total;
      sum += p.sum;
      if (p.min < min) min = p.min;
      if (p.max > max) max = p.max;
    }
    const union = sortedUnion(parts);
    const digest = new TDigest({ compression: this.#compression });
    digest.mergeCentroids(union.centroids, union.length, total, sum, min, max);
    return digest.part();
  }
}
