import { describe, expect, it } from 'vitest';

import { counterIncrease } from './counter-order.js';

describe('counterIncrease', () => {
  const last = { total: 120, at: 2_000 };

  it('counts the first report whole and a higher total as the difference', () => {
    expect(counterIncrease(undefined, 7, 1_000)).toEqual({ increase: 7, store: true });
    expect(counterIncrease(last, 150, 3_000)).toEqual({ increase: 30, store: true });
    expect(counterIncrease(last, 120, 3_000)).toEqual({ increase: 0, store: true });
  });

  it('a lower total reported earlier is a late report: nothing added, the stored total kept', () => {
    expect(counterIncrease(last, 100, 1_000)).toEqual({ increase: 0, store: false });
    expect(counterIncrease(last, 120, 1_000)).toEqual({ increase: 0, store: false });
  });

  it('a lower total reported later (or without a time) is a restart, counted from zero', () => {
    expect(counterIncrease(last, 5, 3_000)).toEqual({ increase: 5, store: true });
    expect(counterIncrease(last, 5, 2_000)).toEqual({ increase: 5, store: true });
    expect(counterIncrease(last, 5, Number.NaN)).toEqual({ increase: 5, store: true });
  });
});
