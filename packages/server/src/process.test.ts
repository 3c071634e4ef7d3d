/**
 * The server as a real process, end to end: acknowledged writes survive `kill -9`;
 * the REST exporter of `@prsm/exporters` (behind a real `Monitor`) lands in the
 * server and a retried batch is stored once; the per-key rate limit answers 429 with
 * `Retry-After`; `--dev` and the CLI's help, errors and first-start hint.
 */
import { join } from 'node:path';

import { Monitor, type ExportItem, type StoredSpan } from '@prsm/core';
import { restExporter } from '@prsm/exporters/rest';
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

let tmp: ReturnType<typeof tempDir>;
const children: ServerChild[] = [];

beforeAll(() => {
  tmp = tempDir();
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  tmp.remove();
});

async function start(
  db: string,
  args: readonly string[] = [],
  viaEnv = false,
): Promise<ServerChild> {
  const child = await startServerChild(db, args, viaEnv);
  children.push(child);
  return child;
}

async function post(url: string, key: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function get(url: string, key: string): Promise<Response> {
  return fetch(url, { headers: { authorization: `Bearer ${key}` } });
}

describe('durability', () => {
  it('acknowledged writes survive kill -9 and a restart on the same file', async () => {
    const db = join(tmp.dir, 'kill.db');
    const { key } = await createKeyCli(db, 'admin');
    const first = await start(db);
    const trace = 'abcdefabcdefabcdefabcdefabcdef01';
    for (let i = 0; i < 20; i++) {
      const r = await post(`${first.api}/metrics`, key, {
        name: 'acked.total',
        value: 1,
        metric_type: 'counter',
      });
      expect(r.status).toBe(200);
    }
    expect(
      (
        await post(`${first.api}/traces`, key, {
          spans: [
            {
              trace_id: trace,
              span_id: '0123456789abcdef',
              name: 'op',
              start_time: '2024-01-15T14:30:00.000Z',
              end_time: '2024-01-15T14:30:00.005Z',
              duration_ms: 5,
              status: 'success',
              attributes: {},
            },
          ],
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await post(`${first.api}/alerts`, key, {
          name: 'r',
          severity: 'low',
          component: 'c',
          condition: 'x > 1',
        })
      ).status,
    ).toBe(201);
    await first.kill();
    expect(first.child.signalCode).toBe('SIGKILL');

    const second = await start(db);
    const text = await (await get(`${second.api}/metrics`, key)).text();
    expect(text).toContain('acked_total{component="default"} 20');
    expect((await get(`${second.api}/traces/${trace}`, key)).status).toBe(200);
    const alerts = (await (await get(`${second.api}/alerts`, key)).json()) as { alerts: unknown[] };
    expect(alerts.alerts).toHaveLength(1);
    // SIGTERM is a clean stop.
    await second.stop();
    expect(second.child.exitCode).toBe(0);
  });
});

describe('the REST exporter, end to end', () => {
  let server: ServerChild;
  let db: string;
  let apiKey: string;
  let readKey: string;
  beforeAll(async () => {
    db = join(tmp.dir, 'exporter.db');
    [apiKey, readKey] = (
      await Promise.all([createKeyCli(db, 'ingest'), createKeyCli(db, 'read')])
    ).map((k) => k.key) as [string, string];
    server = await start(db, ['--rate', '0']);
  });

  it('a Monitor with restExporter({ url, apiKey }) lands in the server, gzipped, with the x-api-key header', async () => {
    const monitor = new Monitor({
      exporters: [restExporter({ url: server.url, apiKey })],
      defaultComponent: 'shop',
    });
    try {
      monitor.counter('orders').bind({ tier: 'gold' }).inc(3);
      monitor.gauge('queue.depth').bind().set(42);
      const latency = monitor.timer('checkout').bind();
      for (const ms of [10, 20, 30, 40, 50]) latency.record(ms);
      await monitor.forceFlush(10);
    } finally {
      await monitor.shutdown();
    }
    const text = await (await get(`${server.api}/metrics`, readKey)).text();
    expect(text).toContain('orders_total{component="shop",tier="gold"} 3');
    expect(text).toContain('queue_depth{component="shop"} 42');
    expect(text).toContain('checkout_seconds_count{component="shop"} 5');
    expect(text).toMatch(/checkout_seconds\{component="shop",quantile="0\.5"\} 0\.03/);
    const audit = query<{ route: string; status: number }>(
      db,
      "SELECT route, status FROM key_use WHERE route LIKE '%/batch'",
    );
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.every((a) => a.status === 200)).toBe(true);
  });

  it('a retried batch (same id) is stored once', async () => {
    const exporter = restExporter({ url: server.url, apiKey });
    const span: StoredSpan = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      parentSpanId: undefined,
      name: 'GET /orders',
      startMs: Date.UTC(2024, 0, 15, 14, 30),
      endMs: Date.UTC(2024, 0, 15, 14, 30) + 80,
      durationMs: 80,
      status: 'error',
      statusMessage: 'boom',
      attributes: { 'prsm.component': 'shop', 'http.status_code': 500 },
      component: 'shop',
    };
    const items: ExportItem[] = [
      { kind: 'span', span },
      {
        kind: 'alert',
        event: {
          at: Date.UTC(2024, 0, 15, 14, 31),
          event: 'firing',
          alertId: 'a-1',
          ruleId: 'r-1',
          name: 'Errors',
          severity: 'high',
          component: 'shop',
          value: 0.2,
        },
      },
      {
        kind: 'series',
        timestamp: Date.now(),
        series: {
          name: 'retried',
          component: 'shop',
          tags: {},
          labels: {},
          overflow: false,
          unit: '',
          description: '',
          type: 'counter',
          total: 7,
          windows: [],
        },
      },
    ];
    const before = dataCounts(db);
    const signal = new AbortController().signal;
    expect(await exporter.export({ id: 'retry-me', items, attempt: 1 }, signal)).toEqual({
      ok: true,
    });
    const once = dataCounts(db);
    expect(await exporter.export({ id: 'retry-me', items, attempt: 2 }, signal)).toEqual({
      ok: true,
    });
    expect(dataCounts(db)).toEqual(once);
    expect(once['batches']).toBe(before['batches']! + 1);
    expect(once['alert_events']).toBe(before['alert_events']! + 1);
    const points = query<{ sum: number; count: number }>(
      db,
      "SELECT p.sum, p.count FROM points p JOIN series s ON s.id = p.series_id WHERE s.name = 'retried'",
    );
    expect(points).toEqual([{ sum: 7, count: 1 }]);
    const trace = (await (
      await get(`${server.api}/traces/${span.traceId}`, readKey)
    ).json()) as Record<string, unknown>;
    expect(trace).toMatchObject({
      operation: 'GET /orders',
      component: 'shop',
      success: false,
      metadata: { 'http.status_code': 500 },
    });
    const alerts = (await (await get(`${server.api}/alerts`, readKey)).json()) as {
      recent_events: { alert_id: string }[];
    };
    expect(alerts.recent_events.filter((e) => e.alert_id === 'a-1')).toHaveLength(1);
  });
});

describe('rate limit, dev mode and the CLI', () => {
  it('answers 429 with Retry-After past the per-key rate, per key', async () => {
    const db = join(tmp.dir, 'rate.db');
    const [a, b] = await Promise.all([createKeyCli(db, 'read'), createKeyCli(db, 'read')]);
    const server = await start(db, ['--rate', '1', '--burst', '3']);
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 5; i++) {
      const r = await get(`${server.api}/alerts`, a.key);
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toContain(429);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(
      ((await limited!.json()) as { error: { code: string; field: string } }).error,
    ).toMatchObject({ code: 'rate_limited', field: 'authorization' });
    // Another key has its own bucket.
    expect((await get(`${server.api}/alerts`, b.key)).status).toBe(200);
  });

  it('--dev accepts loopback requests without a key and says so loudly', async () => {
    const db = join(tmp.dir, 'dev.db');
    const server = await start(db, ['--dev']);
    const r = await fetch(`${server.api}/alerts`);
    expect(r.status).toBe(200);
    expect(server.output().stderr).toMatch(/DEVELOPMENT MODE.*WITHOUT an API key/);
  });

  it('a first start without keys (configured by PRSM_* variables) says how to create one', async () => {
    const db = join(tmp.dir, 'first.db');
    const server = await start(db, [], true);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.output().stdout).toContain(`(db ${db})`);
    expect(server.output().stdout).toContain(`prsm-monitor keys create --role admin --db ${db}`);
    expect((await fetch(`${server.api}/alerts`)).status).toBe(401);
  });

  it('--help, bad flags (exit 2), bad roles, unknown key ids', async () => {
    const db = join(tmp.dir, 'cli.db');
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('keys create --role <role>');
    const cases: [string[], RegExp][] = [
      [['serve', '--port', 'abc'], /--port must be an integer/],
      [['serve', '--port', '70000'], /--port must be from 0 to 65535/],
      [['serve', '--bogus'], /Unknown option '--bogus'/],
      [['keys', 'create', '--db', db], /needs --role/],
      [
        ['keys', 'create', '--role', 'root', '--db', db],
        /--role must be one of ingest, read, enterprise, admin/,
      ],
      [['keys', 'rotate', '--db', db], /unknown keys command/],
      [['launch'], /unknown command 'launch'/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
    const revoke = await runCli(['keys', 'revoke', 'key_000000000000', '--db', db]);
    expect(revoke.code).toBe(1);
    expect(revoke.stderr).toContain('no key with id');
    const env = await runCli(['serve'], { PRSM_PORT: 'x' });
    expect(env.code).toBe(2);
  });
});
