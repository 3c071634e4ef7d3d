import type { DiagnosticCodeValue } from '../diagnostics/diagnostics.js';
import type { Labels, MetricType, Tags } from './types.js';
import type { SlotTicker } from './ticker.js';

/**
 * Where a series reports a value it refused. Implemented by the metric family, which
 * counts it in diagnostics and in the `prsm.records.dropped` self-metric.
 *
 * @internal
 */
export interface DropSink {
  drop(code: DiagnosticCodeValue, metric: string, value: unknown): void;
}

/**
 * What every series knows about itself.
 *
 * @internal
 */
export interface SeriesIdentity {
  readonly name: string;
  readonly type: MetricType;
  readonly component: string;
  readonly tags: Tags;
  labels: Labels;
  /** True for the one series per metric and component that takes tag sets beyond the cap. */
  readonly overflow: boolean;
  readonly unit: string;
  readonly description: string;
}

/**
 * Fields and checks shared by counter, gauge and histogram series.
 *
 * @internal
 */
export abstract class SeriesBase {
  /** The sub-window the open data belongs to. */
  slot: number;
  readonly ticker: SlotTicker;
  readonly identity: SeriesIdentity;
  readonly sink: DropSink;
  /** When the series was created (ms): rates never count time before it. */
  readonly createdMs: number;

  constructor(ticker: SlotTicker, identity: SeriesIdentity, sink: DropSink) {
    this.ticker = ticker;
    this.identity = identity;
    this.sink = sink;
    this.slot = ticker.poll ? ticker.read() : ticker.slot;
    this.createdMs = ticker.now();
  }

  /**
   * Brings the series up to the ticker's slot; reads call it before anything else.
   * A ticker kept current by its timer or its clock's change events is not asked to
   * read the clock again (a read over ten thousand series would read it ten thousand
   * times); one that polls is.
   */
  sync(): void {
    const ticker = this.ticker;
    const slot = ticker.poll ? ticker.read() : ticker.slot;
    if (slot !== this.slot) this.rotate(slot);
  }

  /** Closes the open sub-window and opens `slot`. */
  abstract rotate(slot: number): void;
}
