import { describe, expect, it } from 'vitest';

import { ConditionSyntaxError, parseCondition } from '../../index.js';
import type { ConditionNode } from '../../index.js';
import { fakeSource } from './test-support.js';

// The SignalSource here is a fake over fixed values: SignalSource is our own seam,
// which the alert engine implements over the Monitor, so the language is tested alone.

const COMPONENT = 'api_gateway';
const WINDOW = 300;

function evaluate(condition: string, values: Record<string, number | undefined>) {
  return parseCondition(condition).evaluate(fakeSource(values), COMPONENT, WINDOW);
}

describe('the spec examples', () => {
  it.each([
    ['error_rate > 0.05', { error_rate: 0.07 }, 'true', 0.07],
    ['error_rate > 0.05', { error_rate: 0.05 }, 'false', 0.05],
    ['error_rate > 0.10', { error_rate: 0.07 }, 'false', 0.07],
    [
      'db_connections > 0.80 * max_connections',
      { db_connections: 85, max_connections: 100 },
      'true',
      85,
    ],
    [
      'db_connections > 0.80 * max_connections',
      { db_connections: 80, max_connections: 100 },
      'false',
      80,
    ],
    ['recommendation_accuracy < 0.75', { recommendation_accuracy: 0.7 }, 'true', 0.7],
    ['recommendation_accuracy < 0.75', { recommendation_accuracy: 0.9 }, 'false', 0.9],
    ['p99(api.latency[5m]) > 500ms', { 'q:0.99:api.latency@300': 620 }, 'true', 620],
    ['quantile(0.999, api.latency) > 2s', { 'q:0.999:api.latency': 1900 }, 'false', 1900],
    ['cpu_usage > 80%', { cpu_usage: 0.85 }, 'true', 0.85],
  ] as const)('%s with %j is %s', (condition, values, state, value) => {
    expect(evaluate(condition, values)).toEqual({ state, value, missing: [] });
  });

  it('reads every built-in signal and function with the right arguments', () => {
    const source = fakeSource({});
    parseCondition(
      'error_rate + throughput + cpu_usage + memory_usage + p50(h) + p95(h[1h]) + p99(h) ' +
        '+ quantile(0.999, h[30s]) + avg(h) + min(h) + max(h) + count(h) + rate(c[2d]) + sum(c) > 0',
    ).evaluate(source, COMPONENT, WINDOW);
    expect(source.calls).toEqual([
      'signal:error_rate:api_gateway:300',
      'signal:throughput:api_gateway:300',
      'signal:cpu_usage:api_gateway:300',
      'signal:memory_usage:api_gateway:300',
      'quantile(0.5):h:api_gateway:300',
      'quantile(0.95):h:api_gateway:3600',
      'quantile(0.99):h:api_gateway:300',
      'quantile(0.999):h:api_gateway:30',
      'avg:h:api_gateway:300',
      'min:h:api_gateway:300',
      'max:h:api_gateway:300',
      'count:h:api_gateway:300',
      'rate:c:api_gateway:172800',
      'sum:c:api_gateway:300',
    ]);
  });
});

describe('numbers and units', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    ['80%', 0.8],
    ['0.5%', 0.005],
    ['1e3', 1000],
    ['2.5E-1', 0.25],
    ['1e2ms', 100],
    ['007', 7],
  ])('%s is %d', (literal, value) => {
    const ast = parseCondition(`x == ${literal}`).ast;
    expect(ast.kind === 'compare' && ast.right).toMatchObject({ kind: 'number', value });
    expect(evaluate(`x == ${literal}`, { x: value }).state).toBe('true');
  });

  it('keeps the unit as written for printing', () => {
    expect(parseCondition('p99(a) > 500ms and b < 80%').toString()).toBe(
      'p99(a) > 500ms and b < 80%',
    );
  });

  it('converts windows to seconds and prints them in the largest exact unit', () => {
    const c = parseCondition('avg(a[120s]) > 1 and b[90m] > 1 and c[48h] > 1 and d[7s] > 1');
    expect(c.signals().map((s) => s.windowSeconds)).toEqual([120, 5400, 172_800, 7]);
    expect(c.toString()).toBe('avg(a[2m]) > 1 and b[90m] > 1 and c[2d] > 1 and d[7s] > 1');
  });
});

function tree(condition: string): string {
  // A fully parenthesised rendering of the tree, to check precedence and associativity.
  const show = (node: ConditionNode): string => {
    switch (node.kind) {
      case 'number':
        return String(node.value);
      case 'boolean':
        return String(node.value);
      case 'signal':
        return node.name;
      case 'call':
        return `${node.fn}(${node.name})`;
      case 'negate':
        return `(-${show(node.operand)})`;
      case 'not':
        return `(not ${show(node.operand)})`;
      default:
        return `(${show(node.left)} ${node.op} ${show(node.right)})`;
    }
  };
  return show(parseCondition(condition).ast);
}

