/**
 * The REST exporter behind a real `Monitor`: what arrives at a real HTTP server on
 * 127.0.0.1 after `forceFlush`, one test per kind of item (series, span, alert event).
 */
import { gunzipSync } from 'node:zlib';

import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { ManualClock, Monitor } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { startServer, type Received, type TestServer } from '../notifiers/test-support.js';
import type {
  RestAlertEvent,
  RestBatchBody,
  RestCounterMetric,
  RestDistributionMetric,
  RestGaugeMetric,
  RestMetric,
} from './body.js';
import { restExporter } from './exporter.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const API_KEY = 'sk-test-4f1c9a';

const monitors: Monitor[] = [];
const servers: TestServer[] = [];
/** Matchers, typed as what they match. */
const anyNumber = expect.any(Number) as number;
const anyString = expect.any(String) as string;
const isoString = expect.stringMatching(ISO) as string;

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  trace.disable();
  context.disable();
});

function decode(request: Received): RestBatchBody {
  const raw =
    request.headers['content-encoding'] === 'gzip' ? gunzipSync(request.rawBody) : request.rawBody;
  return JSON.parse(raw.toString('utf8')) as RestBatchBody;
}

/** A monitor exporting to a fresh server, and that server. */
async function setup(
  windowQuantiles = true,
): Promise<{ monitor: Monitor; clock: ManualClock; server: TestServer }> {
  const server = await startServer();
  servers.push(server);
  const clock = new ManualClock(T0);
  const monitor = new Monitor({
    clock,
    windows: [60, 300],
    tracing: true,
    serviceName: 'checkout',
    alerting: { evaluationIntervalSeconds: 0 },
    exporters: [
      restExporter({ url: server.url, apiKey: API_KEY, now: () => clock.now(), windowQuantiles }),
    ],
  });
  monitors.push(monitor);
  return { monitor, clock, server };
}

/** Everything the server received, merged, after checking each request's envelope. */
function received(server: TestServer, sentAt: number): RestBatchBody[] {
  expect(server.requests.length).toBeGreaterThan(0);
  return server.requests.map((request) => {
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/api/v1/monitoring/batch');
    expect(request.headers['x-api-key']).toBe(API_KEY);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['content-encoding']).toBe('gzip');
    // Really gzip: the magic bytes, and not readable as JSON as it is.
    expect(request.rawBody.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const body = decode(request);
    expect(request.headers['x-prsm-batch-id']).toBe(body.batch_id);
    expect(body.batch_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.sent_at).toBe(new Date(sentAt).toISOString());
    expect(Object.keys(body).sort()).toEqual([
      'alerts',
      'batch_id',
      'metrics',
      'sent_at',
      'source',
      'traces',
    ]);
    expect(body.source?.instance_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.source?.resource).toEqual({ 'service.name': 'checkout' });
    return body;
  });
}

