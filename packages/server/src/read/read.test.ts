/**
 * `GET /health` and `GET /analytics` of the server as a real child process
 * (`prsm-monitor serve`) on 127.0.0.1 with a real SQLite file: two processes of one
 * service and one of another send REST batches (timer sub-windows with their
 * centroids, resource gauges, network counters), and the answers are checked against
 * what was sent: counts, error rates and means exactly, p99 within the t-digest's
 * error of the exact p99 of every value sent, gauges per process. A service that
 * stopped sending is simulated by writing its last batch time into the file (the
 * server's clock cannot be moved from outside its process).
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createKeyCli, startServerChild, tempDir, type ServerChild } from '../test-support.js';
import type { FleetAnalyticsReport, FleetHealthReport } from './types.js';

let tmp: ReturnType<typeof tempDir>;
let db: string;
let server: ServerChild;
const keys: Record<string, string> = {};
let batchN = 0;

const A = 'a0000000-0000-4000-8000-00000000000a';
const B = 'b0000000-0000-4000-8000-00000000000b';
const C = 'c0000000-0000-4000-8000-00000000000c';

/** Deterministic values: a heavy right tail, exact in float32 (quarters). */
function values(seed: number, n: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const u = x / 2 ** 31;
    out.push(Math.round((20 + 400 * u ** 6) * 4) / 4);
  }
  return out;
}

/** A sub-window holding `vs` as one centroid each (what a digest of them would hold). */
function subWindow(vs: readonly number[], errors: number, start: number): Record<string, unknown> {
  const sorted = [...vs].sort((a, b) => a - b);
  const pairs = new Float32Array(sorted.length * 2);
  sorted.forEach((v, i) => {
    pairs[2 * i] = v;
    pairs[2 * i + 1] = 1;
  });
  return {
    start_time: new Date(start).toISOString(),
    seconds: 60,
    partial: false,
    count: vs.length,
    sum: vs.reduce((s, v) => s + v, 0),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    error_count: errors,
    centroids: Buffer.from(pairs.buffer).toString('base64'),
  };
}

const base = (name: string, component: string): Record<string, unknown> => ({
  metric_name: name,
  component,
  tags: {},
  labels: {},
  timestamp: new Date().toISOString(),
});

function timer(
  name: string,
  component: string,
  vs: readonly number[],
  errors: number,
): Record<string, unknown> {
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  return {
    ...base(name, component),
    metric_type: 'timer',
    value: 0,
    unit: 'ms',
    count: vs.length,
    sum: vs.reduce((s, v) => s + v, 0),
    windows: [],
    sub_windows: [subWindow(vs, errors, minute)],
  };
}

const gauge = (name: string, value: number): Record<string, unknown> => ({
  ...base(name, 'system'),
  metric_type: 'gauge',
  value,
});

const counter = (name: string, value: number): Record<string, unknown> => ({
  ...base(name, 'system'),
  metric_type: 'counter',
  value,
  windows: [],
});

async function call(path: string, key = keys['read']!): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${server.api}${path}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: response.status, json: await response.json() };
}

