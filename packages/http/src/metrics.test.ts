/**
 * HttpMetrics driven by the smallest adapter there is: a plain `node:http` server on
 * 127.0.0.1 that begins a request, lets the handler answer, and ends it on `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DiagnosticCode, type ManualClock, type Monitor, type MonitorApi } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { HttpMetrics } from './metrics.js';
import { byRoute, countOf, listen, series, settled, testResources } from './test-support.js';

const resources = testResources();

function newMonitor(): { monitor: Monitor; clock: ManualClock } {
  return resources.monitor();
}

/** A bare adapter: the route is the path's first segment as a template. */
async function serveBare(
  metrics: HttpMetrics<IncomingMessage>,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  const r = await listen((req, res) => {
    const state = metrics.begin(req.method, req.headers['content-length']);
    if (state !== undefined) {
      res.on('close', () => {
        const status = res.statusCode;
        metrics.end(state, {
          route:
            metrics.callOption(metrics.options.routeLabel, req, 'routeLabel') ??
            metrics.unmatchedRoute,
          statusCode: status,
          aborted: !res.writableFinished,
          responseLength: undefined,
          clientAddress: req.socket.remoteAddress,
          user: metrics.wantsUser(status)
            ? metrics.callOption(metrics.options.user, req, 'user')
            : undefined,
          extraTags: metrics.callOption(metrics.options.tags, req, 'tags'),
          headers: res,
        });
      });
    }
    handler(req, res);
  });
  resources.track(r);
  return r.url;
}

