import { type Span, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import {
  DiagnosticCode,
  ManualClock,
  Monitor,
  type MonitorApi,
  setGlobalMonitor,
} from '@prsm/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instrument } from './index.js';
import { calls, errors, settle } from './test-support.js';

/** A monitor whose every instrument throws, with a diagnostics sink to see reports. */
function brokenMonitor(where: 'resolve' | 'record'): MonitorApi & { reported: unknown[] } {
  const reported: unknown[] = [];
  const fail = (): never => {
    throw new Error(`monitor broke at ${where}`);
  };
  const handle = { inc: fail, record: fail, recordError: fail, set: fail, startTimer: fail };
  const instrument = (): never | object =>
    where === 'resolve' ? fail() : { name: 'x', bind: () => handle, ...handle };
  return {
    enabled: true,
    reported,
    diagnostics: { error: (_code: string, error: unknown) => reported.push(error) },
    recordMetric: fail,
    counter: instrument,
    gauge: instrument,
    histogram: instrument,
    timer: instrument,
  } as unknown as MonitorApi & { reported: unknown[] };
}

describe('instrumentation never breaks the host', () => {
  let monitor: Monitor;

  beforeEach(() => {
    monitor = new Monitor({ clock: new ManualClock(0) });
    setGlobalMonitor(monitor);
  });

  afterEach(async () => {
    setGlobalMonitor(undefined);
    trace.disable();
    await monitor.shutdown();
  });

  it.each(['resolve', 'record'] as const)(
    'a monitor that throws on %s: same results and errors, failures reported',
    async (where) => {
      const broken = brokenMonitor(where);
      const error = new TypeError('user error');
      const sync = instrument((x: number) => x + 1, { component: 'c', monitor: broken });
      const failing = instrument(
        (): never => {
          throw error;
        },
        { component: 'c', monitor: broken, operation: 'failing' },
      );
      const later = instrument((x: number) => Promise.resolve(x * 2), {
        component: 'c',
        monitor: broken,
      });
      expect(sync(1)).toBe(2);
      expect(() => failing()).toThrow(error);
      await expect(later(4)).resolves.toBe(8);
      expect(broken.reported.length).toBeGreaterThan(0);
      for (const e of broken.reported) expect(String(e)).toContain('monitor broke');
    },
  );

  it('a clock that throws: the call goes on, the failure is reported', () => {
    const clock = new ManualClock(0);
    const own = new Monitor({ clock });
    const fn = instrument((x: number) => x, { component: 'c', operation: 'clocked', monitor: own });
    clock.now = () => {
      throw new Error('clock broke');
    };
    expect(fn(5)).toBe(5);
    expect(own.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBeGreaterThan(0);
    void own.shutdown();
  });

  it('a tracer that throws: the call goes on, metrics recorded, failure reported', () => {
    const tracer = {
      startSpan: () => {
        throw new Error('tracer broke');
      },
    } as unknown as Tracer;
    const provider: TracerProvider = { getTracer: () => tracer };
    trace.setGlobalTracerProvider(provider);
    const fn = instrument((x: number) => x, { component: 'fixtures', operation: 'traced' });
    expect(fn(7)).toBe(7);
    expect(calls(monitor, 'traced')).toBe(1);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
  });

  it('a span whose methods throw: the same error reaches the caller', () => {
    const fail = (): never => {
      throw new Error('span broke');
    };
    const span = {
      isRecording: () => true,
      spanContext: fail,
      setAttribute: fail,
      setAttributes: fail,
      recordException: fail,
      setStatus: fail,
      end: fail,
    } as unknown as Span;
    const provider: TracerProvider = {
      getTracer: () => ({ startSpan: () => span }) as unknown as Tracer,
    };
    trace.setGlobalTracerProvider(provider);
    const error = new RangeError('mine');
    const fn = instrument(
      (): never => {
        throw error;
      },
      { component: 'fixtures', operation: 'spanned' },
    );
    expect(() => fn()).toThrow(error);
    expect(errors(monitor, 'spanned', 'RangeError')).toBe(1);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBeGreaterThan(0);
  });

  it('a result whose then getter throws is returned as is, timed as a plain value', () => {
    const weird = Object.defineProperty({}, 'then', {
      get: () => {
        throw new Error('then getter broke');
      },
    });
    const fn = instrument(() => weird, { component: 'fixtures', operation: 'weird' });
    expect(fn()).toBe(weird);
    expect(calls(monitor, 'weird')).toBe(1);
  });

  it('a thenable whose then throws is returned as is and recorded as an error when awaited', async () => {
    const error = new SyntaxError('then broke');
    const thenable = {
      then: (): never => {
        throw error;
      },
    };
    const fn = instrument(() => thenable, { component: 'fixtures', operation: 'broken_then' });
    const returned = fn();
    expect(returned).toBe(thenable);
    expect(errors(monitor, 'broken_then', 'SyntaxError')).toBe(0); // not awaited yet
    await expect(Promise.resolve(returned as unknown as PromiseLike<never>)).rejects.toBe(error);
    expect(errors(monitor, 'broken_then', 'SyntaxError')).toBe(1);
  });

  it('a thenable that settles twice is recorded once', () => {
    const thenable = {
      then: (ok: () => void, fail: (e: unknown) => void) => {
        ok();
        ok();
        fail(new Error('late'));
      },
    };
    const fn = instrument(() => thenable, { component: 'fixtures', operation: 'twice' });
    fn().then(
      () => {},
      () => {},
    );
    expect(calls(monitor, 'twice')).toBe(1);
    expect(errors(monitor, 'twice', 'Error')).toBe(0);
  });

  it('works without reflect-metadata loaded', () => {
    expect((Reflect as { getMetadata?: unknown }).getMetadata).toBeUndefined();
    expect(instrument((x: number) => x, { component: 'c' })(1)).toBe(1);
  });
});

describe('no unhandled rejection of our own', () => {
  const unhandled: unknown[] = [];
  const listener = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', listener);
  });

  afterEach(() => {
    process.off('unhandledRejection', listener);
    setGlobalMonitor(undefined);
  });

  it('when a decorated async function rejects and the caller handles it', async () => {
    const monitor = new Monitor();
    setGlobalMonitor(monitor);
    const error = new Error('rejected');
    const rejecting = instrument(
      async (): Promise<never> => {
        await settle(1);
        throw error;
      },
      { component: 'fixtures', operation: 'rejecting' },
    );
    const promise = rejecting();
    await expect(promise).rejects.toBe(error);
    // A rejection handled only later (after a macrotask) is still the caller's to handle.
    const later = rejecting();
    await settle(3);
    await expect(later).rejects.toBe(error);
    await settle(3);
    expect(unhandled).toEqual([]);
    expect(errors(monitor, 'rejecting', 'Error')).toBe(2);
    await monitor.shutdown();
  });

  it('when recording the rejection fails inside the monitor', async () => {
    const broken = brokenMonitor('record');
    const error = new Error('rejected');
    const rejecting = instrument(() => Promise.reject(error), {
      component: 'fixtures',
      monitor: broken,
    });
    await expect(rejecting()).rejects.toBe(error);
    const asyncGen = instrument(
      async function* gen(): AsyncGenerator<number> {
        yield await Promise.resolve(1);
        throw error;
      },
      { component: 'fixtures', monitor: broken },
    );
    const iterator = asyncGen();
    await iterator.next();
    await expect(iterator.next()).rejects.toBe(error);
    await settle(3);
    expect(unhandled).toEqual([]);
    expect(broken.reported.length).toBeGreaterThan(0);
  });
});
