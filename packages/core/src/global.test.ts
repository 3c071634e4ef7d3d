import { afterEach, describe, expect, it } from 'vitest';

import { ManualClock } from './clock/clock.js';
import { getGlobalMonitor, NoopMonitor, setGlobalMonitor } from './global.js';
import { Monitor } from './monitor.js';

afterEach(() => {
  setGlobalMonitor(undefined);
});

describe('the global monitor', () => {
  it('is a NoopMonitor (enabled = false) when none is set', () => {
    const m = getGlobalMonitor();
    expect(m).toBeInstanceOf(NoopMonitor);
    expect(m.enabled).toBe(false);
    expect(getGlobalMonitor()).toBe(m);
  });

  it('returns the monitor set, and the no-op one again once unset', async () => {
    const monitor = new Monitor({ clock: new ManualClock(0) });
    setGlobalMonitor(monitor);
    expect(getGlobalMonitor()).toBe(monitor);
    expect(getGlobalMonitor().enabled).toBe(true);
    getGlobalMonitor().counter('jobs').inc(2);
    expect(monitor.getRates('jobs', { windowSeconds: 'cumulative' })!.count).toBe(2);
    setGlobalMonitor(undefined);
    expect(getGlobalMonitor()).toBeInstanceOf(NoopMonitor);
    await monitor.shutdown();
  });

  it('a later set replaces an earlier one', () => {
    const a = new NoopMonitor();
    const b = new NoopMonitor();
    setGlobalMonitor(a);
    setGlobalMonitor(b);
    expect(getGlobalMonitor()).toBe(b);
  });

  it.each([null, 5, 'monitor', {}, { counter: () => undefined }])(
    'rejects %s with a TypeError and keeps the current monitor',
    (bad) => {
      const current = new NoopMonitor();
      setGlobalMonitor(current);
      expect(() => setGlobalMonitor(bad as never)).toThrow(TypeError);
      expect(getGlobalMonitor()).toBe(current);
    },
  );
});

describe('NoopMonitor handles', () => {
  it('do nothing and never throw', () => {
    const m = new NoopMonitor();
    expect(() => {
      m.recordMetric({ name: 'x', value: NaN, metricType: 'counter' } as never);
      const c = m.counter('c');
      c.inc();
      c.inc(-5, { a: 'b' });
      c.bind({ a: 'b' }).inc(3);
      const g = m.gauge('g');
      g.set(NaN);
      const bg = g.bind();
      bg.set(1);
      bg.inc();
      bg.dec();
      const h = m.histogram('h');
      h.record(1);
      h.recordError(1, { a: 'b' });
      h.bind().record(Infinity);
      const t = m.timer('t');
      t.record(1);
      t.recordError(2);
      t.bind({ x: 'y' }).recordError(3);
    }).not.toThrow();
  });

  it('keep their name, and stop functions return 0', () => {
    const m = new NoopMonitor();
    expect(m.counter('a').name).toBe('a');
    expect(m.gauge('b').name).toBe('b');
    expect(m.histogram('c').name).toBe('c');
    expect(m.timer('d').name).toBe('d');
    expect(m.timer('d').startTimer()()).toBe(0);
    expect(m.timer('d').bind().startTimer()({ error: true })).toBe(0);
  });

  it('are frozen, so callers cannot swap in behaviour', () => {
    const t = new NoopMonitor().timer('t');
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.bind())).toBe(true);
  });

  it('a refused metric of a real monitor gets the same do-nothing handles', async () => {
    const monitor = new Monitor({ clock: new ManualClock(0) });
    monitor.counter('x').inc();
    const conflicting = monitor.timer('x');
    expect(conflicting.name).toBe('x');
    expect(conflicting.startTimer()()).toBe(0);
    expect(() => conflicting.bind().record(1)).not.toThrow();
    await monitor.shutdown();
  });
});
