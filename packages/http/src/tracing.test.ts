import { context, SpanKind, trace } from '@opentelemetry/api';
import type { Monitor } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { testResources } from './test-support.js';
import { HttpTracing, type SpanStart } from './tracing.js';

const resources = testResources();

function tracedMonitor(): Monitor {
  return resources.monitor({ tracing: true }).monitor;
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

function start(headers: SpanStart['headers'], method = 'GET'): SpanStart {
  return {
    method,
    rawMethod: method === '_OTHER' ? 'PROPFIND' : method,
    headers,
    path: '/orders/5',
    scheme: 'http',
    clientAddress: '127.0.0.1',
  };
}

describe('HttpTracing', () => {
  it('starts no span without a tracer provider, nor with tracing: false', () => {
    expect(new HttpTracing('t', '1', {}).wanted()).toBe(false);
    expect(new HttpTracing('t', '1', {}).start(start({}))).toBeUndefined();
    tracedMonitor();
    expect(new HttpTracing('t', '1', {}).wanted()).toBe(true);
    expect(new HttpTracing('t', '1', { tracing: false }).wanted()).toBe(false);
    expect(new HttpTracing('t', '1', { tracing: false }).start(start({}))).toBeUndefined();
  });

  it('continues an incoming traceparent, names the span after the route and ends it', () => {
    const monitor = tracedMonitor();
    const tracing = new HttpTracing('t', '1', {
      traceResponseHeader: true,
      serverTimingHeader: true,
    });
    const s = tracing.start(
      start({
        traceparent: `00-${TRACE}-${PARENT}-01`,
        tracestate: 'vendor=x',
        'user-agent': 'curl',
      }),
    )!;
    expect(s).toMatchObject({ own: true, traceId: TRACE });
    expect(trace.getSpan(s.context)).toBe(s.span);
    const value = `00-${TRACE}-${s.span.spanContext().spanId}-01`;
    expect(tracing.responseHeaders(s)).toEqual([
      ['traceresponse', value],
      ['server-timing', `traceparent;desc="${value}"`],
    ]);
    tracing.end(s, 'GET', '/orders/:id', 503, false, undefined, false);
    const [span] = monitor.traces.spans(TRACE)!;
    expect(span).toMatchObject({
      name: 'GET /orders/:id',
      parentSpanId: PARENT,
      status: 'error',
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/orders/:id',
        'http.response.status_code': 503,
        'url.path': '/orders/5',
        'client.address': '127.0.0.1',
        'user_agent.original': 'curl',
        'error.type': '503',
      },
    });
  });

  it('records a thrown error and keeps unknown methods as HTTP', () => {
    const monitor = tracedMonitor();
    const tracing = new HttpTracing('t', '1', {});
    const s = tracing.start(start({}, '_OTHER'))!;
    expect(tracing.responseHeaders(s)).toEqual([]);
    tracing.end(s, '_OTHER', '/x', 500, false, new TypeError('bad'), true);
    const [span] = monitor.traces.spans(s.traceId)!;
    expect(span).toMatchObject({
      name: 'HTTP /x',
      status: 'error',
      statusMessage: 'bad',
      attributes: { 'http.request.method_original': 'PROPFIND', 'error.type': 'TypeError' },
    });
  });

  it('adopts an active SERVER span: names it, never ends it', () => {
    const monitor = tracedMonitor();
    const tracing = new HttpTracing('t', '1', {});
    const outer = trace.getTracer('http').startSpan('GET', { kind: SpanKind.SERVER });
    const s = context.with(trace.setSpan(context.active(), outer), () => tracing.start(start({})))!;
    expect(s).toMatchObject({ own: false, span: outer });
    tracing.end(s, 'GET', '/things/:id', 200, false, undefined, false);
    expect(monitor.traces.spans(s.traceId)).toBeUndefined();
    outer.end();
    expect(
      monitor.traces.spans(s.traceId)!.map((x) => [x.name, x.attributes['http.route']]),
    ).toEqual([['GET /things/:id', '/things/:id']]);
  });
});
