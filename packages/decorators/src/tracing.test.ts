import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { DiagnosticCode, ManualClock, Monitor, setGlobalMonitor } from '@prsm/core';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  calls,
  type Fixtures,
  installTracing,
  loadFixtures,
  MODES,
  settle,
  type Tracing,
  uninstallTracing,
} from './test-support.js';
import { instrument } from './index.js';
import { VERSION } from './version.js';

describe.each(MODES)('spans, compiled as %s decorators', (mode) => {
  let fx: Fixtures;
  let clock: ManualClock;
  let monitor: Monitor;
  let tracing: Tracing | undefined;

  beforeAll(async () => {
    fx = await loadFixtures(mode);
  });

  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2024, 0, 15));
    monitor = new Monitor({ clock });
    setGlobalMonitor(monitor);
  });

  afterEach(async () => {
    setGlobalMonitor(undefined);
    await uninstallTracing(tracing);
    tracing = undefined;
    vi.restoreAllMocks();
    await monitor.shutdown();
  });

  describe('with a tracer provider', () => {
    beforeEach(() => {
      tracing = installTracing();
    });

    it('runs each call in a span named after the operation', () => {
      new fx.services.Calculator().scale(1, 2);
      const span = tracing!.span('Calculator.scale');
      expect(span.kind).toBe(SpanKind.INTERNAL);
      expect(span.attributes).toEqual({
        'prsm.component': 'fixtures',
        'code.function': 'scale',
        'code.namespace': 'Calculator',
      });
      expect(span.instrumentationScope).toMatchObject({
        name: '@prsm/decorators',
        version: VERSION,
      });
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.parentSpanContext).toBeUndefined();
    });

    it('names static and symbol methods like the metrics do', () => {
      fx.services.Calculator.create(2)[fx.services.SYMBOLIC]();
      expect(tracing!.span('Calculator.create').attributes['code.namespace']).toBe('Calculator');
      expect(tracing!.span('Calculator.symbolic').attributes['code.function']).toBe('symbolic');
    });

    it('marks a failed call with ERROR status and the exception', async () => {
      const calc = new fx.services.Calculator();
      const error = new fx.services.ValidationError('no such order');
      expect(() => calc.fail(error)).toThrow(error);
      await expect(calc.failLater('plain text')).rejects.toBe('plain text');
      const failed = tracing!.span('Calculator.fail');
      expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no such order' });
      expect(failed.events.map((e) => e.name)).toEqual(['exception']);
      expect(failed.events[0]!.attributes).toMatchObject({
        'exception.type': 'ValidationError',
        'exception.message': 'no such order',
      });
      const later = tracing!.span('Calculator.failLater');
      expect(later.status).toEqual({ code: SpanStatusCode.ERROR, message: 'plain text' });
    });

    it('nests decorated calls as parent and child across await', async () => {
      const result = await new fx.services.Outer().run();
      expect(result).toEqual([2, 20, 1, 2, 11, 21]);
      const spans = tracing!.spans();
      const run = tracing!.span('Outer.run');
      const stream = tracing!.span('Inner.stream');
      const steps = spans.filter((s) => s.name === 'Inner.step');
      expect(steps).toHaveLength(5);
      const parentOf = (s: (typeof spans)[number]): string | undefined =>
        s.parentSpanContext?.spanId;
      const runId = run.spanContext().spanId;
      expect(parentOf(tracing!.span('Inner.syncStep'))).toBe(runId);
      expect(parentOf(stream)).toBe(runId);
      const underStream = steps.filter((s) => parentOf(s) === stream.spanContext().spanId);
      const underRun = steps.filter((s) => parentOf(s) === runId);
      expect([underStream.length, underRun.length]).toEqual([2, 3]);
      for (const s of spans) expect(s.spanContext().traceId).toBe(run.spanContext().traceId);
      // Nothing leaks into the caller's context.
      expect(trace.getActiveSpan()).toBeUndefined();
    });

    it("is a child of the caller's active span", () => {
      const tracer = trace.getTracer('test');
      tracer.startActiveSpan('request', (request) => {
        new fx.services.Calculator().scale(1);
        request.end();
      });
      expect(tracing!.span('Calculator.scale').parentSpanContext?.spanId).toBe(
        tracing!.span('request').spanContext().spanId,
      );
    });

    it("passes the span's trace id as the duration's exemplar", () => {
      new fx.services.Calculator().takes(clock, 3);
      const traceId = tracing!.span('Calculator.takes').spanContext().traceId;
      const series = monitor
        .snapshot()
        .series.find(
          (s) => s.name === 'operation.duration' && s.tags.operation === 'Calculator.takes',
        );
      expect(series?.type).toBe('timer');
      const exemplars = series?.type === 'timer' ? series.windows[0]!.exemplars : [];
      expect(exemplars).toEqual([{ value: 3, traceId }]);
    });

    it('marks slow calls with prsm.slow', () => {
      const calc = new fx.services.Calculator();
      calc.takes(clock, 5);
      calc.takes(clock, 50);
      const [fast, slow] = tracing!.spans().filter((s) => s.name === 'Calculator.takes');
      expect(fast!.attributes['prsm.slow']).toBeUndefined();
      expect(slow!.attributes['prsm.slow']).toBe(true);
    });

    it('starts no span with trace: false, and still records metrics', () => {
      expect(new fx.services.Calculator().untraced(1)).toBe(2);
      expect(tracing!.spans()).toEqual([]);
      expect(calls(monitor, 'Calculator.untraced')).toBe(1);
    });

    it('adds opt-in attributes computed from the arguments, and survives a throwing hook', () => {
      const calc = new fx.services.Calculator();
      expect(calc.withAttributes('a', 1)).toBe('a1');
      expect(tracing!.span('Calculator.withAttributes').attributes).toMatchObject({
        'args.count': 2,
        'args.first': 'a',
      });
      expect(calc.badAttributes()).toBe('still works');
      expect(tracing!.span('Calculator.badAttributes').ended).toBe(true);
      expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
    });

    it('records no argument anywhere by default', () => {
      new fx.services.Calculator().echo('secret-value');
      const span = tracing!.span('Calculator.echo');
      expect(JSON.stringify(span.attributes)).not.toContain('secret-value');
      expect(span.events).toEqual([]);
    });

    it('spans a generator from the first next() to completion', async () => {
      const calc = new fx.services.Calculator();
      const iterator = calc.count(2);
      expect(tracing!.spans()).toEqual([]);
      iterator.next();
      iterator.next();
      expect(tracing!.spans()).toEqual([]);
      iterator.next();
      expect(tracing!.span('Calculator.count').ended).toBe(true);
      const failing = calc.countLaterThenFail(1);
      await failing.next();
      await expect(failing.next()).rejects.toBeInstanceOf(fx.services.ValidationError);
      await settle(1);
      expect(tracing!.span('Calculator.countLaterThenFail').status.code).toBe(SpanStatusCode.ERROR);
    });

    it('starts no span when no monitor is configured (the no-op monitor)', () => {
      setGlobalMonitor(undefined);
      expect(new fx.services.Calculator().scale(1)).toBe(2);
      expect(tracing!.spans()).toEqual([]);
    });
  });

  describe("with the monitor's own tracing (new Monitor({ tracing: true }))", () => {
    it('lands decorated calls in the trace store, one trace per outer call', async () => {
      const traced = new Monitor({ tracing: true });
      setGlobalMonitor(traced);
      try {
        await new fx.services.Outer().run();
        const series = traced
          .snapshot()
          .series.find((s) => s.name === 'operation.duration' && s.tags.operation === 'Outer.run');
        const exemplar = series?.type === 'timer' ? series.windows[0]!.exemplars[0] : undefined;
        expect(exemplar).toBeDefined();
        const record = traced.getTrace(exemplar!.traceId);
        expect(record).toMatchObject({
          operation: 'Outer.run',
          component: 'fixtures',
          success: true,
        });
        expect(record!.spans.map((s) => s.name).sort()).toEqual([
          'Inner.step',
          'Inner.step',
          'Inner.step',
          'Inner.step',
          'Inner.step',
          'Inner.stream',
          'Inner.syncStep',
        ]);
      } finally {
        setGlobalMonitor(monitor);
        await traced.shutdown();
      }
    });
  });

  describe('without a tracer provider', () => {
    it('starts no span, switches no context and passes no trace id', async () => {
      const withContext = vi.spyOn(context, 'with');
      const result = await new fx.services.Outer().run();
      expect(result).toEqual([2, 20, 1, 2, 11, 21]);
      new fx.services.Calculator().takes(clock, 3);
      expect(withContext).not.toHaveBeenCalled();
      const series = monitor
        .snapshot()
        .series.find(
          (s) => s.name === 'operation.duration' && s.tags.operation === 'Calculator.takes',
        );
      expect(series?.type === 'timer' ? series.windows[0]!.exemplars : undefined).toEqual([]);
      expect(calls(monitor, 'Inner.step')).toBe(5);
    });
  });
});

describe('tracer resolution', () => {
  let monitor: Monitor;
  const installed: Tracing[] = [];

  beforeEach(() => {
    monitor = new Monitor();
    setGlobalMonitor(monitor);
  });

  afterEach(async () => {
    setGlobalMonitor(undefined);
    for (const t of installed.splice(0)) await uninstallTracing(t);
    await monitor.shutdown();
  });

  it('uses a provider registered after the first call', () => {
    const fn = instrument((x: number) => x, { component: 'fixtures', operation: 'late' });
    fn(1);
    const tracing = installTracing();
    installed.push(tracing);
    fn(2);
    expect(tracing.spans().map((s) => s.name)).toEqual(['late']);
  });

  it('follows trace.disable() and a new registration', async () => {
    const fn = instrument((x: number) => x, { component: 'fixtures', operation: 'moved' });
    const first = installTracing();
    fn(1);
    expect(first.spans()).toHaveLength(1);
    await uninstallTracing(first); // (its exporter forgets its spans on shutdown)
    fn(2); // no provider: no span anywhere
    const second = installTracing();
    installed.push(second);
    fn(3);
    expect(second.spans().map((s) => s.name)).toEqual(['moved']);
    expect(calls(monitor, 'moved')).toBe(3);
  });
});
