/**
 * The store on a real SQLite file with an injected clock: minute digests merged,
 * rolled up to hours, dropped past retention; batch ids remembered with an age and a
 * bound; counter totals turned into increases; all-or-nothing writes; keys hashed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { ManualClock, TDigest, type TDigestJSON } from '@prsm/core';
import type {
  RestBatchBody,
  RestDistributionMetric,
  RestMetric,
  RestSource,
  RestSubWindow,
} from '@prsm/exporters/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { InputError } from '../errors.js';
import { tempDir } from '../test-support.js';
import { SCHEMA_SQL } from './schema.js';
import { openStore, type MonitorStore } from './store.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 0, 15, 14, 5, 0);

let tmp: ReturnType<typeof tempDir>;
let clock: ManualClock;
let store: MonitorStore;

beforeEach(() => {
  tmp = tempDir();
  clock = new ManualClock(T0);
  store = openStore(join(tmp.dir, 's.db'), {
    clock,
    rollupAfterMs: HOUR,
    retentionMs: 2 * DAY,
    traceRetentionMs: DAY,
    batchIdTtlMs: 10 * MIN,
    maxBatchIds: 3,
  });
});
afterEach(() => {
  store.close();
  tmp.remove();
});

function seriesId(name: string): number {
  const s = store.latestSeries().find((x) => x.name === name);
  expect(s, name).toBeDefined();
  return s!.id;
}

function counterMetric(name: string, total: number): RestMetric {
  return {
    metric_name: name,
    component: 'c',
    tags: {},
    labels: {},
    timestamp: new Date(clock.now()).toISOString(),
    metric_type: 'counter',
    value: total,
    windows: [],
  };
}

function batch(id: string, metrics: RestMetric[] = [], source?: RestSource): RestBatchBody {
  return {
    batch_id: id,
    ...(source !== undefined && { source }),
    sent_at: new Date(clock.now()).toISOString(),
    metrics,
    traces: [],
    alerts: [],
  };
}

const source = (instance: string, service = 'checkout'): RestSource => ({
  instance_id: instance,
  resource: { 'service.name': service, 'service.version': '1.2.3' },
});

/** A sub-window of the given samples (one centroid each), as the exporter encodes it. */
function subWindow(start: number, values: readonly number[], errors = 0): RestSubWindow {
  const sorted = [...values].sort((a, b) => a - b);
  const pairs = new Float32Array(sorted.flatMap((v) => [v, 1]));
  return {
    start_time: new Date(start).toISOString(),
    seconds: 60,
    partial: false,
    count: sorted.length,
    sum: sorted.reduce((a, b) => a + b, 0),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    error_count: errors,
    centroids: Buffer.from(pairs.buffer).toString('base64'),
  };
}

/** A timer of the new exporter: sub-windows, no window quantiles, misleading totals. */
function timerMetric(name: string, subWindows: RestSubWindow[]): RestDistributionMetric {
  return {
    metric_name: name,
    component: 'c',
    tags: {},
    labels: {},
    timestamp: new Date(clock.now()).toISOString(),
    metric_type: 'timer',
    value: 1,
    unit: 'ms',
    // Cumulative fields and windows a sub-window metric must not be counted from.
    count: 1_000_000,
    sum: 1_000_000,
    windows: [
      {
        window_seconds: 60,
        count: 999,
        sum: 999,
        error_rate: 1,
        per_second: 1,
        quantiles: { p50: -1, p99: -1 },
      },
    ],
    sub_windows: subWindows,
  };
}

