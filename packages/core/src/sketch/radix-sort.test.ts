import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { sortFloat64 } from './radix-sort.js';

/** The largest subnormal double. */
const MAX_SUBNORMAL = 2.2250738585072009e-308;

/** Every interesting kind of finite double, NaN excluded (the sort's precondition). */
const finiteDouble = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -MAX_SUBNORMAL, max: MAX_SUBNORMAL, noNaN: true }),
  fc.double({ min: 1e300, max: Number.MAX_VALUE, noNaN: true }),
  fc.double({ min: -Number.MAX_VALUE, max: -1e300, noNaN: true }),
  // Values sharing the 24-bit radix key: only the final insertion pass orders them.
  fc.double({ min: 1, max: 1 + 2 ** -10, noNaN: true }),
  fc.double({ min: -1 - 2 ** -10, max: -1, noNaN: true }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.EPSILON,
  ),
);

/** A handful of values repeated many times. */
const duplicates = fc
  .array(finiteDouble, { minLength: 1, maxLength: 5 })
  .chain((pool) => fc.array(fc.constantFrom(...pool), { maxLength: 3000 }));

const arrays = fc.oneof(
  fc.array(finiteDouble, { maxLength: 60 }),
  // Signed zeros among other values, on both sides of the insertion-sort cutoff (48).
  fc.array(fc.oneof(fc.constantFrom(0, -0), finiteDouble), { maxLength: 120 }),
  fc.array(finiteDouble, { maxLength: 3000 }),
  fc.float64Array({ noNaN: true, noDefaultInfinity: true, maxLength: 3000 }).map((a) => [...a]),
  duplicates,
);

/** Bit-exact comparison, so -0 and +0 are told apart. */
function expectSameBits(actual: Float64Array, expected: Float64Array): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      expect.fail(
        `index ${i} of ${expected.length}: got ${Object.is(actual[i], -0) ? '-0' : String(actual[i])}, ` +
          `expected ${Object.is(expected[i], -0) ? '-0' : String(expected[i])}`,
      );
    }
  }
}

function sortedCopy(values: readonly number[]): Float64Array {
  const a = Float64Array.from(values);
  sortFloat64(a, a.length);
  return a;
}

describe('sortFloat64', () => {
  it('sorts like Float64Array.prototype.sort for arbitrary finite doubles', () => {
    fc.assert(
      fc.property(arrays, (values) => {
        expectSameBits(sortedCopy(values), Float64Array.from(values).sort());
      }),
      { seed: 20240115, numRuns: 500 },
    );
  });

  it('sorts only the first `length` entries and leaves the rest untouched', () => {
    fc.assert(
      fc.property(arrays, fc.array(finiteDouble, { maxLength: 50 }), (head, tail) => {
        const a = Float64Array.from([...head, ...tail]);
        sortFloat64(a, head.length);
        expectSameBits(a.subarray(0, head.length), Float64Array.from(head).sort());
        expectSameBits(a.subarray(head.length), Float64Array.from(tail));
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('sorts a subarray view (non-zero byteOffset) in place', () => {
    fc.assert(
      fc.property(fc.array(finiteDouble, { minLength: 1, maxLength: 600 }), (values) => {
        const backing = new Float64Array(values.length + 3).fill(42);
        backing.set(values, 3);
        const view = backing.subarray(3);
        sortFloat64(view, view.length);
        expectSameBits(view, Float64Array.from(values).sort());
        expectSameBits(backing.subarray(0, 3), Float64Array.from([42, 42, 42]));
      }),
      { seed: 11, numRuns: 100 },
    );
  });

  it('handles lengths 0 and 1 and leaves the array alone', () => {
    const empty = new Float64Array(0);
    sortFloat64(empty, 0);
    expect(empty.length).toBe(0);
    const one = Float64Array.from([3, 2, 1]);
    sortFloat64(one, 1);
    expect([...one]).toEqual([3, 2, 1]);
    const none = Float64Array.from([3, 2, 1]);
    sortFloat64(none, 0);
    expect([...none]).toEqual([3, 2, 1]);
  });

  // -0 sorts before +0 (the documented contract, and what Float64Array.prototype.sort
  // does), on both sides of the insertion-sort / radix cutoff.
  it.each([2, 10, 47, 48, 49, 256, 1000])('puts -0 before +0 at length %i', (length) => {
    const values = Array.from({ length }, (_, i) => (i % 2 === 0 ? 0 : -0));
    expectSameBits(sortedCopy(values), Float64Array.from(values).sort());
    const reversed = Array.from({ length }, (_, i) => (i < length / 2 ? 0 : -0));
    expectSameBits(sortedCopy(reversed), Float64Array.from(reversed).sort());
  });

  it('puts -0 before +0 in a two-element array', () => {
    const a = Float64Array.from([0, -0]);
    sortFloat64(a, 2);
    expect(Object.is(a[0], -0)).toBe(true);
    expect(Object.is(a[1], 0)).toBe(true);
  });

  it('sorts the extremes of the double range', () => {
    const values = [
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
      MAX_SUBNORMAL,
      -MAX_SUBNORMAL,
      2.2250738585072014e-308,
      0,
      1,
      -1,
    ];
    const many = Array.from({ length: 500 }, (_, i) => values[(i * 7) % values.length]!);
    expectSameBits(sortedCopy(many), Float64Array.from(many).sort());
    expectSameBits(sortedCopy(values), Float64Array.from(values).sort());
  });

  it('grows its scratch space for long arrays and keeps working for short ones after', () => {
    const long = Array.from({ length: 20_000 }, (_, i) => Math.sin(i) * 1e6);
    expectSameBits(sortedCopy(long), Float64Array.from(long).sort());
    const short = Array.from({ length: 100 }, (_, i) => Math.cos(i));
    expectSameBits(sortedCopy(short), Float64Array.from(short).sort());
  });

  it('sorts already sorted and reverse-sorted input', () => {
    const ascending = Array.from({ length: 3000 }, (_, i) => i - 1500);
    expectSameBits(sortedCopy(ascending), Float64Array.from(ascending));
    const descending = [...ascending].reverse();
    expectSameBits(sortedCopy(descending), Float64Array.from(ascending));
  });
});
