/** The public face of the condition language: parse once, then evaluate many times. */
import type { ConditionNode } from './ast.js';
import { compileCondition, type Evaluator } from './evaluate.js';
import { formatCondition, formatSignal } from './format.js';
import { parseConditionNode } from './parser.js';
import type { ConditionResult, SignalRef, SignalSource } from './signal-source.js';

/**
 * A parsed, type-checked alert condition, ready to evaluate. Immutable.
 *
 * @example
 * ```ts
 * const condition: Condition = parseCondition('db_connections > 0.80 * max_connections');
 * condition.signals().map((s) => s.name); // ['db_connections', 'max_connections']
 * condition.toString(); // 'db_connections > 0.8 * max_connections'
 * condition.evaluate(source, 'marketplace', 300); // { state: 'true', value: 85, missing: [] }
 * ```
 */
export interface Condition {
  /** The condition as written. */
  readonly source: string;
  /** Its syntax tree. */
  readonly ast: ConditionNode;
  /** Every signal it reads, each once, in source order. */
  signals(): readonly SignalRef[];
  /** The normalised text; parsing it again gives the same tree. */
  toString(): string;
  /**
   * Evaluates against `source` for `component`; signals without a window of their
   * own are read over `defaultWindowSeconds`. Never throws by itself (an exception
   * from `source` propagates).
   */
  evaluate(source: SignalSource, component: string, defaultWindowSeconds: number): ConditionResult;
}

class ParsedCondition implements Condition {
  readonly source: string;
  readonly ast: ConditionNode;
  readonly #signals: readonly SignalRef[];
  readonly #text: string;
  readonly #evaluate: Evaluator;

  constructor(source: string, ast: ConditionNode) {
    this.source = source;
    this.ast = ast;
    this.#signals = Object.freeze(collectSignals(ast));
    this.#text = formatCondition(ast);
    this.#evaluate = compileCondition(ast);
  }

  signals(): readonly SignalRef[] {
    return this.#signals;
  }

  toString(): string {
    return this.#text;
  }

  evaluate(source: SignalSource, component: string, defaultWindowSeconds: number): ConditionResult {
    return this.#evaluate(source, component, defaultWindowSeconds);
  }
}

const SHORTHANDS: Readonly<Record<string, number>> = { p50: 0.5, p95: 0.95, p99: 0.99 };

function collectSignals(root: ConditionNode): SignalRef[] {
  const refs: SignalRef[] = [];
  const seen = new Set<string>();
  const visit = (node: ConditionNode): void => {
    switch (node.kind) {
      case 'number':
      case 'boolean':
        return;
      case 'negate':
      case 'not':
        visit(node.operand);
        return;
      case 'arithmetic':
      case 'compare':
      case 'logical':
        visit(node.left);
        visit(node.right);
        return;
      case 'signal':
      case 'call': {
        const text = formatSignal(node);
        if (seen.has(text)) return;
        seen.add(text);
        const ref: {
          -readonly [K in keyof SignalRef]: SignalRef[K];
        } = { name: node.name, function: 'value', text };
        if (node.kind === 'call') {
          const q = node.quantile ?? SHORTHANDS[node.fn];
          if (q === undefined) ref.function = node.fn as SignalRef['function'];
          else {
            ref.function = 'quantile';
            ref.quantile = q;
          }
        }
        if (node.windowSeconds !== undefined) ref.windowSeconds = node.windowSeconds;
        refs.push(Object.freeze(ref));
      }
    }
  };
  visit(root);
  return refs;
}

/**
 * Parses an alert condition, once, when its rule is created. Throws a
 * {@link ConditionSyntaxError} naming the position and what was expected when the
 * condition does not parse, does not type-check (it must be true or false; arithmetic
 * takes numbers, `and`/`or`/`not` take comparisons), calls an unknown function, or is
 * longer than 4096 characters or nested deeper than 64 levels. Never evaluates code.
 * The grammar is in the package README ("Alert conditions").
 *
 * @example
 * ```ts
 * import { parseCondition } from '@prsm/core';
 *
 * const condition = parseCondition('p99(api.latency[5m]) > 500ms or error_rate > 5%');
 * const result = condition.evaluate(signalSource, 'api_gateway', 300);
 * if (result.state === 'true') console.log('fires at', result.value);
 * ```
 */
export function parseCondition(source: string): Condition {
  return new ParsedCondition(source, parseConditionNode(source));
}
