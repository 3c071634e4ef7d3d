import type { BoundCounter } from './counter-series.js';
import type { BoundGauge } from './gauge-series.js';
import type { BoundHistogram } from './histogram-series.js';
import type { Labels, Tags } from './types.js';

/**
 * Stops a timer started with `startTimer()`, records the elapsed milliseconds (as an
 * error when `error` is true) and returns them.
 *
 * @example
 * ```ts
 * const stop: StopTimer = latency.startTimer();
 * await doWork();
 * const ms = stop();
 * ```
 */
export type StopTimer = (outcome?: { readonly error?: boolean }) => number;

/**
 * A timer series handle: a {@link BoundHistogram} of milliseconds that can also time
 * a span of code itself.
 *
 * @example
 * ```ts
 * const query = monitor.timer('db.query', { component: 'database' }).bind({ statement: 'get_user' });
 * const stop = query.startTimer();
 * try { await db.getUser(id); stop(); } catch (e) { stop({ error: true }); throw e; }
 * ```
 */
export interface BoundTimer extends BoundHistogram {
  /** Starts timing now, on the monitor's monotonic clock. */
  startTimer(): StopTimer;
}

/**
 * A counter metric. `bind(tags)` resolves a series once for the hot path; `inc(value,
 * tags)` resolves it on every call.
 *
 * @example
 * ```ts
 * const requests = monitor.counter('http.requests', { component: 'api_gateway' });
 * requests.inc(1, { status_class: '2xx' });
 * const ok = requests.bind({ status_class: '2xx' });
 * ok.inc();
 * ```
 */
export interface Counter {
  readonly name: string;
  bind(tags?: Tags, labels?: Labels): BoundCounter;
  inc(value?: number, tags?: Tags): void;
}

/**
 * A gauge metric.
 *
 * @example
 * ```ts
 * monitor.gauge('db_connections', { component: 'database' }).set(12);
 * ```
 */
export interface Gauge {
  readonly name: string;
  bind(tags?: Tags, labels?: Labels): BoundGauge;
  set(value: number, tags?: Tags): void;
}

/**
 * A histogram metric: windowed percentiles, min, max, mean, count, sum and rates.
 *
 * @example
 * ```ts
 * const size = monitor.histogram('http.response.size', { unit: 'By' });
 * size.record(15_700, { route: '/recommendations' });
 * ```
 */
export interface Histogram {
  readonly name: string;
  bind(tags?: Tags, labels?: Labels): BoundHistogram;
  record(value: number, tags?: Tags): void;
  recordError(value: number, tags?: Tags): void;
}

/**
 * A timer metric: a histogram of milliseconds with error counts, so one series gives
 * latency percentiles, throughput and error rate of an operation.
 *
 * @example
 * ```ts
 * const op = monitor.timer('generate_recommendations', { component: 'recommendation' }).bind();
 * const stop = op.startTimer();
 * stop();
 * ```
 */
export interface Timer {
  readonly name: string;
  bind(tags?: Tags, labels?: Labels): BoundTimer;
  record(value: number, tags?: Tags): void;
  recordError(value: number, tags?: Tags): void;
  startTimer(tags?: Tags): StopTimer;
}

const noop = (): void => {};
const stopNoop: StopTimer = () => 0;

/** Handles that do nothing: the no-op monitor's, and what a refused metric gets. @internal */
export const NOOP_BOUND: BoundCounter & BoundGauge & BoundTimer = Object.freeze({
  inc: noop,
  dec: noop,
  set: noop,
  record: noop,
  recordError: noop,
  startTimer: () => stopNoop,
});

/** @internal */
export function noopInstrument(name: string): Counter & Gauge & Timer {
  return Object.freeze({
    name,
    bind: () => NOOP_BOUND,
    inc: noop,
    set: noop,
    record: noop,
    recordError: noop,
    startTimer: () => stopNoop,
  });
}
