import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { createServer } from 'node:http';
import { connect, constants } from 'node:http2';
import { trace } from '@opentelemetry/api';
import { ManualClock, Monitor, setGlobalMonitor } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { trackedRequest } from '@prsm/http';
import { apiGatewayReport } from './index.js';
import { prsmFastify } from './plugin.js';
import { VERSION } from './version.js';
import {
  byRoute,
  countOf,
  driveAdoptedSpanScenario,
  driveOptionsScenario,
  driveAbortScenario,
  driveGatewayScenario,
  driveRequestRateScenario,
  driveSecurityScenario,
  driveStreamScenario,
  durations,
  pipelined,
  gatewayQuery,
  securityAnswer,
  series,
  settled,
  sleep,
  testResources,
  userHeader,
  valuesByRoute,
  waitFor,
  withStandInServerSpan,
} from '@prsm/http/test-support';

const resources = testResources();

function newMonitor(tracing = false): { monitor: Monitor; clock: ManualClock } {
  return resources.monitor({ tracing });
}

/**
 * The majors tested: Fastify 5, and Fastify 4 from the `fastify4` alias
 * (`"fastify4": "npm:fastify@^4.29.1"` in the root devDependencies), skipped with a
 * printed reason when the alias is not installed. Fastify 4's factory is typed as
 * Fastify 5's: the plugin and these tests use what both majors have in common.
 */
const fastify4 = await import('fastify4').then(
  (m) => m.default as unknown as typeof Fastify,
  (error: unknown) => {
    console.warn(
      `@prsm/fastify: Fastify 4 tests skipped: the "fastify4" alias (npm:fastify@^4.29.1) is not installed (${String(error)})`,
    );
    return undefined;
  },
);
const majors: [string, typeof Fastify][] = [['fastify 5', Fastify]];
if (fastify4 !== undefined) majors.push(['fastify 4', fastify4]);

