/**
 * `startTracing` against a real HTTP receiver on 127.0.0.1: spans made with the
 * OpenTelemetry API arrive at the receiver (decoded from OTLP/JSON and protobuf) and
 * in the monitor's trace store, with the monitor's resource; shutdown unregisters the
 * globals; a monitor with `tracing: true` is refused.
 */
import { AlwaysOffSampler, type Sampler } from '@opentelemetry/sdk-trace-node';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ManualClock, Monitor } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { reply, startServer, type TestServer } from '../notifiers/test-support.js';
import { startTracing, type Tracing } from './start-tracing.js';
import { decodeTraces, msToNanos } from './test-support-otlp.js';

const SERVER = 2; // SPAN_KIND_SERVER
const INTERNAL = 1;
const STATUS_ERROR = 2;

const servers: TestServer[] = [];
const monitors: Monitor[] = [];
const started: Tracing[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.shutdown()));
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  trace.disable();
  context.disable();
  propagation.disable();
});

async function setUp(
  protocol: 'json' | 'protobuf',
  extra: { serviceName?: string; sampler?: Sampler } = {},
): Promise<{ server: TestServer; monitor: Monitor; tracing: Tracing }> {
  const server = await startServer(reply(200, '{}'));
  servers.push(server);
  const monitor = new Monitor({
    serviceName: 'checkout',
    resourceAttributes: { 'service.version': '2.0.0' },
  });
  monitors.push(monitor);
  const tracing = startTracing({
    monitor,
    otlp: { url: `${server.url}/v1/traces`, protocol, headers: { 'x-team': 'pay' } },
    ...extra,
  });
  started.push(tracing);
  return { server, monitor, tracing };
}

describe.each(['json', 'protobuf'] as const)('startTracing over %s', (protocol) => {
  it('sends API spans to the receiver and keeps them in monitor.traces', async () => {
    const { server, monitor, tracing } = await setUp(protocol);
    const tracer = trace.getTracer('shop', '1.0.0');
    const traceId = await tracer.startActiveSpan(
      'POST /checkout',
      { kind: SpanKind.SERVER, attributes: { 'http.route': '/checkout' } },
      async (root) => {
        await tracer.startActiveSpan('charge', async (child) => {
          // Across an await: the context manager carries the parent.
          await new Promise((resolve) => setTimeout(resolve, 5));
          child.addEvent('card.checked');
          child.setStatus({ code: SpanStatusCode.ERROR, message: 'declined' });
          child.end();
        });
        root.end();
        return root.spanContext().traceId;
      },
    );
    await tracing.forceFlush();

    const stored = monitor.traces.spans(traceId);
    expect(stored?.map((s) => s.name).sort()).toEqual(['POST /checkout', 'charge']);
    expect(server.requests.length).toBeGreaterThanOrEqual(1);
    expect(server.requests[0]!.url).toBe('/v1/traces');
    expect(server.requests[0]!.headers['x-team']).toBe('pay');
    const decoded = server.requests.map(decodeTraces);
    for (const d of decoded) {
      expect(d.resource).toEqual({ 'service.name': 'checkout', 'service.version': '2.0.0' });
    }
    const spans = decoded.flatMap((d) => d.spans);
    expect(spans).toHaveLength(2);
    const root = spans.find((s) => s.name === 'POST /checkout')!;
    const child = spans.find((s) => s.name === 'charge')!;
    const storedRoot = stored!.find((s) => s.name === 'POST /checkout')!;
    const storedChild = stored!.find((s) => s.name === 'charge')!;
    expect(root).toMatchObject({
      traceId,
      spanId: storedRoot.spanId,
      parentSpanId: undefined,
      kind: SERVER,
      attributes: { 'http.route': '/checkout' },
      scope: 'shop',
    });
    expect(child).toMatchObject({
      traceId,
      spanId: storedChild.spanId,
      parentSpanId: storedRoot.spanId,
      kind: INTERNAL,
      status: { code: STATUS_ERROR, message: 'declined' },
      events: [{ name: 'card.checked' }],
    });
    expect(storedChild.parentSpanId).toBe(storedRoot.spanId);
    expect(storedChild.status).toBe('error');
    // The store's milliseconds and the wire's nanoseconds agree to the microsecond.
    const diff = Number(child.start - msToNanos(storedChild.startMs));
    expect(Math.abs(diff)).toBeLessThan(1_000);
    expect(child.end > child.start).toBe(true);
  });
});