describe('histograms as mergeable digests per series per minute', () => {
  it('merges samples of the same minute into one row and rolls minutes up to hours', () => {
    const samples = (
      from: number,
      to: number,
    ): { name: string; value: number; metric_type: 'timer' }[] =>
      Array.from({ length: to - from + 1 }, (_, i) => ({
        name: 'lat',
        value: from + i,
        metric_type: 'timer',
      }));
    store.ingestMetrics(samples(1, 50));
    store.ingestMetrics(samples(51, 100)); // same minute: merged into the same row
    clock.advance(MIN);
    store.ingestMetrics(samples(101, 200));
    const id = seriesId('lat');
    let points = store.points(id);
    expect(points.map((p) => [p.resolution, p.bucket - T0, p.count])).toEqual([
      [60, 0, 100],
      [60, MIN, 100],
    ]);
    expect(points[0]!.digest!.count).toBe(100);
    expect(points[0]!.min).toBe(1);
    expect(points[0]!.max).toBe(100);

    // Not old enough yet.
    expect(store.compact(T0 + 30 * MIN).rolledUp).toBe(0);
    const result = store.compact(T0 + 2 * HOUR);
    expect(result.rolledUp).toBe(2);
    points = store.points(id);
    expect(points).toHaveLength(1);
    const hour = points[0]!;
    expect(hour.resolution).toBe(3600);
    expect(hour.bucket).toBe(Date.UTC(2024, 0, 15, 14, 0, 0));
    expect(hour.count).toBe(200);
    expect(hour.sum).toBe((200 * 201) / 2);
    expect([hour.min, hour.max]).toEqual([1, 200]);
    const digest = TDigest.fromJSON(hour.digest as TDigestJSON);
    expect(digest.count).toBe(200);
    expect(digest.quantile(0.5)).toBeGreaterThan(95);
    expect(digest.quantile(0.5)).toBeLessThan(106);
    expect(digest.quantile(0.99)).toBeGreaterThan(195);

    // A late minute of the same hour merges into the existing hour row.
    clock.set(T0 + 10 * MIN);
    store.ingestMetrics([{ name: 'lat', value: 1000, metric_type: 'timer' }]);
    store.compact(T0 + 3 * HOUR);
    const merged = store.points(id);
    expect(merged).toHaveLength(1);
    expect(merged[0]!.count).toBe(201);
    expect(merged[0]!.max).toBe(1000);
    expect((merged[0]!.digest as TDigestJSON).count).toBe(201);
  });

  it('drops points, series, spans and batch ids past their retention', () => {
    store.ingestMetrics([{ name: 'g', value: 1, metric_type: 'gauge' }]);
    store.ingestSpans([
      {
        trace_id: 'a'.repeat(32),
        span_id: 'b'.repeat(16),
        name: 'op',
        start_time: new Date(T0).toISOString(),
        end_time: new Date(T0 + 5).toISOString(),
        duration_ms: 5,
        status: 'success',
        attributes: {},
      },
    ]);
    store.recordBusinessMetric({ metric_name: 'mrr', value: 1 });
    const before = store.counts();
    expect(before).toMatchObject({ series: 1, points: 1, spans: 1, business_metrics: 1 });
    store.compact(T0 + DAY + 1);
    expect(store.counts()).toMatchObject({ series: 1, points: 1, spans: 0, business_metrics: 1 });
    const result = store.compact(T0 + 2 * DAY + 1);
    expect(result.dropped).toBeGreaterThanOrEqual(3);
    expect(store.counts()).toMatchObject({ series: 0, points: 0, business_metrics: 0 });
  });

  it('rejects a non-finite compaction time with a TypeError', () => {
    expect(() => store.compact(NaN)).toThrow(TypeError);
  });
});

