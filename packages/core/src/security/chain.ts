/**
 * The audit log's hash chain: the canonical JSON every hash is taken over, the
 * stored record's shape, and `verifyChain`, which finds the first record that was
 * changed, removed, inserted or reordered.
 *
 * A stored line is the canonical JSON of the record without `hash` (keys sorted,
 * no whitespace), with `,"hash":"<hex>"` appended before the closing brace. `hash`
 * is the SHA-256 (hex) of that canonical JSON, which holds `prev_hash` (the previous
 * record's `hash`, or {@link GENESIS_HASH} for the first) and `seq` (0, 1, 2...).
 */
import * as crypto from 'node:crypto';

// Node ≥ 20.12 has a one-shot hash (no Hash object per call): about twice as fast.
const oneShotHash = (
  crypto as unknown as {
    hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string;
  }
).hash;
/**
 * A JSON string literal: `JSON.stringify`'s, without its cost when nothing needs
 * escaping. @internal
 *
 * @example
 * ```ts
 * quote('a"b') === JSON.stringify('a"b'); // true
 * ```
 */
export function quote(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Control characters, `"`, `\\` and surrogates (escaped when lone) take the slow path.
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/** The keys a record may hold, sorted: records are serialised without sorting. */
const RECORD_KEYS: readonly string[] = [
  'action',
  'compliance_tags',
  'hash',
  'ip_address',
  'metadata',
  'outcome',
  'prev_hash',
  'request_id',
  'resource_id',
  'resource_type',
  'seq',
  'session_id',
  'timestamp',
  'user_agent',
  'user_id',
].sort();
const RECORD_KEY_SET: ReadonlySet<string> = new Set(RECORD_KEYS);

/**
 * The `prev_hash` of the first record of a log: 64 zeros.
 *
 * @example
 * ```ts
 * const first = JSON.parse(firstLine) as AuditRecord;
 * first.prev_hash === GENESIS_HASH; // true for a log never cut by retention
 * ```
 */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * A value the audit log stores: JSON, with finite numbers only.
 *
 * @example
 * ```ts
 * const metadata: Record<string, AuditJsonValue> = { strategy: 'multi_teacher', teacher_models: 3 };
 * ```
 */
export type AuditJsonValue =
  | string
  | number
  | boolean
  | null
  | readonly AuditJsonValue[]
  | { readonly [key: string]: AuditJsonValue };

/**
 * One audit entry as stored: the spec's fields (`timestamp` ISO 8601), plus its place
 * in the chain (`seq`, `prev_hash`) and its own `hash`. A record written through
 * `@audited` may lack a required field (see `AuditLog.completeness`).
 *
 * @example
 * ```ts
 * const record: AuditRecord = monitor.audit.record({
 *   user_id: 'user_123', action: 'create_distillation_job',
 *   resource_type: 'distillation_jobs', outcome: 'success',
 * })!;
 * console.log(record.seq, record.hash);
 * ```
 */
export interface AuditRecord {
  readonly seq: number;
  readonly prev_hash: string;
  readonly hash: string;
  readonly timestamp: string;
  readonly user_id?: string;
  readonly action?: string;
  readonly resource_type?: string;
  readonly resource_id?: string;
  readonly outcome?: string;
  readonly ip_address?: string;
  readonly user_agent?: string;
  readonly session_id?: string;
  readonly request_id?: string;
  readonly metadata?: { readonly [key: string]: AuditJsonValue };
  readonly compliance_tags?: readonly string[];
}

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, as `Array.prototype.sort`
 * does), no whitespace, `undefined` object members left out (`null` in arrays),
 * strings and numbers as `JSON.stringify` writes them. Throws a `TypeError` on a
 * non-finite number, a bigint, a function or a symbol.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, 'x'] }); // '{"a":[true,"x"],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no non-finite numbers');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          out += item === undefined ? 'null' : canonicalJson(item);
        }
        return `${out}]`;
      }
      const source = value as Record<string, unknown>;
      const own = Object.keys(source);
      let keys = RECORD_KEYS;
      for (const key of own) {
        if (!RECORD_KEY_SET.has(key)) {
          keys = own.sort();
          break;
        }
      }
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = source[key];
        if (v === undefined) continue;
        out += `${first ? '' : ','}${quote(key)}:${canonicalJson(v)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/**
 * The SHA-256 (hex) of a string.
 *
 * @example
 * ```ts
 * sha256Hex(canonicalJson(body)) === record.hash;
 * ```
 */
export function sha256Hex(text: string): string {
  return oneShotHash === undefined
    ? crypto.createHash('sha256').update(text).digest('hex')
    : oneShotHash('sha256', text, 'hex');
}

/**
 * Seals a record body: its hash and its stored line.
 *
 * @example
 * ```ts
 * const { hash, line } = sealRecord({ seq: 0, prev_hash: GENESIS_HASH, timestamp, action: 'x' });
 * ```
 */
export function sealRecord(body: Readonly<Record<string, unknown>>): {
  hash: string;
  line: string;
} {
  const canonical = canonicalJson(body);
  return sealCanonical(canonical);
}

/**
 * Seals a record body already in canonical JSON. @internal
 *
 * @example
 * ```ts
 * const { hash, line } = sealCanonical(canonicalJson(body));
 * ```
 */
export function sealCanonical(canonical: string): { hash: string; line: string } {
  const hash = sha256Hex(canonical);
  return { hash, line: `${canonical.slice(0, -1)},"hash":"${hash}"}` };
}

/**
 * Where {@link sealInto} leaves its result: the hash, and the end of the line written.
 * @internal
 *
 * @example
 * ```ts
 * const sealed: SealedLine = { hash: '', end: 0 };
 * ```
 */
export interface SealedLine {
  hash: string;
  end: number;
}

/**
 * Bytes a sealed line takes beyond its canonical JSON: `,"hash":"<64 hex>"}` in place
 * of the closing brace. @internal
 *
 * @example
 * ```ts
 * const room = canonical.length * 3 + SEAL_EXTRA_BYTES;
 * ```
 */
export const SEAL_EXTRA_BYTES = 74;

const HASH_KEY = ',"hash":"';

/**
 * Writes the sealed line of a record body already in canonical JSON into `buffer` at
 * `offset` (UTF-8, no newline; room needed: `canonical.length * 3 +`
 * {@link SEAL_EXTRA_BYTES}), hashing the bytes written, so the text is encoded once:
 * the same line and hash as {@link sealCanonical}. @internal
 *
 * @example
 * ```ts
 * sealInto(buffer, used, canonical, sealed);
 * buffer[sealed.end] = 10; // the newline
 * ```
 */
export function sealInto(buffer: Buffer, offset: number, canonical: string, out: SealedLine): void {
  const n = buffer.write(canonical, offset);
  const bytes = buffer.subarray(offset, offset + n);
  const hash =
    oneShotHash === undefined
      ? crypto.createHash('sha256').update(bytes).digest('hex')
      : oneShotHash('sha256', bytes, 'hex');
  // The closing brace gives way to the hash member.
  const at = offset + n - 1;
  out.hash = hash;
  out.end = at + buffer.write(`${HASH_KEY}${hash}"}`, at, 'latin1');
}

