/**
 * The tokenizer: one pass over char codes, no regular expressions, so its time is
 * linear in the input whatever the input.
 */
import type { ConditionUnit } from './ast.js';
import { ConditionSyntaxError } from './errors.js';

/** Operators and punctuation are their own kind; keywords are lower-cased. */
export type TokenKind =
  | 'number'
  | 'name'
  | 'and'
  | 'or'
  | 'not'
  | 'true'
  | 'false'
  | '+'
  | '-'
  | '*'
  | '/'
  | '<'
  | '<='
  | '>'
  | '>='
  | '=='
  | '!='
  | '('
  | ')'
  | '['
  | ']'
  | ','
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** The source text of the token. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** number: the normalised value. */
  readonly value: number;
  /** number: as written before the unit. */
  readonly literal: number;
  readonly unit: ConditionUnit | undefined;
}

const KEYWORDS: ReadonlyMap<string, TokenKind> = new Map<string, TokenKind>([
  ['and', 'and'],
  ['or', 'or'],
  ['not', 'not'],
  ['true', 'true'],
  ['false', 'false'],
]);

/** Seconds per duration unit from seconds up; `ms` and `%` are decimal shifts. */
const SECONDS: Readonly<Record<'s' | 'm' | 'h' | 'd', number>> = {
  s: 1,
  m: 60,
  h: 3_600,
  d: 86_400,
};

/**
 * `literal` times 10^exp, rounded once from the decimal text: `99.9%` is exactly the
 * double nearest 0.999 and `1.1s` is 1100, where `99.9 / 100` and `1.1 * 1000` are not.
 */
function decimalShift(literal: number, exp: number): number {
  const text = String(literal);
  const e = text.indexOf('e');
  if (e < 0) return Number(`${text}e${exp}`);
  return Number(`${text.slice(0, e)}e${Number(text.slice(e + 1)) + exp}`);
}

/** The normalised value of a number written with a unit: milliseconds, or a fraction for `%`. */
export function applyUnit(literal: number, unit: ConditionUnit | undefined): number {
  if (unit === undefined) return literal;
  if (unit === '%') return decimalShift(literal, -2);
  if (unit === 'ms') return literal;
  return decimalShift(literal, 3) * SECONDS[unit];
}

const EXPECTED_TOKEN = "a number, a name, an operator, '(', ')', '[', ']' or ','";

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isNameStart(c: number): boolean {
  return isLetter(c) || c === 95;
}
function isNamePart(c: number): boolean {
  return isNameStart(c) || isDigit(c);
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** Quotes a piece of source for an error message, shortened when long. */
export function quote(text: string): string {
  const short = text.length > 24 ? `${text.slice(0, 24)}…` : text;
  return `'${short}'`;
}

/** Splits a condition into tokens, ending with an `eof` token; throws on a bad character. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const n = source.length;
  let i = 0;
  const fail = (at: number, expected: string, found?: string): never => {
    throw new ConditionSyntaxError(
      source,
      at,
      expected,
      found ?? (at >= n ? 'end of input' : quote(source.charAt(at))),
    );
  };
  const push = (kind: TokenKind, start: number, end: number): void => {
    tokens.push({
      kind,
      text: source.slice(start, end),
      start,
      end,
      value: 0,
      literal: 0,
      unit: undefined,
    });
  };
  while (i < n) {
    const c = source.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c)) {
      while (i < n && isDigit(source.charCodeAt(i))) i++;
      if (source.charCodeAt(i) === 46) {
        i++;
        if (!isDigit(source.charCodeAt(i))) fail(i, "a digit after '.'");
        while (i < n && isDigit(source.charCodeAt(i))) i++;
      }
      const e = source.charCodeAt(i);
      if (e === 101 || e === 69) {
        let j = i + 1;
        const sign = source.charCodeAt(j);
        if (sign === 43 || sign === 45) j++;
        if (isDigit(source.charCodeAt(j))) {
          i = j;
          while (i < n && isDigit(source.charCodeAt(i))) i++;
        }
      }
      const literal = Number(source.slice(start, i));
      if (!Number.isFinite(literal)) fail(start, 'a finite number', quote(source.slice(start, i)));
      let unit: ConditionUnit | undefined;
      if (source.charCodeAt(i) === 37) {
        unit = '%';
        i++;
      } else if (isLetter(source.charCodeAt(i))) {
        const unitStart = i;
        while (i < n && isLetter(source.charCodeAt(i))) i++;
        const text = source.slice(unitStart, i);
        if (text !== 'ms' && text !== 's' && text !== 'm' && text !== 'h' && text !== 'd') {
          fail(unitStart, 'a unit (ms, s, m, h, d or %)', quote(text));
        }
        unit = text as ConditionUnit;
      }
      if (i < n && (isNamePart(source.charCodeAt(i)) || source.charCodeAt(i) === 46)) {
        fail(i, 'a space or an operator after a number');
      }
      const value = applyUnit(literal, unit);
      if (!Number.isFinite(value)) fail(start, 'a finite number', quote(source.slice(start, i)));
      tokens.push({
        kind: 'number',
        text: source.slice(start, i),
        start,
        end: i,
        value,
        literal,
        unit,
      });
      continue;
    }
    if (isNameStart(c)) {
      i++;
      for (;;) {
        while (i < n && isNamePart(source.charCodeAt(i))) i++;
        if (source.charCodeAt(i) !== 46) break;
        i++;
        if (!isNamePart(source.charCodeAt(i))) fail(i, "a name part after '.'");
      }
      const text = source.slice(start, i);
      const keyword = text.length <= 5 ? KEYWORDS.get(text.toLowerCase()) : undefined;
      push(keyword ?? 'name', start, i);
      continue;
    }
    const next = source.charCodeAt(i + 1);
    switch (c) {
      case 43: // +
      case 45: // -
      case 42: // *
      case 47: // /
      case 40: // (
      case 41: // )
      case 91: // [
      case 93: // ]
      case 44: // ,
        i++;
        push(source.charAt(start) as TokenKind, start, i);
        continue;
      case 60: // <
      case 62: // >
        i += next === 61 ? 2 : 1;
        push(source.slice(start, i) as TokenKind, start, i);
        continue;
      case 61: // =
        if (next !== 61) fail(start, "'==' (a single '=' is not an operator)");
        i += 2;
        push('==', start, i);
        continue;
      case 33: // !
        if (next !== 61) fail(start, "'!=' (negate with 'not')");
        i += 2;
        push('!=', start, i);
        continue;
      case 38: // &
        fail(start, `${EXPECTED_TOKEN} (write 'and' for '&&')`);
        break;
      case 124: // |
        fail(start, `${EXPECTED_TOKEN} (write 'or' for '||')`);
        break;
      case 37: // %
        fail(start, `${EXPECTED_TOKEN} ('%' is a unit, as in 80%, not an operator)`);
        break;
      default:
        fail(start, EXPECTED_TOKEN);
    }
  }
  push('eof', n, n);
  return tokens;
}
