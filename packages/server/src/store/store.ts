/**
 * store/: everything the server keeps, in one SQLite file through better-sqlite3 (WAL,
 * `synchronous=FULL` by default: a write is on disk before the request is answered).
 * Each request is one transaction: a request that fails anywhere stores nothing.
 * Histogram and timer samples are kept as t-digests per series per minute, rolled up
 * to hours by {@link MonitorStore.compact}, which also drops what is past retention.
 * May import from auth/, core's sketch and types, and the REST exporter's types.
 */
import { randomUUID } from 'node:crypto';

import Database from 'better-sqlite3';
import {
  parseCondition,
  TDigest,
  type Clock,
  type TDigestJSON,
  type TraceRecord,
} from '@prsm/core';
import type { RestBatchBody, RestSpan } from '@prsm/exporters/rest';

import {
  generateKey,
  generateKeyId,
  generateOneTimeKey,
  generateOneTimeKeyId,
  hashKey,
  isRole,
  type Role,
} from '../auth/keys.js';
import { InputError } from '../errors.js';
import { counterIncrease } from '../fleet/counter-order.js';
import {
  MIGRATIONS,
  SCHEMA_SQL,
  SCHEMA_VERSION,
  SERIES_V4_MIGRATION,
  SERIES_V4_SERVICE_SQL,
} from './schema.js';
import {
  type AuditRecordRetention,
  auditStoreOf,
  checkAuditRecordRetention,
  openAuditStore,
} from './audit.js';
import {
  archiveConfig,
  archiveExpired,
  type ArchiveConfig,
  type ArchiveOptions,
} from '../archive/archive.js';
import { businessDashboard as buildBusinessDashboard } from './business.js';
import { MinuteCache, type CachedRow, type MinuteTotal } from './minute-cache.js';
import { decodeSubWindow } from './sub-window.js';
import { EXEMPLARS_SQL, storeExemplars } from './exemplars.js';
import { toTrace, type SpanRow } from './trace.js';
import type {
  AlertEventRecord,
  AlertRuleBody,
  AlertRuleRecord,
  BusinessDashboard,
  BusinessMetricInput,
  CompactionResult,
  CreatedKey,
  KeyInfo,
  KeyUse,
  ServerAlertEvent,
  Severity,
  SpecMetric,
  SpecMetricType,
  StoreCounts,
  StoredPoint,
  StoredAlertState,
  StoredSeries,
  StoredSource,
  WindowPoint,
  WindowSeries,
} from './types.js';

const MINUTE = 60_000;
/** Rows per multi-row statement of the ingest (10 parameters a row, well under SQLite's limit). */
const ROWS_PER_STATEMENT = 128;
/**
 * The reads' minute rows are kept in memory (store/minute-cache.ts) this far back from
 * the current minute: core's trend hour, and a margin. Older ones are read from SQL.
 */
const ROWS_KEPT_MS = 90 * 60_000;
/** Parsed digests of batches are kept for minutes this recent (ms), at most MAX_PARSED. */
const PARSED_KEPT_MS = 3 * 60_000;
const MAX_PARSED = 20_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const QUANTILES: readonly [string, number][] = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
  ['p999', 0.999],
];

/**
 * Which process reported which series, for which service, when, and a gauge's latest
 * value, and the indexes the reads of `GET /health` and `GET /analytics` (read/) walk:
 * a component's series, and a series' minute counts without its digests. Created on
 * open beside the schema (idempotent). The reads name their indexes and join order
 * (`INDEXED BY`, `CROSS JOIN`): without statistics SQLite would walk every minute row
 * of the window by time. @internal
 */
const SOURCE_SERIES_SQL = `
CREATE TABLE IF NOT EXISTS source_series (
  instance_id TEXT NOT NULL,
  series_id INTEGER NOT NULL,
  service_name TEXT NOT NULL,
  last_value REAL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (instance_id, series_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS source_series_service ON source_series (service_name, series_id);
CREATE INDEX IF NOT EXISTS source_series_series ON source_series (series_id);
CREATE INDEX IF NOT EXISTS series_component ON series (component, metric_type, name);
CREATE INDEX IF NOT EXISTS points_read ON points (series_id, resolution, bucket, count, sum, errors);
`;

/** Totals of a component's series of one type over a range of minutes. @internal */
export interface ReadCallTotal {
  readonly component: string;
  readonly metric_type: SpecMetricType;
  /** Samples (histograms, timers) or reports (counters). */
  readonly count: number;
  /** Sum of the samples, or the counter's increase. */
  readonly sum: number;
  readonly errors: number;
  /** The earliest minute with data. */
  readonly first: number;
}

/** A series' id, name, type and latest value. @internal */
export interface ReadSeries {
  readonly id: number;
  readonly name: string;
  readonly metric_type: SpecMetricType;
  readonly value: number;
  readonly updated_at: number;
}

/** A minute row of a histogram or timer. @internal */
export interface ReadPoint {
  readonly series_id: number;
  readonly name: string;
  readonly metric_type: SpecMetricType;
  readonly bucket: number;
  readonly count: number;
  readonly sum: number;
  readonly errors: number;
  /** The t-digest's JSON, or null (not asked for, or a row of an older exporter). */
  readonly digest: string | null;
}

/** An hour of a component's timers. @internal */
export interface ReadHour {
  /** The hour's start, ms since the epoch. */
  readonly hour: number;
  readonly count: number;
  readonly errors: number;
  readonly sum: number;
  /** Minutes with data (60 for an hour already rolled up). */
  readonly minutes: number;
}

/**
 * Options of {@link openStore}. Every duration is in milliseconds; a bad value throws a
 * `TypeError` naming the option.
 *
 * @example
 * ```ts
 * const store = openStore('./prsm-monitor.db', { rollupAfterMs: 6 * 3_600_000, retentionMs: 7 * 86_400_000 });
 * ```
 */
export interface StoreOptions {
  /** Where time comes from (ingest buckets, audit times). Default `Date.now`. */
  readonly clock?: Clock;
  /** Minute rows older than this are merged into hour rows. Default 24 hours. */
  readonly rollupAfterMs?: number;
  /** Metric points, business metrics and alert events older than this are dropped. Default 30 days. */
  readonly retentionMs?: number;
  /** Spans received longer ago than this are dropped. Default 7 days. */
  readonly traceRetentionMs?: number;
  /** Key-use audit rows (per minute) older than this are dropped. Default 90 days. */
  readonly auditRetentionMs?: number;
  /** How long a batch id is remembered to drop a retried batch. Default 24 hours. */
  readonly batchIdTtlMs?: number;
  /** At most this many batch ids are remembered (the newest). Default 100,000. */
  readonly maxBatchIds?: number;
  /** SQLite's `synchronous`: `full` (default) survives power loss, `normal` a process crash. */
  readonly synchronous?: 'full' | 'normal';
  /** Write rows past retention to JSONL files before dropping them (archive/). Default: none. */
  readonly archive?: ArchiveOptions;
  /**
   * Retention of stored audit records (`POST /audit`) in ms by compliance tag and
   * `default`, tags left out taking core's defaults; each cut is recorded in the
   * server's own audit chain, so verification still passes (store/audit.ts).
   * Default: none (audit records are kept).
   */
  readonly auditRecordRetentionMs?: AuditRecordRetention;
}

interface SeriesRowDb {
  id: number;
  name: string;
  component: string;
  tags: string;
  service: string;
  metric_type: SpecMetricType;
  unit: string;
  labels: string;
  value: number;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  quantiles: string | null;
  updated_at: number;
}

interface PointRowDb {
  series_id: number;
  resolution: number;
  bucket: number;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: number;
  digest: string | null;
  quantiles: string | null;
  errors: number;
}

interface KeyRowDb {
  id: string;
  role: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/**
 * What {@link MonitorStore.ingestBatch} stored: counts of the batch's parts, or
 * `duplicate` (a batch id stored before: nothing written).
 *
 * @example
 * ```ts
 * const { duplicate, metrics }: BatchResult = store.ingestBatch(body);
 * ```
 */
export interface BatchResult {
  /** The batch id was stored before: nothing was written. */
  readonly duplicate: boolean;
  /** Metrics stored. */
  readonly metrics: number;
  /** Spans stored. */
  readonly traces: number;
  /** Alert events stored. */
  readonly alerts: number;
}

/** A minute row's digest as a batch wrote it, with the row's samples then. */
interface ParsedDigest {
  readonly bucket: number;
  readonly count: number;
  readonly digest: TDigest;
  /** What was written (`digest.toJSON()`): an exact copy is rebuilt from it. */
  readonly json: TDigestJSON;
}

/** A series' id and type, cached. */
interface SeriesRef {
  readonly id: number;
  readonly type: SpecMetricType;
}

/** What one request (or a group of them) adds to a series in a minute. */
interface FastWork {
  readonly seriesKey: string;
  readonly name: string;
  readonly component: string;
  readonly tags: string;
  /** Always empty: metrics sent without a `source` have no service. */
  readonly service: string;
  readonly type: SpecMetricType;
  readonly bucket: number;
  labels: string | null;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: number;
  errors: number;
  digest: TDigest | undefined;
}

/** Requests waiting for one group commit. */
interface IngestGroup {
  readonly work: Map<string, FastWork>;
  /** Types of the series the group will create. */
  readonly types: Map<string, SpecMetricType>;
  readonly waiters: { resolve: () => void; reject: (error: unknown) => void }[];
  now: number;
}

/** Adds `from` (a later request) to `into`. */
function mergeWork(into: FastWork, from: FastWork): void {
  if (from.labels !== null) into.labels = from.labels;
  into.count += from.count;
  into.sum += from.sum;
  into.min = minOf(into.min, from.min);
  into.max = maxOf(into.max, from.max);
  into.last = from.last;
  into.errors += from.errors;
  if (from.digest !== undefined) {
    if (into.digest === undefined) into.digest = from.digest;
    else into.digest.merge(from.digest);
  }
}

/** Rows split so that no series appears twice in one part (one UPDATE per row). */
function distinctIds<T extends { id: number }>(rows: readonly T[]): T[][] {
  const parts: T[][] = [];
  const seen: Set<number>[] = [];
  for (const row of rows) {
    let i = 0;
    while (seen[i]?.has(row.id) === true) i++;
    (parts[i] ??= []).push(row);
    (seen[i] ??= new Set()).add(row.id);
  }
  return parts;
}

/** A series being updated within one transaction. */
interface SeriesWork {
  row: SeriesRowDb;
  fresh: boolean;
  dirty: boolean;
  /** What the series counted towards `readCollected` before this transaction. */
  readonly before: number;
}

/** `readCollected`'s sum in SQL: what {@link collectedOf} counts of each series. */
const COLLECTED_SUM =
  "SUM(CASE s.metric_type WHEN 'counter' THEN s.value WHEN 'gauge' THEN 0 ELSE s.count END)";

/** The component `readCollected` leaves out of health's `metrics_collected`. */
const SYSTEM_COMPONENT = 'system';

/**
 * What a series counts towards `readCollected`: a counter's total, a histogram's or
 * timer's samples, nothing for a gauge or the SDK's own `prsm.*` series.
 */
function collectedOf(row: {
  readonly name: string;
  readonly metric_type: SpecMetricType;
  readonly value: number;
  readonly count: number;
}): number {
  if (row.name.startsWith('prsm.')) return 0;
  if (row.metric_type === 'counter') return row.value;
  return row.metric_type === 'gauge' ? 0 : row.count;
}

/** A point being updated within one transaction. */
interface PointWork {
  seriesId: number;
  bucket: number;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: number;
  digest: TDigest | undefined;
  quantiles: Record<string, number> | undefined;
  errors: number;
}

function duration(options: StoreOptions, key: keyof StoreOptions, fallback: number): number {
  const value: unknown = options[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`openStore: options.${key} must be a positive number of milliseconds`);
  }
  return value;
}

