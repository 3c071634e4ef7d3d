import { afterEach, describe, expect, it, vi } from 'vitest';

import { type Clock, ManualClock } from './clock/clock.js';
import { DiagnosticCode, type DiagnosticLogger } from './diagnostics/diagnostics.js';
import type { SeriesSnapshot } from './metrics/snapshot.js';
import { Monitor, type MonitorOptions } from './monitor.js';

const MIN = 60_000;
/** 2024-01-15T00:00Z, on a minute boundary. */
const T0 = Date.UTC(2024, 0, 15);

function setup(options: MonitorOptions = {}): { clock: ManualClock; monitor: Monitor } {
  const clock = new ManualClock(T0);
  return { clock, monitor: new Monitor({ clock, ...options }) };
}

function find(monitor: Monitor, name: string): SeriesSnapshot[] {
  return monitor.snapshot().series.filter((s) => s.name === name);
}

function dropped(monitor: Monitor, reason: string): number {
  return (
    monitor.getRates('prsm.records.dropped', {
      component: 'prsm',
      tags: { reason },
      windowSeconds: 'cumulative',
    })?.count ?? 0
  );
}

afterEach(() => {
  vi.useRealTimers();
});

describe('configuration errors throw a TypeError naming the option', () => {
  const manual = new ManualClock(T0);
  const cases: [string, unknown, RegExp][] = [
    ['options null', null, /options/],
    ['options a string', 'x', /options/],
    ['a negative window', { windows: [-60] }, /windows/],
    ['a zero window', { windows: [0] }, /windows/],
    ['a NaN window', { windows: [NaN] }, /windows/],
    ['a string window', { windows: ['60'] }, /windows/],
    ['an empty windows list', { windows: [] }, /windows/],
    ['windows not an array', { windows: 60 }, /windows/],
    ['a window not a multiple of the sub-window', { windows: [90] }, /windows.*subWindowSeconds/],
    ['a window shorter than the sub-window', { windows: [30] }, /windows/],
    ['a window over 10000 sub-windows', { windows: [60 * 10_001] }, /windows/],
    ['a zero sub-window', { subWindowSeconds: 0 }, /subWindowSeconds/],
    ['a negative sub-window', { subWindowSeconds: -1 }, /subWindowSeconds/],
    ['an infinite sub-window', { subWindowSeconds: Infinity }, /subWindowSeconds/],
    ['maxSeriesPerMetric 0', { maxSeriesPerMetric: 0 }, /maxSeriesPerMetric/],
    ['maxSeriesPerMetric 1.5', { maxSeriesPerMetric: 1.5 }, /maxSeriesPerMetric/],
    ['maxSeriesPerMetric -1', { maxSeriesPerMetric: -1 }, /maxSeriesPerMetric/],
    ['maxMetrics 0', { maxMetrics: 0 }, /maxMetrics/],
    ['compression below 20', { compression: 10 }, /compression/],
    ['compression above 10000', { compression: 20_000 }, /compression/],
    ['compression NaN', { compression: NaN }, /compression/],
    ['a clock without now()', { clock: {} }, /clock/],
    ['a clock that is null', { clock: null }, /clock/],
    ['a clock that is a function', { clock: () => 0 }, /clock/],
    ['a logger without error()', { logger: { warn: () => {} } }, /logger/],
    ['a logger that is null', { logger: null }, /logger/],
    ['a logger that is a string', { logger: 'console' }, /logger/],
    ['an empty defaultComponent', { defaultComponent: '' }, /defaultComponent/],
    ['a non-string defaultComponent', { defaultComponent: 5 }, /defaultComponent/],
  ];

  it.each(cases)('%s', (_what, options, message) => {
    const withClock =
      options !== null && typeof options === 'object' && !('clock' in options)
        ? { clock: manual, ...options }
        : options;
    expect(() => new Monitor(withClock as MonitorOptions)).toThrow(TypeError);
    expect(() => new Monitor(withClock as MonitorOptions)).toThrow(message);
  });

  it('accepts valid unusual settings', () => {
    const m = new Monitor({
      clock: manual,
      windows: [900, 60, 300, 60],
      subWindowSeconds: 30,
      compression: 20,
      maxSeriesPerMetric: 1,
      maxMetrics: 1,
      logger: console,
    });
    expect(m.windows).toEqual([60, 300, 900]);
    expect(m.subWindowSeconds).toBe(30);
    expect(m.compression).toBe(20);
    expect(Object.isFrozen(m.windows)).toBe(true);
  });

  it('has the documented defaults', () => {
    const m = new Monitor({ clock: manual });
    expect(m.windows).toEqual([60, 300, 900]);
    expect(m.subWindowSeconds).toBe(60);
    expect(m.compression).toBe(200);
    expect(m.defaultComponent).toBe('default');
    expect(m.enabled).toBe(true);
    expect(m.clock).toBe(manual);
  });
});