describe('batches', () => {
  it('turns counter totals into per-minute increases, a lower total being a restart', () => {
    store.ingestBatch(batch('b1', [counterMetric('reqs', 10)]));
    store.ingestBatch(batch('b2', [counterMetric('reqs', 15)]));
    clock.advance(MIN);
    store.ingestBatch(batch('b3', [counterMetric('reqs', 3)]));
    const id = seriesId('reqs');
    expect(store.points(id).map((p) => p.sum)).toEqual([15, 3]);
    expect(store.latestSeries().find((s) => s.id === id)!.value).toBe(3);
  });

  it('drops a duplicate id, forgets it after its age, and keeps at most maxBatchIds', () => {
    expect(store.ingestBatch(batch('x', [counterMetric('n', 1)])).duplicate).toBe(false);
    expect(store.ingestBatch(batch('x', [counterMetric('n', 1)]))).toEqual({
      duplicate: true,
      metrics: 0,
      traces: 0,
      alerts: 0,
    });
    clock.advance(11 * MIN);
    store.compact(clock.now());
    expect(store.ingestBatch(batch('x')).duplicate).toBe(false);
    for (const id of ['y1', 'y2', 'y3', 'y4']) {
      clock.advance(1);
      store.ingestBatch(batch(id));
    }
    store.compact(clock.now());
    expect(store.counts()['batches']).toBe(3);
    expect(store.ingestBatch(batch('y4')).duplicate).toBe(true);
    expect(store.ingestBatch(batch('x')).duplicate).toBe(false);
  });

  it('stores nothing of a batch with a type conflict, its id included', () => {
    store.ingestMetrics([{ name: 'g', value: 1, metric_type: 'gauge', component: 'c' }]);
    const before = store.counts();
    let error: unknown;
    try {
      store.ingestBatch(batch('bad', [counterMetric('fresh', 1), counterMetric('g', 1)]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ status: 409, field: 'metrics[1].metric_type' });
    expect(store.counts()).toEqual(before);
    expect(store.ingestBatch(batch('bad')).duplicate).toBe(false);
  });
});

describe('batches with sources and sub-windows', () => {
  it("merges each sub-window's digest into its minute, across processes, counted exactly once", () => {
    const a = Array.from({ length: 200 }, (_, i) => i + 1); // 1..200
    const b = Array.from({ length: 100 }, (_, i) => 1000 + i * 10); // 1000..1990
    const later = [5, 6, 7];
    store.ingestBatch(
      batch(
        'a1',
        [timerMetric('lat', [subWindow(T0, a, 3), subWindow(T0 + MIN, later)])],
        source('A'),
      ),
    );
    // Another process, same series, same minute: merged, not replacing.
    store.ingestBatch(
      batch('b1', [timerMetric('lat', [subWindow(T0 + 20_000, b, 1)])], source('B')),
    );
    // A retry of a batch already stored merges nothing.
    expect(
      store.ingestBatch(
        batch('b1', [timerMetric('lat', [subWindow(T0 + 20_000, b, 1)])], source('B')),
      ).duplicate,
    ).toBe(true);
    // An export with no closed sub-window writes no point.
    store.ingestBatch(batch('b2', [timerMetric('lat', [])], source('B')));
    const id = seriesId('lat');
    const points = store.points(id);
    expect(points.map((p) => [p.bucket - T0, p.count, p.sum, p.min, p.max])).toEqual([
      [0, 300, (200 * 201) / 2 + b.reduce((x, y) => x + y, 0), 1, 1990],
      [MIN, 3, 18, 5, 7],
    ]);
    const digest = TDigest.fromJSON(points[0]!.digest as TDigestJSON);
    expect(digest.count).toBe(300);
    const exact = new TDigest();
    for (const v of [...a, ...b]) exact.add(v);
    for (const q of [0.5, 0.9, 0.99]) {
      expect(digest.quantile(q)).toBeCloseTo(exact.quantile(q), 0);
    }
    // Errors exact, per minute (not the windows' error_rate of 1).
    expect(store.componentCalls('c', T0)).toEqual({ series: 1, count: 303, errors: 4, first: T0 });
    expect(store.windowPoints('lat', 'c', T0).map((p) => p.errors)).toEqual([4, 0]);
    // The series: samples from the sub-windows (not 1,000,000), quantiles of the latest minute.
    const s = store.latestSeries().find((x) => x.id === id)!;
    expect([s.count, s.sum]).toEqual([303, points[0]!.sum + 18]);
    expect(s.value).toBeCloseTo(s.sum / 303, 9);
    expect(s.quantiles['p50']).toBe(6);
    // A late sub-window of an older minute leaves the latest quantiles alone.
    store.ingestBatch(batch('c1', [timerMetric('lat', [subWindow(T0, [3000])])], source('C')));
    expect(store.latestSeries().find((x) => x.id === id)!.quantiles['p50']).toBe(6);
    expect(store.points(id)[0]!.max).toBe(3000);
    // Rolled up to the hour, still one digest of every sample.
    store.compact(T0 + 3 * HOUR);
    const hour = store.points(id);
    expect(hour.map((p) => [p.resolution, p.count])).toEqual([[3600, 304]]);
    expect((hour[0]!.digest as TDigestJSON).count).toBe(304);
  });

  it('samples and sub-windows of the current minute share its digest (the ingest cache included)', async () => {
    store.ingestMetrics([{ name: 'lat', value: 10, metric_type: 'timer', component: 'c' }]);
    // Without a source: no service, the series of POST /metrics.
    store.ingestBatch(batch('mix', [timerMetric('lat', [subWindow(T0, [1, 2, 3])])]));
    await store.ingestMetricsGrouped([
      { name: 'lat', value: 20, metric_type: 'timer', component: 'c' },
    ]);
    const [point] = store.points(seriesId('lat'));
    expect([point!.count, point!.sum, point!.min, point!.max]).toEqual([5, 36, 1, 20]);
    expect((point!.digest as TDigestJSON).count).toBe(5);
    // A service's batch is that service's series (schema version 4): the one above is untouched.
    store.ingestBatch(batch('svc', [timerMetric('lat', [subWindow(T0, [7, 8])])], source('A')));
    const rows = store.latestSeries().filter((x) => x.name === 'lat');
    expect(rows.map((x) => [x.service, x.count])).toEqual([
      ['', 5],
      ['checkout', 2],
    ]);
    expect(store.points(seriesId('lat'))[0]!.count).toBe(5);
  });

  it('a sub-window longer than a minute goes to its first minute; a 10 s one to its own', () => {
    store.ingestBatch(
      batch('long', [
        timerMetric('lat', [
          { ...subWindow(T0 + 30_000, [1, 2]), seconds: 300 },
          { ...subWindow(T0 + 2 * MIN + 50_000, [9]), seconds: 10, partial: true },
        ]),
      ]),
    );
    expect(store.points(seriesId('lat')).map((p) => [p.bucket - T0, p.count])).toEqual([
      [0, 2],
      [2 * MIN, 1],
    ]);
  });

  it('keeps counter totals per process: two processes add up, a restart of one counts from zero', () => {
    store.ingestBatch(batch('1', [counterMetric('reqs', 10)], source('A')));
    store.ingestBatch(batch('2', [counterMetric('reqs', 4)], source('B'))); // not a restart of A
    store.ingestBatch(batch('3', [counterMetric('reqs', 15)], source('A')));
    store.ingestBatch(batch('4', [counterMetric('reqs', 6)], source('B')));
    clock.advance(MIN);
    store.ingestBatch(batch('5', [counterMetric('reqs', 2)], source('A'))); // A restarted
    store.ingestBatch(batch('5', [counterMetric('reqs', 99)], source('A'))); // a retry: ignored
    const id = seriesId('reqs');
    expect(store.points(id).map((p) => p.sum)).toEqual([21, 2]);
    expect(store.latestSeries().find((s) => s.id === id)!.value).toBe(23);
    // The processes and their service names.
    expect(store.sources().map((s) => [s.instance_id, s.service_name])).toEqual([
      ['A', 'checkout'],
      ['B', 'checkout'],
    ]);
    expect(store.sources()[0]!.resource).toEqual({
      'service.name': 'checkout',
      'service.version': '1.2.3',
    });
    // Forgotten past retention, with the series.
    store.compact(T0 + 3 * DAY);
    expect(store.counts()).toMatchObject({ sources: 0, source_totals: 0, series: 0 });
  });

  it('keeps histogram totals per process for sub-window-less batches (older exporters)', () => {
    const old = (count: number, sum: number): RestMetric => ({
      ...timerMetric('lat', []),
      count,
      sum,
      windows: [],
      sub_windows: undefined,
    });
    store.ingestBatch(batch('1', [old(10, 100)], source('A')));
    store.ingestBatch(batch('2', [old(5, 50)], source('B')));
    store.ingestBatch(batch('3', [old(12, 120)], source('A')));
    const s = store.latestSeries().find((x) => x.name === 'lat')!;
    expect([s.count, s.sum, s.value]).toEqual([17, 170, 10]);
  });

  it('refuses a sub-window that does not check out, naming the field, storing nothing', () => {
    const good = subWindow(T0, [1, 2, 3]);
    const pairs = (...numbers: number[]): string =>
      Buffer.from(new Float32Array(numbers).buffer).toString('base64');
    const cases: [Partial<RestSubWindow>, string, string][] = [
      [{ seconds: 0 }, 'seconds', 'out_of_range'],
      [{ min: 5, max: 4 }, 'min', 'out_of_range'],
      [{ error_count: 4 }, 'error_count', 'out_of_range'],
      [{ centroids: 'AAAA' }, 'centroids', 'invalid_length'],
      [{ centroids: 'not base64!' }, 'centroids', 'invalid_format'],
      [{ count: 4 }, 'centroids', 'invalid_value'],
      [{ centroids: pairs(2, 1, 1, 2) }, 'centroids', 'invalid_value'],
      [{ count: 1, centroids: pairs(2, -1, 3, 2) }, 'centroids', 'invalid_value'],
      [{ count: 1, centroids: pairs(50, 1) }, 'centroids', 'invalid_value'],
      [{ count: 1, centroids: pairs(NaN, 1) }, 'centroids', 'invalid_value'],
    ];
    const before = store.counts();
    for (const [patch, field, code] of cases) {
      let error: unknown;
      try {
        store.ingestBatch(
          batch('bad', [
            timerMetric('ok', [good]),
            timerMetric('lat', [good, { ...good, ...patch }]),
          ]),
        );
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(InputError);
      expect(error).toMatchObject({
        status: 400,
        code,
        field: `metrics[1].sub_windows[1].${field}`,
      });
    }
    expect(store.counts()).toEqual(before);
  });
});

describe('keys', () => {
  it('stores only the SHA-256 of a key; finds, lists and revokes it', () => {
    const created = store.createKey('ingest');
    expect(created.key).toMatch(/^prsm_[A-Za-z0-9_-]{43}$/);
    expect(store.findKey(created.key)).toMatchObject({
      id: created.id,
      role: 'ingest',
      revoked_at: null,
    });
    expect(store.findKey(`${created.key}x`)).toBeUndefined();
    expect(JSON.stringify(store.listKeys())).not.toContain(created.key);
    expect(store.revokeKey(created.id)).toBe('revoked');
    expect(store.revokeKey(created.id)).toBe('already');
    expect(store.revokeKey('key_nope')).toBe('unknown');
    expect(store.findKey(created.key)!.revoked_at).toBe(T0);
    store.close();
    const file = join(tmp.dir, 's.db');
    const bytes = [file, `${file}-wal`]
      .filter(existsSync)
      .map((f) => readFileSync(f).toString('latin1'));
    expect(bytes.join('')).not.toContain(created.key.slice(5));
    store = openStore(file, { clock });
  });

  it('rejects an unknown role and bad options with a TypeError', () => {
    expect(() => store.createKey('root' as 'admin')).toThrow(TypeError);
    expect(() => openStore(join(tmp.dir, 'x.db'), { retentionMs: -1 })).toThrow(/retentionMs/);
    expect(() => openStore('')).toThrow(TypeError);
  });
});

describe('schema migration', () => {
  it('a version-1 file gains points.errors, alert_events.origin and the source tables, keeping its rows', () => {
    const file = join(tmp.dir, 'v1.db');
    const v1 = new Database(file);
    // Version 1's DDL: today's without the columns and tables added since.
    v1.exec(
      SCHEMA_SQL.replace('  errors REAL NOT NULL DEFAULT 0,\n', '')
        .replace("  origin TEXT NOT NULL DEFAULT 'client',\n", '')
        .replace(/CREATE INDEX IF NOT EXISTS alert_events_origin[^;]*;/, '')
        .replace(/CREATE TABLE IF NOT EXISTS alert_state \([^;]*;/, '')
        .replace(/CREATE (TABLE|INDEX) IF NOT EXISTS (source_totals|sources)[^;]*;/g, '')
        .replace("  service TEXT NOT NULL DEFAULT '',\n", '')
        .replace('UNIQUE (name, component, tags, service)', 'UNIQUE (name, component, tags)'),
    );
    v1.exec(
      `INSERT INTO meta VALUES ('schema_version', '1');
       INSERT INTO alert_events (alert_id, rule_id, name, severity, component, event, at, received_at)
       VALUES ('a', 'r', 'n', 'high', 'c', 'firing', ${T0}, ${T0});`,
    );
    expect(
      v1.prepare("SELECT * FROM pragma_table_info('points') WHERE name = 'errors'").all(),
    ).toEqual([]);
    v1.close();
    const migrated = openStore(file, { clock });
    try {
      expect(migrated.alertEvents()).toHaveLength(1);
      migrated.ingestMetrics([{ name: 't', value: 5, metric_type: 'timer', error: true }]);
      expect(migrated.componentCalls('default', 0)).toEqual({
        series: 1,
        count: 1,
        errors: 1,
        first: T0 - (T0 % MIN),
      });
      // The source tables exist: a batch with a source is stored.
      migrated.ingestBatch(batch('m1', [counterMetric('n', 2)], source('A')));
      expect(migrated.counts()).toMatchObject({ sources: 1, source_totals: 1 });
    } finally {
      migrated.close();
    }
    const after = new Database(file, { readonly: true });
    expect(
      after
        .prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
        .get()!.value,
    ).toBe('4');
    after.close();
  });
});

describe('schema migration to version 4 (series keyed by service)', () => {
  /** Version 3's file: its `series` keyed by name, component and tags; its `source_series`. */
  function v3File(file: string): void {
    const v3 = new Database(file);
    v3.exec(
      SCHEMA_SQL.replace("  service TEXT NOT NULL DEFAULT '',\n", '').replace(
        'UNIQUE (name, component, tags, service)',
        'UNIQUE (name, component, tags)',
      ) +
        `CREATE TABLE source_series (
           instance_id TEXT NOT NULL, series_id INTEGER NOT NULL, service_name TEXT NOT NULL,
           last_value REAL, last_seen INTEGER NOT NULL, PRIMARY KEY (instance_id, series_id)
         ) WITHOUT ROWID;
         CREATE INDEX source_series_service ON source_series (service_name, series_id);
         INSERT INTO meta VALUES ('schema_version', '3');`,
    );
    const digest = (values: number[]): string => {
      const d = new TDigest();
      for (const v of values) d.add(v);
      return JSON.stringify(d.toJSON());
    };
    const series = v3.prepare(
      `INSERT INTO series (id, name, component, tags, metric_type, unit, labels, value, count, sum, updated_at)
       VALUES (?, ?, 'c', '{}', ?, ?, '{}', ?, ?, ?, ${T0})`,
    );
    const point = v3.prepare(
      `INSERT INTO points (series_id, resolution, bucket, count, sum, min, max, last, digest, errors)
       VALUES (?, 60, ${T0}, ?, ?, ?, ?, ?, ?, 0)`,
    );
    const reported = v3.prepare(
      `INSERT INTO source_series (instance_id, series_id, service_name, last_seen) VALUES (?, ?, ?, ${T0})`,
    );
    // 7: two services sent it (their samples share its rows); 8: one service; 9: no source.
    series.run(7, 'shared.op', 'timer', 'ms', 3, 3, 9);
    point.run(7, 3, 9, 1, 5, 5, digest([1, 3, 5]));
    reported.run('A', 7, 'checkout');
    reported.run('B', 7, 'billing');
    series.run(8, 'api.latency', 'timer', 'ms', 2, 2, 4);
    point.run(8, 2, 4, 1, 3, 3, digest([1, 3]));
    reported.run('A', 8, 'checkout');
    reported.run('C', 8, 'checkout');
    series.run(9, 'orders', 'counter', '', 4, 1, 4);
    point.run(9, 1, 4, 4, 4, 4, null);
    v3.prepare(
      `INSERT INTO sources (instance_id, service_name, resource, first_seen, last_seen)
       VALUES (?, ?, '{}', ${T0}, ${T0})`,
    ).run('A', 'checkout');
    v3.close();
  }

  const timer = (name: string, values: number[]): RestMetric =>
    timerMetric(name, [subWindow(T0, values)]);

  it('a version-3 file keeps every row and id; a series gets the one service that sent it, else none', () => {
    const file = join(tmp.dir, 'v3.db');
    v3File(file);
    const raw = new Database(file, { readonly: true });
    const before = {
      points: raw.prepare('SELECT * FROM points ORDER BY series_id').all(),
      series: raw.prepare('SELECT * FROM series ORDER BY id').all() as Record<string, unknown>[],
    };
    raw.close();
    const migrated = openStore(file, { clock });
    try {
      expect(migrated.latestSeries().map((s) => [s.id, s.name, s.service])).toEqual([
        [8, 'api.latency', 'checkout'],
        [9, 'orders', ''],
        [7, 'shared.op', ''],
      ]);
      expect(migrated.counts()).toMatchObject({ series: 3, points: 3, sources: 1 });
      // The fleet reads what it read before: every sample of the component.
      expect(migrated.readCallTotals(T0, 'c', null)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ metric_type: 'timer', count: 5, sum: 13 }),
          expect.objectContaining({ metric_type: 'counter', count: 1, sum: 4 }),
        ]),
      );
      // New data of checkout continues its own series, and starts one for the shared name.
      migrated.ingestBatch(
        batch('n1', [timer('api.latency', [7]), timer('shared.op', [2, 4])], source('A')),
      );
      const after = migrated.latestSeries();
      expect(after.filter((s) => s.name === 'api.latency').map((s) => [s.id, s.count])).toEqual([
        [8, 3],
      ]);
      expect(after.filter((s) => s.name === 'shared.op').map((s) => [s.service, s.count])).toEqual([
        ['', 3],
        ['checkout', 2],
      ]);
      const checkout = migrated.readCallTotals(T0, 'c', 'checkout');
      expect(checkout).toEqual([expect.objectContaining({ metric_type: 'timer', count: 5 })]);
      expect(migrated.readCallTotals(T0, 'c', null)).toEqual(
        expect.arrayContaining([expect.objectContaining({ metric_type: 'timer', count: 8 })]),
      );
    } finally {
      migrated.close();
    }
    const check = new Database(file, { readonly: true });
    try {
      expect(
        check
          .prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
          .get()!.value,
      ).toBe('4');
      // The rows no later write touched, as they were (and the new column); their minute rows too.
      const series = check
        .prepare('SELECT * FROM series WHERE id IN (7, 9) ORDER BY id')
        .all() as Record<string, unknown>[];
      expect(series).toEqual([
        { ...before.series[0], service: '' },
        { ...before.series[2], service: '' },
      ]);
      expect(
        check.prepare('SELECT * FROM points WHERE series_id IN (7, 9) ORDER BY series_id').all(),
      ).toEqual([before.points[0], before.points[2]]);
    } finally {
      check.close();
    }
    // Opened again: already version 4, nothing rebuilt or changed.
    const again = openStore(file, { clock });
    try {
      expect(again.latestSeries()).toHaveLength(4);
    } finally {
      again.close();
    }
  });
});

