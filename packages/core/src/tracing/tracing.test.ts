import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { Monitor } from '../monitor.js';
import type { StoredSpan } from './trace-store.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30);
let monitors: Monitor[] = [];

function monitorWith(clock: ManualClock, options: ConstructorParameters<typeof Monitor>[0] = {}) {
  const monitor = new Monitor({ clock, ...options });
  monitors.push(monitor);
  return monitor;
}

afterEach(async () => {
  await Promise.all(monitors.map((m) => m.shutdown()));
  monitors = [];
  trace.disable();
  context.disable();
});

function span(traceId: string, spanId: string, parentSpanId?: string): StoredSpan {
  return {
    traceId,
    spanId,
    parentSpanId,
    name: `op-${spanId}`,
    startMs: T0,
    endMs: T0 + 1,
    durationMs: 1,
    status: 'success',
    statusMessage: undefined,
    attributes: {},
    component: undefined,
  };
}

describe('tracing: true (the minimal provider)', () => {
  it('nests spans across await and returns the spec trace object', async () => {
    const clock = new ManualClock(T0);
    const monitor = monitorWith(clock, { tracing: true });
    const tracer = trace.getTracer('test');
    let traceId = '';
    await tracer.startActiveSpan('marketplace_recommendation_generation', async (root) => {
      traceId = root.spanContext().traceId;
      root.setAttributes({ 'prsm.component': 'recommendation', user_id: 'user_123' });
      await tracer.startActiveSpan('user_preference_lookup', async (child) => {
        child.setAttribute('cache_hit', true);
        await Promise.resolve();
        clock.advance(25.1);
        child.end();
      });
      await new Promise((resolve) => setImmediate(resolve));
      await tracer.startActiveSpan('recommendation_model_inference', async (child) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        // The active span follows the await into the timer's continuation.
        expect(trace.getActiveSpan()).toBe(child);
        clock.advance(180.2);
        child.setStatus({ code: SpanStatusCode.ERROR, message: 'model timeout' });
        child.recordException(new RangeError('model timeout'));
        child.end();
      });
      root.end();
    });
    const t = monitor.getTrace(traceId)!;
    expect(t).toEqual({
      trace_id: traceId,
      operation: 'marketplace_recommendation_generation',
      component: 'recommendation',
      total_duration_ms: 205.3,
      spans: [
        {
          name: 'user_preference_lookup',
          duration_ms: 25.1,
          status: 'success',
          metadata: { cache_hit: true },
        },
        { name: 'recommendation_model_inference', duration_ms: 180.2, status: 'error' },
      ],
      success: false,
      timestamp: '2024-01-15T14:30:00.000Z',
      metadata: { user_id: 'user_123' },
    });
    const stored = monitor.traces.spans(traceId)!;
    const root = stored.find((s) => s.parentSpanId === undefined)!;
    expect(stored.filter((s) => s.parentSpanId === root.spanId)).toHaveLength(2);
    expect(stored.every((s) => s.traceId === traceId)).toBe(true);
  });

  it('keeps separate traces apart and unknown traces undefined', () => {
    const monitor = monitorWith(new ManualClock(T0), { tracing: true });
    const tracer = trace.getTracer('test');
    const a = tracer.startSpan('a');
    const b = tracer.startSpan('b');
    a.end();
    b.end();
    expect(a.spanContext().traceId).not.toBe(b.spanContext().traceId);
    expect(monitor.getTrace(a.spanContext().traceId)?.operation).toBe('a');
    expect(monitor.getTrace(a.spanContext().traceId)?.spans).toEqual([]);
    expect(monitor.getTrace('0af7651916cd43dd8448eb211c80319c')).toBeUndefined();
  });

  it('reports, and does not replace, a tracer provider already registered', () => {
    const first = monitorWith(new ManualClock(T0), { tracing: true });
    const second = monitorWith(new ManualClock(T0), { tracing: true });
    expect(second.diagnostics.count(DiagnosticCode.TRACER_PROVIDER_EXISTS)).toBe(1);
    const s = trace.getTracer('test').startSpan('x');
    s.end();
    expect(first.getTrace(s.spanContext().traceId)).toBeDefined();
    expect(second.getTrace(s.spanContext().traceId)).toBeUndefined();
  });

  it('unregisters its provider on shutdown', async () => {
    const monitor = new Monitor({ clock: new ManualClock(T0), tracing: true });
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(true);
    await monitor.shutdown();
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false);
  });

  it('rejects a non-boolean tracing option', () => {
    expect(() => new Monitor({ tracing: 'yes' as unknown as boolean })).toThrow(TypeError);
  });
});

