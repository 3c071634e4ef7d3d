import { afterEach, describe, expect, it } from 'vitest';

import { parseCondition } from '../alerting/condition/condition.js';
import type { SignalSource } from '../alerting/condition/signal-source.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { Monitor } from '../monitor.js';
import { DatabaseMonitor, OTHER_STATEMENT, pgPoolStats, type PgPoolLike } from './database.js';
import { healthMonitor, ruleState, T0 } from './test-support.js';

const monitors: Monitor[] = [];
function setup(options: ConstructorParameters<typeof DatabaseMonitor>[1] = {}) {
  const h = healthMonitor();
  monitors.push(h.monitor);
  return { ...h, db: new DatabaseMonitor(h.context, options) };
}
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

describe('DatabaseMonitor.track', () => {
  it('times each statement on the monitor clock, with percentiles per statement', async () => {
    const { db, clock, monitor } = setup();
    for (let ms = 1; ms <= 100; ms++) {
      await db.track('get_user', () => {
        clock.advance(ms);
        return Promise.resolve(ms);
      });
    }
    for (let i = 0; i < 20; i++) {
      await db.track('list_orders', () => {
        clock.advance(400);
        return Promise.resolve([]);
      });
    }
    const q = { component: 'database', windowSeconds: 'cumulative' as const };
    const [p50, p99] = monitor.getPercentiles('db.query', [0.5, 0.99], {
      ...q,
      tags: { statement: 'get_user' },
    });
    expect(p50).toBeCloseTo(50.5, 0);
    expect(p99).toBeGreaterThanOrEqual(98);
    expect(p99).toBeLessThanOrEqual(100);
    expect(
      monitor.getPercentiles('db.query', [0.5, 0.99], { ...q, tags: { statement: 'list_orders' } }),
    ).toEqual([400, 400]);
    expect(db.statements()).toEqual(['get_user', 'list_orders']);
  });

  it('returns the same value, rejects with the same error, and counts errors per statement', async () => {
    const { db, monitor } = setup();
    const value = { rows: [1] };
    const boom = new Error('connection reset');
    for (let i = 0; i < 10; i++) {
      if (i < 3) {
        await expect(db.track('upsert', () => Promise.reject(boom))).rejects.toBe(boom);
      } else {
        await expect(db.track('upsert', () => Promise.resolve(value))).resolves.toBe(value);
      }
    }
    expect(
      monitor.getRates('db.query', { component: 'database', tags: { statement: 'upsert' } }),
    ).toMatchObject({ count: 10, errors: 3, errorRate: 0.3 });
    // The component's built-in error rate reads it too.
    expect(ruleState(monitor, 'error_rate > 25%', 'database')).toMatchObject({
      state: 'firing',
      value: 0.3,
    });
  });

  it('re-throws a synchronous throw as is, synchronously, and records it as an error', () => {
    const { db, monitor } = setup();
    const boom = new TypeError('bad sql');
    let caught: unknown;
    try {
      void db.track('bad', () => {
        throw boom;
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBe(boom);
    expect(
      monitor.getRates('db.query', { component: 'database', tags: { statement: 'bad' } }),
    ).toMatchObject({ count: 1, errors: 1 });
  });

  it('accepts any thenable (query builders)', async () => {
    const { db } = setup();
    const thenable: PromiseLike<number> = {
      then: (ok, _fail) => Promise.resolve(7).then(ok),
    };
    await expect(db.track('builder', () => thenable)).resolves.toBe(7);
  });
});

describe('the slow-query log', () => {
  it('keeps the slowest-enough queries by statement name, bounded, and never their parameters', async () => {
    const { db, clock, monitor } = setup({ slowQueryMs: 100, slowQueryLogSize: 3 });
    const email = 'ana@example.com';
    const query = (sql: string, params: unknown[]) => Promise.resolve({ sql, params });
    await db.track('fast', () => {
      clock.advance(99);
      return query('select 1 where x = $1', [email]);
    });
    for (let i = 0; i < 5; i++) {
      await db
        .track(`slow_${i}`, () => {
          clock.advance(100 + i);
          return i === 4 ? Promise.reject(new Error(email)) : query('select $1', [email]);
        })
        .catch(() => {});
    }
    const log = db.slowQueries();
    expect(log).toEqual([
      { statement: 'slow_2', durationMs: 102, at: T0 + 99 + 100 + 101 + 102, error: false },
      { statement: 'slow_3', durationMs: 103, at: T0 + 99 + 100 + 101 + 102 + 103, error: false },
      {
        statement: 'slow_4',
        durationMs: 104,
        at: T0 + 99 + 100 + 101 + 102 + 103 + 104,
        error: true,
      },
    ]);
    expect(db.slowQueriesDropped()).toBe(2);
    expect(JSON.stringify(log)).not.toContain(email);
    expect(JSON.stringify(log)).not.toContain('select');
    expect(JSON.stringify(monitor.snapshot({ digests: false }))).not.toContain(email);
    expect(
      monitor.getRates('db.slow_queries', { component: 'database', tags: { statement: 'slow_4' } })
        ?.count,
    ).toBe(1);
    expect(
      monitor.getRates('db.slow_queries', { component: 'database', tags: { statement: 'fast' } })
        ?.count,
    ).toBe(0);
  });
});

describe('the per-statement cap', () => {
  it('records names past maxStatements, and invalid names, as (other), reported', async () => {
    const { db, monitor } = setup({ maxStatements: 2 });
    await db.track('a', () => Promise.resolve(1));
    await db.track('b', () => Promise.resolve(1));
    await db.track('c', () => Promise.resolve(1));
    await db.track('d', () => Promise.resolve(1));
    await db.track('', () => Promise.resolve(1));
    await db.track(42 as unknown as string, () => Promise.resolve(1));
    expect(db.statements()).toEqual(['a', 'b']);
    expect(monitor.diagnostics.count(DiagnosticCode.SERIES_OVERFLOW)).toBe(2);
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_NAME)).toBe(2);
    expect(
      monitor.getRates('db.query', { component: 'database', tags: { statement: OTHER_STATEMENT } })
        ?.count,
    ).toBe(4);
    expect(monitor.getRates('db.query', { component: 'database', tags: { statement: 'c' } })).toBe(
      undefined,
    );
  });

  it('validates its options like a constructor', () => {
    const { context } = setup();
    expect(() => new DatabaseMonitor(context, { slowQueryMs: -1 })).toThrow(/slowQueryMs/);
    expect(() => new DatabaseMonitor(context, { slowQueryLogSize: 0 })).toThrow(/slowQueryLogSize/);
    expect(() => new DatabaseMonitor(context, { maxStatements: 1.5 })).toThrow(/maxStatements/);
    expect(() => new DatabaseMonitor(context, { component: '' })).toThrow(/component/);
  });
});

describe('connection pool gauges', () => {
  function fakePgPool(total: number, idle: number, waiting: number, max?: number) {
    return {
      totalCount: total,
      idleCount: idle,
      waitingCount: waiting,
      ...(max !== undefined && { options: { max } }),
    } satisfies PgPoolLike;
  }

  it("a pg Pool's counts drive the spec's db_connections > 0.80 * max_connections alert", () => {
    const { db, monitor } = setup();
    const pool = fakePgPool(6, 2, 0, 10);
    db.observePool('primary', pool);
    const condition = 'db_connections > 0.80 * max_connections';
    const rule = monitor.alerts.create({
      name: 'Database Connection Pool Warning',
      severity: 'medium',
      component: 'database',
      condition,
    });
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)).toMatchObject({ state: 'inactive' });

    pool.totalCount = 9;
    pool.idleCount = 0;
    pool.waitingCount = 4;
    db.samplePools();
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)).toMatchObject({ state: 'firing' });
    expect(monitor.alerts.active()[0]).toMatchObject({
      name: 'Database Connection Pool Warning',
      component: 'database',
      severity: 'medium',
    });
    expect(ruleState(monitor, 'db_connections_waiting >= 4', 'database').state).toBe('firing');
    expect(ruleState(monitor, 'db_connections_active == 9', 'database').state).toBe('firing');

    pool.totalCount = 8; // exactly 80%: not over
    db.samplePools();
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)).toMatchObject({ state: 'inactive' });
  });

  it('the condition parsed on its own reads the gauges the same way', () => {
    const { db, monitor } = setup();
    db.observePool('p', () => ({ total: 17, idle: 1, waiting: 0, max: 20 }));
    const read = (name: string): number | undefined => {
      const s = monitor
        .snapshot({ digests: false })
        .series.find((x) => x.name === name && x.component === 'database');
      return s?.type === 'gauge' ? s.value : undefined;
    };
    const source: SignalSource = {
      signal: (name) => read(name),
      quantile: () => undefined,
      aggregate: () => undefined,
    };
    const result = parseCondition('db_connections > 0.80 * max_connections').evaluate(
      source,
      'database',
      60,
    );
    expect(result).toMatchObject({ state: 'true', value: 17 });
  });

  it("sums pools of the component, and reads pg's default max of 10", () => {
    const { db, monitor } = setup();
    db.observePool('a', fakePgPool(5, 0, 0));
    const stopB = db.observePool('b', pgPoolStats(fakePgPool(4, 0, 0, 10)));
    expect(ruleState(monitor, 'max_connections == 20', 'database').state).toBe('firing');
    expect(ruleState(monitor, 'db_connections > 0.80 * max_connections', 'database')).toMatchObject(
      { state: 'inactive', result: 'false' },
    );
    stopB();
    expect(() => db.samplePools()).not.toThrow();
  });

  it('a failing or bad reader is reported and its gauges keep their last value', () => {
    const { db, monitor } = setup();
    let mode: 'ok' | 'throw' | 'nan' = 'ok';
    db.observePool('flaky', () => {
      if (mode === 'throw') throw new Error('pool gone');
      return mode === 'nan'
        ? { total: NaN, idle: 0, waiting: 0, max: 10 }
        : { total: 3, idle: 1, waiting: 0, max: 10 };
    });
    mode = 'throw';
    expect(() => db.samplePools()).not.toThrow();
    mode = 'nan';
    db.samplePools();
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(1);
    expect(ruleState(monitor, 'db_connections == 3', 'database').state).toBe('firing');
  });

  it('refuses what is neither a pg Pool nor a function, and caps the pools', () => {
    const { context, monitor } = setup();
    const db = new DatabaseMonitor(context, { maxPools: 1 });
    expect(() => db.observePool('x', {} as never)).toThrow(/pg Pool/);
    expect(() => db.observePool('', () => ({ total: 0, idle: 0, waiting: 0, max: 1 }))).toThrow(
      TypeError,
    );
    expect(() => pgPoolStats({ totalCount: '1' } as never)).toThrow(TypeError);
    db.observePool('one', () => ({ total: 0, idle: 0, waiting: 0, max: 1 }));
    db.observePool('two', () => ({ total: 0, idle: 0, waiting: 0, max: 1 }));
    expect(monitor.diagnostics.count(DiagnosticCode.SERIES_OVERFLOW)).toBe(1);
  });
});
