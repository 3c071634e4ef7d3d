/**
 * Compiles a syntax tree into a tree of closures, once, at parse time. Evaluating
 * allocates only the context and the result; numbers use NaN for "no value" and
 * booleans the three truth values below, so no node allocates.
 */
import type { CallNode, ConditionNode } from './ast.js';
import { formatSignal } from './format.js';
import type { ConditionResult, SignalSource } from './signal-source.js';

const FALSE = 0;
const TRUE = 1;
const NO_DATA = 2;
type Truth = typeof FALSE | typeof TRUE | typeof NO_DATA;

interface Context {
  readonly source: SignalSource;
  readonly component: string;
  readonly window: number;
  readonly missing: string[];
  value: number;
}

type NumberFn = (ctx: Context) => number;
type TruthFn = (ctx: Context) => Truth;

const SHORTHAND_QUANTILES: Readonly<Record<string, number>> = { p50: 0.5, p95: 0.95, p99: 0.99 };
const STATES = ['false', 'true', 'no_data'] as const;

/** The number a source returned, or NaN (recording the signal as missing). */
function checked(ctx: Context, value: number | undefined, text: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (!ctx.missing.includes(text)) ctx.missing.push(text);
  return Number.NaN;
}

function compileCall(node: CallNode): NumberFn {
  const { name, windowSeconds } = node;
  const text = formatSignal(node);
  const fn = node.fn;
  if (fn === 'anomaly') {
    return (ctx) => checked(ctx, ctx.source.anomaly?.(name, ctx.component), text);
  }
  if (fn === 'quantile' || fn === 'p50' || fn === 'p95' || fn === 'p99') {
    const q = node.quantile ?? SHORTHAND_QUANTILES[fn]!;
    return (ctx) =>
      checked(ctx, ctx.source.quantile(name, ctx.component, q, windowSeconds ?? ctx.window), text);
  }
  return (ctx) =>
    checked(ctx, ctx.source.aggregate(fn, name, ctx.component, windowSeconds ?? ctx.window), text);
}

function compileNumber(node: ConditionNode): NumberFn {
  switch (node.kind) {
    case 'number': {
      const value = node.value;
      return () => value;
    }
    case 'signal': {
      const { name, windowSeconds } = node;
      const text = formatSignal(node);
      return (ctx) =>
        checked(ctx, ctx.source.signal(name, ctx.component, windowSeconds ?? ctx.window), text);
    }
    case 'call':
      return compileCall(node);
    case 'negate': {
      const operand = compileNumber(node.operand);
      return (ctx) => -operand(ctx);
    }
    case 'arithmetic': {
      const left = compileNumber(node.left);
      const right = compileNumber(node.right);
      switch (node.op) {
        case '+':
          return (ctx) => left(ctx) + right(ctx);
        case '-':
          return (ctx) => left(ctx) - right(ctx);
        case '*':
          return (ctx) => left(ctx) * right(ctx);
        case '/':
          return (ctx) => {
            const l = left(ctx);
            const r = right(ctx);
            return r === 0 ? Number.NaN : l / r;
          };
      }
      break;
    }
    default:
      break;
  }
  throw new TypeError(`condition: ${node.kind} is not a number`);
}

function compileTruth(node: ConditionNode, first: ConditionNode | undefined): TruthFn {
  switch (node.kind) {
    case 'boolean': {
      const value: Truth = node.value ? TRUE : FALSE;
      return () => value;
    }
    case 'not': {
      const operand = compileTruth(node.operand, first);
      return (ctx) => {
        const t = operand(ctx);
        return t === NO_DATA ? NO_DATA : t === TRUE ? FALSE : TRUE;
      };
    }
    case 'logical': {
      // Both sides are always evaluated, so `missing` lists every signal without data.
      const left = compileTruth(node.left, first);
      const right = compileTruth(node.right, first);
      if (node.op === 'and') {
        return (ctx) => {
          const l = left(ctx);
          const r = right(ctx);
          if (l === FALSE || r === FALSE) return FALSE;
          return l === TRUE && r === TRUE ? TRUE : NO_DATA;
        };
      }
      return (ctx) => {
        const l = left(ctx);
        const r = right(ctx);
        if (l === TRUE || r === TRUE) return TRUE;
        return l === FALSE && r === FALSE ? FALSE : NO_DATA;
      };
    }
    case 'compare': {
      const left = compileNumber(node.left);
      const right = compileNumber(node.right);
      const record = node === first;
      const test = comparator(node.op);
      return (ctx) => {
        const l = left(ctx);
        const r = right(ctx);
        if (record) ctx.value = l;
        if (!(Number.isFinite(l) && Number.isFinite(r))) return NO_DATA;
        return test(l, r) ? TRUE : FALSE;
      };
    }
    default:
      throw new TypeError(`condition: ${node.kind} is not a boolean`);
  }
}

function comparator(op: string): (l: number, r: number) => boolean {
  switch (op) {
    case '>':
      return (l, r) => l > r;
    case '>=':
      return (l, r) => l >= r;
    case '<':
      return (l, r) => l < r;
    case '<=':
      return (l, r) => l <= r;
    case '==':
      return (l, r) => l === r;
    default:
      return (l, r) => l !== r;
  }
}

/** The leftmost comparison reachable through and/or/not, whose left side is reported. */
function firstComparison(node: ConditionNode): ConditionNode | undefined {
  switch (node.kind) {
    case 'compare':
      return node;
    case 'not':
      return firstComparison(node.operand);
    case 'logical':
      return firstComparison(node.left) ?? firstComparison(node.right);
    default:
      return undefined;
  }
}

/** An evaluator for a well-typed boolean tree. */
export type Evaluator = (
  source: SignalSource,
  component: string,
  defaultWindowSeconds: number,
) => ConditionResult;

/** Compiles a parsed, type-checked condition. */
export function compileCondition(root: ConditionNode): Evaluator {
  const truth = compileTruth(root, firstComparison(root));
  return (source, component, defaultWindowSeconds) => {
    const ctx: Context = {
      source,
      component,
      window: defaultWindowSeconds,
      missing: [],
      value: Number.NaN,
    };
    const state = STATES[truth(ctx)];
    return Number.isFinite(ctx.value)
      ? { state, value: ctx.value, missing: ctx.missing }
      : { state, missing: ctx.missing };
  };
}
