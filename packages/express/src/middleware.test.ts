import { readFileSync } from 'node:fs';
import express5 from 'express';
import express4 from 'express4';
import type { NextFunction, Request, Response } from 'express';
import { trace } from '@opentelemetry/api';
import { ManualClock, Monitor } from '@prsm/core';
import { describe, expect, it, vi } from 'vitest';
import { apiGatewayReport } from './index.js';
import { prsmExpress, prsmExpressErrors } from './middleware.js';
import { VERSION } from './version.js';
import { trackedRequest } from '@prsm/http';
import {
  abortAfterSend,
  countOf,
  driveAdoptedSpanScenario,
  driveOptionsScenario,
  driveAbortScenario,
  driveGatewayScenario,
  driveRequestRateScenario,
  driveSecurityScenario,
  driveStreamScenario,
  durations,
  gatewayQuery,
  listen,
  type Running,
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

const majors = [
  ['express 5', express5],
  ['express 4', express4],
] as const;

const resources = testResources();

function newMonitor(tracing = false): { monitor: Monitor; clock: ManualClock } {
  return resources.monitor({ tracing });
}

async function serve(app: Parameters<typeof listen>[0]): Promise<Running> {
  return resources.track(await listen(app));
}

function routes(monitor: Monitor): string[] {
  return durations(monitor)
    .map((d) => d.tags['http.route']!)
    .sort();
}

describe.each(majors)('%s', (_name, express) => {
  it('tags requests by route template with mount paths, never by raw URL', async () => {
    const { monitor } = newMonitor();
    const app = express();
    app.use(prsmExpress({ monitor }));
    app.get('/users/:id', (req, res) => {
      res.json({ id: req.params['id'] });
    });
    const items = express.Router();
    items.get('/items/:itemId', (_req, res) => {
      res.send('item');
    });
    const v1 = express.Router();
    v1.use('/shop', items);
    app.use('/api/v1', v1);
    const members = express.Router({ mergeParams: true });
    members.get('/members/:memberId', (_req, res) => {
      res.send('member');
    });
    app.use('/orgs/:org', members);
    const sub = express();
    sub.get('/ping/:n', (_req, res) => {
      res.send('pong');
    });
    app.use('/v2', sub);
    const { url } = await serve(app);

    for (const path of [
      '/users/1',
      '/users/2',
      '/api/v1/shop/items/9',
      '/orgs/acme/members/7',
      '/orgs/globex/members/8',
      '/no/such/path',
      '/another/missing?x=1',
      '/v2/ping/1',
    ]) {
      await (await fetch(url + path)).text();
    }
    await settled(monitor, 8);
    expect(routes(monitor)).toEqual([
      '(unmatched)',
      '/api/v1/shop/items/:itemId',
      '/orgs/:org/members/:memberId',
      '/users/:id',
      '/v2/ping/:n',
    ]);
    const byRoute = Object.fromEntries(
      durations(monitor).map((d) => [d.tags['http.route'] ?? '', d]),
    );
    expect(byRoute['/users/:id']).toMatchObject({
      count: 2,
      tags: {
        'http.request.method': 'GET',
        'http.response.status_code': '200',
        'http.response.status_class': '2xx',
      },
    });
    expect(byRoute['(unmatched)']).toMatchObject({
      count: 2,
      errors: 0,
      tags: { 'http.response.status_code': '404', 'http.response.status_class': '4xx' },
    });
    const requests = series(monitor, 'http.server.requests');
    expect(requests.reduce((n, s) => n + countOf(s), 0)).toBe(8);
    expect(requests.every((s) => s.component === 'api_gateway')).toBe(true);
    const active = series(monitor, 'http.server.active_requests');
    expect(active.map((s) => [s.tags['http.request.method'], countOf(s)])).toEqual([['GET', 0]]);
  });

  it('times requests on the monitor clock and flags 5xx and thrown errors', async () => {
    const { monitor, clock } = newMonitor();
    const app = express();
    app.use(prsmExpress({ monitor }));
    app.get('/slow', (_req, res) => {
      clock.advance(25);
      res.send('ok');
    });
    app.get('/fail', (_req, res) => {
      res.status(503).send('down');
    });
    const thrown = new Error('boom');
    app.get('/throw', () => {
      throw thrown;
    });
    app.get('/async', (_req: Request, _res: Response, next: NextFunction) => {
      // Express 4 does not catch rejections: the handler forwards them, as apps do.
      Promise.reject(new Error('rejected')).catch(next);
    });
    const nested = express.Router();
    nested.get('/fail/:id', () => {
      throw new Error('deep');
    });
    app.use('/api/:version', nested);
    app.use(prsmExpressErrors());
    const seen: unknown[] = [];
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      seen.push(error);
      res.status(418).send('handled');
    });
    const { url } = await serve(app);

    expect((await fetch(`${url}/slow`)).status).toBe(200);
    expect((await fetch(`${url}/fail`)).status).toBe(503);
    const threw = await fetch(`${url}/throw`);
    expect([threw.status, await threw.text()]).toEqual([418, 'handled']);
    expect((await fetch(`${url}/async`)).status).toBe(418);
    expect((await fetch(`${url}/api/v2/fail/3`)).status).toBe(418);
    await settled(monitor, 5);
    expect(seen[0]).toBe(thrown);
    const byRoute = Object.fromEntries(
      durations(monitor).map((d) => [d.tags['http.route'] ?? '', d]),
    );
    expect(byRoute['/slow']).toMatchObject({ count: 1, errors: 0, sum: 25 });
    expect(byRoute['/fail']).toMatchObject({ count: 1, errors: 1 });
    expect(byRoute['/throw']).toMatchObject({
      count: 1,
      errors: 1,
      tags: { 'http.response.status_code': '418' },
    });
    expect(byRoute['/async']).toMatchObject({ count: 1, errors: 1 });
    // The router reset req.baseUrl before the app-level error handler answered.
    expect(byRoute['/api/:version/fail/:id']).toMatchObject({ count: 1, errors: 1 });
  });

  it('leaves the default error handling unchanged: same status and error', async () => {
    const { monitor } = newMonitor();
    const app = express();
    app.set('env', 'production');
    app.use(prsmExpress({ monitor }));
    app.get('/throw', () => {
      throw new Error('secret detail');
    });
    app.use(prsmExpressErrors());
    const { url } = await serve(app);
    // Express's final handler logs the error to stderr; kept out of the test output.
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const res = await fetch(`${url}/throw`);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain('secret detail');
    await settled(monitor, 1);
    await sleep(10);
    log.mockRestore();
    expect(durations(monitor)[0]).toMatchObject({ errors: 1, tags: { 'http.route': '/throw' } });
  });

  it('records an aborted request once, as 499', async () => {
    const { monitor } = newMonitor();
    const app = express();
    app.use(prsmExpress({ monitor }));
    let arrived = false;
    let respond: (() => void) | undefined;
    app.get('/wait/:n', (_req, res) => {
      arrived = true;
      respond = () => {
        res.send('late');
      };
    });
    const { url } = await serve(app);
    await driveAbortScenario(
      url,
      monitor,
      () => arrived,
      () => respond?.(),
    );
  });

  it("follows a server's requests from its second on (no listener of their own): finished and aborted ones recorded once", async () => {
    const { monitor } = newMonitor();
    const app = express();
    app.use(prsmExpress({ monitor }));
    const followed: (boolean | undefined)[] = [];
    let arrived = false;
    let respond: (() => void) | undefined;
    app.get('/ok/:id', (req, res) => {
      followed.push(trackedRequest(req, res)?.followed);
      res.send('ok');
    });
    app.get('/wait/:n', (req, res) => {
      followed.push(trackedRequest(req, res)?.followed);
      arrived = true;
      respond = () => {
        res.send('late');
      };
    });
    const { url } = await serve(app);
    for (const id of ['1', '2', '3'])
      expect(await (await fetch(`${url}/ok/${id}`)).text()).toBe('ok');
    await abortAfterSend(url, '/wait/1', () => waitFor(() => arrived));
    await settled(monitor, 4);
    respond?.();
    await sleep(50);
    // The first request of the server had a listener of its own (the tracker does not
    // know it); the tracker followed the rest.
    expect(followed).toEqual([undefined, true, true, true]);
    expect(
      durations(monitor)
        .map((d) => [d.tags['http.route'], d.tags['http.response.status_code'], d.count])
        .sort(),
    ).toEqual([
      ['/ok/:id', '200', 3],
      ['/wait/:n', '499', 1],
    ]);
    expect(series(monitor, 'http.server.aborted_requests').map(countOf)).toEqual([1]);
    expect(series(monitor, 'http.server.active_requests').map(countOf)).toEqual([0]);
  });

  it('reads the rate-limit quota however its headers were set, and only from responses that set one', async () => {
    const { monitor } = newMonitor();
    const app = express();
    app.use(prsmExpress({ monitor }));
    app.get('/set', (_req, res) => {
      res.set('RateLimit-Limit', '100');
      res.set('RateLimit-Remaining', '10');
      res.send('ok');
    });
    app.get('/append', (_req, res) => {
      res.appendHeader('X-RateLimit-Limit', '50');
      res.setHeader('x-ratelimit-remaining', '25');
      res.send('ok');
    });
    app.get('/write-head', (_req, res) => {
      res.setHeader('X-Other', '1');
      res.writeHead(200, { RateLimit: 'limit=10, remaining=1' });
      res.end('ok');
    });
    app.get('/none', (_req, res) => res.send('ok'));
    const { url } = await serve(app);
    // Twice each: a server's first request is not followed by the tracker, the rest are.
    for (const path of [
      '/set',
      '/append',
      '/write-head',
      '/none',
      '/set',
      '/append',
      '/write-head',
      '/none',
    ]) {
      expect(await (await fetch(url + path)).text()).toBe('ok');
    }
    await settled(monitor, 8);
    expect(valuesByRoute(monitor, 'http.server.rate_limit.utilization')).toEqual({
      '/set': 0.9,
      '/append': 0.5,
      '/write-head': 0.9,
    });
  });

  it('measures streamed responses by the bytes written and requests by Content-Length', async () => {
    const { monitor } = newMonitor();
    const app = express();
    app.use(prsmExpress({ monitor }));
    app.get('/stream', (_req, res) => {
      res.write('a'.repeat(1000));
      setTimeout(() => {
        res.write(Buffer.alloc(500));
        res.end('é');
      }, 5);
    });
    app.post('/echo', (req, res) => {
      req.resume();
      req.on('end', () => res.json({ ok: true }));
    });
    const { url } = await serve(app);
    await driveStreamScenario(url, monitor);
  });

  it("counts streamed bytes from Express's response prototype, or around another middleware's wrappers", async () => {
    const { monitor } = newMonitor();
    const app = express();
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (req.path === '/wrapped') {
        // What compression-like middleware does: its own write/end on the response.
        const methods = res as unknown as Record<'write' | 'end', (...args: unknown[]) => unknown>;
        const write = methods.write;
        const end = methods.end;
        methods.write = function (this: Response, ...args: unknown[]): unknown {
          return Reflect.apply(write, this, args);
        };
        methods.end = function (this: Response, ...args: unknown[]): unknown {
          return Reflect.apply(end, this, args);
        };
      }
      next();
    });
    app.use(prsmExpress({ monitor }));
    const ownMethods: string[][] = [];
    const stream = (_req: Request, res: Response): void => {
      ownMethods.push(['write', 'end'].filter((m) => Object.hasOwn(res, m)));
      res.write('abc');
      res.end(Buffer.from('de'));
    };
    app.get('/plain', stream);
    app.get('/wrapped', stream);
    const { url } = await serve(app);
    for (const path of ['/plain', '/wrapped', '/plain']) {
      expect(await (await fetch(url + path)).text()).toBe('abcde');
    }
    await settled(monitor, 3);
    // Express's responses keep their prototype's methods: no per-response assignment.
    expect(ownMethods).toEqual([[], ['write', 'end'], []]);
    const sizes = series(monitor, 'http.server.response.body.size').map((s) => [
      s.tags['http.route'],
      s.type === 'histogram' ? [s.cumulative.count, s.cumulative.sum] : [],
    ]);
    expect(sizes).toEqual([
      ['/plain', [2, 10]],
      ['/wrapped', [1, 5]],
    ]);
  });

  it('continues an incoming traceparent with an active SERVER span', async () => {
    const { monitor } = newMonitor(true);
    const app = express();
    app.use(prsmExpress({ monitor, traceResponseHeader: true, serverTimingHeader: true }));
    const seen: { active?: string; locals?: unknown } = {};
    app.get('/orders/:id', async (_req, res) => {
      await sleep(1);
      seen.active = trace.getActiveSpan()?.spanContext().spanId;
      seen.locals = res.locals['prsmTraceId'];
      const child = trace.getTracer('test').startSpan('load order');
      child.end();
      res.send('ok');
    });
    const { url } = await serve(app);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const res = await fetch(`${url}/orders/5`, {
      headers: { traceparent: `00-${traceId}-${parent}-01`, tracestate: 'vendor=x' },
    });
    expect(res.status).toBe(200);
    await settled(monitor, 1);
    await waitFor(() => (monitor.traces.spans(traceId)?.length ?? 0) === 2);
    const spans = monitor.traces.spans(traceId)!;
    const server = spans.find((s) => s.name === 'GET /orders/:id')!;
    expect(server).toBeDefined();
    expect(server.parentSpanId).toBe(parent);
    expect(server.attributes).toMatchObject({
      'http.route': '/orders/:id',
      'http.request.method': 'GET',
      'http.response.status_code': 200,
    });
    expect(seen).toEqual({ active: server.spanId, locals: traceId });
    expect(spans.find((s) => s.name === 'load order')?.parentSpanId).toBe(server.spanId);
    expect(res.headers.get('traceresponse')).toBe(`00-${traceId}-${server.spanId}-01`);
    expect(res.headers.get('server-timing')).toBe(
      `traceparent;desc="00-${traceId}-${server.spanId}-01"`,
    );
  });

  it('reuses an active SERVER span instead of starting a second', async () => {
    const { monitor } = newMonitor(true);
    const app = express();
    app.use(prsmExpress({ monitor }));
    app.get('/things/:id', (_req, res) => {
      res.send('ok');
    });
    const standIn = withStandInServerSpan(app);
    const { url } = await serve(standIn.listener);
    await driveAdoptedSpanScenario(url, monitor, standIn.traceId);
  });

  it('feeds 401, 403 and 429 to monitor.security, whose detector raises incidents', async () => {
    const { monitor } = resources.monitor({ scenario: true });
    const app = express();
    app.use(prsmExpress({ monitor, user: userHeader }));
    app.get('/admin/:section', (req, res) => {
      res.setHeader('RateLimit-Limit', '100');
      res.setHeader('RateLimit-Remaining', '25');
      res.status(securityAnswer(req.headers)).send('no');
    });
    const { url } = await serve(app);
    await driveSecurityScenario(url, monitor);
  });

  it('feeds every client address to the request-rate baseline', async () => {
    const { monitor, clock } = resources.monitor({ scenario: true });
    const app = express();
    app.use(prsmExpress({ monitor }));
    app.get('/ping', (_req, res) => {
      res.send('pong');
    });
    const { url } = await serve(app);
    await driveRequestRateScenario(url, '/ping', monitor, clock);
  });

  it('answers the API-gateway view and monitor.analytics from real traffic', async () => {
    const { monitor, clock } = resources.monitor({ scenario: true });
    const app = express();
    app.use(prsmExpress({ monitor }));
    app.get('/gw/items/:id', (req, res) => {
      const q = gatewayQuery(req.query);
      clock.advance(q.delay);
      if (q.remaining !== undefined) {
        res.setHeader('RateLimit-Limit', '100');
        res.setHeader('RateLimit-Remaining', q.remaining);
      }
      res.status(q.status).send('ok');
    });
    const { url } = await serve(app);
    await driveGatewayScenario(url, monitor, clock, (m) => apiGatewayReport(m));
  });

  it('honours ignorePaths, routeLabel and tags, and survives options that throw', async () => {
    const { monitor } = newMonitor();
    const app = express();
    app.use(
      prsmExpress({
        monitor,
        ignorePaths: ['/healthz', /^\/static\//],
        routeLabel: (req) => {
          if (req.headers['x-break'] !== undefined) throw new Error('label bug');
          return req.path === '/legacy' ? 'legacy' : undefined;
        },
        tags: (req) => ({ tenant: String(req.headers['x-tenant'] ?? 'none') }),
      }),
    );
    app.get('/healthz', (_req, res) => {
      res.send('ok');
    });
    app.get('/static/app.js', (_req, res) => {
      res.send('js');
    });
    app.get('/legacy', (_req, res) => {
      res.send('old');
    });
    app.get('/x', (_req, res) => {
      res.send('x');
    });
    const { url } = await serve(app);
    await driveOptionsScenario(url, monitor);
  });
});