describe('bad input never throws and is counted', () => {
  const badValues: [string, unknown][] = [
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a string', '5'],
    ['null', null],
    ['undefined', undefined],
    ['an object', { value: 1 }],
    ['a bigint', 5n],
    ['an array', [1]],
  ];

  it.each(badValues)('a histogram/timer/gauge drops %s as INVALID_VALUE', (_what, value) => {
    const { monitor } = setup();
    const v = value as number;
    const h = monitor.histogram('h').bind();
    const t = monitor.timer('t').bind();
    const g = monitor.gauge('g').bind();
    expect(() => {
      h.record(v);
      t.record(v);
      t.recordError(v);
      g.set(v);
      monitor.histogram('h').record(v, { a: 'b' });
      monitor.gauge('g').set(v);
    }).not.toThrow();
    expect(monitor.getStats('h')!.count).toBe(0);
    expect(monitor.getStats('t')!.count).toBe(0);
    expect(monitor.getStats('t')!.errors).toBe(0);
    expect(find(monitor, 'g')).toHaveLength(0);
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(6);
    expect(dropped(monitor, DiagnosticCode.INVALID_VALUE)).toBe(6);
  });

  it.each(badValues.filter(([, v]) => v !== undefined))(
    'a counter drops %s without counting it',
    (_what, value) => {
      const { monitor } = setup();
      const c = monitor.counter('c').bind();
      expect(() => c.inc(value as number)).not.toThrow();
      expect(monitor.getRates('c', { windowSeconds: 'cumulative' })!.count).toBe(0);
      const invalid = monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE);
      const negative = monitor.diagnostics.count(DiagnosticCode.NEGATIVE_INCREMENT);
      expect(invalid + negative).toBe(1);
    },
  );

  it.each(badValues)('recordMetric drops a value of %s and creates no series', (_what, value) => {
    const { monitor } = setup();
    for (const metricType of ['counter', 'gauge', 'histogram', 'timer'] as const) {
      expect(() =>
        monitor.recordMetric({ name: `m.${metricType}`, value: value as number, metricType }),
      ).not.toThrow();
      expect(find(monitor, `m.${metricType}`)).toHaveLength(0);
    }
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(4);
    expect(dropped(monitor, DiagnosticCode.INVALID_VALUE)).toBe(4);
  });

  // recordMetric refuses a bad value before resolving its series; the handles' unbound
  // record(value, tags) / inc / set should not create a series for one either.
  it('an unbound record of a bad value creates no series', () => {
    const { monitor } = setup();
    monitor.histogram('h').record(NaN, { user: 'u1' });
    monitor.timer('t').recordError(Infinity, { user: 'u1' });
    monitor.counter('c').inc(-1, { user: 'u1' });
    monitor.gauge('g').set(NaN, { user: 'u1' });
    for (const name of ['h', 't', 'c', 'g']) expect(find(monitor, name), name).toHaveLength(0);
  });

  it('a negative counter increment is NEGATIVE_INCREMENT', () => {
    const { monitor } = setup();
    monitor.counter('c').bind().inc(-1);
    monitor.counter('c').inc(-0.5);
    monitor.recordMetric({ name: 'c', value: -3, metricType: 'counter' });
    expect(monitor.getRates('c', { windowSeconds: 'cumulative' })!.count).toBe(0);
    expect(monitor.diagnostics.count(DiagnosticCode.NEGATIVE_INCREMENT)).toBe(3);
    expect(dropped(monitor, DiagnosticCode.NEGATIVE_INCREMENT)).toBe(3);
    // Gauges may go down.
    const g = monitor.gauge('g').bind();
    g.set(-5);
    g.dec(2);
    expect(find(monitor, 'g')[0]).toMatchObject({ type: 'gauge', value: -7 });
  });

  const badTags: [string, unknown][] = [
    ['a number tag value', { a: 1 }],
    ['a null tag value', { a: null }],
    ['an undefined tag value', { a: undefined }],
    ['an object tag value', { a: {} }],
    ['array tags', ['a', 'b']],
    ['string tags', 'a=b'],
    ['an empty tag name', { '': 'x' }],
    ['too many tags', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']))],
  ];

  it.each(badTags)('%s is INVALID_TAGS on every path', (_what, tags) => {
    const { monitor } = setup();
    const t = tags as Record<string, string>;
    expect(() => {
      monitor.histogram('h').bind(t).record(1);
      monitor.histogram('h').record(1, t);
      monitor.timer('t').startTimer(t)();
      monitor.counter('c').inc(1, t);
      monitor.gauge('g').set(1, t);
      monitor.recordMetric({ name: 'r', value: 1, metricType: 'counter', tags: t });
      monitor.histogram('h').bind({ ok: 'yes' }, t).record(1); // as labels
    }).not.toThrow();
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_TAGS)).toBe(7);
    expect(dropped(monitor, DiagnosticCode.INVALID_TAGS)).toBe(7);
    expect(monitor.getStats('h')?.count ?? 0).toBe(0);
    expect(find(monitor, 'r')).toHaveLength(0);
  });

  it('an unknown metricType is UNKNOWN_METRIC_TYPE', () => {
    const { monitor } = setup();
    for (const metricType of ['summary', '', undefined, 5, 'Counter']) {
      monitor.recordMetric({ name: 'x', value: 1, metricType: metricType as never });
    }
    expect(monitor.diagnostics.count(DiagnosticCode.UNKNOWN_METRIC_TYPE)).toBe(5);
    expect(dropped(monitor, DiagnosticCode.UNKNOWN_METRIC_TYPE)).toBe(5);
    expect(find(monitor, 'x')).toHaveLength(0);
  });

  it('a name used by another type is TYPE_CONFLICT and its handle records nothing', () => {
    const { monitor } = setup();
    monitor.counter('shared').inc(2);
    const h = monitor.histogram('shared');
    const t = monitor.timer('shared');
    const g = monitor.gauge('shared');
    expect(() => {
      h.record(1);
      h.bind().record(1);
      t.startTimer()();
      g.set(3);
      monitor.recordMetric({ name: 'shared', value: 1, metricType: 'gauge' });
    }).not.toThrow();
    expect(monitor.diagnostics.count(DiagnosticCode.TYPE_CONFLICT)).toBe(4);
    expect(dropped(monitor, DiagnosticCode.TYPE_CONFLICT)).toBe(4);
    const series = find(monitor, 'shared');
    expect(series).toHaveLength(1);
    expect(series[0]).toMatchObject({ type: 'counter', total: 2 });
    // A histogram and a timer are different types too.
    monitor.histogram('dist').record(1);
    monitor.timer('dist').record(1);
    expect(monitor.diagnostics.count(DiagnosticCode.TYPE_CONFLICT)).toBe(5);
  });

  it('an empty, non-string or too long name or component is INVALID_NAME', () => {
    const { monitor } = setup();
    expect(() => {
      monitor.counter('').inc();
      monitor.histogram('x'.repeat(256)).record(1);
      monitor.timer(5 as unknown as string).record(1);
      monitor.gauge('g', { component: '' }).set(1);
      monitor.recordMetric({ name: '', value: 1, metricType: 'counter' });
      monitor.recordMetric({ name: 'ok', value: 1, metricType: 'counter', component: '' });
      monitor.recordMetric(null as never);
      monitor.recordMetric('metric' as never);
      monitor.recordMetric(undefined as never);
    }).not.toThrow();
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_NAME)).toBe(9);
    expect(dropped(monitor, DiagnosticCode.INVALID_NAME)).toBe(9);
    const names = monitor.snapshot().series.filter((s) => s.component !== 'prsm');
    expect(names).toHaveLength(0);
    // 255 characters is fine.
    monitor.counter('y'.repeat(255)).inc();
    expect(find(monitor, 'y'.repeat(255))).toHaveLength(1);
  });

  it('names beyond maxMetrics are METRIC_LIMIT; names already known keep working', () => {
    const { monitor } = setup({ maxMetrics: 2 });
    monitor.counter('a').inc();
    monitor.counter('b').inc();
    monitor.counter('c').inc();
    monitor.recordMetric({ name: 'd', value: 1, metricType: 'gauge' });
    monitor.counter('a').inc();
    expect(monitor.diagnostics.count(DiagnosticCode.METRIC_LIMIT)).toBe(2);
    expect(dropped(monitor, DiagnosticCode.METRIC_LIMIT)).toBe(2);
    expect(find(monitor, 'a')[0]).toMatchObject({ total: 2 });
    expect(find(monitor, 'c')).toHaveLength(0);
    expect(find(monitor, 'd')).toHaveLength(0);
  });

  it('records after shutdown do not throw (and still count)', async () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    await monitor.shutdown();
    expect(() => {
      h.record(1);
      h.record(NaN);
      monitor.counter('c').inc();
      monitor.recordMetric({ name: 'g', value: 1, metricType: 'gauge' });
      monitor.timer('t').startTimer()();
    }).not.toThrow();
    clock.advance(MIN);
    h.record(2);
    expect(monitor.getStats('h', { windowSeconds: 60 })!.count).toBe(2);
    clock.advance(MIN);
    expect(monitor.getStats('h', { windowSeconds: 60 })!.count).toBe(1);
  });

  it('a logger that throws breaks nothing', () => {
    const logger: DiagnosticLogger = {
      warn: () => {
        throw new Error('warn broke');
      },
      error: () => {
        throw new Error('error broke');
      },
    };
    const { monitor } = setup({ logger });
    expect(() => {
      for (let i = 0; i < 20; i++) {
        monitor.histogram('h').record(NaN);
        monitor.counter('c').inc(-1);
        monitor.recordMetric({ name: '', value: 1, metricType: 'counter' });
      }
    }).not.toThrow();
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(20);
    monitor.histogram('h').record(3);
    expect(monitor.getStats('h')!.count).toBe(1);
  });

  it('a clock that goes backwards is reported, not thrown', () => {
    const { clock, monitor } = setup();
    monitor.histogram('h').record(1);
    expect(() => {
      clock.set(T0 - 10 * MIN);
      monitor.histogram('h').record(2);
    }).not.toThrow();
    expect(monitor.diagnostics.count(DiagnosticCode.CLOCK_BACKWARDS)).toBeGreaterThan(0);
    expect(monitor.getStats('h')!.count).toBe(2);
  });

  it('logs the 1st, 10th and 100th occurrence of each code to the logger', () => {
    const warn = vi.fn();
    const { monitor } = setup({ logger: { warn, error: vi.fn() } });
    const h = monitor.histogram('h').bind();
    for (let i = 0; i < 150; i++) h.record(NaN);
    expect(warn).toHaveBeenCalledTimes(3);
    expect(warn.mock.calls[0]![0]).toContain(DiagnosticCode.INVALID_VALUE);
    expect(warn.mock.calls[1]![0]).toContain('10 times');
    expect(warn.mock.calls[2]![0]).toContain('100 times');
    monitor.counter('c').inc(-1);
    expect(warn).toHaveBeenCalledTimes(4);
    expect(warn.mock.calls[3]![0]).toContain(DiagnosticCode.NEGATIVE_INCREMENT);
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(150);
  });

  it('the snapshot carries the diagnostics counts', () => {
    const { monitor } = setup();
    monitor.histogram('h').record(NaN);
    monitor.histogram('h').record(NaN);
    monitor.counter('c').inc(-1);
    expect(monitor.snapshot().diagnostics).toEqual({
      [DiagnosticCode.INVALID_VALUE]: 2,
      [DiagnosticCode.NEGATIVE_INCREMENT]: 1,
    });
  });
});

