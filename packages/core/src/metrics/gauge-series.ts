import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { type DropSink, SeriesBase, type SeriesIdentity } from './series-base.js';
import type { SlotTicker } from './ticker.js';

/**
 * A gauge series handle with its tags already resolved.
 *
 * @example
 * ```ts
 * const connections = monitor.gauge('db_connections', { component: 'database' }).bind();
 * connections.set(42);
 * connections.inc();
 * connections.dec(2);
 * ```
 */
export interface BoundGauge {
  /** Sets the value. Never throws: NaN and infinities are dropped and counted. */
  set(value: number): void;
  /** Adds `value` (default 1). */
  inc(value?: number): void;
  /** Subtracts `value` (default 1). */
  dec(value?: number): void;
}

/**
 * One gauge series: the last value set, and when.
 *
 * @internal
 */
export class GaugeSeries extends SeriesBase implements BoundGauge {
  value = 0;
  /** False until the first `set`/`inc`/`dec`: an unset gauge is not exported as 0. */
  hasValue = false;

  constructor(ticker: SlotTicker, identity: SeriesIdentity, sink: DropSink) {
    super(ticker, identity, sink);
  }

  set(value: number): void {
    if (typeof value !== 'number' || value - value !== 0) {
      this.sink.drop(DiagnosticCode.INVALID_VALUE, this.identity.name, value);
      return;
    }
    this.value = value;
    this.hasValue = true;
  }

  inc(value = 1): void {
    if (typeof value !== 'number' || value - value !== 0) {
      this.sink.drop(DiagnosticCode.INVALID_VALUE, this.identity.name, value);
      return;
    }
    this.value += value;
    this.hasValue = true;
  }

  dec(value = 1): void {
    this.inc(typeof value === 'number' ? -value : value);
  }

  rotate(slot: number): void {
    this.slot = slot;
  }
}
