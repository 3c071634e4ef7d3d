/**
 * Many services, one server (issue 13, point 2): the server is a real process
 * (`prsm-monitor serve`) on 127.0.0.1 with a real SQLite file; five real `Monitor`s of
 * the service `checkout`, each with its own `restExporter` (so its own
 * `source.instance_id`), and one of the service `billing`, record different latency
 * distributions into the same component over two minutes and export their
 * sub-window digests. The server merges them per series, service and minute (the
 * instance is never a key of a stored series: it is aggregated away at ingest; the
 * service is, so a series two services send is one per service), and the fleet's
 * p99 read back through `GET /analytics` (the fleet, and one service) and
 * `GET /metrics` (the latest minute) must be within 1% of the exact p99 of every
 * value sent, with every sample counted once.
 *
 * The monitors export at once, so the server merges their digests in whatever order
 * their batches arrive, and a merged digest depends a little on that order. Where the
 * values near a quantile are far apart, a few samples of rank are more than 1% of
 * value: above checkout's own p99 (12,000 values, the slow instance's tail) neighbours
 * are 0.3-0.4% apart, and over 25 runs with the arrival order shuffled its merged p99
 * was 0.79% or 1.09% from the exact p99 while its rank was 0.9902 every time. Such
 * reads are checked by rank (within half the widest centroid the digest keeps there);
 * the fleet's quantiles and the latest minute's are checked by value.
 *
 * One instance's own view (its monitor's `getPercentiles`) is its own distribution's
 * p99, not the fleet's; the mean of the instances' p99s (what averaging per-process
 * quantiles gives) is not the fleet's p99 either. A late batch of one instance (an
 * older, lower counter total arriving after a newer one) is not counted twice. The
 * clocks of the monitors are manual; nothing sleeps. The last test reads a series two
 * services send (`shared.op`): `?service=` holds that service's samples only, the
 * fleet both.
 */
import { join } from 'node:path';

import { ManualClock, Monitor } from '@prsm/core';
import { restExporter } from '@prsm/exporters/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FleetAnalyticsReport } from './read/types.js';
import {
  createKeyCli,
  query,
  startServerChild,
  tempDir,
  type ServerChild,
} from './test-support.js';

const COMPONENT = 'fleet';
const OPERATION = 'api.latency';
const MINUTE = 60_000;

/** Deterministic log-normal latencies (ms) from a fixed LCG. */
function latencies(n: number, seed: number, median: number, sigma: number): number[] {
  let x = seed;
  const uniform = (): number => {
    x = (x * 1664525 + 1013904223) % 4294967296;
    return (x + 0.5) / 4294967296;
  };
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    return median * Math.exp(sigma * z);
  });
}

/** Nearest rank: `sorted[ceil(q * n) - 1]`. */
function exact(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1]!;
}

function relative(actual: number, expected: number): number {
  return Math.abs(actual - expected) / expected;
}

/**
 * `value` lies between the exact quantiles at `q - tolerance` and `q + tolerance`: a
 * rank error of at most `tolerance`. A centroid of the default digest (compression
 * 200) is at most 2% of the weight wide at the median and about 0.2% at p99, and a
 * quantile read inside one is off by at most about half of that.
 */
function withinRank(value: number, values: readonly number[], q: number, tolerance: number): void {
  expect(value).toBeGreaterThanOrEqual(exact(values, q - tolerance));
  expect(value).toBeLessThanOrEqual(exact(values, q + tolerance));
}

/** Half the widest centroid at the median and at p99 (see {@link withinRank}). */
const MEDIAN_RANK = 0.01;
const P99_RANK = 0.001;

/** The checkout instances: different shapes and volumes; the last one is the slow one. */
const CHECKOUT = [
  { n: 2000, median: 20, sigma: 0.4 },
  { n: 1500, median: 35, sigma: 0.5 },
  { n: 1200, median: 50, sigma: 0.3 },
  { n: 800, median: 80, sigma: 0.6 },
  { n: 500, median: 250, sigma: 0.5 },
] as const;

