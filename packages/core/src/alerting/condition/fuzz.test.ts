import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ConditionSyntaxError, parseCondition } from '../../index.js';
import type { Condition, ConditionNode, ConditionUnit } from '../../index.js';
import { formatCondition } from './format.js';
import { applyUnit } from './lexer.js';
import { fakeSource } from './test-support.js';

/** Far above the 50 µs target: catches a hang or a super-linear path, not slowness. */
const TIME_BOUND_MS = 100;

function parsesOrRejects(text: string): void {
  let outcome: unknown;
  const started = performance.now();
  try {
    outcome = parseCondition(text);
  } catch (error) {
    outcome = error;
  }
  // Only the parse is timed: the checks below (deep toEqual) are far slower than it.
  expect(performance.now() - started).toBeLessThan(TIME_BOUND_MS);
  if (outcome instanceof ConditionSyntaxError) {
    expect(outcome.position).toBeGreaterThanOrEqual(0);
    expect(outcome.position).toBeLessThanOrEqual(text.length);
    expect(outcome.line).toBeGreaterThanOrEqual(1);
    expect(outcome.column).toBeGreaterThanOrEqual(1);
    expect(outcome.message).toContain(`at ${outcome.line}:${outcome.column}`);
    return;
  }
  if (outcome instanceof Error || typeof outcome !== 'object' || outcome === null) throw outcome;
  const condition = outcome as Condition;
  expect(parseCondition(condition.toString()).ast).toEqual(condition.ast);
}

const TOKENS = [
  ...['a', 'error_rate', 'api.latency', 'db_connections', 'max_connections', 'x.y.z', '_q'],
  ...['p50', 'p95', 'p99', 'quantile', 'avg', 'min', 'max', 'count', 'rate', 'sum', 'foo'],
  ...['and', 'or', 'not', 'AND', 'Not', 'true', 'false'],
  ...['0', '1', '0.05', '0.80', '500ms', '5m', '2s', '1h', '1d', '80%', '1e3', '99.9%', '1e999'],
  ...['+', '-', '*', '/', '%', '>', '>=', '<', '<=', '==', '!=', '=', '!', '&&', '||'],
  ...['(', ')', '[', ']', ',', '[5m]', '.', "'", '"', '\\', '\n', '\u0000', '😀'],
];

const tokenSoup = fc
  .tuple(fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }), fc.constantFrom(' ', '', '\n'))
  .map(([tokens, sep]) => tokens.join(sep));

describe('fuzzing the parser', () => {
  it('parses or throws ConditionSyntaxError for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), parsesOrRejects), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), parsesOrRejects), {
      numRuns: 1000,
    });
  });

  it('parses or throws ConditionSyntaxError for strings of the language’s tokens', () => {
    fc.assert(fc.property(tokenSoup, parsesOrRejects), { numRuns: 5000 });
  });

  it('stays within the time bound on long and deeply nested inputs', () => {
    const long = fc
      .array(fc.constantFrom('(', ')', '-', 'not ', 'a', ' > ', '1', ' and ', '+'), {
        minLength: 500,
        maxLength: 1500,
      })
      .map((parts) => parts.join(''));
    fc.assert(fc.property(long, parsesOrRejects), { numRuns: 300 });
    for (const text of [
      '('.repeat(4096),
      '-'.repeat(4096),
      'not '.repeat(1024),
      `${'a + '.repeat(1000)}a > 1`,
      `${'a > 1 and '.repeat(400)}a > 1`,
      'a'.repeat(4096),
      '1'.repeat(4096),
      'x'.repeat(5000),
    ]) {
      parsesOrRejects(text);
    }
  });
});

// Syntax trees built directly, printed, parsed back: the round trip must be exact.
const NAMES = ['a', 'error_rate', 'api.latency', 'db_connections', 'x_1.y2', 'count'];
const name = fc.constantFrom(...NAMES);
const windowSeconds = fc.option(fc.integer({ min: 1, max: 10_000_000 }), { nil: undefined });
const unit = fc.option(fc.constantFrom<ConditionUnit>('ms', 's', 'm', 'h', 'd', '%'), {
  nil: undefined,
});
const literal = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }),
  fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true }).map((x) => x + 0),
);

