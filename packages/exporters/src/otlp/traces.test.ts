/**
 * The OTLP trace exporter against a real HTTP receiver on 127.0.0.1: spans a monitor
 * stored (through its minimal provider) reach the receiver with their ids, parents,
 * times, status and attributes, OTLP/JSON and protobuf; answers map to our results.
 */
import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { ManualClock, Monitor, type ExportItem, type StoredSpan } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { reply, startServer, type Responder, type TestServer } from '../notifiers/test-support.js';
import { decodeTraces, msToNanos } from './test-support-otlp.js';
import { otlpTraceExporter } from './traces.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const INTERNAL = 1; // SPAN_KIND_INTERNAL
const STATUS_ERROR = 2;
const STATUS_UNSET = 0;

const servers: TestServer[] = [];
const monitors: Monitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  trace.disable();
  context.disable();
  propagation.disable();
});

async function server(responder: Responder = reply(200, '{}')): Promise<TestServer> {
  const s = await startServer(responder);
  servers.push(s);
  return s;
}

describe.each(['json', 'protobuf'] as const)('otlpTraceExporter over %s', (protocol) => {
  it('sends the spans the monitor stored, as stored', async () => {
    const s = await server();
    const clock = new ManualClock(T0);
    const monitor = new Monitor({
      clock,
      tracing: true,
      serviceName: 'checkout',
      resourceAttributes: { 'deployment.environment': 'test' },
      exporters: [
        otlpTraceExporter({ url: `${s.url}/v1/traces`, protocol, headers: { 'x-team': 'pay' } }),
      ],
    });
    monitors.push(monitor);
    const tracer = trace.getTracer('shop');
    const traceId = tracer.startActiveSpan('checkout', (root) => {
      root.setAttribute('prsm.component', 'shop');
      root.setAttribute('order.items', 3);
      root.setAttribute('order.tags', ['a', 'b']);
      clock.advance(10);
      tracer.startActiveSpan('charge', (child) => {
        clock.advance(25);
        child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
        child.end();
      });
      clock.advance(5);
      root.end();
      return root.spanContext().traceId;
    });
    await monitor.forceFlush();

    const stored = monitor.traces.spans(traceId)!;
    expect(stored).toHaveLength(2);
    const requests = s.requests;
    expect(requests.length).toBeGreaterThanOrEqual(1);
    expect(requests[0]!.url).toBe('/v1/traces');
    expect(requests[0]!.headers['x-team']).toBe('pay');
    const decoded = requests.map(decodeTraces);
    for (const d of decoded) {
      expect(d.resource).toEqual({ 'service.name': 'checkout', 'deployment.environment': 'test' });
    }
    const spans = decoded.flatMap((d) => d.spans);
    expect(spans).toHaveLength(2);
    const byName = (name: string) => spans.find((span) => span.name === name)!;
    const storedByName = (name: string): StoredSpan => stored.find((span) => span.name === name)!;
    const root = byName('checkout');
    const child = byName('charge');
    expect(root).toEqual({
      traceId,
      spanId: storedByName('checkout').spanId,
      parentSpanId: undefined,
      name: 'checkout',
      kind: INTERNAL,
      start: msToNanos(T0),
      end: msToNanos(T0 + 40),
      attributes: { 'prsm.component': 'shop', 'order.items': 3, 'order.tags': ['a', 'b'] },
      events: [],
      status: { code: STATUS_UNSET, message: undefined },
      flags: 0x101, // sampled, with "is remote" known (false)
      scope: '@prsm/core',
    });
    expect(child).toMatchObject({
      traceId,
      spanId: storedByName('charge').spanId,
      parentSpanId: root.spanId,
      start: msToNanos(T0 + 10),
      end: msToNanos(T0 + 35),
      status: { code: STATUS_ERROR, message: 'card declined' },
    });
    expect(child.spanId).not.toBe(root.spanId);
  });
});

