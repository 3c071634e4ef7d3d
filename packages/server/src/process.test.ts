/**
 * The server as a real process, end to end: acknowledged writes survive `kill -9`;
 * the REST exporter of `@prsm/exporters` (behind a real `Monitor`) lands in the
 * server and a retried batch is stored once; the sub-windows' digests of two minutes
 * and of two processes merge in the server into the percentiles the monitors compute
 * themselves; the per-key rate limit answers 429 with
 * `Retry-After`; `--dev` and the CLI's help, errors and first-start hint.
 */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { ManualClock, Monitor, TDigest, type ExportItem, type StoredSpan } from '@prsm/core';
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
    // The batches' service is a label (series are keyed by service: schema version 4).
    expect(text).toContain(
      'orders_total{component="shop",service="unknown_service:node",tier="gold"} 3',
    );
    expect(text).toContain('queue_depth{component="shop",service="unknown_service:node"} 42');
    expect(text).toContain(
      'checkout_seconds_count{component="shop",service="unknown_service:node"} 5',
    );
    expect(text).toMatch(
      /checkout_seconds\{component="shop",service="unknown_service:node",quantile="0\.5"\} 0\.03/,
    );
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

/** Deterministic heavy-tailed latencies (ms): a log-normal from a fixed LCG. */
function latencies(n: number, seed: number, median: number): number[] {
  let x = seed;
  const uniform = (): number => {
    x = (x * 1664525 + 1013904223) % 4294967296;
    return (x + 0.5) / 4294967296;
  };
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    return median * Math.exp(0.6 * z);
  });
}

/** A quantile of a summary in the Prometheus text, back in ms. */
function promQuantile(text: string, series: string, component: string, q: string): number {
  const m = new RegExp(
    // Any service label (series are keyed by service: schema version 4).
    `^${series}\\{component="${component}",(?:service="[^"]*",)?quantile="${q}"\\} (\\S+)$`,
    'm',
  ).exec(text);
  expect(m, `${series} ${component} ${q} in:\n${text}`).not.toBeNull();
  return Number(m![1]) * 1000;
}

function expectClose(actual: number | undefined, expected: number, what: string): void {
  expect(actual, what).toBeDefined();
  expect(Math.abs(actual! - expected) / expected, `${what}: ${actual} vs ${expected}`).toBeLessThan(
    0.01,
  );
}