describe('precedence and associativity', () => {
  it.each([
    ['a + b * c > 1', '((a + (b * c)) > 1)'],
    ['a * b + c > 1', '(((a * b) + c) > 1)'],
    ['a - b - c > 1', '(((a - b) - c) > 1)'],
    ['a / b / c > 1', '(((a / b) / c) > 1)'],
    ['a - (b - c) > 1', '((a - (b - c)) > 1)'],
    ['-a * b > 1', '(((-a) * b) > 1)'],
    ['- -a > 1', '((-(-a)) > 1)'],
    ['a > 1 or b > 1 and c > 1', '((a > 1) or ((b > 1) and (c > 1)))'],
    ['a > 1 and b > 1 or c > 1', '(((a > 1) and (b > 1)) or (c > 1))'],
    ['a > 1 and b > 1 and c > 1', '(((a > 1) and (b > 1)) and (c > 1))'],
    ['not a > 1 and b > 1', '((not (a > 1)) and (b > 1))'],
    ['not not a > 1', '(not (not (a > 1)))'],
    ['not (a > 1 or b > 1)', '(not ((a > 1) or (b > 1)))'],
    ['a * (b + c) >= 2 * 3', '((a * (b + c)) >= (2 * 3))'],
    ['A > 1 AND b > 1 Or NOT c > 1', '(((A > 1) and (b > 1)) or (not (c > 1)))'],
    ['true or false', '(true or false)'],
  ])('%s parses as %s', (condition, expected) => {
    expect(tree(condition)).toBe(expected);
  });

  it('computes arithmetic with the same precedence', () => {
    expect(evaluate('a + b * c == 7', { a: 1, b: 2, c: 3 }).state).toBe('true');
    expect(evaluate('a - b - c == -4', { a: 1, b: 2, c: 3 }).state).toBe('true');
    expect(evaluate('a / b / c == 1', { a: 12, b: 3, c: 4 }).state).toBe('true');
    expect(evaluate('-a * -b == 6', { a: 2, b: 3 }).state).toBe('true');
  });

  it.each(['>', '>=', '<', '<=', '==', '!='])('compares with %s', (op) => {
    const expected: Record<string, boolean[]> = {
      '>': [false, false, true],
      '>=': [false, true, true],
      '<': [true, false, false],
      '<=': [true, true, false],
      '==': [false, true, false],
      '!=': [true, false, true],
    };
    const states = [1, 2, 3].map((a) => evaluate(`a ${op} 2`, { a }).state === 'true');
    expect(states).toEqual(expected[op]);
  });
});

describe('identifiers', () => {
  it('takes dotted names, underscores and digits; keywords only as whole names', () => {
    const c = parseCondition(
      'http.server.p99_ms2 > 1 and _x.2xx > 1 and not.count > 1 and ANDy > 1',
    );
    expect(c.signals().map((s) => s.name)).toEqual([
      'http.server.p99_ms2',
      '_x.2xx',
      'not.count',
      'ANDy',
    ]);
  });

  it('lets function names be metric names when not called', () => {
    expect(evaluate('count > 1 and rate < max', { count: 2, rate: 1, max: 3 }).state).toBe('true');
  });

  it('lists each signal once, in source order, with how it is read', () => {
    const c = parseCondition(
      'p99(api.latency[5m]) > 500ms and p99(api.latency[5m]) < 1s or rate(orders[1m]) > 2 ' +
        'or quantile(99.9%, api.latency) > 1s or db > 1',
    );
    expect(c.signals()).toEqual([
      {
        name: 'api.latency',
        function: 'quantile',
        quantile: 0.99,
        windowSeconds: 300,
        text: 'p99(api.latency[5m])',
      },
      { name: 'orders', function: 'rate', windowSeconds: 60, text: 'rate(orders[1m])' },
      {
        name: 'api.latency',
        function: 'quantile',
        quantile: 0.999,
        text: 'quantile(0.999, api.latency)',
      },
      { name: 'db', function: 'value', text: 'db' },
    ]);
  });
});

describe('toString', () => {
  it.each([
    ['error_rate>0.05', 'error_rate > 0.05'],
    ['  ( (a) >  1 )\n AND\tb<2 ', 'a > 1 and b < 2'],
    ['(a > 1 and b > 1) and c > 1', 'a > 1 and b > 1 and c > 1'],
    ['a > 1 and (b > 1 and c > 1)', 'a > 1 and (b > 1 and c > 1)'],
    ['not (a > 1)', 'not a > 1'],
    ['(-a) * 2 > 1', '-a * 2 > 1'],
    ['-(a * 2) > 1', '-(a * 2) > 1'],
    ['0.80 * x < 1.50e2', '0.8 * x < 150'],
    ['quantile(0.50, m[60s]) > 1', 'quantile(0.5, m[1m]) > 1'],
  ])('%j prints as %j', (condition, expected) => {
    expect(parseCondition(condition).toString()).toBe(expected);
    expect(parseCondition(expected).ast).toEqual(parseCondition(condition).ast);
  });
});