/**
 * What `verifyChain` found wrong at the first bad record: `changed` (its content no
 * longer matches its hash, or it was rewritten with a new hash so its successor's
 * `prev_hash` no longer matches), `removed` (records before it are missing),
 * `inserted` (it is not part of the chain: its successor links past it), `reordered`
 * (records are out of sequence), `malformed` (not a JSON record).
 *
 * @example
 * ```ts
 * const problem: ChainProblem = 'removed';
 * ```
 */
export type ChainProblem = 'changed' | 'removed' | 'inserted' | 'reordered' | 'malformed';

/**
 * The outcome of a verification. `ok` with the records checked, the first and last
 * `seq` and the head hash; else the first bad record: its index among the lines
 * (0-based), its `seq` when readable, the problem and a message.
 *
 * @example
 * ```ts
 * const v = await monitor.audit.verify();
 * if (!v.ok) console.error(`audit log tampered at line ${v.index + 1}: ${v.problem}`);
 * ```
 */
export type ChainVerification =
  | {
      readonly ok: true;
      readonly records: number;
      readonly firstSeq: number | undefined;
      readonly lastSeq: number | undefined;
      /** The hash of the last record (the anchor when empty). */
      readonly headHash: string;
    }
  | {
      readonly ok: false;
      readonly index: number;
      readonly seq: number | undefined;
      readonly problem: ChainProblem;
      readonly message: string;
      /** Records read before the verdict. */
      readonly records: number;
    };