async function send(instance: string, service: string, metrics: unknown[]): Promise<void> {
  const response = await fetch(`${server.api}/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys['ingest']!}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      batch_id: `read-${++batchN}`,
      source: { instance_id: instance, resource: { 'service.name': service } },
      sent_at: new Date().toISOString(),
      metrics,
      traces: [],
      alerts: [],
    }),
  });
  expect(response.status, await response.text()).toBe(200);
}

function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const fromA = values(7, 1000);
const fromB = values(11, 1000).map((v) => v * 2);
const all = [...fromA, ...fromB].sort((a, b) => a - b);
const sum = all.reduce((s, v) => s + v, 0);

beforeAll(async () => {
  tmp = tempDir();
  db = join(tmp.dir, 'read.db');
  const [read, ingest] = await Promise.all(['read', 'ingest'].map((r) => createKeyCli(db, r)));
  keys['read'] = read!.key;
  keys['ingest'] = ingest!.key;
  server = await startServerChild(db, ['--rate', '0']);
  await send(A, 'checkout', [
    timer('checkout.process', 'shop', fromA, 10),
    gauge('cpu_usage', 0.5),
    gauge('memory_usage', 0.4),
    gauge('disk_usage', 0.2),
    counter('network_io.bytes_sent', 1000),
  ]);
  await send(B, 'checkout', [
    timer('checkout.process', 'shop', fromB, 30),
    gauge('cpu_usage', 0.9),
    gauge('memory_usage', 0.3),
    gauge('disk_usage', 0.25),
    counter('network_io.bytes_sent', 2000),
  ]);
  await send(C, 'billing', [
    timer('invoice.create', 'billing', [10, 20, 30, 40], 0),
    gauge('cpu_usage', 0.3),
    counter('network_io.bytes_sent', 500),
  ]);
  // A service whose only process stopped sending ten minutes ago (written into the
  // file: the server process's clock cannot be moved from here).
  const sqlite = new Database(db);
  try {
    const gone = Date.now() - 10 * 60_000;
    sqlite
      .prepare(
        `INSERT INTO sources (instance_id, service_name, resource, first_seen, last_seen)
         VALUES (?, 'legacy', '{"service.name":"legacy"}', ?, ?)`,
      )
      .run('d0000000-0000-4000-8000-00000000000d', gone, gone);
  } finally {
    sqlite.close();
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  tmp?.remove();
});

describe('GET /analytics over the stored data', () => {
  it('merges the digests of two processes: counts, errors and mean exact, p99 within the sketch error', async () => {
    const reply = await call('/analytics?component=shop');
    expect(reply.status, JSON.stringify(reply.json)).toBe(200);
    const r = reply.json as FleetAnalyticsReport;
    expect(r.component).toBe('shop');
    expect(r.window).toBe('15m');
    expect(r.service).toBeNull();
    expect(r.summary.total_requests).toBe(2000);
    expect(r.summary.error_rate).toBe(0.02);
    expect(r.summary.average_response_time).toBe(Math.round((sum / 2000) * 10) / 10);
    expect(r.top_operations).toEqual([
      {
        operation: 'checkout.process',
        avg_duration_ms: Math.round((sum / 2000) * 10) / 10,
        request_count: 2000,
      },
    ]);
    expect(r.latency_percentiles.count).toBe(2000);
    // The t-digest's error is in rank: the answer lies between the exact quantiles
    // a little below and above 0.99.
    const p99 = r.latency_percentiles.p99!;
    expect(p99).toBeGreaterThanOrEqual(exactQuantile(all, 0.985));
    expect(p99).toBeLessThanOrEqual(exactQuantile(all, 0.995));
    const p50 = r.latency_percentiles.p50!;
    expect(p50).toBeGreaterThanOrEqual(exactQuantile(all, 0.48));
    expect(p50).toBeLessThanOrEqual(exactQuantile(all, 0.52));
    // Averaging the two processes' own p99s would be far off: B's values are doubled.
    expect(Object.keys(r.trends).sort()).toEqual([
      'error_rate_trend',
      'response_time_trend',
      'usage_pattern',
    ]);
    expect(['improving', 'stable', 'degrading']).toContain(r.trends.response_time_trend);
    expect(Array.isArray(r.bottlenecks)).toBe(true);
    expect(Array.isArray(r.recommendations)).toBe(true);
    expect(Array.isArray(r.anomalies)).toBe(true);
    expect(Array.isArray(r.capacity)).toBe(true);
    expect(typeof r.component_specific).toBe('object');
  });

  it('one service: only its processes; another service of the component is a 404', async () => {
    const r = (await call('/analytics?component=shop&service=checkout&window=1h'))
      .json as FleetAnalyticsReport;
    expect(r.summary.total_requests).toBe(2000);
    expect(r.service).toBe('checkout');
    expect(r.window).toBe('1h');
    const billing = (await call('/analytics?component=billing&service=billing'))
      .json as FleetAnalyticsReport;
    expect(billing.summary.total_requests).toBe(4);
    expect(billing.summary.average_response_time).toBe(25);
    const wrong = await call('/analytics?component=shop&service=billing');
    expect(wrong.status).toBe(404);
    expect((wrong.json as { error: { field: string } }).error.field).toBe('component');
  });

  it('bottlenecks come from the stored traces of the component', async () => {
    const spans: Record<string, unknown>[] = [];
    const t0 = Date.now() - 5000;
    for (let i = 0; i < 20; i++) {
      const traceId = (i + 1).toString(16).padStart(32, '0');
      const at = (ms: number): string => new Date(t0 + i * 100 + ms).toISOString();
      spans.push(
        {
          trace_id: traceId,
          span_id: `${(i + 1).toString(16).padStart(15, '0')}a`,
          name: 'checkout.process',
          start_time: at(0),
          end_time: at(100),
          duration_ms: 100,
          status: 'success',
          attributes: { 'prsm.component': 'shop' },
          component: 'shop',
        },
        {
          trace_id: traceId,
          span_id: `${(i + 1).toString(16).padStart(15, '0')}b`,
          parent_span_id: `${(i + 1).toString(16).padStart(15, '0')}a`,
          name: 'SELECT orders',
          start_time: at(10),
          end_time: at(90),
          duration_ms: 80,
          status: 'success',
          attributes: { 'db.system': 'postgresql', 'prsm.component': 'shop' },
          component: 'shop',
        },
      );
    }
    const response = await fetch(`${server.api}/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys['ingest']!}`, 'content-type': 'application/json' },
      body: JSON.stringify({ spans }),
    });
    expect(response.status, await response.text()).toBe(200);
    const r = (await call('/analytics?component=shop')).json as FleetAnalyticsReport;
    expect(r.bottlenecks).toContain('database_query_optimization');
    const h = (await call('/health')).json as FleetHealthReport;
    expect(h.monitoring_status.active_traces).toBe(20);
  });

  it('a write is seen at once (the kept answer is dropped on ingest)', async () => {
    const before = (await call('/analytics?component=billing')).json as FleetAnalyticsReport;
    expect(before.summary.total_requests).toBe(4);
    await send(C, 'billing', [timer('invoice.create', 'billing', [50, 60], 1)]);
    const after = (await call('/analytics?component=billing')).json as FleetAnalyticsReport;
    expect(after.summary.total_requests).toBe(6);
    expect(after.summary.error_rate).toBe(Math.round((1 / 6) * 10_000) / 10_000);
  });
});

describe('GET /health over the stored data', () => {
  it('the fleet: traffic, the largest live gauge, summed network bytes, stale services', async () => {
    const reply = await call('/health');
    expect(reply.status, JSON.stringify(reply.json)).toBe(200);
    const h = reply.json as FleetHealthReport;
    expect(Object.keys(h).sort()).toEqual(
      [
        'overall_health_score',
        'system_metrics',
        'recent_performance',
        'active_alerts',
        'monitoring_status',
        'timestamp',
        'window',
        'service',
        'components',
        'services',
        'resources',
      ].sort(),
    );
    expect(h.system_metrics.cpu_usage).toBe(90);
    expect(h.system_metrics.memory_usage).toBe(40);
    expect(h.system_metrics.disk_usage).toBe(25);
    expect(h.system_metrics.network_io).toEqual({ bytes_sent: 3500, bytes_recv: 0 });
    const shop = h.components.find((c) => c.component === 'shop')!;
    expect(shop).toMatchObject({ request_count: 2000, error_count: 40, error_rate: 0.02 });
    expect(shop.average_response_time).toBe(Math.round((sum / 2000) * 10) / 10);
    expect(h.components.map((c) => c.component)).not.toContain('system');
    expect(h.recent_performance.error_count).toBe(41);
    expect(h.recent_performance.total_metrics).toBe(2006);
    expect(h.services).toEqual([
      expect.objectContaining({ service: 'billing', live_instances: 1, stale: false }),
      expect.objectContaining({ service: 'checkout', live_instances: 2, stale: false }),
      expect.objectContaining({ service: 'legacy', live_instances: 0, stale: true }),
    ]);
    expect(h.monitoring_status.background_tasks_running).toBe(false);
    // cpu 90%: 15 × (0.9 − 0.7) / 0.3 = 10; errors 41/2006: 25 × 0.2044 = 5.11; one stale service: 5.
    const errorRate = 41 / 2006;
    const expected = 100 - 10 - 25 * Math.min(1, errorRate / 0.1) - 5;
    expect(h.overall_health_score).toBeCloseTo(Math.round(expected * 10) / 10, 5);
    expect(h.active_alerts).toEqual([]);
  });

  it('one service: its own processes gauges and counters', async () => {
    const h = (await call('/health?service=billing')).json as FleetHealthReport;
    expect(h.service).toBe('billing');
    expect(h.system_metrics.cpu_usage).toBe(30);
    expect(h.system_metrics.network_io.bytes_sent).toBe(500);
    expect(h.components.map((c) => c.component)).toEqual(['billing']);
    expect(h.services.map((s) => s.service)).toEqual(['billing']);
    expect(h.monitoring_status.background_tasks_running).toBe(true);
    const shop = (await call('/health?component=shop&window=24h')).json as FleetHealthReport;
    expect(shop.recent_performance.total_metrics).toBe(2000);
    expect(shop.window).toBe('24h');
  });

  it.each([
    ['/health?window=2h', 400, 'window'],
    ['/health?window=', 400, 'window'],
    ['/health?component=', 400, 'component'],
    ['/health?limit=5', 400, 'limit'],
    ['/health?component=a&component=b', 400, 'component'],
    ['/health?service=%00x', 400, 'service'],
    ['/analytics?window=15', 400, 'window'],
    [`/analytics?component=${'x'.repeat(101)}`, 400, 'component'],
    ['/analytics?component=nope', 404, 'component'],
    ['/health?service=nope', 404, 'service'],
    ['/health?component=nope', 404, 'component'],
  ])('%s → %i naming %s', async (path, status, field) => {
    const reply = await call(path);
    expect(reply.status, JSON.stringify(reply.json)).toBe(status);
    expect((reply.json as { error: { field: string } }).error.field).toBe(field);
  });

  it('is documented in /openapi.json with its response schema', async () => {
    const doc = (await (await fetch(`${server.api}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    const health = doc.paths['/api/v1/monitoring/health']?.['get'];
    const analytics = doc.paths['/api/v1/monitoring/analytics']?.['get'];
    expect(health).toBeDefined();
    expect(analytics).toBeDefined();
    expect(JSON.stringify(health)).toContain('overall_health_score');
    expect(JSON.stringify(analytics)).toContain('latency_percentiles');
    expect(JSON.stringify(analytics)).toContain('"window"');
  });
});
