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

/** A closed sub-window of every series of one metric and component. @internal */
export interface SlotStats {
  count: number;
  sum: number;
  min: number;
  max: number;
  errors: number;
  /** The component-wide part, built on the first quantile read (null: no data). */
  part: DigestPart | null | undefined;
}

interface Entry {
  /** Sub-window → its component-wide stats (null: no data in it). */
  readonly slots: Map<number, SlotStats | null>;
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
    const entry = this.#entry(key, from);
    for (let s = from; s < to; s++) {
      const stats = this.#slot(entry, series, s);
      if (stats === null) continue;
      if (stats.part === undefined) stats.part = this.#merge(series, s);
      if (stats.part !== null) out.push(stats.part);
    }
  }

  /**
   * Adds to `into` the component-wide stats of the closed sub-windows `from` ≤ s < `to`
   * of the (synced) series of one metric and component: a closed sub-window's stats
   * are summed over its series once, then read from the cache at every tick.
   */
  closedStats(
    key: string,
    series: readonly HistogramSeries[],
    from: number,
    to: number,
    into: { count: number; sum: number; min: number; max: number; errors: number },
  ): void {
    const entry = this.#entry(key, from);
    for (let s = from; s < to; s++) {
      const stats = this.#slot(entry, series, s);
      if (stats === null) continue;
      into.count += stats.count;
      into.sum += stats.sum;
      into.errors += stats.errors;
      if (stats.min < into.min) into.min = stats.min;
      if (stats.max > into.max) into.max = stats.max;
    }
  }

  #slot(entry: Entry, series: readonly HistogramSeries[], slot: number): SlotStats | null {
    let stats = entry.slots.get(slot);
    if (stats === undefined) {
      stats = null;
      for (const s of series) {
        const read = s.statsAt(slot);
        if (read === undefined) continue;
        if (stats === null) {
          stats = { ...read, part: undefined };
        } else {
          stats.count += read.count;
          stats.sum += read.sum;
          stats.errors += read.errors;
          if (read.min < stats.min) stats.min = read.min;
          if (read.max > stats.max) stats.max = read.max;
        }
      }
      entry.slots.set(slot, stats);
    }
    return stats;
  }

  #entry(key: string, from: number): Entry {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { slots: new Map(), oldest: from, usedAt: this.#tick };
      this.#entries.set(key, entry);
    } else if (entry.usedAt !== this.#tick) {
      entry.usedAt = this.#tick;
      entry.oldest = from;
    } else if (from < entry.oldest) entry.oldest = from;
    return entry;
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
