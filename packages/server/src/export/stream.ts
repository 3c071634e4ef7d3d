/**
 * The BI export's encoders and stream: rows of `datasets.ts` as RFC 4180 CSV (header
 * row, CRLF, quoted when needed) or JSON Lines, pulled one chunk at a time from a
 * read-only connection of its own, so a slow reader holds back the query (backpressure)
 * instead of filling memory, and the store's own connection stays free for ingest.
 * May import export/datasets.ts, node:stream and better-sqlite3.
 */
import { Readable } from 'node:stream';

import Database from 'better-sqlite3';

import {
  EXPORT_COLUMNS,
  iterateDataset,
  type ExportCell,
  type ExportDataset,
  type ExportFormat,
} from './datasets.js';

/** Rows are gathered into chunks of about this many characters before being pushed. */
const CHUNK_CHARS = 32 * 1024;

/**
 * One CSV field as RFC 4180 writes it: quoted (quotes doubled) when it holds a comma,
 * a quote, CR or LF; `null` is an empty field.
 *
 * @example
 * ```ts
 * csvField('a "b", c'); // '"a ""b"", c"'
 * ```
 */
export function csvField(value: ExportCell): string {
  if (value === null) return '';
  const text = typeof value === 'number' ? String(value) : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * One CSV record (CRLF-terminated).
 *
 * @example
 * ```ts
 * csvRecord(['x', 1, null]); // 'x,1,\r\n'
 * ```
 */
export function csvRecord(cells: readonly ExportCell[]): string {
  return `${cells.map(csvField).join(',')}\r\n`;
}

/** One JSON Lines record: an object keyed by the dataset's columns. */
function jsonRecord(columns: readonly string[], cells: readonly ExportCell[]): string {
  const out: Record<string, ExportCell> = {};
  columns.forEach((c, i) => (out[c] = cells[i] ?? null));
  return `${JSON.stringify(out)}\n`;
}

/**
 * What to export: the dataset, the format, and a time range `[from, to)` in ms since
 * the epoch (either end optional).
 *
 * @example
 * ```ts
 * const request: ExportRequest = { dataset: 'alerts', format: 'csv', from: Date.parse('2026-01-01') };
 * ```
 */
export interface ExportRequest {
  readonly dataset: ExportDataset;
  readonly format: ExportFormat;
  readonly from?: number;
  readonly to?: number;
}

/**
 * The MIME type of a format.
 *
 * @example
 * ```ts
 * exportContentType('csv'); // 'text/csv; charset=utf-8; header=present'
 * ```
 */
export function exportContentType(format: ExportFormat): string {
  return format === 'csv'
    ? 'text/csv; charset=utf-8; header=present'
    : 'application/x-ndjson; charset=utf-8';
}

/**
 * Opens a read-only connection to the SQLite file at `path` and returns the export as a
 * byte stream. The connection is opened and the query prepared before this returns (so
 * a missing file or table throws here, not mid-stream); it reads one snapshot of the
 * database (WAL) and is closed when the stream ends, fails or is destroyed (a client
 * that disconnects). Throws a `TypeError` for `:memory:` (nothing to open twice).
 *
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs';
 * import { pipeline } from 'node:stream/promises';
 *
 * await pipeline(openExportStream('./prsm-monitor.db', { dataset: 'metrics', format: 'csv' }),
 *   createWriteStream('metrics.csv'));
 * ```
 */
export function openExportStream(path: string, request: ExportRequest): Readable {
  if (path === ':memory:' || path === '') {
    throw new TypeError('openExportStream: the export reads a database file, not :memory:');
  }
  const db = new Database(path, { readonly: true, fileMustExist: true });
  let rows: IterableIterator<ExportCell[]>;
  try {
    rows = iterateDataset(db, request.dataset, request.from, request.to);
  } catch (error) {
    db.close();
    throw error;
  }
  const close = (): void => {
    if (!db.open) return;
    try {
      rows.return?.();
      db.close();
    } catch {
      // Closing cannot fail in a way the reader could act on; the handle is dropped.
    }
  };
  const columns = EXPORT_COLUMNS[request.dataset];
  const csv = request.format === 'csv';
  function* chunks(): Generator<string, void, undefined> {
    try {
      let chunk = csv ? csvRecord(columns) : '';
      for (const cells of rows) {
        chunk += csv ? csvRecord(cells) : jsonRecord(columns, cells);
        if (chunk.length >= CHUNK_CHARS) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk !== '') yield chunk;
    } finally {
      close();
    }
  }
  const stream = Readable.from(chunks(), { objectMode: false });
  stream.once('close', close);
  return stream;
}