async function serve(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

describe.each(majors)('prsmFastify on %s', (_name, Fastify) => {
  function newApp(): FastifyInstance {
    return resources.track(Fastify({ forceCloseConnections: true }));
  }

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
    await driveAbortScenario(
      url,
      monitor,
      () => arrived,
      () => respond?.(),
    );
  });

  it("follows a Node HTTP server's requests through its channels, from the first", async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    const seen: [boolean, boolean, number][] = [];
    app.get('/seen', (request, reply) => {
      const tracked = trackedRequest(request.raw, reply.raw);
      // Followed: claimed by the plugin, and no close listener of ours on the response.
      seen.push([
        tracked?.followed === true,
        tracked?.state !== undefined,
        reply.raw.listeners('close').filter((l) => l.name === 'onUnfollowedClose').length,
      ]);
      return 'ok';
    });
    const url = await serve(app);
    for (let i = 0; i < 3; i++) await (await fetch(`${url}/seen`)).text();
    await settled(monitor, 3);
    expect(seen).toEqual([
      [true, true, 0],
      [true, true, 0],
      [true, true, 0],
    ]);
    expect(byRoute(monitor)['/seen']).toMatchObject({ count: 3, errors: 0 });
  });

  it('records pipelined requests once each, answered out of order by the handlers', async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    app.get('/p/:n', async (request) => {
      const n = (request.params as { n: string }).n;
      // The first is answered last by its handler: Node still sends the answers in order.
      await sleep(n === '1' ? 30 : 1);
      return `answer ${n}`;
    });
    app.get('/missing', (_request, reply) => reply.code(404).send('no'));
    await serve(app);
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const text = await pipelined(address.port, ['/p/1', '/p/2', '/missing', '/p/3']);
    expect(text.match(/HTTP\/1\.1 (\d+)/g)).toEqual([
      'HTTP/1.1 200',
      'HTTP/1.1 200',
      'HTTP/1.1 404',
      'HTTP/1.1 200',
    ]);
    await settled(monitor, 4);
    expect(byRoute(monitor)['/p/:n']).toMatchObject({ count: 3, errors: 0 });
    expect(byRoute(monitor)['/missing']).toMatchObject({ count: 1 });
    expect(valuesByRoute(monitor, 'http.server.response.body.size')).toMatchObject({
      '/p/:n': 24,
      '/missing': 2,
    });
    expect(series(monitor, 'http.server.active_requests').map(countOf)).toEqual([0]);
  });

  it("records requests Node's HTTP channels do not report: inject() and HTTP/2, aborts once", async () => {
    const { monitor } = newMonitor();
    // inject(): light-my-request's request and response, never on a socket.
    const plain = newApp();
    await plain.register(prsmFastify, { monitor });
    plain.get('/in/:id', (request) => ({ id: (request.params as { id: string }).id }));
    const injected = await plain.inject({ method: 'GET', url: '/in/1' });
    expect(injected.json()).toEqual({ id: '1' });
    const app = resources.track(Fastify({ http2: true, forceCloseConnections: true }));
    await app.register(prsmFastify, { monitor });
    let respond: (() => void) | undefined;
    let arrived = false;
    app.get('/h2/:id', (request) => ({ id: (request.params as { id: string }).id }));
    // Streamed (no Content-Length): its bytes counted through the response's write.
    app.get('/h2s', () => Readable.from([Buffer.from('abc'), Buffer.from('defg')]));
    app.get('/wait/:n', (_request, reply) => {
      arrived = true;
      respond = () => void reply.send('late');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const session = connect(`http://127.0.0.1:${address.port}`);
    try {
      const get = (path: string): Promise<string> =>
        new Promise<string>((resolve, reject) => {
          const stream = session.request({ ':path': path });
          let text = '';
          stream.setEncoding('utf8');
          stream.on('data', (chunk: string) => (text += chunk));
          stream.on('end', () => resolve(text));
          stream.on('error', reject);
          stream.end();
        });
      expect(JSON.parse(await get('/h2/2'))).toEqual({ id: '2' });
      expect(await get('/h2s')).toBe('abcdefg');
      const waiting = session.request({ ':path': '/wait/1' });
      waiting.on('error', () => undefined);
      waiting.end();
      await waitFor(() => arrived);
      waiting.close(constants.NGHTTP2_CANCEL);
      await waitFor(() => durations(monitor).some((d) => d.tags['http.route'] === '/wait/:n'));
      respond?.();
      await sleep(50);
    } finally {
      session.destroy();
    }
    const r = byRoute(monitor);
    expect(r['/in/:id']).toMatchObject({ count: 1, errors: 0 });
    expect(r['/in/:id']?.tags['http.response.status_code']).toBe('200');
    expect(r['/h2/:id']).toMatchObject({ count: 1, errors: 0 });
    expect(r['/h2/:id']?.tags['http.response.status_code']).toBe('200');
    expect(valuesByRoute(monitor, 'http.server.response.body.size')).toMatchObject({
      '/in/:id': 10,
      '/h2/:id': 10,
      '/h2s': 7,
    });
    expect(r['/wait/:n']).toMatchObject({
      count: 1,
      tags: { 'http.response.status_code': '499' },
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
    await driveStreamScenario(url, monitor);
  });

  it('counts the bytes of web streams, Response bodies and payloads sent with trailers', async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    const encoder = new TextEncoder();
    // Fastify reads these chunk by chunk into raw.write: no pipe, no Content-Length.
    app.get(
      '/web',
      () =>
        new ReadableStream({
          start(controller) {
            controller.enqueue(encoder.encode('a'.repeat(300)));
            controller.enqueue(encoder.encode('é'));
            controller.close();
          },
        }),
    );
    app.get('/response', () => new Response('b'.repeat(120), { status: 201 }));
    app.get('/trailers', (_request, reply) => {
      reply.trailer('x-checksum', (_reply, _payload, done) => done(null, 'ok'));
      return reply.type('text/plain').send('c'.repeat(50));
    });
    const url = await serve(app);
    const bodies: Record<string, number> = {};
    for (const path of ['/web', '/response', '/trailers']) {
      const response = await fetch(`${url}${path}`);
      expect(response.headers.get('content-length')).toBeNull();
      bodies[path] = Buffer.byteLength(await response.text());
    }
    expect(bodies).toEqual({ '/web': 302, '/response': 120, '/trailers': 50 });
    await settled(monitor, 3);
    expect(valuesByRoute(monitor, 'http.server.response.body.size')).toEqual(bodies);
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
    let traceId = (): string => '';
    const app = Fastify({
      forceCloseConnections: true,
      serverFactory: (handler) => {
        const standIn = withStandInServerSpan(handler);
        traceId = standIn.traceId;
        return createServer(standIn.listener);
      },
    });
    resources.track(app);
    await app.register(prsmFastify, { monitor });
    app.get('/things/:id', () => 'ok');
    const url = await serve(app);
    await driveAdoptedSpanScenario(url, monitor, () => traceId());
  });

  it('feeds 401, 403 and 429 to monitor.security, whose detector raises incidents', async () => {
    const { monitor } = resources.monitor({ scenario: true });
    const app = newApp();
    await app.register(prsmFastify, { monitor, user: userHeader });
    app.get('/admin/:section', (request, reply) =>
      reply
        .header('RateLimit', 'limit=100, remaining=25, reset=5')
        .code(securityAnswer(request.headers))
        .send('no'),
    );
    const url = await serve(app);
    await driveSecurityScenario(url, monitor);
  });

  it('reads the quota and body sizes from headers set on the reply or on the raw response', async () => {
    const { monitor } = newMonitor();
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    app.get('/reply', (_request, reply) =>
      reply.header('X-RateLimit-Limit', '50').header('X-RateLimit-Remaining', '25').send('ok'),
    );
    app.get('/raw', (_request, reply) => {
      reply.raw.setHeader('RateLimit-Limit', '100');
      reply.raw.setHeader('RateLimit-Remaining', '10');
      return reply.send('ok');
    });
    app.post('/echo', (_request, reply) => reply.send('ok'));
    app.get('/none', () => 'ok');
    const url = await serve(app);
    for (const path of ['/reply', '/raw', '/none']) {
      expect(await (await fetch(url + path)).text()).toBe('ok');
    }
    const posted = await fetch(`${url}/echo`, {
      method: 'POST',
      body: JSON.stringify({ n: 12345 }),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(await posted.text()).toBe('ok');
    await settled(monitor, 4);
    expect(valuesByRoute(monitor, 'http.server.rate_limit.utilization')).toEqual({
      '/reply': 0.5,
      '/raw': 0.9,
    });
    expect(valuesByRoute(monitor, 'http.server.request.body.size')).toEqual({ '/echo': 11 });
    expect(valuesByRoute(monitor, 'http.server.response.body.size')).toEqual({
      '/reply': 2,
      '/raw': 2,
      '/none': 2,
      '/echo': 2,
    });
  });

  it('feeds every client address to the request-rate baseline', async () => {
    const { monitor, clock } = resources.monitor({ scenario: true });
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    app.get('/ping', () => 'pong');
    const url = await serve(app);
    await driveRequestRateScenario(url, '/ping', monitor, clock);
  });

  it('answers the API-gateway view and monitor.analytics from real traffic', async () => {
    const { monitor, clock } = resources.monitor({ scenario: true });
    const app = newApp();
    await app.register(prsmFastify, { monitor });
    app.get('/gw/items/:id', (request, reply) => {
      const q = gatewayQuery(request.query as Record<string, unknown>);
      clock.advance(q.delay);
      if (q.remaining !== undefined) {
        void reply.header('RateLimit-Limit', '100').header('RateLimit-Remaining', q.remaining);
      }
      return reply.code(q.status).send('ok');
    });
    const url = await serve(app);
    await driveGatewayScenario(url, monitor, clock, (m) => apiGatewayReport(m));
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
    await driveOptionsScenario(url, monitor);
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

  it('declares the Fastify majors it supports to fastify-plugin checks', () => {
    const meta = (prsmFastify as unknown as Record<symbol, { fastify?: string } | undefined>)[
      Symbol.for('plugin-meta')
    ];
    expect(meta?.fastify).toBe('4.x || 5.x');
  });

  it('keeps VERSION equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  });
});