const numberLeaf: fc.Arbitrary<ConditionNode> = fc
  .tuple(literal, unit)
  .filter(([l, u]) => Number.isFinite(applyUnit(l, u)))
  .map(([l, u]): ConditionNode =>
    u === undefined
      ? { kind: 'number', value: l, literal: l }
      : { kind: 'number', value: applyUnit(l, u), literal: l, unit: u },
  );
const signalLeaf: fc.Arbitrary<ConditionNode> = fc
  .tuple(name, windowSeconds)
  .map(([n, w]) =>
    w === undefined ? { kind: 'signal', name: n } : { kind: 'signal', name: n, windowSeconds: w },
  );
const callLeaf: fc.Arbitrary<ConditionNode> = fc
  .tuple(
    fc.constantFrom('p50', 'p95', 'p99', 'quantile', 'avg', 'min', 'max', 'count', 'rate', 'sum'),
    name,
    windowSeconds,
    fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x + 0),
  )
  .map(([fn, n, w, q]): ConditionNode => ({
    kind: 'call',
    fn,
    name: n,
    ...(fn === 'quantile' ? { quantile: q } : {}),
    ...(w === undefined ? {} : { windowSeconds: w }),
  }));

const { bool } = fc.letrec<{ num: ConditionNode; bool: ConditionNode }>((tie) => ({
  num: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    numberLeaf,
    signalLeaf,
    callLeaf,
    tie('num').map((operand): ConditionNode => ({ kind: 'negate', operand })),
    fc
      .tuple(fc.constantFrom('+', '-', '*', '/' as const), tie('num'), tie('num'))
      .map(([op, left, right]): ConditionNode => ({ kind: 'arithmetic', op, left, right })),
  ),
  bool: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    fc
      .tuple(fc.constantFrom('>', '>=', '<', '<=', '==', '!=' as const), tie('num'), tie('num'))
      .map(([op, left, right]): ConditionNode => ({ kind: 'compare', op, left, right })),
    fc.boolean().map((value): ConditionNode => ({ kind: 'boolean', value })),
    tie('bool').map((operand): ConditionNode => ({ kind: 'not', operand })),
    fc
      .tuple(fc.constantFrom('and', 'or' as const), tie('bool'), tie('bool'))
      .map(([op, left, right]): ConditionNode => ({ kind: 'logical', op, left, right })),
  ),
}));

/** Values by name and function, or missing, chosen by the seed. */
function seededSource(seed: number) {
  const values: Record<string, number | undefined> = {};
  let s = seed;
  for (const n of NAMES) {
    for (const key of [n, `q:0.5:${n}`, `q:0.95:${n}`, `q:0.99:${n}`, `avg:${n}`, `rate:${n}`]) {
      s = (s * 1103515245 + 12345) % 2147483648;
      values[key] = s % 5 === 0 ? undefined : s % 7 === 0 ? 0 : (s % 2000) - 500;
    }
  }
  return fakeSource(values);
}

describe('round trip and evaluation of generated conditions', () => {
  it('parse(toString(c)) is c, and printing is stable', () => {
    fc.assert(
      fc.property(bool, (ast) => {
        const text = formatCondition(ast);
        const condition = parseCondition(text);
        expect(condition.ast).toEqual(ast);
        expect(condition.toString()).toBe(text);
      }),
      { numRuns: 3000 },
    );
  });

  it('evaluates without throwing, deterministically, to a valid result', () => {
    fc.assert(
      fc.property(bool, fc.nat(), (ast, seed) => {
        const condition = parseCondition(formatCondition(ast));
        const first = condition.evaluate(seededSource(seed), 'c', 300);
        expect(['true', 'false', 'no_data']).toContain(first.state);
        if (first.value !== undefined) expect(Number.isFinite(first.value)).toBe(true);
        expect(condition.evaluate(seededSource(seed), 'c', 300)).toEqual(first);
        expect(new Set(first.missing).size).toBe(first.missing.length);
      }),
      { numRuns: 2000 },
    );
  });
});
