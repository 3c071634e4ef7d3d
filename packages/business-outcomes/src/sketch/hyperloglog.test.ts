import { describe, expect, it } from 'vitest';
import { hash64 } from './hash.js';
import { HyperLogLog } from './hyperloglog.js';

function relativeError(estimate: number, exact: number): number {
  return Math.abs(estimate - exact) / exact;
}

describe('HyperLogLog', () => {
  it.each([1_000, 100_000, 1_000_000])(
    'estimates %i distinct users within 2 percent, duplicates not counted again',
    (n) => {
      const sketch = new HyperLogLog();
      const exact = new Set<string>();
      for (let i = 0; i < n; i++) {
        const id = `user_${i}`;
        sketch.add(id);
        exact.add(id);
        // Every tenth user comes back: must not change the count.
        if (i % 10 === 0) sketch.add(id);
      }
      expect(exact.size).toBe(n);
      expect(relativeError(sketch.estimate(), exact.size)).toBeLessThanOrEqual(0.02);
    },
  );

  it('stays within 2% for random UUID-like ids at 1e5', () => {
    let seed = 42;
    const next = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    const exact = new Set<string>();
    const sketch = new HyperLogLog();
    while (exact.size < 100_000) {
      const id = `${next().toString(16)}-${next().toString(16)}-${next().toString(16)}`;
      exact.add(id);
      sketch.add(id);
    }
    expect(relativeError(sketch.estimate(), exact.size)).toBeLessThanOrEqual(0.02);
  });

  it('counts small sets exactly and an empty one as 0', () => {
    const sketch = new HyperLogLog();
    expect(sketch.estimate()).toBe(0);
    for (const id of ['a', 'b', 'c', 'a', 'b']) sketch.add(id);
    expect(sketch.estimate()).toBe(3);
    sketch.clear();
    expect(sketch.estimate()).toBe(0);
  });

  it('merges into the sketch of the union', () => {
    const a = new HyperLogLog();
    const b = new HyperLogLog();
    const union = new HyperLogLog();
    for (let i = 0; i < 60_000; i++) {
      a.add(`u${i}`);
      union.add(`u${i}`);
    }
    for (let i = 40_000; i < 100_000; i++) {
      b.add(`u${i}`);
      union.add(`u${i}`);
    }
    const merged = a.clone();
    merged.merge(b);
    expect(merged.estimate()).toBe(union.estimate());
    expect(relativeError(merged.estimate(), 100_000)).toBeLessThanOrEqual(0.02);
    // The clone is independent of its source.
    expect(relativeError(a.estimate(), 60_000)).toBeLessThanOrEqual(0.02);
  });

  it('holds at most 16 KiB of registers', () => {
    expect(HyperLogLog.BYTES).toBeLessThanOrEqual(16 * 1024);
    expect(HyperLogLog.BYTES).toBe(12_289);
  });
});

describe('hash64', () => {
  it('spreads every output bit evenly and flips about half of them for a one-character change', () => {
    const out = new Uint32Array(2);
    const ones = new Float64Array(64);
    const n = 20_000;
    let flipped = 0;
    const other = new Uint32Array(2);
    for (let i = 0; i < n; i++) {
      hash64(`user_${i}`, out);
      for (let b = 0; b < 32; b++) {
        ones[b]! += (out[0]! >>> b) & 1;
        ones[32 + b]! += (out[1]! >>> b) & 1;
      }
      hash64(`user_${i}x`, other);
      const x0 = out[0]! ^ other[0]!;
      const x1 = out[1]! ^ other[1]!;
      for (let b = 0; b < 32; b++) flipped += ((x0 >>> b) & 1) + ((x1 >>> b) & 1);
    }
    for (const count of ones) expect(Math.abs(count / n - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(flipped / (n * 64) - 0.5)).toBeLessThan(0.01);
  });

  it('is deterministic and differs between close strings', () => {
    const a = new Uint32Array(2);
    const b = new Uint32Array(2);
    hash64('user_1', a);
    hash64('user_1', b);
    expect([...a]).toEqual([...b]);
    hash64('user_2', b);
    expect([...a]).not.toEqual([...b]);
  });
});
