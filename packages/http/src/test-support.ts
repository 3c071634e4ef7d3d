/**
 * Helpers of the HTTP packages' tests (`@prsm/http`, `@prsm/express`,
 * `@prsm/fastify`): real servers on 127.0.0.1, snapshot reads, waiting without a
 * fixed sleep, a client that disconnects. Exported to the adapters' tests as
 * `@prsm/http/test-support` under the `@prsm/source` condition only: never built nor
 * published.
 */
import { createServer, type RequestListener, request as httpRequest } from 'node:http';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { type AddressInfo, connect } from 'node:net';
import {
  DiagnosticCode,
  ManualClock,
  Monitor,
  type SecurityOptions,
  type SeriesSnapshot,
} from '@prsm/core';
import { afterEach, expect } from 'vitest';
import { type ApiGatewayReport, apiGatewayComponentSpecific } from './gateway.js';

/** A server listening on 127.0.0.1. */
export interface Running {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `handler` on a free port of 127.0.0.1. */
export async function listen(handler: RequestListener): Promise<Running> {
  const server = createServer(handler);
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The series of one metric name. */
export function series(monitor: Monitor, name: string): SeriesSnapshot[] {
  return monitor.snapshot({ digests: false }).series.filter((s) => s.name === name);
}

/**
 * One metric by `http.route`: a histogram's sum (series with samples only), a
 * counter's total, a gauge's value.
 */
export function valuesByRoute(monitor: Monitor, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of series(monitor, name)) {
    if (s.type === 'histogram' && s.cumulative.count === 0) continue;
    out[s.tags['http.route'] ?? ''] = s.type === 'histogram' ? s.cumulative.sum : countOf(s);
  }
  return out;
}

/** Total count of a timer/histogram or counter series (cumulative), or a gauge's value. */
export function countOf(s: SeriesSnapshot): number {
  if (s.type === 'counter') return s.total;
  if (s.type === 'gauge') return s.value;
  return s.cumulative.count;
}

/** One row per `http.server.request.duration` series: its tags, count, errors and sum. */
export function durations(
  monitor: Monitor,
): { tags: Record<string, string>; count: number; errors: number; sum: number }[] {
  return series(monitor, 'http.server.request.duration').map((s) => ({
    tags: { ...s.tags },
    count: countOf(s),
    errors: s.type === 'counter' || s.type === 'gauge' ? 0 : s.cumulative.errors,
    sum: s.type === 'counter' || s.type === 'gauge' ? 0 : s.cumulative.sum,
  }));
}

/** {@link durations} by `http.route`. */
export function byRoute(monitor: Monitor): Record<string, ReturnType<typeof durations>[number]> {
  return Object.fromEntries(durations(monitor).map((d) => [d.tags['http.route'] ?? '', d]));
}

/** Counter totals of `name` by the tags given, joined by a space. */
export function countsBy(
  monitor: Monitor,
  name: string,
  tags: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of series(monitor, name)) {
    const key = tags.map((t) => s.tags[t] ?? '').join(' ');
    out[key] = (out[key] ?? 0) + countOf(s);
  }
  return out;
}

/**
 * Totals of a counter of `monitor.security` (component `security`), keyed by its tag
 * values in tag-name order, joined by a space (`{ 'false failure': 3 }` for
 * `security.auth.attempts{mfa,outcome}`).
 */
export function securityCounts(monitor: Monitor, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of series(monitor, name)) {
    if (s.component !== 'security') continue;
    const key = Object.keys(s.tags)
      .sort()
      .map((t) => s.tags[t])
      .join(' ');
    out[key] = (out[key] ?? 0) + countOf(s);
  }
  return out;
}

/** Polls `check` every 5 ms until it holds (3 s at most). */
export async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits until `total` requests were recorded (responses are recorded after they are sent). */
export async function settled(monitor: Monitor, total: number): Promise<void> {
  await waitFor(() => durations(monitor).reduce((n, d) => n + d.count, 0) >= total);
}

/** Real time passing (for the event loop, never for the monitor's clock). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Raw HTTP/1.1 over one socket to 127.0.0.1:`port`: every request written at once
 * (pipelined), the last closing the connection; resolves with all the bytes answered.
 */