describe('the span processor', () => {
  it('takes SDK-shaped spans (1.x parentSpanId and 2.x parentSpanContext) and never throws', () => {
    const monitor = monitorWith(new ManualClock(T0));
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const base = {
      startTime: [1705329000, 0] as [number, number],
      endTime: [1705329000, 250_000_000] as [number, number],
      status: { code: SpanStatusCode.UNSET },
      attributes: { 'prsm.component': 'api_gateway', route: '/x', bad: { nested: true } },
    };
    monitor.spanProcessor.onEnd({
      ...base,
      name: 'root',
      spanContext: () => ({ traceId, spanId: '00f067aa0ba902b7', traceFlags: 1 }),
    });
    monitor.spanProcessor.onEnd({
      ...base,
      name: 'child-2x',
      parentSpanContext: { traceId, spanId: '00f067aa0ba902b7', traceFlags: 1 },
      spanContext: () => ({ traceId, spanId: '00f067aa0ba902b8', traceFlags: 1 }),
    });
    monitor.spanProcessor.onEnd({
      ...base,
      name: 'child-1x',
      parentSpanId: '00f067aa0ba902b7',
      spanContext: () => ({ traceId, spanId: '00f067aa0ba902b9', traceFlags: 1 }),
    });
    const broken = {
      ...base,
      name: 'broken',
      spanContext: () => {
        throw new Error('boom');
      },
    };
    expect(() => monitor.spanProcessor.onEnd(broken)).not.toThrow();
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
    const t = monitor.getTrace(traceId)!;
    expect(t.operation).toBe('root');
    expect(t.component).toBe('api_gateway');
    expect(t.total_duration_ms).toBe(250);
    expect(t.spans.map((s) => s.name)).toEqual(['child-2x', 'child-1x']);
    // Attribute values that OpenTelemetry does not allow are left out.
    expect(t.metadata).toEqual({ route: '/x' });
  });
});

describe('the trace store', () => {
  it('evicts the oldest trace beyond maxTraces and counts it', () => {
    const monitor = monitorWith(new ManualClock(T0), { traceStore: { maxTraces: 2 } });
    monitor.traces.add(span('a', '1'));
    monitor.traces.add(span('b', '1'));
    monitor.traces.add(span('a', '2'));
    monitor.traces.add(span('c', '1'));
    expect(monitor.traces.traceIds()).toEqual(['b', 'c']);
    expect(monitor.traces.stats()).toEqual({
      traces: 2,
      spans: 2,
      evictedTraces: 1,
      expiredTraces: 0,
      droppedSpans: 0,
    });
    expect(monitor.diagnostics.count(DiagnosticCode.TRACE_EVICTED)).toBe(1);
  });

  it('drops spans beyond maxSpansPerTrace and counts them', () => {
    const monitor = monitorWith(new ManualClock(T0), { traceStore: { maxSpansPerTrace: 2 } });
    for (let i = 0; i < 5; i++) monitor.traces.add(span('a', String(i), i === 0 ? undefined : '0'));
    expect(monitor.traces.spans('a')).toHaveLength(2);
    expect(monitor.traces.stats().droppedSpans).toBe(3);
    expect(monitor.diagnostics.count(DiagnosticCode.SPAN_DROPPED)).toBe(3);
  });

  it('forgets traces after maxTraceAgeSeconds, by the injected clock', () => {
    const clock = new ManualClock(T0);
    const monitor = monitorWith(clock, { traceStore: { maxTraceAgeSeconds: 60 } });
    monitor.traces.add(span('old', '1'));
    clock.advance(30_000);
    monitor.traces.add(span('young', '1'));
    clock.advance(30_000);
    expect(monitor.getTrace('old')).toBeUndefined();
    expect(monitor.getTrace('young')).toBeDefined();
    expect(monitor.traces.stats()).toMatchObject({ traces: 1, spans: 1, expiredTraces: 1 });
  });

  it('rejects bad limits with a TypeError naming the option', () => {
    expect(() => new Monitor({ traceStore: { maxTraces: 0 } })).toThrow(/traceStore.maxTraces/);
    expect(() => new Monitor({ traceStore: { maxSpansPerTrace: 1.5 } })).toThrow(
      /traceStore.maxSpansPerTrace/,
    );
    expect(() => new Monitor({ traceStore: { maxTraceAgeSeconds: -1 } })).toThrow(
      /traceStore.maxTraceAgeSeconds/,
    );
  });
});

describe('exemplars from spans', () => {
  it('a timer stopped inside a recording span keeps its trace id', async () => {
    const clock = new ManualClock(T0);
    const monitor = monitorWith(clock, { tracing: true });
    const op = monitor.timer('op').bind();
    const traceId = await trace.getTracer('t').startActiveSpan('op', async (s) => {
      const stop = op.startTimer();
      await Promise.resolve();
      clock.advance(42);
      stop();
      s.end();
      return s.spanContext().traceId;
    });
    const outside = op.startTimer();
    clock.advance(100);
    outside(); // slower, but untraced: not an exemplar
    const snap = monitor.snapshot().series.find((s) => s.name === 'op');
    if (snap?.type !== 'timer') throw new Error('timer expected');
    expect(snap.windows[0]!.exemplars).toEqual([{ value: 42, traceId }]);
    expect(monitor.getTrace(traceId)?.operation).toBe('op');
  });
});

describe('trace order', () => {
  it('lists a parent before a child started in the same instant', () => {
    // A ManualClock that never moves: every span starts at the same millisecond.
    const monitor = monitorWith(new ManualClock(T0), { tracing: true });
    const tracer = trace.getTracer('order');
    let id = '';
    tracer.startActiveSpan('root', (root) => {
      id = root.spanContext().traceId;
      tracer.startActiveSpan('parent', (parent) => {
        tracer.startActiveSpan('child', (child) => child.end());
        parent.end();
      });
      root.end();
    });
    expect(monitor.getTrace(id)!.spans.map((s) => s.name)).toEqual(['parent', 'child']);
  });
});