function metric(bodies: RestBatchBody[], name: string): RestMetric {
  const found = bodies.flatMap((b) => b.metrics).filter((m) => m.metric_name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('restExporter behind a Monitor', () => {
  it('sends series as spec metrics: counters, gauges, histograms and timers, no digest', async () => {
    const { monitor, clock, server } = await setup();
    monitor
      .counter('marketplace.recommendation.generated', { component: 'recommendation' })
      .bind({ user_type: 'enterprise' }, { version: 'v2.1' })
      .inc(3);
    monitor.gauge('db.pool', { component: 'database' }).bind({ pool: 'main' }).set(7);
    const sizes = monitor.histogram('search.results', { component: 'marketplace', unit: 'items' });
    for (const v of [10, 20, 30, 40]) sizes.bind({ tier: 'pro' }).record(v);
    const latency = monitor
      .timer('api.latency', { component: 'api_gateway' })
      .bind({ route: '/x' });
    latency.record(100);
    latency.record(200);
    latency.recordError(300);
    clock.advance(1000);
    await monitor.forceFlush(5);

    const bodies = received(server, T0 + 1000);
    const at = new Date(T0 + 1000).toISOString();
    const [counter, gauge, histogram, timer] = [
      metric(bodies, 'marketplace.recommendation.generated') as RestCounterMetric,
      metric(bodies, 'db.pool') as RestGaugeMetric,
      metric(bodies, 'search.results') as RestDistributionMetric,
      metric(bodies, 'api.latency') as RestDistributionMetric,
    ];

    expect(counter).toEqual({
      metric_name: 'marketplace.recommendation.generated',
      metric_type: 'counter',
      component: 'recommendation',
      tags: { user_type: 'enterprise' },
      labels: { version: 'v2.1' },
      timestamp: at,
      value: 3,
      windows: [
        {
          window_seconds: 60,
          count: 3,
          per_second: anyNumber,
          per_minute: anyNumber,
        },
        {
          window_seconds: 300,
          count: 3,
          per_second: anyNumber,
          per_minute: anyNumber,
        },
      ],
    });
    const w = counter.windows[0]!;
    expect(w.per_second).toBeGreaterThan(0);
    expect(w.per_minute).toBeCloseTo(w.per_second * 60, 9);

    expect(gauge).toEqual({
      metric_name: 'db.pool',
      metric_type: 'gauge',
      component: 'database',
      tags: { pool: 'main' },
      labels: {},
      timestamp: at,
      value: 7,
    });

    expect(histogram).toMatchObject({
      metric_name: 'search.results',
      metric_type: 'histogram',
      component: 'marketplace',
      tags: { tier: 'pro' },
      labels: {},
      timestamp: at,
      unit: 'items',
      value: 25, // the cumulative mean
      count: 4,
      sum: 100,
      min: 10,
      max: 40,
    });
    expect(Object.keys(histogram).sort()).toEqual(
      [
        'component',
        'count',
        'labels',
        'max',
        'metric_name',
        'metric_type',
        'min',
        'sum',
        'tags',
        'timestamp',
        'unit',
        'value',
        'windows',
        'sub_windows',
      ].sort(),
    );
    expect(histogram.windows.map((x) => x.window_seconds)).toEqual([60, 300]);
    for (const window of histogram.windows) {
      expect(window).toEqual({
        window_seconds: window.window_seconds,
        count: 4,
        sum: 100,
        min: 10,
        max: 40,
        mean: 25,
        error_rate: 0,
        per_second: anyNumber,
        quantiles: {
          p50: anyNumber,
          p90: anyNumber,
          p95: anyNumber,
          p99: anyNumber,
          p999: anyNumber,
        },
      });
      const q = window.quantiles;
      expect(q['p50']).toBeGreaterThanOrEqual(10);
      expect(q['p50']).toBeLessThanOrEqual(q['p99']!);
      expect(q['p999']).toBeLessThanOrEqual(40);
    }

    expect(timer).toMatchObject({
      metric_type: 'timer',
      unit: 'ms',
      value: 200,
      count: 3,
      sum: 600,
      min: 100,
      max: 300,
    });
    expect(timer.windows[0]!.error_rate).toBeCloseTo(1 / 3, 9);

    // No t-digest (nor any other object the snapshot carries) on the wire: the only
    // centroids are the sub-windows' base64 ones.
    const text = server.requests
      .map((r) => gunzipSync(r.rawBody).toString('utf8'))
      .join('\n')
      .replace(/"centroids":"[A-Za-z0-9+/=]*"/g, '');
    expect(text).not.toMatch(/digest|centroid|exemplar|coveredSeconds|windowSeconds/i);
  });

  it('sends by default each sub-window once with its digest, and no window quantiles', async () => {
    const { monitor, clock, server } = await setup(false);
    const latency = monitor.timer('api.latency', { component: 'api_gateway' }).bind();
    for (const v of [1, 2, 3, 4]) latency.record(v);
    clock.advance(60_000); // closes the first minute
    latency.recordError(50);
    await monitor.forceFlush(5);
    clock.advance(60_000);
    await monitor.forceFlush(5);
    const timers = server.requests
      .map(decode)
      .flatMap((b) => b.metrics)
      .filter((m): m is RestDistributionMetric => m.metric_name === 'api.latency');
    expect(timers).toHaveLength(2);
    for (const t of timers) expect(t.windows).toEqual([]);
    const subWindows = timers.flatMap((t) => t.sub_windows ?? []);
    expect(subWindows.map((w) => [w.start_time, w.count, w.error_count, w.partial])).toEqual([
      [new Date(T0).toISOString(), 4, 0, false],
      [new Date(T0 + 60_000).toISOString(), 1, 1, false],
    ]);
    const first = subWindows[0]!;
    expect([first.seconds, first.sum, first.min, first.max]).toEqual([60, 10, 1, 4]);
    const bytes = Buffer.from(first.centroids, 'base64');
    const pairs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    expect(Array.from(pairs)).toEqual([1, 1, 2, 1, 3, 1, 4, 1]);
  });

  it('sends the slowest traced value of a sub-window as its exemplar', async () => {
    const { monitor, clock, server } = await setup(false);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const latency = monitor.timer('api.latency', { component: 'api_gateway' }).bind();
    latency.record(5, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    latency.record(70, traceId);
    latency.record(90); // slower, but not traced
    clock.advance(60_000);
    latency.record(8); // a minute with no traced value: no exemplars field
    latency.record(9, 'NOT-A-TRACE-ID'); // kept by core, never sent: not a W3C trace id
    clock.advance(60_000);
    await monitor.forceFlush(5);
    const windows = server.requests
      .map(decode)
      .flatMap((b) => b.metrics)
      .filter((m): m is RestDistributionMetric => m.metric_name === 'api.latency')
      .flatMap((m) => m.sub_windows ?? []);
    expect(windows).toHaveLength(2);
    expect(windows[0]!.exemplars).toEqual([{ value: 70, trace_id: traceId }]);
    expect(windows[1]).not.toHaveProperty('exemplars');
  });

  it('sends finished spans in snake_case with ISO times', async () => {
    const { monitor, clock, server } = await setup();
    const tracer = trace.getTracer('test');
    let traceId = '';
    let rootId = '';
    let childId = '';
    tracer.startActiveSpan('marketplace_recommendation_generation', (root) => {
      traceId = root.spanContext().traceId;
      rootId = root.spanContext().spanId;
      root.setAttributes({ 'prsm.component': 'recommendation', user_id: 'user_123' });
      tracer.startActiveSpan('recommendation_model_inference', (child) => {
        childId = child.spanContext().spanId;
        child.setAttribute('candidate_count', 150);
        clock.advance(180.5);
        child.setStatus({ code: SpanStatusCode.ERROR, message: 'model timeout' });
        child.end();
      });
      clock.advance(20);
      root.end();
    });
    await monitor.forceFlush(5);

    const traces = received(server, T0 + 200.5).flatMap((b) => b.traces);
    expect(traces).toHaveLength(2);
    const child = traces.find((s) => s.span_id === childId);
    const root = traces.find((s) => s.span_id === rootId);
    expect(child).toEqual({
      trace_id: traceId,
      span_id: childId,
      parent_span_id: rootId,
      name: 'recommendation_model_inference',
      start_time: new Date(T0).toISOString(),
      end_time: isoString,
      duration_ms: 180.5,
      status: 'error',
      status_message: 'model timeout',
      attributes: { candidate_count: 150 },
    });
    expect(root).toEqual({
      trace_id: traceId,
      span_id: rootId,
      name: 'marketplace_recommendation_generation',
      start_time: new Date(T0).toISOString(),
      end_time: isoString,
      duration_ms: 200.5,
      status: 'success',
      attributes: { 'prsm.component': 'recommendation', user_id: 'user_123' },
      component: 'recommendation',
    });
    expect(root).not.toHaveProperty('parent_span_id');
    expect(Date.parse(root!.end_time) - Date.parse(root!.start_time)).toBeGreaterThanOrEqual(200);
  });

  it('sends alert events in snake_case with ISO times', async () => {
    const { monitor, clock, server } = await setup();
    monitor.gauge('db.pool', { component: 'database' }).bind().set(7);
    const rule = monitor.alerts.create({
      id: 'pool-busy',
      name: 'Pool busy',
      severity: 'high',
      component: 'database',
      condition: 'db.pool > 5',
    });
    clock.advance(500);
    monitor.alerts.evaluate(); // pending, then firing (no duration)
    await monitor.forceFlush(5);

    const alerts = received(server, T0 + 500).flatMap((b) => b.alerts);
    expect(alerts.map((a) => a.event)).toEqual(['pending', 'firing']);
    const firing = alerts[1]!;
    const expected: RestAlertEvent = {
      alert_id: anyString,
      rule_id: rule.id,
      name: 'Pool busy',
      severity: 'high',
      component: 'database',
      event: 'firing',
      at: new Date(T0 + 500).toISOString(),
      value: 7,
    };
    expect(firing).toEqual(expected);
    expect(alerts[0]!.alert_id).toBe(firing.alert_id);
    expect(firing.alert_id.length).toBeGreaterThan(0);
  });
});
