/** The seam between a condition and the data it reads, and what evaluation returns. */
import type { AggregateFunction } from './ast.js';

/**
 * Where a condition reads its signals, for one component. The alert engine
 * implements it over the Monitor; tests implement it with fixed values. Return
 * `undefined` when there is no data: the condition then reads `no_data` rather
 * than a made-up zero. NaN and ±Infinity are treated like `undefined`.
 *
 * @example
 * ```ts
 * const fixed: SignalSource = {
 *   signal: (name) => (name === 'error_rate' ? 0.07 : undefined),
 *   quantile: () => undefined,
 *   aggregate: () => undefined,
 * };
 * parseCondition('error_rate > 0.05').evaluate(fixed, 'api_gateway', 300).state; // 'true'
 * ```
 */
export interface SignalSource {
  /**
   * A bare identifier: a built-in signal (`error_rate`, `throughput`, `cpu_usage`,
   * `memory_usage`) or a gauge, counter or histogram by name. `undefined`: no data.
   */
  signal(name: string, component: string, windowSeconds: number): number | undefined;
  /** `quantile(q, m)`, and `p50`/`p95`/`p99` as q = 0.5/0.95/0.99. `undefined`: no data. */
  quantile(name: string, component: string, q: number, windowSeconds: number): number | undefined;
  /** `avg`, `min`, `max`, `count`, `rate` (per second) and `sum`. `undefined`: no data. */
  aggregate(
    fn: AggregateFunction,
    name: string,
    component: string,
    windowSeconds: number,
  ): number | undefined;
  /**
   * `anomaly(m)`: the robust anomaly score of the latest minute of `m` (signed: above
   * 4 a spike, below -4 a drop). `undefined`: no data, or a source without history.
   */
  anomaly?(name: string, component: string): number | undefined;
}

/**
 * The outcome of evaluating a condition once.
 *
 * @example
 * ```ts
 * const result: ConditionResult = parseCondition('error_rate > 0.05').evaluate(source, 'api', 300);
 * if (result.state === 'true') fire(result.value); // e.g. 0.07, the error rate seen
 * if (result.state === 'no_data') console.warn('no data for', result.missing);
 * ```
 */
export interface ConditionResult {
  /** `'no_data'` when missing data leaves the answer open (see the README's missing-data rule). */
  readonly state: 'true' | 'false' | 'no_data';
  /**
   * The left-hand side of the condition's first comparison (the root comparison, or
   * the leftmost one under `and`/`or`/`not`), for alert annotations; absent when it
   * had no value or there is no comparison.
   */
  readonly value?: number;
  /** Signals that had no data, as written (`p99(api.latency[5m])`), each once. */
  readonly missing: readonly string[];
}

/**
 * One signal a condition reads, so the engine can check or pre-bind it.
 * `function` is `'value'` for a bare identifier, `'quantile'` for `quantile`, `p50`,
 * `p95` and `p99` (with `quantile` set), or the aggregate function.
 *
 * @example
 * ```ts
 * parseCondition('p99(api.latency[5m]) > 500ms').signals();
 * // [{ name: 'api.latency', function: 'quantile', quantile: 0.99, windowSeconds: 300,
 * //    text: 'p99(api.latency[5m])' }]
 * ```
 */
export interface SignalRef {
  /** The signal or metric name. */
  readonly name: string;
  /** How it is read. */
  readonly function: 'value' | 'quantile' | 'anomaly' | AggregateFunction;
  /** For `function: 'quantile'`: 0..1. */
  readonly quantile?: number;
  /** The window written in the condition; absent: the rule's default window. */
  readonly windowSeconds?: number;
  /** The reference as written (normalised), as listed in {@link ConditionResult.missing}. */
  readonly text: string;
}