function spanItem(overrides: Partial<StoredSpan> = {}): ExportItem {
  return {
    kind: 'span',
    span: {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      parentSpanId: 'a3ce929d0e0e4736',
      name: 'inference',
      startMs: T0 + 0.25,
      endMs: T0 + 180.5,
      durationMs: 180.25,
      status: 'success',
      statusMessage: undefined,
      attributes: {},
      component: undefined,
      ...overrides,
    },
  };
}

const signal = (): AbortSignal => new AbortController().signal;

describe('otlpTraceExporter: items and results', () => {
  it('maps a span item on its own: sub-millisecond times, explicit resource', async () => {
    const s = await server();
    const exporter = otlpTraceExporter({
      url: `${s.url}/v1/traces`,
      protocol: 'protobuf',
      resource: { 'service.name': 'inference' },
    });
    expect(exporter.name).toBe('otlp-traces');
    exporter.attach?.({ resource: { 'service.name': 'ignored' } });
    const result = await exporter.export({ id: 'b', items: [spanItem()], attempt: 1 }, signal());
    expect(result).toEqual({ ok: true });
    const sent = decodeTraces(s.requests[0]!);
    expect(sent.resource).toEqual({ 'service.name': 'inference' });
    expect(sent.spans[0]).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      parentSpanId: 'a3ce929d0e0e4736',
      start: msToNanos(T0) + 250_000n,
      end: msToNanos(T0) + 180_500_000n,
    });
    await exporter.shutdown();
  });

  it('takes the resource from attach without an explicit one', async () => {
    const s = await server();
    const exporter = otlpTraceExporter({ url: `${s.url}/v1/traces` });
    exporter.attach?.({ resource: { 'service.name': 'attached', 'k8s.pod.name': 'p-1' } });
    await exporter.export({ id: 'b', items: [spanItem()], attempt: 1 }, signal());
    expect(decodeTraces(s.requests[0]!).resource).toEqual({
      'service.name': 'attached',
      'k8s.pod.name': 'p-1',
    });
    await exporter.shutdown();
  });

  it('ignores other items: nothing to send is ok without a request', async () => {
    const s = await server();
    const exporter = otlpTraceExporter({ url: `${s.url}/v1/traces` });
    const monitor = new Monitor({ clock: new ManualClock(T0) });
    monitor.counter('c').inc();
    const items = monitor
      .snapshot()
      .series.map((series): ExportItem => ({ kind: 'series', timestamp: T0, series }));
    await monitor.shutdown();
    expect(await exporter.export({ id: 'b', items, attempt: 1 }, signal())).toEqual({ ok: true });
    expect(s.requests).toHaveLength(0);
    await exporter.shutdown();
  });

  it('503 is retryable, 400 is not', async () => {
    const busy = await server(reply(503, 'busy'));
    const e1 = otlpTraceExporter({ url: `${busy.url}/v1/traces`, timeoutMillis: 500 });
    const r1 = await e1.export({ id: 'b', items: [spanItem()], attempt: 1 }, signal());
    expect(r1).toMatchObject({ ok: false, retryable: true });
    expect(r1.error).toMatch(/^otlp-traces: /);
    const bad = await server(reply(400, 'malformed'));
    const e2 = otlpTraceExporter({ url: `${bad.url}/v1/traces`, protocol: 'protobuf' });
    expect(await e2.export({ id: 'b', items: [spanItem()], attempt: 1 }, signal())).toEqual({
      ok: false,
      retryable: false,
      error: 'otlp-traces: HTTP 400: malformed',
    });
    await Promise.all([e1.shutdown(), e2.shutdown()]);
  });

  it('checks its options', () => {
    expect(() => otlpTraceExporter({ url: 'ws://collector' })).toThrow(
      /otlpTraceExporter: options\.url must be an absolute http/,
    );
    expect(() => otlpTraceExporter({ protocol: 'grpc' as never })).toThrow(TypeError);
    expect(() => otlpTraceExporter({ resource: { '': 'x' } })).toThrow(
      /otlpTraceExporter: options\.resource\[''\]/,
    );
    expect(() => otlpTraceExporter({ headers: { 'x-a': 'b\n' } })).toThrow(TypeError);
  });
});