describe('getPercentiles, getStats and getRates', () => {
  it('answers in the order asked', () => {
    const { monitor } = setup();
    const h = monitor.histogram('h').bind();
    for (let i = 1; i <= 100; i++) h.record(i);
    const asked = [0.99, 0.5, 0.9, 0, 1, 0.5];
    const answers = monitor.getPercentiles('h', asked);
    expect(answers).toEqual(asked.map((q) => monitor.getPercentiles('h', [q])[0]));
    expect(answers[0]).toBeGreaterThan(answers[2]!);
    expect(answers[2]).toBeGreaterThan(answers[1]!);
    expect(answers[3]).toBe(1);
    expect(answers[4]).toBe(100);
    expect(monitor.getPercentiles('h', [])).toEqual([]);
  });

  it('answers NaN for unknown metrics, series, components and non-distributions', () => {
    const { monitor } = setup();
    monitor.histogram('h', { component: 'api' }).record(1, { a: 'b' });
    monitor.counter('c').inc();
    monitor.gauge('g').set(1);
    const nan = [NaN, NaN];
    expect(monitor.getPercentiles('nope', [0.5, 0.9])).toEqual(nan);
    expect(monitor.getPercentiles('h', [0.5, 0.9])).toEqual(nan);
    expect(monitor.getPercentiles('h', [0.5, 0.9], { component: 'api' })).toEqual(nan);
    expect(monitor.getPercentiles('h', [0.5, 0.9], { tags: { a: 'b' } })).toEqual(nan);
    expect(monitor.getPercentiles('h', [0.5, 0.9], { component: 'api', tags: { a: 'c' } })).toEqual(
      nan,
    );
    expect(monitor.getPercentiles('h', [0.5, 0.9], { component: 'api', tags: { a: 'b' } })).toEqual(
      [1, 1],
    );
    expect(monitor.getPercentiles('c', [0.5, 0.9])).toEqual(nan);
    expect(monitor.getPercentiles('g', [0.5, 0.9])).toEqual(nan);
    expect(monitor.getStats('nope')).toBeUndefined();
    expect(monitor.getStats('c')).toBeUndefined();
    expect(monitor.getRates('nope')).toBeUndefined();
    expect(monitor.getRates('g')).toBeUndefined();
  });

  it.each([-0.01, 1.01, NaN, Infinity, '0.5', null])(
    'throws a TypeError for the quantile %s',
    (q) => {
      const { monitor } = setup();
      monitor.histogram('h').record(1);
      expect(() => monitor.getPercentiles('h', [0.5, q as number])).toThrow(TypeError);
      expect(() => monitor.getPercentiles('unknown', [q as number])).toThrow(TypeError);
    },
  );

  it('throws a TypeError when quantiles is not an array', () => {
    const { monitor } = setup();
    expect(() => monitor.getPercentiles('h', 0.5 as never)).toThrow(TypeError);
  });

  it.each([901, 0, -60, NaN, Infinity, '60'])('throws a TypeError for windowSeconds %s', (w) => {
    const { monitor } = setup();
    monitor.histogram('h').record(1);
    monitor.counter('c').inc();
    const query = { windowSeconds: w as number };
    expect(() => monitor.getPercentiles('h', [0.5], query)).toThrow(TypeError);
    expect(() => monitor.getStats('h', query)).toThrow(TypeError);
    expect(() => monitor.getRates('c', query)).toThrow(TypeError);
    expect(() => monitor.getPercentiles('unknown', [0.5], query)).toThrow(TypeError);
  });

  it('accepts any window up to the longest, and cumulative', () => {
    const { monitor } = setup();
    monitor.histogram('h').record(7);
    for (const w of [1, 30, 59, 60, 61, 299, 900, 'cumulative'] as const) {
      expect(monitor.getPercentiles('h', [0.5], { windowSeconds: w })).toEqual([7]);
      expect(monitor.getStats('h', { windowSeconds: w })!.windowSeconds).toBe(w);
    }
    // The default window is the first (shortest) configured one.
    expect(monitor.getStats('h')!.windowSeconds).toBe(60);
  });

  it('getStats has exact count, sum, min, max and mean', () => {
    const { monitor } = setup();
    const h = monitor.histogram('h').bind();
    for (const v of [3, 1, 4, 1, 5, 9, 2, 6]) h.record(v);
    const s = monitor.getStats('h')!;
    expect([s.count, s.sum, s.min, s.max, s.mean]).toEqual([8, 31, 1, 9, 31 / 8]);
  });
});