/** The layers of an Express app's router whose handle is `fn`. */
function layersOf(router: unknown, fn: unknown): number {
  const stack = (router as { stack: { handle: unknown }[] }).stack;
  return stack.filter((layer) => layer.handle === fn).length;
}

describe('express 5: run from the router', () => {
  it("begins requests from the app router's handle once the middleware is its first layer", async () => {
    const { monitor } = newMonitor(true);
    const app = express5();
    const middleware = prsmExpress({ monitor });
    app.use(middleware);
    app.use(express5.json());
    const seen: { active?: string; locals?: unknown }[] = [];
    app.post('/orders/:id', async (req, res) => {
      await sleep(1);
      seen.push({
        active: trace.getActiveSpan()?.spanContext().spanId,
        locals: res.locals['prsmTraceId'],
      });
      res.json({ id: req.params['id'], got: (req.body as { n?: number }).n });
    });
    // A handler that dispatches the request into the app again (an internal redirect).
    app.get('/old/:id', (req, res) => {
      req.url = `/new/${req.params['id']}`;
      // `app.handle` is Express's own, left out of its types.
      (app as unknown as { handle: (...args: unknown[]) => void }).handle(req, res, () =>
        res.status(500).end(),
      );
    });
    app.get('/new/:id', (_req, res) => {
      res.send('moved');
    });
    const { url } = await serve(app);
    expect(layersOf(app.router, middleware)).toBe(1);
    expect(Object.hasOwn(app.router, 'handle')).toBe(false);

    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parents = ['00f067aa0ba902b7', '00f067aa0ba902b8', '00f067aa0ba902b9'];
    for (const [i, parent] of parents.entries()) {
      const res = await fetch(`${url}/orders/${i}`, {
        method: 'POST',
        headers: { traceparent: `00-${traceId}-${parent}-01`, 'content-type': 'application/json' },
        body: JSON.stringify({ n: i }),
      });
      expect(await res.json()).toEqual({ id: String(i), got: i });
      // Taken out of the router by the first request; the router's handle begins the next.
      expect(layersOf(app.router, middleware)).toBe(0);
      expect(Object.hasOwn(app.router, 'handle')).toBe(true);
    }
    expect(await (await fetch(`${url}/old/7`)).text()).toBe('moved');
    await settled(monitor, 4);
    await waitFor(() => (monitor.traces.spans(traceId)?.length ?? 0) === 3);
    const spans = monitor.traces.spans(traceId)!;
    // Each request's span continued its own traceparent, and was active in its handler.
    expect(spans.map((s) => s.parentSpanId).sort()).toEqual(parents);
    expect(spans.every((s) => s.name === 'POST /orders/:id')).toBe(true);
    expect(seen).toEqual(
      parents.map((parent) => ({
        active: spans.find((s) => s.parentSpanId === parent)!.spanId,
        locals: traceId,
      })),
    );
    // Recorded once each, the dispatched one under the route that answered it.
    expect(valuesByRoute(monitor, 'http.server.requests')).toEqual({
      '/orders/:id': 3,
      '/new/:id': 1,
    });
  });

  it('stays a layer after other middleware, at a path, in a sub-app, and in Express 4', async () => {
    const { monitor } = newMonitor();
    const cases: { router: () => unknown; fn: unknown }[] = [];
    const later = express5();
    const afterJson = prsmExpress({ monitor, tags: () => ({ app: 'after-json' }) });
    later.use(express5.json());
    later.use(afterJson);
    later.get('/x', (_req, res) => {
      res.send('x');
    });
    cases.push({ router: () => later.router, fn: afterJson });
    const pathed = express5();
    const atPath = prsmExpress({ monitor, tags: () => ({ app: 'at-path' }) });
    pathed.use('/api', atPath);
    pathed.get('/api/x', (_req, res) => {
      res.send('x');
    });
    cases.push({ router: () => pathed.router, fn: atPath });
    const parent = express5();
    const sub = express5();
    const inSub = prsmExpress({ monitor, tags: () => ({ app: 'sub-app' }) });
    sub.use(inSub);
    sub.get('/x', (_req, res) => {
      res.send('x');
    });
    parent.use('/sub', sub);
    cases.push({ router: () => sub.router, fn: inSub });
    const old = express4();
    const inExpress4 = prsmExpress({ monitor, tags: () => ({ app: 'express-4' }) });
    old.use(inExpress4);
    old.get('/x', (_req, res) => {
      res.send('x');
    });
    cases.push({ router: () => (old as unknown as { _router: unknown })._router, fn: inExpress4 });

    for (const [app, path] of [
      [later, '/x'],
      [pathed, '/api/x'],
      [parent, '/sub/x'],
      [old, '/x'],
    ] as const) {
      const { url } = await serve(app);
      for (let i = 0; i < 2; i++) expect(await (await fetch(url + path)).text()).toBe('x');
    }
    for (const { router, fn } of cases) {
      expect(layersOf(router(), fn)).toBe(1);
      expect(Object.hasOwn(router() as object, 'handle')).toBe(false);
    }
    await settled(monitor, 8);
    const byApp = Object.fromEntries(
      durations(monitor).map((d): [string, number] => [d.tags['app'] ?? '', d.count]),
    );
    expect(byApp).toEqual({ 'after-json': 2, 'at-path': 2, 'sub-app': 2, 'express-4': 2 });
  });
});

describe('package', () => {
  it('keeps VERSION equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  });

  it('uses the global monitor when none is given, resolved per request', async () => {
    const { setGlobalMonitor } = await import('@prsm/core');
    const app = express5();
    app.use(prsmExpress());
    app.get('/g', (_req, res) => {
      res.send('g');
    });
    const { url } = await serve(app);
    await fetch(`${url}/g`);
    const { monitor } = newMonitor();
    setGlobalMonitor(monitor);
    try {
      await fetch(`${url}/g`);
      await settled(monitor, 1);
      expect(durations(monitor).map((d) => d.count)).toEqual([1]);
    } finally {
      setGlobalMonitor(undefined);
    }
  });

  it('rejects bad options when the middleware is made', () => {
    expect(() => prsmExpress({ component: '' })).toThrow(TypeError);
    expect(() => prsmExpress({ ignorePaths: 'x' as unknown as string[] })).toThrow(TypeError);
  });
});
