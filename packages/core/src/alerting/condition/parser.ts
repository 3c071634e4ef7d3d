/**
 * The parser: recursive descent with one function per precedence level, checking
 * types as it goes so a condition that parses is also well typed.
 */
import type {
  AggregateFunction,
  ConditionFunction,
  ConditionNode,
  CompareNode,
  ArithmeticNode,
} from './ast.js';
import { ConditionSyntaxError } from './errors.js';
import { quote, tokenize, type Token, type TokenKind } from './lexer.js';

/** Longest condition accepted, in UTF-16 code units. */
export const MAX_CONDITION_LENGTH = 4096;
/** Deepest nesting of parentheses, `not` and unary minus accepted. */
export const MAX_CONDITION_DEPTH = 64;

const AGGREGATES: ReadonlySet<string> = new Set<AggregateFunction>([
  'avg',
  'min',
  'max',
  'count',
  'rate',
  'sum',
]);
const QUANTILE_SHORTHANDS: ReadonlySet<string> = new Set(['p50', 'p95', 'p99']);
const FUNCTION_LIST = 'p50, p95, p99, quantile, anomaly, avg, min, max, count, rate or sum';

const OPERAND = "a number, a signal, a function call or '('";

type ValueType = 'number' | 'boolean';

interface Parsed {
  readonly node: ConditionNode;
  readonly type: ValueType;
  readonly start: number;
  readonly end: number;
}

const COMPARE_OPS: ReadonlySet<TokenKind> = new Set<TokenKind>(['<', '<=', '>', '>=', '==', '!=']);

class Parser {
  readonly #source: string;
  readonly #tokens: Token[];
  #at = 0;
  #depth = 0;

  constructor(source: string) {
    this.#source = source;
    this.#tokens = tokenize(source);
  }

  parse(): ConditionNode {
    if (this.#peek().kind === 'eof') this.#fail(this.#peek(), 'a condition');
    const parsed = this.#or();
    const next = this.#peek();
    if (next.kind !== 'eof') {
      this.#fail(next, parsed.type === 'number' ? 'an operator' : "'and', 'or' or end of input");
    }
    this.#expectType(parsed, 'boolean');
    return parsed.node;
  }

  #peek(): Token {
    return this.#tokens[this.#at]!;
  }

