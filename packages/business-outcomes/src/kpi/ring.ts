import type { Period } from '../calendar/calendar.js';

/**
 * How a KPI's samples within one period make the period's value: `sum` (outcome
 * counts, revenue), `last` (snapshots such as MRR or a satisfaction score), `mean`
 * (quality scores such as model accuracy).
 *
 * @example
 * ```ts
 * outcomes.defineKpi({ name: 'model_accuracy', aggregation: 'mean', target: 0.9 });
 * ```
 */
export type Aggregation = 'sum' | 'last' | 'mean';

/**
 * A bounded ring of per-period aggregates (sum, count, last sample) of one series in
 * one dimension, oldest first. Only periods that received a sample take a slot;
 * beyond `capacity` the oldest period is forgotten.
 *
 * @internal
 */
export class PeriodRing {
  readonly capacity: number;
  readonly #ordinals: Float64Array;
  readonly #sums: Float64Array;
  readonly #counts: Float64Array;
  readonly #lasts: Float64Array;
  /** Index of the newest slot. */
  #head = -1;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#ordinals = new Float64Array(capacity);
    this.#sums = new Float64Array(capacity);
    this.#counts = new Float64Array(capacity);
    this.#lasts = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Adds a sample to `period`. A period older than every kept one is dropped (false). */
  add(period: Period, value: number): boolean {
    const slot = this.#slot(period.ordinal);
    if (slot < 0) return false;
    this.#sums[slot]! += value;
    this.#counts[slot]!++;
    this.#lasts[slot] = value;
    return true;
  }

  /** Sets the period's value outright (a `last` sample that replaces, count 1). */
  set(period: Period, value: number): boolean {
    const slot = this.#slot(period.ordinal);
    if (slot < 0) return false;
    this.#sums[slot] = value;
    this.#counts[slot] = 1;
    this.#lasts[slot] = value;
    return true;
  }

  #slot(ordinal: number): number {
    const cap = this.capacity;
    if (this.#size > 0) {
      const newest = this.#ordinals[this.#head]!;
      if (ordinal === newest) return this.#head;
      if (ordinal < newest) {
        // The clock went back: find the period if it is still kept.
        for (let k = 1; k < this.#size; k++) {
          const i = (this.#head - k + cap) % cap;
          if (this.#ordinals[i] === ordinal) return i;
          if (this.#ordinals[i]! < ordinal) return -1;
        }
        return -1;
      }
    }
    this.#head = (this.#head + 1) % cap;
    if (this.#size < cap) this.#size++;
    this.#ordinals[this.#head] = ordinal;
    this.#sums[this.#head] = 0;
    this.#counts[this.#head] = 0;
    this.#lasts[this.#head] = 0;
    return this.#head;
  }

  /** The k-th newest slot (0 = newest), or -1. */
  index(k: number): number {
    if (k < 0 || k >= this.#size) return -1;
    return (this.#head - k + this.capacity) % this.capacity;
  }

  ordinalAt(i: number): number {
    return this.#ordinals[i]!;
  }

  sumAt(i: number): number {
    return this.#sums[i]!;
  }

  countAt(i: number): number {
    return this.#counts[i]!;
  }

  valueAt(i: number, aggregation: Aggregation): number {
    if (aggregation === 'sum') return this.#sums[i]!;
    if (aggregation === 'last') return this.#lasts[i]!;
    const count = this.#counts[i]!;
    return count === 0 ? 0 : this.#sums[i]! / count;
  }

  /** The slot of `ordinal`, or -1 (newest first). */
  find(ordinal: number): number {
    for (let k = 0; k < this.#size; k++) {
      const i = this.index(k);
      const o = this.#ordinals[i]!;
      if (o === ordinal) return i;
      if (o < ordinal) return -1;
    }
    return -1;
  }

  /** Bytes held by the ring's arrays. */
  bytes(): number {
    return this.capacity * 4 * 8;
  }
}

/**
 * A KPI's points for a trend: `x` period ordinals ascending, `y` values.
 *
 * @internal
 */
export interface Points {
  readonly x: number[];
  readonly y: number[];
}

/**
 * The points of a ring over the last `n` periods. `sum` series count periods without
 * samples as 0 (nothing happened) and leave out the current period (still partial),
 * starting no earlier than the first period with a sample: the `n` periods before the
 * current one. `last` and `mean` series use the periods with samples among the `n`
 * ending with the current one.
 *
 * @internal
 */
export function pointsOf(
  ring: PeriodRing,
  aggregation: Aggregation,
  currentOrdinal: number,
  n: number,
): Points {
  const x: number[] = [];
  const y: number[] = [];
  if (ring.size === 0) return { x, y };
  if (aggregation === 'sum') {
    const oldest = ring.ordinalAt(ring.index(ring.size - 1));
    const from = Math.max(oldest, currentOrdinal - n);
    let k = ring.size - 1;
    for (let o = from; o < currentOrdinal; o++) {
      while (k >= 0 && ring.ordinalAt(ring.index(k)) < o) k--;
      const i = ring.index(k);
      x.push(o);
      y.push(k >= 0 && ring.ordinalAt(i) === o ? ring.sumAt(i) : 0);
    }
    return { x, y };
  }
  for (let k = Math.min(n, ring.size) - 1; k >= 0; k--) {
    const i = ring.index(k);
    const o = ring.ordinalAt(i);
    if (o > currentOrdinal || o <= currentOrdinal - n) continue;
    x.push(ring.ordinalAt(i));
    y.push(ring.valueAt(i, aggregation));
  }
  return { x, y };
}