describe("the reads' minute cache (GET /health and GET /analytics after a write)", () => {
  /** What a store opened afresh on the same file reads: SQL only, nothing kept. */
  function fromSql<T>(read: (s: MonitorStore) => T): T {
    const fresh = openStore(join(tmp.dir, 's.db'), { clock });
    try {
      return read(fresh);
    } finally {
      fresh.close();
    }
  }
  const totals = (s: MonitorStore, from: number, service: string | null): unknown[] =>
    s
      .readCallTotals(from, null, service)
      .map((t) => ({ ...t }))
      .sort((a, b) =>
        `${a.component}${a.metric_type}`.localeCompare(`${b.component}${b.metric_type}`),
      );
  const rows = (s: MonitorStore, from: number, service: string | null): unknown[] =>
    s
      .readComponentPoints('c', from, service, false)
      .map((r) => ({ ...r, service: undefined }))
      .sort((a, b) => a.series_id - b.series_id || a.bucket - b.bucket);

  it('after writes of every kind, the kept totals and rows are what SQL reads', async () => {
    const from = T0 - 10 * MIN;
    // Loaded once (nothing yet), then kept up to date by the writes below.
    expect(totals(store, from, null)).toEqual([]);
    expect(rows(store, from, null)).toEqual([]);
    store.ingestMetrics([
      { name: 'lat', value: 5, metric_type: 'timer', component: 'c', error: true },
      { name: 'orders', value: 2, metric_type: 'counter', component: 'c' },
      { name: 'level', value: 7, metric_type: 'gauge', component: 'c' },
      { name: 'prsm.self', value: 1, metric_type: 'timer', component: 'c' },
    ]);
    await store.ingestMetricsGrouped([
      { name: 'lat', value: 9, metric_type: 'timer', component: 'c', tags: { operation: 'op' } },
    ]);
    store.ingestBatch(
      batch(
        'k1',
        [
          timerMetric('lat', [subWindow(T0, [1, 2]), subWindow(T0 - 3 * MIN, [4], 1)]),
          counterMetric('orders', 10),
        ],
        source('A'),
      ),
    );
    store.ingestBatch(batch('k2', [counterMetric('orders', 16)], source('A', 'billing')));
    clock.advance(MIN); // a new minute, and a late sub-window of an old one
    store.ingestBatch(
      batch(
        'k3',
        [timerMetric('lat', [subWindow(T0 + MIN, [3]), subWindow(T0 - 5 * MIN, [8])])],
        source('B'),
      ),
    );
    store.ingestBatch(batch('k3', [timerMetric('lat', [subWindow(T0 + MIN, [3])])], source('B'))); // retried: nothing
    for (const service of [null, 'checkout', 'billing']) {
      const kept = totals(store, from, service);
      expect(kept, String(service)).toEqual(fromSql((s) => totals(s, from, service)));
      expect(rows(store, from, service), String(service)).toEqual(
        fromSql((s) => rows(s, from, service)),
      );
    }
    expect(totals(store, from, null)).toEqual(
      expect.arrayContaining([
        { component: 'c', metric_type: 'timer', count: 7, sum: 32, errors: 2, first: T0 - 5 * MIN },
      ]),
    );
    // A later start reads a part of what is kept; an earlier one loads the rest once.
    expect(totals(store, T0, null)).toEqual(fromSql((s) => totals(s, T0, null)));
    expect(totals(store, T0 - 60 * MIN, null)).toEqual(
      fromSql((s) => totals(s, T0 - 60 * MIN, null)),
    );
    // Compaction rolls the old minutes up: they leave the kept totals as they leave SQL.
    store.compact(T0 + 2 * HOUR);
    expect(totals(store, from, null)).toEqual(fromSql((s) => totals(s, from, null)));
    expect(totals(store, from, null)).toEqual([]);
  });

  it("the digests a batch wrote are kept parsed for the reads, the row's own", () => {
    store.ingestBatch(batch('d1', [timerMetric('lat', [subWindow(T0, [1, 2, 3])])], source('A')));
    store.ingestBatch(batch('d2', [timerMetric('lat', [subWindow(T0, [10, 20])])], source('B')));
    const id = seriesId('lat');
    const kept = store.readParsedDigest(id, T0, 5)!;
    expect(kept.toJSON()).toEqual(store.points(id)[0]!.digest);
    // Another count: not the row as it is now.
    expect(store.readParsedDigest(id, T0, 3)).toBeUndefined();
  });
});

