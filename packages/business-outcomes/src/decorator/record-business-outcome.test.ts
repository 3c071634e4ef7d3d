import { DiagnosticCode, ManualClock, Monitor } from '@prsm/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BusinessOutcomes, recordBusinessOutcome, setGlobalBusinessOutcomes } from '../index.js';
import { compileFixtures, loadShop, MODES } from '../test-support.js';

const START = Date.UTC(2024, 0, 15, 14, 30);

function setup(): { outcomes: BusinessOutcomes; monitor: Monitor; clock: ManualClock } {
  const clock = new ManualClock(START);
  const monitor = new Monitor({ clock });
  const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 0 });
  return { outcomes, monitor, clock };
}

function counted(monitor: Monitor, outcome: string): number {
  return (
    monitor.getRates('business.outcome.count', {
      component: 'business',
      tags: { outcome },
      windowSeconds: 'cumulative',
    })?.count ?? 0
  );
}

beforeAll(() => {
  compileFixtures();
}, 60_000);

afterEach(() => {
  setGlobalBusinessOutcomes(undefined);
});

describe.each(MODES)('@recordBusinessOutcome compiled by tsc (%s decorators)', (mode) => {
  it('returns the same value with the same this, and counts each success', async () => {
    const { Shop } = await loadShop(mode);
    const { outcomes, monitor } = setup();
    setGlobalBusinessOutcomes(outcomes);
    const shop = new Shop();
    expect(shop.scale(1, 2)).toBe(6);
    expect(shop.self()).toBe(shop);
    const other = { factor: 10 };
    expect(shop.receiver.call(other)).toBe(other);
    expect(Shop.create()).toBe('static');
    expect(counted(monitor, 'sync_outcome')).toBe(1);
    expect(counted(monitor, 'self_outcome')).toBe(1);
    expect(counted(monitor, 'receiver_outcome')).toBe(1);
    expect(counted(monitor, 'static_outcome')).toBe(1);
    expect(outcomes.kpi('sync_outcome')?.current).toBe(1);
  });

  it('keeps name and length', async () => {
    const { Shop } = await loadShop(mode);
    const method = (key: string): { name: string; length: number } =>
      Object.getOwnPropertyDescriptor(Shop.prototype, key)?.value as {
        name: string;
        length: number;
      };
    expect([method('scale').name, method('scale').length]).toEqual(['scale', 2]);
    expect([method('later').name, method('later').length]).toEqual(['later', 2]);
    expect(Object.hasOwn(method('scale'), 'prototype')).toBe(false);
  });

  it('rethrows the same error object and counts nothing', async () => {
    const { Shop, ValidationError } = await loadShop(mode);
    const { outcomes, monitor } = setup();
    setGlobalBusinessOutcomes(outcomes);
    const shop = new Shop();
    const error = new ValidationError('bad');
    let caught: unknown;
    try {
      shop.fail(error);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(error);
    const thrown = 'a string';
    expect(() => shop.fail(thrown)).toThrow(thrown);
    expect(counted(monitor, 'failing_outcome')).toBe(0);
    expect(outcomes.kpi('failing_outcome')?.current ?? 0).toBe(0);
  });

  it('returns the very promise, counts only after it resolves, never on rejection', async () => {
    const { Shop, ValidationError } = await loadShop(mode);
    const { outcomes, monitor } = setup();
    setGlobalBusinessOutcomes(outcomes);
    const shop = new Shop();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const pending = shop.later(21, gate);
    expect(pending).toBeInstanceOf(Promise);
    await new Promise((resolve) => setImmediate(resolve));
    expect(counted(monitor, 'async_outcome')).toBe(0);
    open();
    expect(await pending).toBe(42);
    await new Promise((resolve) => setImmediate(resolve));
    expect(counted(monitor, 'async_outcome')).toBe(1);

    const error = new ValidationError('no');
    await expect(shop.reject(error)).rejects.toBe(error);
    await new Promise((resolve) => setImmediate(resolve));
    expect(counted(monitor, 'rejecting_outcome')).toBe(0);
  });

  it('counts per every dimension given', async () => {
    const { Shop } = await loadShop(mode);
    const { outcomes, clock } = setup();
    setGlobalBusinessOutcomes(outcomes);
    const shop = new Shop();
    await shop.later(1);
    clock.advance(3_600_000); // next hour, same day
    await shop.later(1);
    await new Promise((resolve) => setImmediate(resolve));
    const kpi = outcomes.kpi('async_outcome');
    expect(kpi?.dimension).toBe('hourly');
    expect(kpi?.current).toBe(1);
    expect(kpi?.history).toEqual([{ period: '2024-01-15T14:00+00:00', value: 1 }]);
  });

  it('adds value() for results when() accepts', async () => {
    const { Shop } = await loadShop(mode);
    const { outcomes, monitor } = setup();
    setGlobalBusinessOutcomes(outcomes);
    const shop = new Shop();
    expect(shop.checkout(40, 'paid')).toEqual({ total: 40, status: 'paid' });
    shop.checkout(1000, 'pending');
    shop.checkout(9.5, 'paid');
    expect(outcomes.kpi('purchase_revenue')?.current).toBe(49.5);
    expect(counted(monitor, 'purchase_revenue')).toBe(2);
    const stats = monitor.getStats('business.outcome.value', {
      component: 'business',
      tags: { outcome: 'purchase_revenue' },
      windowSeconds: 'cumulative',
    });
    expect(stats?.sum).toBe(49.5);
  });

  it('keeps opt-in metadata', async () => {
    const { Shop } = await loadShop(mode);
    const { outcomes } = setup();
    setGlobalBusinessOutcomes(outcomes);
    await new Shop().tagged(3);
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcomes.kpi('tagged_outcome')?.metadata).toEqual({ status: 'paid', args: 1 });
  });

  it('reports a throwing or non-numeric hook to diagnostics and returns the result', async () => {
    const { Shop } = await loadShop(mode);
    const { outcomes, monitor } = setup();
    setGlobalBusinessOutcomes(outcomes);
    const shop = new Shop();
    expect(shop.hooked()).toBe('kept');
    expect(shop.nanValue()).toBe('nan');
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(1);
    expect(counted(monitor, 'bad_hook')).toBe(0);
    expect(counted(monitor, 'nan_value')).toBe(0);
  });

  it('records nothing, and still works, without a BusinessOutcomes', async () => {
    const { Shop } = await loadShop(mode);
    const shop = new Shop();
    expect(shop.scale(2)).toBe(4);
    expect(await shop.later(2)).toBe(4);
  });

  it('records into the outcomes option rather than the global one', async () => {
    const { boundShop } = await loadShop(mode);
    const bound = setup();
    const global = setup();
    setGlobalBusinessOutcomes(global.outcomes);
    expect(boundShop(bound.outcomes).run(1)).toBe(2);
    expect(counted(bound.monitor, 'bound_outcome')).toBe(1);
    expect(counted(global.monitor, 'bound_outcome')).toBe(0);
  });

  it('throws a TypeError at class definition for a field', async () => {
    const { decorateField } = await loadShop(mode);
    expect(() => decorateField()).toThrow(TypeError);
    expect(() => decorateField()).toThrow(/can only decorate methods; `field` is a field/);
  });
});

describe('@recordBusinessOutcome options', () => {
  it('throws a TypeError naming a bad option', () => {
    expect(() => recordBusinessOutcome('')).toThrow(/name must be/);
    expect(() => recordBusinessOutcome('x', { dimension: 'yearly' as never })).toThrow(
      /dimension must be/,
    );
    expect(() => recordBusinessOutcome('x', { value: 3 as never })).toThrow(
      /value must be a function/,
    );
    expect(() => recordBusinessOutcome('x', { when: 'yes' as never })).toThrow(/when must be/);
    expect(() => recordBusinessOutcome('x', { nope: 1 } as never)).toThrow(/unknown option nope/);
    expect(() => recordBusinessOutcome('x', { outcomes: {} as never })).toThrow(/outcomes must be/);
  });
});
