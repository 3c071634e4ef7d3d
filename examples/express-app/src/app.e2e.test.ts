/**
 * The bookstore over real HTTP on 127.0.0.1: what an operator sees in the monitor
 * after a handful of ordinary, unauthorised, rate-limited and failing requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, Monitor, setGlobalMonitor } from '@prsm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGatewayReport } from '@prsm/express';
import { createApp } from './app.js';

let monitor: Monitor;
let server: Server;
let base = '';

beforeAll(async () => {
  monitor = new Monitor({ clock: new ManualClock(1_700_000_000_000), tracing: true });
  setGlobalMonitor(monitor);
  server = createServer(createApp({ searchLimit: 2 }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  setGlobalMonitor(undefined);
  await monitor.shutdown();
});

function counts(name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of monitor.snapshot({ digests: false }).series) {
    if (s.name !== name) continue;
    const key =
      `${s.tags['http.request.method']} ${s.tags['http.route']} ${s.tags['http.response.status_code'] ?? ''}`.trim();
    out[key] =
      (out[key] ?? 0) +
      (s.type === 'counter' ? s.total : s.type === 'gauge' ? s.value : s.cumulative.count);
  }
  return out;
}

async function settle(total: number): Promise<void> {
  const until = Date.now() + 3000;
  while (Object.values(counts('http.server.requests')).reduce((a, b) => a + b, 0) < total) {
    if (Date.now() > until) throw new Error('requests not recorded in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('express bookstore', () => {
  it('records every route by template, with security events and one trace per request', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const book = await fetch(`${base}/api/v1/books/2`, {
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
    });
    expect(await book.json()).toMatchObject({ id: '2', traceId });
    expect(book.headers.get('traceresponse')).toMatch(
      new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
    );
    await fetch(`${base}/api/v1/books`);
    await fetch(`${base}/api/v1/books/99`);
    await fetch(`${base}/api/v1/authors/le-guin/books`);
    await fetch(`${base}/api/v1/authors/butler/books`);
    expect((await fetch(`${base}/api/v1/admin/books`, { method: 'POST' })).status).toBe(401);
    const reader = { authorization: 'Bearer reader-token' };
    expect(
      (await fetch(`${base}/api/v1/admin/books`, { method: 'POST', headers: reader })).status,
    ).toBe(403);
    const created = await fetch(`${base}/api/v1/admin/books`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Dawn' }),
    });
    expect(created.status).toBe(201);
    const failed = await fetch(`${base}/api/v1/admin/reports/daily`, { headers: reader });
    expect([failed.status, await failed.json()]).toEqual([500, { error: 'internal error' }]);
    for (let i = 0; i < 3; i++) await fetch(`${base}/api/v1/search?q=wizard`);
    await fetch(`${base}/wp-login.php`);
    await fetch(`${base}/healthz`);
    await settle(13);

    expect(counts('http.server.requests')).toEqual({
      'GET /api/v1/books/:id 200': 1,
      'GET /api/v1/books/:id 404': 1,
      'GET /api/v1/books 200': 1,
      'GET /api/v1/authors/:authorId/books 200': 2,
      'POST /api/v1/admin/books 401': 1,
      'POST /api/v1/admin/books 403': 1,
      'POST /api/v1/admin/books 201': 1,
      'GET /api/v1/admin/reports/daily 500': 1,
      'GET /api/v1/search 200': 2,
      'GET /api/v1/search 429': 1,
      'GET (unmatched) 404': 1,
    });
    const errors = monitor.getRates('http.server.request.duration', {
      component: 'api_gateway',
      windowSeconds: 60,
      tags: {
        'http.request.method': 'GET',
        'http.route': '/api/v1/admin/reports/daily',
        'http.response.status_code': '500',
        'http.response.status_class': '5xx',
      },
    });
    expect(errors).toMatchObject({ count: 1, errorRate: 1 });
    // 401, 403 and 429 answers reach monitor.security (its counters, component `security`).
    const security = monitor
      .snapshot({ digests: false })
      .series.filter((s) => s.component === 'security' && s.type === 'counter')
      .map(
        (s) => `${s.name} ${Object.values(s.tags).join(' ')} ${s.type === 'counter' && s.total}`,
      );
    expect(security.sort()).toEqual([
      'security.auth.attempts false failure 1',
      'security.auth.failures http_401 1',
      'security.authz.checks denied 1',
      'security.rate_limited /api/v1/search 1',
    ]);
    const gateway = apiGatewayReport(monitor);
    expect(
      Object.fromEntries(gateway.error_rates.categories.map((c) => [c.category, c.count])),
    ).toEqual({ not_found: 2, unauthorized: 1, forbidden: 1, rate_limited: 1, internal_error: 1 });
    expect(gateway.rate_limiting).toMatchObject({
      rate_limited: 1,
      quota_utilization: 1,
      near_limit_routes: ['/api/v1/search'],
    });

    const spans = monitor.traces.spans(traceId) ?? [];
    const serverSpan = spans.find((s) => s.name === 'GET /api/v1/books/:id');
    expect(serverSpan?.parentSpanId).toBe('b7ad6b7169203331');
    expect(spans.find((s) => s.name === 'find_books')?.parentSpanId).toBe(serverSpan?.spanId);
  });
});
