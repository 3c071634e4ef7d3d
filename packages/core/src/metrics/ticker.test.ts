import { afterEach, describe, expect, it, vi } from 'vitest';

import type { Clock } from '../clock/clock.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { Monitor } from '../monitor.js';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 15);

afterEach(() => {
  vi.useRealTimers();
});

describe('rotation with the system clock (a timer per sub-window boundary)', () => {
  it('rotates on the timer, without any record or read in between', async () => {
    vi.useFakeTimers({ now: T0 + 30_000 });
    const monitor = new Monitor();
    const h = monitor.histogram('h').bind();
    h.record(1);
    vi.advanceTimersByTime(MIN); // T0 + 90 s: sub-window 1
    h.record(2);
    vi.advanceTimersByTime(MIN); // T0 + 150 s: sub-window 2
    h.record(3);
    const w60 = monitor.getStats('h', { windowSeconds: 60 })!;
    expect([w60.count, w60.min, w60.max]).toEqual([2, 2, 3]);
    expect(monitor.getStats('h', { windowSeconds: 300 })!.count).toBe(3);
    await monitor.shutdown();
  });

  it('keeps exactly one pending timer while running', async () => {
    vi.useFakeTimers({ now: T0 });
    const before = vi.getTimerCount();
    // The ticker's timer alone.
    const monitor = new Monitor({
      health: { resources: false },
      analytics: { sampleEveryMinute: false },
    });
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(MIN);
      expect(vi.getTimerCount()).toBe(before + 1);
    }
    await monitor.shutdown();
    expect(vi.getTimerCount()).toBe(before);
  });

  it('measures startTimer durations on the monotonic clock', async () => {
    vi.useFakeTimers({ now: T0 });
    const monitor = new Monitor();
    const stop = monitor.timer('t').bind().startTimer();
    vi.advanceTimersByTime(1234);
    expect(stop()).toBeCloseTo(1234, 6);
    await monitor.shutdown();
  });

  it('a loop that never yields still rotates when a buffer flushes', async () => {
    vi.useFakeTimers({ now: T0 });
    const monitor = new Monitor();
    const h = monitor.histogram('h').bind();
    h.record(1);
    // Time passes but the timer cannot fire (no yielding): only Date moves.
    vi.setSystemTime(T0 + 2 * MIN);
    for (let i = 0; i < 512; i++) h.record(2);
    // Reads re-check the time too.
    const s = monitor.getStats('h', { windowSeconds: 60 })!;
    expect(s.min).toBe(2);
    await monitor.shutdown();
  });
});

describe('rotation with a custom clock without onChange (poll mode)', () => {
  it('reads the clock on every record and read', () => {
    let now = T0;
    const clock: Clock = { now: () => now };
    const monitor = new Monitor({ clock });
    const h = monitor.histogram('h').bind();
    const c = monitor.counter('c').bind();
    h.record(1);
    c.inc();
    now = T0 + MIN;
    h.record(2);
    c.inc();
    now = T0 + 2 * MIN;
    h.record(3);
    c.inc();
    expect(monitor.getStats('h', { windowSeconds: 60 })!.count).toBe(2);
    expect(monitor.getRates('c', { windowSeconds: 60 })!.count).toBe(2);
    now = T0 + 3 * MIN + 1;
    // No record since: the read alone rotates.
    expect(monitor.getStats('h', { windowSeconds: 60 })!.count).toBe(1);
    expect(monitor.getRates('c', { windowSeconds: 60 })!.count).toBe(1);
    expect(monitor.getStats('h', { windowSeconds: 300 })!.count).toBe(3);
    expect(monitor.snapshot().timestamp).toBe(now);
  });

  it('takes the creation time of a series from the clock', () => {
    let now = T0 + 10_000;
    const monitor = new Monitor({ clock: { now: () => now } });
    now = T0 + 20_000;
    monitor.counter('c').inc(10);
    now = T0 + 30_000;
    expect(monitor.getRates('c')!.coveredSeconds).toBe(10);
  });

  it('reports a clock that goes backwards and keeps the sub-window', () => {
    let now = T0 + 5 * MIN;
    const monitor = new Monitor({ clock: { now: () => now } });
    const h = monitor.histogram('h').bind();
    h.record(1);
    now = T0;
    h.record(2);
    expect(monitor.diagnostics.count(DiagnosticCode.CLOCK_BACKWARDS)).toBeGreaterThan(0);
    now = T0 + 5 * MIN + 1;
    expect(monitor.getStats('h', { windowSeconds: 60 })!.count).toBe(2);
    now = T0 + 7 * MIN;
    expect(monitor.getStats('h', { windowSeconds: 60 })!.count).toBe(0);
  });

  it('never registers a timer', async () => {
    vi.useFakeTimers({ now: T0 });
    const before = vi.getTimerCount();
    const monitor = new Monitor({ clock: { now: () => Date.now() } });
    expect(vi.getTimerCount()).toBe(before);
    await monitor.shutdown();
  });
});

describe('sub-windows of other lengths', () => {
  it('windows move in steps of subWindowSeconds', () => {
    let now = T0;
    const monitor = new Monitor({
      clock: { now: () => now },
      subWindowSeconds: 10,
      windows: [30, 120],
    });
    const h = monitor.histogram('h').bind();
    for (let s = 0; s < 12; s++) {
      now = T0 + s * 10_000;
      h.record(s);
    }
    // Now in sub-window 11: 30 s = sub-windows 8..11; 120 s = 0..11.
    expect(monitor.getStats('h', { windowSeconds: 30 })!.min).toBe(8);
    expect(monitor.getStats('h', { windowSeconds: 120 })!.count).toBe(12);
    expect(monitor.getStats('h', { windowSeconds: 30 })!.coveredSeconds).toBe(30);
    expect(() => monitor.getStats('h', { windowSeconds: 121 })).toThrow(TypeError);
  });

  it('fractional sub-windows work', () => {
    let now = T0;
    const monitor = new Monitor({
      clock: { now: () => now },
      subWindowSeconds: 0.5,
      windows: [1, 2],
    });
    const c = monitor.counter('c').bind();
    for (let i = 0; i < 10; i++) {
      now = T0 + i * 500;
      c.inc();
    }
    expect(monitor.getRates('c', { windowSeconds: 1 })!.count).toBe(3);
    expect(monitor.getRates('c', { windowSeconds: 2 })!.count).toBe(5);
  });
});