describe('HttpMetrics', () => {
  it('records duration, count, sizes and in-flight requests on the monitor clock', async () => {
    const { monitor, clock } = newMonitor();
    const metrics = new HttpMetrics<IncomingMessage>(
      { monitor, routeLabel: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) },
      'bare',
    );
    const inFlight: number[] = [];
    const url = await serveBare(metrics, (req, res) => {
      inFlight.push(
        series(monitor, 'http.server.active_requests').reduce((n, s) => n + countOf(s), 0),
      );
      clock.advance(req.url === '/users/2' ? 30 : 10);
      res.statusCode = req.url === '/users/2' ? 503 : 200;
      res.setHeader('content-length', '2');
      res.end('ok');
    });
    await (await fetch(`${url}/users/1`, { method: 'POST', body: 'x'.repeat(40) })).text();
    await (await fetch(`${url}/users/2`)).text();
    // An extension method Node's parser knows but the tags do not.
    await (await fetch(`${url}/elsewhere`, { method: 'PROPFIND' })).text();
    await settled(monitor, 3);
    expect(inFlight).toEqual([1, 1, 1]);
    expect(Object.keys(byRoute(monitor)).sort()).toEqual(['(unmatched)', '/users/:id']);
    const rows = series(monitor, 'http.server.request.duration').map((s) => [
      s.tags['http.request.method'],
      s.tags['http.route'],
      s.tags['http.response.status_code'],
      s.tags['http.response.status_class'],
      countOf(s),
      s.type === 'timer' ? [s.cumulative.sum, s.cumulative.errors] : [],
    ]);
    expect(rows).toEqual([
      ['POST', '/users/:id', '200', '2xx', 1, [10, 0]],
      ['GET', '/users/:id', '503', '5xx', 1, [30, 1]],
      ['_OTHER', '(unmatched)', '200', '2xx', 1, [10, 0]],
    ]);
    // fetch declares `Content-Length: 0` for a PROPFIND without a body; a GET declares none.
    const sizes = series(monitor, 'http.server.request.body.size').filter((s) => countOf(s) > 0);
    expect(
      sizes.map((s) => [s.tags['http.route'], s.type === 'histogram' && s.cumulative.sum]),
    ).toEqual([
      ['/users/:id', 40],
      ['(unmatched)', 0],
    ]);
    expect(series(monitor, 'http.server.active_requests').map((s) => countOf(s))).toEqual([
      0, 0, 0,
    ]);
  });

  it('ends a request once, whatever calls end again', () => {
    const { monitor } = newMonitor();
    const metrics = new HttpMetrics<unknown>({ monitor }, 'bare');
    const state = metrics.begin('GET', undefined)!;
    const outcome = {
      route: '/x',
      statusCode: 200,
      aborted: false,
      responseLength: 5,
      clientAddress: undefined,
      user: undefined,
      extraTags: { tenant: 'acme' },
      headers: { getHeader: (): unknown => undefined },
    };
    metrics.end(state, outcome);
    metrics.end(state, outcome);
    expect(
      series(monitor, 'http.server.requests').map((s) => [s.tags['tenant'], countOf(s)]),
    ).toEqual([['acme', 1]]);
    expect(series(monitor, 'http.server.active_requests').map(countOf)).toEqual([0]);
  });

  it('counts its own failures in diagnostics and never throws into the app', () => {
    const { monitor } = newMonitor();
    const metrics = new HttpMetrics<unknown>(
      {
        monitor,
        routeLabel: () => {
          throw new Error('label bug');
        },
      },
      'bare',
    );
    expect(metrics.callOption(metrics.options.routeLabel, {}, 'routeLabel')).toBeUndefined();
    const state = metrics.begin('GET', undefined)!;
    metrics.end(state, {
      route: '/x',
      statusCode: 200,
      aborted: false,
      responseLength: undefined,
      clientAddress: undefined,
      user: undefined,
      extraTags: undefined,
      headers: {
        getHeader: (): unknown => {
          throw new Error('header bug');
        },
      },
    });
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(2);
  });

  it('records nothing into a disabled monitor, and feeds no security sink it lacks', () => {
    const { monitor } = newMonitor();
    // A MonitorApi without `security` (a wrapper, the no-op monitor): metrics only.
    const bare: MonitorApi = {
      enabled: true,
      recordMetric: (m) => monitor.recordMetric(m),
      counter: (n, o) => monitor.counter(n, o),
      gauge: (n, o) => monitor.gauge(n, o),
      histogram: (n, o) => monitor.histogram(n, o),
      timer: (n, o) => monitor.timer(n, o),
    };
    const off: MonitorApi = { ...bare, enabled: false };
    expect(
      new HttpMetrics<unknown>({ monitor: off }, 'bare').begin('GET', undefined),
    ).toBeUndefined();
    const metrics = new HttpMetrics<unknown>({ monitor: bare }, 'bare');
    expect(metrics.instruments().security).toBeUndefined();
    const state = metrics.begin('GET', undefined)!;
    metrics.end(state, {
      route: '/login',
      statusCode: 401,
      aborted: false,
      responseLength: undefined,
      clientAddress: '10.0.0.1',
      user: 'alice',
      extraTags: undefined,
      headers: { getHeader: (): unknown => undefined },
    });
    expect(series(monitor, 'http.server.requests').map(countOf)).toEqual([1]);
    expect(series(monitor, 'security.auth.attempts')).toEqual([]);
  });

  it('feeds monitor.security unless security is false, asking for the user only when needed', () => {
    const { monitor } = newMonitor();
    const asked: number[] = [];
    const make = (security: boolean) =>
      new HttpMetrics<number>(
        {
          monitor,
          security,
          user: (code) => {
            asked.push(code);
            return 'u';
          },
        },
        'bare',
      );
    for (const security of [true, false]) {
      const metrics = make(security);
      for (const code of [200, 401, 404, 403, 429, 500]) {
        expect(metrics.wantsUser(code)).toBe(security && [401, 403, 429].includes(code));
        if (metrics.wantsUser(code)) metrics.callOption(metrics.options.user, code, 'user');
        const state = metrics.begin('GET', undefined)!;
        metrics.end(state, {
          route: '/r',
          statusCode: code,
          aborted: false,
          responseLength: undefined,
          clientAddress: '10.0.0.1',
          user: 'u',
          extraTags: undefined,
          headers: { getHeader: (): unknown => undefined },
        });
      }
    }
    expect(asked).toEqual([401, 403, 429]);
    const total = (name: string): number =>
      series(monitor, name).reduce((n, s) => n + countOf(s), 0);
    expect([
      total('security.auth.attempts'),
      total('security.authz.checks'),
      total('security.rate_limited'),
    ]).toEqual([1, 1, 1]);
  });

  it('rejects bad options with a TypeError naming the adapter', () => {
    const bad: unknown[] = [
      7,
      { component: '' },
      { component: 3 },
      { unmatchedRoute: '' },
      { ignorePaths: '/x' },
      { ignorePaths: [1] },
      { routeLabel: 'x' },
      { tags: {} },
      { user: 1 },
      { tracing: 'yes' },
      { security: 1 },
      { monitor: {} },
    ];
    for (const options of bad) {
      expect(
        () => new HttpMetrics(options as Record<string, never>, 'myAdapter'),
        JSON.stringify(options),
      ).toThrow(/^myAdapter: /);
    }
    expect(() => new HttpMetrics(undefined, 'myAdapter')).not.toThrow();
  });

  it('matches ignorePaths exactly or by RegExp', () => {
    const metrics = new HttpMetrics<unknown>({ ignorePaths: ['/healthz', /^\/static\//] }, 'bare');
    expect(
      ['/healthz', '/healthz/', '/static/a.js', '/api'].map((p) => metrics.ignored(p)),
    ).toEqual([true, false, true, false]);
  });
});
