/**
 * alerting/condition/: the alert condition language. A condition is parsed once,
 * when its rule is created, into a typed syntax tree and a tree of closures that
 * evaluates it against a {@link SignalSource}; nothing is ever evaluated as code.
 * This folder imports nothing outside itself: the engine binds it to the Monitor.
 *
 * This file: the syntax tree.
 */

/**
 * A unit written after a number: durations normalise to milliseconds (`500ms` is
 * 500, `2s` is 2000, `5m` is 300000, `1h`, `1d`), a percentage to a fraction
 * (`80%` is 0.8).
 *
 * @example
 * ```ts
 * const unit: ConditionUnit = 'ms';
 * ```
 */
export type ConditionUnit = 'ms' | 's' | 'm' | 'h' | 'd' | '%';

/**
 * A function that aggregates a counter, histogram or timer over a window.
 * `rate` is per second.
 *
 * @example
 * ```ts
 * const fn: AggregateFunction = 'rate'; // as in `rate(orders.failed[5m]) > 2`
 * ```
 */
export type AggregateFunction = 'avg' | 'min' | 'max' | 'count' | 'rate' | 'sum';

/**
 * Every function a condition may call: `p50`, `p95`, `p99` and `quantile(q, m)`
 * read a quantile, the others an {@link AggregateFunction}.
 *
 * @example
 * ```ts
 * const fn: ConditionFunction = 'p99'; // as in `p99(api.latency[5m]) > 500ms`
 * ```
 */
export type ConditionFunction = 'p50' | 'p95' | 'p99' | 'quantile' | 'anomaly' | AggregateFunction;

/**
 * A node of a parsed condition. Number-valued kinds: `number`, `signal`, `call`,
 * `negate`, `arithmetic`; boolean-valued kinds: `boolean`, `compare`, `not`,
 * `logical`. The parser guarantees the types fit (arithmetic and comparisons on
 * numbers, `and`/`or`/`not` on booleans, a boolean at the root).
 *
 * @example
 * ```ts
 * const node: ConditionNode = parseCondition('error_rate > 5%').ast;
 * // { kind: 'compare', op: '>', left: { kind: 'signal', name: 'error_rate' },
 * //   right: { kind: 'number', value: 0.05, literal: 5, unit: '%' } }
 * ```
 */
export type ConditionNode =
  | NumberNode
  | BooleanNode
  | SignalNode
  | CallNode
  | NegateNode
  | ArithmeticNode
  | CompareNode
  | NotNode
  | LogicalNode;

/**
 * A number literal. `value` is normalised (milliseconds for durations, a fraction
 * for percentages); `literal` and `unit` are as written, for printing back.
 *
 * @example
 * ```ts
 * const fiveMinutes: NumberNode = { kind: 'number', value: 300_000, literal: 5, unit: 'm' };
 * ```
 */
export interface NumberNode {
  /** Discriminant. */
  readonly kind: 'number';
  /** The normalised value. */
  readonly value: number;
  /** The number as written, before its unit. */
  readonly literal: number;
  /** The unit as written, if any. */
  readonly unit?: ConditionUnit;
}

/**
 * `true` or `false`.
 *
 * @example
 * ```ts
 * const always: BooleanNode = { kind: 'boolean', value: true };
 * ```
 */
export interface BooleanNode {
  /** Discriminant. */
  readonly kind: 'boolean';
  /** The literal's value. */
  readonly value: boolean;
}

/**
 * A bare identifier: a built-in signal (`error_rate`, `throughput`, `cpu_usage`,
 * `memory_usage`) or a gauge, counter or histogram of the rule's component, by name.
 *
 * @example
 * ```ts
 * const node: SignalNode = { kind: 'signal', name: 'db_connections' };
 * ```
 */
export interface SignalNode {
  /** Discriminant. */
  readonly kind: 'signal';
  /** The signal or metric name, dots included. */
  readonly name: string;
  /** From `name[5m]`; absent: the rule's default window. */
  readonly windowSeconds?: number;
}

/**
 * A function of one metric: `p99(api.latency[5m])`, `quantile(0.999, api.latency)`,
 * `rate(orders.failed)`.
 *
 * @example
 * ```ts
 * const node: CallNode = { kind: 'call', fn: 'p99', name: 'api.latency', windowSeconds: 300 };
 * ```
 */
export interface CallNode {
  /** Discriminant. */
  readonly kind: 'call';
  /** The function, as written. */
  readonly fn: ConditionFunction;
  /** The metric it reads. */
  readonly name: string;
  /** The quantile of `quantile(q, m)` only (0..1). */
  readonly quantile?: number;
  /** From `m[5m]`; absent: the rule's default window. */
  readonly windowSeconds?: number;
}

/**
 * Unary minus.
 *
 * @example
 * ```ts
 * const node: NegateNode = { kind: 'negate', operand: { kind: 'signal', name: 'delta' } };
 * ```
 */
export interface NegateNode {
  /** Discriminant. */
  readonly kind: 'negate';
  /** A number-valued node. */
  readonly operand: ConditionNode;
}

/**
 * `+`, `-`, `*` or `/` on two numbers. Division by zero has no value (`no_data`).
 *
 * @example
 * ```ts
 * const node: ArithmeticNode = {
 *   kind: 'arithmetic',
 *   op: '*',
 *   left: { kind: 'number', value: 0.8, literal: 0.8 },
 *   right: { kind: 'signal', name: 'max_connections' },
 * };
 * ```
 */
export interface ArithmeticNode {
  /** Discriminant. */
  readonly kind: 'arithmetic';
  /** The operator. */
  readonly op: '+' | '-' | '*' | '/';
  /** A number-valued node. */
  readonly left: ConditionNode;
  /** A number-valued node. */
  readonly right: ConditionNode;
}

/**
 * A comparison of two numbers; comparisons do not chain.
 *
 * @example
 * ```ts
 * const node: CompareNode = {
 *   kind: 'compare',
 *   op: '>',
 *   left: { kind: 'signal', name: 'error_rate' },
 *   right: { kind: 'number', value: 0.05, literal: 0.05 },
 * };
 * ```
 */
export interface CompareNode {
  /** Discriminant. */
  readonly kind: 'compare';
  /** The operator. */
  readonly op: '>' | '>=' | '<' | '<=' | '==' | '!=';
  /** A number-valued node. */
  readonly left: ConditionNode;
  /** A number-valued node. */
  readonly right: ConditionNode;
}

/**
 * `not` of a boolean.
 *
 * @example
 * ```ts
 * const node: NotNode = { kind: 'not', operand: { kind: 'boolean', value: false } };
 * ```
 */
export interface NotNode {
  /** Discriminant. */
  readonly kind: 'not';
  /** A boolean-valued node. */
  readonly operand: ConditionNode;
}

/**
 * `and` or `or` of two booleans, in three-valued logic when data is missing.
 *
 * @example
 * ```ts
 * const node: LogicalNode = {
 *   kind: 'logical',
 *   op: 'or',
 *   left: { kind: 'boolean', value: false },
 *   right: { kind: 'boolean', value: true },
 * };
 * ```
 */
export interface LogicalNode {
  /** Discriminant. */
  readonly kind: 'logical';
  /** The operator. */
  readonly op: 'and' | 'or';
  /** A boolean-valued node. */
  readonly left: ConditionNode;
  /** A boolean-valued node. */
  readonly right: ConditionNode;
}