describe('group commit of batches (ingestBatchGrouped)', () => {
  it('batches of one turn share a transaction; a bad one fails alone and stores nothing', async () => {
    const good = Array.from({ length: 8 }, (_, i) =>
      store.ingestBatchGrouped(
        batch(
          `g${i}`,
          [timerMetric('lat', [subWindow(T0, [i + 1, i + 2])]), counterMetric('n', i + 1)],
          source(`I${i}`),
        ),
      ),
    );
    // A sub-window whose min is above its max, and a type conflict with a good neighbour.
    const bad = [
      store.ingestBatchGrouped(
        batch(
          'bad1',
          [timerMetric('lat', [{ ...subWindow(T0, [1]), min: 9, max: 1 }])],
          source('X'),
        ),
      ),
      store.ingestBatchGrouped(batch('bad2', [{ ...counterMetric('lat', 1) }], source('Y'))),
    ];
    const again = store.ingestBatchGrouped(batch('g0', [counterMetric('n', 100)], source('I0')));
    const settled = await Promise.allSettled([...good, ...bad, again]);
    expect(settled.slice(0, 8).map((r) => r.status)).toEqual(Array(8).fill('fulfilled'));
    for (const r of settled.slice(8, 10)) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(InputError);
    }
    // A retry in the same group is a duplicate of its stored first.
    expect(settled[10]).toEqual({
      status: 'fulfilled',
      value: { duplicate: true, metrics: 0, traces: 0, alerts: 0 },
    });
    const lat = store.latestSeries().find((x) => x.name === 'lat')!;
    expect(lat.count).toBe(16);
    const n = store.latestSeries().find((x) => x.name === 'n')!;
    expect(n.value).toBe(36);
    // The bad batches stored nothing: no batch id, no source.
    expect(store.counts()).toMatchObject({ batches: 8, sources: 8 });
  });

  it('a closed store rejects the whole group', async () => {
    const pending = store.ingestBatchGrouped(batch('c1', [counterMetric('n', 1)]));
    store.close();
    await expect(pending).rejects.toThrow(/closed/);
    store = openStore(join(tmp.dir, 's.db'), { clock });
    expect(store.counts()).toMatchObject({ batches: 0, series: 0 });
  });
});

