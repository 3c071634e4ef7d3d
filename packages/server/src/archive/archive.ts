/**
 * archive/: the "data lake" hand-off. When configured, the store's compaction writes
 * the rows it is about to drop past retention (metric points, rolled up to hours by
 * then; business metrics; alert events) to JSON Lines files, one per UTC day per
 * dataset, before deleting them. Each file is written to a temporary name, fsynced
 * and renamed (then the directory fsynced); the rows are deleted afterwards, in the
 * compaction's transaction, together with a row of `archive_log` naming the file. A
 * crash between the rename and the commit leaves the rows and no log row: the next
 * compaction writes the same file again (a superset of it), so nothing is lost and
 * nothing archived twice. Rows arriving later for an archived day go to a new part.
 * May import better-sqlite3 (types), node:fs, node:path and node:zlib.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

import type Database from 'better-sqlite3';

const DAY = 86_400_000;
/** Lines are written (and gzipped, as one gzip member each) in chunks of about this size. */
const CHUNK_CHARS = 256 * 1024;

/**
 * Archival of rows past retention. A bad value throws a `TypeError` naming the option
 * when the store is opened.
 *
 * @example
 * ```ts
 * const store = openStore('./prsm-monitor.db', {
 *   retentionMs: 30 * 86_400_000,
 *   archive: { dir: './archive', gzip: true },
 * });
 * ```
 */
export interface ArchiveOptions {
  /** The directory the files go to (created when missing), one folder per dataset. */
  readonly dir: string;
  /** Gzip the files (`.jsonl.gz`). Default false. */
  readonly gzip?: boolean;
  /**
   * Called after each file is durably in place and before its rows are deleted (inside
   * the compaction's transaction): for logging, or to inject a crash at that point in
   * tests. An exception thrown here aborts the compaction (the rows stay).
   */
  readonly onArchived?: (file: string, rows: number) => void;
}

/**
 * The datasets archival writes: `metrics` (rows of `points` with their series' name,
 * component, tags, type and unit), `business` (`business_metrics`), `alerts`
 * (`alert_events`).
 *
 * @example
 * ```ts
 * const dataset: ArchiveDataset = 'metrics';
 * ```
 */
export type ArchiveDataset = 'metrics' | 'business' | 'alerts';

/** The checked options. @internal */
export interface ArchiveConfig {
  readonly dir: string;
  readonly gzip: boolean;
  readonly onArchived: ((file: string, rows: number) => void) | undefined;
}

/** Checks {@link ArchiveOptions} (the store's `archive` option). @internal */
export function archiveConfig(value: unknown): ArchiveConfig | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') {
    throw new TypeError('openStore: options.archive must be an object { dir, gzip? }');
  }
  const o = value as Record<string, unknown>;
  if (typeof o['dir'] !== 'string' || o['dir'] === '') {
    throw new TypeError('openStore: options.archive.dir must be a non-empty directory path');
  }
  if (o['gzip'] !== undefined && typeof o['gzip'] !== 'boolean') {
    throw new TypeError('openStore: options.archive.gzip must be a boolean');
  }
  if (o['onArchived'] !== undefined && typeof o['onArchived'] !== 'function') {
    throw new TypeError('openStore: options.archive.onArchived must be a function');
  }
  return {
    dir: resolve(o['dir']),
    gzip: o['gzip'] === true,
    onArchived: o['onArchived'] as ArchiveConfig['onArchived'],
  };
}

const LOG_SQL = `CREATE TABLE IF NOT EXISTS archive_log (
  dataset TEXT NOT NULL,
  day INTEGER NOT NULL,
  part INTEGER NOT NULL,
  file TEXT NOT NULL,
  rows INTEGER NOT NULL,
  archived_at INTEGER NOT NULL,
  PRIMARY KEY (dataset, day, part)
)`;

interface Source {
  readonly dataset: ArchiveDataset;
  /** The days (ms of their start) with rows before the cutoff. */
  readonly days: string;
  /** The rows of a day `[?, ?)`, in a stable order. */
  readonly rows: string;
}