/**
 * Where a chain may start: the genesis by default; an export's proof; or, for a log
 * cut by retention, any anchor confirmed by a later `audit.retention_cut` record.
 *
 * @example
 * ```ts
 * verifyChain(lines, { anchor: { seq: proof.first_seq, prevHash: proof.prev_hash } });
 * ```
 */
export interface ChainAnchor {
  /** The `seq` of the first record. */
  readonly seq: number;
  /** Its `prev_hash`. */
  readonly prevHash: string;
}

/**
 * Options of {@link verifyChain}.
 *
 * @example
 * ```ts
 * const options: VerifyChainOptions = { anchor: { seq: 0, prevHash: GENESIS_HASH } };
 * ```
 */
export interface VerifyChainOptions {
  /**
   * The trusted start. Default: the genesis (`seq` 0, {@link GENESIS_HASH}); a log
   * whose first record starts elsewhere verifies only when one of its records is an
   * `audit.retention_cut` whose metadata names that start (`first_kept_seq`,
   * `anchor_hash`).
   */
  readonly anchor?: ChainAnchor;
}

/**
 * The action of the record a retention cut appends.
 *
 * @example
 * ```ts
 * const cuts = records.filter((r) => r.action === RETENTION_CUT_ACTION);
 * ```
 */
export const RETENTION_CUT_ACTION = 'audit.retention_cut';

interface Parsed {
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
  readonly record: Record<string, unknown>;
}

function parseLine(line: string | AuditRecord): Parsed | string {
  let record: unknown;
  if (typeof line === 'string') {
    try {
      record = JSON.parse(line);
    } catch {
      return 'not JSON';
    }
  } else record = line;
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return 'not a JSON object';
  }
  const r = record as Record<string, unknown>;
  const { seq, prev_hash: prev, hash } = r;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'no valid seq';
  if (typeof prev !== 'string' || typeof hash !== 'string') return 'no prev_hash or hash';
  return { seq, prev, hash, record: r };
}

function contentHash(record: Record<string, unknown>): string | undefined {
  const body: Record<string, unknown> = {};
  for (const key of Object.keys(record)) if (key !== 'hash') body[key] = record[key];
  try {
    return sha256Hex(canonicalJson(body));
  } catch {
    return undefined;
  }
}

function cutConfirms(record: Record<string, unknown>, first: Parsed): boolean {
  if (record['action'] !== RETENTION_CUT_ACTION) return false;
  const metadata = record['metadata'];
  if (metadata === null || typeof metadata !== 'object') return false;
  const m = metadata as Record<string, unknown>;
  return m['first_kept_seq'] === first.seq && m['anchor_hash'] === first.prev;
}

/**
 * Verifies a chain of stored records (lines of a JSONL log, or parsed records), in
 * one pass: each record's hash must match its content, its `prev_hash` the previous
 * record's hash and its `seq` the previous `seq` + 1. Reports the first bad record:
 * a record whose content changed is `changed`; one rewritten with a recomputed hash
 * is `changed` too (found at its successor, reported at itself); a record forged
 * into the chain, `inserted` (its successor links past it); records missing before
 * a record, `removed` at it; records swapped, `reordered`. Never throws.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const lines = readFileSync('audit.jsonl', 'utf8').split('\n').filter(Boolean);
 * const v = verifyChain(lines);
 * console.log(v.ok ? `verified ${v.records} records` : `${v.problem} at line ${v.index + 1}`);
 * ```
 */
