/**
 * A token bucket per caller (API key id, or address without a key): `burst` tokens,
 * refilled at `perSecond`. Time comes from an injected clock, so tests need no sleep.
 * The map of buckets is bounded: past `maxBuckets`, full (idle) buckets are dropped.
 */
import type { Clock } from '@prsm/core';

/**
 * Options of the per-key rate limit.
 *
 * @example
 * ```ts
 * const limit: RateLimitOptions = { perSecond: 50, burst: 100 };
 * ```
 */
export interface RateLimitOptions {
  /** Sustained requests per second per key. */
  readonly perSecond: number;
  /** Requests allowed at once after a quiet period. Default `2 * perSecond` (at least 1). */
  readonly burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** The outcome of one request against the limit. @internal */
export type RateDecision =
  { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

/** @internal */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxBuckets: number;

  constructor(options: RateLimitOptions, clock: Clock, maxBuckets = 10_000) {
    const { perSecond } = options;
    if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0) {
      throw new TypeError('rateLimit.perSecond must be a positive number');
    }
    const burst = options.burst ?? Math.max(1, 2 * perSecond);
    if (typeof burst !== 'number' || !Number.isFinite(burst) || burst < 1) {
      throw new TypeError('rateLimit.burst must be a number >= 1');
    }
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
    this.#clock = clock;
    this.#maxBuckets = maxBuckets;
  }

  /** Takes one token for `key`, or says how long until one is there. */
  take(key: string): RateDecision {
    const now = this.#clock.now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxBuckets) this.#evict(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      const elapsed = Math.max(0, now - bucket.at);
      bucket.tokens = Math.min(this.#burst, bucket.tokens + elapsed * this.#perMs);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    const waitMs = (1 - bucket.tokens) / this.#perMs;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  #evict(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
    // Everyone busy: drop the oldest, which at worst grants one caller a fresh burst.
    if (this.#buckets.size >= this.#maxBuckets) {
      const first = this.#buckets.keys().next();
      if (first.done !== true) this.#buckets.delete(first.value);
    }
  }
}
