import { describe, expect, it } from 'vitest';

import { ConditionSyntaxError, parseCondition } from '../../index.js';

function errorOf(condition: string): ConditionSyntaxError {
  try {
    parseCondition(condition);
  } catch (error) {
    if (error instanceof ConditionSyntaxError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(condition)} parsed`);
}

// [condition, 0-based position, a piece of what was expected, what was found]
const BAD: readonly (readonly [string, number, string, string])[] = [
  ['', 0, 'a condition', 'end of input'],
  ['   ', 3, 'a condition', 'end of input'],
  ['error_rate >', 12, 'a number, a signal, a function call', 'end of input'],
  ['error_rate > )', 13, "a number, a signal, a function call or '('", "')'"],
  ['error_rate', 0, 'a comparison', "'error_rate', a number"],
  ['error_rate + 1', 0, 'a comparison', "'error_rate + 1', a number"],
  ['a > 1 and b', 10, 'a comparison', "'b', a number"],
  ['a or b > 1', 0, 'a comparison', "'a', a number"],
  ['not a', 4, 'a comparison', "'a', a number"],
  ['(a > 1) + 2 > 0', 0, 'a number', "'(a > 1)', a comparison"],
  ['a > (b > 1)', 4, 'a number', "'(b > 1)', a comparison"],
  ['-(a > 1) > 0', 1, 'a number', 'a comparison'],
  ['a < b < c', 6, 'comparisons do not chain', "'<'"],
  ['a == b != c', 7, 'comparisons do not chain', "'!='"],
  ['a > 1 b > 2', 6, "'and', 'or' or end of input", "'b'"],
  ['a b > 1', 2, 'an operator', "'b'"],
  ['(a > 1', 6, "'and', 'or' or ')'", 'end of input'],
  ['(a + 1 > 2', 10, "'and', 'or' or ')'", 'end of input'],
  ['((a + 1) > 2', 12, "'and', 'or' or ')'", 'end of input'],
  ['a > 1)', 5, "'and', 'or' or end of input", "')'"],
  ['foo(x) > 1', 0, 'a function (p50, p95, p99, quantile', "'foo'"],
  ['P99(x) > 1', 0, 'a function', "'P99'"],
  ['p99() > 1', 4, 'a metric name (p99 takes one metric)', "')'"],
  ['p99(x, y) > 1', 5, "')' or a window such as [5m] (p99 takes one metric)", "','"],
  ['avg(1) > 1', 4, 'a metric name', "'1'"],
  ['quantile(x) > 1', 9, 'a quantile between 0 and 1', "'x'"],
  ['quantile(0.9) > 1', 12, "','", "')'"],
  ['quantile(1.5, x) > 1', 9, 'a quantile between 0 and 1', "'1.5'"],
  ['quantile(5m, x) > 1', 9, 'a quantile between 0 and 1', "'5m'"],
  ['quantile(0.9, x, y) > 1', 15, "')'", "','"],
  ['p99(x[5m) > 1', 8, "']'", "')'"],
  ['p99(x[]) > 1', 6, 'a window of whole seconds', "']'"],
  ['p99(x[5]) > 1', 6, 'a window of whole seconds', "'5'"],
  ['p99(x[500ms]) > 1', 6, 'a window of whole seconds', "'500ms'"],
  ['p99(x[0.5s]) > 1', 6, 'a window of whole seconds', "'0.5s'"],
  ['p99(x[0m]) > 1', 6, 'a window of whole seconds', "'0m'"],
  ['x[5%] > 1', 2, 'a window of whole seconds', "'5%'"],
  ['a > 5min', 5, 'a unit (ms, s, m, h, d or %)', "'min'"],
  ['a > 5x', 5, 'a unit', "'x'"],
  ['a > 5m2', 6, 'a space or an operator after a number', "'2'"],
  ['a > 1.', 6, "a digit after '.'", 'end of input'],
  ['a > 1.2.3', 7, 'a space or an operator after a number', "'.'"],
  ['a > .5', 4, 'a number, a name, an operator', "'.'"],
  ['a. > 1', 2, "a name part after '.'", "' '"],
  ['a > 1e999', 4, 'a finite number', "'1e999'"],
  ['a > 1 && b > 1', 6, "write 'and' for '&&'", "'&'"],
  ['a > 1 || b > 1', 6, "write 'or' for '||'", "'|'"],
  ['a = 1', 2, "'=='", "'='"],
  ['!(a > 1)', 0, "'!=' (negate with 'not')", "'!'"],
  ['a % 2 > 1', 2, "'%' is a unit", "'%'"],
  ["a > 'x'", 4, 'a number, a name, an operator', "'''"],
  ['a > 1 and', 9, 'a number, a signal, a function call', 'end of input'],
  ['not', 3, 'a number, a signal, a function call', 'end of input'],
  ['a + not b > 1', 4, 'a number, a signal, a function call', "'not'"],
  ['a >> 1', 3, 'a number, a signal', "'>'"],
  ['a[5m] [1m] > 1', 6, 'an operator', "'['"],
  ['and > 1', 0, 'a number, a signal', "'and'"],
];

describe('ConditionSyntaxError', () => {
  it.each(BAD)('%j: at %d, expected %s, found %s', (condition, position, expected, found) => {
    const error = errorOf(condition);
    expect(error.position).toBe(position);
    expect(error.expected).toContain(expected);
    expect(error.found).toContain(found);
    expect(error.line).toBe(1);
    expect(error.column).toBe(position + 1);
    expect(error.message).toContain(`at 1:${position + 1}`);
    expect(error.message).toContain(`expected ${error.expected}`);
    expect(error.name).toBe('ConditionSyntaxError');
    expect(error.code).toBe('PRSM_CONDITION_SYNTAX');
    expect(error.source).toBe(condition);
    expect(error).toBeInstanceOf(Error);
  });

  it('shows the line and a caret under the position', () => {
    expect(errorOf('error_rate > )').message).toBe(
      "condition: expected a number, a signal, a function call or '(' at 1:14, found ')'\n" +
        '  error_rate > )\n' +
        '               ^',
    );
  });

  it('counts lines and columns from 1 on multi-line conditions', () => {
    const error = errorOf('a > 1 and\n  b >> 2');
    expect([error.position, error.line, error.column]).toEqual([15, 2, 6]);
    expect(error.message).toContain('at 2:6');
    expect(error.message).toContain('\n    b >> 2\n       ^');
  });

  it('shortens long lines around the caret', () => {
    const long = `${'a + '.repeat(50)}) > 1`;
    const error = errorOf(long);
    expect(error.position).toBe(200);
    const [, line, caret] = error.message.split('\n');
    expect(line!.length).toBeLessThan(90);
    expect(line!.startsWith('  …')).toBe(true);
    expect(line![caret!.indexOf('^')]).toBe(')');
  });

  it('rejects a condition longer than 4096 characters', () => {
    const error = errorOf(`a > ${'1'.repeat(5000)}`);
    expect(error.position).toBe(4096);
    expect(error.expected).toBe('a condition of at most 4096 characters');
    expect(error.found).toBe('5004 characters');
  });

  it('accepts 64 levels of nesting and rejects 65', () => {
    expect(parseCondition(`${'('.repeat(64)}a > 1${')'.repeat(64)}`).toString()).toBe('a > 1');
    expect(parseCondition(`${'not '.repeat(64)}a > 1`).ast.kind).toBe('not');
    expect(parseCondition(`${'-'.repeat(64)}a > 1`).ast.kind).toBe('compare');
    const parens = errorOf(`${'('.repeat(65)}a > 1${')'.repeat(65)}`);
    expect([parens.position, parens.expected]).toEqual([64, 'at most 64 levels of nesting']);
    expect(errorOf(`${'not '.repeat(65)}a > 1`).position).toBe(256);
    expect(errorOf(`${'-'.repeat(65)}a > 1`).position).toBe(64);
    expect(errorOf(`${'(-'.repeat(40)}a${')'.repeat(40)} > 1`).position).toBe(64);
  });

  it('rejects a value that is not a string', () => {
    const error = errorOf(42 as unknown as string);
    expect(error.expected).toBe('a condition string');
    expect(error.found).toBe('number');
  });
});
