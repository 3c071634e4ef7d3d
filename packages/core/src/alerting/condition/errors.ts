/** The one error the condition parser throws: where, what was expected, what was found. */

/** Characters of the offending line shown either side of the caret. */
const EXCERPT_RADIUS = 40;

/**
 * A condition that does not parse or does not type-check. Thrown by
 * {@link parseCondition} only, when a rule is created; never while evaluating.
 *
 * The message names the 1-based line and column, what was expected and what was
 * found, followed by the offending line and a caret:
 *
 * ```text
 * condition: expected a number, a signal, a function call or '(' at 1:14, found ')'
 *   error_rate > )
 *                ^
 * ```
 *
 * @example
 * ```ts
 * try {
 *   parseCondition('error_rate > )');
 * } catch (error) {
 *   if (error instanceof ConditionSyntaxError) {
 *     console.log(error.line, error.column, error.expected); // 1 14 "a number, ..."
 *   }
 * }
 * ```
 */
export class ConditionSyntaxError extends Error {
  /** A stable code, for matching without parsing the message. */
  readonly code = 'PRSM_CONDITION_SYNTAX';
  /** The condition as given. */
  readonly source: string;
  /** 0-based offset of the problem in `source`. */
  readonly position: number;
  /** 1-based line of `position`. */
  readonly line: number;
  /** 1-based column of `position`. */
  readonly column: number;
  /** What the parser expected there, in words. */
  readonly expected: string;
  /** What it found there, in words (`'end of input'` at the end). */
  readonly found: string;

  /** @internal Built by the parser only. */
  constructor(source: string, position: number, expected: string, found: string) {
    const { line, column, excerpt } = locate(source, position);
    super(`condition: expected ${expected} at ${line}:${column}, found ${found}\n${excerpt}`);
    this.name = 'ConditionSyntaxError';
    this.source = source;
    this.position = position;
    this.line = line;
    this.column = column;
    this.expected = expected;
    this.found = found;
  }
}

function locate(
  source: string,
  position: number,
): { line: number; column: number; excerpt: string } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  let lineEnd = source.indexOf('\n', lineStart);
  if (lineEnd < 0) lineEnd = source.length;
  const column = position - lineStart + 1;
  const from = Math.max(lineStart, position - EXCERPT_RADIUS);
  const to = Math.min(lineEnd, position + EXCERPT_RADIUS);
  const text = source.slice(from, to).replace(/[\t\r]/g, ' ');
  const prefix = from > lineStart ? '…' : '';
  const suffix = to < lineEnd ? '…' : '';
  const caret = ' '.repeat(prefix.length + position - from) + '^';
  return { line, column, excerpt: `  ${prefix}${text}${suffix}\n  ${caret}` };
}
