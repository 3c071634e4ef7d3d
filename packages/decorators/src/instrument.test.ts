import { readFileSync } from 'node:fs';
import { ManualClock, Monitor, NoopMonitor, setGlobalMonitor } from '@prsm/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instrument, monitorPerformance, VERSION } from './index.js';
import { calls, durations, errors, settle } from './test-support.js';

describe('instrument()', () => {
  let clock: ManualClock;
  let monitor: Monitor;

  beforeEach(() => {
    clock = new ManualClock(0);
    monitor = new Monitor({ clock });
    setGlobalMonitor(monitor);
  });

  afterEach(async () => {
    setGlobalMonitor(undefined);
    await monitor.shutdown();
  });

  it('wraps a sync function, keeping name, length, this, values and errors', () => {
    function add(this: unknown, a: number, b: number): number {
      if (a < 0) throw new RangeError('negative');
      return a + b;
    }
    const wrapped = instrument(add, { component: 'fixtures' });
    expect([wrapped.name, wrapped.length]).toEqual(['add', 2]);
    expect(wrapped(1, 2)).toBe(3);
    expect(() => wrapped(-1, 2)).toThrow(RangeError);
    const receiver = instrument(
      function (this: unknown) {
        return this;
      },
      { component: 'fixtures', operation: 'receiver' },
    );
    const self = {};
    expect(receiver.call(self)).toBe(self);
    expect(calls(monitor, 'add')).toBe(2);
    expect(errors(monitor, 'add', 'RangeError')).toBe(1);
    expect(calls(monitor, 'receiver')).toBe(1);
  });

  it('times an async function until it settles', async () => {
    const wait = instrument(
      async (ms: number): Promise<number> => {
        await settle(1);
        clock.advance(ms);
        return ms;
      },
      { component: 'fixtures', operation: 'wait' },
    );
    await expect(wait(30)).resolves.toBe(30);
    expect(durations(monitor, 'wait')).toMatchObject({ count: 1, max: 30 });
  });

  it('wraps generator and async generator functions', async () => {
    const numbers = instrument(
      function* numbers(n: number) {
        for (let i = 0; i < n; i++) yield i;
      },
      { component: 'fixtures' },
    );
    const later = instrument(
      async function* later(n: number) {
        for (let i = 0; i < n; i++) yield await Promise.resolve(i);
      },
      { component: 'fixtures' },
    );
    expect([...numbers(3)]).toEqual([0, 1, 2]);
    const seen: number[] = [];
    for await (const v of later(2)) seen.push(v);
    expect(seen).toEqual([0, 1]);
    await settle(1);
    expect(calls(monitor, 'numbers')).toBe(1);
    expect(calls(monitor, 'later')).toBe(1);
  });

  it("names an anonymous function's operation 'anonymous'", () => {
    instrument(() => 1, { component: 'fixtures' })();
    expect(calls(monitor, 'anonymous')).toBe(1);
  });

  it('records on options.monitor whatever the global monitor is', () => {
    const own = new Monitor();
    const fn = instrument((x: number) => x, {
      component: 'fixtures',
      operation: 'own',
      monitor: own,
    });
    fn(1);
    setGlobalMonitor(undefined);
    fn(2);
    expect(calls(own, 'own')).toBe(2);
    expect(calls(monitor, 'own')).toBe(0);
    void own.shutdown();
  });

  it('with a disabled monitor, calls the original and nothing else', () => {
    const fn = instrument((x: number) => x * 2, {
      component: 'fixtures',
      monitor: new NoopMonitor(),
    });
    expect(fn(21)).toBe(42);
  });

  it('agrees with the original function on outputs and thrown values (property)', () => {
    fc.assert(
      fc.property(
        fc.func(fc.anything()),
        fc.array(fc.anything(), { maxLength: 4 }),
        fc.boolean(),
        (pure, args, throws) => {
          const original = (...xs: unknown[]): unknown => {
            const out = pure(...xs);
            if (throws) throw out;
            return out;
          };
          const wrapped = instrument(original, { component: 'fixtures', operation: 'property' });
          let expected: unknown;
          let expectedThrew = false;
          try {
            expected = original(...args);
          } catch (error) {
            expected = error;
            expectedThrew = true;
          }
          let actual: unknown;
          let actualThrew = false;
          try {
            actual = wrapped(...args);
          } catch (error) {
            actual = error;
            actualThrew = true;
          }
          expect(actualThrew).toBe(expectedThrew);
          expect(actual).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
    expect(calls(monitor, 'property')).toBe(300);
  });

  it('checks its arguments and options', () => {
    const fn = (): number => 1;
    const bad = (options: object): unknown =>
      instrument(fn, options as Parameters<typeof instrument>[1]);
    expect(() => instrument(1 as unknown as () => void, { component: 'c' })).toThrow(
      'instrument() needs a function',
    );
    expect(() => instrument(class {} as unknown as () => void, { component: 'c' })).toThrow(
      'instrument() wraps functions, not classes',
    );
    expect(() => instrument(fn, null as unknown as { component: string })).toThrow(TypeError);
    expect(() => bad({})).toThrow('instrument(): component must be a non-empty string');
    expect(() => bad({ component: 'c', operation: '' })).toThrow('operation must be');
    expect(() => bad({ component: 'c', tags: { a: 1 } })).toThrow('tags.a must be a string');
    expect(() => bad({ component: 'c', tags: { operation: 'x' } })).toThrow(
      'tags.operation is set by the decorator',
    );
    expect(() => bad({ component: 'c', slowThresholdMs: -1 })).toThrow('slowThresholdMs');
    expect(() => bad({ component: 'c', slowThresholdMs: Infinity })).toThrow('slowThresholdMs');
    expect(() => bad({ component: 'c', attributes: 'x' })).toThrow('attributes must be a function');
    expect(() => bad({ component: 'c', trace: 'no' })).toThrow('trace must be a boolean');
    expect(() => bad({ component: 'c', monitor: {} })).toThrow('monitor must be a Monitor');
    expect(() => bad({ component: 'c', thenables: 'some' })).toThrow("thenables must be 'all'");
    expect(() => bad({ component: 'c', exclude: [] })).toThrow('unknown option exclude');
  });
});

describe('monitorPerformance() arguments', () => {
  it('are checked when the decorator is built', () => {
    expect(() => monitorPerformance('')).toThrow('@monitorPerformance: component must be');
    expect(() => monitorPerformance('c', 'op', { slowThresholdMs: NaN })).toThrow(
      'slowThresholdMs',
    );
    const loose = monitorPerformance as (...args: unknown[]) => unknown;
    expect(() => loose('c', { trace: false }, {})).toThrow(
      'operation must be a string when options follow it',
    );
    expect(() => monitorPerformance('c', { exclude: [] } as object)).toThrow(
      'unknown option exclude',
    );
  });

  it('refuses a call that is no decorator call', () => {
    const decorate = monitorPerformance('c') as unknown as (...args: unknown[]) => unknown;
    expect(() => decorate()).toThrow('@monitorPerformance can only decorate methods');
    expect(() => decorate({}, 'm', { value: 1 })).toThrow('`m` is not a method');
  });
});

describe('VERSION', () => {
  it("is package.json's version", () => {
    const manifest = JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(VERSION).toBe(manifest.version);
  });
});
