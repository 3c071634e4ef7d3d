import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { ringIndex } from './histogram-series.js';
import { type DropSink, SeriesBase, type SeriesIdentity } from './series-base.js';
import type { SlotTicker } from './ticker.js';

/**
 * A counter series handle with its tags already resolved.
 *
 * @example
 * ```ts
 * const generated = monitor.counter('recommendation.generated').bind({ algorithm: 'cf' });
 * generated.inc();
 * generated.inc(5);
 * ```
 */
export interface BoundCounter {
  /** Adds `value` (default 1). Never throws: negative, NaN or infinite increments are dropped and counted. */
  inc(value?: number): void;
}

/**
 * One counter series: the running total plus the increase of each sub-window in a
 * ring, so rates over every window come from exact counts.
 *
 * @internal
 */
export class CounterSeries extends SeriesBase implements BoundCounter {
  open = 0;
  total = 0;
  readonly ringSize: number;
  readonly ringSlots: Float64Array;
  readonly ringValues: Float64Array;

  constructor(ticker: SlotTicker, identity: SeriesIdentity, sink: DropSink, ringSize: number) {
    super(ticker, identity, sink);
    this.ringSize = ringSize;
    this.ringSlots = new Float64Array(ringSize).fill(NaN);
    this.ringValues = new Float64Array(ringSize);
  }

  inc(value = 1): void {
    if (typeof value !== 'number' || value - value !== 0 || value < 0) {
      this.sink.drop(
        typeof value === 'number' && value - value === 0
          ? DiagnosticCode.NEGATIVE_INCREMENT
          : DiagnosticCode.INVALID_VALUE,
        this.identity.name,
        value,
      );
      return;
    }
    const ticker = this.ticker;
    if (ticker.poll) ticker.read();
    if (ticker.slot !== this.slot) this.rotate(ticker.slot);
    this.open += value;
    this.total += value;
  }

  rotate(slot: number): void {
    if (slot <= this.slot) return;
    const i = ringIndex(this.slot, this.ringSize);
    this.ringSlots[i] = this.slot;
    this.ringValues[i] = this.open;
    this.open = 0;
    this.slot = slot;
  }

  /** The increase over the last `slots` closed sub-windows plus the open one, and since when. */
  read(slots: number): { increase: number; startMs: number } {
    this.sync();
    if (slots < 0) return { increase: this.total, startMs: this.createdMs };
    let increase = this.open;
    const from = this.slot - slots;
    for (let s = from; s < this.slot; s++) {
      const i = ringIndex(s, this.ringSize);
      if (this.ringSlots[i] === s) increase += this.ringValues[i]!;
    }
    return { increase, startMs: Math.max(from * this.ticker.slotMs, this.createdMs) };
  }
}