  #next(): Token {
    const token = this.#tokens[this.#at]!;
    if (token.kind !== 'eof') this.#at++;
    return token;
  }

  #expect(kind: TokenKind, expected: string): Token {
    const token = this.#peek();
    if (token.kind !== kind) this.#fail(token, expected);
    return this.#next();
  }

  #fail(token: Token, expected: string): never {
    throw new ConditionSyntaxError(
      this.#source,
      token.start,
      expected,
      token.kind === 'eof' ? 'end of input' : quote(token.text),
    );
  }

  #expectType(parsed: Parsed, type: ValueType): void {
    if (parsed.type === type) return;
    const text = quote(this.#source.slice(parsed.start, parsed.end));
    throw new ConditionSyntaxError(
      this.#source,
      parsed.start,
      type === 'boolean' ? 'a comparison (such as error_rate > 0.05)' : 'a number',
      `${text}, ${type === 'boolean' ? 'a number' : 'a comparison'}`,
    );
  }

  #enter(token: Token): void {
    if (++this.#depth > MAX_CONDITION_DEPTH) {
      this.#fail(token, `at most ${MAX_CONDITION_DEPTH} levels of nesting`);
    }
  }

  #or(): Parsed {
    let left = this.#and();
    while (this.#peek().kind === 'or') {
      this.#next();
      const right = this.#and();
      this.#expectType(left, 'boolean');
      this.#expectType(right, 'boolean');
      left = {
        node: { kind: 'logical', op: 'or', left: left.node, right: right.node },
        type: 'boolean',
        start: left.start,
        end: right.end,
      };
    }
    return left;
  }

  #and(): Parsed {
    let left = this.#not();
    while (this.#peek().kind === 'and') {
      this.#next();
      const right = this.#not();
      this.#expectType(left, 'boolean');
      this.#expectType(right, 'boolean');
      left = {
        node: { kind: 'logical', op: 'and', left: left.node, right: right.node },
        type: 'boolean',
        start: left.start,
        end: right.end,
      };
    }
    return left;
  }

  #not(): Parsed {
    const token = this.#peek();
    if (token.kind !== 'not') return this.#comparison();
    this.#enter(token);
    this.#next();
    const operand = this.#not();
    this.#depth--;
    this.#expectType(operand, 'boolean');
    return {
      node: { kind: 'not', operand: operand.node },
      type: 'boolean',
      start: token.start,
      end: operand.end,
    };
  }

  #comparison(): Parsed {
    const left = this.#additive();
    const op = this.#peek();
    if (!COMPARE_OPS.has(op.kind)) return left;
    this.#next();
    const right = this.#additive();
    this.#expectType(left, 'number');
    this.#expectType(right, 'number');
    const after = this.#peek();
    if (COMPARE_OPS.has(after.kind)) {
      this.#fail(after, "'and' or 'or' (comparisons do not chain)");
    }
    return {
      node: {
        kind: 'compare',
        op: op.kind as CompareNode['op'],
        left: left.node,
        right: right.node,
      },
      type: 'boolean',
      start: left.start,
      end: right.end,
    };
  }

  #additive(): Parsed {
    let left = this.#term();
    for (;;) {
      const op = this.#peek().kind;
      if (op !== '+' && op !== '-') return left;
      this.#next();
      const right = this.#term();
      left = this.#arithmetic(op, left, right);
    }
  }

  #term(): Parsed {
    let left = this.#unary();
    for (;;) {
      const op = this.#peek().kind;
      if (op !== '*' && op !== '/') return left;
      this.#next();
      const right = this.#unary();
      left = this.#arithmetic(op, left, right);
    }
  }

  #arithmetic(op: ArithmeticNode['op'], left: Parsed, right: Parsed): Parsed {
    this.#expectType(left, 'number');
    this.#expectType(right, 'number');
    return {
      node: { kind: 'arithmetic', op, left: left.node, right: right.node },
      type: 'number',
      start: left.start,
      end: right.end,
    };
  }

  #unary(): Parsed {
    const token = this.#peek();
    if (token.kind !== '-') return this.#primary();
    this.#enter(token);
    this.#next();
    const operand = this.#unary();
    this.#depth--;
    this.#expectType(operand, 'number');
    return {
      node: { kind: 'negate', operand: operand.node },
      type: 'number',
      start: token.start,
      end: operand.end,
    };
  }

  #primary(): Parsed {
    const token = this.#peek();
    switch (token.kind) {
      case 'number':
        this.#next();
        return {
          node:
            token.unit === undefined
              ? { kind: 'number', value: token.value, literal: token.literal }
              : { kind: 'number', value: token.value, literal: token.literal, unit: token.unit },
          type: 'number',
          start: token.start,
          end: token.end,
        };
      case 'true':
      case 'false':
        this.#next();
        return {
          node: { kind: 'boolean', value: token.kind === 'true' },
          type: 'boolean',
          start: token.start,
          end: token.end,
        };
      case '(': {
        this.#enter(token);
        this.#next();
        const inner = this.#or();
        const close = this.#peek();
        if (close.kind !== ')') {
          this.#fail(close, inner.type === 'number' ? "an operator or ')'" : "'and', 'or' or ')'");
        }
        this.#next();
        this.#depth--;
        return { ...inner, start: token.start, end: close.end };
      }
      case 'name':
        this.#next();
        if (this.#peek().kind === '(') return this.#call(token);
        return this.#signal(token);
      default:
        return this.#fail(token, OPERAND);
    }
  }

  #signal(name: Token): Parsed {
    const windowSeconds = this.#window();
    return {
      node:
        windowSeconds === undefined
          ? { kind: 'signal', name: name.text }
          : { kind: 'signal', name: name.text, windowSeconds },
      type: 'number',
      start: name.start,
      end: this.#tokens[this.#at - 1]!.end,
    };
  }

  #call(name: Token): Parsed {
    const fn = name.text;
    const isQuantile = fn === 'quantile';
    if (!isQuantile && fn !== 'anomaly' && !QUANTILE_SHORTHANDS.has(fn) && !AGGREGATES.has(fn)) {
      this.#fail(name, `a function (${FUNCTION_LIST})`);
    }
    this.#next(); // (
    let quantile: number | undefined;
    if (isQuantile) {
      const q = this.#peek();
      const expectedQ = 'a quantile between 0 and 1 (such as 0.999 or 99.9%)';
      if (q.kind !== 'number' || (q.unit !== undefined && q.unit !== '%')) this.#fail(q, expectedQ);
      if (!(q.value >= 0 && q.value <= 1)) this.#fail(q, expectedQ);
      this.#next();
      quantile = q.value;
      this.#expect(',', "',' then a metric name (quantile takes a quantile and a metric)");
    }
    const metric = this.#expect('name', `a metric name (${fn} takes one metric)`);
    const bracket = this.#peek();
    const windowSeconds = this.#window();
    if (fn === 'anomaly' && windowSeconds !== undefined) {
      // The score is of the history's latest minute, not of a window.
      this.#fail(bracket, "')' (anomaly takes a metric without a window)");
    }
    const close = this.#expect(
      ')',
      isQuantile
        ? "')' or a window such as [5m]"
        : `')' or a window such as [5m] (${fn} takes one metric)`,
    );
    const node: {
      kind: 'call';
      fn: ConditionFunction;
      name: string;
      quantile?: number;
      windowSeconds?: number;
    } = { kind: 'call', fn: fn as ConditionFunction, name: metric.text };
    if (quantile !== undefined) node.quantile = quantile;
    if (windowSeconds !== undefined) node.windowSeconds = windowSeconds;
    return { node, type: 'number', start: name.start, end: close.end };
  }

  /** An optional `[5m]`: whole seconds, at least one, units s, m, h or d. */
  #window(): number | undefined {
    if (this.#peek().kind !== '[') return undefined;
    this.#next();
    const span = this.#peek();
    const expected = 'a window of whole seconds with unit s, m, h or d (such as 5m)';
    if (
      span.kind !== 'number' ||
      span.unit === undefined ||
      span.unit === '%' ||
      span.unit === 'ms'
    ) {
      this.#fail(span, expected);
    }
    const seconds = span.value / 1000;
    if (!(Number.isInteger(seconds) && seconds >= 1)) this.#fail(span, expected);
    this.#next();
    this.#expect(']', "']'");
    return seconds;
  }
}

/** Parses and type-checks a condition into its syntax tree; throws ConditionSyntaxError. */
export function parseConditionNode(source: string): ConditionNode {
  if (typeof source !== 'string') {
    throw new ConditionSyntaxError('', 0, 'a condition string', typeof source);
  }
  if (source.length > MAX_CONDITION_LENGTH) {
    throw new ConditionSyntaxError(
      source,
      MAX_CONDITION_LENGTH,
      `a condition of at most ${MAX_CONDITION_LENGTH} characters`,
      `${source.length} characters`,
    );
  }
  return new Parser(source).parse();
}