describe('group commit (ingestMetricsGrouped)', () => {
  it('requests of one turn share a transaction, sums exact, digests merged; a bad one fails alone', async () => {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      writes.push(
        store.ingestMetricsGrouped([
          { name: 'orders', value: 2, metric_type: 'counter', component: 'shop' },
          { name: 'lat', value: i * 10, metric_type: 'timer', component: 'shop', error: i < 3 },
        ]),
      );
    }
    // A new series typed by an earlier request of the same group: 409, synchronously.
    writes.push(store.ingestMetricsGrouped([{ name: 'fresh', value: 1, metric_type: 'gauge' }]));
    expect(() =>
      store.ingestMetricsGrouped([{ name: 'fresh', value: 1, metric_type: 'counter' }]),
    ).toThrow(
      expect.objectContaining({
        status: 409,
        code: 'type_conflict',
        field: 'metrics[0].metric_type',
      }) as Error,
    );
    expect(() =>
      store.ingestMetricsGrouped([
        { name: 'orders', value: -1, metric_type: 'counter', component: 'shop' },
      ]),
    ).toThrow(InputError);
    // A REST batch in the same turn may not create that series with another type.
    expect(() =>
      store.ingestBatch({
        batch_id: 'b-fresh',
        sent_at: new Date(T0).toISOString(),
        metrics: [
          {
            metric_name: 'fresh',
            metric_type: 'counter',
            component: 'default',
            tags: {},
            labels: {},
            timestamp: new Date(T0).toISOString(),
            value: 1,
            windows: [],
          },
        ],
        traces: [],
        alerts: [],
      }),
    ).toThrow(expect.objectContaining({ status: 409, field: 'metrics[0].metric_type' }) as Error);
    // Nothing is written before the turn ends.
    expect(store.counts()['series']).toBe(0);
    await Promise.all(writes);
    const series = new Map(store.latestSeries().map((s) => [s.name, s]));
    expect(series.get('orders')).toMatchObject({ value: 20, count: 10, sum: 20 });
    expect(series.get('fresh')).toMatchObject({ metric_type: 'gauge', value: 1 });
    const lat = series.get('lat')!;
    expect(lat).toMatchObject({ count: 10, sum: 450, value: 45 });
    const [point] = store.points(lat.id);
    expect(point).toMatchObject({ count: 10, sum: 450, min: 0, max: 90, resolution: 60 });
    expect(TDigest.fromJSON(point!.digest!).count).toBe(10);
    expect(store.componentCalls('shop', 0)).toMatchObject({ count: 10, errors: 3 });
    const [ordersPoint] = store.points(series.get('orders')!.id);
    expect(ordersPoint).toMatchObject({ count: 10, sum: 20, last: 20 });

    // The next turn adds to the same minute row and digest.
    await store.ingestMetricsGrouped([
      { name: 'lat', value: 1000, metric_type: 'timer', component: 'shop' },
    ]);
    const [after] = store.points(lat.id);
    expect(after).toMatchObject({ count: 11, max: 1000 });
    expect(TDigest.fromJSON(after!.digest!).count).toBe(11);
  });

  it('a closed store rejects the waiting requests', async () => {
    const pending = store.ingestMetricsGrouped([{ name: 'x', value: 1, metric_type: 'gauge' }]);
    store.close();
    await expect(pending).rejects.toThrow(/closed/);
    store = openStore(join(tmp.dir, 's.db'), { clock });
  });
});

