/**
 * The OTLP metric exporter against a real HTTP receiver on 127.0.0.1: what the
 * OpenTelemetry exporter really sends (OTLP/JSON, and protobuf decoded with the
 * generated root of otlp-transformer 0.213) carries the monitor's series as mapped,
 * and the receiver's answers map to our results.
 */
import { ManualClock, Monitor, type ExportItem } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import {
  freePort,
  reply,
  startServer,
  type Responder,
  type TestServer,
} from '../notifiers/test-support.js';
import { otlpMetricExporter } from './metrics.js';
import {
  decodeMetrics,
  msToNanos,
  type ExpPoint,
  type Metric,
  type MetricsRequest,
} from './test-support-otlp.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const CUMULATIVE = 2; // AGGREGATION_TEMPORALITY_CUMULATIVE
const QUANTILES = [0.5, 0.9, 0.95, 0.99, 0.999];
const LATENCIES = [0, 10, 20, 20, 30, 100, 250, 1200];
const DELTAS = [-40, -5, -5, 0, 2, 8, 8, 8];

const servers: TestServer[] = [];
const monitors: Monitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(responder: Responder = reply(200, '{}')): Promise<TestServer> {
  const s = await startServer(responder);
  servers.push(s);
  return s;
}

function metric(request: MetricsRequest, name: string): Metric {
  const found = request.metrics.filter((m) => m.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
}

/** Every value lies in a bucket with room for it: (base^i, base^(i+1)]. */
function expectBracketed(point: ExpPoint, values: readonly number[]): void {
  // Bucket i holds (2^(i·2^-scale), 2^((i+1)·2^-scale)]: exact at powers of two.
  const bound = (i: number) => 2 ** (i * 2 ** -point.scale);
  const remaining = {
    positive: [...point.positive.counts],
    negative: [...point.negative.counts],
  };
  let zeros = point.zeroCount;
  for (const v of values) {
    if (v === 0) {
      zeros--;
      continue;
    }
    const side = v > 0 ? 'positive' : 'negative';
    const { offset } = point[side];
    const counts = remaining[side];
    const k = counts.findIndex(
      (c, i) => c > 0 && bound(offset + i) < Math.abs(v) && Math.abs(v) <= bound(offset + i + 1),
    );
    expect(k, `bucket of ${v}`).toBeGreaterThanOrEqual(0);
    counts[k]!--;
  }
  expect(zeros).toBe(0);
  expect([...remaining.positive, ...remaining.negative].every((c) => c === 0)).toBe(true);
}

/** At most 160 buckets a side, and one scale finer would need more on some side. */
function expectFinestScale(point: ExpPoint, values: readonly number[]): void {
  expect(point.positive.counts.length).toBeLessThanOrEqual(160);
  expect(point.negative.counts.length).toBeLessThanOrEqual(160);
  if (point.scale === 20) return;
  const index = (v: number, scale: number) => Math.ceil(Math.log2(v) * 2 ** scale) - 1;
  const spanAt = (side: number[], scale: number) =>
    side.length === 0 ? 0 : index(Math.max(...side), scale) - index(Math.min(...side), scale) + 1;
  const positive = values.filter((v) => v > 0);
  const negative = values.filter((v) => v < 0).map((v) => -v);
  const finer = point.scale + 1;
  expect(Math.max(spanAt(positive, finer), spanAt(negative, finer))).toBeGreaterThan(160);
}

describe.each(['json', 'protobuf'] as const)('otlpMetricExporter over %s', (protocol) => {
  it('sends every series as mapped, under the monitor resource', async () => {
    const s = await server();
    const clock = new ManualClock(T0);
    const monitor = new Monitor({
      clock,
      serviceName: 'checkout',
      resourceAttributes: { 'deployment.environment': 'test', 'service.version': '1.2.3' },
      exporters: [
        otlpMetricExporter({
          url: `${s.url}/v1/metrics`,
          protocol,
          headers: { 'X-Tenant': 'marketplace' },
        }),
      ],
    });
    monitors.push(monitor);
    monitor
      .counter('orders.placed', { component: 'shop', description: 'Orders placed' })
      .bind({ region: 'eu' }, { version: 'v2' })
      .inc(3);
    clock.advance(2_000);
    monitor.gauge('pool.size', { component: 'db', unit: '{connection}' }).set(7);
    const latency = monitor.timer('api.latency', { component: 'api' }).bind({ route: '/x' });
    for (const v of LATENCIES) latency.record(v);
    const delta = monitor.histogram('balance.delta', { component: 'ledger' }).bind();
    for (const v of DELTAS) delta.record(v);
    clock.advance(3_000);
    await monitor.forceFlush();

    expect(s.requests).toHaveLength(1);
    const [request] = s.requests;
    expect(request!.url).toBe('/v1/metrics');
    expect(request!.headers['x-tenant']).toBe('marketplace');
    expect(request!.headers['content-type']).toBe(
      protocol === 'json' ? 'application/json' : 'application/x-protobuf',
    );
    const sent = decodeMetrics(request!);
    expect(sent.resource).toEqual({
      'service.name': 'checkout',
      'deployment.environment': 'test',
      'service.version': '1.2.3',
    });
    expect(sent.scopes).toEqual(['@prsm/core']);
    const now = msToNanos(T0 + 5_000);

    const orders = metric(sent, 'orders.placed');
    expect(orders).toMatchObject({
      type: 'sum',
      monotonic: true,
      temporality: CUMULATIVE,
      description: 'Orders placed',
    });
    expect(orders.points).toEqual([
      {
        attributes: { region: 'eu', version: 'v2', 'prsm.component': 'shop' },
        start: msToNanos(T0),
        time: now,
        value: 3,
      },
    ]);

    const pool = metric(sent, 'pool.size');
    expect(pool).toMatchObject({ type: 'gauge', unit: '{connection}' });
    expect(pool.points).toEqual([
      // A gauge's start: when the exporter first saw it.
      { attributes: { 'prsm.component': 'db' }, start: now, time: now, value: 7 },
    ]);

    const api = metric(sent, 'api.latency');
    expect(api).toMatchObject({
      type: 'exponentialHistogram',
      temporality: CUMULATIVE,
      unit: 'ms',
    });
    expect(api.expPoints).toHaveLength(1);
    const lat = api.expPoints[0]!;
    expect(lat.attributes).toEqual({ route: '/x', 'prsm.component': 'api' });
    expect(lat.start).toBe(msToNanos(T0 + 2_000));
    expect(lat.time).toBe(now);
    expect(lat).toMatchObject({
      count: LATENCIES.length,
      sum: LATENCIES.reduce((a, b) => a + b, 0),
      min: 0,
      max: 1200,
      zeroCount: 1,
      negative: { offset: 0, counts: [] },
    });
    expectFinestScale(lat, LATENCIES);
    expect(lat.zeroCount + lat.positive.counts.reduce((a, b) => a + b, 0)).toBe(lat.count);
    expectBracketed(lat, LATENCIES);

    const ledger = metric(sent, 'balance.delta').expPoints[0]!;
    expect(ledger).toMatchObject({ count: 8, sum: -24, min: -40, max: 8, zeroCount: 1 });
    const total =
      ledger.zeroCount +
      ledger.positive.counts.reduce((a, b) => a + b, 0) +
      ledger.negative.counts.reduce((a, b) => a + b, 0);
    expect(total).toBe(ledger.count);
    expectBracketed(ledger, DELTAS);
    expectFinestScale(ledger, DELTAS);

    // The quantiles of the first window, as gauges, equal the monitor's own.
    const expected = monitor.getPercentiles('api.latency', QUANTILES, {
      component: 'api',
      tags: { route: '/x' },
    });
    const names = ['p50', 'p90', 'p95', 'p99', 'p999'];
    names.forEach((suffix, i) => {
      const gauge = metric(sent, `api.latency.${suffix}`);
      expect(gauge).toMatchObject({ type: 'gauge', unit: 'ms' });
      expect(gauge.description).toBe(`${QUANTILES[i]} quantile of api.latency over the last 60 s`);
      expect(gauge.points).toEqual([
        {
          attributes: { route: '/x', 'prsm.component': 'api' },
          start: msToNanos(T0 + 2_000),
          time: now,
          value: expected[i],
        },
      ]);
    });
    expect(expected.every(Number.isFinite)).toBe(true);

    // A later export keeps each series' start: cumulative points of one series.
    clock.advance(10_000);
    monitor
      .counter('orders.placed', { component: 'shop' })
      .bind({ region: 'eu' }, { version: 'v2' })
      .inc(2);
    await monitor.forceFlush();
    expect(s.requests).toHaveLength(2);
    const later = decodeMetrics(s.requests[1]!);
    expect(metric(later, 'orders.placed').points[0]).toMatchObject({
      start: msToNanos(T0),
      time: msToNanos(T0 + 15_000),
      value: 5,
    });
    expect(metric(later, 'pool.size').points[0]!.start).toBe(now);
    expect(metric(later, 'api.latency').expPoints[0]!.start).toBe(msToNanos(T0 + 2_000));
  });

  it('chooses a scale with at most 160 buckets, the finest that fits', async () => {
    const s = await server();
    const monitor = new Monitor({
      clock: new ManualClock(T0),
      exporters: [otlpMetricExporter({ url: `${s.url}/v1/metrics`, protocol })],
    });
    monitors.push(monitor);
    const values: number[] = [];
    for (let e = -3; e <= 6; e += 0.01) values.push(10 ** e);
    const h = monitor.histogram('wide').bind();
    for (const v of values) h.record(v);
    await monitor.forceFlush();
    const point = metric(decodeMetrics(s.requests[0]!), 'wide').expPoints[0]!;
    expect(point.count).toBe(values.length);
    expect(point.positive.counts.length).toBeLessThanOrEqual(160);
    expect(point.scale).toBeLessThan(20);
    expect(point.min).toBe(values[0]);
    expect(point.max).toBe(values[values.length - 1]);
    expect(point.positive.counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    // One scale finer would need more than 160 buckets between min and max.
    const finer = point.scale + 1;
    const index = (v: number) => Math.ceil(Math.log2(v) * 2 ** finer) - 1;
    expect(index(point.max!) - index(point.min!) + 1).toBeGreaterThan(160);
    // min and max sit in the first and last buckets.
    const bound = (i: number) => 2 ** (i * 2 ** -point.scale);
    const { offset, counts } = point.positive;
    expect(bound(offset)).toBeLessThan(point.min!);
    expect(point.min!).toBeLessThanOrEqual(bound(offset + 1));
    expect(bound(offset + counts.length - 1)).toBeLessThan(point.max!);
    expect(point.max!).toBeLessThanOrEqual(bound(offset + counts.length));
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[counts.length - 1]).toBeGreaterThan(0);
  });
});

function seriesItems(): ExportItem[] {
  const monitor = new Monitor({ clock: new ManualClock(T0) });
  monitor.counter('c').inc(1);
  const items = monitor
    .snapshot()
    .series.map((series): ExportItem => ({ kind: 'series', timestamp: T0, series }));
  void monitor.shutdown();
  return items;
}

const signal = (): AbortSignal => new AbortController().signal;

describe('otlpMetricExporter: results', () => {
  it('2xx is ok', async () => {
    const s = await server(reply(200, '{}'));
    const exporter = otlpMetricExporter({ url: `${s.url}/v1/metrics` });
    expect(exporter.name).toBe('otlp-metrics');
    expect(await exporter.export({ id: 'b', items: seriesItems(), attempt: 1 }, signal())).toEqual({
      ok: true,
    });
    await exporter.shutdown();
  });

  it('503 is a retryable failure (the OpenTelemetry exporter retries only within its timeout)', async () => {
    const s = await server(reply(503, 'busy'));
    const exporter = otlpMetricExporter({ url: `${s.url}/v1/metrics`, timeoutMillis: 500 });
    const result = await exporter.export({ id: 'b', items: seriesItems(), attempt: 1 }, signal());
    expect(result.ok).toBe(false);
    expect(result.retryable).toBe(true);
    expect(result.error).toMatch(/^otlp-metrics: /);
    expect(s.requests).toHaveLength(1);
    await exporter.shutdown();
  });

  it('400 is a failure not to retry, with the status and body', async () => {
    const s = await server(reply(400, 'bad metrics'));
    const exporter = otlpMetricExporter({ url: `${s.url}/v1/metrics`, protocol: 'protobuf' });
    const result = await exporter.export({ id: 'b', items: seriesItems(), attempt: 1 }, signal());
    expect(result).toEqual({
      ok: false,
      retryable: false,
      error: 'otlp-metrics: HTTP 400: bad metrics',
    });
    await exporter.shutdown();
  });

  it('a refused connection is retryable', async () => {
    const port = await freePort();
    const exporter = otlpMetricExporter({
      url: `http://127.0.0.1:${port}/v1/metrics`,
      timeoutMillis: 500,
    });
    const result = await exporter.export({ id: 'b', items: seriesItems(), attempt: 1 }, signal());
    expect(result.ok).toBe(false);
    expect(result.retryable).toBe(true);
    await exporter.shutdown();
  });

  it('an abort resolves at once, retryable; an aborted signal sends nothing', async () => {
    const s = await server(() => {
      // Never answers.
    });
    const exporter = otlpMetricExporter({ url: `${s.url}/v1/metrics`, timeoutMillis: 1_000 });
    const controller = new AbortController();
    const pending = exporter.export(
      { id: 'b', items: seriesItems(), attempt: 1 },
      controller.signal,
    );
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    expect(await pending).toEqual({
      ok: false,
      retryable: true,
      error: 'otlp-metrics: aborted (timeout or shutdown)',
    });
    expect(Date.now() - started).toBeLessThan(500);
    const before = s.requests.length;
    expect(
      await exporter.export({ id: 'c', items: seriesItems(), attempt: 1 }, controller.signal),
    ).toMatchObject({ ok: false, retryable: true });
    expect(s.requests.length).toBe(before);
    await exporter.shutdown();
  });

  it('ignores spans and alert events: nothing to send is ok without a request', async () => {
    const s = await server();
    const exporter = otlpMetricExporter({ url: `${s.url}/v1/metrics` });
    const items: ExportItem[] = [
      {
        kind: 'alert',
        event: {
          at: T0,
          event: 'firing',
          alertId: 'a',
          ruleId: 'r',
          name: 'n',
          severity: 'high',
          component: 'c',
          value: 1,
        },
      },
    ];
    expect(await exporter.export({ id: 'b', items, attempt: 1 }, signal())).toEqual({ ok: true });
    expect(s.requests).toHaveLength(0);
    await exporter.shutdown();
  });

  it('an explicit resource wins over the monitor one', async () => {
    const s = await server();
    const monitor = new Monitor({
      clock: new ManualClock(T0),
      serviceName: 'from-monitor',
      exporters: [
        otlpMetricExporter({
          url: `${s.url}/v1/metrics`,
          resource: { 'service.name': 'explicit', 'host.count': 3 },
        }),
      ],
    });
    monitors.push(monitor);
    monitor.counter('c').inc();
    await monitor.forceFlush();
    expect(decodeMetrics(s.requests[0]!).resource).toEqual({
      'service.name': 'explicit',
      'host.count': 3,
    });
  });
});

describe('otlpMetricExporter: options are checked', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['url not a URL', { url: 'nope' }, /options\.url must be an absolute http/],
    ['url ftp', { url: 'ftp://collector/v1/metrics' }, /options\.url must be an absolute http/],
    ['url not a string', { url: 42 }, /options\.url must be a URL string/],
    ['url with credentials', { url: 'http://u:p@collector' }, /options\.url must not contain/],
    ['headers array', { headers: ['a'] }, /options\.headers must be an object/],
    ['header value', { headers: { 'x-a': 1 } }, /options\.headers\['x-a'\] must be a string/],
    ['header CRLF', { headers: { 'x-a': 'a\r\nb' } }, /options\.headers\['x-a'\]/],
    ['header name', { headers: { 'bad name': 'x' } }, /valid HTTP header name/],
    ['own header', { headers: { 'Content-Type': 'text/plain' } }, /is set by the exporter/],
    ['protocol', { protocol: 'grpc' }, /options\.protocol must be 'json' or 'protobuf'/],
    ['timeout 0', { timeoutMillis: 0 }, /options\.timeoutMillis/],
    ['timeout NaN', { timeoutMillis: NaN }, /options\.timeoutMillis/],
    ['resource', { resource: 'svc' }, /options\.resource must be an object/],
    ['resource value', { resource: { a: {} } }, /options\.resource\['a'\]/],
    ['maxBuckets', { maxBuckets: 1 }, /options\.maxBuckets must be an integer >= 2/],
  ];
  it.each(cases)('%s', (_label, options, message) => {
    expect(() => otlpMetricExporter(options as never)).toThrow(TypeError);
    expect(() => otlpMetricExporter(options as never)).toThrow(message);
  });

  it('options must be an object', () => {
    expect(() => otlpMetricExporter(null as never)).toThrow(
      /otlpMetricExporter: options must be an object/,
    );
  });
});
