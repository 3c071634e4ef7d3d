/**
 * Per-component digests of closed sub-windows, kept across evaluation ticks. A rule's
 * quantile over a component reads every tag set's digests; a closed sub-window never
 * changes, so its component-wide merge (all tag sets in one digest) is built once, on
 * the first tick after it closes, and kept until it leaves the longest window a rule
 * reads. A tick then reads the open sub-window of each series plus one cached part
 * per closed sub-window, through a lazy merge that stops at the quantile
 * (`quantileOfUnion`). The cached part is the union of the series' centroids, not
 * recompressed, so a quantile reads it as finely as the series' own digests; it holds
 * as many centroids as those sub-windows do, for the components and windows rules
 * read. @internal
 */
import { type DigestPart, sortedUnion } from '../sketch/centroids.js';
import type { HistogramSeries } from '../metrics/histogram-series.js';

interface Entry {
  /** Sub-window → the component-wide part (null: no data in it). */
  readonly slots: Map<number, DigestPart | null>;
  /** The oldest sub-window read this tick. */
  oldest: number;
  usedAt: number;
}

/** @internal */
export class SlotDigestCache {
  readonly #entries = new Map<string, Entry>();
  #tick = 0;

  /** Starts a tick: entries not read during it are dropped at `endTick`. */
  beginTick(): void {
    this.#tick++;
  }

  /**
   * Appends to `out` the component-wide parts of the closed sub-windows `from` ≤ s <
   * `to` of the (synced) series of one metric and component (`key` names the pair).
   */
  closedParts(
    key: string,
    series: readonly HistogramSeries[],
    from: number,
    to: number,
    out: DigestPart[],
  ): void {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { slots: new Map(), oldest: from, usedAt: this.#tick };
      this.#entries.set(key, entry);
    } else if (entry.usedAt !== this.#tick) {
      entry.usedAt = this.#tick;
      entry.oldest = from;
    } else if (from < entry.oldest) entry.oldest = from;
    for (let s = from; s < to; s++) {
      let part = entry.slots.get(s);
      if (part === undefined) {
        part = this.#merge(series, s);
        entry.slots.set(s, part);
      }
      if (part !== null) out.push(part);
    }
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

  /** Cached sub-window parts, for tests. */
  get size(): number {
    let n = 0;
    for (const entry of this.#entries.values()) n += entry.slots.size;
    return n;
  }

  /** One sub-window of every series as one sorted list of all their centroids. */
  #merge(series: readonly HistogramSeries[], slot: number): DigestPart | null {
    const parts: DigestPart[] = [];
    let total = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const s of series) {
      const p = s.partAt(slot);
      if (p === undefined) continue;
      parts.push(p);
      total += p.total;
      sum += p.sum;
      if (p.min < min) min = p.min;
      if (p.max > max) max = p.max;
    }
    if (parts.length === 0) return null;
    // Every centroid of every tag set, uncompressed (a copy: the ring reuses its
    // arrays): the lazy merge reads it as finely as the series' own digests.
    const union = sortedUnion(parts);
    const centroids = union.centroids.slice(0, 2 * union.length);
    return { centroids, length: union.length, total, sum, min, max };
  }
}
