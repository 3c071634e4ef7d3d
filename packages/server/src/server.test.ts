/**
 * The server as a real child process (`prsm-monitor serve`, node + tsx) on 127.0.0.1
 * with a real SQLite file, driven over HTTP with fetch: the auth matrix, a table of
 * malformed requests, OpenAPI, the Prometheus text, and the key-use audit.
 */
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createKeyCli,
  dataCounts,
  query,
  runCli,
  startServerChild,
  tempDir,
  type ServerChild,
} from './test-support.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const T = '2024-01-15T14:30:00.000Z';

let tmp: ReturnType<typeof tempDir>;
let db: string;
let server: ServerChild;
const keys: Record<string, string> = {};
let revokedId = '';
let ackId = '';
let deleteId = '';
let batchN = 0;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function call(
  method: string,
  path: string,
  options: {
    key?: string;
    body?: unknown;
    raw?: string | Buffer;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers['authorization'] = `Bearer ${options.key}`;
  let body: string | Buffer | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${server.api}${path}`, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function errorOf(reply: Reply): { code: string; message: string; field: string | null } {
  const body = reply.json as { error?: { code: string; message: string; field: string | null } };
  expect(body?.error, reply.text).toBeDefined();
  expect(Object.keys(body.error!).sort()).toEqual(['code', 'field', 'message']);
  return body.error!;
}

const metric = { name: 'orders.created', value: 1, metric_type: 'counter', component: 'shop' };
const span = (spanId: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  trace_id: TRACE,
  span_id: spanId,
  name: 'checkout',
  start_time: T,
  end_time: '2024-01-15T14:30:00.250Z',
  duration_ms: 250,
  status: 'success',
  attributes: { 'prsm.component': 'shop', user_tier: 'gold' },
  component: 'shop',
  ...extra,
});
const rule = {
  name: 'High API Error Rate',
  description: 'Alert when API error rate exceeds 5% for 5 minutes',
  severity: 'high',
  component: 'api_gateway',
  condition: 'error_rate > 0.05',
  threshold: 0.05,
  duration_seconds: 300,
  notification_channels: ['email', 'slack', 'pagerduty'],
};
const batch = (id: string, metrics: unknown[] = []): Record<string, unknown> => ({
  batch_id: id,
  sent_at: T,
  metrics,
  traces: [],
  alerts: [],
});

const goodSource = {
  instance_id: 'c0ffee00-0000-4000-8000-000000000001',
  resource: { 'service.name': 'checkout' },
};
/** A valid sub-window of three samples (1, 2, 3), as the REST exporter encodes it. */
const subWindow = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  start_time: T,
  seconds: 60,
  partial: false,
  count: 3,
  sum: 6,
  min: 1,
  max: 3,
  error_count: 0,
  centroids: Buffer.from(new Float32Array([1, 1, 2, 1, 3, 1]).buffer).toString('base64'),
  ...extra,
});
/** A batch of one timer with the given sub-windows (and top-level extras). */
const timerBatch = (
  id: string,
  subWindows: unknown[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  ...batch(id, [
    {
      metric_name: 'subwindowed',
      component: 'c',
      tags: {},
      labels: {},
      timestamp: T,
      metric_type: 'timer',
      value: 2,
      unit: 'ms',
      count: 3,
      sum: 6,
      windows: [],
      sub_windows: subWindows,
    },
  ]),
  ...extra,
});
const sw = (id: string, extra: Record<string, unknown>): Record<string, unknown> =>
  timerBatch(id, [subWindow(), subWindow(extra)]);

beforeAll(async () => {
  tmp = tempDir();
  db = join(tmp.dir, 'monitor.db');
  const [ingest, read, enterprise, admin, revoked] = await Promise.all(
    ['ingest', 'read', 'enterprise', 'admin', 'read'].map((role) => createKeyCli(db, role)),
  );
  Object.assign(keys, {
    ingest: ingest!.key,
    read: read!.key,
    enterprise: enterprise!.key,
    admin: admin!.key,
    revoked: revoked!.key,
  });
  revokedId = revoked!.id;
  server = await startServerChild(db, ['--rate', '0']);
  // Revoked while the server runs: it must notice.
  const r = await runCli(['keys', 'revoke', revokedId, '--db', db]);
  expect(r.code).toBe(0);
  expect(
    (
      await call('POST', '/traces', {
        key: keys['ingest'],
        body: { spans: [span('00f067aa0ba902b7')] },
      })
    ).status,
  ).toBe(200);
  const rules = await Promise.all(
    [1, 2].map(() => call('POST', '/alerts', { key: keys['admin'], body: rule })),
  );
  ackId = (rules[0]!.json as { alert_id: string }).alert_id;
  deleteId = (rules[1]!.json as { alert_id: string }).alert_id;
  expect(
    (
      await call('POST', '/metrics', {
        key: keys['ingest'],
        body: { name: 'conflict', value: 2, metric_type: 'gauge' },
      })
    ).status,
  ).toBe(200);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  tmp?.remove();
});

type Cred =
  'none' | 'malformed' | 'unknown' | 'revoked' | 'ingest' | 'read' | 'enterprise' | 'admin';
const CREDS: readonly Cred[] = [
  'none',
  'malformed',
  'unknown',
  'revoked',
  'ingest',
  'read',
  'enterprise',
  'admin',
];

function headersFor(cred: Cred): Record<string, string> {
  switch (cred) {
    case 'none':
      return {};
    case 'malformed':
      return { authorization: 'Basic dXNlcjpwYXNz' };
    case 'unknown':
      return { authorization: `Bearer prsm_${'A'.repeat(43)}` };
    default:
      return { authorization: `Bearer ${keys[cred]!}` };
  }
}

interface RouteCase {
  readonly method: string;
  readonly path: () => string;
  readonly body?: () => unknown;
  readonly permission: 'ingest' | 'read' | 'enterprise' | 'admin' | null;
  readonly ok: number;
}

const ROUTES: readonly RouteCase[] = [
  { method: 'POST', path: () => '/metrics', body: () => metric, permission: 'ingest', ok: 200 },
  { method: 'GET', path: () => '/metrics', permission: 'read', ok: 200 },
  {
    method: 'POST',
    path: () => '/batch',
    body: () => batch(`matrix-${++batchN}`),
    permission: 'ingest',
    ok: 200,
  },
  {
    method: 'POST',
    path: () => '/business-metrics',
    body: () => ({
      metric_name: 'monthly_recurring_revenue',
      value: 125000,
      dimension: 'monthly',
      target: 150000,
    }),
    permission: 'ingest',
    ok: 200,
  },
  {
    method: 'POST',
    path: () => '/traces',
    body: () => ({ spans: [span('00f067aa0ba902b8')] }),
    permission: 'ingest',
    ok: 200,
  },
  { method: 'GET', path: () => `/traces/${TRACE}`, permission: 'read', ok: 200 },
  { method: 'GET', path: () => '/alerts', permission: 'read', ok: 200 },
  { method: 'GET', path: () => '/health', permission: 'read', ok: 200 },
  { method: 'GET', path: () => '/analytics?window=1h', permission: 'read', ok: 200 },
  { method: 'GET', path: () => '/dashboard/series?window=1h', permission: 'read', ok: 200 },
  { method: 'GET', path: () => `/dashboard/waterfall/${TRACE}`, permission: 'read', ok: 200 },
  { method: 'GET', path: () => '/business-dashboard', permission: 'enterprise', ok: 200 },
  { method: 'POST', path: () => '/alerts', body: () => rule, permission: 'admin', ok: 201 },
  { method: 'POST', path: () => `/alerts/${ackId}/acknowledge`, permission: 'admin', ok: 200 },
  { method: 'DELETE', path: () => `/alerts/${deleteId}`, permission: 'admin', ok: 200 },
  { method: 'GET', path: () => '/healthz', permission: null, ok: 200 },
  { method: 'GET', path: () => '/openapi.json', permission: null, ok: 200 },
];

const GRANTS: Record<string, readonly string[]> = {
  ingest: ['ingest'],
  read: ['read'],
  enterprise: ['read', 'enterprise'],
  admin: ['ingest', 'read', 'enterprise', 'admin'],
};

function expected(route: RouteCase, cred: Cred): number {
  if (route.permission === null) return route.ok;
  if (cred === 'none' || cred === 'malformed' || cred === 'unknown' || cred === 'revoked')
    return 401;
  return GRANTS[cred]!.includes(route.permission) ? route.ok : 403;
}

describe('auth matrix: every route x every credential', () => {
  const cases = ROUTES.flatMap((route) => CREDS.map((cred) => ({ route, cred })));
  it.each(
    cases.map(
      (c) =>
        [
          `${c.route.method} ${c.route.path.toString().replace(/^.*=> /, '')} as ${c.cred}`,
          c,
        ] as const,
    ),
  )('%s', async (_name, { route, cred }) => {
    const body = route.body?.();
    const reply = await call(route.method, route.path(), {
      headers: headersFor(cred),
      ...(body === undefined ? {} : { body }),
    });
    const want = expected(route, cred);
    expect(reply.status, reply.text).toBe(want);
    if (want >= 400) {
      const error = errorOf(reply);
      expect(error.field).toBe('authorization');
      expect(error.code).toBe(
        want === 403
          ? 'forbidden'
          : cred === 'none'
            ? 'missing_key'
            : cred === 'revoked'
              ? 'revoked_key'
              : 'invalid_key',
      );
    }
  });

  it('accepts the key in x-api-key too (the REST exporter default)', async () => {
    const reply = await call('GET', '/alerts', { headers: { 'x-api-key': keys['read']! } });
    expect(reply.status).toBe(200);
    expect((await call('GET', '/alerts', { headers: { 'x-api-key': 'prsm_nope' } })).status).toBe(
      401,
    );
  });

  it('audits key use (key id, route, status, time), never the key', async () => {
    const rows = query<{
      key_id: string;
      route: string;
      status: number;
      count: number;
      minute: number;
      last_at: number;
    }>(db, 'SELECT key_id, route, status, count, minute, last_at FROM key_use');
    expect(rows.some((r) => r.key_id === revokedId && r.status === 401)).toBe(true);
    // No known key: counted under the empty id (12 routes x none, malformed, unknown).
    const anonymous = rows.filter((r) => r.key_id === '' && r.status === 401);
    expect(anonymous.reduce((n, r) => n + r.count, 0)).toBeGreaterThanOrEqual(10 * 3);
    expect(rows.every((r) => r.last_at >= r.minute && r.last_at < r.minute + 60_000)).toBe(true);
    expect(
      rows.some((r) => r.route === '/api/v1/monitoring/traces/:trace_id' && r.status === 200),
    ).toBe(true);
    expect(rows.some((r) => r.status === 403)).toBe(true);
    const list = await runCli(['keys', 'list', '--db', db]);
    expect(list.code).toBe(0);
    for (const key of Object.values(keys)) expect(list.stdout).not.toContain(key);
    const revokedLine = list.stdout.split('\n').find((l) => l.startsWith(revokedId))!;
    expect(revokedLine.split('\t')[4]).toMatch(/^\d{4}-/);
    const lastUsed = list.stdout
      .split('\n')
      .filter((l) => l.startsWith('key_'))
      .map((l) => l.split('\t')[3]);
    expect(lastUsed.every((v) => v !== '-')).toBe(true);
  });
});

interface Bad {
  readonly name: string;
  readonly method?: string;
  readonly path: string;
  readonly key?: string;
  readonly body?: unknown;
  readonly raw?: string | Buffer;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly field: string;
}

function deep(levels: number): string {
  return `{"name":${'['.repeat(levels)}${']'.repeat(levels)},"value":1,"metric_type":"gauge"}`;
}

const json = { 'content-type': 'application/json' };
const BAD: readonly Bad[] = [
  {
    name: 'value as a string',
    path: '/metrics',
    body: { ...metric, value: '12' },
    status: 400,
    field: 'value',
  },
  {
    name: 'value "NaN"',
    path: '/metrics',
    body: { ...metric, value: 'NaN' },
    status: 400,
    field: 'value',
  },
  {
    name: 'value true',
    path: '/metrics',
    body: { ...metric, value: true },
    status: 400,
    field: 'value',
  },
  {
    name: 'value 1e400 (Infinity)',
    path: '/metrics',
    raw: '{"name":"a","value":1e400,"metric_type":"gauge"}',
    headers: json,
    status: 400,
    field: 'value',
  },
  {
    name: 'value past 2^53',
    path: '/metrics',
    body: { ...metric, value: 1e300 },
    status: 400,
    field: 'value',
  },
  {
    name: 'negative counter increment',
    path: '/metrics',
    body: { ...metric, value: -1 },
    status: 400,
    field: 'value',
  },
  {
    name: 'missing name',
    path: '/metrics',
    body: { value: 1, metric_type: 'gauge' },
    status: 400,
    field: 'name',
  },
  {
    name: 'missing metric_type',
    path: '/metrics',
    body: { name: 'a', value: 1 },
    status: 400,
    field: 'metric_type',
  },
  {
    name: 'unknown metric_type',
    path: '/metrics',
    body: { ...metric, metric_type: 'summary' },
    status: 400,
    field: 'metric_type',
  },
  {
    name: 'unknown field',
    path: '/metrics',
    body: { ...metric, colour: 'red' },
    status: 400,
    field: 'colour',
  },
  {
    name: 'tag value a number',
    path: '/metrics',
    body: { ...metric, tags: { route: 5 } },
    status: 400,
    field: 'tags.route',
  },
  {
    name: 'tag value an object',
    path: '/metrics',
    body: { ...metric, tags: { a: { b: 'c' } } },
    status: 400,
    field: 'tags.a',
  },
  {
    name: '65 tags',
    path: '/metrics',
    body: {
      ...metric,
      tags: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`t${i}`, 'x'])),
    },
    status: 400,
    field: 'tags',
  },
  {
    name: 'empty name',
    path: '/metrics',
    body: { ...metric, name: '' },
    status: 400,
    field: 'name',
  },
  {
    name: 'name of 10,000 characters',
    path: '/metrics',
    body: { ...metric, name: 'x'.repeat(10_000) },
    status: 400,
    field: 'name',
  },
  {
    name: 'control character in name',
    path: '/metrics',
    body: { ...metric, name: 'a\nb' },
    status: 400,
    field: 'name',
  },
  {
    name: 'batch: second metric bad, first good',
    path: '/metrics',
    body: { metrics: [metric, { ...metric, value: 'x' }] },
    status: 400,
    field: 'metrics[1].value',
  },
  { name: 'batch: empty', path: '/metrics', body: { metrics: [] }, status: 400, field: 'metrics' },
  {
    name: 'type conflict with a stored series',
    path: '/metrics',
    body: {
      metrics: [
        metric,
        { name: 'fresh', value: 1, metric_type: 'gauge' },
        { name: 'conflict', value: 1, metric_type: 'counter' },
      ],
    },
    status: 409,
    field: 'metrics[2].metric_type',
  },
  { name: 'a JSON array', path: '/metrics', raw: '[]', headers: json, status: 400, field: 'body' },
  { name: 'JSON null', path: '/metrics', raw: 'null', headers: json, status: 400, field: 'body' },
  {
    name: 'not JSON',
    path: '/metrics',
    raw: '{"name": ',
    headers: json,
    status: 400,
    field: 'body',
  },
  { name: 'empty body', path: '/metrics', raw: '', headers: json, status: 400, field: 'body' },
  {
    name: 'deep nesting (5,000 levels)',
    path: '/metrics',
    raw: deep(5000),
    headers: json,
    status: 400,
    field: 'name',
  },
  {
    name: '__proto__ key',
    path: '/metrics',
    raw: '{"__proto__":{"polluted":1},"name":"a","value":1,"metric_type":"gauge"}',
    headers: json,
    status: 400,
    field: '__proto__',
  },
  {
    name: 'escaped __proto__ key',
    path: '/metrics',
    raw: '{"\\u005f_proto__":{"polluted":1},"name":"a","value":1,"metric_type":"gauge"}',
    headers: json,
    status: 400,
    field: '__proto__',
  },
  {
    name: 'text/plain',
    path: '/metrics',
    raw: JSON.stringify(metric),
    headers: { 'content-type': 'text/plain' },
    status: 415,
    field: 'content-type',
  },
  {
    name: 'form-encoded',
    path: '/metrics',
    raw: 'name=a&value=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    field: 'content-type',
  },
  {
    name: 'content-encoding br',
    path: '/metrics',
    raw: JSON.stringify(metric),
    headers: { ...json, 'content-encoding': 'br' },
    status: 415,
    field: 'content-encoding',
  },
  {
    name: 'gzip header on plain bytes',
    path: '/metrics',
    raw: JSON.stringify(metric),
    headers: { ...json, 'content-encoding': 'gzip' },
    status: 400,
    field: 'content-encoding',
  },
  {
    name: 'body past 1 MiB',
    path: '/metrics',
    raw: JSON.stringify({ ...metric, name: 'x'.repeat(1_100_000) }),
    headers: json,
    status: 413,
    field: 'body',
  },
  {
    name: 'gzip bomb: small on the wire, 4 MiB inflated',
    path: '/metrics',
    raw: gzipSync(`{"name":"a","value":1,"metric_type":"gauge"${' '.repeat(4 * 1024 * 1024)}}`),
    headers: { ...json, 'content-encoding': 'gzip' },
    status: 413,
    field: 'body',
  },
  {
    name: 'unknown query parameter',
    path: '/metrics?debug=1',
    body: metric,
    status: 400,
    field: 'debug',
  },
  {
    name: 'trace id traversal',
    method: 'GET',
    path: '/traces/..%2F..%2Fetc',
    key: 'read',
    status: 400,
    field: 'trace_id',
  },
  {
    name: 'trace id traversal, 32 chars',
    method: 'GET',
    path: '/traces/..%2F..%2F..%2F..%2Fetc%2Fpasswd%2F%2F',
    key: 'read',
    status: 400,
    field: 'trace_id',
  },
  {
    name: 'trace id not hex',
    method: 'GET',
    path: `/traces/${'z'.repeat(32)}`,
    key: 'read',
    status: 400,
    field: 'trace_id',
  },
  {
    name: 'trace id too short',
    method: 'GET',
    path: '/traces/abc',
    key: 'read',
    status: 400,
    field: 'trace_id',
  },
  {
    name: 'unknown trace',
    method: 'GET',
    path: `/traces/${'0'.repeat(31)}1`,
    key: 'read',
    status: 404,
    field: 'trace_id',
  },
  {
    name: 'span with a bad trace id',
    path: '/traces',
    body: { spans: [span('00f067aa0ba902b9', { trace_id: 'XYZ' })] },
    status: 400,
    field: 'spans[0].trace_id',
  },
  {
    name: 'span start_time not a date',
    path: '/traces',
    body: { spans: [span('00f067aa0ba902b9', { start_time: 'yesterday' })] },
    status: 400,
    field: 'spans[0].start_time',
  },
  {
    name: 'span status unknown',
    path: '/traces',
    body: { spans: [span('00f067aa0ba902b9', { status: 'ok' })] },
    status: 400,
    field: 'spans[0].status',
  },
  {
    name: 'batch without batch_id',
    path: '/batch',
    body: { sent_at: T, metrics: [], traces: [], alerts: [] },
    status: 400,
    field: 'batch_id',
  },
  {
    name: 'batch metric_type unknown',
    path: '/batch',
    body: batch('bad-1', [
      {
        metric_name: 'm',
        component: 'c',
        tags: {},
        labels: {},
        timestamp: T,
        metric_type: 'summary',
        value: 1,
      },
    ]),
    status: 400,
    field: 'metrics[0].metric_type',
  },
  {
    name: 'batch gauge with an extra field',
    path: '/batch',
    body: batch('bad-2', [
      {
        metric_name: 'm',
        component: 'c',
        tags: {},
        labels: {},
        timestamp: T,
        metric_type: 'gauge',
        value: 1,
        windows: [],
      },
    ]),
    status: 400,
    field: 'metrics[0].windows',
  },
  {
    name: 'batch id header differs',
    path: '/batch',
    body: batch('bad-3'),
    headers: { 'x-prsm-batch-id': 'other' },
    status: 400,
    field: 'x-prsm-batch-id',
  },
  {
    name: 'batch type conflict (nothing of it stored, id included)',
    path: '/batch',
    body: batch('bad-4', [
      {
        metric_name: 'fresh',
        component: 'c',
        tags: {},
        labels: {},
        timestamp: T,
        metric_type: 'gauge',
        value: 1,
      },
      {
        metric_name: 'conflict',
        component: 'default',
        tags: {},
        labels: {},
        timestamp: T,
        metric_type: 'counter',
        value: 1,
        windows: [],
      },
    ]),
    status: 409,
    field: 'metrics[1].metric_type',
  },
  {
    name: 'batch source without instance_id',
    path: '/batch',
    body: timerBatch('bad-s1', [], { source: { resource: { 'service.name': 'x' } } }),
    status: 400,
    field: 'source.instance_id',
  },
  {
    name: 'batch source with an unknown field',
    path: '/batch',
    body: timerBatch('bad-s2', [], { source: { ...goodSource, host: 'h' } }),
    status: 400,
    field: 'source.host',
  },
  {
    name: 'batch source instance_id with a slash',
    path: '/batch',
    body: timerBatch('bad-s3', [], { source: { ...goodSource, instance_id: 'a/b' } }),
    status: 400,
    field: 'source.instance_id',
  },
  {
    name: 'batch source resource without service.name',
    path: '/batch',
    body: timerBatch('bad-s4', [], { source: { ...goodSource, resource: { 'host.name': 'h' } } }),
    status: 400,
    field: 'source.resource.service.name',
  },
  {
    name: 'batch source resource attribute nested',
    path: '/batch',
    body: timerBatch('bad-s5', [], {
      source: { ...goodSource, resource: { 'service.name': 's', deep: { a: 1 } } },
    }),
    status: 400,
    field: 'source.resource.deep',
  },
  {
    name: 'sub_windows on a gauge',
    path: '/batch',
    body: batch('bad-w1', [
      {
        metric_name: 'm',
        component: 'c',
        tags: {},
        labels: {},
        timestamp: T,
        metric_type: 'gauge',
        value: 1,
        sub_windows: [],
      },
    ]),
    status: 400,
    field: 'metrics[0].sub_windows',
  },
  {
    name: 'sub-window with an unknown field',
    path: '/batch',
    body: sw('bad-w2', { p99: 3 }),
    status: 400,
    field: 'metrics[0].sub_windows[1].p99',
  },
  {
    name: 'sub-window without centroids',
    path: '/batch',
    body: timerBatch('bad-w3', [{ ...subWindow(), centroids: undefined }]),
    status: 400,
    field: 'metrics[0].sub_windows[0].centroids',
  },
  {
    name: 'sub-window of 0 seconds',
    path: '/batch',
    body: sw('bad-w4', { seconds: 0 }),
    status: 400,
    field: 'metrics[0].sub_windows[1].seconds',
  },
  {
    name: 'sub-window of two hours',
    path: '/batch',
    body: sw('bad-w5', { seconds: 7200 }),
    status: 400,
    field: 'metrics[0].sub_windows[1].seconds',
  },
  {
    name: 'sub-window start_time not a date',
    path: '/batch',
    body: sw('bad-w6', { start_time: '2024-13-45' }),
    status: 400,
    field: 'metrics[0].sub_windows[1].start_time',
  },
  {
    name: 'sub-window negative count',
    path: '/batch',
    body: sw('bad-w7', { count: -1 }),
    status: 400,
    field: 'metrics[0].sub_windows[1].count',
  },
  {
    name: 'sub-window partial not a boolean',
    path: '/batch',
    body: sw('bad-w8', { partial: 'yes' }),
    status: 400,
    field: 'metrics[0].sub_windows[1].partial',
  },
  {
    name: 'sub-window infinite min (1e400)',
    path: '/batch',
    raw: JSON.stringify(sw('bad-w9', { min: 123456789 })).replace('123456789', '-1e400'),
    headers: json,
    status: 400,
    field: 'metrics[0].sub_windows[1].min',
  },
  {
    name: 'sub-window centroids not base64',
    path: '/batch',
    body: sw('bad-w10', { centroids: 'AAAA$AAA' }),
    status: 400,
    field: 'metrics[0].sub_windows[1].centroids',
  },
  {
    name: 'sub-window centroids not a multiple of 8 bytes',
    path: '/batch',
    body: sw('bad-w11', { centroids: 'AAAAAAAA' }),
    status: 400,
    field: 'metrics[0].sub_windows[1].centroids',
  },
  {
    name: 'sub-window centroids past 64 KiB',
    path: '/batch',
    body: sw('bad-w12', { centroids: 'A'.repeat(65540) }),
    status: 400,
    field: 'metrics[0].sub_windows[1].centroids',
  },
  {
    name: 'sub-window centroid weights not adding up to count',
    path: '/batch',
    body: sw('bad-w13', { count: 4 }),
    status: 400,
    field: 'metrics[0].sub_windows[1].centroids',
  },
  {
    name: 'sub-window error_count above count',
    path: '/batch',
    body: sw('bad-w14', { error_count: 5 }),
    status: 400,
    field: 'metrics[0].sub_windows[1].error_count',
  },
  {
    name: '65 sub-windows',
    path: '/batch',
    body: timerBatch(
      'bad-w15',
      Array.from({ length: 65 }, () => subWindow()),
    ),
    status: 400,
    field: 'metrics[0].sub_windows',
  },
  {
    name: 'business metadata nested',
    path: '/business-metrics',
    body: { metric_name: 'mrr', value: 1, metadata: { a: { b: 1 } } },
    status: 400,
    field: 'metadata.a',
  },
  {
    name: 'business value missing',
    path: '/business-metrics',
    body: { metric_name: 'mrr' },
    status: 400,
    field: 'value',
  },
  {
    name: 'alert condition that does not parse',
    path: '/alerts',
    key: 'admin',
    body: { ...rule, condition: 'error_rate >' },
    status: 400,
    field: 'condition',
  },
  {
    name: 'alert duration 1.5 s',
    path: '/alerts',
    key: 'admin',
    body: { ...rule, duration_seconds: 1.5 },
    status: 400,
    field: 'duration_seconds',
  },
  {
    name: 'alert severity unknown',
    path: '/alerts',
    key: 'admin',
    body: { ...rule, severity: 'urgent' },
    status: 400,
    field: 'severity',
  },
  {
    name: 'alert channels not strings',
    path: '/alerts',
    key: 'admin',
    body: { ...rule, notification_channels: [1] },
    status: 400,
    field: 'notification_channels[0]',
  },
  {
    name: 'alerts filter unknown severity',
    method: 'GET',
    path: '/alerts?severity=urgent',
    key: 'read',
    status: 400,
    field: 'severity',
  },
  {
    name: 'alerts unknown query',
    method: 'GET',
    path: '/alerts?limit=5',
    key: 'read',
    status: 400,
    field: 'limit',
  },
  {
    name: 'acknowledge a bad id',
    path: '/alerts/a%24b/acknowledge',
    key: 'admin',
    status: 400,
    field: 'id',
  },
  {
    name: 'acknowledge with an unknown field',
    path: `/alerts/alert_x/acknowledge`,
    key: 'admin',
    body: { who: 'me' },
    status: 400,
    field: 'who',
  },
  {
    name: 'delete an unknown rule',
    method: 'DELETE',
    path: '/alerts/alert_unknown',
    key: 'admin',
    status: 404,
    field: 'id',
  },
  { name: 'unknown route', method: 'GET', path: '/nope', key: 'admin', status: 404, field: 'path' },
];

describe('malformed requests: 4xx in the error shape, the right field, nothing stored', () => {
  let before: Record<string, number>;
  beforeAll(() => {
    before = dataCounts(db);
  });

  it(`has at least 30 cases (${BAD.length})`, () => {
    expect(BAD.length).toBeGreaterThanOrEqual(30);
  });

  it.each(BAD.map((b) => [b.name, b] as const))('%s', async (_name, bad) => {
    const reply = await call(bad.method ?? 'POST', bad.path, {
      key: keys[bad.key ?? 'ingest']!,
      ...(bad.body === undefined ? {} : { body: bad.body }),
      ...(bad.raw === undefined ? {} : { raw: bad.raw }),
      ...(bad.headers === undefined ? {} : { headers: bad.headers }),
    });
    expect(reply.status, reply.text).toBe(bad.status);
    const error = errorOf(reply);
    expect(error.field).toBe(bad.field);
    expect(error.message).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  });

  it('stored nothing for any of them', () => {
    expect(dataCounts(db)).toEqual(before);
    expect(
      query(db, "SELECT name FROM series WHERE name IN ('fresh', 'a', 'subwindowed')"),
    ).toEqual([]);
  });

  it('kept what was stored before intact', async () => {
    const trace = await call('GET', `/traces/${TRACE}`, { key: keys['read']! });
    expect(trace.status).toBe(200);
    const rows = query<{ metric_type: string; value: number }>(
      db,
      "SELECT metric_type, value FROM series WHERE name = 'conflict'",
    );
    expect(rows).toEqual([{ metric_type: 'gauge', value: 2 }]);
  });
});

describe('the endpoints', () => {
  it('POST /metrics answers in the spec shape', async () => {
    const reply = await call('POST', '/metrics', {
      key: keys['ingest']!,
      body: {
        name: 'marketplace.recommendation.generated',
        value: 1,
        metric_type: 'counter',
        component: 'recommendation',
        tags: { user_type: 'enterprise', algorithm: 'collaborative_filtering' },
        labels: { version: 'v2.1', environment: 'production' },
      },
    });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      success: true,
      message: 'Metric recorded successfully',
      metric_name: 'marketplace.recommendation.generated',
    });
    expect(Date.parse((reply.json as { timestamp: string }).timestamp)).not.toBeNaN();
  });

  it('GET /traces/{id} answers in the spec shape', async () => {
    await call('POST', '/traces', {
      key: keys['ingest']!,
      body: {
        spans: [
          span('1111111111111111', {
            name: 'user_preference_lookup',
            parent_span_id: '00f067aa0ba902b7',
            start_time: '2024-01-15T14:30:00.010Z',
            duration_ms: 25.1,
            attributes: { cache_hit: true },
          }),
        ],
      },
    });
    const reply = await call('GET', `/traces/${TRACE.toUpperCase()}`, { key: keys['read']! });
    expect(reply.status).toBe(200);
    const trace = reply.json as Record<string, unknown>;
    expect(Object.keys(trace).sort()).toEqual(
      [
        'component',
        'metadata',
        'operation',
        'spans',
        'success',
        'timestamp',
        'total_duration_ms',
        'trace_id',
      ].sort(),
    );
    expect(trace).toMatchObject({
      trace_id: TRACE,
      operation: 'checkout',
      component: 'shop',
      total_duration_ms: 250,
      success: true,
      timestamp: T,
      metadata: { user_tier: 'gold' },
    });
    expect(trace['spans']).toContainEqual({
      name: 'user_preference_lookup',
      duration_ms: 25.1,
      status: 'success',
      metadata: { cache_hit: true },
    });
  });

  it('alert rules: created with the spec fields, listed, acknowledged, deleted', async () => {
    const created = await call('POST', '/alerts', { key: keys['admin']!, body: rule });
    expect(created.status).toBe(201);
    const id = (created.json as { alert_id: string }).alert_id;
    expect((created.json as { alert: unknown }).alert).toMatchObject({
      ...rule,
      alert_id: id,
      acknowledged_at: null,
    });
    const ack = await call('POST', `/alerts/${id}/acknowledge`, {
      key: keys['admin']!,
      body: { by: 'on-call' },
    });
    expect(ack.status).toBe(200);
    expect((ack.json as { alert: { acknowledged_by: string } }).alert.acknowledged_by).toBe(
      'on-call',
    );
    const list = await call('GET', '/alerts?severity=high&component=api_gateway', {
      key: keys['read']!,
    });
    expect(list.status, list.text).toBe(200);
    const alerts = (list.json as { alerts: { alert_id: string }[]; evaluation: string }).alerts;
    expect(alerts.map((a) => a.alert_id)).toContain(id);
    expect((list.json as { evaluation: string }).evaluation).toBe('server');
    expect((await call('DELETE', `/alerts/${id}`, { key: keys['admin']! })).status).toBe(200);
    expect((await call('DELETE', `/alerts/${id}`, { key: keys['admin']! })).status).toBe(404);
    expect((await call('POST', `/alerts/${id}/acknowledge`, { key: keys['admin']! })).status).toBe(
      404,
    );
  });

  it('GET /metrics is Prometheus text of the latest values', async () => {
    await call('POST', '/metrics', {
      key: keys['ingest']!,
      body: {
        metrics: [
          {
            name: 'api.latency',
            value: 100,
            metric_type: 'timer',
            component: 'api',
            tags: { route: '/x' },
          },
          {
            name: 'api.latency',
            value: 300,
            metric_type: 'timer',
            component: 'api',
            tags: { route: '/x' },
          },
          { name: 'pool.size', value: 7, metric_type: 'gauge', component: 'db' },
          { name: 'jobs.done', value: 2, metric_type: 'counter', component: 'jobs' },
          { name: 'jobs.done', value: 3, metric_type: 'counter', component: 'jobs' },
        ],
      },
    });
    const reply = await call('GET', '/metrics', { key: keys['read']! });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(reply.text).toContain('# TYPE jobs_done_total counter');
    expect(reply.text).toContain('jobs_done_total{component="jobs"} 5');
    expect(reply.text).toContain('pool_size{component="db"} 7');
    expect(reply.text).toContain('# TYPE api_latency_seconds summary');
    expect(reply.text).toMatch(
      /api_latency_seconds\{component="api",route="\/x",quantile="0\.5"\} 0\.[123]/,
    );
    expect(reply.text).toContain('api_latency_seconds_count{component="api",route="/x"} 2');
    expect(reply.text).toContain('api_latency_seconds_sum{component="api",route="/x"} 0.4');
  });

  it('POST /batch with a source and sub-windows: merged per minute, a retry ignored', async () => {
    const body = {
      ...timerBatch('good-sw-1', [
        subWindow(),
        subWindow({ start_time: '2024-01-15T14:31:10.000Z' }),
      ]),
      source: goodSource,
    };
    for (const duplicate of [false, true]) {
      const reply = await call('POST', '/batch', { key: keys['ingest']!, body });
      expect(reply.status, reply.text).toBe(200);
      expect(reply.json).toMatchObject({ duplicate });
    }
    const rows = query<{ bucket: number; count: number; errors: number }>(
      db,
      `SELECT p.bucket, p.count, p.errors FROM points p JOIN series s ON s.id = p.series_id
       WHERE s.name = 'subwindowed' ORDER BY p.bucket`,
    );
    expect(rows).toEqual([
      { bucket: Date.parse(T), count: 3, errors: 0 },
      { bucket: Date.parse(T) + 60_000, count: 3, errors: 0 },
    ]);
    const text = (await call('GET', '/metrics', { key: keys['read']! })).text;
    // The batch's service is a label (series are keyed by service: schema version 4).
    expect(text).toContain('subwindowed_seconds_count{component="c",service="checkout"} 6');
    expect(text).toContain(
      'subwindowed_seconds{component="c",service="checkout",quantile="0.5"} 0.002',
    );
    expect(query(db, 'SELECT instance_id, service_name FROM sources')).toEqual([
      { instance_id: goodSource.instance_id, service_name: 'checkout' },
    ]);
  });

  it('GET /openapi.json is OpenAPI 3.0 of every route, from the route schemas', async () => {
    const reply = await call('GET', '/openapi.json');
    const doc = reply.json as {
      openapi: string;
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    expect(doc.openapi).toMatch(/^3\.0\./);
    const ops = Object.entries(doc.paths).flatMap(([p, m]) =>
      Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`),
    );
    expect(ops.sort()).toEqual(
      [
        'POST /api/v1/monitoring/metrics',
        'GET /api/v1/monitoring/metrics',
        'POST /api/v1/monitoring/batch',
        'POST /api/v1/monitoring/business-metrics',
        'POST /api/v1/monitoring/traces',
        'GET /api/v1/monitoring/traces/{trace_id}',
        'GET /api/v1/monitoring/alerts',
        'GET /api/v1/monitoring/business-dashboard',
        'GET /api/v1/monitoring/health',
        'GET /api/v1/monitoring/analytics',
        'GET /api/v1/monitoring/dashboard/series',
        'GET /api/v1/monitoring/dashboard/waterfall/{trace_id}',
        'POST /api/v1/monitoring/dashboard/session',
        'DELETE /api/v1/monitoring/dashboard/session',
        'POST /api/v1/monitoring/alerts',
        'POST /api/v1/monitoring/alerts/{id}/acknowledge',
        'DELETE /api/v1/monitoring/alerts/{id}',
        'GET /api/v1/monitoring/healthz',
        'GET /api/v1/monitoring/openapi.json',
        'POST /api/v1/monitoring/audit',
        'GET /api/v1/monitoring/audit',
        'GET /api/v1/monitoring/audit/verify',
        'GET /api/v1/monitoring/export',
      ].sort(),
    );
    const post = doc.paths['/api/v1/monitoring/alerts']!['post']!;
    const schema = (
      post['requestBody'] as { content: Record<string, { schema: { required: string[] } }> }
    ).content['application/json']!.schema;
    expect(schema.required).toEqual(['name', 'severity', 'component', 'condition']);
    expect(Object.keys(post['responses'] as object)).toEqual(
      expect.arrayContaining(['201', '400', '401', '403', '429']),
    );
    // Only OpenAPI 3.0 keywords: no const, no type arrays.
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          expect(k).not.toBe('const');
          if (k === 'type') expect(typeof x).toBe('string');
          walk(x);
        }
      }
    };
    walk(doc.paths);
  });

  it('GET /business-dashboard: latest values, trends and targets, in the spec groups', async () => {
    const post = (body: unknown): Promise<Reply> =>
      call('POST', '/business-metrics', { key: keys['ingest']!, body });
    await post({ metric_name: 'daily_active_users', value: 12000, dimension: 'daily' });
    await post({
      metric_name: 'daily_active_users',
      value: 12500,
      dimension: 'daily',
      target: 15000,
    });
    await post({ metric_name: 'bounce_rate', value: 0.23 });
    await post({ metric_name: 'system_reliability', value: 0.998 });
    await post({ metric_name: 'system_reliability', value: 0.998 });
    const reply = await call('GET', '/business-dashboard', { key: keys['enterprise']! });
    expect(reply.status).toBe(200);
    const d = reply.json as Record<string, Record<string, unknown>>;
    expect(d['kpis']).toMatchObject({
      daily_active_users: 12500,
      monthly_recurring_revenue: 125000,
    });
    expect(d['revenue_metrics']).toMatchObject({ monthly_recurring_revenue: 125000 });
    // The spec's keys of each group, 0 until stored.
    expect(d['user_metrics']).toEqual({
      session_duration_avg: 0,
      pages_per_session: 0,
      bounce_rate: 0.23,
      return_user_rate: 0,
    });
    expect(d['quality_metrics']).toEqual({
      model_accuracy_avg: 0,
      recommendation_relevance: 0,
      system_reliability: 0.998,
    });
    // Trends are of KPIs, by a least-squares slope over periods (3 at least): two
    // values of today are not a trend (the multi-day rule is in store/business.test.ts).
    expect(d['trends']).toMatchObject({ daily_active_users: 'stable' });
    expect(d['trends']).not.toHaveProperty('system_reliability');
    expect(d['targets']!['daily_active_users']).toEqual({
      current: 12500,
      target: 15000,
      achievement: 0.83,
    });
    expect(Date.parse(d['generated_at'] as unknown as string)).not.toBeNaN();
    expect((await call('GET', '/business-dashboard', { key: keys['read']! })).status).toBe(403);
  });

  it('GET /healthz needs no key', async () => {
    const reply = await call('GET', '/healthz');
    expect(reply.json).toMatchObject({ status: 'ok', storage: 'ok' });
  });
});
