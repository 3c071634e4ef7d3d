/**
 * security/: security events, threat detection, the tamper-evident audit log and
 * redaction. Records through the monitor's public recording surface; may import from
 * clock/, diagnostics/, metrics/ (types), alerting/ (types) and health/ (types),
 * never from exporters or the server.
 *
 * This file: redaction. A pure `redact(value, rules)` that masks configured keys,
 * card numbers and (when asked) e-mail addresses in nested values, applied before
 * anything is stored or exported.
 */

/**
 * The keys masked by default, compared after lower-casing and dropping everything
 * but letters and digits (`api_key`, `X-API-Key` and `apiKey` all read `apikey`): a
 * key is sensitive when its normalised form contains one of these. Over-matching
 * (`tokenizer` contains `token`) is on purpose: masking too much is safe.
 *
 * @example
 * ```ts
 * const rules: RedactionOptions = { keys: [...DEFAULT_REDACTED_KEYS, 'ssn'] };
 * ```
 */
export const DEFAULT_REDACTED_KEYS: readonly string[] = Object.freeze([
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'authorization',
  'cookie',
  'apikey',
  'privatekey',
  'cardnumber',
  'creditcard',
  'cvv',
]);

/**
 * What {@link redact} masks.
 *
 * @example
 * ```ts
 * const rules: RedactionOptions = {
 *   keys: [...DEFAULT_REDACTED_KEYS, 'ssn', /^x-internal-/i],
 *   emails: true,
 *   mask: '***',
 * };
 * ```
 */
export interface RedactionOptions {
  /**
   * Sensitive keys: a string matches every key whose normalised form (lower case,
   * letters and digits only) contains the string's normalised form; a RegExp is
   * tested against the key as written. The value of a sensitive key is replaced by
   * the mask whatever it is (a nested object included). Default
   * {@link DEFAULT_REDACTED_KEYS}.
   */
  readonly keys?: readonly (string | RegExp)[];
  /**
   * Mask card numbers inside strings: runs of 13 to 19 digits (single spaces or
   * dashes allowed between digits), not touching further digits, that pass the Luhn
   * check. Default true.
   */
  readonly cardNumbers?: boolean;
  /** Mask e-mail addresses inside strings, and values of keys containing `email`. Default false. */
  readonly emails?: boolean;
  /**
   * Mask secrets written inline in strings: `key=value` and `key: value` pairs
   * whose key is sensitive (`password=hunter2`, `"token":"abc"`), and the
   * credentials after `Bearer` and `Basic`. Default true.
   */
  readonly inline?: boolean;
  /** What replaces a masked value. Default `'[REDACTED]'`. */
  readonly mask?: string;
  /** Nesting depth below which values are replaced by `'[Truncated]'`. Default 16. */
  readonly maxDepth?: number;
}

/**
 * A compiled set of redaction rules: build it once, apply it to many values.
 *
 * @example
 * ```ts
 * const redactor = createRedactor({ emails: true });
 * redactor.redact({ user: 'a@b.io', password: 'x' }); // { user: '[REDACTED]', password: '[REDACTED]' }
 * ```
 */
export interface Redactor {
  /** A redacted deep copy of `value` (see {@link redact}). Never throws. */
  redact(value: unknown): unknown;
  /** A redacted copy of a flat attribute map (span attributes, alert annotations). Never throws. */
  redactAttributes<V>(attributes: Readonly<Record<string, V>>): Record<string, V | string>;
  /** A string with its inline secrets, card numbers and (if configured) e-mails masked. */
  redactString(text: string): string;
  /** Whether a key's value would be masked. */
  isSensitiveKey(key: string): boolean;
}

