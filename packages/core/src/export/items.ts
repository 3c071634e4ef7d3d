/** What the monitor hands its exporters. */
import type { AlertHistoryEntry } from '../alerting/types.js';
import type { SeriesSnapshot } from '../metrics/snapshot.js';
import type { StoredSpan } from '../tracing/trace-store.js';

/**
 * One item of an export batch: a series as of an export interval, a finished span,
 * or an alert event (a transition or an action of the alert engine).
 *
 * @example
 * ```ts
 * const exporter: Exporter<ExportItem> = {
 *   async export(batch) {
 *     const spans = batch.items.filter((item) => item.kind === 'span');
 *     console.log(batch.id, batch.items.length, 'items,', spans.length, 'spans');
 *     return { ok: true };
 *   },
 *   async shutdown() {},
 * };
 * ```
 */
export type ExportItem =
  | {
      readonly kind: 'series';
      /** When the snapshot was taken (ms since the epoch). */
      readonly timestamp: number;
      readonly series: SeriesSnapshot;
    }
  | { readonly kind: 'span'; readonly span: StoredSpan }
  | { readonly kind: 'alert'; readonly event: AlertHistoryEntry };

/** A rough size in bytes of an item as JSON, for the queue's byte bound. @internal */
export function exportItemSize(item: ExportItem): number {
  switch (item.kind) {
    case 'series': {
      const s = item.series;
      let bytes = 200 + s.name.length + s.component.length + 40 * Object.keys(s.tags).length;
      if (s.type === 'histogram' || s.type === 'timer') {
        for (const w of [s.cumulative, ...s.windows])
          bytes += 200 + 16 * (w.digest?.centroidCount ?? 0) + 24 * w.quantiles.length;
        // Sub-windows (an exporter that needs them): a mean and a weight per centroid.
        for (const w of s.subWindows ?? []) bytes += 160 + 8 * w.centroids.length;
      } else if (s.type === 'counter') bytes += 100 * s.windows.length;
      return bytes;
    }
    case 'span':
      return 300 + item.span.name.length + 60 * Object.keys(item.span.attributes).length;
    case 'alert':
      return 300;
  }
}
