/**
 * The console exporter: for development, a compact table of the series of each
 * export interval (one line per series: calls, rate, errors, p50/p99 or value),
 * followed by the finished spans and alert events of the batch, one line each.
 */
import type { Exporter, ExportItem, SeriesSnapshot } from '@prsm/core';

/**
 * Options of {@link consoleExporter}.
 *
 * @example
 * ```ts
 * const options: ConsoleExporterOptions = { windowSeconds: 60, write: (text) => process.stderr.write(text) };
 * ```
 */
export interface ConsoleExporterOptions {
  /** Where the text goes. Default `process.stdout.write`. */
  readonly write?: (text: string) => void;
  /** The window the table shows. Default the first window of each series (the shortest). */
  readonly windowSeconds?: number;
  /** Include the SDK's own `prsm.*` series. Default false. */
  readonly selfMetrics?: boolean;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toPrecision(3);
}

function seriesLabel(series: SeriesSnapshot): string {
  const tags = Object.entries(series.tags).map(([k, v]) => `${k}=${v}`);
  return `${series.component}/${series.name}${tags.length > 0 ? `{${tags.join(',')}}` : ''}`;
}

function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * A console exporter for `new Monitor({ exporters: [consoleExporter()] })`: a compact
 * table per export interval. Never fails (a `write` that throws is reported as a
 * non-retryable failure, so nothing is retried into a broken terminal).
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { consoleExporter } from '@prsm/exporters/console';
 *
 * const monitor = new Monitor({ exporters: [consoleExporter()], exportIntervalSeconds: 10 });
 * ```
 */
export function consoleExporter(options: ConsoleExporterOptions = {}): Exporter<ExportItem> {
  if (options.write !== undefined && typeof options.write !== 'function') {
    throw new TypeError('consoleExporter: options.write must be a function');
  }
  if (
    options.windowSeconds !== undefined &&
    (typeof options.windowSeconds !== 'number' || !(options.windowSeconds > 0))
  ) {
    throw new TypeError('consoleExporter: options.windowSeconds must be a number of seconds > 0');
  }
  const write = options.write ?? ((text: string): void => void process.stdout.write(text));
  return {
    name: 'console',
    export(batch) {
      const rows: string[][] = [['series', 'type', 'count', '/s', 'errors', 'p50', 'p99', 'value']];
      const other: string[] = [];
      let at: number | undefined;
      for (const item of batch.items) {
        if (item.kind === 'span') {
          const s = item.span;
          other.push(
            `span  ${s.name} ${formatNumber(s.durationMs)} ms ${s.status} trace=${s.traceId}`,
          );
          continue;
        }
        if (item.kind === 'alert') {
          const e = item.event;
          other.push(
            `alert ${e.event} [${e.severity}] ${e.name} (${e.component})${e.value === undefined ? '' : ` value=${formatNumber(e.value)}`}`,
          );
          continue;
        }
        const s = item.series;
        if (!options.selfMetrics && s.name.startsWith('prsm.')) continue;
        at = item.timestamp;
        if (s.type === 'gauge') {
          rows.push([seriesLabel(s), 'gauge', '', '', '', '', '', formatNumber(s.value)]);
        } else if (s.type === 'counter') {
          const w =
            s.windows.find((x) => x.windowSeconds === options.windowSeconds) ?? s.windows[0];
          rows.push([
            seriesLabel(s),
            'counter',
            formatNumber(w?.count ?? 0),
            formatNumber(w?.perSecond ?? 0),
            '',
            '',
            '',
            formatNumber(s.total),
          ]);
        } else {
          const w =
            s.windows.find((x) => x.windowSeconds === options.windowSeconds) ?? s.windows[0];
          const q = (p: number): string =>
            formatNumber(w?.quantiles.find((x) => x.quantile === p)?.value ?? NaN);
          rows.push([
            seriesLabel(s),
            s.type,
            formatNumber(w?.count ?? 0),
            formatNumber(w?.perSecond ?? 0),
            w !== undefined && w.count > 0 ? `${formatNumber(100 * w.errorRate)}%` : '',
            q(0.5),
            q(0.99),
            '',
          ]);
        }
      }
      const parts: string[] = [];
      if (rows.length > 1) {
        parts.push(
          `--- prsm ${at === undefined ? '' : new Date(at).toISOString()} batch ${batch.id}`,
          columns(rows),
        );
      }
      parts.push(...other);
      try {
        if (parts.length > 0) write(`${parts.join('\n')}\n`);
        return Promise.resolve({ ok: true });
      } catch (error) {
        return Promise.resolve({
          ok: false,
          retryable: false,
          error: error instanceof Error ? error.message : 'write failed',
        });
      }
    },
    shutdown: () => Promise.resolve(),
  };
}
