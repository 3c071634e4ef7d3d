/**
 * Database performance: the time, outcome and slowness of each named statement, and
 * connection pool gauges. Only a statement's name is ever recorded: `track` never
 * sees the query's text or parameters, so nothing personal reaches a metric or the
 * slow-query log.
 */
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import type { BoundGauge } from '../metrics/gauge-series.js';
import type { BoundTimer } from '../metrics/instruments.js';
import { isValidName } from '../metrics/types.js';
import { type HealthContext, messageOf } from './types.js';

/**
 * One entry of the slow-query log: the statement's name, never its text or parameters.
 *
 * @example
 * ```ts
 * for (const q of monitor.database.slowQueries()) console.log(q.statement, q.durationMs);
 * ```
 */
export interface SlowQuery {
  /** The name given to `track`. */
  readonly statement: string;
  /** How long it took, in milliseconds. */
  readonly durationMs: number;
  /** When it ended (ms since the epoch). */
  readonly at: number;
  /** Whether it failed. */
  readonly error: boolean;
}

/**
 * A connection pool's counts, read on every pool sample.
 *
 * @example
 * ```ts
 * const stats: PoolStats = { total: 8, idle: 3, waiting: 0, max: 20 };
 * ```
 */
export interface PoolStats {
  /** Connections open (busy and idle): the `db_connections` gauge. */
  readonly total: number;
  /** Connections open and idle. */
  readonly idle: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
  /** The pool's limit: the `max_connections` gauge. */
  readonly max: number;
}

/**
 * What the `pg` adapter reads of a `pg.Pool` (duck-typed, `pg` is not a dependency):
 * `totalCount`, `idleCount`, `waitingCount` and `options.max` (pg's default 10).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * const pool: PgPoolLike = new pg.Pool({ max: 20 });
 * ```
 */
export interface PgPoolLike {
  /** Clients open, busy or idle. */
  readonly totalCount: number;
  /** Clients open and idle. */
  readonly idleCount: number;
  /** Callers queued for a client. */
  readonly waitingCount: number;
  /** The pool's options; `max` is its size limit (pg's default 10). */
  readonly options?: PgPoolOptionsLike;
}

/**
 * What the `pg` adapter reads of a pool's options.
 *
 * @example
 * ```ts
 * const options: PgPoolOptionsLike = { max: 20 };
 * ```
 */
export interface PgPoolOptionsLike {
  /** The most clients the pool opens. */
  readonly max?: number;
}

/**
 * Options of a {@link DatabaseMonitor}.
 *
 * @example
 * ```ts
 * const options: DatabaseMonitorOptions = { slowQueryMs: 250, slowQueryLogSize: 50, maxStatements: 100 };
 * ```
 */
export interface DatabaseMonitorOptions {
  /** The component its metrics are recorded under. Default `'database'`. */
  readonly component?: string;
  /** A statement taking at least this many milliseconds is logged as slow. Default 500. */
  readonly slowQueryMs?: number;
  /** Slow queries kept, the oldest dropped first. Default 100. */
  readonly slowQueryLogSize?: number;
  /**
   * Distinct statement names kept as their own series; further names are recorded
   * under the statement `(other)` and reported. Default 200.
   */
  readonly maxStatements?: number;
  /** Pools observed at most. Default 32. */
  readonly maxPools?: number;
}

/**
 * The statement tag of names past `maxStatements` (and of invalid ones).
 *
 * @example
 * ```ts
 * monitor.getRates('db.query', { component: 'database', tags: { statement: OTHER_STATEMENT } });
 * ```
 */
export const OTHER_STATEMENT = '(other)';

/** pg's default `max`. */
const PG_DEFAULT_MAX = 10;

interface StatementHandles {
  readonly timer: BoundTimer;
  readonly slow: BoundCounter;
}

interface PoolRecord {
  readonly read: () => PoolStats;
  readonly total: BoundGauge;
  readonly max: BoundGauge;
  readonly idle: BoundGauge;
  readonly waiting: BoundGauge;
  readonly active: BoundGauge;
}

/**
 * The `pg` adapter: a pool stats reader over a `pg.Pool`, for
 * {@link DatabaseMonitor.observePool} (which also takes the pool itself).
 *
 * @example
 * ```ts
 * monitor.database.observePool('primary', pgPoolStats(pool));
 * ```
 */
export function pgPoolStats(pool: PgPoolLike): () => PoolStats {
  if (!isPgPool(pool)) {
    throw new TypeError('pgPoolStats needs a pg Pool (totalCount, idleCount, waitingCount)');
  }
  return () => ({
    total: pool.totalCount,
    idle: pool.idleCount,
    waiting: pool.waitingCount,
    max: pool.options?.max ?? PG_DEFAULT_MAX,
  });
}

function isPgPool(value: unknown): value is PgPoolLike {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['totalCount'] === 'number' &&
    typeof v['idleCount'] === 'number' &&
    typeof v['waitingCount'] === 'number'
  );
}

