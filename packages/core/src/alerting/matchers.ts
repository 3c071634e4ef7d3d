/** Alertmanager-style label matchers: checked once, compiled, then matched. @internal */
import { isArray } from '../metrics/types.js';
import type { LabelMatcher } from './types.js';

/** A checked matcher with its regular expression compiled. @internal */
export interface CompiledMatcher {
  readonly matcher: LabelMatcher;
  readonly test: (value: string) => boolean;
}

const TYPES = new Set(['=', '!=', '=~', '!~']);

/** Checks and compiles matchers; throws a `TypeError` naming `field` and the bad entry. @internal */
export function compileMatchers(
  matchers: unknown,
  field: string,
  allowEmpty = false,
): CompiledMatcher[] {
  if (!isArray(matchers) || (!allowEmpty && matchers.length === 0)) {
    throw new TypeError(`${field} must be ${allowEmpty ? 'an' : 'a non-empty'} array of matchers`);
  }
  return matchers.map((raw, i) => {
    const where = `${field}[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new TypeError(`${where} must be an object`);
    const m = raw as Partial<Record<keyof LabelMatcher, unknown>>;
    if (typeof m.name !== 'string' || m.name.length === 0) {
      throw new TypeError(`${where}.name must be a non-empty string`);
    }
    if (typeof m.value !== 'string') throw new TypeError(`${where}.value must be a string`);
    const type = m.type ?? '=';
    if (typeof type !== 'string' || !TYPES.has(type)) {
      throw new TypeError(`${where}.type must be one of =, !=, =~, !~`);
    }
    const matcher: LabelMatcher = Object.freeze({
      name: m.name,
      value: m.value,
      type: type as LabelMatcher['type'],
    });
    const value = m.value;
    if (type === '=') return { matcher, test: (v: string) => v === value };
    if (type === '!=') return { matcher, test: (v: string) => v !== value };
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`, 'u');
    } catch (error) {
      throw new TypeError(`${where}.value is not a valid regular expression: ${String(error)}`);
    }
    return type === '=~'
      ? { matcher, test: (v: string) => re.test(v) }
      : { matcher, test: (v: string) => !re.test(v) };
  });
}

/** Whether every matcher matches `labels` (a missing label reads as ''). @internal */
export function matchesAll(
  matchers: readonly CompiledMatcher[],
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const m of matchers) {
    if (!m.test(labels[m.matcher.name] ?? '')) return false;
  }
  return true;
}
