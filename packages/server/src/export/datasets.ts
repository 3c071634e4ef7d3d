/**
 * export/: the BI export (`GET /export`, `prsm-monitor export`). This file names the
 * datasets, their columns and the SQL that reads them, oldest first, from a
 * better-sqlite3 connection; `stream.ts` turns the rows into CSV or JSONL. May import
 * better-sqlite3 only.
 */
import type Database from 'better-sqlite3';

/**
 * The datasets of the BI export: `metrics` (stored minute and hour points of every
 * series), `business` (business KPI samples), `alerts` (alert events), `audit` (stored
 * audit records).
 *
 * @example
 * ```ts
 * const dataset: ExportDataset = 'metrics';
 * ```
 */
export type ExportDataset = 'business' | 'metrics' | 'alerts' | 'audit';

/**
 * The output formats: RFC 4180 CSV with a header row, or JSON Lines.
 *
 * @example
 * ```ts
 * const format: ExportFormat = 'csv';
 * ```
 */
export type ExportFormat = 'csv' | 'jsonl';

/**
 * A cell of an exported row: JSON columns (tags, metadata) are JSON text.
 *
 * @example
 * ```ts
 * const cell: ExportCell = null; // an empty CSV field, `null` in JSONL
 * ```
 */
export type ExportCell = string | number | null;

/**
 * The names of the datasets, in the order the docs list them.
 *
 * @example
 * ```ts
 * EXPORT_DATASETS.includes('alerts'); // true
 * ```
 */
export const EXPORT_DATASETS: readonly ExportDataset[] = Object.freeze([
  'business',
  'metrics',
  'alerts',
  'audit',
]);

/**
 * The names of the formats.
 *
 * @example
 * ```ts
 * EXPORT_FORMATS.includes('jsonl'); // true
 * ```
 */
export const EXPORT_FORMATS: readonly ExportFormat[] = Object.freeze(['csv', 'jsonl']);

/**
 * The columns of each dataset, in order: the CSV header row, and the keys of each JSONL
 * object. Times are ISO 8601 (UTC, milliseconds).
 *
 * @example
 * ```ts
 * EXPORT_COLUMNS.business; // ['time', 'metric_name', 'value', 'dimension', 'target', 'metadata']
 * ```
 */
export const EXPORT_COLUMNS: Readonly<Record<ExportDataset, readonly string[]>> = Object.freeze({
  metrics: Object.freeze([
    'time',
    'resolution_s',
    'name',
    'component',
    'tags',
    'metric_type',
    'unit',
    'count',
    'sum',
    'min',
    'max',
    'last',
    'errors',
    'p50',
    'p90',
    'p95',
    'p99',
    'p999',
  ]),
  business: Object.freeze(['time', 'metric_name', 'value', 'dimension', 'target', 'metadata']),
  alerts: Object.freeze([
    'time',
    'alert_id',
    'rule_id',
    'name',
    'severity',
    'component',
    'event',
    'value',
    'by',
    'escalation_step',
    'origin',
    'received_at',
  ]),
  audit: Object.freeze([
    'time',
    'source',
    'seq',
    'user_id',
    'action',
    'resource_type',
    'resource_id',
    'outcome',
    'ip_address',
    'user_agent',
    'session_id',
    'request_id',
    'metadata',
    'compliance_tags',
    'hash',
    'prev_hash',
  ]),
});

/** An ISO 8601 date (`2026-01-15`, midnight UTC) or date-time with a zone. @internal */
export const EXPORT_TIME_PATTERN =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$';

/**
 * A time bound of the export in ms since the epoch, or `undefined` when `value` is not
 * an ISO 8601 date or date-time with a zone naming a day that exists. @internal
 */