/**
 * Database performance: `monitor.database`. Records, under the component `database`:
 *
 * - `db.query`: a timer per statement name (tag `statement`), failures as errors, so
 *   `monitor.getPercentiles('db.query', [0.5, 0.99], { component: 'database', tags: { statement } })`
 *   and the `error_rate` of the component work;
 * - `db.slow_queries`: a counter per statement of queries at or over `slowQueryMs`;
 * - per observed pool (tag `pool`): `db_connections` (open), `max_connections`,
 *   `db_connections_idle`, `db_connections_active`, `db_connections_waiting`, so the
 *   spec's `db_connections > 0.80 * max_connections` works (summed over pools).
 *
 * @example
 * ```ts
 * const user = await monitor.database.track('get_user_by_id', () =>
 *   pool.query('select * from users where id = $1', [id]),
 * );
 * monitor.database.observePool('primary', pool);
 * ```
 */
export class DatabaseMonitor {
  readonly #context: HealthContext;
  readonly #component: string;
  readonly #slowQueryMs: number;
  readonly #slowLogSize: number;
  readonly #maxStatements: number;
  readonly #maxPools: number;
  readonly #statements = new Map<string, StatementHandles>();
  #other: StatementHandles | undefined;
  /** A ring: `#slowStart` is the oldest entry once full. */
  readonly #slow: SlowQuery[] = [];
  #slowStart = 0;
  #slowDropped = 0;
  readonly #pools = new Map<string, PoolRecord>();