const BEARER = /\b(Bearer|Basic|Token|Digest)(\s+)([A-Za-z0-9._~+/=-]{4,})/gi;
// `key=value`, `key: value`, `"key":"value"`: the key and its separator; the value
// is read by VALUE from where the separator ends.
const INLINE_PAIR = /([A-Za-z0-9_.-]+)(["']?\s*[:=]\s*["']?)/g;
const VALUE = /[^\s"'&;,}\]]+/y;
// 13 to 19 digits, with single spaces or dashes between them, not touching another digit.
const CARD_RUN = /(?<!\d[ -]?)\d(?:[ -]?\d){12,18}(?![ -]?\d)/g;
// What any of the patterns above needs: a digit, a separator, an `@` or a scheme word.
// Strings without one (most) skip every pattern.
const MAYBE_SECRET = /[0-9=:@]|bearer|basic|token|digest/i;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * Whether a string of digits passes the Luhn check (the checksum of card numbers).
 *
 * @example
 * ```ts
 * luhnValid('4111111111111111'); // true
 * luhnValid('4111111111111112'); // false
 * ```
 */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

class CompiledRedactor implements Redactor {
  readonly #substrings: string[] = [];
  readonly #patterns: RegExp[] = [];
  readonly #cards: boolean;
  readonly #emails: boolean;
  readonly #inline: boolean;
  readonly #mask: string;
  readonly #maxDepth: number;
  /** Keys seen, with their verdict: keys repeat far more than they vary. Bounded. */
  readonly #verdicts = new Map<string, boolean>();

  constructor(options: RedactionOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('redaction options must be an object');
    }
    const keys: unknown = options.keys ?? DEFAULT_REDACTED_KEYS;
    if (!Array.isArray(keys)) throw new TypeError('redaction.keys must be an array');
    for (const key of keys as unknown[]) {
      if (typeof key === 'string') {
        const n = normaliseKey(key);
        if (n === '') throw new TypeError(`redaction.keys: "${key}" has no letters or digits`);
        this.#substrings.push(n);
      } else if (key instanceof RegExp) {
        // A global or sticky RegExp keeps state between tests: use a stateless copy.
        this.#patterns.push(new RegExp(key.source, key.flags.replace(/[gy]/g, '')));
      } else throw new TypeError('redaction.keys must hold strings and regular expressions');
    }
    for (const [name, value] of [
      ['cardNumbers', options.cardNumbers],
      ['emails', options.emails],
      ['inline', options.inline],
    ] as const) {
      if (value !== undefined && typeof value !== 'boolean') {
        throw new TypeError(`redaction.${name} must be a boolean`);
      }
    }
    this.#cards = options.cardNumbers ?? true;
    this.#emails = options.emails ?? false;
    this.#inline = options.inline ?? true;
    if (this.#emails) this.#substrings.push('email');
    const mask = options.mask ?? '[REDACTED]';
    if (typeof mask !== 'string') throw new TypeError('redaction.mask must be a string');
    this.#mask = mask;
    const maxDepth = options.maxDepth ?? 16;
    if (!Number.isInteger(maxDepth) || maxDepth < 1) {
      throw new TypeError('redaction.maxDepth must be an integer >= 1');
    }
    this.#maxDepth = maxDepth;
  }

  isSensitiveKey(key: string): boolean {
    const known = this.#verdicts.get(key);
    if (known !== undefined) return known;
    const n = normaliseKey(key);
    let sensitive = false;
    for (const s of this.#substrings) {
      if (n.includes(s)) {
        sensitive = true;
        break;
      }
    }
    if (!sensitive) for (const p of this.#patterns) if (p.test(key)) sensitive = true;
    if (this.#verdicts.size >= 4096) this.#verdicts.clear();
    this.#verdicts.set(key, sensitive);
    return sensitive;
  }

  redactString(text: string): string {
    if (!MAYBE_SECRET.test(text)) return text;
    let out = text;
    const mask = this.#mask;
    if (this.#inline) {
      out = out.replace(BEARER, (_m, scheme: string, space: string) => `${scheme}${space}${mask}`);
      out = this.#inlinePairs(out);
    }
    if (this.#cards) {
      out = out.replace(CARD_RUN, (m) => (luhnValid(m.replace(/[ -]/g, '')) ? mask : m));
    }
    if (this.#emails) out = out.replace(EMAIL, mask);
    return out;
  }

  /**
   * Masks the values of sensitive `key=value` pairs. A pair that is not sensitive is
   * skipped only up to its separator, so a sensitive pair inside its value is found.
   */
  #inlinePairs(text: string): string {
    let out = '';
    let copied = 0;
    INLINE_PAIR.lastIndex = 0;
    for (let m = INLINE_PAIR.exec(text); m !== null; m = INLINE_PAIR.exec(text)) {
      const afterSeparator = m.index + m[0].length;
      if (!this.isSensitiveKey(m[1]!)) continue;
      VALUE.lastIndex = afterSeparator;
      const value = VALUE.exec(text);
      if (value === null) continue;
      out += text.slice(copied, afterSeparator) + this.#mask;
      copied = afterSeparator + value[0].length;
      INLINE_PAIR.lastIndex = copied;
    }
    return copied === 0 ? text : out + text.slice(copied);
  }

  redact(value: unknown): unknown {
    try {
      return this.#value(value, 0, []);
    } catch {
      // A hostile getter or proxy: nothing of it is kept.
      return this.#mask;
    }
  }

  redactAttributes<V>(attributes: Readonly<Record<string, V>>): Record<string, V | string> {
    const out: Record<string, V | string> = {};
    try {
      for (const key of Object.keys(attributes)) {
        const v = attributes[key]!;
        if (this.isSensitiveKey(key)) out[key] = this.#mask;
        else if (typeof v === 'string') out[key] = this.redactString(v);
        else if (Array.isArray(v)) out[key] = this.#value(v, 0, []) as V;
        else out[key] = v;
      }
    } catch {
      return {};
    }
    return out;
  }

  #value(value: unknown, depth: number, ancestors: object[]): unknown {
    switch (typeof value) {
      case 'string':
        return this.redactString(value);
      case 'object':
        break;
      case 'function':
      case 'symbol':
        return undefined;
      case 'bigint':
        return value.toString();
      default:
        return value;
    }
    if (value === null) return null;
    if (depth >= this.#maxDepth) return '[Truncated]';
    if (ancestors.includes(value)) return '[Circular]';
    if (value instanceof Date) {
      return Number.isNaN(value.getTime()) ? null : value.toISOString();
    }
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return '[Binary]';
    ancestors.push(value);
    try {
      if (Array.isArray(value)) {
        const out = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++) {
          out[i] = this.#value(value[i] as unknown, depth + 1, ancestors);
        }
        return out;
      }
      if (value instanceof Map) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of value as Map<unknown, unknown>) {
          const key = String(k);
          out[key] = this.isSensitiveKey(key) ? this.#mask : this.#value(v, depth + 1, ancestors);
        }
        return out;
      }
      if (value instanceof Set) {
        return [...(value as Set<unknown>)].map((v) => this.#value(v, depth + 1, ancestors));
      }
      if (value instanceof Error) {
        return { name: this.redactString(value.name), message: this.redactString(value.message) };
      }
      const out: Record<string, unknown> = {};
      const source = value as Record<string, unknown>;
      for (const key of Object.keys(source)) {
        out[key] = this.isSensitiveKey(key)
          ? this.#mask
          : this.#value(source[key], depth + 1, ancestors);
      }
      return out;
    } finally {
      ancestors.pop();
    }
  }
}

/**
 * Compiles redaction rules. Throws a `TypeError` naming a bad option.
 *
 * @example
 * ```ts
 * const redactor = createRedactor({ keys: [...DEFAULT_REDACTED_KEYS, 'ssn'] });
 * span.setAttributes(redactor.redactAttributes(attributes));
 * ```
 */
export function createRedactor(options: RedactionOptions = {}): Redactor {
  return new CompiledRedactor(options);
}

const defaultRedactors = new WeakMap<RedactionOptions, Redactor>();
const DEFAULT_RULES: RedactionOptions = Object.freeze({});

/**
 * A redacted deep copy of `value`, for storage and export: values of sensitive keys
 * are replaced by the mask (whatever they hold); strings have their inline secrets,
 * card numbers and (with `emails: true`) e-mail addresses masked; plain objects and
 * arrays are copied, a `Map` becomes an object, a `Set` an array, a `Date` its ISO
 * string, an `Error` `{ name, message }`, binary data `'[Binary]'`, functions and
 * symbols `undefined`, cycles `'[Circular]'`, values deeper than `maxDepth`
 * `'[Truncated]'`. Numbers are kept (a 13-digit millisecond timestamp is not a card).
 * The input is never modified. Rules are compiled once per rules object.
 *
 * @example
 * ```ts
 * redact({ user: 'u1', password: 'hunter2', note: 'card 4111 1111 1111 1111' });
 * // { user: 'u1', password: '[REDACTED]', note: 'card [REDACTED]' }
 * ```
 */
export function redact(value: unknown, rules: RedactionOptions = DEFAULT_RULES): unknown {
  let redactor = defaultRedactors.get(rules);
  if (redactor === undefined) {
    redactor = createRedactor(rules);
    defaultRedactors.set(rules, redactor);
  }
  return redactor.redact(value);
}
