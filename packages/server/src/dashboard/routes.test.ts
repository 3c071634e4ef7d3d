/**
 * The dashboard's routes over a real server on 127.0.0.1 with a real SQLite file and
 * an injected clock: static files (types, caching, ETag, gzip, CSP, no key needed
 * while the API stays protected), and the series route's windows, including 24 h
 * over minute rows rolled up into hour rows.
 */
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createServer, type PrsmServer } from '../server.js';
import { tempDir } from '../test-support.js';

const T0 = Date.parse('2026-03-15T12:00:30Z');
const MINUTE = 60_000;

let dir: { dir: string; remove: () => void };
let server: PrsmServer;
let now = T0;
let key = '';
let ingestKey = '';

beforeEach(async () => {
  now = T0;
  dir = tempDir();
  server = await createServer({
    db: join(dir.dir, 'm.db'),
    port: 0,
    rateLimit: false,
    compactIntervalMs: 0,
    // Minute rows older than 2 h become hour rows at compaction (the 24 h window's test).
    storeOptions: { rollupAfterMs: 2 * 3_600_000 },
    clock: { now: () => now },
  });
  key = server.store.createKey('read').key;
  ingestKey = server.store.createKey('ingest').key;
});

afterEach(async () => {
  await server.close();
  dir.remove();
});

const api = (path: string, k = key): Promise<Response> =>
  fetch(`${server.url!}/api/v1/monitoring${path}`, { headers: { authorization: `Bearer ${k}` } });

/** One timer sub-window of the given integer samples at `start`. */
function timer(component: string, start: number, values: number[], errors = 0): unknown {
  const sorted = [...values].sort((a, b) => a - b);
  const pairs = new Float32Array(sorted.flatMap((v) => [v, 1]));
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    metric_name: 'operation.duration',
    component,
    tags: { operation: `${component}_op` },
    labels: {},
    timestamp: new Date(now).toISOString(),
    metric_type: 'timer',
    value: sum / sorted.length,
    unit: 'ms',
    count: sorted.length,
    sum,
    windows: [],
    sub_windows: [
      {
        start_time: new Date(start).toISOString(),
        seconds: 60,
        partial: false,
        count: sorted.length,
        sum,
        min: sorted[0],
        max: sorted[sorted.length - 1],
        error_count: errors,
        centroids: Buffer.from(pairs.buffer).toString('base64'),
      },
    ],
  };
}

