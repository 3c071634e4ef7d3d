import { describe, expect, it } from 'vitest';

import { ManualClock } from '../clock/clock.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { Monitor } from '../monitor.js';
import type { SeriesSnapshot } from './snapshot.js';
import { OVERFLOW_COMPONENT, OVERFLOW_TAG } from './family.js';

const T0 = Date.UTC(2024, 0, 15);

function capped(max = 3): Monitor {
  return new Monitor({ clock: new ManualClock(T0), maxSeriesPerMetric: max });
}

function seriesOf(monitor: Monitor, name: string): SeriesSnapshot[] {
  return monitor.snapshot().series.filter((s) => s.name === name);
}

function selfCount(monitor: Monitor, name: string, tags: Record<string, string>): number {
  return (
    monitor.getRates(name, { component: 'prsm', tags, windowSeconds: 'cumulative' })?.count ?? 0
  );
}

describe('the per-metric series cap', () => {
  it('sends the 4th tag set to the overflow series of the same component', () => {
    const monitor = capped(3);
    const h = monitor.histogram('latency', { component: 'api' });
    for (const route of ['/a', '/b', '/c']) h.record(1, { route });
    h.record(42, { route: '/d' });

    const all = seriesOf(monitor, 'latency');
    expect(all).toHaveLength(4);
    const regular = all.filter((s) => !s.overflow);
    expect(regular.map((s) => s.tags.route).sort()).toEqual(['/a', '/b', '/c']);
    const overflow = all.filter((s) => s.overflow);
    expect(overflow).toHaveLength(1);
    expect(overflow[0]!.component).toBe('api');
    expect(overflow[0]!.tags).toEqual({ [OVERFLOW_TAG]: 'true' });
    if (overflow[0]!.type !== 'histogram') throw new Error('histogram expected');
    expect(overflow[0]!.cumulative.count).toBe(1);
    expect(overflow[0]!.cumulative.max).toBe(42);
    expect(OVERFLOW_TAG).toBe('prsm.overflow');
    // The tag set that overflowed has no series of its own.
    expect(
      monitor.getStats('latency', { component: 'api', tags: { route: '/d' } }),
    ).toBeUndefined();
  });

  it('sends a component never seen before the cap to the prsm.overflow component', () => {
    const monitor = capped(3);
    for (const route of ['/a', '/b', '/c']) {
      monitor.counter('hits', { component: 'api' }).inc(1, { route });
    }
    monitor.counter('hits', { component: 'web' }).inc(5, { route: '/x' });
    monitor.counter('hits', { component: 'api' }).inc(7, { route: '/y' });
    const overflow = seriesOf(monitor, 'hits').filter((s) => s.overflow);
    const byComponent = Object.fromEntries(
      overflow.map((s) => [s.component, s.type === 'counter' ? s.total : NaN]),
    );
    expect(byComponent).toEqual({ [OVERFLOW_COMPONENT]: 5, api: 7 });
    expect(OVERFLOW_COMPONENT).toBe('prsm.overflow');
    for (const s of overflow) expect(s.tags).toEqual({ [OVERFLOW_TAG]: 'true' });
  });

  it('counts overflowed lookups in prsm.series.overflow{metric} and in diagnostics', () => {
    const monitor = capped(3);
    const c = monitor.counter('hits');
    for (let i = 0; i < 3; i++) c.inc(1, { i: String(i) });
    expect(selfCount(monitor, 'prsm.series.overflow', { metric: 'hits' })).toBe(0);
    for (let i = 3; i < 10; i++) c.inc(1, { i: String(i) });
    expect(selfCount(monitor, 'prsm.series.overflow', { metric: 'hits' })).toBe(7);
    expect(monitor.diagnostics.count(DiagnosticCode.SERIES_OVERFLOW)).toBe(7);
    // Existing series do not count.
    c.inc(1, { i: '0' });
    expect(selfCount(monitor, 'prsm.series.overflow', { metric: 'hits' })).toBe(7);
    // It counts lookups routed to the overflow series: the same tag set again counts again
    // (nothing is stored for it, so it cannot be recognised).
    c.inc(1, { i: '9' });
    expect(selfCount(monitor, 'prsm.series.overflow', { metric: 'hits' })).toBe(8);
  });

  it('bind() beyond the cap returns a handle on the overflow series', () => {
    const monitor = capped(2);
    const t = monitor.timer('op', { component: 'svc' });
    t.bind({ k: '1' }).record(1);
    t.bind({ k: '2' }).record(2);
    const third = t.bind({ k: '3' });
    const fourth = t.bind({ k: '4' });
    third.record(30);
    fourth.recordError(40);
    const overflow = seriesOf(monitor, 'op').filter((s) => s.overflow);
    expect(overflow).toHaveLength(1);
    const o = overflow[0]!;
    if (o.type !== 'timer') throw new Error('timer expected');
    expect(o.component).toBe('svc');
    expect(o.cumulative.count).toBe(2);
    expect(o.cumulative.errors).toBe(1);
    expect([o.cumulative.min, o.cumulative.max]).toEqual([30, 40]);
    // And the series under the cap are untouched.
    expect(monitor.getStats('op', { component: 'svc', tags: { k: '1' } })!.count).toBe(1);
  });

  it('the cap counts series across components', () => {
    const monitor = capped(2);
    monitor.gauge('g', { component: 'a' }).set(1);
    monitor.gauge('g', { component: 'b' }).set(2);
    monitor.gauge('g', { component: 'c' }).set(3);
    const s = seriesOf(monitor, 'g');
    expect(s.filter((x) => !x.overflow).map((x) => x.component)).toEqual(['a', 'b']);
    expect(s.filter((x) => x.overflow).map((x) => x.component)).toEqual([OVERFLOW_COMPONENT]);
  });

  it('caps each metric separately', () => {
    const monitor = capped(2);
    for (const name of ['m1', 'm2']) {
      for (let i = 0; i < 2; i++) monitor.counter(name).inc(1, { i: String(i) });
    }
    expect(seriesOf(monitor, 'm1').every((s) => !s.overflow)).toBe(true);
    expect(seriesOf(monitor, 'm2').every((s) => !s.overflow)).toBe(true);
  });

  it('stays flat: 100,000 distinct tag sets keep the cap plus one overflow series', () => {
    const monitor = capped(3);
    const h = monitor.histogram('flood', { component: 'api' });
    for (let i = 0; i < 100_000; i++) h.record(i % 100, { user: `u${i}` });
    const series = seriesOf(monitor, 'flood');
    expect(series).toHaveLength(4);
    expect(series.filter((s) => s.overflow)).toHaveLength(1);
    const total = series.reduce((a, s) => a + (s.type === 'histogram' ? s.cumulative.count : 0), 0);
    expect(total).toBe(100_000);
    expect(monitor.diagnostics.count(DiagnosticCode.SERIES_OVERFLOW)).toBe(99_997);
    // The self-metric has one series for this metric, not one per tag set.
    expect(seriesOf(monitor, 'prsm.series.overflow')).toHaveLength(1);
    expect(selfCount(monitor, 'prsm.series.overflow', { metric: 'flood' })).toBe(99_997);
  });

  it('stays flat when new components flood in, too', () => {
    const monitor = capped(3);
    for (let i = 0; i < 10_000; i++) {
      monitor.counter('c', { component: `comp${i}` }).inc(1, { i: String(i) });
    }
    const series = seriesOf(monitor, 'c');
    expect(series).toHaveLength(4);
    expect(series.filter((s) => s.overflow).map((s) => s.component)).toEqual([OVERFLOW_COMPONENT]);
  });

  // The self-metrics are metrics too; reaching the cap in several metrics must not
  // break the recording path (nothing on it throws).
  it('overflows in more metrics than the cap never throw from bind() or inc()', () => {
    const monitor = capped(3);
    expect(() => {
      for (const name of ['a', 'b', 'c', 'd', 'e']) {
        const c = monitor.counter(name);
        for (let i = 0; i < 5; i++) c.bind({ i: String(i) }).inc();
      }
    }).not.toThrow();
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      const total = seriesOf(monitor, name).reduce(
        (sum, s) => sum + (s.type === 'counter' ? s.total : 0),
        0,
      );
      expect(total, name).toBe(5);
    }
    expect(monitor.diagnostics.count(DiagnosticCode.SERIES_OVERFLOW)).toBe(10);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(0);
  });

  it('overflows in more metrics than the cap are still recorded via recordMetric', () => {
    const monitor = capped(1);
    for (const name of ['a', 'b', 'c']) {
      for (let i = 0; i < 2; i++) {
        monitor.recordMetric({ name, value: 1, metricType: 'counter', tags: { i: String(i) } });
      }
    }
    for (const name of ['a', 'b', 'c']) {
      const total = seriesOf(monitor, name).reduce(
        (sum, s) => sum + (s.type === 'counter' ? s.total : 0),
        0,
      );
      expect(total, name).toBe(2);
    }
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(0);
  });

  it('prsm.records.dropped keeps one series per reason even under a small cap', () => {
    const monitor = capped(3);
    const h = monitor.histogram('h');
    h.record(NaN);
    monitor.counter('c').inc(-1);
    monitor.recordMetric({ name: 'x', value: 1, metricType: 'summary' as never });
    h.record(1, { bad: 1 as unknown as string });
    monitor.recordMetric({ name: '', value: 1, metricType: 'counter' });
    const reasons = seriesOf(monitor, 'prsm.records.dropped').map((s) => s.tags.reason);
    expect(reasons.sort()).toEqual(
      [
        DiagnosticCode.INVALID_VALUE,
        DiagnosticCode.NEGATIVE_INCREMENT,
        DiagnosticCode.UNKNOWN_METRIC_TYPE,
        DiagnosticCode.INVALID_TAGS,
        DiagnosticCode.INVALID_NAME,
      ].sort(),
    );
  });
});