describe('timer rates and errors', () => {
  it('recordError counts in the percentiles and the error rate', () => {
    const { clock, monitor } = setup();
    clock.set(T0 + 10_000);
    const t = monitor.timer('checkout').bind();
    for (let i = 0; i < 30; i++) t.record(100);
    for (let i = 0; i < 10; i++) t.recordError(500);
    clock.set(T0 + 30_000);
    const r = monitor.getRates('checkout')!;
    expect(r.count).toBe(40);
    expect(r.errors).toBe(10);
    expect(r.errorRate).toBe(0.25);
    expect(r.coveredSeconds).toBe(20);
    expect(r.perSecond).toBe(2);
    expect(r.perMinute).toBe(120);
    expect(monitor.getPercentiles('checkout', [0.5, 1])).toEqual([100, 500]);
    const s = monitor.getStats('checkout')!;
    expect(s.errorRate).toBe(0.25);
    expect(s.max).toBe(500);
  });

  it('errors leave the window with their sub-window', () => {
    const { clock, monitor } = setup();
    const t = monitor.timer('op').bind();
    t.recordError(1);
    t.record(1);
    clock.advance(MIN);
    t.record(1);
    expect(monitor.getRates('op', { windowSeconds: 60 })!.errorRate).toBeCloseTo(1 / 3, 12);
    clock.advance(MIN);
    t.record(1);
    const r = monitor.getRates('op', { windowSeconds: 60 })!;
    expect([r.count, r.errors, r.errorRate]).toEqual([2, 0, 0]);
    const c = monitor.getRates('op', { windowSeconds: 'cumulative' })!;
    expect([c.count, c.errors, c.errorRate]).toEqual([4, 1, 0.25]);
  });

  it('startTimer measures on the injected clock and records on stop', () => {
    const { clock, monitor } = setup();
    const t = monitor.timer('db.query', { component: 'database' });
    const bound = t.bind({ statement: 'get_user' });
    const stop = bound.startTimer();
    clock.advance(250);
    expect(stop()).toBe(250);
    const stopError = bound.startTimer();
    clock.advance(1000);
    expect(stopError({ error: true })).toBe(1000);
    const stopOk = t.startTimer({ statement: 'get_user' });
    clock.advance(5);
    expect(stopOk({ error: false })).toBe(5);
    const query = { component: 'database', tags: { statement: 'get_user' } };
    const s = monitor.getStats('db.query', query)!;
    expect([s.count, s.errors, s.min, s.max, s.sum]).toEqual([3, 1, 5, 1000, 1255]);
    expect(monitor.getPercentiles('db.query', [0, 0.5, 1], query)).toEqual([5, 250, 1000]);
  });

  it('a timer stopped in a later sub-window records into that sub-window', () => {
    const { clock, monitor } = setup();
    const stop = monitor.timer('long').bind().startTimer();
    clock.advance(3 * MIN);
    stop();
    expect(monitor.getStats('long', { windowSeconds: 60 })!.max).toBe(3 * MIN);
  });

  it('recordMetric with error: true counts an error; error on a counter is ignored', () => {
    const { monitor } = setup();
    monitor.recordMetric({ name: 'api', value: 12, metricType: 'timer', error: true });
    monitor.recordMetric({ name: 'api', value: 8, metricType: 'timer' });
    monitor.recordMetric({ name: 'api', value: 10, metricType: 'timer', error: false });
    monitor.recordMetric({ name: 'sizes', value: 3, metricType: 'histogram', error: true });
    monitor.recordMetric({ name: 'n', value: 3, metricType: 'counter', error: true });
    const r = monitor.getRates('api')!;
    expect([r.count, r.errors]).toEqual([3, 1]);
    expect(monitor.getStats('sizes')!.errors).toBe(1);
    expect(monitor.getRates('n')).toMatchObject({ count: 3, errors: 0, errorRate: 0 });
  });

  it('timers are in milliseconds and typed as timers in the snapshot', () => {
    const { monitor } = setup();
    monitor.timer('t', { unit: 's', description: 'a timer' }).record(1);
    monitor.histogram('h', { unit: 'By', description: 'sizes' }).record(1);
    const [t] = find(monitor, 't');
    const [h] = find(monitor, 'h');
    expect(t).toMatchObject({ type: 'timer', unit: 'ms', description: 'a timer' });
    expect(h).toMatchObject({ type: 'histogram', unit: 'By', description: 'sizes' });
  });
});

