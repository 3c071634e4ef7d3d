import { describe, expect, it, vi } from 'vitest';

import { ManualClock, systemClock } from './clock.js';

describe('ManualClock', () => {
  it('starts at the epoch by default, or at the given time', () => {
    expect(new ManualClock().now()).toBe(0);
    expect(new ManualClock(1_700_000_000_000).now()).toBe(1_700_000_000_000);
    expect(new ManualClock(-5).now()).toBe(-5);
  });

  it('advance moves forward; set jumps anywhere, backwards included', () => {
    const clock = new ManualClock(1000);
    clock.advance(500);
    expect(clock.now()).toBe(1500);
    clock.advance(0);
    expect(clock.now()).toBe(1500);
    clock.set(100);
    expect(clock.now()).toBe(100);
    clock.set(1e15);
    expect(clock.now()).toBe(1e15);
  });

  it.each([NaN, Infinity, -Infinity])('rejects a start of %s', (start) => {
    expect(() => new ManualClock(start)).toThrow(TypeError);
  });

  it.each([-1, NaN, Infinity, -Infinity])('rejects advance(%s) and keeps the time', (ms) => {
    const clock = new ManualClock(10);
    expect(() => clock.advance(ms)).toThrow(TypeError);
    expect(clock.now()).toBe(10);
  });

  it.each([NaN, Infinity, -Infinity])('rejects set(%s) and keeps the time', (ms) => {
    const clock = new ManualClock(10);
    expect(() => clock.set(ms)).toThrow(TypeError);
    expect(clock.now()).toBe(10);
  });

  it('calls every listener after each change, seeing the new time', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const a = vi.fn(() => seen.push(clock.now()));
    const b = vi.fn();
    clock.onChange(a);
    clock.onChange(b);
    clock.advance(10);
    clock.set(5);
    clock.advance(0);
    expect(seen).toEqual([10, 5, 5]);
    expect(b).toHaveBeenCalledTimes(3);
  });

  it('does not call listeners for rejected changes', () => {
    const clock = new ManualClock(0);
    const listener = vi.fn();
    clock.onChange(listener);
    expect(() => clock.advance(-1)).toThrow(TypeError);
    expect(() => clock.set(NaN)).toThrow(TypeError);
    expect(listener).not.toHaveBeenCalled();
  });

  it('unsubscribes a listener with the function onChange returned', () => {
    const clock = new ManualClock(0);
    const a = vi.fn();
    const b = vi.fn();
    const offA = clock.onChange(a);
    clock.onChange(b);
    clock.advance(1);
    offA();
    offA(); // twice is harmless
    clock.advance(1);
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(2);
  });
});

describe('systemClock', () => {
  it('reads Date.now()', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
    expect(Object.isFrozen(systemClock)).toBe(true);
    expect('onChange' in systemClock).toBe(false);
  });
});
