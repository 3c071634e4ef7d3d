/**
 * Exemplars: a few traced values per histogram/timer series per minute, so a latency
 * point on the dashboard leads to a trace. A REST batch's sub-window may carry up to
 * {@link MAX_EXEMPLARS} of them (`RestExemplar`); they are checked here (400 naming the
 * field), filed under the sub-window's minute, and only the {@link MAX_EXEMPLARS}
 * slowest of a series' minute are kept. They are dropped with the minute rows (at
 * roll-up), so they live as long as the minute digests they illustrate. The table
 * lives in the store's file; the dashboard reads it through its own connection.
 * Imports better-sqlite3's types, the REST exporter's types and the server's
 * `InputError`.
 */
import type Database from 'better-sqlite3';
import type { RestExemplar } from '@prsm/exporters/rest';

import { InputError } from '../errors.js';

/** The most exemplars kept per series and minute (and accepted per sub-window). @internal */
export const MAX_EXEMPLARS = 4;

/** DDL of the exemplars table, run on open (idempotent). @internal */
export const EXEMPLARS_SQL = `
CREATE TABLE IF NOT EXISTS exemplars (
  series_id INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  trace_id TEXT NOT NULL,
  span_id TEXT,
  value REAL NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (series_id, bucket, trace_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS exemplars_age ON exemplars (bucket);
`;

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

interface Statements {
  readonly upsert: Database.Statement<[number, number, string, string | null, number, number]>;
  readonly trim: Database.Statement<[number, number, number, number, number]>;
}

const statements = new WeakMap<Database.Database, Statements>();

function prepared(db: Database.Database): Statements {
  let s = statements.get(db);
  if (s === undefined) {
    s = {
      upsert: db.prepare(
        `INSERT INTO exemplars (series_id, bucket, trace_id, span_id, value, at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (series_id, bucket, trace_id) DO UPDATE SET
           span_id = CASE WHEN excluded.value > value THEN excluded.span_id ELSE span_id END,
           at = CASE WHEN excluded.value > value THEN excluded.at ELSE at END,
           value = MAX(value, excluded.value)`,
      ),
      trim: db.prepare(
        `DELETE FROM exemplars WHERE series_id = ? AND bucket = ? AND trace_id NOT IN (
           SELECT trace_id FROM exemplars WHERE series_id = ? AND bucket = ?
           ORDER BY value DESC, trace_id LIMIT ?)`,
      ),
    };
    statements.set(db, s);
  }
  return s;
}

/** The sub-window an exemplar list belongs to, as the store decoded it. @internal */
export interface ExemplarWindow {
  /** Its minute (ms since the epoch). */
  readonly bucket: number;
  readonly count: number;
  readonly min: number;
  readonly max: number;
}

/**
 * Checks a sub-window's exemplars (the store is also called without the HTTP schema)
 * and stores them under its minute, keeping the {@link MAX_EXEMPLARS} slowest of the
 * series' minute. Call inside the ingest's transaction: a bad exemplar throws an
 * {@link InputError} (400) naming `field.exemplars[i].<name>`, and nothing of the
 * batch is stored. Returns how many exemplars were dropped by the bound. @internal
 */
export function storeExemplars(
  db: Database.Database,
  seriesId: number,
  w: ExemplarWindow,
  list: readonly RestExemplar[] | undefined,
  field: string,
): number {
  if (list === undefined) return 0;
  const raw: unknown = list; // checked: the store is also called without the schema
  if (!Array.isArray(raw) || list.length > MAX_EXEMPLARS) {
    throw new InputError(
      400,
      'invalid_value',
      `${field}.exemplars`,
      `exemplars must be an array of at most ${MAX_EXEMPLARS}`,
    );
  }
  if (list.length === 0) return 0;
  const checked = list.map((e, i) => checkExemplar(e, w, `${field}.exemplars[${i}]`));
  const s = prepared(db);
  for (const e of checked) {
    s.upsert.run(seriesId, w.bucket, e.trace_id, e.span_id, e.value, e.at);
  }
  return s.trim.run(seriesId, w.bucket, seriesId, w.bucket, MAX_EXEMPLARS).changes;
}

function checkExemplar(
  e: RestExemplar,
  w: ExemplarWindow,
  field: string,
): { value: number; trace_id: string; span_id: string | null; at: number } {
  const bad = (name: string, message: string): InputError =>
    new InputError(400, 'invalid_value', `${field}.${name}`, message);
  if (e === null || typeof e !== 'object') {
    throw new InputError(400, 'invalid_type', field, 'an exemplar must be an object');
  }
  if (typeof e.value !== 'number' || !Number.isFinite(e.value)) {
    throw bad('value', 'value must be a finite number');
  }
  // A value the sub-window cannot hold points at the wrong series or a broken sender.
  const slack = Math.max(Math.abs(w.min), Math.abs(w.max)) * 1e-9;
  if (w.count === 0 || e.value < w.min - slack || e.value > w.max + slack) {
    throw bad('value', "value must lie within the sub-window's min..max");
  }
  if (typeof e.trace_id !== 'string' || !TRACE_ID.test(e.trace_id)) {
    throw bad('trace_id', 'trace_id must be 32 lowercase hex digits');
  }
  if (e.span_id !== undefined && (typeof e.span_id !== 'string' || !SPAN_ID.test(e.span_id))) {
    throw bad('span_id', 'span_id must be 16 lowercase hex digits');
  }
  let at = w.bucket;
  if (e.timestamp !== undefined) {
    at = typeof e.timestamp === 'string' ? Date.parse(e.timestamp) : NaN;
    if (!Number.isFinite(at)) {
      throw new InputError(
        400,
        'invalid_format',
        `${field}.timestamp`,
        'timestamp must be a date-time',
      );
    }
  }
  return { value: e.value, trace_id: e.trace_id, span_id: e.span_id ?? null, at };
}
