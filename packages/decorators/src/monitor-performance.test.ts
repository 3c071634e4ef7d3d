import { ManualClock, Monitor, setGlobalMonitor } from '@prsm/core';
import fc from 'fast-check';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { instrument } from './index.js';
import {
  calls,
  durations,
  errors,
  type Fixtures,
  loadFixtures,
  MODES,
  settle,
  total,
} from './test-support.js';

describe.each(MODES)('@monitorPerformance compiled as %s decorators', (mode) => {
  let fx: Fixtures;
  let clock: ManualClock;
  let monitor: Monitor;

  beforeAll(async () => {
    fx = await loadFixtures(mode);
  });

  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2024, 0, 15));
    monitor = new Monitor({ clock });
    setGlobalMonitor(monitor);
  });

  afterEach(async () => {
    setGlobalMonitor(undefined);
    await monitor.shutdown();
  });

  describe('transparency', () => {
    it('returns the very value and keeps this as the caller bound it', () => {
      const calc = new fx.services.Calculator();
      const value = { some: 'object' };
      expect(calc.echo(value)).toBe(value);
      expect(calc.self()).toBe(calc);
      const other = { factor: 10 };
      expect(calc.receiver.call(other)).toBe(other);
      expect(calc.receiver.call(undefined)).toBe(undefined);
      expect(fx.services.Calculator.prototype.scale.call(other, 1, 2)).toBe(30);
      expect(calc.scale(1, 2)).toBe(6);
      expect(calls(monitor, 'Calculator.receiver')).toBe(2);
    });

    it('throws the same error object, whatever is thrown', () => {
      const calc = new fx.services.Calculator();
      for (const thrown of [
        new Error('x'),
        new fx.services.ValidationError('v'),
        'text',
        42,
        null,
        undefined,
        { plain: true },
      ]) {
        let caught: unknown = Symbol('not thrown');
        try {
          calc.fail(thrown);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBe(thrown);
      }
      expect(calls(monitor, 'Calculator.fail')).toBe(7);
    });

    it('keeps a sync method sync', () => {
      const calc = new fx.services.Calculator();
      const result: unknown = calc.scale(2);
      expect(result).toBe(4);
      expect(calls(monitor, 'Calculator.scale')).toBe(1);
    });

    it('keeps name and length', () => {
      const { Calculator } = fx.services;
      const proto = Calculator.prototype;
      expect([proto.scale.name, proto.scale.length]).toEqual(['scale', 2]);
      expect([proto.takes.name, proto.takes.length]).toEqual(['takes', 2]);
      expect([proto.count.name, proto.count.length]).toEqual(['count', 1]);
      expect([proto.countLater.name, proto.countLater.length]).toEqual(['countLater', 1]);
      expect([proto.echoLater.name, proto.echoLater.length]).toEqual(['echoLater', 1]);
      expect([Calculator.create.name, Calculator.create.length]).toEqual(['create', 1]);
      expect(proto[fx.services.SYMBOLIC].name).toBe('[symbolic]');
      expect(proto.self.length).toBe(0);
    });

    it('agrees with the undecorated behaviour on any value (property)', () => {
      const calc = new fx.services.Calculator();
      fc.assert(
        fc.property(fc.anything(), (value) => {
          expect(calc.echo(value)).toBe(value);
          let caught: unknown = Symbol('not thrown');
          try {
            calc.fail(value);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBe(value);
        }),
        { numRuns: 200 },
      );
      expect(calls(monitor, 'Calculator.echo')).toBe(200);
      expect(durations(monitor, 'Calculator.fail').errors).toBe(200);
    });

    it('agrees on async results and rejections (property)', async () => {
      const calc = new fx.services.Calculator();
      await fc.assert(
        fc.asyncProperty(fc.anything(), async (value) => {
          await expect(calc.echoLater(value)).resolves.toBe(value);
          await expect(calc.failLater(value)).rejects.toBe(value);
        }),
        { numRuns: 50 },
      );
      expect(calls(monitor, 'Calculator.echoLater')).toBe(50);
      expect(calls(monitor, 'Calculator.failLater')).toBe(50);
    });
  });

  describe('async methods and thenables', () => {
    it('resolves and rejects with the same value, timing until settlement', async () => {
      const calc = new fx.services.Calculator();
      const value = { v: 1 };
      const pending = calc.echoLater(value);
      expect(calls(monitor, 'Calculator.echoLater')).toBe(0);
      clock.advance(40);
      await expect(pending).resolves.toBe(value);
      expect(durations(monitor, 'Calculator.echoLater')).toMatchObject({ count: 1, max: 40 });

      const error = new TypeError('late');
      await expect(calc.failLater(error)).rejects.toBe(error);
      expect(errors(monitor, 'Calculator.failLater', 'TypeError')).toBe(1);
    });

    it('returns the very promise the method returned', async () => {
      const calc = new fx.services.Calculator();
      const promise = Promise.resolve('p');
      expect(calc.pass(promise)).toBe(promise);
      await promise;
      await settle(1);
      expect(calls(monitor, 'Calculator.pass')).toBe(1);
    });

    it('returns a custom thenable as the same object, with its own methods, timed until it settles', async () => {
      const calc = new fx.services.Calculator();
      let resolve!: (value: string) => void;
      const query = new fx.services.QueryLike<string>((r) => {
        resolve = r;
      });
      const returned = calc.pass(query);
      expect(returned).toBe(query);
      expect(returned.where('id = 1').where('active')).toBe(query);
      expect(query.clauses).toEqual(['id = 1', 'active']);
      // Not observed by calling `then` (a lazy query would run twice): the decorator
      // waits for the caller's own `then`.
      expect(query.thenCalls).toBe(0);
      const awaited = query.then((rows) => rows); // the caller's then: the query starts now
      expect(query.thenCalls).toBe(1);
      clock.advance(25);
      resolve('rows');
      await expect(awaited).resolves.toBe('rows');
      expect(query.thenCalls).toBe(1); // the caller's, and only it
      expect(Object.prototype.hasOwnProperty.call(query, 'then')).toBe(false); // restored
      await settle(1);
      expect(durations(monitor, 'Calculator.pass')).toMatchObject({ count: 1, max: 25 });
    });

    it('runs a lazy thenable (a query builder) exactly once', async () => {
      let executions = 0;
      const lazy = {
        then(ok: (rows: string[]) => unknown, fail: (e: unknown) => unknown): Promise<unknown> {
          executions++;
          return Promise.resolve(['row']).then(ok, fail);
        },
      };
      const query = instrument(() => lazy, { component: 'fixtures', operation: 'lazy_query' });
      const returned = query();
      expect(returned).toBe(lazy);
      expect(executions).toBe(0);
      await expect(returned).resolves.toEqual(['row']);
      expect(executions).toBe(1);
      expect(calls(monitor, 'lazy_query')).toBe(1);
    });

    it('records a rejected custom thenable as an error', async () => {
      const calc = new fx.services.Calculator();
      const error = new fx.services.ValidationError('bad query');
      const query = new fx.services.QueryLike<string>((_resolve, reject) => reject(error));
      expect(calc.pass(query)).toBe(query);
      await expect(query).rejects.toBe(error);
      await settle(1);
      expect(errors(monitor, 'Calculator.pass', 'ValidationError')).toBe(1);
    });

    it("with thenables: 'promises', leaves other thenables alone (timed to the return)", () => {
      const calc = new fx.services.Calculator();
      const query = new fx.services.QueryLike<string>(() => {});
      expect(calc.passLazy(query)).toBe(query);
      expect(query.thenCalls).toBe(0);
      expect(calls(monitor, 'Calculator.passLazy')).toBe(1);
    });
  });

  describe('generators', () => {
    it('times a generator from the first next() to completion, delegating next/return values', () => {
      const calc = new fx.services.Calculator();
      const iterator = calc.count(3);
      expect(iterator[Symbol.iterator]()).toBe(iterator);
      clock.advance(100); // before the first next(): not timed
      expect(iterator.next()).toEqual({ value: 0, done: false });
      clock.advance(7);
      expect(iterator.next(5)).toEqual({ value: 2, done: false });
      expect(iterator.next(6)).toEqual({ value: 4, done: false });
      expect(calls(monitor, 'Calculator.count')).toBe(0);
      expect(iterator.next()).toEqual({ value: 'sent 11', done: true });
      expect(durations(monitor, 'Calculator.count')).toMatchObject({ count: 1, max: 7 });
      expect(iterator.next()).toEqual({ value: undefined, done: true });
      expect(calls(monitor, 'Calculator.count')).toBe(1);
    });

    it('spreads and iterates with for...of; an early break ends the timing through return()', () => {
      const calc = new fx.services.Calculator();
      expect([...calc.count(3)]).toEqual([0, 2, 4]);
      for (const value of calc.count(10)) {
        if (value >= 2) break;
      }
      expect(calls(monitor, 'Calculator.count')).toBe(2);
      expect(durations(monitor, 'Calculator.count').errors).toBe(0);
    });

    it('records an error thrown by the generator, re-thrown as is, and throw() into it', () => {
      const calc = new fx.services.Calculator();
      const iterator = calc.countThenFail(1);
      expect(iterator.next()).toEqual({ value: 0, done: false });
      expect(() => iterator.next()).toThrow(fx.services.ValidationError);
      expect(errors(monitor, 'Calculator.countThenFail', 'ValidationError')).toBe(1);

      const thrown = new RangeError('into the generator');
      const other = calc.count(5);
      other.next();
      let caught: unknown;
      try {
        other.throw(thrown);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBe(thrown);
      expect(errors(monitor, 'Calculator.count', 'RangeError')).toBe(1);
    });

    it('times async generators, delegating next() promises and Symbol.asyncIterator', async () => {
      const calc = new fx.services.Calculator();
      const iterator = calc.countLater(3);
      expect(iterator[Symbol.asyncIterator]()).toBe(iterator);
      const first = iterator.next();
      expect(first).toBeInstanceOf(Promise);
      await expect(first).resolves.toEqual({ value: 0, done: false });
      clock.advance(12);
      const rest: number[] = [];
      for await (const value of { [Symbol.asyncIterator]: () => iterator }) rest.push(value);
      expect(rest).toEqual([2, 4]);
      await settle(1);
      expect(durations(monitor, 'Calculator.countLater')).toMatchObject({ count: 1, max: 12 });
    });

    it('records an async generator that fails, the rejection reaching the caller', async () => {
      const calc = new fx.services.Calculator();
      const seen: number[] = [];
      await expect(
        (async () => {
          for await (const value of calc.countLaterThenFail(2)) seen.push(value);
        })(),
      ).rejects.toBeInstanceOf(fx.services.ValidationError);
      expect(seen).toEqual([0, 1]);
      await settle(1);
      expect(errors(monitor, 'Calculator.countLaterThenFail', 'ValidationError')).toBe(1);
    });

    it('an async generator closed early by break is recorded once, as a success', async () => {
      const calc = new fx.services.Calculator();
      for await (const value of calc.countLater(10)) {
        if (value >= 2) break;
      }
      await settle(1);
      expect(calls(monitor, 'Calculator.countLater')).toBe(1);
      expect(durations(monitor, 'Calculator.countLater').errors).toBe(0);
    });
  });

  describe('names and members', () => {
    it('instruments static methods under the class name, with this the class', () => {
      const { Calculator } = fx.services;
      expect(Calculator.create(3).factor).toBe(3);
      expect(Calculator.receiver()).toBe(Calculator);
      expect(calls(monitor, 'Calculator.create')).toBe(1);
      expect(calls(monitor, 'Calculator.receiver')).toBe(1);
    });

    it('names symbol methods after their description', () => {
      const calc = new fx.services.Calculator();
      expect(calc[fx.services.SYMBOLIC]()).toBe('symbolic');
      expect(calc[fx.services.NAMELESS]()).toBe('nameless');
      expect(calls(monitor, 'Calculator.symbolic')).toBe(1);
      expect(calls(monitor, 'Calculator.symbol')).toBe(1);
    });

    it('uses the given operation name and fixed tags', () => {
      new fx.services.Calculator().named();
      expect(calls(monitor, 'calculator.named', { tier: 'gold' })).toBe(1);
    });

    it('names an inherited method after the class that declares it', () => {
      const { Derived, Base, Scientific } = fx.services;
      expect(new Derived().inherited()).toBe('inherited');
      expect(new Base().inherited()).toBe('inherited');
      expect(calls(monitor, 'Base.inherited')).toBe(2);
      expect(new Scientific().scale(1)).toBe(3);
      expect(calls(monitor, 'Calculator.scale')).toBe(1);
    });

    it.each([
      ['decorateField', '`name` is a field'],
      ['decorateGetter', '`name` is a getter'],
      ['decorateSetter', '`name` is a setter'],
      ['decorateStaticGetter', '`version` is a getter'],
      ['decorateClass', '`Decorated` is a class'],
    ] as const)('%s: TypeError at class definition naming the member', (fixture, what) => {
      expect(() => fx.misuse[fixture]()).toThrow(TypeError);
      expect(() => fx.misuse[fixture]()).toThrow(
        `@monitorPerformance can only decorate methods; ${what}`,
      );
    });

    it('refuses an accessor (and, under legacy decorators, a parameter)', () => {
      expect(() => fx.only.decorateAccessor()).toThrow(
        '@monitorPerformance can only decorate methods; `name` is an accessor',
      );
      if (mode === 'legacy') {
        expect(() => fx.only.decorateParameter?.()).toThrow(
          '@monitorPerformance can only decorate methods; a parameter of `run` was given',
        );
      }
    });

    it('refuses @monitored on a method', () => {
      expect(() => fx.misuse.monitoredOnMethod()).toThrow(
        '@monitored can only decorate classes (use @monitorPerformance on members); `run` is a method',
      );
    });
  });

  describe('metrics', () => {
    it('records on the monitor resolved at call time', () => {
      const calc = new fx.services.Calculator();
      const second = new Monitor({ clock });
      calc.scale(1);
      setGlobalMonitor(second);
      calc.scale(1);
      calc.scale(1);
      setGlobalMonitor(undefined); // the no-op monitor: nothing recorded anywhere
      expect(calc.scale(1)).toBe(2);
      setGlobalMonitor(monitor);
      calc.scale(1);
      expect(calls(monitor, 'Calculator.scale')).toBe(2);
      expect(calls(second, 'Calculator.scale')).toBe(2);
      void second.shutdown();
    });

    it('counts errors by error.type, in the timer error rate too', async () => {
      const calc = new fx.services.Calculator();
      const thrown: unknown[] = [
        new fx.services.ValidationError('v'),
        new TypeError('t'),
        'text',
        7,
        null,
        undefined,
        { plain: true },
        Object.create(null),
        Symbol('s'),
      ];
      for (const value of thrown) expect(() => calc.fail(value)).toThrow();
      await expect(calc.failLater(new RangeError('r'))).rejects.toThrow('r');
      calc.echo(1);
      const expected: [string, string][] = [
        ['Calculator.fail', 'ValidationError'],
        ['Calculator.fail', 'TypeError'],
        ['Calculator.fail', 'string'],
        ['Calculator.fail', 'number'],
        ['Calculator.fail', 'null'],
        ['Calculator.fail', 'undefined'],
        ['Calculator.fail', 'Object'],
        ['Calculator.fail', 'object'],
        ['Calculator.fail', 'symbol'],
        ['Calculator.failLater', 'RangeError'],
      ];
      for (const [operation, type] of expected) expect(errors(monitor, operation, type)).toBe(1);
      expect(durations(monitor, 'Calculator.fail')).toMatchObject({ count: 9, errors: 9 });
      expect(durations(monitor, 'Calculator.echo').errors).toBe(0);
    });

    it('counts calls over slowThresholdMs in operation.slow (clock-driven durations)', async () => {
      const calc = new fx.services.Calculator();
      calc.takes(clock, 5);
      calc.takes(clock, 10); // at the threshold: not slow
      expect(total(monitor, 'operation.slow', { operation: 'Calculator.takes' })).toBe(0);
      calc.takes(clock, 50);
      expect(total(monitor, 'operation.slow', { operation: 'Calculator.takes' })).toBe(1);
      expect(durations(monitor, 'Calculator.takes')).toMatchObject({ count: 3, max: 50, sum: 65 });
      await calc.takesLater(clock, 11);
      await settle(1);
      expect(total(monitor, 'operation.slow', { operation: 'Calculator.takesLater' })).toBe(1);
    });

    it('creates no operation.slow series without a threshold', () => {
      new fx.services.Calculator().scale(1);
      expect(
        monitor
          .snapshot()
          .series.filter(
            (s) => s.name === 'operation.slow' && s.tags.operation === 'Calculator.scale',
          ),
      ).toEqual([]);
    });
  });
});
