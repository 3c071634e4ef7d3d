/**
 * The SQLite schema of the store, created on open (idempotent). Times are integer
 * milliseconds since the epoch; JSON columns hold canonical JSON (sorted keys for
 * tags, so one tag set is one series). The key-use audit counts requests per key,
 * route, status and minute (with the first and last time), so it grows with the
 * keys and routes used, not with the traffic; `key_id` is empty when no known key
 * was sent. `source_totals` holds the last cumulative total (a counter's, or a
 * histogram's count and sum) each exporting process (`instance_id` of a batch's
 * `source`) reported per series; `sources` the processes seen, with their
 * `service.name`. Version 3 added both tables (created when an older file is opened).
 * Version 4 keys a series by its service too (`series.service`: the `service.name` of
 * the batches' `source`, empty for metrics sent without one), so that a series two
 * services send is two series and `?service=` reads only that service's rows; the
 * instance stays out of the key (its digests are merged into its service's minute
 * rows at ingest; `source_series` remembers which process reported which series).
 * {@link SERIES_V4_MIGRATION} rebuilds the table of an older file, keeping every row
 * and id.
 */

/** The schema version this code writes; stored in `meta`. @internal */
export const SCHEMA_VERSION = 4;

/**
 * Columns added after version 1, added to a file of an older version before
 * {@link SCHEMA_SQL} runs (its indexes may need them). @internal
 */
export const MIGRATIONS: readonly { table: string; column: string; ddl: string }[] = [
  {
    table: 'points',
    column: 'errors',
    ddl: 'ALTER TABLE points ADD COLUMN errors REAL NOT NULL DEFAULT 0',
  },
  {
    table: 'alert_events',
    column: 'origin',
    ddl: "ALTER TABLE alert_events ADD COLUMN origin TEXT NOT NULL DEFAULT 'client'",
  },
];

/**
 * Version 4's rebuild of `series` (SQLite cannot change a UNIQUE constraint in place),
 * run in the open's transaction on a file of an older version. Every row keeps its id
 * (the minute rows and the source tables refer to it); a series gets the service of the
 * processes that reported it when they were all of one service (`source_series`, when
 * the file has it: {@link SERIES_V4_SERVICE_SQL}), else the empty service, where
 * metrics sent without a `source` go, so nothing is split or lost: the fleet reads it
 * as before, and new data of each service goes to that service's series. @internal
 */
/** The series table's columns: the table as created, and as a v4 migration rebuilds it. */
const SERIES_COLUMNS = `  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  component TEXT NOT NULL,
  tags TEXT NOT NULL,
  service TEXT NOT NULL DEFAULT '',
  metric_type TEXT NOT NULL,
  unit TEXT NOT NULL,
  labels TEXT NOT NULL,
  value REAL NOT NULL,
  count REAL NOT NULL,
  sum REAL NOT NULL,
  min REAL,
  max REAL,
  quantiles TEXT,
  updated_at INTEGER NOT NULL,
  UNIQUE (name, component, tags, service)
`;

export const SERIES_V4_MIGRATION = (serviceOf: string): string => `
CREATE TABLE series_v4 (
${SERIES_COLUMNS});
INSERT INTO series_v4 (id, name, component, tags, service, metric_type, unit, labels, value, count,
  sum, min, max, quantiles, updated_at)
SELECT id, name, component, tags, ${serviceOf}, metric_type, unit, labels, value, count, sum, min, max,
  quantiles, updated_at
FROM series;
DROP TABLE series;
ALTER TABLE series_v4 RENAME TO series;
`;

/**
 * The service of an old series in {@link SERIES_V4_MIGRATION}: the one service of the
 * processes that reported it, or empty (none, or several). @internal
 */
export const SERIES_V4_SERVICE_SQL = `COALESCE((SELECT CASE WHEN COUNT(DISTINCT x.service_name) = 1
  THEN MIN(x.service_name) END FROM source_series x WHERE x.series_id = series.id), '')`;

/** DDL run on every open. @internal */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS key_use (
  key_id TEXT NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  status INTEGER NOT NULL,
  minute INTEGER NOT NULL,
  count INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  PRIMARY KEY (key_id, method, route, status, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS key_use_minute ON key_use (minute);
CREATE TABLE IF NOT EXISTS series (
${SERIES_COLUMNS});
CREATE TABLE IF NOT EXISTS points (
  series_id INTEGER NOT NULL,
  resolution INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  count REAL NOT NULL,
  sum REAL NOT NULL,
  min REAL,
  max REAL,
  last REAL NOT NULL,
  digest TEXT,
  quantiles TEXT,
  errors REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (series_id, resolution, bucket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_age ON points (resolution, bucket);
CREATE TABLE IF NOT EXISTS spans (
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  name TEXT NOT NULL,
  start_ms REAL NOT NULL,
  end_ms REAL NOT NULL,
  duration_ms REAL NOT NULL,
  status TEXT NOT NULL,
  status_message TEXT,
  attributes TEXT NOT NULL,
  component TEXT,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spans_age ON spans (received_at);
CREATE TABLE IF NOT EXISTS alert_rules (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  severity TEXT NOT NULL,
  component TEXT NOT NULL,
  condition TEXT NOT NULL,
  threshold REAL,
  duration_seconds INTEGER NOT NULL,
  notification_channels TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  acknowledged_at INTEGER,
  acknowledged_by TEXT
);
CREATE TABLE IF NOT EXISTS alert_events (
  alert_id TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  name TEXT NOT NULL,
  severity TEXT NOT NULL,
  component TEXT NOT NULL,
  event TEXT NOT NULL,
  at INTEGER NOT NULL,
  value REAL,
  by TEXT,
  escalation_step INTEGER,
  received_at INTEGER NOT NULL,
  origin TEXT NOT NULL DEFAULT 'client',
  PRIMARY KEY (alert_id, event, at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_events_origin ON alert_events (origin, at);
CREATE TABLE IF NOT EXISTS alert_state (
  rule_id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  state TEXT NOT NULL,
  active_at INTEGER NOT NULL,
  triggered_at INTEGER,
  value REAL,
  acknowledged_by TEXT,
  acknowledged_at INTEGER,
  notified TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS business_metrics (
  id INTEGER PRIMARY KEY,
  metric_name TEXT NOT NULL,
  value REAL NOT NULL,
  dimension TEXT,
  target REAL,
  metadata TEXT NOT NULL,
  recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS business_metrics_age ON business_metrics (recorded_at);
CREATE INDEX IF NOT EXISTS business_metrics_latest ON business_metrics (metric_name, recorded_at, id);
CREATE TABLE IF NOT EXISTS batches (
  batch_id TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_age ON batches (received_at);
CREATE TABLE IF NOT EXISTS source_totals (
  instance_id TEXT NOT NULL,
  series_id INTEGER NOT NULL,
  total REAL NOT NULL,
  sum REAL NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (instance_id, series_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS source_totals_age ON source_totals (updated_at);
CREATE TABLE IF NOT EXISTS sources (
  instance_id TEXT PRIMARY KEY,
  service_name TEXT NOT NULL,
  resource TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_age ON sources (last_seen);
`;