describe('series identity: components, tags and labels', () => {
  it('tags are order-insensitive', () => {
    const { monitor } = setup();
    const h = monitor.histogram('h');
    h.record(1, { a: '1', b: '2' });
    h.record(2, { b: '2', a: '1' });
    h.bind({ b: '2', a: '1' }).record(3);
    expect(find(monitor, 'h')).toHaveLength(1);
    expect(monitor.getStats('h', { tags: { b: '2', a: '1' } })!.count).toBe(3);
    expect(monitor.getStats('h', { tags: { a: '1', b: '2' } })!.count).toBe(3);
  });

  it('different tag sets are different series, however their strings line up', () => {
    const { monitor } = setup();
    const c = monitor.counter('c');
    c.inc(1, { a: 'x', b: 'y' });
    c.inc(10, { a: 'x\u0001b\u0002y' });
    c.inc(100, { ab: 'x' });
    c.inc(1000, { a: 'bx' });
    c.inc(10_000, {});
    expect(find(monitor, 'c')).toHaveLength(5);
    const total = (tags: Record<string, string>) =>
      monitor.getRates('c', { tags, windowSeconds: 'cumulative' })?.count;
    expect(total({ a: 'x', b: 'y' })).toBe(1);
    expect(total({ a: 'x\u0001b\u0002y' })).toBe(10);
  });

  it('the same tags under two components are two series', () => {
    const { monitor } = setup();
    monitor.counter('c', { component: 'a' }).inc(1, { k: 'v' });
    monitor.counter('c', { component: 'b' }).inc(2, { k: 'v' });
    monitor.counter('c').inc(4, { k: 'v' });
    const series = find(monitor, 'c');
    expect(series.map((s) => s.component).sort()).toEqual(['a', 'b', 'default']);
    expect(
      monitor.getRates('c', { component: 'b', tags: { k: 'v' }, windowSeconds: 'cumulative' })!
        .count,
    ).toBe(2);
  });

  it('defaultComponent applies to handles, recordMetric and queries', () => {
    const { monitor } = setup({ defaultComponent: 'marketplace' });
    monitor.counter('c').inc();
    monitor.recordMetric({ name: 'c', value: 1, metricType: 'counter' });
    const [s] = find(monitor, 'c');
    expect(s).toMatchObject({ component: 'marketplace', total: 2 });
    expect(monitor.getRates('c', { windowSeconds: 'cumulative' })!.count).toBe(2);
  });

  it('the snapshot tags are a copy the caller cannot use to change the series', () => {
    const { monitor } = setup();
    const tags: Record<string, string> = { a: '1' };
    monitor.counter('c').bind(tags).inc();
    tags.a = '2';
    monitor.counter('c').inc(1, { a: '1' });
    expect(find(monitor, 'c')).toHaveLength(1);
    expect(find(monitor, 'c')[0]).toMatchObject({ tags: { a: '1' }, total: 2 });
  });

  it('labels are carried, updated, and do not identify the series', () => {
    const { monitor } = setup();
    const h = monitor.histogram('h');
    h.bind({ route: '/x' }, { version: 'v1' }).record(1);
    expect(find(monitor, 'h')[0]!.labels).toEqual({ version: 'v1' });
    h.bind({ route: '/x' }, { version: 'v2', env: 'prod' }).record(2);
    monitor.recordMetric({
      name: 'h',
      value: 3,
      metricType: 'histogram',
      tags: { route: '/x' },
      labels: { version: 'v3' },
    });
    const series = find(monitor, 'h');
    expect(series).toHaveLength(1);
    expect(series[0]!.labels).toEqual({ version: 'v3' });
    expect(series[0]!.tags).toEqual({ route: '/x' });
    // Recording without labels keeps the last ones.
    h.record(4, { route: '/x' });
    h.bind({ route: '/x' }).record(5);
    expect(find(monitor, 'h')[0]!.labels).toEqual({ version: 'v3' });
    expect(monitor.getStats('h', { tags: { route: '/x' } })!.count).toBe(5);
    // Labels are not a query key.
    expect(monitor.getStats('h', { tags: { route: '/x', version: 'v3' } })).toBeUndefined();
  });

  it('a series without labels has empty labels', () => {
    const { monitor } = setup();
    monitor.gauge('g').set(1);
    expect(find(monitor, 'g')[0]!.labels).toEqual({});
  });
});