describe('startTracing', () => {
  it('serviceName replaces the monitor one', async () => {
    const { server, tracing } = await setUp('json', { serviceName: 'checkout-canary' });
    trace.getTracer('t').startSpan('s').end();
    await tracing.forceFlush();
    expect(decodeTraces(server.requests[0]!).resource).toEqual({
      'service.name': 'checkout-canary',
      'service.version': '2.0.0',
    });
  });

  it('uses the sampler: a dropped trace reaches neither the receiver nor the monitor', async () => {
    const { server, monitor, tracing } = await setUp('json', { sampler: new AlwaysOffSampler() });
    const span = trace.getTracer('t').startSpan('s');
    const traceId = span.spanContext().traceId;
    span.end();
    await tracing.forceFlush();
    expect(span.isRecording()).toBe(false);
    expect(monitor.traces.spans(traceId)).toBeUndefined();
    expect(server.requests).toHaveLength(0);
  });

  it('shutdown unregisters the provider, context manager and propagator, and is idempotent', async () => {
    const { monitor, tracing } = await setUp('json');
    expect(propagation.fields()).toContain('traceparent');
    const first = tracing.shutdown();
    expect(tracing.shutdown()).toBe(first);
    await first;
    const span = trace.getTracer('t').startSpan('after');
    expect(span.isRecording()).toBe(false);
    span.end();
    expect(propagation.fields()).toEqual([]);
    // The monitor keeps its span processor: a second startTracing feeds it again.
    const server = await startServer(reply(200, '{}'));
    servers.push(server);
    const again = startTracing({ monitor, otlp: { url: `${server.url}/v1/traces` } });
    started.push(again);
    const s = trace.getTracer('t').startSpan('again');
    s.end();
    await again.forceFlush();
    expect(monitor.traces.spans(s.spanContext().traceId)).toHaveLength(1);
  });

  it('refuses a monitor with tracing: true (its provider would take every span)', () => {
    const monitor = new Monitor({ clock: new ManualClock(0), tracing: true });
    monitors.push(monitor);
    expect(() =>
      startTracing({ monitor, otlp: { url: 'http://127.0.0.1:4318/v1/traces' } }),
    ).toThrow(
      /startTracing: a global tracer provider is already registered \(new Monitor\(\{ tracing: true \}\)/,
    );
    // Nothing of ours was registered: the monitor's provider still records.
    const span = trace.getTracer('t').startSpan('s');
    expect(span.isRecording()).toBe(true);
    span.end();
    expect(monitor.traces.spans(span.spanContext().traceId)).toHaveLength(1);
  });

  it('checks its options', () => {
    const monitor = new Monitor();
    monitors.push(monitor);
    const otlp = { url: 'http://127.0.0.1:4318/v1/traces' };
    expect(() => startTracing(null as never)).toThrow(/startTracing: options must be an object/);
    expect(() => startTracing({ monitor: {} as never, otlp })).toThrow(
      /startTracing: options\.monitor must be a Monitor/,
    );
    expect(() => startTracing({ monitor, otlp: 'http://x' as never })).toThrow(
      /startTracing: options\.otlp must be an object/,
    );
    expect(() => startTracing({ monitor, otlp: { url: 'file:///tmp/x' } })).toThrow(
      /startTracing: options\.otlp\.url must be an absolute http/,
    );
    expect(() => startTracing({ monitor, otlp: { ...otlp, headers: 'a' as never } })).toThrow(
      /startTracing: options\.otlp\.headers/,
    );
    expect(() => startTracing({ monitor, otlp, serviceName: '' })).toThrow(
      /startTracing: options\.serviceName/,
    );
    expect(() => startTracing({ monitor, otlp, sampler: {} as never })).toThrow(
      /startTracing: options\.sampler must be an OpenTelemetry Sampler/,
    );
    // Nothing was registered by the refused calls.
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
  });
});