export function verifyChain(
  lines: Iterable<string | AuditRecord>,
  options: VerifyChainOptions = {},
): ChainVerification {
  // Only the last two records are kept: verification is constant in memory.
  let previous: Parsed | undefined;
  let beforePrevious: Parsed | undefined;
  let index = 0;
  let anchor = options.anchor;
  let confirmed = anchor !== undefined;
  let first: Parsed | undefined;
  const fail = (
    at: number,
    problem: ChainProblem,
    message: string,
    seq: number | undefined,
  ): ChainVerification => ({ ok: false, index: at, seq, problem, message, records: index });
  const iterator = lines[Symbol.iterator]();
  for (let next = iterator.next(); next.done !== true; next = iterator.next()) {
    const p = parseLine(next.value);
    if (typeof p === 'string')
      return fail(index, 'malformed', `line ${index + 1}: ${p}`, undefined);
    const computed = contentHash(p.record);
    if (computed !== p.hash) {
      return fail(index, 'changed', `record ${p.seq}: its content does not match its hash`, p.seq);
    }
    if (first === undefined) {
      first = p;
      if (anchor === undefined) {
        // A log cut by retention starts later: accepted if a retention cut confirms it.
        anchor = { seq: p.seq, prevHash: p.prev };
        confirmed = p.seq === 0 && p.prev === GENESIS_HASH;
      }
    }
    const expectedSeq = previous === undefined ? anchor!.seq : previous.seq + 1;
    const expectedPrev = previous === undefined ? anchor!.prevHash : previous.hash;
    if (p.seq !== expectedSeq || p.prev !== expectedPrev) {
      const verdict = diagnose(
        p,
        index,
        previous,
        beforePrevious,
        expectedSeq,
        expectedPrev,
        anchor!,
      );
      if (verdict !== 'lookahead') {
        return fail(verdict.at, verdict.problem, verdict.message, verdict.seq);
      }
      // The records after this one decide between reordered and removed.
      const later: number[] = [];
      for (let rest = iterator.next(); rest.done !== true; rest = iterator.next()) {
        const q = parseLine(rest.value);
        if (typeof q !== 'string') later.push(q.seq);
      }
      return lookahead(p, index, expectedSeq, later, fail);
    }
    if (!confirmed && cutConfirms(p.record, first)) confirmed = true;
    beforePrevious = previous;
    previous = { seq: p.seq, prev: p.prev, hash: p.hash, record: EMPTY };
    index++;
  }
  if (!confirmed && first !== undefined) {
    return {
      ok: false,
      index: 0,
      seq: first.seq,
      problem: 'removed',
      message: `the log starts at record ${first.seq} and no retention cut accounts for the records before it`,
      records: index,
    };
  }
  const last = previous;
  return {
    ok: true,
    records: index,
    firstSeq: first?.seq,
    lastSeq: last?.seq,
    headHash: last?.hash ?? anchor?.prevHash ?? GENESIS_HASH,
  };
}

const EMPTY: Record<string, unknown> = Object.freeze({});

type Verdict =
  { at: number; seq: number | undefined; problem: ChainProblem; message: string } | 'lookahead';

function diagnose(
  p: Parsed,
  i: number,
  previous: Parsed | undefined,
  beforePrevious: Parsed | undefined,
  expectedSeq: number,
  expectedPrev: string,
  anchor: ChainAnchor,
): Verdict {
  // A copy of the previous record: this one is the extra.
  if (previous !== undefined && p.hash === previous.hash) {
    return {
      at: i,
      seq: p.seq,
      problem: 'inserted',
      message: `record at line ${i + 1} repeats record ${p.seq}`,
    };
  }
  // Its successor links past the previous record: the previous one was inserted.
  if (previous !== undefined) {
    const linkPast = beforePrevious === undefined ? anchor.prevHash : beforePrevious.hash;
    if (p.prev === linkPast && p.seq === expectedSeq - 1) {
      return {
        at: i - 1,
        seq: previous.seq,
        problem: 'inserted',
        message: `record at line ${i} is not part of the chain: the next record links past it`,
      };
    }
  }
  if (p.seq === expectedSeq) {
    // In sequence, but the previous record's hash is not what this one recorded:
    // the previous record was rewritten (with a recomputed hash).
    return previous === undefined
      ? {
          at: i,
          seq: p.seq,
          problem: 'removed',
          message: `record ${p.seq} does not link to the anchor ${expectedPrev}`,
        }
      : {
          at: i - 1,
          seq: previous.seq,
          problem: 'changed',
          message: `record ${previous.seq} was rewritten: record ${p.seq} holds another prev_hash`,
        };
  }
  return 'lookahead';
}

function lookahead(
  p: Parsed,
  i: number,
  expectedSeq: number,
  later: readonly number[],
  fail: (at: number, problem: ChainProblem, message: string, seq: number) => ChainVerification,
): ChainVerification {
  if (p.seq > expectedSeq && !later.some((s) => s >= expectedSeq && s < p.seq)) {
    const missing = p.seq - expectedSeq;
    return fail(
      i,
      'removed',
      `${missing} record(s) missing before record ${p.seq} (seq ${expectedSeq}..${p.seq - 1})`,
      p.seq,
    );
  }
  return fail(
    i,
    'reordered',
    `record ${p.seq} is out of sequence (expected ${expectedSeq})`,
    p.seq,
  );
}