describe("health's count of what was measured (readCollected)", () => {
  /** The same sum straight from the file, through a second connection. */
  function fromFile(service: string | null): number {
    const db = new Database(join(tmp.dir, 's.db'), { readonly: true });
    try {
      const row = db
        .prepare(
          `SELECT SUM(CASE metric_type WHEN 'counter' THEN value WHEN 'gauge' THEN 0 ELSE count END) AS n
           FROM series WHERE component != 'system' AND name NOT LIKE 'prsm.%'
           ${service === null ? '' : 'AND service = ?'}`,
        )
        .get(...(service === null ? [] : [service])) as { n: number | null };
      return row.n ?? 0;
    } finally {
      db.close();
    }
  }

  it('is kept up to date by every kind of write, per service, as the file has it', () => {
    const check = (): void => {
      for (const service of [null, 'checkout', 'search', '']) {
        expect(store.readCollected('system', service), String(service)).toBe(fromFile(service));
      }
    };
    check(); // loaded from SQL while empty, then kept
    store.ingestMetrics([
      { name: 'orders', value: 3, metric_type: 'counter' },
      { name: 'lat', value: 12, metric_type: 'timer' },
      { name: 'lat', value: 14, metric_type: 'timer' },
      { name: 'pool', value: 9, metric_type: 'gauge' },
      { name: 'prsm.self', value: 5, metric_type: 'counter' },
      { name: 'cpu', value: 50, metric_type: 'counter', component: 'system' },
    ]);
    check();
    const t0 = clock.now();
    store.ingestBatch(
      batch(
        'c1',
        [counterMetric('reqs', 10), timerMetric('db', [subWindow(t0 - MIN, [1, 2, 3])])],
        source('i1'),
      ),
    );
    check();
    // A counter's later total adds its increase; a restart (a lower total) its total.
    store.ingestBatch(batch('c2', [counterMetric('reqs', 25)], source('i1')));
    store.ingestBatch(batch('c3', [counterMetric('reqs', 4)], source('i2', 'search')));
    store.ingestBatch(batch('c4', [counterMetric('reqs', 30)]));
    store.ingestBatch(batch('c5', [counterMetric('reqs', 7)]));
    check();
    store.ingestBatch(batch('c3', [counterMetric('reqs', 400)], source('i2', 'search'))); // a retry
    check();
    expect(store.readCollected('system', null)).toBeGreaterThan(0);
    // Series dropped by retention: read from the file again.
    clock.advance(3 * DAY);
    store.compact(clock.now());
    check();
    store.ingestMetrics([{ name: 'orders', value: 2, metric_type: 'counter' }]);
    check();
  });
});
