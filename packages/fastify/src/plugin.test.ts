import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { createServer } from 'node:http';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { DiagnosticCode, ManualClock, Monitor, setGlobalMonitor } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';
import { prsmFastify } from './plugin.js';
import { VERSION } from './version.js';
import { abortAfterSend, countOf, series, sleep, waitFor } from './test-support.js';

let apps: FastifyInstance[] = [];
let monitors: Monitor[] = [];

afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(monitors.map((m) => m.shutdown()));
  apps = [];
  monitors = [];
});

function newMonitor(tracing = false): { monitor: Monitor; clock: ManualClock } {
  const clock = new ManualClock(1_700_000_000_000);
  const monitor = new Monitor({ clock, tracing });
  monitors.push(monitor);
  return { monitor, clock };
}

function newApp(): FastifyInstance {
  const app = Fastify({ forceCloseConnections: true });
  apps.push(app);
  return app;
}

async function serve(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

function durations(
  monitor: Monitor,
): { tags: Record<string, string>; count: number; errors: number; sum: number }[] {
  return series(monitor, 'http.server.request.duration').map((s) => ({
    tags: { ...s.tags },
    count: countOf(s),
    errors: s.type === 'timer' ? s.cumulative.errors : 0,
    sum: s.type === 'timer' ? s.cumulative.sum : 0,
  }));
}

function byRoute(monitor: Monitor): Record<string, ReturnType<typeof durations>[number]> {
  return Object.fromEntries(durations(monitor).map((d) => [d.tags['http.route'] ?? '', d]));
}

async function settled(monitor: Monitor, total: number): Promise<void> {
  await waitFor(() => durations(monitor).reduce((n, d) => n + d.count, 0) >= total);
}

describe('prsmFastify', () => {
  it('tags requests by route template with plugin prefixes, never by raw URL', async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    app.get('/users/:id', (request) => ({ id: (request.params as { id: string }).id }));
    await app.register(
      async (api) => {
        await api.register(
          (shop, _options, done) => {
            shop.get('/items/:itemId', () => 'item');
            done();
          },
          { prefix: '/shop' },
        );
      },
      { prefix: '/api/v1' },
    );
    const url = await serve(app);
    for (const path of [
      '/users/1',
      '/users/2',
      '/api/v1/shop/items/9',
      '/nope',
      '/also/nope?q=1',
    ]) {
      await (await fetch(url + path)).text();
    }
    await settled(monitor, 5);
    expect(Object.keys(byRoute(monitor)).sort()).toEqual([
      '(unmatched)',
      '/api/v1/shop/items/:itemId',
      '/users/:id',
    ]);
    expect(byRoute(monitor)['/users/:id']).toMatchObject({
      count: 2,
      tags: {
        'http.request.method': 'GET',
        'http.response.status_code': '200',
        'http.response.status_class': '2xx',
      },
    });
    expect(byRoute(monitor)['(unmatched)']).toMatchObject({
      count: 2,
      tags: { 'http.response.status_code': '404' },
    });
    expect(series(monitor, 'http.server.requests').reduce((n, s) => n + countOf(s), 0)).toBe(5);
    expect(series(monitor, 'http.server.active_requests').map(countOf)).toEqual([0]);
  });

  it('times on the monitor clock and flags 5xx, thrown errors and rejections', async () => {
    const { monitor, clock } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    app.get('/slow', () => {
      clock.advance(40);
      return 'ok';
    });
    app.get('/down', (_request, reply) => reply.code(503).send('down'));
    const thrown = new Error('boom');
    app.get('/throw', () => {
      throw thrown;
    });
    app.get('/reject', async () => {
      await sleep(1);
      throw new Error('rejected');
    });
    const seen: unknown[] = [];
    app.setErrorHandler((error, _request, reply) => {
      seen.push(error);
      void reply.code(500).send({ error: 'internal' });
    });
    const url = await serve(app);
    expect((await fetch(`${url}/slow`)).status).toBe(200);
    expect((await fetch(`${url}/down`)).status).toBe(503);
    const threw = await fetch(`${url}/throw`);
    expect([threw.status, await threw.json()]).toEqual([500, { error: 'internal' }]);
    expect((await fetch(`${url}/reject`)).status).toBe(500);
    await settled(monitor, 4);
    expect(seen[0]).toBe(thrown);
    const r = byRoute(monitor);
    expect(r['/slow']).toMatchObject({ count: 1, errors: 0, sum: 40 });
    expect(r['/down']).toMatchObject({ count: 1, errors: 1 });
    expect(r['/throw']).toMatchObject({ count: 1, errors: 1 });
    expect(r['/reject']).toMatchObject({ count: 1, errors: 1 });
  });

  it('records an aborted request once, as 499', async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    let arrived = false;
    let respond: (() => void) | undefined;
    app.get('/wait/:n', (_request, reply) => {
      arrived = true;
      respond = () => void reply.send('late');
    });
    const url = await serve(app);
    await abortAfterSend(url, '/wait/1', () => waitFor(() => arrived));
    await settled(monitor, 1);
    respond?.();
    await sleep(50);
    const d = durations(monitor);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      count: 1,
      errors: 0,
      tags: { 'http.route': '/wait/:n', 'http.response.status_code': '499' },
    });
    expect(series(monitor, 'http.server.aborted_requests').map(countOf)).toEqual([1]);
    expect(series(monitor, 'http.server.active_requests').map(countOf)).toEqual([0]);
  });

  it('measures streamed responses by the bytes written and requests by Content-Length', async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    app.get('/stream', (_request, reply) =>
      reply.type('text/plain').send(Readable.from(['a'.repeat(1000), 'b'.repeat(500), 'é'])),
    );
    app.post('/echo', () => ({ ok: true }));
    const url = await serve(app);
    const streamed = await fetch(`${url}/stream`);
    expect(streamed.headers.get('content-length')).toBeNull();
    expect((await streamed.arrayBuffer()).byteLength).toBe(1502);
    await (
      await fetch(`${url}/echo`, {
        method: 'POST',
        body: JSON.stringify({ text: 'x'.repeat(288) }),
        headers: { 'content-type': 'application/json' },
      })
    ).text();
    await settled(monitor, 2);
    const sizes = Object.fromEntries(
      series(monitor, 'http.server.response.body.size').map((s) => [
        s.tags['http.route'] ?? '',
        s.type === 'histogram' ? s.cumulative.sum : NaN,
      ]),
    );
    expect(sizes).toEqual({ '/stream': 1502, '/echo': 11 });
    const requestSizes = series(monitor, 'http.server.request.body.size').filter(
      (s) => s.type === 'histogram' && s.cumulative.count > 0,
    );
    expect(
      requestSizes.map((s) => [s.tags['http.route'], s.type === 'histogram' && s.cumulative.sum]),
    ).toEqual([['/echo', 299]]);
  });

  it('continues an incoming traceparent with a SERVER span active in the handler', async () => {
    const { monitor } = newMonitor(true);
    const app = newApp();
    await app.register(prsmFastify, { monitor, traceResponseHeader: true });
    const seen: { active?: string; traceId?: string } = {};
    app.post('/orders/:id', async (request) => {
      await sleep(1);
      seen.active = trace.getActiveSpan()?.spanContext().spanId;
      seen.traceId = request.prsmTraceId;
      trace.getTracer('test').startSpan('save order').end();
      return { ok: true };
    });
    const url = await serve(app);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const res = await fetch(`${url}/orders/5`, {
      method: 'POST',
      body: JSON.stringify({ qty: 1 }),
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parent}-01` },
    });
    expect(res.status).toBe(200);
    await waitFor(() => (monitor.traces.spans(traceId)?.length ?? 0) === 2);
    const spans = monitor.traces.spans(traceId)!;
    const server = spans.find((s) => s.name === 'POST /orders/:id')!;
    expect(server).toBeDefined();
    expect(server.parentSpanId).toBe(parent);
    expect(server.attributes).toMatchObject({
      'http.route': '/orders/:id',
      'http.response.status_code': 200,
    });
    expect(seen).toEqual({ active: server.spanId, traceId });
    expect(spans.find((s) => s.name === 'save order')?.parentSpanId).toBe(server.spanId);
    expect(res.headers.get('traceresponse')).toBe(`00-${traceId}-${server.spanId}-01`);
  });

  it('reuses an active SERVER span instead of starting a second', async () => {
    const { monitor } = newMonitor(true);
    const tracer = trace.getTracer('http-instrumentation-stand-in');
    let traceId = '';
    // What OpenTelemetry's http instrumentation does: a SERVER span active around the app,
    // ended when the response finishes.
    const app = Fastify({
      forceCloseConnections: true,
      serverFactory: (handler) =>
        createServer((req, res) => {
          const span = tracer.startSpan('GET', { kind: SpanKind.SERVER });
          traceId = span.spanContext().traceId;
          res.on('finish', () => span.end());
          context.with(trace.setSpan(context.active(), span), () => {
            handler(req, res);
          });
        }),
    });
    apps.push(app);
    await app.register(prsmFastify, { monitor });
    app.get('/things/:id', () => 'ok');
    const url = await serve(app);
    await (await fetch(`${url}/things/1`)).text();
    await settled(monitor, 1);
    await waitFor(() => (monitor.traces.spans(traceId)?.length ?? 0) > 0);
    await sleep(20);
    const spans = monitor.traces.spans(traceId)!;
    expect(spans.map((s) => s.name)).toEqual(['GET /things/:id']);
    expect(spans[0]!.attributes['http.route']).toBe('/things/:id');
    expect(monitor.traces.stats().traces).toBe(1);
  });

  it('counts 401, 403 and 429 as security events and reads the rate-limit quota', async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, {
      monitor,
      user: (request) => request.headers['x-user'] as string | undefined,
    });
    app.get('/admin/:section', (request, reply) => {
      void reply.header('RateLimit', 'limit=10, remaining=1, reset=5');
      if (request.headers.authorization === undefined) return reply.code(401).send('who?');
      if (request.headers['x-user'] === 'mallory') return reply.code(403).send('no');
      return reply.code(429).send('slow down');
    });
    const url = await serve(app);
    await fetch(`${url}/admin/a`);
    await fetch(`${url}/admin/b`, { headers: { authorization: 'x', 'x-user': 'mallory' } });
    await fetch(`${url}/admin/c`, { headers: { authorization: 'x', 'x-user': 'bob' } });
    await settled(monitor, 3);
    const read = (name: string): [Record<string, string>, number][] =>
      series(monitor, name).map((s) => [{ ...s.tags }, countOf(s)]);
    expect(read('security.auth_failures')).toEqual([
      [
        {
          'http.request.method': 'GET',
          'http.route': '/admin/:section',
          'client.address': '127.0.0.1',
        },
        1,
      ],
    ]);
    expect(read('security.authz_failures')).toMatchObject([[{ 'user.id': 'mallory' }, 1]]);
    expect(read('security.rate_limited')).toMatchObject([[{ 'user.id': 'bob' }, 1]]);
    expect(read('http.server.rate_limit.utilization')).toEqual([
      [{ 'http.route': '/admin/:section' }, 0.9],
    ]);
  });

  it('honours config.prsm false, ignorePaths, routeLabel and tags, and survives options that throw', async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, {
      monitor,
      ignorePaths: [/^\/static\//],
      routeLabel: (request) => {
        if (request.headers['x-break'] !== undefined) throw new Error('label bug');
        return request.url === '/legacy' ? 'legacy' : undefined;
      },
      tags: (request) => ({ tenant: String(request.headers['x-tenant'] ?? 'none') }),
    });
    app.get('/healthz', { config: { prsm: false } }, () => 'ok');
    app.get('/static/app.js', () => 'js');
    app.get('/legacy', () => 'old');
    app.get('/x', () => 'x');
    const url = await serve(app);
    await fetch(`${url}/healthz`);
    await fetch(`${url}/static/app.js`);
    await fetch(`${url}/legacy`, { headers: { 'x-tenant': 'acme' } });
    const broken = await fetch(`${url}/x`, { headers: { 'x-break': '1' } });
    expect([broken.status, await broken.text()]).toEqual([200, 'x']);
    await settled(monitor, 2);
    await sleep(20);
    expect(durations(monitor).map((d) => [d.tags['http.route'], d.tags['tenant']])).toEqual([
      ['legacy', 'acme'],
      ['/x', 'none'],
    ]);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
  });

  it('applies to the whole app (not encapsulated) and uses the global monitor per request', async () => {
    const app = newApp();
    // Encapsulated, its hooks would only apply inside its own context: not to /g.
    await app.register(prsmFastify);
    app.get('/g', () => 'g');
    const url = await serve(app);
    await fetch(`${url}/g`);
    const { monitor } = newMonitor();
    setGlobalMonitor(monitor);
    try {
      await fetch(`${url}/g`);
      await settled(monitor, 1);
      expect(durations(monitor).map((d) => [d.tags['http.route'], d.count])).toEqual([['/g', 1]]);
    } finally {
      setGlobalMonitor(undefined);
    }
  });

  it('fails registration on bad options', async () => {
    const app = newApp();
    await expect(app.register(prsmFastify, { component: '' })).rejects.toThrow(TypeError);
  });

  it('keeps VERSION equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  });
});