async function batch(id: string, metrics: unknown[]): Promise<void> {
  const r = await fetch(`${server.url!}/api/v1/monitoring/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      batch_id: id,
      sent_at: new Date(now).toISOString(),
      metrics,
      traces: [],
      alerts: [],
    }),
  });
  expect(r.status, await r.text()).toBe(200);
}

describe('static files', () => {
  it('serves the page and its assets without a key, with CSP, types and caching', async () => {
    const page = await fetch(`${server.url!}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await page.text();
    const scripts = [...html.matchAll(/src="(\/dashboard\/[^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBe(2);
    for (const src of scripts) {
      expect(src).toMatch(/\?v=[\w-]{16}$/);
      const r = await fetch(`${server.url!}${src}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
    // The API stays protected.
    expect((await fetch(`${server.url!}/api/v1/monitoring/alerts`)).status).toBe(401);
    expect((await fetch(`${server.url!}/api/v1/monitoring/dashboard/series`)).status).toBe(401);
  });

  it('answers 304 to a matching ETag, gzip when asked, 404 for unknown files', async () => {
    const url = `${server.url!}/dashboard/app.js`;
    const plain = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
    const body = Buffer.from(await plain.arrayBuffer());
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.headers.get('cache-control')).toBe('no-cache');
    const etag = plain.headers.get('etag')!;
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const { request } = await import('node:http');
    const gz = await new Promise<{ encoding: string | undefined; data: Buffer }>(
      (resolve, reject) => {
        const req = request(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              encoding: res.headers['content-encoding'],
              data: Buffer.concat(chunks),
            }),
          );
        });
        req.on('error', reject);
        req.end();
      },
    );
    expect(gz.encoding).toBe('gzip');
    expect(gunzipSync(gz.data).equals(body)).toBe(true);
    const missing = await fetch(`${server.url!}/dashboard/nope.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});

describe('GET /dashboard/series', () => {
  it('gives per-minute percentiles, throughput and error rate of the last 15 minutes', async () => {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    await batch('a', [
      timer('checkout', minute - 2 * MINUTE, [10, 20, 30, 40], 1),
      timer('checkout', minute, [100, 200], 0),
    ]);
    const r = await api('/dashboard/series?window=15m');
    expect(r.status).toBe(200);
    const body = (await r.json()) as {
      step_seconds: number;
      components: {
        component: string;
        t: number[];
        p50: (number | null)[];
        throughput: number[];
        error_rate: (number | null)[];
        calls: number;
      }[];
      top_operations: { operation: string; calls: number; errors: number }[];
    };
    expect(body.step_seconds).toBe(60);
    const c = body.components.find((x) => x.component === 'checkout')!;
    expect(c.t.length).toBe(15);
    expect(c.t.at(-1)).toBe(minute);
    expect(c.calls).toBe(6);
    expect(c.throughput.at(-3)).toBe(4);
    expect(c.throughput.at(-1)).toBe(2);
    expect(c.error_rate.at(-3)).toBe(0.25);
    expect(c.error_rate.at(-2)).toBeNull();
    expect(c.p50.at(-1)).toBeGreaterThanOrEqual(100);
    expect(c.p50.at(-1)).toBeLessThanOrEqual(200);
    expect(body.top_operations).toEqual([
      expect.objectContaining({ operation: 'checkout_op', calls: 6, errors: 1 }),
    ]);
  });

  it('reads 24 h in 15-minute steps, hour rows included after compaction', async () => {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    await batch('old', [timer('search', minute - 5 * 60 * MINUTE, [5, 6, 7])]);
    await batch('new', [timer('search', minute, [50])]);
    server.store.compact(now);
    // The 5-hour-old minute is now an hour row.
    const id = server.store.latestSeries().find((x) => x.component === 'search')!.id;
    expect(server.store.points(id).map((p) => p.resolution)).toContain(3600);
    const body = (await (await api('/dashboard/series?window=24h')).json()) as {
      step_seconds: number;
      components: { component: string; t: number[]; calls: number; throughput: number[] }[];
    };
    expect(body.step_seconds).toBe(900);
    const c = body.components.find((x) => x.component === 'search')!;
    expect(c.t.length).toBe(96);
    expect(c.calls).toBe(4);
    expect(c.throughput.filter((x) => x > 0).length).toBe(2);
  });

  it('refuses a bad window with 400 naming the field, and answers fresh data', async () => {
    const bad = await api('/dashboard/series?window=2h');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('window');
    const first = (await (await api('/dashboard/series?window=1h')).json()) as {
      components: unknown[];
    };
    expect(first.components).toEqual([]);
    await batch('late', [timer('late', Math.floor(now / MINUTE) * MINUTE, [1])]);
    // Stored since the last answer: not served from the cache.
    const second = (await (await api('/dashboard/series?window=1h')).json()) as {
      components: { component: string }[];
    };
    expect(second.components.map((c) => c.component)).toEqual(['late']);
  });

  it('reads one service (exactly, its own digests) or the fleet (merged); unknown: empty', async () => {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    const send = async (id: string, service: string, values: number[]): Promise<void> => {
      const r = await fetch(`${server.url!}/api/v1/monitoring/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          batch_id: id,
          source: { instance_id: `${service}-1`, resource: { 'service.name': service } },
          sent_at: new Date(now).toISOString(),
          metrics: [timer('shop', minute, values)],
          traces: [],
          alerts: [],
        }),
      });
      expect(r.status, await r.text()).toBe(200);
    };
    // The same component and operation from two services, far apart.
    const fast = Array.from({ length: 100 }, (_, i) => 1 + i); // 1..100
    const slow = Array.from({ length: 100 }, (_, i) => 1001 + i); // 1001..1100
    await send('a', 'fast-svc', fast);
    await send('b', 'slow-svc', slow);
    // Spans are not stored by service: of one service, the roots in its components.
    const span = (id: string, component: string, ms: number): unknown => ({
      trace_id: id.repeat(32),
      span_id: id.repeat(16),
      name: `${component}_op`,
      start_time: new Date(now - 1000).toISOString(),
      end_time: new Date(now - 1000 + ms).toISOString(),
      duration_ms: ms,
      status: 'success',
      attributes: {},
      component,
    });
    const traces = await fetch(`${server.url!}/api/v1/monitoring/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ spans: [span('a', 'shop', 40), span('b', 'elsewhere', 90)] }),
    });
    expect(traces.status, await traces.text()).toBeLessThan(300);
    type Body = {
      service: string | null;
      slow_traces: { component: string | null }[];
      components: { component: string; calls: number; p50: (number | null)[] }[];
      top_operations: { operation: string; calls: number; avg_ms: number }[];
      resources: { cpu_usage: (number | null)[] };
    };
    const read = async (query: string): Promise<Body> => {
      const r = await api(`/dashboard/series?window=15m${query}`);
      expect(r.status).toBe(200);
      return (await r.json()) as Body;
    };
    const p50 = (b: Body): number | null => b.components[0]!.p50.at(-1)!;
    const a = await read('&service=fast-svc');
    expect(a.service).toBe('fast-svc');
    expect(a.components.map((c) => [c.component, c.calls])).toEqual([['shop', 100]]);
    expect(p50(a)).toBeGreaterThanOrEqual(50);
    expect(p50(a)).toBeLessThanOrEqual(51);
    expect(a.top_operations[0]!.avg_ms).toBe(50.5);
    expect(a.slow_traces.map((t) => t.component)).toEqual(['shop']);
    const b = await read('&service=slow-svc');
    expect(b.components[0]!.calls).toBe(100);
    expect(p50(b)).toBeGreaterThanOrEqual(1050);
    expect(p50(b)).toBeLessThanOrEqual(1051);
    // The fleet: both merged (the median of all 200 values lies between the two sets).
    const fleet = await read('');
    expect(fleet.service).toBeNull();
    expect(fleet.components[0]!.calls).toBe(200);
    expect(fleet.top_operations[0]!.avg_ms).toBe(550.5);
    expect(fleet.slow_traces.map((t) => t.component)).toEqual(['elsewhere', 'shop']);
    expect(p50(fleet)).toBeGreaterThanOrEqual(100);
    expect(p50(fleet)).toBeLessThanOrEqual(1001);
    // With a component too.
    expect((await read('&service=slow-svc&component=shop')).components[0]!.calls).toBe(100);
    expect((await read('&service=fast-svc&component=other')).components).toEqual([]);
    // A service that sent nothing: empty lists, not an error.
    const none = await read('&service=nobody');
    expect(none.service).toBe('nobody');
    expect(none.components).toEqual([]);
    expect(none.top_operations).toEqual([]);
    expect(none.slow_traces).toEqual([]);
    expect(none.resources.cpu_usage.every((v: number | null) => v === null)).toBe(true);
    // Bad input: 400 naming the field.
    for (const bad of ['', 'x'.repeat(201)]) {
      const r = await api(`/dashboard/series?service=${bad}`);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { field: string } }).error.field).toBe('service');
    }
  });

  it('answers 503 with an in-memory store', async () => {
    const memory = await createServer({ port: 0, rateLimit: false, compactIntervalMs: 0 });
    try {
      const k = memory.store.createKey('read').key;
      const r = await fetch(`${memory.url!}/api/v1/monitoring/dashboard/series`, {
        headers: { authorization: `Bearer ${k}` },
      });
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    } finally {
      await memory.close();
    }
  });
});