export function parseExportTime(value: string): number | undefined {
  if (!new RegExp(EXPORT_TIME_PATTERN).test(value)) return undefined;
  const ms = Date.parse(value);
  // Date.parse rolls 2026-02-31 over to March: the written day must exist.
  const [y, m, d] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  if (Number.isNaN(ms) || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return undefined;
  return ms;
}

/** Rows past this time bound stand for "no bound" (SQLite integers). */
const NO_FROM = Number.MIN_SAFE_INTEGER;
const NO_TO = Number.MAX_SAFE_INTEGER;

interface Query {
  readonly sql: string;
  readonly row: (raw: Record<string, unknown>) => ExportCell[];
}

function iso(ms: unknown): string {
  return new Date(Number(ms)).toISOString();
}

function num(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

const QUANTILE_KEYS = ['p50', 'p90', 'p95', 'p99', 'p999'] as const;

const QUERIES: Readonly<Record<ExportDataset, Query>> = {
  metrics: {
    sql: `SELECT p.bucket, p.resolution, s.name, s.component, s.tags, s.metric_type, s.unit,
            p.count, p.sum, p.min, p.max, p.last, p.errors, p.quantiles
          FROM points p JOIN series s ON s.id = p.series_id
          WHERE p.bucket >= ? AND p.bucket < ?
          ORDER BY p.bucket, s.name, s.component, s.tags, p.resolution`,
    row: (r) => {
      const q =
        typeof r['quantiles'] === 'string'
          ? (JSON.parse(r['quantiles']) as Record<string, unknown>)
          : {};
      return [
        iso(r['bucket']),
        num(r['resolution']),
        str(r['name']),
        str(r['component']),
        str(r['tags']),
        str(r['metric_type']),
        str(r['unit']),
        num(r['count']),
        num(r['sum']),
        num(r['min']),
        num(r['max']),
        num(r['last']),
        num(r['errors']),
        ...QUANTILE_KEYS.map((k) => num(q[k])),
      ];
    },
  },
  business: {
    sql: `SELECT recorded_at, metric_name, value, dimension, target, metadata FROM business_metrics
          WHERE recorded_at >= ? AND recorded_at < ? ORDER BY recorded_at, id`,
    row: (r) => [
      iso(r['recorded_at']),
      str(r['metric_name']),
      num(r['value']),
      str(r['dimension']),
      num(r['target']),
      str(r['metadata']),
    ],
  },
  alerts: {
    sql: `SELECT at, alert_id, rule_id, name, severity, component, event, value, by, escalation_step,
            origin, received_at
          FROM alert_events WHERE at >= ? AND at < ? ORDER BY at, alert_id, event`,
    row: (r) => [
      iso(r['at']),
      str(r['alert_id']),
      str(r['rule_id']),
      str(r['name']),
      str(r['severity']),
      str(r['component']),
      str(r['event']),
      num(r['value']),
      str(r['by']),
      num(r['escalation_step']),
      str(r['origin']),
      iso(r['received_at']),
    ],
  },
  audit: {
    sql: `SELECT ts_ms, source, seq, line FROM audit_entries
          WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, source, seq`,
    row: (r) => {
      const rec = JSON.parse(String(r['line'])) as Record<string, unknown>;
      const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
      return [
        iso(r['ts_ms']),
        str(r['source']),
        num(r['seq']),
        str(rec['user_id']),
        str(rec['action']),
        str(rec['resource_type']),
        str(rec['resource_id']),
        str(rec['outcome']),
        str(rec['ip_address']),
        str(rec['user_agent']),
        str(rec['session_id']),
        str(rec['request_id']),
        json(rec['metadata']),
        json(rec['compliance_tags']),
        str(rec['hash']),
        str(rec['prev_hash']),
      ];
    },
  },
};

/**
 * The rows of a dataset with a time in `[from, to)` (ms since the epoch; `undefined`:
 * unbounded), oldest first, read one at a time with `Statement.iterate()`: memory does
 * not grow with the result. The connection is busy until the iterator ends or its
 * `return()` is called. @internal
 */
export function iterateDataset(
  db: Database.Database,
  dataset: ExportDataset,
  from: number | undefined,
  to: number | undefined,
): IterableIterator<ExportCell[]> {
  const query = QUERIES[dataset];
  const rows = db
    .prepare<[number, number], Record<string, unknown>>(query.sql)
    .iterate(from ?? NO_FROM, to ?? NO_TO);
  return (function* (): Generator<ExportCell[], void, undefined> {
    try {
      for (const raw of rows) yield query.row(raw);
    } finally {
      rows.return?.();
    }
  })();
}