describe('sub-windows, end to end: percentiles merged by the server', () => {
  let server: ServerChild;
  let key: string;
  const monitors: Monitor[] = [];
  // Two whole minutes in the recent past: inside the server's rule windows.
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 3 * 60_000;

  beforeAll(async () => {
    const db = join(tmp.dir, 'subwindows.db');
    key = (await createKeyCli(db, 'admin')).key;
    server = await start(db, ['--rate', '0', '--eval-interval', '100']);
  });
  afterAll(async () => {
    await Promise.all(monitors.map((m) => m.shutdown()));
  });

  function monitor(clock: ManualClock): Monitor {
    const m = new Monitor({
      clock,
      windows: [60, 120],
      serviceName: 'checkout',
      alerting: { evaluationIntervalSeconds: 0 },
      exporters: [restExporter({ url: server.url, apiKey: key, now: () => clock.now() })],
    });
    monitors.push(m);
    return m;
  }

  async function metricsText(): Promise<string> {
    return (await get(`${server.api}/metrics`, key)).text();
  }

  it("a timer over two minutes: the server's p50/p99 equal the monitor's getPercentiles", async () => {
    const clock = new ManualClock(T0);
    const m = monitor(clock);
    const latency = m.timer('api.latency', { component: 'shop' }).bind();
    for (const ms of latencies(3000, 1, 40)) latency.record(ms);
    clock.advance(60_000);
    await m.forceFlush(10);
    for (const ms of latencies(3000, 2, 90)) latency.record(ms);
    clock.advance(60_000);
    await m.forceFlush(10);

    const [last50, last99] = m.getPercentiles('api.latency', [0.5, 0.99], {
      component: 'shop',
      windowSeconds: 60,
    });
    const [both50, both99] = m.getPercentiles('api.latency', [0.5, 0.99], {
      component: 'shop',
      windowSeconds: 120,
    });
    // GET /metrics: the latest minute's merged digest, and every sample counted once.
    const text = await metricsText();
    expect(text).toContain('api_latency_seconds_count{component="shop",service="checkout"} 6000');
    expectClose(
      promQuantile(text, 'api_latency_seconds', 'shop', '0.5'),
      last50!,
      'p50 of the last minute',
    );
    expectClose(
      promQuantile(text, 'api_latency_seconds', 'shop', '0.99'),
      last99!,
      'p99 of the last minute',
    );

    // The alert rules' pN: the two minute digests merged.
    const rules: Record<string, string> = {};
    for (const q of ['p50', 'p99']) {
      const reply = await post(`${server.api}/alerts`, key, {
        name: `${q} latency`,
        severity: 'info',
        component: 'shop',
        condition: `${q}(api.latency[10m]) > 1ms`,
      });
      expect(reply.status).toBe(201);
      rules[q] = ((await reply.json()) as { alert_id: string }).alert_id;
    }
    let active: { rule_id: string; value: number | null }[] = [];
    const deadline = Date.now() + 10_000;
    while (active.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      active = (
        (await (await get(`${server.api}/alerts`, key)).json()) as { active_alerts: typeof active }
      ).active_alerts.filter((a) => Object.values(rules).includes(a.rule_id));
    }
    const valueOf = (q: string): number | undefined =>
      active.find((a) => a.rule_id === rules[q])?.value ?? undefined;
    expectClose(valueOf('p50'), both50!, 'p50 over both minutes');
    expectClose(valueOf('p99'), both99!, 'p99 over both minutes');
    // Not what either minute alone says.
    expect(Math.abs(valueOf('p50')! - last50!) / last50!).toBeGreaterThan(0.1);
  });

  it('two processes, one series: counts and counters add up, neither resets the other', async () => {
    const clocks = [new ManualClock(T0), new ManualClock(T0)];
    const [b, c] = clocks.map(monitor) as [Monitor, Monitor];
    const valuesB = latencies(1500, 3, 20);
    const valuesC = latencies(500, 4, 200);
    const orders = (m: Monitor): ReturnType<ReturnType<Monitor['counter']>['bind']> =>
      m.counter('orders', { component: 'fleet' }).bind();
    orders(b).inc(10);
    orders(c).inc(3); // a lower total than b's: not a restart of b
    for (const ms of valuesB) b.timer('api.latency', { component: 'fleet' }).bind().record(ms);
    for (const ms of valuesC) c.timer('api.latency', { component: 'fleet' }).bind().record(ms);
    const flush = async (): Promise<void> => {
      for (const clock of clocks) clock.advance(60_000);
      await Promise.all([b.forceFlush(10), c.forceFlush(10)]);
    };
    await flush();
    orders(b).inc(5);
    orders(c).inc(1);
    await flush();
    const text = await metricsText();
    expect(text).toContain('orders_total{component="fleet",service="checkout"} 19');
    expect(text).toContain('api_latency_seconds_count{component="fleet",service="checkout"} 2000');
    const all = new TDigest();
    for (const v of [...valuesB, ...valuesC]) all.add(v);
    expectClose(
      promQuantile(text, 'api_latency_seconds', 'fleet', '0.5'),
      all.quantile(0.5),
      'fleet p50',
    );
    expectClose(
      promQuantile(text, 'api_latency_seconds', 'fleet', '0.99'),
      all.quantile(0.99),
      'fleet p99',
    );
    const sources = query<{ service_name: string }>(
      join(tmp.dir, 'subwindows.db'),
      'SELECT service_name FROM sources',
    );
    expect(sources.length).toBeGreaterThanOrEqual(2); // b and c (and the test before's)
    expect(sources.every((s) => s.service_name === 'checkout')).toBe(true);
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
      [['serve', '--synchronous', 'off'], /--synchronous must be full or normal/],
      [['serve', '--webhook-url', 'not a url'], /--webhook-url/],
      [['serve', '--eval-interval', '-5'], /--eval-interval/],
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

describe('server-side alerting and --synchronous normal, as a process', () => {
  it('--webhook-url delivers a rule fired by ingested data; --eval-interval runs it', async () => {
    const bodies: { status: string; alerts: { name: string }[] }[] = [];
    const receiver = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString('utf8')));
      req.on('end', () => {
        bodies.push(JSON.parse(body) as { status: string; alerts: { name: string }[] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const db = join(tmp.dir, 'alerting.db');
      const { key } = await createKeyCli(db, 'admin');
      const server = await start(db, ['--webhook-url', hook, '--eval-interval', '100']);
      expect(
        (
          await post(`${server.api}/alerts`, key, {
            name: 'Queue too deep',
            severity: 'critical',
            component: 'worker',
            condition: 'queue.depth > 100',
            notification_channels: ['webhook'],
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await post(`${server.api}/metrics`, key, {
            name: 'queue.depth',
            value: 500,
            metric_type: 'gauge',
            component: 'worker',
          })
        ).status,
      ).toBe(200);
      const deadline = Date.now() + 10_000;
      while (bodies.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(bodies[0]).toMatchObject({ status: 'firing', alerts: [{ name: 'Queue too deep' }] });
      const list = (await (await get(`${server.api}/alerts`, key)).json()) as {
        active_alerts: { state: string }[];
      };
      expect(list.active_alerts).toMatchObject([{ state: 'firing' }]);
      await server.stop();
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('group commit: kill -9 during concurrent ingest keeps every acknowledged point', async () => {
    const db = join(tmp.dir, 'concurrent.db');
    const { key } = await createKeyCli(db, 'ingest');
    const server = await start(db, ['--rate', '0']);
    const metrics = Array.from({ length: 100 }, (_, i) => ({
      name: 'concurrent',
      value: 1,
      metric_type: i % 4 === 0 ? 'timer' : 'counter',
      tags: { shard: String(i % 20), kind: i % 4 === 0 ? 't' : 'c' },
    }));
    let acknowledged = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        try {
          const reply = await post(`${server.api}/metrics`, key, { metrics });
          if (reply.status === 200) acknowledged++;
        } catch {
          return; // the server is gone
        }
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    while (acknowledged < 30) await new Promise((resolve) => setTimeout(resolve, 5));
    await server.kill();
    stop = true;
    await Promise.all(workers);
    const stored = query<{ n: number }>(
      db,
      "SELECT SUM(count) AS n FROM series WHERE name = 'concurrent'",
    )[0]!.n;
    expect(stored).toBeGreaterThanOrEqual(acknowledged * 100);
    // At most the requests in flight (one per worker) were stored without an answer.
    expect(stored).toBeLessThanOrEqual((acknowledged + 8) * 100);
  });

  it('with --synchronous normal, acknowledged writes still survive kill -9', async () => {
    const db = join(tmp.dir, 'normal.db');
    const { key } = await createKeyCli(db, 'ingest');
    const server = await start(db, ['--synchronous', 'normal', '--rate', '0']);
    const metrics = Array.from({ length: 1000 }, (_, i) => ({
      name: 'acked',
      value: 1,
      metric_type: 'counter',
      tags: { shard: String(i % 10) },
    }));
    for (let i = 0; i < 20; i++) {
      expect((await post(`${server.api}/metrics`, key, { metrics })).status).toBe(200);
    }
    await server.kill();
    expect(server.child.signalCode).toBe('SIGKILL');
    const rows = query<{ total: number }>(
      db,
      "SELECT SUM(value) AS total FROM series WHERE name = 'acked'",
    );
    expect(rows[0]!.total).toBe(20_000);
  });
});
