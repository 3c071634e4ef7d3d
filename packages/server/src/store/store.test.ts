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
    store.ingestBatch(batch('mix', [timerMetric('lat', [subWindow(T0, [1, 2, 3])])], source('A')));
    await store.ingestMetricsGrouped([
      { name: 'lat', value: 20, metric_type: 'timer', component: 'c' },
    ]);
    const [point] = store.points(seriesId('lat'));
    expect([point!.count, point!.sum, point!.min, point!.max]).toEqual([5, 36, 1, 20]);
    expect((point!.digest as TDigestJSON).count).toBe(5);
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
        .replace(/CREATE (TABLE|INDEX) IF NOT EXISTS (source_totals|sources)[^;]*;/g, ''),
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
    ).toBe('3');
    after.close();
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
