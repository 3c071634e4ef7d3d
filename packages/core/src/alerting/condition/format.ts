/** Prints a syntax tree back as a condition, with only the parentheses it needs. */
import type { ConditionNode } from './ast.js';

const WINDOW_UNITS: readonly (readonly [number, string])[] = [
  [86_400, 'd'],
  [3_600, 'h'],
  [60, 'm'],
  [1, 's'],
];

/** `300` → `5m`: the largest unit that divides the window exactly. */
export function formatWindow(seconds: number): string {
  for (const [size, unit] of WINDOW_UNITS) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

function precedence(node: ConditionNode): number {
  switch (node.kind) {
    case 'logical':
      return node.op === 'or' ? 1 : 2;
    case 'not':
      return 3;
    case 'compare':
      return 4;
    case 'arithmetic':
      return node.op === '+' || node.op === '-' ? 5 : 6;
    case 'negate':
      return 7;
    default:
      return 8;
  }
}

/** A signal reference as written in a condition: `p99(api.latency[5m])`, `error_rate`. */
export function formatSignal(node: ConditionNode & { kind: 'signal' | 'call' }): string {
  const window = node.windowSeconds === undefined ? '' : `[${formatWindow(node.windowSeconds)}]`;
  if (node.kind === 'signal') return `${node.name}${window}`;
  const q = node.quantile === undefined ? '' : `${String(node.quantile)}, `;
  return `${node.fn}(${q}${node.name}${window})`;
}

/**
 * The normalised text of a condition: single spaces around binary operators,
 * keywords in lower case, parentheses only where precedence needs them (left
 * associativity kept: `a - (b - c)`), numbers with the unit they were written in.
 */
export function formatCondition(node: ConditionNode, min = 0): string {
  const text = format(node);
  return precedence(node) < min ? `(${text})` : text;
}

function format(node: ConditionNode): string {
  switch (node.kind) {
    case 'number':
      return `${String(node.literal)}${node.unit ?? ''}`;
    case 'boolean':
      return node.value ? 'true' : 'false';
    case 'signal':
    case 'call':
      return formatSignal(node);
    case 'negate':
      return `-${formatCondition(node.operand, 7)}`;
    case 'not':
      return `not ${formatCondition(node.operand, 3)}`;
    case 'compare':
      return `${formatCondition(node.left, 5)} ${node.op} ${formatCondition(node.right, 5)}`;
    case 'arithmetic':
    case 'logical': {
      const p = precedence(node);
      return `${formatCondition(node.left, p)} ${node.op} ${formatCondition(node.right, p + 1)}`;
    }
  }
}
