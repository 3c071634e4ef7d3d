import { ManualClock } from '@prsm/core';
import { describe, expect, it } from 'vitest';

import { RateLimiter } from './rate-limit.js';

describe('RateLimiter: a token bucket per key on an injected clock', () => {
  it('allows the burst, then one per 1/rate, with Retry-After rounded up to seconds', () => {
    const clock = new ManualClock(1_000_000);
    const limiter = new RateLimiter({ perSecond: 0.5, burst: 3 }, clock);
    expect([1, 2, 3].map(() => limiter.take('k').ok)).toEqual([true, true, true]);
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterSeconds: 2 });
    clock.advance(1500);
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterSeconds: 1 });
    clock.advance(500);
    expect(limiter.take('k').ok).toBe(true);
    expect(limiter.take('k').ok).toBe(false);
    // Another key is not affected.
    expect(limiter.take('other').ok).toBe(true);
  });

  it('refills to the burst, never beyond, and ignores time going backwards', () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ perSecond: 10, burst: 2 }, clock);
    limiter.take('k');
    limiter.take('k');
    clock.advance(3_600_000);
    expect([1, 2, 3].map(() => limiter.take('k').ok)).toEqual([true, true, false]);
    clock.set(0);
    expect(limiter.take('k').ok).toBe(false);
  });

  it('keeps a bounded number of buckets', () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, clock, 3);
    for (const k of ['a', 'b', 'c', 'd']) expect(limiter.take(k).ok).toBe(true);
    // 'a' was evicted (everyone busy, oldest first): it starts again with a full bucket.
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('d').ok).toBe(false);
  });

  it('rejects bad options with a TypeError', () => {
    const clock = new ManualClock(0);
    expect(() => new RateLimiter({ perSecond: 0 }, clock)).toThrow(TypeError);
    expect(() => new RateLimiter({ perSecond: NaN }, clock)).toThrow(/perSecond/);
    expect(() => new RateLimiter({ perSecond: 1, burst: 0.5 }, clock)).toThrow(/burst/);
  });
});