export function pipelined(port: number, paths: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    const last = paths.length - 1;
    socket.write(
      paths
        .map(
          (p, i) =>
            `GET ${p} HTTP/1.1\r\nHost: x\r\n${i === last ? 'Connection: close\r\n' : ''}\r\n`,
        )
        .join(''),
    );
  });
}

/** Sends a request and destroys it once the server has it (a client disconnect). */
export function abortAfterSend(
  url: string,
  path: string,
  onSent: () => Promise<void>,
): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}${path}`);
    req.on('error', () => resolve());
    req.end();
    void onSent().then(() => {
      req.destroy();
      resolve();
    });
  });
}

/** What {@link testResources} makes and cleans up after each test. */
export interface TestResources {
  /**
   * A monitor on a manual clock at a whole minute, shut down after the test. With
   * `scenario`, threat detection thresholds of 3 (brute force per user, authorization
   * denials) and a short request-rate rule (1 s buckets, 2 of warm-up, 5 requests at
   * least): what the security scenarios below expect. `security`: the monitor's own
   * security options instead.
   */
  monitor(options?: { tracing?: boolean; scenario?: boolean; security?: SecurityOptions }): {
    monitor: Monitor;
    clock: ManualClock;
  };
  /** Closes `closeable` after the test, before the monitors shut down. */
  track<T extends { close(): Promise<unknown> }>(closeable: T): T;
}

/** Registers an `afterEach` that closes what the test opened; call at a file's top level. */
export function testResources(): TestResources {
  let closeables: { close(): Promise<unknown> }[] = [];
  let monitors: Monitor[] = [];
  afterEach(async () => {
    const [c, m] = [closeables, monitors];
    closeables = [];
    monitors = [];
    await Promise.all(c.map((x) => x.close()));
    await Promise.all(m.map((x) => x.shutdown()));
  });
  return {
    monitor({ tracing = false, scenario = false, security } = {}) {
      const clock = new ManualClock(28_333_334 * 60_000);
      const monitor = new Monitor({
        clock,
        tracing,
        ...(scenario && {
          security: {
            defaultAlertRules: false,
            detection: {
              bruteForceUser: { threshold: 3, windowMs: 60_000 },
              authorizationDenials: { threshold: 3, windowMs: 60_000 },
              requestRate: { bucketMs: 1000, warmupBuckets: 2, minRequests: 5, factor: 3 },
            },
          },
        }),
        ...(security !== undefined && { security }),
      });
      monitors.push(monitor);
      return { monitor, clock };
    },
    track(closeable) {
      closeables.push(closeable);
      return closeable;
    },
  };
}

/**
 * The app contract of {@link driveSecurityScenario}: `GET /admin/:section` sets
 * `RateLimit-Limit: 100` and `RateLimit-Remaining: 25`, then answers 401 without an
 * `authorization` header, 403 when `x-user` is absent or `mallory`, 429 otherwise;
 * the middleware's `user` option reads `x-user`.
 */
export const SECURITY_ROUTE = '/admin/:section';

/** What the security scenario's app answers for a request's headers. */
export function securityAnswer(headers: Readonly<Record<string, unknown>>): number {
  if (headers['authorization'] === undefined) return 401;
  const user = headers['x-user'];
  if (user === undefined || user === 'mallory') return 403;
  return 429;
}

/** Reads the `x-user` header (the scenario's `user` option). */
export function userHeader(req: {
  readonly headers: Readonly<Record<string, unknown>>;
}): string | undefined {
  const user = req.headers['x-user'];
  return typeof user === 'string' ? user : undefined;
}

/**
 * Sends the security scenario's requests (3 × 401 for alice, 3 × 403 for mallory, one
 * anonymous 403, one 429 for bob) and checks what reached `monitor.security`: the
 * counters of the `security` component, no separate counter in the gateway's, and the
 * brute-force and denial-burst incidents raised by the core's detector.
 */
export async function driveSecurityScenario(url: string, monitor: Monitor): Promise<void> {
  const get = (path: string, headers: Record<string, string>): Promise<Response> =>
    fetch(`${url}${path}`, { headers }).then(async (r) => {
      await r.arrayBuffer();
      return r;
    });
  for (let i = 0; i < 3; i++) {
    expect((await get(`/admin/a${i}`, { 'x-user': 'alice' })).status).toBe(401);
  }
  for (let i = 0; i < 3; i++) {
    expect((await get('/admin/b', { authorization: 'x', 'x-user': 'mallory' })).status).toBe(403);
  }
  expect((await get('/admin/c', { authorization: 'x' })).status).toBe(403);
  expect((await get('/admin/d', { authorization: 'x', 'x-user': 'bob' })).status).toBe(429);
  await settled(monitor, 8);

  expect(securityCounts(monitor, 'security.auth.attempts')).toEqual({ 'false failure': 3 });
  expect(securityCounts(monitor, 'security.auth.failures')).toEqual({ http_401: 3 });
  expect(securityCounts(monitor, 'security.authz.checks')).toEqual({ denied: 4 });
  expect(securityCounts(monitor, 'security.rate_limited')).toEqual({ [SECURITY_ROUTE]: 1 });
  // No gateway-side copies of these signals.
  expect(
    monitor
      .snapshot({ digests: false })
      .series.filter((s) => s.component === 'api_gateway' && s.name.startsWith('security.')),
  ).toEqual([]);
  const incidents = monitor.security
    .incidents()
    .map((i) => [i.kind, i.subject.userId, i.subject.ip, i.count]);
  expect(incidents).toEqual([
    ['brute_force_user', 'alice', undefined, 3],
    ['authorization_denials', 'mallory', undefined, 3],
  ]);
  const quota = series(monitor, 'http.server.rate_limit.utilization').map((s) => [
    s.tags['http.route'],
    countOf(s),
  ]);
  expect(quota).toEqual([[SECURITY_ROUTE, 0.75]]);
}

/**
 * Checks that every request's client address reaches the request-rate baseline: one
 * request a second for two seconds (the warm-up), then five in one second, against
 * any route of the app at `url`: an `unusual_request_rate` incident for 127.0.0.1.
 */
export async function driveRequestRateScenario(
  url: string,
  path: string,
  monitor: Monitor,
  clock: ManualClock,
): Promise<void> {
  const send = async (): Promise<void> => {
    await (await fetch(`${url}${path}`)).arrayBuffer();
  };
  let sent = 0;
  for (let second = 0; second < 2; second++) {
    await send();
    await settled(monitor, ++sent);
    clock.advance(1000);
  }
  expect(monitor.security.incidents()).toEqual([]);
  for (let i = 0; i < 5; i++) {
    await send();
    await settled(monitor, ++sent);
  }
  expect(monitor.security.incidents().map((i) => [i.kind, i.subject.ip, i.count])).toEqual([
    ['unusual_request_rate', '127.0.0.1', 5],
  ]);
}

/**
 * The app contract of {@link driveGatewayScenario}: `GET /gw/items/:id` advances the
 * monitor's manual clock by the `delay` query parameter (ms), sets `RateLimit-Limit:
 * 100` and `RateLimit-Remaining` when a `remaining` parameter is given, and answers
 * the `status` parameter; nothing else is routed (404).
 */
export const GATEWAY_ROUTE = '/gw/items/:id';

/** The query parameters of a gateway scenario request, parsed by the app. */
export function gatewayQuery(query: Readonly<Record<string, unknown>>): {
  status: number;
  delay: number;
  remaining: string | undefined;
} {
  const remaining = query['remaining'];
  return {
    status: Number(query['status'] ?? 200),
    delay: Number(query['delay'] ?? 0),
    remaining: typeof remaining === 'string' ? remaining : undefined,
  };
}

/** The exact quantile of sorted values, nearest rank. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Twelve minutes of traffic on the manual clock, 10 requests in the first minute and
 * 2 more each minute (22% at 100 ms or 1 s, some unmatched, 500, 401 and 429 answers),
 * the monitor's minute history ticked at each minute's end; then checks
 * `apiGatewayReport` and `monitor.analytics({ component: 'api_gateway' })` against
 * what was sent, counted here.
 */
export async function driveGatewayScenario(
  url: string,
  monitor: Monitor,
  clock: ManualClock,
  report: (monitor: Monitor) => ApiGatewayReport,
): Promise<void> {
  const start = clock.now();
  const durationsSent: number[] = [];
  const byStatus = new Map<number, number>();
  let k = 0;
  const perMinute: number[] = [];
  for (let m = 0; m < 12; m++) {
    const n = 10 + 2 * m;
    perMinute.push(n);
    const requests: string[] = [];
    for (let i = 0; i < n; i++, k++) {
      if (k % 20 === 11) {
        requests.push('/gw/nothing-here');
        byStatus.set(404, (byStatus.get(404) ?? 0) + 1);
        durationsSent.push(0);
        continue;
      }
      const delay = k % 50 === 7 ? 1000 : (k % 50) % 10 === 3 ? 100 : 10;
      const status = k % 25 === 5 ? 500 : k % 40 === 17 ? 401 : k % 30 === 29 ? 429 : 200;
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      durationsSent.push(delay);
      requests.push(
        `/gw/items/${k}?status=${status}&delay=${delay}${status === 429 ? '&remaining=5' : ''}`,
      );
    }
    // One at a time: each handler advances the shared clock.
    for (const path of requests) {
      const res = await fetch(`${url}${path}`);
      await res.arrayBuffer();
    }
    await settled(monitor, k);
    clock.set(start + (m + 1) * 60_000);
    monitor.history.tick(clock.now());
  }

  const total = k;
  const count = (pred: (code: number) => boolean): number =>
    [...byStatus].filter(([code]) => pred(code)).reduce((n, [, c]) => n + c, 0);
  const clientErrors = count((c) => c >= 400 && c < 500);
  const serverErrors = count((c) => c >= 500);
  const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;
  const sorted = [...durationsSent].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / total;

  const gateway = report(monitor);
  expect(gateway.component).toBe('api_gateway');
  const { minute_slope: slope, ...volume } = gateway.request_volume;
  expect(volume).toEqual({
    total_requests: total,
    window_requests: total,
    per_minute: perMinute[11],
    per_hour: Math.round((total / 12) * 60),
    minute_trend: 'increasing',
    hour_trend: 'stable',
  });
  // Two more requests each minute.
  expect(slope).toBeCloseTo(2, 6);
  for (const [q, key] of [
    [0.5, 'p50'],
    [0.95, 'p95'],
    [0.99, 'p99'],
  ] as const) {
    const expected = exactQuantile(sorted, q);
    expect(gateway.response_times[key], key).toBeCloseTo(expected, 0);
  }
  expect(gateway.response_times.average).toBeCloseTo(mean, 1);
  expect(gateway.error_rates.client_error_rate).toBe(r4(clientErrors / total));
  expect(gateway.error_rates.server_error_rate).toBe(r4(serverErrors / total));
  const names: Record<number, string> = {
    401: 'unauthorized',
    404: 'not_found',
    429: 'rate_limited',
    500: 'internal_error',
  };
  expect(
    gateway.error_rates.categories.map((c) => [c.status_code, c.category, c.class, c.count]),
  ).toEqual(
    [...byStatus]
      .filter(([code]) => code >= 400)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([code, c]) => [String(code), names[code], code >= 500 ? '5xx' : '4xx', c]),
  );
  expect(gateway.rate_limiting).toEqual({
    rate_limited: byStatus.get(429),
    rate_limited_rate: r4(byStatus.get(429)! / total),
    quota_utilization: 0.95,
    routes: [{ route: GATEWAY_ROUTE, utilization: 0.95 }],
    near_limit_routes: [GATEWAY_ROUTE],
  });

  const flat = apiGatewayComponentSpecific(gateway);
  expect(Object.keys(flat)).toEqual([...Object.keys(flat)].sort());
  expect(flat).toMatchObject({
    requests_per_minute: perMinute[11],
    client_error_rate: r4(clientErrors / total),
    server_error_rate: r4(serverErrors / total),
    status_429_rate: r4(byStatus.get(429)! / total),
    rate_limit_utilization: 0.95,
    p50_ms: gateway.response_times.p50,
  });

  const analytics = monitor.analytics({ component: 'api_gateway' });
  expect(analytics.component).toBe('api_gateway');
  expect(analytics.summary).toMatchObject({
    total_requests: total,
    average_response_time: Math.round(mean * 10) / 10,
    error_rate: r4(serverErrors / total),
  });
  expect(analytics.top_operations).toEqual([
    {
      operation: 'http.server.request.duration',
      avg_duration_ms: Math.round(mean * 10) / 10,
      request_count: total,
    },
  ]);
  expect(analytics.trends.error_rate_trend).toBe('stable');
}

/**
 * The aborted-request scenario: `GET /wait/:n` on the app at `url` marks `arrived()`
 * and answers only when `respond()` is called. The client goes away first; the request
 * is recorded once, as 499, not as an error, and the answer given later adds nothing.
 */
export async function driveAbortScenario(
  url: string,
  monitor: Monitor,
  arrived: () => boolean,
  respond: () => void,
): Promise<void> {
  await abortAfterSend(url, '/wait/1', () => waitFor(arrived));
  await settled(monitor, 1);
  respond();
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
}

/** The JSON body the stream scenario posts to `/echo`: 299 bytes. */
export const ECHO_BODY = JSON.stringify({ text: 'x'.repeat(288) });

/**
 * The streaming scenario: `GET /stream` on the app at `url` streams 1502 bytes without
 * `Content-Length` (1000 + 500 bytes, then `é`); `POST /echo` answers `{"ok":true}` to
 * {@link ECHO_BODY}. Response sizes are the bytes written, request sizes their
 * `Content-Length`.
 */
export async function driveStreamScenario(url: string, monitor: Monitor): Promise<void> {
  const streamed = await fetch(`${url}/stream`);
  expect(streamed.headers.get('content-length')).toBeNull();
  expect((await streamed.arrayBuffer()).byteLength).toBe(1502);
  const echo = await fetch(`${url}/echo`, {
    method: 'POST',
    body: ECHO_BODY,
    headers: { 'content-type': 'application/json' },
  });
  expect(await echo.text()).toBe('{"ok":true}');
  await settled(monitor, 2);
  expect(valuesByRoute(monitor, 'http.server.response.body.size')).toEqual({
    '/stream': 1502,
    '/echo': 11,
  });
  expect(valuesByRoute(monitor, 'http.server.request.body.size')).toEqual({
    '/echo': Buffer.byteLength(ECHO_BODY),
  });
}

/**
 * What OpenTelemetry's http instrumentation does, standing in for it (its module
 * patching cannot run under the test runner's loader): a SERVER span started for each
 * request and active around `handler`, ended when the response finishes.
 * `traceId()` is the latest request's trace.
 */
export function withStandInServerSpan(handler: RequestListener): {
  listener: RequestListener;
  traceId: () => string;
} {
  const tracer = trace.getTracer('http-instrumentation-stand-in');
  let traceId = '';
  return {
    listener: (req, res) => {
      const span = tracer.startSpan('GET', { kind: SpanKind.SERVER });
      traceId = span.spanContext().traceId;
      res.on('finish', () => span.end());
      context.with(trace.setSpan(context.active(), span), () => {
        handler(req, res);
      });
    },
    traceId: () => traceId,
  };
}

/**
 * The adopted-span scenario: the app at `url`, run inside
 * {@link withStandInServerSpan}, answers `GET /things/:id`. Its one trace holds the
 * stand-in's span only, named after the route: no second SERVER span.
 */
export async function driveAdoptedSpanScenario(
  url: string,
  monitor: Monitor,
  traceId: () => string,
): Promise<void> {
  await (await fetch(`${url}/things/1`)).text();
  await settled(monitor, 1);
  await waitFor(() => (monitor.traces.spans(traceId())?.length ?? 0) > 0);
  await sleep(20);
  const spans = monitor.traces.spans(traceId())!;
  expect(spans.map((s) => s.name)).toEqual(['GET /things/:id']);
  expect(spans[0]!.attributes['http.route']).toBe('/things/:id');
  expect(monitor.traces.stats().traces).toBe(1);
}

/**
 * The options scenario: the app at `url` leaves `/healthz` and `/static/app.js`
 * unrecorded, labels `/legacy` as `legacy` (`routeLabel`), tags `tenant` from the
 * `x-tenant` header (`tags`), and has a `routeLabel` that throws on an `x-break`
 * header, which answers `/x` all the same and counts one internal error.
 */
export async function driveOptionsScenario(url: string, monitor: Monitor): Promise<void> {
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
}