describe('snapshot', () => {
  it('computes only what its options ask for, with the same values', () => {
    const { clock, monitor } = setup();
    const h = monitor.timer('t').bind({ route: '/x' });
    for (let minute = 0; minute < 6; minute++) {
      for (let i = 1; i <= 40; i++) h.record(i * (minute + 1));
      clock.advance(60_000);
    }
    h.record(7);
    monitor.counter('c').inc(2);
    const full = monitor.snapshot();
    const lean = monitor.snapshot({ windows: [300], digests: false, cumulativeQuantiles: false });
    expect(lean.windows).toEqual([300]);
    const pick = (snap: typeof full, type: string) => snap.series.find((s) => s.name === type)!;
    const fullTimer = pick(full, 't');
    const leanTimer = pick(lean, 't');
    if (fullTimer.type !== 'timer' || leanTimer.type !== 'timer') throw new Error('timer expected');
    expect(leanTimer.windows).toHaveLength(1);
    const { digest: _dropped, ...fullWindow } = fullTimer.windows[1]!;
    expect(leanTimer.windows[0]).toEqual(fullWindow);
    expect(leanTimer.windows[0]!.digest).toBeUndefined();
    expect(leanTimer.windows[0]!.quantiles.map((q) => q.value)).toEqual(
      monitor.getPercentiles('t', [0.5, 0.9, 0.95, 0.99, 0.999], {
        tags: { route: '/x' },
        windowSeconds: 300,
      }),
    );
    expect(leanTimer.cumulative.quantiles).toEqual([]);
    expect(leanTimer.cumulative.digest).toBeUndefined();
    expect(leanTimer.cumulative.count).toBe(fullTimer.cumulative.count);
    expect(leanTimer.cumulative.sum).toBe(fullTimer.cumulative.sum);
    const leanCounter = pick(lean, 'c');
    const fullCounter = pick(full, 'c');
    if (leanCounter.type !== 'counter' || fullCounter.type !== 'counter') throw new Error();
    expect(leanCounter.windows).toEqual([fullCounter.windows[1]]);
    // Digests kept, cumulative quantiles kept, no window at all.
    const none = monitor.snapshot({ windows: [] });
    const noneTimer = pick(none, 't');
    if (noneTimer.type !== 'timer') throw new Error('timer expected');
    expect(noneTimer.windows).toEqual([]);
    expect(noneTimer.cumulative.digest!.count).toBe(241);
  });

  it('rejects bad snapshot options, naming them', () => {
    const { monitor } = setup();
    expect(() => monitor.snapshot({ windows: [120] })).toThrow(
      /windows must hold configured windows \(60, 300, 900\), got 120/,
    );
    expect(() => monitor.snapshot({ digests: 'no' as unknown as boolean })).toThrow(
      /digests must be a boolean/,
    );
    expect(() => monitor.snapshot({ cumulativeQuantiles: 1 as unknown as boolean })).toThrow(
      /cumulativeQuantiles must be a boolean/,
    );
    expect(() => monitor.snapshot({ subWindows: { since: Number.NaN } })).toThrow(
      /subWindows.since must be a time/,
    );
    expect(() =>
      monitor.snapshot({ subWindows: { since: 0, open: 'yes' as unknown as boolean } }),
    ).toThrow(/subWindows.open must be a boolean/);
  });

  it('flushes buffers: counts equal the records even below the buffer size', () => {
    const { monitor } = setup();
    const h = monitor.histogram('h').bind();
    for (let i = 0; i < 5; i++) h.record(i);
    const [s] = find(monitor, 'h');
    if (s?.type !== 'histogram') throw new Error('histogram expected');
    expect(s.cumulative.count).toBe(5);
    expect(s.cumulative.digest!.count).toBe(5);
    for (const w of s.windows) {
      expect(w.count).toBe(5);
      expect(w.digest!.count).toBe(5);
      expect(w.digest!.quantiles([0, 0.5, 1])).toEqual([0, 2, 4]);
    }
  });

  it('is one consistent read at one timestamp', () => {
    const { clock, monitor } = setup();
    clock.set(T0 + 12_345);
    monitor.counter('c').inc(3);
    monitor.timer('t').record(5);
    const snap = monitor.snapshot();
    expect(snap.timestamp).toBe(T0 + 12_345);
    expect(snap.windows).toEqual([60, 300, 900]);
    for (const s of snap.series) {
      if (s.type === 'gauge') continue;
      const windows = s.windows;
      expect(windows.map((w) => w.windowSeconds)).toEqual([60, 300, 900]);
      if (s.type !== 'counter') expect(s.cumulative.windowSeconds).toBe('cumulative');
    }
  });

  it('lists windows in ascending order whatever order they were configured in', () => {
    const { monitor } = setup({ windows: [900, 120, 60] });
    monitor.timer('t').record(1);
    monitor.counter('c').inc();
    const snap = monitor.snapshot();
    expect(snap.windows).toEqual([60, 120, 900]);
    for (const s of snap.series) {
      if (s.type === 'gauge') continue;
      expect(s.windows.map((w) => w.windowSeconds)).toEqual([60, 120, 900]);
    }
  });

  it('leaves out gauges that were never set; includes set, incremented and zero ones', () => {
    const { monitor } = setup();
    monitor.gauge('unset').bind({ a: 'b' });
    monitor.gauge('zero').set(0);
    const inc = monitor.gauge('inc').bind();
    inc.inc();
    inc.inc(2);
    const dec = monitor.gauge('dec').bind();
    dec.dec();
    const last = monitor.gauge('last').bind();
    last.set(5);
    last.set(-2.5);
    expect(find(monitor, 'unset')).toHaveLength(0);
    expect(find(monitor, 'zero')[0]).toMatchObject({ type: 'gauge', value: 0 });
    expect(find(monitor, 'inc')[0]).toMatchObject({ type: 'gauge', value: 3 });
    expect(find(monitor, 'dec')[0]).toMatchObject({ type: 'gauge', value: -1 });
    expect(find(monitor, 'last')[0]).toMatchObject({ type: 'gauge', value: -2.5 });
  });

  it('gauge inc/dec with bad values are dropped and leave the gauge unset', () => {
    const { monitor } = setup();
    const g = monitor.gauge('g').bind();
    g.inc(NaN);
    g.dec(Infinity);
    g.dec('1' as unknown as number);
    expect(find(monitor, 'g')).toHaveLength(0);
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(3);
  });

  it('hands out digests that later records do not change', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    for (let i = 1; i <= 10; i++) h.record(i);
    const [before] = find(monitor, 'h');
    if (before?.type !== 'histogram') throw new Error('histogram expected');
    const p50 = before.windows[0]!.digest!.quantile(0.5);
    for (let i = 0; i < 1000; i++) h.record(1000 + i);
    clock.advance(20 * MIN);
    for (let i = 0; i < 1000; i++) h.record(5000 + i);
    monitor.snapshot();
    expect(before.windows[0]!.digest!.count).toBe(10);
    expect(before.windows[0]!.digest!.quantile(0.5)).toBe(p50);
    expect(before.cumulative.digest!.max).toBe(10);
    expect(before.cumulative.count).toBe(10);
    // Merging into a snapshot digest leaves the monitor alone too.
    before.cumulative.digest!.add(1e9);
    expect(monitor.getStats('h', { windowSeconds: 'cumulative' })!.max).toBe(5999);
  });

  it('window digests agree with getStats and getPercentiles', () => {
    const { clock, monitor } = setup();
    const h = monitor.histogram('h').bind();
    for (let m = 0; m < 4; m++) {
      clock.set(T0 + m * MIN);
      for (let i = 0; i < 30; i++) h.record(m * 100 + i);
    }
    const [s] = find(monitor, 'h');
    if (s?.type !== 'histogram') throw new Error('histogram expected');
    for (const w of [...s.windows, s.cumulative]) {
      const stats = monitor.getStats('h', { windowSeconds: w.windowSeconds })!;
      expect(w).toMatchObject({
        count: stats.count,
        sum: stats.sum,
        min: stats.min,
        max: stats.max,
        errors: stats.errors,
      });
      expect(w.digest!.count).toBe(stats.count);
      expect(w.digest!.min).toBe(stats.min);
      expect(w.digest!.max).toBe(stats.max);
      // The standard quantiles are read like getPercentiles, from the exact mixture.
      const query = { windowSeconds: w.windowSeconds };
      expect(w.quantiles.map((q) => q.quantile)).toEqual(monitor.snapshotQuantiles);
      expect(w.quantiles.map((q) => q.value)).toEqual(
        monitor.getPercentiles('h', monitor.snapshotQuantiles, query),
      );
      // The merged digest for export may move a quantile by a rank or two (here the
      // median sits on a gap: 229 and 300 are neighbours), never further.
      const slack = 2 / stats.count;
      for (const q of [0.1, 0.5, 0.9]) {
        const [below, above] = monitor.getPercentiles('h', [q - slack, q + slack], query);
        const estimate = w.digest!.quantile(q);
        expect(estimate).toBeGreaterThanOrEqual(below!);
        expect(estimate).toBeLessThanOrEqual(above!);
      }
    }
  });

  it('an empty window has an empty digest and NaN statistics', () => {
    const { clock, monitor } = setup();
    monitor.histogram('h').record(1);
    clock.advance(10 * MIN);
    const [s] = find(monitor, 'h');
    if (s?.type !== 'histogram') throw new Error('histogram expected');
    const w = s.windows[0]!;
    expect(w.count).toBe(0);
    expect(w.digest!.count).toBe(0);
    expect(w.digest!.quantile(0.5)).toBeNaN();
    expect([w.min, w.max, w.mean]).toEqual([NaN, NaN, NaN]);
    expect(w.perSecond).toBe(0);
    expect(s.cumulative.count).toBe(1);
  });

  it('works at the highest allowed compression', () => {
    const { monitor } = setup({ compression: 10_000 });
    const h = monitor.histogram('h').bind();
    for (let i = 0; i < 1000; i++) h.record(i);
    let snapshot: ReturnType<Monitor['snapshot']> | undefined;
    expect(() => (snapshot = monitor.snapshot())).not.toThrow();
    const s = snapshot?.series.find((x) => x.name === 'h');
    if (s?.type !== 'histogram') throw new Error('histogram expected');
    expect(s.cumulative.digest!.count).toBe(1000);
  });

  it('includes the overflow series and the self-metrics', () => {
    const { monitor } = setup({ maxSeriesPerMetric: 1 });
    monitor.counter('c').inc(1, { a: '1' });
    monitor.counter('c').inc(1, { a: '2' });
    monitor.recordMetric({ name: 'h', value: NaN, metricType: 'histogram' });
    const snap = monitor.snapshot();
    const names = snap.series.map((s) => `${s.component}/${s.name}/${s.overflow}`).sort();
    expect(names).toEqual([
      'default/c/false',
      'default/c/true',
      'prsm/prsm.records.dropped/false',
      'prsm/prsm.series.overflow/false',
    ]);
  });
});