describe('missing data', () => {
  it('makes a comparison with a missing operand no_data, naming the signal', () => {
    expect(evaluate('error_rate > 0.05', {})).toEqual({
      state: 'no_data',
      missing: ['error_rate'],
    });
    expect(evaluate('a > 0.8 * b', { a: 1 })).toEqual({
      state: 'no_data',
      value: 1,
      missing: ['b'],
    });
    expect(evaluate('p99(x[5m]) > 1 and p99(x[5m]) < 9', {})).toEqual({
      state: 'no_data',
      missing: ['p99(x[5m])'],
    });
  });

  it.each([NaN, Infinity, -Infinity])('treats %s from the source as missing', (bad) => {
    expect(evaluate('a > 1', { a: bad })).toEqual({ state: 'no_data', missing: ['a'] });
  });

  it('makes division by zero no_data without a missing signal', () => {
    expect(evaluate('a / b > 1', { a: 1, b: 0 })).toEqual({ state: 'no_data', missing: [] });
    expect(evaluate('a / b > 1', { a: 3, b: 2 }).state).toBe('true');
  });

  it('makes an overflow to infinity no_data', () => {
    expect(evaluate('a * a > 1', { a: 1e200 }).state).toBe('no_data');
  });

  // Kleene logic: T true, F false, N no_data (a comparison on a missing signal).
  const operand = { T: 'a > 0', F: 'a < 0', N: 'missing > 0' } as const;
  type V = keyof typeof operand;
  const state = { T: 'true', F: 'false', N: 'no_data' } as const;
  const and: Record<string, V> = {
    TT: 'T',
    TF: 'F',
    TN: 'N',
    FT: 'F',
    FF: 'F',
    FN: 'F',
    NT: 'N',
    NF: 'F',
    NN: 'N',
  };
  const or: Record<string, V> = {
    TT: 'T',
    TF: 'T',
    TN: 'T',
    FT: 'T',
    FF: 'F',
    FN: 'N',
    NT: 'T',
    NF: 'N',
    NN: 'N',
  };
  it.each(Object.entries(and))('%s and is %s', (pair, result) => {
    const [l, r] = [pair[0] as V, pair[1] as V];
    expect(evaluate(`${operand[l]} and ${operand[r]}`, { a: 1 }).state).toBe(state[result]);
  });
  it.each(Object.entries(or))('%s or is %s', (pair, result) => {
    const [l, r] = [pair[0] as V, pair[1] as V];
    expect(evaluate(`${operand[l]} or ${operand[r]}`, { a: 1 }).state).toBe(state[result]);
  });
  it.each([
    ['T', 'false'],
    ['F', 'true'],
    ['N', 'no_data'],
  ] as const)('not %s is %s', (v, result) => {
    expect(evaluate(`not ${operand[v]}`, { a: 1 }).state).toBe(result);
  });

  it('evaluates both sides, so every missing signal is listed', () => {
    expect(evaluate('x > 1 and y > 1 or a < 0', { a: 1 })).toEqual({
      state: 'no_data',
      missing: ['x', 'y'],
    });
    expect(evaluate('a < 0 and y > 1', { a: 1 })).toEqual({
      state: 'false',
      value: 1,
      missing: ['y'],
    });
  });
});

describe('evaluate', () => {
  it('reports the left side of the first comparison as the value', () => {
    expect(evaluate('not (a > 1 or b > 1)', { a: 5, b: 0 }).value).toBe(5);
    expect(evaluate('true or b > 1', { b: 7 }).value).toBe(7);
    expect(evaluate('true', {})).toEqual({ state: 'true', missing: [] });
  });

  it('is deterministic and keeps no state between evaluations', () => {
    const c = parseCondition('p99(x) > 500ms or error_rate > 5% and y / z > 1');
    const values = { 'q:0.99:x': 300, error_rate: 0.06, y: 3 };
    const first = c.evaluate(fakeSource(values), COMPONENT, WINDOW);
    for (let i = 0; i < 100; i++) {
      expect(c.evaluate(fakeSource(values), COMPONENT, WINDOW)).toEqual(first);
    }
    expect(first).toEqual({ state: 'no_data', value: 300, missing: ['z'] });
    expect(c.evaluate(fakeSource({ ...values, z: 1 }), COMPONENT, WINDOW).state).toBe('true');
    expect(c.evaluate(fakeSource(values), COMPONENT, WINDOW)).toEqual(first);
  });

  it('passes the component and the default window through', () => {
    const source = fakeSource({});
    parseCondition('a > 1 and b[1m] > 1').evaluate(source, 'marketplace', 900);
    expect(source.calls).toEqual(['signal:a:marketplace:900', 'signal:b:marketplace:60']);
  });

  it('never evaluates text as code', () => {
    expect(() => parseCondition('process.exit(1) > 0')).toThrow(ConditionSyntaxError);
    expect(() => parseCondition("constructor > 0 or x['y'] > 1")).toThrow(ConditionSyntaxError);
  });
});