describe('many services, one server: digests merged across instances', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  let server: ServerChild;
  let ingestKey: string;
  let readKey: string;
  const monitors: Monitor[] = [];
  /** Values by instance and minute (0, 1). */
  const sent: number[][][] = [];
  const billingSent: number[] = [];

  async function read<T>(path: string): Promise<T> {
    const response = await fetch(`${server.api}${path}`, {
      headers: { authorization: `Bearer ${readKey}` },
    });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  }

  beforeAll(async () => {
    tmp = tempDir();
    db = join(tmp.dir, 'fleet.db');
    [ingestKey, readKey] = (
      await Promise.all([createKeyCli(db, 'ingest'), createKeyCli(db, 'read')])
    ).map((k) => k.key) as [string, string];
    server = await startServerChild(db, ['--rate', '0']);

    // Two whole minutes in the recent past: inside the 15-minute window of the reads.
    const t0 = Math.floor(Date.now() / MINUTE) * MINUTE - 3 * MINUTE;
    const clocks: ManualClock[] = [];
    const make = (service: string): Monitor => {
      const clock = new ManualClock(t0);
      const monitor = new Monitor({
        clock,
        serviceName: service,
        windows: [60, 120],
        health: { resources: false },
        alerting: { evaluationIntervalSeconds: 0 },
        exporters: [restExporter({ url: server.url, apiKey: ingestKey, now: () => clock.now() })],
      });
      clocks.push(clock);
      monitors.push(monitor);
      return monitor;
    };
    const checkout = CHECKOUT.map(() => make('checkout'));
    const billing = make('billing');
    for (let minute = 0; minute < 2; minute++) {
      CHECKOUT.forEach((shape, i) => {
        // The second minute is slower for everyone: the latest minute differs from the window.
        const vs = latencies(
          shape.n,
          1000 * i + minute + 1,
          shape.median * (1 + minute),
          shape.sigma,
        );
        (sent[i] ??= [])[minute] = vs;
        const timer = checkout[i]!.timer(OPERATION, { component: COMPONENT }).bind();
        for (const v of vs) timer.record(v);
        checkout[i]!.counter('api.calls', { component: COMPONENT }).bind().inc(vs.length);
        // The same series key in two services (see the known defect below).
        const shared = checkout[i]!.timer('shared.op', { component: 'shared' }).bind();
        for (const v of vs.slice(0, 100)) shared.record(v);
      });
      const invoices = latencies(1000, 77 + minute, 900, 0.3);
      billingSent.push(...invoices);
      const timer = billing.timer('invoice.create', { component: COMPONENT }).bind();
      for (const v of invoices) timer.record(v);
      const shared = billing.timer('shared.op', { component: 'shared' }).bind();
      for (const v of invoices.slice(0, 100)) shared.record(v);
      for (const clock of clocks) clock.advance(MINUTE);
      await Promise.all(monitors.map((m) => m.forceFlush(10)));
    }
  });

  afterAll(async () => {
    await Promise.all(monitors.map((m) => m.shutdown()));
    await server?.stop();
    tmp?.remove();
  });

  const checkoutAll = (): number[] => sent.flat(2);

  it('six processes, six sources: the instances of a service are told apart, not their series', () => {
    const sources = query<{ instance_id: string; service_name: string }>(
      db,
      'SELECT instance_id, service_name FROM sources ORDER BY service_name',
    );
    expect(sources.filter((s) => s.service_name === 'checkout')).toHaveLength(CHECKOUT.length);
    expect(sources.filter((s) => s.service_name === 'billing')).toHaveLength(1);
    expect(new Set(sources.map((s) => s.instance_id)).size).toBe(CHECKOUT.length + 1);
    // One stored series for the operation, whatever the number of instances: the
    // instance is aggregated away when the digests are merged into its minute rows.
    const series = query<{ id: number }>(
      db,
      'SELECT id FROM series WHERE name = ? AND component = ?',
      OPERATION,
      COMPONENT,
    );
    expect(series).toHaveLength(1);
    const minutes = query<{ count: number }>(
      db,
      'SELECT count FROM points WHERE series_id = ? AND resolution = 60 ORDER BY bucket',
      series[0]!.id,
    );
    expect(minutes.map((m) => m.count)).toEqual(
      [0, 1].map((minute) => sent.reduce((n, byMinute) => n + byMinute[minute]!.length, 0)),
    );
  });

  it('GET /analytics of the fleet: p99 within 1% of the exact p99 of every value sent', async () => {
    const all = [...checkoutAll(), ...billingSent];
    const r = await read<FleetAnalyticsReport>(`/analytics?component=${COMPONENT}&window=15m`);
    expect(r.service).toBeNull();
    expect(r.latency_percentiles.count).toBe(all.length);
    expect(r.summary.total_requests).toBe(all.length);
    const mean = all.reduce((s, v) => s + v, 0) / all.length;
    expect(relative(r.summary.average_response_time, mean)).toBeLessThan(0.001);
    for (const [key, q] of [
      ['p50', 0.5],
      ['p95', 0.95],
      ['p99', 0.99],
    ] as const) {
      const error = relative(r.latency_percentiles[key]!, exact(all, q));
      expect(error, `fleet ${key}`).toBeLessThan(0.01);
    }
    expect(r.top_operations.map((o) => o.operation).sort()).toEqual([
      'api.latency',
      'invoice.create',
    ]);
  });

  it('GET /analytics?service=: one service is its instances merged, not the fleet', async () => {
    const values = checkoutAll();
    const r = await read<FleetAnalyticsReport>(
      `/analytics?component=${COMPONENT}&service=checkout&window=15m`,
    );
    expect(r.service).toBe('checkout');
    expect(r.latency_percentiles.count).toBe(values.length);
    expect(r.top_operations.map((o) => o.operation)).toEqual([OPERATION]);
    // Checkout's p99 alone sits in a sparse tail: checked by rank (see the top of the file).
    withinRank(r.latency_percentiles.p99!, values, 0.99, P99_RANK);
    expect(relative(r.latency_percentiles.p50!, exact(values, 0.5))).toBeLessThan(0.01);

    const fleet = await read<FleetAnalyticsReport>(`/analytics?component=${COMPONENT}`);
    // Billing's slow invoices are in the fleet's p99, not in checkout's.
    expect(fleet.latency_percentiles.p99!).toBeGreaterThan(r.latency_percentiles.p99! * 1.5);

    const billing = await read<FleetAnalyticsReport>(
      `/analytics?component=${COMPONENT}&service=billing`,
    );
    expect(billing.latency_percentiles.count).toBe(billingSent.length);
    expect(relative(billing.latency_percentiles.p99!, exact(billingSent, 0.99))).toBeLessThan(0.01);
  });

  it("one instance's view is its own distribution; averaging the instances' p99s is not the fleet's p99", async () => {
    const values = checkoutAll();
    const fleetP99 = exact(values, 0.99);
    const own = CHECKOUT.map((_, i) => {
      const [p99] = monitors[i]!.getPercentiles(OPERATION, [0.99], {
        component: COMPONENT,
        windowSeconds: 120,
      });
      const mine = sent[i]!.flat();
      // The monitor's own windowed sketch over 500 to 4,000 samples: within a few
      // percent (the 1% target is the fleet's, checked through the server).
      expect(relative(p99!, exact(mine, 0.99)), `instance ${i}`).toBeLessThan(0.03);
      return p99!;
    });
    // The fast instance alone sees a p99 far below the fleet's; the slow one, far above.
    expect(own[0]!).toBeLessThan(fleetP99 * 0.5);
    expect(own[CHECKOUT.length - 1]!).toBeGreaterThan(fleetP99 * 1.2);
    const averaged = own.reduce((s, v) => s + v, 0) / own.length;
    expect(relative(averaged, fleetP99)).toBeGreaterThan(0.05);
    const r = await read<FleetAnalyticsReport>(
      `/analytics?component=${COMPONENT}&service=checkout`,
    );
    withinRank(r.latency_percentiles.p99!, values, 0.99, P99_RANK);
  });

  it("GET /metrics: the latest minute's quantiles are the merged digest of every instance", async () => {
    const response = await fetch(`${server.api}/metrics`, {
      headers: { authorization: `Bearer ${readKey}` },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    const latest = sent.flatMap((byMinute) => byMinute[1]!);
    expect(text).toContain(
      `api_latency_seconds_count{component="${COMPONENT}",service="checkout"} ${checkoutAll().length}`,
    );
    // Counters: each instance's totals, added up.
    expect(text).toContain(
      `api_calls_total{component="${COMPONENT}",service="checkout"} ${checkoutAll().length}`,
    );
    // A series two services send: a row each, told apart by the service.
    expect(text).toContain(`shared_op_seconds_count{component="shared",service="checkout"} 1000`);
    expect(text).toContain(`shared_op_seconds_count{component="shared",service="billing"} 200`);
    for (const q of ['0.5', '0.99']) {
      const m = new RegExp(
        `^api_latency_seconds\\{component="${COMPONENT}",service="checkout",quantile="${q}"\\} (\\S+)$`,
        'm',
      ).exec(text);
      expect(m, `quantile ${q} in:\n${text}`).not.toBeNull();
      const ms = Number(m![1]) * 1000;
      expect(relative(ms, exact(latest, Number(q))), `latest minute's ${q}`).toBeLessThan(0.01);
    }
  });

  it('a late batch of an instance (two in flight, or a retry) is not read as a restart', async () => {
    const instance = 'f1ee7000-0000-4000-8000-000000000001';
    const t = Math.floor(Date.now() / MINUTE) * MINUTE - 2 * MINUTE;
    const batch = async (id: string, total: number, at: number): Promise<void> => {
      const response = await fetch(`${server.api}/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          batch_id: `late-${id}`,
          source: { instance_id: instance, resource: { 'service.name': 'checkout' } },
          sent_at: new Date(at).toISOString(),
          metrics: [
            {
              metric_name: 'late.orders',
              metric_type: 'counter',
              component: 'late',
              tags: {},
              labels: {},
              timestamp: new Date(at).toISOString(),
              value: total,
              windows: [],
            },
          ],
          traces: [],
          alerts: [],
        }),
      });
      expect(response.status, await response.text()).toBe(200);
    };
    await batch('2', 30, t + 2_000); // arrives first
    await batch('1', 10, t + 1_000); // taken before it: already counted in its 30
    await batch('3', 45, t + 3_000);
    const stored = query<{ value: number; sum: number }>(
      db,
      `SELECT s.value, (SELECT SUM(p.sum) FROM points p WHERE p.series_id = s.id) AS sum
       FROM series s WHERE s.name = 'late.orders'`,
    );
    expect(stored).toEqual([{ value: 45, sum: 45 }]);
    // A lower total taken later is a restart of the process: counted from zero.
    await batch('4', 5, t + 4_000);
    expect(
      query<{ value: number }>(db, "SELECT value FROM series WHERE name = 'late.orders'"),
    ).toEqual([{ value: 50 }]);
  });

  it('concurrent POST /batch (group commit): every good batch stored once, a bad one alone refused', async () => {
    const post = (body: unknown): Promise<Response> =>
      fetch(`${server.api}/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const at = new Date().toISOString();
    const body = (i: number, metric: Record<string, unknown>): Record<string, unknown> => ({
      batch_id: `group-${i}`,
      source: {
        instance_id: `9a000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        resource: { 'service.name': 'grouped' },
      },
      sent_at: at,
      metrics: [
        {
          metric_name: 'grouped.orders',
          component: 'grouped',
          tags: {},
          labels: {},
          timestamp: at,
          ...metric,
        },
      ],
      traces: [],
      alerts: [],
    });
    const counter = { metric_type: 'counter', value: 3, windows: [] };
    // The series exists (a counter) before the burst: the gauge below conflicts with it
    // whatever the order the burst is handled in.
    expect((await post(body(100, counter))).status).toBe(200);
    const replies = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => post(body(i, counter))),
      // A gauge where the others send a counter: a type conflict, refused alone.
      post(body(99, { metric_type: 'gauge', value: 1 })),
      post(body(100, counter)), // a retry: a duplicate, stored once
    ]);
    const statuses = replies.map((r) => r.status);
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(200));
    expect(statuses[30]).toBe(409);
    expect(statuses[31]).toBe(200);
    const stored = query<{ metric_type: string; value: number }>(
      db,
      "SELECT metric_type, value FROM series WHERE name = 'grouped.orders'",
    );
    expect(stored).toEqual([{ metric_type: 'counter', value: 93 }]);
    expect(
      query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM batches WHERE batch_id LIKE 'group-%'"),
    ).toEqual([{ n: 31 }]);
    expect(await replies[31]!.json()).toMatchObject({ duplicate: true });
  });

  // Series are keyed by service too (schema version 4): two services sending the same
  // series name, component and tags are two series, and `?service=` merges only that
  // service's digests (1,000 samples of checkout, 200 of billing), the fleet all.
  it('?service= on a series key two services share holds only that service; the fleet both', async () => {
    const ofCheckout = sent.flatMap((byMinute) => byMinute.flatMap((vs) => vs.slice(0, 100)));
    const ofBilling = [billingSent.slice(0, 100), billingSent.slice(1000, 1100)].flat();
    const checkout = await read<FleetAnalyticsReport>(
      '/analytics?component=shared&service=checkout',
    );
    // 1,000 and 200 samples of mixed shapes: values are far apart at both quantiles, so
    // both are checked by rank. (The medians by value were 1.06% and 1.10% off in 1 of
    // 25 shuffled arrival orders each; by rank, 0.4% at most.) The p99 gets half a
    // percent: its tail is ten samples.
    expect(checkout.latency_percentiles.count).toBe(CHECKOUT.length * 2 * 100);
    withinRank(checkout.latency_percentiles.p99!, ofCheckout, 0.99, 0.005);
    withinRank(checkout.latency_percentiles.p50!, ofCheckout, 0.5, MEDIAN_RANK);
    const billing = await read<FleetAnalyticsReport>('/analytics?component=shared&service=billing');
    expect(billing.latency_percentiles.count).toBe(200);
    withinRank(billing.latency_percentiles.p50!, ofBilling, 0.5, MEDIAN_RANK);
    const fleet = await read<FleetAnalyticsReport>('/analytics?component=shared');
    const all = [...ofCheckout, ...ofBilling];
    expect(fleet.latency_percentiles.count).toBe(all.length);
    withinRank(fleet.latency_percentiles.p99!, all, 0.99, 0.005);
    withinRank(billing.latency_percentiles.p99!, ofBilling, 0.99, 0.005);
    withinRank(fleet.latency_percentiles.p50!, all, 0.5, MEDIAN_RANK);
    // The stored rows: one series per service, whatever the number of instances.
    expect(
      query<{ service: string }>(
        db,
        "SELECT service FROM series WHERE name = 'shared.op' ORDER BY service",
      ).map((r) => r.service),
    ).toEqual(['billing', 'checkout']);
  });
});