describe('shutdown', () => {
  it('is idempotent: every call returns the same promise', async () => {
    const { monitor } = setup();
    const a = monitor.shutdown();
    const b = monitor.shutdown();
    expect(a).toBe(b);
    await expect(a).resolves.toBeUndefined();
    expect(monitor.shutdown()).toBe(a);
  });

  it('stops the sub-window timer of the system clock', async () => {
    vi.useFakeTimers({ now: T0 });
    const before = vi.getTimerCount();
    // The ticker's timer alone (the resource sampler and the history have their own tests).
    const monitor = new Monitor({
      health: { resources: false },
      analytics: { sampleEveryMinute: false },
    });
    expect(vi.getTimerCount()).toBe(before + 1);
    await monitor.shutdown();
    expect(vi.getTimerCount()).toBe(before);
    // Recording still works, reading the clock itself.
    monitor.histogram('h').record(1);
    vi.setSystemTime(T0 + 2 * MIN);
    monitor.histogram('h').record(2);
    expect(monitor.getStats('h', { windowSeconds: 60 })!.count).toBe(1);
    expect(vi.getTimerCount()).toBe(before);
  });

  it('a monitor on the system clock does not keep the process alive', async () => {
    const timers = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const monitor = new Monitor();
    monitor.timer('t').record(1);
    expect(timers()).toBe(before);
    await monitor.shutdown();
    expect(timers()).toBe(before);
  });

  it('unsubscribes from a ManualClock', async () => {
    const listeners: (() => void)[] = [];
    let removed = 0;
    let now = T0;
    const clock: Clock = {
      now: () => now,
      onChange: (listener) => {
        listeners.push(listener);
        return () => {
          removed++;
        };
      },
    };
    const monitor = new Monitor({ clock });
    expect(listeners).toHaveLength(1);
    await monitor.shutdown();
    await monitor.shutdown();
    expect(removed).toBe(1);
    // Still rotates (by reading the clock) after unsubscribing.
    monitor.histogram('h').record(1);
    now = T0 + 2 * MIN;
    monitor.histogram('h').record(2);
    expect(monitor.getStats('h', { windowSeconds: 60 })!.count).toBe(1);
  });
});