const SOURCES: readonly Source[] = [
  {
    dataset: 'metrics',
    days: 'SELECT DISTINCT (bucket - bucket % 86400000) AS day FROM points WHERE bucket < ? ORDER BY day',
    rows: `SELECT s.name, s.component, s.tags, s.metric_type, s.unit, p.resolution, p.bucket, p.count,
             p.sum, p.min, p.max, p.last, p.errors, p.quantiles, p.digest
           FROM points p JOIN series s ON s.id = p.series_id
           WHERE p.bucket >= ? AND p.bucket < ?
           ORDER BY p.bucket, s.name, s.component, s.tags, p.resolution`,
  },
  {
    dataset: 'business',
    days: 'SELECT DISTINCT (recorded_at - recorded_at % 86400000) AS day FROM business_metrics WHERE recorded_at < ? ORDER BY day',
    rows: `SELECT id, metric_name, value, dimension, target, metadata, recorded_at FROM business_metrics
           WHERE recorded_at >= ? AND recorded_at < ? ORDER BY recorded_at, id`,
  },
  {
    dataset: 'alerts',
    days: 'SELECT DISTINCT (received_at - received_at % 86400000) AS day FROM alert_events WHERE received_at < ? ORDER BY day',
    rows: `SELECT alert_id, rule_id, name, severity, component, event, at, value, by, escalation_step,
             origin, received_at
           FROM alert_events WHERE received_at >= ? AND received_at < ? ORDER BY received_at, alert_id, event, at`,
  },
];

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The name of a day's file of a dataset: `<dir>/<dataset>/<dataset>-YYYY-MM-DD.jsonl`,
 * `...-YYYY-MM-DD.2.jsonl` for a later part, `.gz` appended when gzipped.
 *
 * @example
 * ```ts
 * archiveFileName('/data/archive', 'metrics', Date.parse('2026-01-15'), 0, true);
 * // '/data/archive/metrics/metrics-2026-01-15.jsonl.gz'
 * ```
 */
export function archiveFileName(
  dir: string,
  dataset: ArchiveDataset,
  day: number,
  part: number,
  gzip: boolean,
): string {
  const date = new Date(day).toISOString().slice(0, 10);
  const suffix = part === 0 ? '' : `.${part + 1}`;
  return join(dir, dataset, `${dataset}-${date}${suffix}.jsonl${gzip ? '.gz' : ''}`);
}

/** Writes one day's rows to `file` atomically; returns the row count. */
function writeDay(
  db: Database.Database,
  sql: string,
  day: number,
  file: string,
  gzip: boolean,
): number {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let rows = 0;
  try {
    let chunk = '';
    const flush = (): void => {
      if (chunk === '') return;
      // Gzip members concatenated are one valid gzip file (RFC 1952 §2.2).
      writeSync(fd, gzip ? gzipSync(chunk) : Buffer.from(chunk, 'utf8'));
      chunk = '';
    };
    for (const row of db
      .prepare<[number, number], Record<string, unknown>>(sql)
      .iterate(day, day + DAY)) {
      chunk += `${JSON.stringify(row)}\n`;
      rows++;
      if (chunk.length >= CHUNK_CHARS) flush();
    }
    flush();
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, file);
  return rows;
}

/**
 * Archives the rows of whole UTC days before `keepFrom` (ms since the epoch) and
 * returns the day-aligned cutoff the caller must delete before (`keepFrom` rounded
 * down to midnight UTC: a day is archived, and dropped, once it is wholly past
 * retention). Runs inside the caller's transaction; the caller deletes the rows before
 * the returned cutoff in that same transaction. Throws (the caller's transaction rolls
 * back, the rows stay) when a file cannot be written. @internal
 */
export function archiveExpired(
  db: Database.Database,
  config: ArchiveConfig,
  keepFrom: number,
  now: number,
): number {
  const cutoff = Math.floor(keepFrom / DAY) * DAY;
  db.exec(LOG_SQL);
  const lastPart = db.prepare<[string, number], { part: number | null }>(
    'SELECT MAX(part) AS part FROM archive_log WHERE dataset = ? AND day = ?',
  );
  const log = db.prepare<[string, number, number, string, number, number]>(
    'INSERT INTO archive_log (dataset, day, part, file, rows, archived_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  for (const source of SOURCES) {
    const days = db.prepare<[number], { day: number }>(source.days).all(cutoff);
    if (days.length === 0) continue;
    const folder = join(config.dir, source.dataset);
    mkdirSync(folder, { recursive: true });
    for (const { day } of days) {
      const last = lastPart.get(source.dataset, day)?.part ?? null;
      const part = last === null ? 0 : last + 1;
      const file = archiveFileName(config.dir, source.dataset, day, part, config.gzip);
      const rows = writeDay(db, source.rows, day, file, config.gzip);
      fsyncPath(folder);
      config.onArchived?.(file, rows);
      log.run(source.dataset, day, part, file, rows, now);
    }
  }
  return cutoff;
}