  constructor(context: HealthContext, options: DatabaseMonitorOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('database options must be an object');
    }
    const component = options.component ?? 'database';
    if (!isValidName(component)) {
      throw new TypeError(
        'database.component must be a non-empty string of at most 255 characters',
      );
    }
    const slowQueryMs = options.slowQueryMs ?? 500;
    if (typeof slowQueryMs !== 'number' || !(slowQueryMs >= 0)) {
      throw new TypeError(`database.slowQueryMs must be a number >= 0, got ${String(slowQueryMs)}`);
    }
    this.#slowLogSize = positiveInteger(options.slowQueryLogSize, 100, 'database.slowQueryLogSize');
    this.#maxStatements = positiveInteger(options.maxStatements, 200, 'database.maxStatements');
    this.#maxPools = positiveInteger(options.maxPools, 32, 'database.maxPools');
    this.#context = context;
    this.#component = component;
    this.#slowQueryMs = slowQueryMs;
  }

  /**
   * Runs `fn` (a query returning a promise) and records its duration and outcome under
   * `statementName`. Returns what `fn` returns, resolving to the same value and
   * rejecting with the same error; a synchronous throw is re-thrown as is. Never
   * throws anything of its own: a bad name is reported and recorded as `(other)`.
   *
   * @example
   * ```ts
   * const rows = await monitor.database.track('list_orders', () => db.query(sql, params));
   * ```
   */
  track<T>(statementName: string, fn: () => PromiseLike<T>): Promise<T> {
    let stop: ((error: boolean) => void) | undefined;
    try {
      stop = this.#start(statementName);
    } catch (error) {
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `database.track: ${messageOf(error)}`,
      );
    }
    let result: PromiseLike<T>;
    try {
      result = fn();
    } catch (error) {
      stop?.(true);
      throw error;
    }
    if (stop === undefined) return Promise.resolve(result);
    const done = stop;
    return Promise.resolve(result).then(
      (value) => {
        done(false);
        return value;
      },
      (error: unknown) => {
        done(true);
        throw error;
      },
    );
  }

  /**
   * The slow-query log, oldest first: statement names, durations and times, never
   * parameters. Bounded by `slowQueryLogSize`.
   *
   * @example
   * ```ts
   * const worst = monitor.database.slowQueries().sort((a, b) => b.durationMs - a.durationMs)[0];
   * ```
   */
  slowQueries(): SlowQuery[] {
    return [...this.#slow.slice(this.#slowStart), ...this.#slow.slice(0, this.#slowStart)];
  }

  /**
   * Slow-query entries dropped from the log to keep it bounded.
   *
   * @example
   * ```ts
   * if (monitor.database.slowQueriesDropped() > 0) console.warn('slow log overflowed');
   * ```
   */
  slowQueriesDropped(): number {
    return this.#slowDropped;
  }

  /**
   * The statement names with a series of their own (at most `maxStatements`).
   *
   * @example
   * ```ts
   * for (const s of monitor.database.statements()) console.log(s);
   * ```
   */
  statements(): string[] {
    return [...this.#statements.keys()];
  }

  /**
   * Observes a connection pool: a `pg.Pool` (duck-typed on `totalCount`, `idleCount`,
   * `waitingCount`, `options.max`) or any function returning {@link PoolStats}. Its
   * gauges are set now and on every {@link DatabaseMonitor.samplePools}. Throws a
   * `TypeError` for something else, as constructors do. Returns a function that
   * stops observing it.
   *
   * @example
   * ```ts
   * const stop = monitor.database.observePool('primary', pool);
   * monitor.database.observePool('redis', () => ({ total: r.size, idle: r.available, waiting: r.pending, max: 50 }));
   * ```
   */
  observePool(name: string, source: PgPoolLike | (() => PoolStats)): () => void {
    if (!isValidName(name)) {
      throw new TypeError('pool name must be a non-empty string of at most 255 characters');
    }
    let read: () => PoolStats;
    if (typeof source === 'function') read = source;
    else if (isPgPool(source)) read = pgPoolStats(source);
    else {
      throw new TypeError(
        'observePool needs a pg Pool (totalCount, idleCount, waitingCount) or a function returning PoolStats',
      );
    }
    if (!this.#pools.has(name) && this.#pools.size >= this.#maxPools) {
      this.#context.diagnostics.report(
        DiagnosticCode.SERIES_OVERFLOW,
        `pool ${name}: over maxPools (${this.#maxPools}); not observed`,
      );
      return () => {};
    }
    const { recorder } = this.#context;
    const component = this.#component;
    const tags = Object.freeze({ pool: name });
    const gauge = (metric: string): BoundGauge => recorder.gauge(metric, { component }).bind(tags);
    const record: PoolRecord = {
      read,
      total: gauge('db_connections'),
      max: gauge('max_connections'),
      idle: gauge('db_connections_idle'),
      active: gauge('db_connections_active'),
      waiting: gauge('db_connections_waiting'),
    };
    this.#pools.set(name, record);
    this.#samplePool(name, record);
    return () => {
      if (this.#pools.get(name) === record) this.#pools.delete(name);
    };
  }

  /**
   * Reads every observed pool and sets its gauges. The resource sampler's tick calls
   * it; never throws (a failing reader is reported, its gauges keep their last value).
   *
   * @example
   * ```ts
   * monitor.database.samplePools();
   * ```
   */
  samplePools(): void {
    for (const [name, record] of this.#pools) this.#samplePool(name, record);
  }

  #samplePool(name: string, record: PoolRecord): void {
    try {
      const s = record.read();
      const total = Number(s.total);
      const idle = Number(s.idle);
      const waiting = Number(s.waiting);
      const max = Number(s.max);
      if (![total, idle, waiting, max].every((n) => Number.isFinite(n) && n >= 0)) {
        this.#context.diagnostics.report(
          DiagnosticCode.INVALID_VALUE,
          `pool ${name}: stats must be finite numbers >= 0`,
        );
        return;
      }
      record.total.set(total);
      record.max.set(max);
      record.idle.set(idle);
      record.active.set(Math.max(0, total - idle));
      record.waiting.set(waiting);
    } catch (error) {
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `pool ${name}: reading its stats failed: ${messageOf(error)}`,
      );
    }
  }

  /** Starts timing; the returned function records the outcome. */
  #start(statementName: string): (error: boolean) => void {
    const handles = this.#handles(statementName);
    const statement = this.#statements.has(statementName) ? statementName : OTHER_STATEMENT;
    const stop = handles.timer.startTimer();
    return (error) => {
      try {
        const ms = stop(error ? { error: true } : undefined);
        if (ms >= this.#slowQueryMs) {
          handles.slow.inc();
          this.#logSlow({ statement, durationMs: ms, at: this.#context.clock.now(), error });
        }
      } catch (e) {
        this.#context.diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `database.track: ${messageOf(e)}`,
        );
      }
    };
  }

  #handles(statementName: string): StatementHandles {
    const known = this.#statements.get(statementName);
    if (known !== undefined) return known;
    if (!isValidName(statementName)) {
      this.#context.diagnostics.report(
        DiagnosticCode.INVALID_NAME,
        `database.track: statement names must be non-empty strings of at most 255 characters; recorded as ${OTHER_STATEMENT}`,
      );
      return this.#otherHandles();
    }
    if (this.#statements.size >= this.#maxStatements) {
      this.#context.diagnostics.report(
        DiagnosticCode.SERIES_OVERFLOW,
        `database.track: more than maxStatements (${this.#maxStatements}) statement names; recorded as ${OTHER_STATEMENT}`,
      );
      return this.#otherHandles();
    }
    const handles = this.#bind(statementName);
    this.#statements.set(statementName, handles);
    return handles;
  }

  #otherHandles(): StatementHandles {
    this.#other ??= this.#bind(OTHER_STATEMENT);
    return this.#other;
  }

  #bind(statement: string): StatementHandles {
    const { recorder } = this.#context;
    const component = this.#component;
    const tags = Object.freeze({ statement });
    return {
      timer: recorder.timer('db.query', { component }).bind(tags),
      slow: recorder.counter('db.slow_queries', { component }).bind(tags),
    };
  }

  #logSlow(entry: SlowQuery): void {
    const frozen = Object.freeze(entry);
    if (this.#slow.length < this.#slowLogSize) {
      this.#slow.push(frozen);
      return;
    }
    this.#slow[this.#slowStart] = frozen;
    this.#slowStart = (this.#slowStart + 1) % this.#slowLogSize;
    this.#slowDropped++;
  }
}

function positiveInteger(value: unknown, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new TypeError(
      `${name} must be an integer >= 1, got ${typeof n === 'number' ? n : typeof n}`,
    );
  }
  return n;
}