/** JSON with sorted keys: one tag set, one string. */
function canonical(record: Readonly<Record<string, string>>): string {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return JSON.stringify(out);
}

/** JSON with sorted keys, of a flat record. */
function sortedJson(record: Readonly<Record<string, string | number | boolean>>): string {
  const out: Record<string, string | number | boolean> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return JSON.stringify(out);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function minOf(a: number | null, b: number | null | undefined): number | null {
  if (b === null || b === undefined) return a;
  return a === null ? b : Math.min(a, b);
}

function maxOf(a: number | null, b: number | null | undefined): number | null {
  if (b === null || b === undefined) return a;
  return a === null ? b : Math.max(a, b);
}

function quantilesOf(digest: TDigest): Record<string, number> {
  const out: Record<string, number> = {};
  if (digest.count === 0) return out;
  for (const [key, q] of QUANTILES) {
    const value = digest.quantile(q);
    if (Number.isFinite(value)) out[key] = value;
  }
  return out;
}

function parseDigest(text: string | null): TDigest | undefined {
  return text === null ? undefined : TDigest.fromJSON(JSON.parse(text) as TDigestJSON);
}

/**
 * The server's storage: metrics, spans, alert rules and events, business metrics, API
 * keys and their use, and the ids of stored batches. Synchronous (better-sqlite3);
 * one instance per file and process. Open it with {@link openStore}.
 *
 * @example
 * ```ts
 * import { openStore } from '@prsm/server';
 *
 * const store = openStore('./prsm-monitor.db');
 * const { id, key } = store.createKey('ingest');
 * store.ingestMetrics([{ name: 'orders', value: 1, metric_type: 'counter' }]);
 * store.close();
 * ```
 */
export class MonitorStore {
  /** The database file. */
  readonly path: string;
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #rollupAfterMs: number;
  readonly #retentionMs: number;
  readonly #traceRetentionMs: number;
  readonly #auditRetentionMs: number;
  readonly #batchIdTtlMs: number;
  readonly #maxBatchIds: number;
  readonly #archive: ArchiveConfig | undefined;
  readonly #stmt: {
    seriesByKey: Database.Statement<[string, string, string, string], SeriesRowDb>;
    insertSeries: Database.Statement<
      [string, string, string, string, string, string, string, number]
    >;
    updateSeries: Database.Statement<
      [string, number, number, number, number | null, number | null, string | null, number, number]
    >;
    point: Database.Statement<[number, number, number], PointRowDb>;
    upsertPoint: Database.Statement<
      [
        number,
        number,
        number,
        number,
        number,
        number | null,
        number | null,
        number,
        string | null,
        string | null,
        number,
      ]
    >;
    seriesRef: Database.Statement<
      [string, string, string, string],
      { id: number; metric_type: SpecMetricType }
    >;
    pointDigest: Database.Statement<[number, number], { digest: string | null }>;
    batchSeen: Database.Statement<[string], { batch_id: string }>;
    insertBatch: Database.Statement<[string, number]>;
    upsertSpan: Database.Statement<
      [
        string,
        string,
        string | null,
        string,
        number,
        number,
        number,
        string,
        string | null,
        string,
        string | null,
        number,
      ]
    >;
    spansOf: Database.Statement<[string], SpanRow>;
    insertAlertEvent: Database.Statement<
      [
        string,
        string,
        string,
        string,
        string,
        string,
        number,
        number | null,
        string | null,
        number | null,
        number,
      ]
    >;
    keyByHash: Database.Statement<[string], KeyRowDb>;
    keyUse: Database.Statement<[string, string, string, number, number, number, number]>;
    touchKey: Database.Statement<[number, string]>;
  };
  #closed = false;
  /** The minute totals and rows the reads sum, updated by each committed write. */
  readonly #minutes = new MinuteCache();
  /**
   * `readCollected`'s sums per service and whether the component is `system`, kept
   * up to date by the writes after they commit (null: load from SQL on the next read).
   * A health answer after a write then costs no pass over every series.
   */
  #collected: Map<string, number> | null = null;
  /** Recent minute digests batches wrote, parsed, by `seriesId:bucket` (see #keepParsed). */
  readonly #parsed = new Map<string, ParsedDigest>();
  #parsedBucket = -1;
  /** Series ids and types by name, component and tags (series never change type). */
  readonly #seriesIds = new Map<string, SeriesRef>();
  /** The current minute's digests by `seriesId:bucket`, as stored: no parse per request. */
  readonly #digests = new Map<string, TDigest>();
  #digestBucket = -1;
  #group: IngestGroup | undefined;

  constructor(path: string, options: StoreOptions = {}) {
    if (typeof path !== 'string' || path === '') {
      throw new TypeError('openStore: path must be a non-empty file path (or ":memory:")');
    }
    if (options === null || typeof options !== 'object') {
      throw new TypeError('openStore: options must be an object');
    }
    const clock: unknown = options.clock ?? { now: (): number => Date.now() };
    if (clock === null || typeof clock !== 'object' || typeof (clock as Clock).now !== 'function') {
      throw new TypeError('openStore: options.clock must have a now() method');
    }
    this.#clock = clock as Clock;
    this.#rollupAfterMs = duration(options, 'rollupAfterMs', DAY);
    this.#retentionMs = duration(options, 'retentionMs', 30 * DAY);
    this.#traceRetentionMs = duration(options, 'traceRetentionMs', 7 * DAY);
    this.#auditRetentionMs = duration(options, 'auditRetentionMs', 90 * DAY);
    this.#batchIdTtlMs = duration(options, 'batchIdTtlMs', DAY);
    this.#maxBatchIds = duration(options, 'maxBatchIds', 100_000);
    this.#archive = archiveConfig(options.archive);
    checkAuditRecordRetention(options.auditRecordRetentionMs); // store/audit.ts
    const synchronous = options.synchronous ?? 'full';
    if (synchronous !== 'full' && synchronous !== 'normal') {
      throw new TypeError("openStore: options.synchronous must be 'full' or 'normal'");
    }
    this.path = path;
    this.#db = new Database(path);
    try {
      this.#db.pragma('busy_timeout = 5000');
      // Switching a new file to WAL can answer SQLITE_BUSY at once, without the busy
      // handler, while another process opens the same new file: try again shortly.
      retryBusy(() => this.#db.pragma('journal_mode = WAL'));
      this.#db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      // Immediate: two processes opening a new file at once (the server and a
      // `keys create`) take turns instead of racing on the schema.
      this.#db
        .transaction(() => {
          this.#migrateSeries();
          for (const m of MIGRATIONS) {
            const columns = this.#db
              .prepare<[], { name: string }>(`PRAGMA table_info(${m.table})`)
              .all();
            if (columns.length > 0 && !columns.some((c) => c.name === m.column)) {
              this.#db.exec(m.ddl);
            }
          }
          this.#db.exec(SCHEMA_SQL);
          this.#db
            .prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)")
            .run(String(SCHEMA_VERSION));
          const version = this.#db
            .prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
            .get();
          if (version !== undefined && Number(version.value) > SCHEMA_VERSION) {
            throw new TypeError(
              `openStore: ${path} has schema version ${version.value}, newer than this server's ${SCHEMA_VERSION}`,
            );
          }
          this.#db
            .prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'")
            .run(String(SCHEMA_VERSION));
        })
        .immediate();
    } catch (error) {
      this.#db.close();
      throw error;
    }
    // Their tables too in one immediate transaction: processes opening at once take turns.
    this.#db
      .transaction(() => {
        this.#db.exec(SOURCE_SERIES_SQL);
        this.#db.exec(EXEMPLARS_SQL); // store/exemplars.ts
        openAuditStore(this, this.#db, this.#clock, options.auditRecordRetentionMs); // audit copies: store/audit.ts
      })
      .immediate();
    const db = this.#db;
    this.#stmt = {
      seriesByKey: db.prepare(
        'SELECT * FROM series WHERE name = ? AND component = ? AND tags = ? AND service = ?',
      ),
      insertSeries: db.prepare(
        `INSERT INTO series (name, component, tags, service, metric_type, unit, labels, value, count, sum,
           updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)`,
      ),
      updateSeries: db.prepare(
        `UPDATE series SET labels = ?, value = ?, count = ?, sum = ?, min = ?, max = ?, quantiles = ?, updated_at = ?
         WHERE id = ?`,
      ),
      point: db.prepare(
        'SELECT * FROM points WHERE series_id = ? AND resolution = ? AND bucket = ?',
      ),
      upsertPoint: db.prepare(
        `INSERT OR REPLACE INTO points (series_id, resolution, bucket, count, sum, min, max, last, digest, quantiles, errors)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      seriesRef: db.prepare(
        'SELECT id, metric_type FROM series WHERE name = ? AND component = ? AND tags = ? AND service = ?',
      ),
      pointDigest: db.prepare(
        'SELECT digest FROM points WHERE series_id = ? AND resolution = 60 AND bucket = ?',
      ),
      batchSeen: db.prepare('SELECT batch_id FROM batches WHERE batch_id = ?'),
      insertBatch: db.prepare('INSERT INTO batches (batch_id, received_at) VALUES (?, ?)'),
      upsertSpan: db.prepare(
        `INSERT OR REPLACE INTO spans (trace_id, span_id, parent_span_id, name, start_ms, end_ms, duration_ms,
           status, status_message, attributes, component, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      spansOf: db.prepare('SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ms, span_id'),
      insertAlertEvent: db.prepare(
        `INSERT OR IGNORE INTO alert_events (alert_id, rule_id, name, severity, component, event, at, value, by,
           escalation_step, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      keyByHash: db.prepare(
        'SELECT id, role, created_at, last_used_at, revoked_at FROM api_keys WHERE hash = ?',
      ),
      keyUse: db.prepare(
        `INSERT INTO key_use (key_id, method, route, status, minute, count, first_at, last_at)
         VALUES (?, ?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT (key_id, method, route, status, minute)
         DO UPDATE SET count = count + 1, last_at = excluded.last_at`,
      ),
      touchKey: db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
    };
  }

  /**
   * Version 4: the `series` of a file of versions 1 to 3 (no `service` column) is
   * rebuilt (see `SERIES_V4_MIGRATION`), in the open's immediate transaction, before
   * the DDL whose indexes name the column; `meta` then says version 4.
   */
  #migrateSeries(): void {
    const table = (name: string): boolean =>
      this.#db
        .prepare<[string], { n: number }>(
          "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
        )
        .get(name)!.n > 0;
    if (!table('series')) return; // a new file: SCHEMA_SQL creates version 4's
    const columns = this.#db.prepare<[], { name: string }>('PRAGMA table_info(series)').all();
    if (columns.some((c) => c.name === 'service')) return; // version 4 or later
    this.#db.exec(SERIES_V4_MIGRATION(table('source_series') ? SERIES_V4_SERVICE_SQL : "''"));
  }

  // ---- metrics ------------------------------------------------------------------

  /**
   * Stores measurements in the spec's single-metric shape, all or nothing: a counter's
   * value is added to its total, a gauge's replaces its value, a histogram's or
   * timer's is one sample, merged into the t-digest of the current minute. `field`
   * names the i-th metric in errors (default `metrics[i]`). Throws an
   * {@link InputError} (and stores nothing) for a negative counter increment or a
   * series already stored with another type.
   */
  ingestMetrics(
    metrics: readonly SpecMetric[],
    field: (index: number) => string = (i) => `metrics[${i}]`,
  ): void {
    const now = this.#clock.now();
    const work = this.#prepare(metrics, field, now, undefined);
    this.#commit(work, now);
  }

  /**
   * {@link MonitorStore.ingestMetrics} with group commit: bad input throws at once
   * (nothing of it is kept); good input is merged per series and minute with the other
   * requests arriving in the same turn of the event loop, written in one transaction,
   * and the promise resolves once that transaction is committed (so an answer sent
   * then is durable). Rejects, for every request of the group, only when the commit
   * itself fails.
   */
  ingestMetricsGrouped(
    metrics: readonly SpecMetric[],
    field: (index: number) => string = (i) => `metrics[${i}]`,
  ): Promise<void> {
    const now = this.#clock.now();
    let group = this.#group;
    if (group === undefined) {
      group = { work: new Map(), types: new Map(), waiters: [], now };
      this.#group = group;
      setImmediate(() => this.#commitGroup());
    }
    const work = this.#prepare(metrics, field, now, group.types);
    for (const [key, w] of work) {
      const into = group.work.get(key);
      if (into === undefined) group.work.set(key, w);
      else mergeWork(into, w);
    }
    for (const w of work.values()) group.types.set(w.seriesKey, w.type);
    group.now = now;
    return new Promise((resolve, reject) => group.waiters.push({ resolve, reject }));
  }

  #commitGroup(): void {
    const group = this.#group;
    this.#group = undefined;
    if (group === undefined) return;
    try {
      if (this.#closed) throw new Error('the store is closed');
      this.#commit(group.work, group.now);
    } catch (error) {
      for (const w of group.waiters) w.reject(error);
      return;
    }
    for (const w of group.waiters) w.resolve();
  }

  /**
   * Checks `metrics` and sums them per series and minute, without writing. Types are
   * checked against what is stored and against `pending` (series a group will create).
   */
  #prepare(
    metrics: readonly SpecMetric[],
    field: (index: number) => string,
    now: number,
    pending: ReadonlyMap<string, SpecMetricType> | undefined,
  ): Map<string, FastWork> {
    const bucket = Math.floor(now / MINUTE) * MINUTE;
    const work = new Map<string, FastWork>();
    metrics.forEach((m, i) => {
      const at = field(i);
      const type = m.metric_type;
      const prefix = at === '' ? '' : `${at}.`;
      if (m.error !== undefined && type !== 'histogram' && type !== 'timer') {
        throw new InputError(
          400,
          'invalid_value',
          `${prefix}error`,
          'error applies to histogram and timer samples only',
        );
      }
      if (type === 'counter' && m.value < 0) {
        throw new InputError(
          400,
          'out_of_range',
          `${prefix}value`,
          'a counter increment must be >= 0',
        );
      }
      const component = m.component ?? 'default';
      const tags = m.tags === undefined ? '{}' : canonical(m.tags);
      const seriesKey = `${m.name}\u0000${component}\u0000${tags}\u0000`;
      let w = work.get(`${seriesKey}\u0000${bucket}`);
      if (w === undefined) {
        let stored = this.#seriesIds.get(seriesKey)?.type;
        if (stored === undefined) {
          const row = this.#stmt.seriesRef.get(m.name, component, tags, '');
          if (row !== undefined) {
            stored = row.metric_type;
            this.#seriesIds.set(seriesKey, { id: row.id, type: row.metric_type });
          } else {
            stored = pending?.get(seriesKey);
          }
        }
        if (stored !== undefined && stored !== type) {
          throw new InputError(
            409,
            'type_conflict',
            `${prefix}metric_type`,
            `series ${m.name} (component ${component}) is stored as a ${stored}, not a ${type}`,
          );
        }
        w = {
          seriesKey,
          name: m.name,
          component,
          tags,
          service: '',
          type,
          bucket,
          labels: null,
          count: 0,
          sum: 0,
          min: null,
          max: null,
          last: 0,
          errors: 0,
          digest: undefined,
        };
        work.set(`${seriesKey}\u0000${bucket}`, w);
      } else if (w.type !== type) {
        throw new InputError(
          409,
          'type_conflict',
          `${prefix}metric_type`,
          `series ${m.name} (component ${component}) is a ${w.type} earlier in this request, not a ${type}`,
        );
      }
      const v = m.value;
      if (m.labels !== undefined) w.labels = canonical(m.labels);
      w.count += 1;
      w.sum += v;
      w.min = minOf(w.min, v);
      w.max = maxOf(w.max, v);
      w.last = v;
      if (type === 'histogram' || type === 'timer') {
        if (m.error === true) w.errors += 1;
        (w.digest ??= new TDigest()).add(v);
      }
    });
    return work;
  }

  /** Writes prepared work in one transaction, then updates the caches. */
  #commit(work: ReadonlyMap<string, FastWork>, now: number): void {
    const bucket = Math.floor(now / MINUTE) * MINUTE;
    if (bucket !== this.#digestBucket) {
      this.#digests.clear();
      this.#digestBucket = bucket;
    }
    const { inserted, digests, written } = this.#db.transaction(() => {
      const inserted = new Map<string, SeriesRef>();
      const digests = new Map<string, TDigest>();
      const rows: {
        id: number;
        w: FastWork;
        digest: string | null;
        quantiles: string | null;
      }[] = [];
      for (const w of work.values()) {
        let ref = this.#seriesIds.get(w.seriesKey) ?? inserted.get(w.seriesKey);
        if (ref === undefined) {
          const row = this.#stmt.seriesRef.get(w.name, w.component, w.tags, w.service);
          const id =
            row?.id ??
            Number(
              this.#stmt.insertSeries.run(
                w.name,
                w.component,
                w.tags,
                w.service,
                w.type,
                w.type === 'timer' ? 'ms' : '',
                '{}',
                now,
              ).lastInsertRowid,
            );
          ref = { id, type: row?.metric_type ?? w.type };
          inserted.set(w.seriesKey, ref);
        }
        if (ref.type !== w.type) {
          // Checked when the request came; only a bug gets here. The group fails whole.
          throw new Error(`series ${w.name}: stored as a ${ref.type}, not a ${w.type}`);
        }
        let digestText: string | null = null;
        let quantiles: string | null = null;
        if (w.digest !== undefined) {
          const cacheKey = `${ref.id}:${w.bucket}`;
          const base =
            digests.get(cacheKey) ??
            this.#digests.get(cacheKey) ??
            parseDigest(this.#stmt.pointDigest.get(ref.id, w.bucket)?.digest ?? null);
          const merged = new TDigest();
          if (base !== undefined) merged.merge(base);
          merged.merge(w.digest);
          digests.set(cacheKey, merged);
          digestText = JSON.stringify(merged.toJSON());
          quantiles = JSON.stringify(quantilesOf(merged));
        }
        rows.push({ id: ref.id, w, digest: digestText, quantiles });
      }
      // Many rows per statement: SQLite's per-statement cost, not its per-row cost,
      // bounds ingest (one request of 1,000 series was 2,000 statements). A series
      // with rows of two minutes (a group across a minute's end) is written twice.
      for (const batch of distinctIds(rows)) {
        for (let from = 0; from < batch.length; from += ROWS_PER_STATEMENT) {
          const chunk = batch.slice(from, from + ROWS_PER_STATEMENT);
          const seriesParams: (string | number | null)[] = [];
          for (const { id, w, quantiles } of chunk) {
            const distribution = w.type === 'histogram' || w.type === 'timer';
            seriesParams.push(
              id,
              w.type,
              w.count,
              w.sum,
              w.last,
              distribution ? w.min : null,
              distribution ? w.max : null,
              quantiles,
              w.labels,
            );
          }
          const totals = new Map<number, number>();
          for (const r of this.#addToSeries(chunk.length).all(now, ...seriesParams)) {
            totals.set(r.id, r.value);
          }
          const pointParams: (string | number | null)[] = [];
          for (const { id, w, digest, quantiles } of chunk) {
            pointParams.push(
              id,
              w.bucket,
              w.count,
              w.sum,
              w.min,
              w.max,
              w.type === 'counter' ? (totals.get(id) ?? w.last) : w.last,
              digest,
              quantiles,
              w.errors,
            );
          }
          this.#addToPoints(chunk.length).run(...pointParams);
        }
      }
      return { inserted, digests, written: rows };
    })();
    for (const [key, ref] of inserted) this.#seriesIds.set(key, ref);
    // Committed: the reads' minute totals and rows take what it added (and health's
    // count of what was measured: a counter's increase, a distribution's samples).
    for (const { id, w } of written) {
      if (!w.name.startsWith('prsm.') && w.type !== 'gauge') {
        this.#addCollected(w, w.type === 'counter' ? w.sum : w.count);
      }
      this.#minutes.add(
        {
          name: w.name,
          component: w.component,
          service: w.service,
          metric_type: w.type,
          tags: w.tags,
        },
        id,
        w.bucket,
        w.count,
        w.sum,
        w.errors,
      );
    }
    for (const [key, digest] of digests) {
      if (key.endsWith(`:${this.#digestBucket}`)) this.#digests.set(key, digest);
    }
  }

  /**
   * Stores a batch of the REST exporter, all or nothing, unless its `batch_id` was
   * stored before (then nothing is written and `duplicate` is true).
   *
   * - Counters carry totals since their series began in the sending process: the
   *   minute rows get the increase since that process's last report (a lower total
   *   reported later than the stored one is its restart, counted from zero; one
   *   reported earlier is a late batch, retried or overtaken, and adds nothing: see
   *   fleet/counter-order.ts). With `source`, the last total is kept per
   *   `source.instance_id`, so processes reporting the same series add up; without
   *   it, per series (the series' stored total).
   * - A histogram or timer with `sub_windows`: each sub-window's digest is merged into
   *   the minute row of its `start_time` (a sub-window longer than a minute goes to
   *   its first minute), with its exact count, sum, min, max and errors added; its
   *   `windows` and cumulative fields are not counted.
   * - One without (older exporters): the increase of its cumulative count and sum (per
   *   `source.instance_id` when given), at the current minute, with the quantiles of
   *   its first window and errors at that window's rate.
   *
   * Throws an {@link InputError} (and stores nothing) for a type conflict or a
   * sub-window that does not check out (see `decodeSubWindow`).
   */
  ingestBatch(body: RestBatchBody): BatchResult {
    const now = this.#clock.now();
    const bucket = Math.floor(now / MINUTE) * MINUTE;
    const points = new Map<string, PointWork>();
    const series = new Map<string, SeriesWork>();
    const parsed = new Map<string, ParsedDigest>();
    try {
      const result = this.#db.transaction(() => {
        if (this.#stmt.batchSeen.get(body.batch_id) !== undefined) {
          return { duplicate: true, metrics: 0, traces: 0, alerts: 0 };
        }
        this.#stmt.insertBatch.run(body.batch_id, now);
        const source = body.source;
        const instance = source?.instance_id;
        // The series' service (version 4's key): the instance is merged away, not keyed.
        const service = source === undefined ? '' : String(source.resource['service.name'] ?? '');
        if (source !== undefined) {
          this.#cached<[string, string, string, number, number]>(
            `INSERT INTO sources (instance_id, service_name, resource, first_seen, last_seen)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (instance_id) DO UPDATE SET service_name = excluded.service_name,
               resource = excluded.resource, last_seen = excluded.last_seen`,
          ).run(
            source.instance_id,
            String(source.resource['service.name'] ?? ''),
            sortedJson(source.resource),
            now,
            now,
          );
        }
        body.metrics.forEach((m, i) => {
          const at = `metrics[${i}]`;
          const unit = m.metric_type === 'histogram' || m.metric_type === 'timer' ? m.unit : '';
          const s = this.#series(
            series,
            m.metric_name,
            m.component,
            m.tags,
            service,
            m.metric_type,
            unit,
            at,
          );
          const r = s.row;
          r.labels = canonical(m.labels);
          s.dirty = true;
          if (source !== undefined) this.#noteSourceSeries(source, r.id, m, now);
          if (m.metric_type === 'counter') {
            const p = this.#point(points, r.id, bucket);
            if (instance === undefined) {
              const increase = s.fresh || m.value < r.value ? m.value : m.value - r.value;
              r.value = m.value;
              r.sum = m.value;
              p.sum += increase;
            } else {
              // A late report (batches in flight at once, retries) is not a restart:
              // fleet/counter-order.ts. The stored time is the report's own.
              const at = Date.parse(m.timestamp);
              const { increase, store } = counterIncrease(
                this.#sourceTotal(instance, r.id),
                m.value,
                at,
              );
              if (store) {
                this.#setSourceTotal(
                  instance,
                  r.id,
                  m.value,
                  m.value,
                  Number.isFinite(at) ? at : now,
                );
              }
              r.value += increase;
              r.sum = r.value;
              p.sum += increase;
            }
            r.count += 1;
            p.count += 1;
            p.last = r.value;
          } else if (m.metric_type === 'gauge') {
            const p = this.#point(points, r.id, bucket);
            r.value = m.value;
            r.count += 1;
            r.sum += m.value;
            p.count += 1;
            p.sum += m.value;
            p.min = minOf(p.min, m.value);
            p.max = maxOf(p.max, m.value);
            p.last = m.value;
          } else if (m.sub_windows !== undefined) {
            m.sub_windows.forEach((raw, j) => {
              const w = decodeSubWindow(raw, `${at}.sub_windows[${j}]`);
              storeExemplars(this.#db, r.id, w, raw.exemplars, `${at}.sub_windows[${j}]`);
              if (w.count === 0) return;
              const p = this.#point(points, r.id, w.bucket);
              p.count += w.count;
              p.sum += w.sum;
              p.min = minOf(p.min, w.min);
              p.max = maxOf(p.max, w.max);
              p.errors += w.errors;
              p.last = w.sum / w.count;
              (p.digest ??= new TDigest()).mergeCentroids(
                w.centroids,
                w.length,
                w.weight,
                w.sum,
                w.min,
                w.max,
              );
              r.count += w.count;
              r.sum += w.sum;
              r.min = minOf(r.min, w.min);
              r.max = maxOf(r.max, w.max);
            });
            if (r.count > 0) r.value = r.sum / r.count;
          } else {
            const p = this.#point(points, r.id, bucket);
            const last =
              instance === undefined
                ? s.fresh
                  ? undefined
                  : { total: r.count, sum: r.sum }
                : this.#sourceTotal(instance, r.id);
            const restarted = last === undefined || m.count < last.total;
            const added = restarted ? m.count : m.count - last.total;
            const addedSum = restarted ? m.sum : m.sum - last.sum;
            p.count += added;
            // Batches carry error rates per window, not error totals: the new samples
            // are counted as failing at the rate of the shortest window.
            p.errors += Math.round(added * Math.min(1, Math.max(0, m.windows[0]?.error_rate ?? 0)));
            p.sum += addedSum;
            const first = m.windows[0];
            p.min = minOf(p.min, first?.min);
            p.max = maxOf(p.max, first?.max);
            p.last = m.value;
            p.quantiles = { ...(first?.quantiles ?? {}) };
            r.quantiles = JSON.stringify(p.quantiles);
            if (instance === undefined) {
              r.value = m.value;
              r.count = m.count;
              r.sum = m.sum;
              r.min = m.min ?? null;
              r.max = m.max ?? null;
            } else {
              this.#setSourceTotal(instance, r.id, m.count, m.sum, now);
              r.count += added;
              r.sum += addedSum;
              r.value = r.count > 0 ? r.sum / r.count : m.value;
              r.min = minOf(r.min, m.min);
              r.max = maxOf(r.max, m.max);
            }
          }
        });
        this.#flush(series, points, now, parsed);
        this.#spans(body.traces, now);
        for (const e of body.alerts) {
          this.#stmt.insertAlertEvent.run(
            e.alert_id,
            e.rule_id,
            e.name,
            e.severity,
            e.component,
            e.event,
            Date.parse(e.at),
            e.value ?? null,
            e.by ?? null,
            e.escalation_step ?? null,
            now,
          );
        }
        return {
          duplicate: false,
          metrics: body.metrics.length,
          traces: body.traces.length,
          alerts: body.alerts.length,
        };
      })();
      this.#keepParsed(parsed, bucket);
      // Committed: health's count of what was measured takes what it added.
      for (const w of series.values()) {
        if (w.dirty) this.#addCollected(w.row, collectedOf(w.row) - w.before);
      }
      if (points.size > 0) {
        // Committed: the reads' minute totals and rows take what it added.
        const byId = new Map<number, SeriesRowDb>();
        for (const w of series.values()) byId.set(w.row.id, w.row);
        for (const p of points.values()) {
          const r = byId.get(p.seriesId);
          if (r === undefined) continue;
          this.#minutes.add(r, p.seriesId, p.bucket, p.count, p.sum, p.errors);
        }
      }
      return result;
    } finally {
      // Minute digests this batch merged into: the ingest's cache reads them again.
      for (const p of points.values()) {
        if (p.digest !== undefined) this.#digests.delete(`${p.seriesId}:${p.bucket}`);
      }
    }
  }

  /**
   * Keeps the digests a committed batch wrote to recent minutes, parsed: the next
   * batch into the same row and the reads of `GET /analytics` take them instead of
   * parsing the row's JSON again. Minutes older than {@link PARSED_KEPT_MS} go.
   */
  #keepParsed(parsed: ReadonlyMap<string, ParsedDigest>, bucket: number): void {
    const oldest = bucket - PARSED_KEPT_MS;
    if (bucket !== this.#parsedBucket) {
      this.#parsedBucket = bucket;
      for (const [key, d] of this.#parsed) {
        if (d.bucket < oldest) this.#parsed.delete(key);
      }
    }
    for (const [key, d] of parsed) {
      if (d.bucket < oldest) continue;
      if (this.#parsed.size >= MAX_PARSED) this.#parsed.clear();
      this.#parsed.set(key, d);
    }
  }

  /**
   * The parsed digest of a series' minute row when this process wrote it last and the
   * row still holds `count` samples, else `undefined` (read the row). Shared: callers
   * read it, never change it. @internal
   */
  readParsedDigest(seriesId: number, bucket: number, count: number): TDigest | undefined {
    const d = this.#parsed.get(`${seriesId}:${bucket}`);
    return d !== undefined && d.count === count ? d.digest : undefined;
  }

  /**
   * {@link MonitorStore.ingestBatch} with group commit: the batches arriving in the
   * same turn of the event loop are stored in one transaction (one fsync), each in
   * its own savepoint, and each promise settles once that transaction is committed (so
   * an answer sent then is durable). A batch that fails (a type conflict, a bad
   * sub-window: an {@link InputError}) is rolled back alone and rejects with its
   * error; its neighbours are stored. When the commit itself fails, every batch of
   * the group rejects and nothing of it is stored.
   */
  ingestBatchGrouped(body: RestBatchBody): Promise<BatchResult> {
    return new Promise((resolve, reject) => {
      let group = this.#batchGroup;
      if (group === undefined) {
        group = [];
        this.#batchGroup = group;
        setImmediate(() => this.#commitBatchGroup());
      }
      group.push({ body, resolve, reject });
    });
  }

  #batchGroup:
    | { body: RestBatchBody; resolve: (r: BatchResult) => void; reject: (e: unknown) => void }[]
    | undefined;

  #commitBatchGroup(): void {
    const group = this.#batchGroup ?? [];
    this.#batchGroup = undefined;
    const results: ({ ok: BatchResult } | { error: unknown })[] = [];
    try {
      if (this.#closed) throw new Error('the store is closed');
      this.#db.transaction(() => {
        for (const g of group) {
          try {
            // Inside this transaction, its own is a savepoint: a failure undoes it alone.
            results.push({ ok: this.ingestBatch(g.body) });
          } catch (error) {
            results.push({ error });
          }
        }
      })();
    } catch (error) {
      // Nothing of the group is stored: what the caches took from it goes too.
      this.#minutes.clear();
      this.#collected = null;
      this.#parsed.clear();
      this.#digests.clear();
      this.#sourceSeriesSeen.clear();
      for (const g of group) g.reject(error);
      return;
    }
    group.forEach((g, i) => {
      const r = results[i]!;
      if ('ok' in r) g.resolve(r.ok);
      else g.reject(r.error);
    });
  }

  /** The last cumulative total a process reported for a series. */
  #sourceTotal(
    instance: string,
    seriesId: number,
  ): { total: number; sum: number; at: number } | undefined {
    return this.#cached<[string, number], { total: number; sum: number; at: number }>(
      'SELECT total, sum, updated_at AS at FROM source_totals WHERE instance_id = ? AND series_id = ?',
    ).get(instance, seriesId);
  }

  #setSourceTotal(
    instance: string,
    seriesId: number,
    total: number,
    sum: number,
    now: number,
  ): void {
    this.#cached<[string, number, number, number, number]>(
      `INSERT OR REPLACE INTO source_totals (instance_id, series_id, total, sum, updated_at)
       VALUES (?, ?, ?, ?, ?)`,
    ).run(instance, seriesId, total, sum, now);
  }

  /**
   * The processes that sent batches with a `source`, the latest first: instance id,
   * `service.name`, resource attributes, first and last batch.
   */
  sources(limit = 100): StoredSource[] {
    return this.#cached<
      [number],
      {
        instance_id: string;
        service_name: string;
        resource: string;
        first_seen: number;
        last_seen: number;
      }
    >(
      `SELECT instance_id, service_name, resource, first_seen, last_seen FROM sources
       ORDER BY last_seen DESC, instance_id LIMIT ?`,
    )
      .all(limit)
      .map((r) => ({
        ...r,
        resource: JSON.parse(r.resource) as Record<string, string | number | boolean>,
      }));
  }

  #series(
    work: Map<string, SeriesWork>,
    name: string,
    component: string,
    tags: Readonly<Record<string, string>>,
    service: string,
    type: SpecMetricType,
    unit: string,
    field: string,
  ): SeriesWork {
    const tagText = canonical(tags);
    const key = `${name}\u0000${component}\u0000${tagText}\u0000${service}`;
    let s = work.get(key);
    if (s === undefined) {
      let row = this.#stmt.seriesByKey.get(name, component, tagText, service);
      let fresh = false;
      if (row === undefined) {
        // A series a pending group commit will create is typed already.
        const pending = this.#group?.types.get(key);
        if (pending !== undefined && pending !== type) {
          throw new InputError(
            409,
            'type_conflict',
            `${field === '' ? '' : `${field}.`}metric_type`,
            `series ${name} (component ${component}) is being stored as a ${pending}, not a ${type}`,
          );
        }
        this.#stmt.insertSeries.run(
          name,
          component,
          tagText,
          service,
          type,
          unit,
          '{}',
          this.#clock.now(),
        );
        row = this.#stmt.seriesByKey.get(name, component, tagText, service)!;
        fresh = true;
      }
      s = { row, fresh, dirty: false, before: collectedOf(row) };
      work.set(key, s);
    }
    if (s.row.metric_type !== type) {
      throw new InputError(
        409,
        'type_conflict',
        `${field === '' ? '' : `${field}.`}metric_type`,
        `series ${name} (component ${component}) is stored as a ${s.row.metric_type}, not a ${type}`,
      );
    }
    return s;
  }

  #point(work: Map<string, PointWork>, seriesId: number, bucket: number): PointWork {
    const key = `${seriesId}:${bucket}`;
    let p = work.get(key);
    if (p === undefined) {
      p = {
        seriesId,
        bucket,
        count: 0,
        sum: 0,
        min: null,
        max: null,
        last: 0,
        digest: undefined,
        quantiles: undefined,
        errors: 0,
      };
      work.set(key, p);
    }
    return p;
  }

  /**
   * Merges the points into their stored minute rows and writes the series. A series
   * whose points carry digests gets the quantiles of the latest minute's merged
   * digest (when no later minute of it has one).
   */
  #flush(
    series: Map<string, SeriesWork>,
    points: Map<string, PointWork>,
    now: number,
    parsed: Map<string, ParsedDigest>,
  ): void {
    const latest = new Map<number, { bucket: number; digest: TDigest }>();
    for (const p of points.values()) {
      const old = this.#stmt.point.get(p.seriesId, 60, p.bucket);
      const key = `${p.seriesId}:${p.bucket}`;
      const kept = this.#parsed.get(key);
      // The row's digest as this process last wrote it (rebuilt from its JSON object:
      // exact, and the kept one is shared with the reads), else parsed from the row.
      let digest =
        kept !== undefined && old !== undefined && old.digest !== null && kept.count === old.count
          ? TDigest.fromJSON(kept.json)
          : parseDigest(old?.digest ?? null);
      if (p.digest !== undefined) digest = digest === undefined ? p.digest : digest.merge(p.digest);
      const json = digest?.toJSON();
      if (digest !== undefined && json !== undefined) {
        parsed.set(key, { bucket: p.bucket, count: (old?.count ?? 0) + p.count, digest, json });
        const l = latest.get(p.seriesId);
        if (l === undefined || p.bucket >= l.bucket) {
          latest.set(p.seriesId, { bucket: p.bucket, digest });
        }
      }
      const quantiles =
        p.quantiles !== undefined
          ? JSON.stringify(p.quantiles)
          : digest !== undefined
            ? JSON.stringify(quantilesOf(digest))
            : (old?.quantiles ?? null);
      this.#stmt.upsertPoint.run(
        p.seriesId,
        60,
        p.bucket,
        (old?.count ?? 0) + p.count,
        (old?.sum ?? 0) + p.sum,
        minOf(old?.min ?? null, p.min),
        maxOf(old?.max ?? null, p.max),
        p.last,
        json === undefined ? null : JSON.stringify(json),
        quantiles,
        (old?.errors ?? 0) + p.errors,
      );
    }
    for (const s of series.values()) {
      if (!s.dirty) continue;
      const r = s.row;
      const l = latest.get(r.id);
      if (l !== undefined) {
        const newest = this.#cached<[number], { bucket: number }>(
          `SELECT bucket FROM points WHERE series_id = ? AND resolution = 60 AND digest IS NOT NULL
           ORDER BY bucket DESC LIMIT 1`,
        ).get(r.id);
        if (newest === undefined || newest.bucket <= l.bucket) {
          r.quantiles = JSON.stringify(quantilesOf(l.digest));
        }
      }
      this.#stmt.updateSeries.run(
        r.labels,
        r.value,
        r.count,
        r.sum,
        r.min,
        r.max,
        r.quantiles,
        now,
        r.id,
      );
    }
  }

  /**
   * The stored series with their latest values, ordered by name, component, tags and
   * service (a series two services send is one row each).
   */
  latestSeries(): StoredSeries[] {
    const rows = this.#db
      .prepare<[], SeriesRowDb>('SELECT * FROM series ORDER BY name, component, tags, service')
      .all();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      component: r.component,
      tags: JSON.parse(r.tags) as Record<string, string>,
      service: r.service,
      labels: JSON.parse(r.labels) as Record<string, string>,
      metric_type: r.metric_type,
      unit: r.unit,
      value: r.value,
      count: r.count,
      sum: r.sum,
      quantiles: r.quantiles === null ? {} : (JSON.parse(r.quantiles) as Record<string, number>),
      updated_at: r.updated_at,
    }));
  }

  /** The stored points of a series (by its id), minutes and hours, oldest first. */
  points(seriesId: number): StoredPoint[] {
    return this.#db
      .prepare<[number], PointRowDb>(
        'SELECT * FROM points WHERE series_id = ? ORDER BY bucket, resolution',
      )
      .all(seriesId)
      .map((p) => ({
        resolution: p.resolution,
        bucket: p.bucket,
        count: p.count,
        sum: p.sum,
        min: p.min,
        max: p.max,
        last: p.last,
        digest: p.digest === null ? null : (JSON.parse(p.digest) as TDigestJSON),
      }));
  }

  // ---- traces -------------------------------------------------------------------

  /** Stores finished spans (a span sent again replaces the stored one), all or nothing. */
  ingestSpans(spans: readonly RestSpan[]): void {
    const now = this.#clock.now();
    this.#db.transaction(() => this.#spans(spans, now))();
  }

  #spans(spans: readonly RestSpan[], now: number): void {
    for (const s of spans) {
      const attributes: Record<string, unknown> = { ...s.attributes };
      this.#stmt.upsertSpan.run(
        s.trace_id,
        s.span_id,
        s.parent_span_id ?? null,
        s.name,
        Date.parse(s.start_time),
        Date.parse(s.end_time),
        s.duration_ms,
        s.status,
        s.status_message ?? null,
        JSON.stringify(attributes),
        s.component ?? null,
        now,
      );
    }
  }

  /** The trace in the spec's shape, or `undefined` when no span of it is stored. */
  getTrace(traceId: string): TraceRecord | undefined {
    const rows = this.#stmt.spansOf.all(traceId);
    return rows.length === 0 ? undefined : toTrace(traceId, rows);
  }

  // ---- business metrics ------------------------------------------------------------

  /** Stores one business KPI sample; returns when it was recorded (ms since the epoch). */
  recordBusinessMetric(input: BusinessMetricInput): number {
    const now = this.#clock.now();
    this.#db
      .prepare(
        `INSERT INTO business_metrics (metric_name, value, dimension, target, metadata, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(
        input.metric_name,
        input.value,
        input.dimension ?? null,
        input.target ?? null,
        JSON.stringify(input.metadata ?? {}),
        now,
      );
    return now;
  }

  /** The latest business metrics, newest first. */
  businessMetrics(limit = 100): {
    metric_name: string;
    value: number;
    dimension: string | null;
    target: number | null;
    recorded_at: number;
  }[] {
    return this.#db
      .prepare<
        [number],
        {
          metric_name: string;
          value: number;
          dimension: string | null;
          target: number | null;
          recorded_at: number;
        }
      >(
        `SELECT metric_name, value, dimension, target, recorded_at FROM business_metrics
         ORDER BY recorded_at DESC, id DESC LIMIT ?`,
      )
      .all(limit);
  }

  /**
   * The spec's business dashboard from the stored business metrics (see
   * `store/business.ts`): the latest value of each (`kpis`, or the spec's
   * `user_metrics`, `revenue_metrics`, `growth_metrics` and `quality_metrics` for the
   * names the spec puts there), each KPI's trend by the least-squares rule of
   * `classifyKpiTrend` over its last periods, and progress towards its latest target.
   */
  businessDashboard(): BusinessDashboard {
    return buildBusinessDashboard(this.#db, this.#clock.now());
  }

  // ---- alerts ---------------------------------------------------------------------

  /**
   * Stores an alert rule after parsing its condition (a condition that does not parse
   * throws an {@link InputError} on `condition`). Rules are stored, not evaluated.
   */
  createAlertRule(input: AlertRuleBody): AlertRuleRecord {
    try {
      parseCondition(input.condition);
    } catch (error) {
      throw new InputError(
        400,
        'invalid_condition',
        'condition',
        error instanceof Error ? error.message : 'the condition does not parse',
      );
    }
    const now = this.#clock.now();
    const id = `alert_${randomUUID()}`;
    this.#db
      .prepare(
        `INSERT INTO alert_rules (id, name, description, severity, component, condition, threshold,
           duration_seconds, notification_channels, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        input.name,
        input.description ?? '',
        input.severity,
        input.component,
        input.condition,
        input.threshold ?? null,
        input.duration_seconds ?? 0,
        JSON.stringify(input.notification_channels ?? []),
        now,
      );
    return this.alertRule(id)!;
  }

  /** One stored rule, or `undefined`. */
  alertRule(id: string): AlertRuleRecord | undefined {
    const row = this.#db
      .prepare<[string], AlertRuleDb>('SELECT * FROM alert_rules WHERE id = ?')
      .get(id);
    return row === undefined ? undefined : ruleRecord(row);
  }

  /** The stored rules, oldest first, optionally of one severity and/or component. */
  listAlertRules(filter: { severity?: string; component?: string } = {}): AlertRuleRecord[] {
    return this.#db
      .prepare<[{ severity: string | null; component: string | null }], AlertRuleDb>(
        `SELECT * FROM alert_rules
         WHERE (@severity IS NULL OR severity = @severity) AND (@component IS NULL OR component = @component)
         ORDER BY created_at, id`,
      )
      .all({ severity: filter.severity ?? null, component: filter.component ?? null })
      .map(ruleRecord);
  }

  /** Marks a rule acknowledged; `undefined` when there is no such rule. */
  acknowledgeAlertRule(id: string, by: string): AlertRuleRecord | undefined {
    const result = this.#db
      .prepare('UPDATE alert_rules SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?')
      .run(this.#clock.now(), by, id);
    return result.changes === 0 ? undefined : this.alertRule(id);
  }

  /** Deletes a rule; false when there was none. */
  deleteAlertRule(id: string): boolean {
    return this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM alert_state WHERE rule_id = ?').run(id);
      return this.#db.prepare('DELETE FROM alert_rules WHERE id = ?').run(id).changes > 0;
    })();
  }

  /** The latest alert events received in batches, newest first. */
  alertEvents(limit = 100): AlertEventRecord[] {
    return this.#db
      .prepare<[number], Omit<AlertEventRecord, 'at'> & { at: number }>(
        `SELECT alert_id, rule_id, name, severity, component, event, at, value FROM alert_events
         WHERE origin = 'client' ORDER BY at DESC LIMIT ?`,
      )
      .all(limit)
      .map((e) => ({ ...e, at: iso(e.at) }));
  }

  /**
   * `UPDATE series ... FROM (VALUES ...)` for `rows` series, by the sums of one
   * request: arithmetic in SQL, no read before the write. Params per row: id, type,
   * count, sum, last, min, max, quantiles, labels; the time comes first (its `?` is
   * in SET, before VALUES).
   */
  #addToSeries(
    rows: number,
  ): Database.Statement<(string | number | null)[], { id: number; value: number }> {
    const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    return this.#cached(
      `UPDATE series SET
         value = CASE v.column2 WHEN 'counter' THEN series.value + v.column4
           WHEN 'gauge' THEN v.column5
           ELSE (series.sum + v.column4) / (series.count + v.column3) END,
         count = series.count + v.column3,
         sum = series.sum + v.column4,
         min = CASE WHEN v.column6 IS NULL THEN series.min
           WHEN series.min IS NULL OR v.column6 < series.min THEN v.column6 ELSE series.min END,
         max = CASE WHEN v.column7 IS NULL THEN series.max
           WHEN series.max IS NULL OR v.column7 > series.max THEN v.column7 ELSE series.max END,
         quantiles = COALESCE(v.column8, series.quantiles),
         labels = COALESCE(v.column9, series.labels),
         updated_at = ?
       FROM (VALUES ${values}) AS v
       WHERE series.id = v.column1
       RETURNING series.id AS id, series.value AS value`,
    );
  }

  /**
   * A multi-row upsert of `rows` minute rows, adding to what is stored. Params per row:
   * series id, bucket, count, sum, min, max, last, digest, quantiles, errors.
   */
  #addToPoints(rows: number): Database.Statement<(string | number | null)[]> {
    const values = Array.from({ length: rows }, () => '(?, 60, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(
      ', ',
    );
    return this.#cached(
      `INSERT INTO points (series_id, resolution, bucket, count, sum, min, max, last, digest, quantiles, errors)
       VALUES ${values}
       ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET
         count = count + excluded.count,
         sum = sum + excluded.sum,
         min = CASE WHEN excluded.min IS NULL THEN min WHEN min IS NULL OR excluded.min < min
           THEN excluded.min ELSE min END,
         max = CASE WHEN excluded.max IS NULL THEN max WHEN max IS NULL OR excluded.max > max
           THEN excluded.max ELSE max END,
         last = excluded.last,
         digest = COALESCE(excluded.digest, digest),
         quantiles = COALESCE(excluded.quantiles, quantiles),
         errors = errors + excluded.errors`,
    );
  }

  // ---- server-side evaluation ---------------------------------------------------------

  /**
   * The series of a metric in a component, with their latest values (what a gauge
   * reads). @internal
   */
  seriesOf(name: string, component: string): WindowSeries[] {
    return this.#cached<[string, string], WindowSeries>(
      'SELECT id, metric_type, value FROM series WHERE name = ? AND component = ?',
    ).all(name, component);
  }

  /**
   * The minute rows of a metric in a component from `fromBucket` on (ms since the
   * epoch), every tag set. @internal
   */
  windowPoints(name: string, component: string, fromBucket: number): WindowPoint[] {
    return this.#cached<[string, string, number], WindowPoint>(
      `SELECT s.metric_type AS metric_type, p.bucket AS bucket, p.count AS count, p.sum AS sum,
         p.min AS min, p.max AS max, p.errors AS errors, p.digest AS digest, p.quantiles AS quantiles
       FROM series s JOIN points p ON p.series_id = s.id
       WHERE s.name = ? AND s.component = ? AND p.resolution = 60 AND p.bucket >= ?`,
    ).all(name, component, fromBucket);
  }

  /**
   * Samples and failed samples of every histogram and timer of a component from
   * `fromBucket` on (the SDK's own `prsm.*` timings left out), and the earliest
   * bucket with data: the built-in `error_rate` and `throughput`. @internal
   */
  componentCalls(
    component: string,
    fromBucket: number,
  ): { series: number; count: number; errors: number; first: number | null } {
    const row = this.#cached<
      [string, number],
      { series: number; count: number | null; errors: number | null; first: number | null }
    >(
      `SELECT COUNT(DISTINCT s.id) AS series, SUM(p.count) AS count, SUM(p.errors) AS errors,
         MIN(p.bucket) AS first
       FROM series s JOIN points p ON p.series_id = s.id
       WHERE s.component = ? AND s.metric_type IN ('histogram', 'timer') AND s.name NOT LIKE 'prsm.%'
         AND p.resolution = 60 AND p.bucket >= ?`,
    ).get(component, fromBucket)!;
    return {
      series: row.series,
      count: row.count ?? 0,
      errors: row.errors ?? 0,
      first: row.first,
    };
  }

  /** Every stored alert state (the server's evaluation), by rule id. @internal */
  alertStates(): Map<string, StoredAlertState> {
    const rows = this.#cached<[], AlertStateDb>('SELECT * FROM alert_state').all();
    return new Map(
      rows.map((r) => [
        r.rule_id,
        {
          alertId: r.alert_id,
          state: r.state === 'firing' ? 'firing' : 'pending',
          activeAt: r.active_at,
          triggeredAt: r.triggered_at,
          value: r.value,
          acknowledgedBy: r.acknowledged_by,
          acknowledgedAt: r.acknowledged_at,
          notified: JSON.parse(r.notified) as string[],
        },
      ]),
    );
  }

  /**
   * Stores what happened to a rule's alert, in one transaction: its new state
   * (`undefined`: none active) and the history entries. @internal
   */
  saveAlert(
    ruleId: string,
    state: StoredAlertState | undefined,
    events: readonly ServerAlertEvent[],
  ): void {
    const now = this.#clock.now();
    this.#db.transaction(() => {
      if (state === undefined) {
        this.#cached<[string]>('DELETE FROM alert_state WHERE rule_id = ?').run(ruleId);
      } else {
        this.#cached<
          [
            string,
            string,
            string,
            number,
            number | null,
            number | null,
            string | null,
            number | null,
            string,
          ]
        >(
          `INSERT OR REPLACE INTO alert_state (rule_id, alert_id, state, active_at, triggered_at, value,
             acknowledged_by, acknowledged_at, notified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          ruleId,
          state.alertId,
          state.state,
          state.activeAt,
          state.triggeredAt,
          state.value,
          state.acknowledgedBy,
          state.acknowledgedAt,
          JSON.stringify(state.notified),
        );
      }
      for (const e of events) {
        this.#cached<
          [
            string,
            string,
            string,
            string,
            string,
            string,
            number,
            number | null,
            string | null,
            number,
          ]
        >(
          `INSERT OR IGNORE INTO alert_events (alert_id, rule_id, name, severity, component, event, at, value, by,
             escalation_step, received_at, origin)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, 'server')`,
        ).run(
          e.alert_id,
          e.rule_id,
          e.name,
          e.severity,
          e.component,
          e.event,
          Date.parse(e.at),
          e.value,
          e.by,
          now,
        );
      }
    })();
  }

  /** The server's own alert history (its evaluation of the stored rules), newest first. */
  serverAlertEvents(limit = 100): ServerAlertEvent[] {
    return this.#cached<[number], Omit<ServerAlertEvent, 'at'> & { at: number }>(
      `SELECT alert_id, rule_id, name, severity, component, event, at, value, by FROM alert_events
       WHERE origin = 'server'
       ORDER BY at DESC, CASE event WHEN 'pending' THEN 0 WHEN 'firing' THEN 1 WHEN 'acknowledged' THEN 2
         ELSE 3 END DESC LIMIT ?`,
    )
      .all(limit)
      .map((e) => ({ ...e, at: iso(e.at) }));
  }

  // ---- reads of GET /health and GET /analytics (read/) ---------------------------------

  /**
   * Remembers which process reported a series, for which service, when, and (for a
   * gauge) its value: what `GET /health?service=` filters by, what a fleet's gauges
   * are read from (each process's latest value, not the last writer's), and what
   * staleness is judged on. Written at most once a minute per process and series,
   * except a gauge whose value changed.
   */
  #noteSourceSeries(
    source: NonNullable<RestBatchBody['source']>,
    seriesId: number,
    metric: RestBatchBody['metrics'][number],
    now: number,
  ): void {
    const value = metric.metric_type === 'gauge' ? metric.value : null;
    const key = `${source.instance_id}\u0000${seriesId}`;
    const minute = Math.floor(now / MINUTE);
    const seen = this.#sourceSeriesSeen.get(key);
    if (seen !== undefined && seen.minute === minute && seen.value === value) return;
    if (this.#sourceSeriesSeen.size >= 200_000) this.#sourceSeriesSeen.clear();
    this.#sourceSeriesSeen.set(key, { minute, value });
    this.#cached<[string, number, string, number | null, number]>(
      `INSERT INTO source_series (instance_id, series_id, service_name, last_value, last_seen)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (instance_id, series_id) DO UPDATE SET service_name = excluded.service_name,
         last_value = excluded.last_value, last_seen = excluded.last_seen`,
    ).run(source.instance_id, seriesId, String(source.resource['service.name'] ?? ''), value, now);
  }

  readonly #sourceSeriesSeen = new Map<string, { minute: number; value: number | null }>();

  /**
   * The SQL filter of series to one service (`?` bound to the service's name): series
   * are keyed by service (schema version 4), so it is exact.
   */
  #serviceFilter(service: string | null): string {
    return service === null ? '' : ' AND s.service = ?';
  }

  /**
   * Samples, errors and sums of histograms and timers, and increases of counters, per
   * component and type, from `fromBucket` on (minute rows; the SDK's own `prsm.*`
   * series left out); `first` is the earliest minute with data. @internal
   */
  readCallTotals(
    fromBucket: number,
    component: string | null,
    service: string | null,
  ): ReadCallTotal[] {
    // From the minute cache: SQL reads the buckets not kept yet, once; each committed
    // write adds to the buckets it touched.
    const out = new Map<
      string,
      ReadCallTotal & { count: number; sum: number; errors: number; first: number }
    >();
    for (const [bucket, groups] of this.#minutes.totals(fromBucket, (from, to) =>
      this.#loadTotals(from, to),
    )) {
      if (bucket < fromBucket) continue;
      for (const t of groups.values()) {
        if (component !== null && t.component !== component) continue;
        if (service !== null && t.service !== service) continue;
        const key = `${t.component}\u0000${t.metric_type}`;
        const o = out.get(key);
        if (o === undefined) {
          out.set(key, {
            component: t.component,
            metric_type: t.metric_type,
            count: t.count,
            sum: t.sum,
            errors: t.errors,
            first: bucket,
          });
        } else {
          o.count += t.count;
          o.sum += t.sum;
          o.errors += t.errors;
          if (bucket < o.first) o.first = bucket;
        }
      }
    }
    return [...out.values()];
  }

  /** Minute rows of `[from, to)` summed per bucket, component, service and type. */
  #loadTotals(from: number, to: number): (MinuteTotal & { bucket: number })[] {
    const upper = Number.isFinite(to) ? ' AND p.bucket < ?' : '';
    const params = Number.isFinite(to) ? [from, to] : [from];
    return this.#cached<number[], MinuteTotal & { bucket: number }>(
      `SELECT p.bucket AS bucket, s.component AS component, s.service AS service,
         s.metric_type AS metric_type, SUM(p.count) AS count, SUM(p.sum) AS sum,
         SUM(p.errors) AS errors
       FROM series s INDEXED BY series_component CROSS JOIN points p INDEXED BY points_read
       WHERE p.series_id = s.id AND p.resolution = 60 AND p.bucket >= ?${upper}
         AND s.metric_type != 'gauge' AND s.name NOT LIKE 'prsm.%'
       GROUP BY p.bucket, s.component, s.service, s.metric_type`,
    ).all(...params);
  }

  /**
   * Everything measured since stored (histogram and timer samples plus counter
   * totals), the SDK's own `prsm.*` series and the given component left out. @internal
   */
  readCollected(exclude: string, service: string | null): number {
    if (exclude === SYSTEM_COMPONENT) {
      // Kept in memory per service (health asks after every write).
      let collected = this.#collected;
      if (collected === null) {
        collected = new Map();
        for (const r of this.#cached<
          [string],
          { service: string; system: number; n: number | null }
        >(
          `SELECT s.service AS service, s.component = ? AS system,
             ${COLLECTED_SUM} AS n
           FROM series s WHERE s.name NOT LIKE 'prsm.%' GROUP BY s.service, system`,
        ).all(SYSTEM_COMPONENT)) {
          if (r.system === 0) collected.set(r.service, r.n ?? 0);
        }
        this.#collected = collected;
      }
      if (service !== null) return collected.get(service) ?? 0;
      let n = 0;
      for (const v of collected.values()) n += v;
      return n;
    }
    const params: string[] = [exclude];
    if (service !== null) params.push(service);
    const row = this.#cached<string[], { n: number | null }>(
      `SELECT ${COLLECTED_SUM} AS n
       FROM series s WHERE s.component != ? AND s.name NOT LIKE 'prsm.%'${this.#serviceFilter(service)}`,
    ).get(...params);
    return row?.n ?? 0;
  }

  /** Adds a committed write's change to a series' share of `readCollected`'s sums. */
  #addCollected(
    series: { readonly component: string; readonly service: string },
    delta: number,
  ): void {
    const collected = this.#collected;
    if (collected === null || delta === 0 || series.component === SYSTEM_COMPONENT) return;
    collected.set(series.service, (collected.get(series.service) ?? 0) + delta);
  }

  /** The components with a stored series (of one service). @internal */
  readComponents(service: string | null): string[] {
    const params = service === null ? [] : [service];
    return this.#cached<string[], { component: string }>(
      `SELECT DISTINCT s.component AS component FROM series s INDEXED BY series_component
       WHERE s.name NOT LIKE 'prsm.%'${this.#serviceFilter(service)} ORDER BY s.component`,
    )
      .all(...params)
      .map((r) => r.component);
  }

  /** Whether a component has a stored series (of one service). @internal */
  hasComponent(component: string, service: string | null): boolean {
    const params = service === null ? [component] : [component, service];
    return (
      this.#cached<string[], { one: number }>(
        `SELECT 1 AS one FROM series s WHERE s.component = ?${this.#serviceFilter(service)} LIMIT 1`,
      ).get(...params) !== undefined
    );
  }

  /** The series of a component with their latest values. @internal */
  readComponentSeries(component: string, service: string | null): ReadSeries[] {
    const params = service === null ? [component] : [component, service];
    return this.#cached<string[], ReadSeries>(
      `SELECT s.id AS id, s.name AS name, s.metric_type AS metric_type, s.value AS value,
         s.updated_at AS updated_at
       FROM series s WHERE s.component = ? AND s.name NOT LIKE 'prsm.%'${this.#serviceFilter(service)}`,
    ).all(...params);
  }

  /**
   * The minute rows of a component's histograms and timers from `fromBucket` on, with
   * their digests when `digests`. `name` is the operation: a series' `operation` tag
   * when it has one (the decorators' `operation.duration`), else its metric name, as
   * core's analytics name operations. @internal
   */
  readComponentPoints(
    component: string,
    fromBucket: number,
    service: string | null,
    digests: boolean,
  ): ReadPoint[] {
    const floor = Math.floor(this.#clock.now() / MINUTE) * MINUTE - ROWS_KEPT_MS;
    if (digests || fromBucket < floor) {
      return this.#pointRows(component, fromBucket, Number.POSITIVE_INFINITY, service, digests);
    }
    // From the minute cache: the rows not kept yet read once, then kept up to date by
    // the writes (the digests stay in SQL and in the reader's parsed cache).
    const out: ReadPoint[] = [];
    for (const row of this.#minutes.rows(component, fromBucket, floor, (from, to) =>
      this.#pointRows(component, from, to, null, false),
    )) {
      if (row.bucket < fromBucket || (service !== null && row.service !== service)) continue;
      out.push(row);
    }
    return out;
  }

  #pointRows(
    component: string,
    fromBucket: number,
    toBucket: number,
    service: string | null,
    digests: boolean,
  ): CachedRow[] {
    const params: (string | number)[] = [component, fromBucket];
    const upper = Number.isFinite(toBucket) ? ' AND p.bucket < ?' : '';
    if (upper !== '') params.push(toBucket);
    if (service !== null) params.push(service);
    return this.#cached<(string | number)[], CachedRow>(
      `SELECT p.series_id AS series_id,
         COALESCE(json_extract(s.tags, '$.operation'), s.name) AS name,
         s.metric_type AS metric_type, s.service AS service, p.bucket AS bucket,
         p.count AS count, p.sum AS sum, p.errors AS errors, ${digests ? 'p.digest' : 'NULL'} AS digest
       FROM series s INDEXED BY series_component CROSS JOIN points p${digests ? '' : ' INDEXED BY points_read'}
       WHERE p.series_id = s.id AND s.component = ? AND s.metric_type IN ('histogram', 'timer')
         AND s.name NOT LIKE 'prsm.%' AND p.resolution = 60 AND p.bucket >= ?${upper}${this.#serviceFilter(service)}`,
    ).all(...params);
  }

  /**
   * Per hour of a component's timers from `fromBucket` on (minute and hour rows):
   * samples, errors, sum, and the minutes with data (60 for an hour row). @internal
   */
  readComponentHours(component: string, fromBucket: number, service: string | null): ReadHour[] {
    const params: (string | number)[] = [component, fromBucket];
    if (service !== null) params.push(service);
    return this.#cached<(string | number)[], ReadHour>(
      `SELECT (p.bucket / ${HOUR}) * ${HOUR} AS hour, SUM(p.count) AS count, SUM(p.errors) AS errors,
         SUM(p.sum) AS sum,
         CASE WHEN MAX(p.resolution) > 60 THEN 60 ELSE COUNT(DISTINCT p.bucket) END AS minutes
       FROM series s INDEXED BY series_component CROSS JOIN points p INDEXED BY points_read
       WHERE p.series_id = s.id AND s.component = ? AND s.metric_type = 'timer'
         AND s.name NOT LIKE 'prsm.%' AND p.resolution IN (60, 3600)
         AND p.bucket >= ?${this.#serviceFilter(service)}
       GROUP BY hour ORDER BY hour`,
    ).all(...params);
  }

  /**
   * The largest value per minute of a component's gauges of the given names (every
   * tag set and process: the worst reading of the minute). @internal
   */
  readGaugeMinutes(
    component: string,
    names: readonly string[],
    fromBucket: number,
  ): { name: string; bucket: number; value: number }[] {
    if (names.length === 0) return [];
    return this.#cached<(string | number)[], { name: string; bucket: number; value: number }>(
      `SELECT s.name AS name, p.bucket AS bucket, MAX(p.max) AS value
       FROM series s INDEXED BY series_component CROSS JOIN points p
       WHERE p.series_id = s.id AND s.component = ? AND s.metric_type = 'gauge'
         AND s.name IN (${names.map(() => '?').join(', ')})
         AND p.resolution = 60 AND p.bucket >= ? AND p.max IS NOT NULL
       GROUP BY s.name, p.bucket`,
    ).all(component, ...names, fromBucket);
  }

  /**
   * The latest value of a component's gauges of the given names: the largest over
   * the processes heard from since `since` (of one service), and over series no
   * process reported (sent without a `source`) updated since then. @internal
   */
  readLatestGauges(
    component: string,
    names: readonly string[],
    since: number,
    service: string | null,
  ): Map<string, { value: number; at: number }> {
    const out = new Map<string, { value: number; at: number }>();
    if (names.length === 0) return out;
    const marks = names.map(() => '?').join(', ');
    const keep = (rows: { name: string; value: number | null; at: number }[]): void => {
      for (const r of rows) {
        if (r.value === null) continue;
        const prev = out.get(r.name);
        if (prev === undefined || r.value > prev.value) {
          out.set(r.name, { value: r.value, at: Math.max(r.at, prev?.at ?? 0) });
        }
      }
    };
    const params: (string | number)[] = [component, ...names, since];
    if (service !== null) params.push(service);
    keep(
      this.#cached<(string | number)[], { name: string; value: number | null; at: number }>(
        `SELECT s.name AS name, MAX(x.last_value) AS value, MAX(x.last_seen) AS at
         FROM source_series x JOIN series s ON s.id = x.series_id
         WHERE s.component = ? AND s.metric_type = 'gauge' AND s.name IN (${marks})
           AND x.last_seen >= ?${service === null ? '' : ' AND x.service_name = ?'}
         GROUP BY s.name`,
      ).all(...params),
    );
    if (service === null) {
      keep(
        this.#cached<(string | number)[], { name: string; value: number | null; at: number }>(
          `SELECT s.name AS name, MAX(s.value) AS value, MAX(s.updated_at) AS at FROM series s
           WHERE s.component = ? AND s.metric_type = 'gauge' AND s.name IN (${marks})
             AND s.updated_at >= ? AND NOT EXISTS (SELECT 1 FROM source_series x WHERE x.series_id = s.id)
           GROUP BY s.name`,
        ).all(component, ...names, since),
      );
    }
    return out;
  }

  /**
   * Counter totals of a component by name: the stored totals, or (of one service) the
   * sum of the latest totals its processes reported. @internal
   */
  readCounterTotals(
    component: string,
    names: readonly string[],
    service: string | null,
  ): Map<string, number> {
    const out = new Map<string, number>();
    if (names.length === 0) return out;
    const marks = names.map(() => '?').join(', ');
    const rows =
      service === null
        ? this.#cached<string[], { name: string; total: number }>(
            `SELECT s.name AS name, SUM(s.value) AS total FROM series s
             WHERE s.component = ? AND s.metric_type = 'counter' AND s.name IN (${marks})
             GROUP BY s.name`,
          ).all(component, ...names)
        : this.#cached<string[], { name: string; total: number }>(
            `SELECT s.name AS name, SUM(t.total) AS total
             FROM source_totals t JOIN series s ON s.id = t.series_id
             JOIN sources o ON o.instance_id = t.instance_id
             WHERE s.component = ? AND s.metric_type = 'counter' AND s.name IN (${marks})
               AND o.service_name = ? AND s.service = o.service_name
             GROUP BY s.name`,
          ).all(component, ...names, service);
    for (const r of rows) out.set(r.name, r.total);
    return out;
  }

  /** The processes heard from since `since`, with their service, latest first. @internal */
  readSources(since: number): { instance_id: string; service_name: string; last_seen: number }[] {
    return this.#cached<[number], { instance_id: string; service_name: string; last_seen: number }>(
      `SELECT instance_id, service_name, last_seen FROM sources WHERE last_seen >= ?
       ORDER BY last_seen DESC, instance_id`,
    ).all(since);
  }

  /** Whether a process of this service ever sent a batch. @internal */
  hasService(service: string): boolean {
    return (
      this.#cached<[string], { one: number }>(
        'SELECT 1 AS one FROM sources WHERE service_name = ? LIMIT 1',
      ).get(service) !== undefined
    );
  }

  /** Traces with a span received since `since`, and the alert rules stored. @internal */
  readTraceAndRuleCounts(since: number): { traces: number; rules: number } {
    const traces = this.#cached<[number], { n: number }>(
      'SELECT COUNT(DISTINCT trace_id) AS n FROM spans WHERE received_at >= ?',
    ).get(since)!.n;
    const rules = this.#cached<[], { n: number }>('SELECT COUNT(*) AS n FROM alert_rules').get()!.n;
    return { traces, rules };
  }

  /**
   * The spans of the latest traces (at most `maxTraces`) that have a span of the
   * component received since `since`, grouped by trace. @internal
   */
  readComponentTraces(component: string, since: number, maxTraces: number): SpanRow[][] {
    const rows = this.#cached<[number, string, number], SpanRow>(
      `SELECT * FROM spans WHERE trace_id IN (
         SELECT trace_id FROM spans WHERE received_at >= ? AND component = ?
         GROUP BY trace_id ORDER BY MAX(received_at) DESC LIMIT ?)
       ORDER BY trace_id, start_ms, span_id`,
    ).all(since, component, maxTraces);
    const out: SpanRow[][] = [];
    let current: SpanRow[] = [];
    for (const row of rows) {
      if (current.length > 0 && current[0]!.trace_id !== row.trace_id) {
        out.push(current);
        current = [];
      }
      current.push(row);
    }
    if (current.length > 0) out.push(current);
    return out;
  }

  /** The digest (JSON) of a series' minute row, or null. @internal */
  readDigest(seriesId: number, bucket: number): string | null {
    return this.#stmt.pointDigest.get(seriesId, bucket)?.digest ?? null;
  }

  /** Drops what processes not heard from since `before` reported. @internal */
  pruneSourceSeries(before: number): number {
    this.#sourceSeriesSeen.clear();
    return this.#cached<[number]>('DELETE FROM source_series WHERE last_seen < ?').run(before)
      .changes;
  }

  readonly #statements = new Map<string, Database.Statement>();

  #cached<P extends unknown[] = [], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }

  // ---- keys -----------------------------------------------------------------------

  /** Creates a key of `role`; the returned `key` is never stored (only its hash). */
  createKey(role: Role): CreatedKey {
    if (!isRole(role)) {
      throw new TypeError('createKey: role must be one of ingest, read, enterprise, admin');
    }
    const key = generateKey();
    const id = generateKeyId();
    const now = this.#clock.now();
    this.#db
      .prepare('INSERT INTO api_keys (id, hash, role, created_at) VALUES (?, ?, ?, ?)')
      .run(id, hashKey(key), role, now);
    return { id, role, created_at: now, last_used_at: null, revoked_at: null, key };
  }

  /** Every key (never the key itself), oldest first. */
  listKeys(): KeyInfo[] {
    return this.#db
      .prepare<[], KeyRowDb>(
        'SELECT id, role, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at, id',
      )
      .all()
      .map(keyInfo);
  }

  /** Revokes a key: `revoked`, `already` (revoked before) or `unknown`. */
  revokeKey(id: string): 'revoked' | 'already' | 'unknown' {
    const row = this.#db
      .prepare<[string], { revoked_at: number | null }>(
        'SELECT revoked_at FROM api_keys WHERE id = ?',
      )
      .get(id);
    if (row === undefined) return 'unknown';
    if (row.revoked_at !== null) return 'already';
    this.#db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(this.#clock.now(), id);
    return 'revoked';
  }

  /**
   * Creates a one-time login key (auth/keys.ts): exchanged once for a dashboard session
   * by {@link MonitorStore.redeemOneTimeKey}, never accepted as an API key.
   */
  createOneTimeKey(role: Role): CreatedKey {
    if (!isRole(role)) {
      throw new TypeError('createOneTimeKey: role must be one of ingest, read, enterprise, admin');
    }
    const key = generateOneTimeKey();
    const id = generateOneTimeKeyId();
    const now = this.#clock.now();
    this.#db
      .prepare('INSERT INTO api_keys (id, hash, role, created_at) VALUES (?, ?, ?, ?)')
      .run(id, hashKey(key), role, now);
    return { id, role, created_at: now, last_used_at: null, revoked_at: null, key };
  }

  /**
   * Spends a one-time login key: its record the first time (its `last_used_at` set),
   * `undefined` when unknown, already spent, revoked or not a one-time key.
   */
  redeemOneTimeKey(key: string): KeyInfo | undefined {
    const hash = hashKey(key);
    const spent = this.#db
      .prepare(
        `UPDATE api_keys SET last_used_at = ? WHERE hash = ? AND id LIKE 'otk\\_%' ESCAPE '\\'
           AND last_used_at IS NULL AND revoked_at IS NULL`,
      )
      .run(this.#clock.now(), hash).changes;
    return spent === 1 ? this.findKey(key) : undefined;
  }

  /** A key's record by its id, else `undefined`. */
  keyById(id: string): KeyInfo | undefined {
    const row = this.#cached<[string], KeyRowDb>(
      'SELECT id, role, created_at, last_used_at, revoked_at FROM api_keys WHERE id = ?',
    ).get(id);
    return row === undefined ? undefined : keyInfo(row);
  }

  /** The key's record when the key is known (revoked or not), else `undefined`. */
  findKey(key: string): KeyInfo | undefined {
    const row = this.#stmt.keyByHash.get(hashKey(key));
    return row === undefined ? undefined : keyInfo(row);
  }

  /** Counts one request in the key-use audit (and sets the key's `last_used_at`). */
  recordKeyUse(keyId: string | null, method: string, route: string, status: number): void {
    const now = this.#clock.now();
    this.#db.transaction(() => {
      const minute = Math.floor(now / MINUTE) * MINUTE;
      this.#stmt.keyUse.run(keyId ?? '', method, route, status, minute, now, now);
      if (keyId !== null) this.#stmt.touchKey.run(now, keyId);
    })();
  }

  /**
   * The latest key-use audit rows, newest first: requests per key (null: no known
   * key), method, route, status and minute, with the first and last time.
   */
  keyUses(limit = 100): KeyUse[] {
    return this.#db
      .prepare<[number], KeyUse & { key_id: string }>(
        `SELECT key_id, method, route, status, minute, count, first_at, last_at FROM key_use
         ORDER BY last_at DESC LIMIT ?`,
      )
      .all(limit)
      .map((r) => ({ ...r, key_id: r.key_id === '' ? null : r.key_id }));
  }

  /** Whether any key exists (revoked ones included). */
  hasKeys(): boolean {
    return this.#db.prepare('SELECT 1 FROM api_keys LIMIT 1').get() !== undefined;
  }

  // ---- maintenance ------------------------------------------------------------------

  /**
   * Rolls minute rows older than `rollupAfterMs` into hour rows (digests merged, not
   * averaged) and drops what is past its retention, in one transaction. Pass the
   * time explicitly: the server calls it on an interval with its clock.
   */
  compact(now: number): CompactionResult {
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new TypeError('compact: now must be a finite number of ms since the epoch');
    }
    // Retention may delete series; the next ingest reads ids again.
    this.#seriesIds.clear();
    this.#digests.clear();
    this.#parsed.clear();
    const result = this.#compact(now);
    // The reads' minute cache: rolled-up or dropped minutes go; deleted series, everything.
    if (result.seriesDropped > 0) {
      this.#minutes.clear();
      this.#collected = null;
    } else this.#minutes.dropBefore(result.minutesBefore);
    // Audit records past their retention (store/audit.ts), cut with a recorded cut.
    const audit = auditStoreOf(this).applyRetention(now);
    return {
      rolledUp: result.rolledUp,
      dropped: result.dropped + audit.removed,
      auditRecordsRemoved: audit.removed,
      auditRecordsExpired: audit.expired,
    };
  }

  #compact(now: number): Pick<CompactionResult, 'rolledUp' | 'dropped'> & {
    seriesDropped: number;
    minutesBefore: number;
  } {
    return this.#db.transaction(() => {
      const cutoff = now - this.#rollupAfterMs;
      const old = this.#db
        .prepare<[number], PointRowDb>(
          'SELECT * FROM points WHERE resolution = 60 AND bucket < ? ORDER BY series_id, bucket',
        )
        .all(cutoff);
      const hours = new Map<string, PointRowDb>();
      for (const p of old) {
        const hour = Math.floor(p.bucket / HOUR) * HOUR;
        const key = `${p.series_id}:${hour}`;
        let h = hours.get(key);
        if (h === undefined) {
          h = this.#stmt.point.get(p.series_id, 3600, hour) ?? {
            series_id: p.series_id,
            resolution: 3600,
            bucket: hour,
            count: 0,
            sum: 0,
            min: null,
            max: null,
            last: p.last,
            digest: null,
            quantiles: null,
            errors: 0,
          };
          hours.set(key, h);
        }
        h.count += p.count;
        h.errors += p.errors;
        h.sum += p.sum;
        h.min = minOf(h.min, p.min);
        h.max = maxOf(h.max, p.max);
        h.last = p.last;
        if (p.digest !== null) {
          const merged = parseDigest(h.digest) ?? new TDigest();
          merged.merge(parseDigest(p.digest)!);
          h.digest = JSON.stringify(merged.toJSON());
          h.quantiles = JSON.stringify(quantilesOf(merged));
        } else if (p.quantiles !== null && h.digest === null) {
          h.quantiles = p.quantiles;
        }
      }
      for (const h of hours.values()) {
        this.#stmt.upsertPoint.run(
          h.series_id,
          3600,
          h.bucket,
          h.count,
          h.sum,
          h.min,
          h.max,
          h.last,
          h.digest,
          h.quantiles,
          h.errors,
        );
      }
      this.#db.prepare('DELETE FROM points WHERE resolution = 60 AND bucket < ?').run(cutoff);
      let dropped = 0;
      const drop = (sql: string, before: number): void => {
        dropped += this.#db.prepare(sql).run(before).changes;
      };
      drop('DELETE FROM exemplars WHERE bucket < ?', cutoff); // as long as the minute rows
      // With archival (archive/), whole days past retention are written to files first.
      const keep =
        this.#archive === undefined
          ? now - this.#retentionMs
          : archiveExpired(this.#db, this.#archive, now - this.#retentionMs, now);
      drop('DELETE FROM points WHERE bucket < ?', keep);
      const before = dropped;
      drop('DELETE FROM series WHERE updated_at < ?', keep);
      const seriesDropped = dropped - before;
      drop('DELETE FROM business_metrics WHERE recorded_at < ?', keep);
      drop('DELETE FROM alert_events WHERE received_at < ?', keep);
      drop('DELETE FROM spans WHERE received_at < ?', now - this.#traceRetentionMs);
      drop('DELETE FROM key_use WHERE minute < ?', now - this.#auditRetentionMs);
      drop('DELETE FROM batches WHERE received_at < ?', now - this.#batchIdTtlMs);
      drop('DELETE FROM source_totals WHERE updated_at < ?', keep);
      drop('DELETE FROM sources WHERE last_seen < ?', keep);
      dropped += this.#db
        .prepare(
          `DELETE FROM batches WHERE batch_id IN (
             SELECT batch_id FROM batches ORDER BY received_at DESC, rowid DESC LIMIT -1 OFFSET ?)`,
        )
        .run(this.#maxBatchIds).changes;
      return {
        rolledUp: old.length,
        dropped,
        seriesDropped,
        minutesBefore: Math.max(cutoff, keep),
      };
    })();
  }

  /** Row counts of every table. */
  counts(): StoreCounts {
    const out: Record<string, number> = {};
    for (const table of [
      'api_keys',
      'series',
      'points',
      'spans',
      'alert_rules',
      'alert_events',
      'business_metrics',
      'batches',
      'sources',
      'source_totals',
    ]) {
      out[table] = this.#db
        .prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`)
        .get()!.n;
    }
    return out;
  }

  /** Whether the database answers (for `/healthz`). */
  ping(): boolean {
    if (this.#closed) return false;
    try {
      return this.#db.prepare<[], { ok: number }>('SELECT 1 AS ok').get()?.ok === 1;
    } catch {
      return false;
    }
  }

  /** Closes the database. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

interface AlertStateDb {
  rule_id: string;
  alert_id: string;
  state: string;
  active_at: number;
  triggered_at: number | null;
  value: number | null;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  notified: string;
}

interface AlertRuleDb {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  component: string;
  condition: string;
  threshold: number | null;
  duration_seconds: number;
  notification_channels: string;
  created_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
}

function ruleRecord(row: AlertRuleDb): AlertRuleRecord {
  return {
    alert_id: row.id,
    name: row.name,
    description: row.description,
    severity: row.severity,
    component: row.component,
    condition: row.condition,
    threshold: row.threshold,
    duration_seconds: row.duration_seconds,
    notification_channels: JSON.parse(row.notification_channels) as string[],
    created_at: iso(row.created_at),
    acknowledged_at: row.acknowledged_at === null ? null : iso(row.acknowledged_at),
    acknowledged_by: row.acknowledged_by,
  };
}

function keyInfo(row: KeyRowDb): KeyInfo {
  if (!isRole(row.role)) throw new Error(`stored key ${row.id} has an unknown role`);
  return {
    id: row.id,
    role: row.role,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    revoked_at: row.revoked_at,
  };
}

/**
 * Opens (creating if needed) the store's SQLite file, in WAL mode. Throws a
 * `TypeError` for a bad option, and SQLite's error for a file it cannot open.
 *
 * @example
 * ```ts
 * import { openStore } from '@prsm/server';
 *
 * const store = openStore('./prsm-monitor.db', { retentionMs: 7 * 86_400_000 });
 * setInterval(() => store.compact(Date.now()), 60_000).unref();
 * ```
 */
export function openStore(path: string, options: StoreOptions = {}): MonitorStore {
  return new MonitorStore(path, options);
}

/** Runs `fn`, again after 20 ms while SQLite answers SQLITE_BUSY, for up to 5 s. */
function retryBusy<T>(fn: () => T): T {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return fn();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() > deadline) {
        throw error;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
