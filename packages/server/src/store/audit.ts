/**
 * The server's copy of audit logs: each source's chain kept as sent (every record's
 * canonical line with its `seq`, `prev_hash` and `hash`), in two tables of its own in
 * the store's SQLite file, plus the store-level helper that drops a retried batch of
 * business metrics. Opened by the `MonitorStore` constructor on its connection; read
 * it with {@link auditStoreOf}. May import core's audit chain and the store's errors.
 */
import type Database from 'better-sqlite3';
import {
  type AuditRecord,
  type ChainProblem,
  type Clock,
  COMPLIANCE_TAGS,
  type ComplianceTag,
  DEFAULT_RETENTION_DAYS,
  GENESIS_HASH,
  RETENTION_CUT_ACTION,
  sealRecord,
  verifyChain,
} from '@prsm/core';

import { InputError } from '../errors.js';

const AUDIT_SQL = `
CREATE TABLE IF NOT EXISTS audit_entries (
  source      TEXT    NOT NULL,
  seq         INTEGER NOT NULL,
  hash        TEXT    NOT NULL,
  prev_hash   TEXT    NOT NULL,
  ts_ms       INTEGER NOT NULL,
  user_id     TEXT,
  action      TEXT,
  outcome     TEXT,
  line        TEXT    NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (source, seq)
);
CREATE INDEX IF NOT EXISTS audit_entries_time ON audit_entries (ts_ms);
CREATE INDEX IF NOT EXISTS audit_entries_user ON audit_entries (user_id, ts_ms);
CREATE INDEX IF NOT EXISTS audit_entries_action ON audit_entries (action, ts_ms);
CREATE TABLE IF NOT EXISTS audit_sources (
  source           TEXT    PRIMARY KEY,
  anchor_seq       INTEGER NOT NULL,
  anchor_prev_hash TEXT    NOT NULL,
  first_received   INTEGER NOT NULL,
  last_received    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_batches (
  batch_id    TEXT    PRIMARY KEY,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_batches_age ON audit_batches (received_at);
CREATE TABLE IF NOT EXISTS audit_retention_cuts (
  source         TEXT    PRIMARY KEY,
  first_kept_seq INTEGER NOT NULL,
  anchor_hash    TEXT    NOT NULL,
  cut_seq        INTEGER NOT NULL,
  cut_at         INTEGER NOT NULL
);
`;

const DAY_MS = 86_400_000;

/**
 * The source name of the server's own audit chain: the records the server writes
 * itself (an `audit.retention_cut` for every retention cut of another source's
 * rows). Reserved: `POST /audit` refuses it.
 *
 * @example
 * ```ts
 * const cuts = auditStoreOf(store).list({ source: SERVER_AUDIT_SOURCE });
 * ```
 */
export const SERVER_AUDIT_SOURCE = 'prsm-server';

/**
 * Retention of stored audit records, in ms, by compliance tag (`SOC2`, `ISO27001`,
 * `GDPR`, `HIPAA`) and `default` (records without a known tag). A record is kept for
 * the longest retention among its tags; tags left out take core's
 * `DEFAULT_RETENTION_DAYS`.
 *
 * @example
 * ```ts
 * const retention: AuditRecordRetention = { SOC2: 400 * 86_400_000, default: 365 * 86_400_000 };
 * openStore('./prsm-monitor.db', { auditRecordRetentionMs: retention });
 * ```
 */
export type AuditRecordRetention = Readonly<Partial<Record<ComplianceTag | 'default', number>>>;

/**
 * What one retention run over the stored audit records did (see
 * {@link AuditStore.applyRetention}).
 *
 * @example
 * ```ts
 * const { removed, expired } = auditStoreOf(store).applyRetention(Date.now());
 * ```
 */
export interface AuditRetentionResult {
  /** Records removed now. */
  readonly removed: number;
  /**
   * Records still stored past their retention: behind an older record still
   * retained (only a prefix of a chain is ever removed), or in a chain that does not
   * verify (never cut, so the break stays visible).
   */
  readonly expired: number;
  /** The cuts made, one per source: the first record kept. */
  readonly cuts: readonly {
    readonly source: string;
    readonly removed: number;
    readonly firstKeptSeq: number;
  }[];
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: DAY_MS,
};

/**
 * Parses the `--audit-retention` flag: `TAG=<duration>` pairs separated by commas,
 * the duration a number with a unit (`ms`, `s`, `m`, `h`, `d`), tags among `SOC2`,
 * `ISO27001`, `GDPR`, `HIPAA` and `default`. Throws a `TypeError` naming the bad part.
 *
 * @example
 * ```ts
 * parseAuditRetention('SOC2=400d,GDPR=30d,default=365d');
 * // { SOC2: 34560000000, GDPR: 2592000000, default: 31536000000 }
 * ```
 */
export function parseAuditRetention(text: string): AuditRecordRetention {
  const out: Partial<Record<ComplianceTag | 'default', number>> = {};
  for (const part of text.split(',')) {
    const [tag, duration, extra] = part.trim().split('=');
    if (tag === undefined || duration === undefined || extra !== undefined || tag === '') {
      throw new TypeError(`audit retention: '${part}' is not TAG=<duration> (e.g. SOC2=400d)`);
    }
    if (tag !== 'default' && !(COMPLIANCE_TAGS as readonly string[]).includes(tag)) {
      throw new TypeError(
        `audit retention: unknown tag ${tag} (known: default, ${COMPLIANCE_TAGS.join(', ')})`,
      );
    }
    const m = DURATION.exec(duration.trim());
    const ms = m === null ? NaN : Number(m[1]) * UNIT_MS[m[2]!]!;
    if (!(ms > 0) || !Number.isFinite(ms)) {
      throw new TypeError(
        `audit retention: ${tag}=${duration} is not a duration > 0 (a number and ms, s, m, h or d)`,
      );
    }
    out[tag as ComplianceTag | 'default'] = ms;
  }
  return out;
}

/**
 * Checks the store's `auditRecordRetentionMs` option; throws a `TypeError` naming a
 * bad value. @internal
 *
 * @example
 * ```ts
 * checkAuditRecordRetention({ SOC2: 400 * 86_400_000 });
 * ```
 */
export function checkAuditRecordRetention(option: unknown): void {
  if (option !== undefined) retentionOf(option);
}

/** The retention by tag, merged over core's defaults; throws a `TypeError` on a bad one. */
function retentionOf(option: unknown): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [tag, days] of Object.entries(DEFAULT_RETENTION_DAYS)) out[tag] = days * DAY_MS;
  if (option === null || typeof option !== 'object' || Array.isArray(option)) {
    throw new TypeError('auditRecordRetentionMs must be an object of ms by compliance tag');
  }
  for (const [tag, ms] of Object.entries(option as Record<string, unknown>)) {
    if (tag !== 'default' && !(COMPLIANCE_TAGS as readonly string[]).includes(tag)) {
      throw new TypeError(
        `auditRecordRetentionMs: unknown tag ${tag} (known: default, ${COMPLIANCE_TAGS.join(', ')})`,
      );
    }
    if (typeof ms !== 'number' || !(ms > 0) || !Number.isFinite(ms)) {
      throw new TypeError(`auditRecordRetentionMs.${tag} must be a number of ms > 0`);
    }
    out[tag] = ms;
  }
  return Object.freeze(out);
}

/** How long a batch id is remembered to drop a retried batch. */
const BATCH_ID_TTL_MS = 24 * 3_600_000;

/**
 * One audit record as `POST /audit` receives it: the spec's `audit_log_entry`
 * fields and the chain fields, exactly as the sending log sealed it.
 *
 * @example
 * ```ts
 * const entry: AuditEntryInput = JSON.parse(line) as AuditEntryInput;
 * ```
 */
export type AuditEntryInput = AuditRecord;

/**
 * The body of `POST /audit`.
 *
 * @example
 * ```ts
 * const body: AuditBatchInput = { batch_id: 'b-1', source: 'checkout', entries: [entry] };
 * ```
 */
export interface AuditBatchInput {
  /** Kept across retries; a batch id already stored is acknowledged and ignored. */
  readonly batch_id?: string;
  /** The chain the records belong to. */
  readonly source: string;
  /** When the attempt was made (informative). */
  readonly sent_at?: string;
  /** The records. */
  readonly entries: readonly AuditEntryInput[];
}

/**
 * What storing a batch did. `chain` says how the new records fit the stored chain:
 * `linked` (each follows its stored predecessor), `gap` (a predecessor is missing:
 * records were lost or are still to come), `mismatch` (a record's `prev_hash` is not
 * its stored predecessor's hash). Gaps and mismatches are stored all the same and
 * reported by `GET /audit/verify` until the chain is whole.
 *
 * @example
 * ```ts
 * const result: AuditIngestResult = auditStoreOf(store).ingest(body);
 * if (result.chain !== 'linked') console.warn(result.chain_message);
 * ```
 */
export interface AuditIngestResult {
  readonly duplicate: boolean;
  /** Records stored now. */
  readonly stored: number;
  /** Records already stored with the same hash (a retry), left as they were. */
  readonly ignored: number;
  readonly chain: 'linked' | 'gap' | 'mismatch';
  readonly chain_message?: string;
}

/**
 * A filter of `GET /audit`.
 *
 * @example
 * ```ts
 * const query: AuditQuery = { from: '2024-01-15T00:00:00Z', user_id: 'user_123', limit: 50 };
 * ```
 */
export interface AuditQuery {
  /** Records at or after this time (ISO 8601). */
  readonly from?: string;
  /** Records before this time (ISO 8601). */
  readonly to?: string;
  readonly user_id?: string;
  readonly action?: string;
  readonly source?: string;
  /** At most this many, oldest first. Default 100. */
  readonly limit?: number;
}

/**
 * One stored record as `GET /audit` lists it: the record (read from its stored line)
 * and its source.
 *
 * @example
 * ```ts
 * for (const e of entries as AuditListedEntry[]) console.log(e.source, e.seq, e.action);
 * ```
 */
export type AuditListedEntry = AuditRecord & { readonly source: string };

/**
 * The verdict on one source's stored chain. `ok: false` names the first record that
 * breaks it: by `seq` and position, with the problem (`changed`, `removed`,
 * `inserted`, `reordered`, `malformed`) and a message.
 *
 * @example
 * ```ts
 * if (!v.ok) console.error(`${v.source}: ${v.first_break.problem} at seq ${v.first_break.seq}`);
 * ```
 */
export interface AuditSourceVerification {
  readonly source: string;
  readonly ok: boolean;
  /** Records checked. */
  readonly records: number;
  readonly first_seq: number | null;
  readonly last_seq: number | null;
  /** The hash of the last record (when the chain verifies). */
  readonly head_hash: string | null;
  /** The first record that breaks the chain, when one does. */
  readonly first_break?: {
    readonly seq: number | null;
    /** 0-based position among the source's stored records, by `seq`. */
    readonly index: number;
    readonly problem: ChainProblem;
    readonly message: string;
  };
}

interface EntryRow {
  source: string;
  seq: number;
  hash: string;
  prev_hash: string;
  ts_ms: number;
  user_id: string | null;
  action: string | null;
  outcome: string | null;
  line: string;
}

/** `entries[i]` without `hash`, sealed again: the line the sender stored. */
function reseal(entry: AuditEntryInput, i: number): { line: string; ts: number } {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) if (key !== 'hash') body[key] = value;
  let sealed: { hash: string; line: string };
  try {
    sealed = sealRecord(body);
  } catch (error) {
    throw new InputError(
      400,
      'invalid_value',
      `entries[${i}]`,
      `the record cannot be sealed: ${error instanceof Error ? error.message : 'invalid'}`,
    );
  }
  if (sealed.hash !== entry.hash) {
    throw new InputError(
      400,
      'hash_mismatch',
      `entries[${i}].hash`,
      `record ${entry.seq}: its hash does not match its content (SHA-256 of its canonical JSON)`,
    );
  }
  const ts = Date.parse(entry.timestamp);
  if (Number.isNaN(ts)) {
    throw new InputError(400, 'invalid_format', `entries[${i}].timestamp`, 'not an ISO 8601 time');
  }
  return { line: sealed.line, ts };
}

/** The columns a stored line must agree with (a row edited outside the line). */
function columnsMatch(row: EntryRow, record: Record<string, unknown>): boolean {
  return (
    record['seq'] === row.seq &&
    record['hash'] === row.hash &&
    record['prev_hash'] === row.prev_hash &&
    Date.parse(String(record['timestamp'])) === row.ts_ms &&
    (record['user_id'] ?? null) === row.user_id &&
    (record['action'] ?? null) === row.action &&
    (record['outcome'] ?? null) === row.outcome
  );
}

/**
 * The audit copies a server keeps, per source, in the store's SQLite file.
 *
 * @example
 * ```ts
 * const audit = auditStoreOf(server.store);
 * console.log(audit.verify().every((v) => v.ok));
 * ```
 */
export class AuditStore {
  readonly #db: Database.Database;
  readonly #clock: Clock;
  /** Retention in ms by tag (merged over core's defaults); undefined: records are kept. */
  readonly #retention: Readonly<Record<string, number>> | undefined;
  #lastRetention: (AuditRetentionResult & { readonly at: number }) | undefined;

  /** @internal Throws a `TypeError` naming a bad retention option. */
  constructor(db: Database.Database, clock: Clock, retention?: AuditRecordRetention) {
    this.#retention = retention === undefined ? undefined : retentionOf(retention);
    this.#db = db;
    this.#clock = clock;
    db.exec(AUDIT_SQL);
  }

  /** The retention in ms by tag, or `undefined` when none is configured (records are kept). */
  retention(): Readonly<Record<string, number>> | undefined {
    return this.#retention;
  }

  /** What the last retention run did, and when (ms), or `undefined` before the first. */
  lastRetention(): (AuditRetentionResult & { readonly at: number }) | undefined {
    return this.#lastRetention;
  }

  /**
   * Stores a batch in one transaction: a `batch_id` already stored is a duplicate
   * (nothing stored); a record whose hash does not match its content is a 400; a
   * record at a `seq` already stored with another hash is a 409 (a fork: two logs
   * under one source name, or a rewritten record); one already stored with the same
   * hash is ignored. Gaps and mismatched links are stored and reported in `chain`.
   */
  ingest(body: AuditBatchInput): AuditIngestResult {
    if (body.source === SERVER_AUDIT_SOURCE) {
      throw new InputError(
        400,
        'invalid_value',
        'source',
        `${SERVER_AUDIT_SOURCE} is reserved for the server's own audit chain`,
      );
    }
    const sealed = body.entries.map((entry, i) => ({ entry, ...reseal(entry, i) }));
    const now = this.#clock.now();
    return this.#db.transaction((): AuditIngestResult => {
      this.forgetBatches(now - BATCH_ID_TTL_MS);
      if (body.batch_id !== undefined) {
        const seen = this.#db
          .prepare<[string], { batch_id: string }>(
            'SELECT batch_id FROM audit_batches WHERE batch_id = ?',
          )
          .get(body.batch_id);
        if (seen !== undefined) {
          return { duplicate: true, stored: 0, ignored: body.entries.length, chain: 'linked' };
        }
        this.#db
          .prepare('INSERT INTO audit_batches (batch_id, received_at) VALUES (?, ?)')
          .run(body.batch_id, now);
      }
      const existing = this.#db.prepare<[string, number], { hash: string; prev_hash: string }>(
        'SELECT hash, prev_hash FROM audit_entries WHERE source = ? AND seq = ?',
      );
      const insert = this.#db.prepare(
        `INSERT INTO audit_entries
           (source, seq, hash, prev_hash, ts_ms, user_id, action, outcome, line, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      let stored = 0;
      let ignored = 0;
      const added: AuditEntryInput[] = [];
      const cut = this.#cutOf(body.source);
      sealed.forEach(({ entry, line, ts }, i) => {
        if (cut !== undefined && entry.seq < cut.first_kept_seq) {
          // Removed by retention already (a late retry): not stored again.
          ignored++;
          return;
        }
        const there = existing.get(body.source, entry.seq);
        if (there !== undefined) {
          if (there.hash === entry.hash) {
            ignored++;
            return;
          }
          throw new InputError(
            409,
            'audit_conflict',
            `entries[${i}].seq`,
            `source ${body.source} already holds another record ${entry.seq}: two logs send under one source, or a record was rewritten`,
          );
        }
        insert.run(
          body.source,
          entry.seq,
          entry.hash,
          entry.prev_hash,
          ts,
          entry.user_id ?? null,
          entry.action ?? null,
          entry.outcome ?? null,
          line,
          now,
        );
        added.push(entry);
        stored++;
      });
      let chain: AuditIngestResult['chain'] = 'linked';
      let message: string | undefined;
      if (added.length > 0) {
        const lowest = added.reduce((a, b) => (b.seq < a.seq ? b : a));
        const source = this.#db
          .prepare<[string], { anchor_seq: number }>(
            'SELECT anchor_seq FROM audit_sources WHERE source = ?',
          )
          .get(body.source);
        if (source === undefined) {
          this.#db
            .prepare(
              `INSERT INTO audit_sources (source, anchor_seq, anchor_prev_hash, first_received, last_received)
               VALUES (?, ?, ?, ?, ?)`,
            )
            .run(body.source, lowest.seq, lowest.prev_hash, now, now);
        } else if (lowest.seq < source.anchor_seq) {
          this.#db
            .prepare(
              'UPDATE audit_sources SET anchor_seq = ?, anchor_prev_hash = ?, last_received = ? WHERE source = ?',
            )
            .run(lowest.seq, lowest.prev_hash, now, body.source);
        } else {
          this.#db
            .prepare('UPDATE audit_sources SET last_received = ? WHERE source = ?')
            .run(now, body.source);
        }
        const anchorSeq = Math.min(source?.anchor_seq ?? lowest.seq, lowest.seq);
        for (const entry of added) {
          if (entry.seq === anchorSeq) continue;
          if (cut !== undefined && entry.seq === cut.first_kept_seq) {
            // Its predecessor was removed by retention: it links to the cut's anchor.
            if (entry.prev_hash !== cut.anchor_hash) {
              chain = 'mismatch';
              message = `record ${entry.seq} does not link to the retention cut's anchor`;
              break;
            }
            continue;
          }
          const before = existing.get(body.source, entry.seq - 1);
          if (before === undefined) {
            chain = 'gap';
            message ??= `record ${entry.seq - 1} of ${body.source} is not stored (lost, or still to come)`;
          } else if (before.hash !== entry.prev_hash) {
            chain = 'mismatch';
            message = `record ${entry.seq} does not link to the stored record ${entry.seq - 1}`;
            break;
          }
        }
      }
      return {
        duplicate: false,
        stored,
        ignored,
        chain,
        ...(message !== undefined && { chain_message: message }),
      };
    })();
  }

  /** Stored records matching `query`, oldest first, read from their stored lines. */
  list(query: AuditQuery = {}): AuditListedEntry[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const time = (name: 'from' | 'to'): number | undefined => {
      const value = query[name];
      if (value === undefined) return undefined;
      const ms = Date.parse(value);
      if (Number.isNaN(ms))
        throw new InputError(400, 'invalid_format', name, 'not an ISO 8601 time');
      return ms;
    };
    const from = time('from');
    const to = time('to');
    if (from !== undefined) {
      where.push('ts_ms >= ?');
      params.push(from);
    }
    if (to !== undefined) {
      where.push('ts_ms < ?');
      params.push(to);
    }
    for (const column of ['user_id', 'action', 'source'] as const) {
      const value = query[column];
      if (value !== undefined) {
        where.push(`${column} = ?`);
        params.push(value);
      }
    }
    params.push(query.limit ?? 100);
    const rows = this.#db
      .prepare<(string | number)[], { source: string; line: string }>(
        `SELECT source, line FROM audit_entries ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY ts_ms, source, seq LIMIT ?`,
      )
      .all(...params);
    return rows.map((r) => ({ ...(JSON.parse(r.line) as AuditRecord), source: r.source }));
  }

  /** The sources with stored records, by name. */
  sources(): string[] {
    return this.#db
      .prepare<[], { source: string }>('SELECT source FROM audit_sources ORDER BY source')
      .all()
      .map((r) => r.source);
  }

  /**
   * Verifies each source's stored chain (or only `source`): every row's columns must
   * agree with its stored line, and the lines, by `seq`, must form a chain from the
   * source's anchor (its lowest record ever received). Reports the first record that
   * breaks each chain. Streams the rows: memory stays constant.
   */
  verify(source?: string): AuditSourceVerification[] {
    const names = source === undefined ? this.sources() : [source];
    return names.map((name) => this.#verifySource(name));
  }

  #verifySource(source: string): AuditSourceVerification {
    const anchorRow = this.#db
      .prepare<[string], { anchor_seq: number; anchor_prev_hash: string }>(
        'SELECT anchor_seq, anchor_prev_hash FROM audit_sources WHERE source = ?',
      )
      .get(source);
    // Before the rows' statement is opened: an early answer leaves nothing busy.
    const cut = source === SERVER_AUDIT_SOURCE ? undefined : this.#cutOf(source);
    if (cut !== undefined && !this.#cutConfirmed(source, cut)) {
      return {
        source,
        ok: false,
        records: 0,
        first_seq: null,
        last_seq: null,
        head_hash: null,
        first_break: {
          seq: cut.first_kept_seq,
          index: 0,
          problem: 'removed',
          message: `the records before ${cut.first_kept_seq} were removed and no retention cut in the ${SERVER_AUDIT_SOURCE} chain accounts for it`,
        },
      };
    }
    const rows = this.#db
      .prepare<[string], EntryRow>('SELECT * FROM audit_entries WHERE source = ? ORDER BY seq')
      .iterate(source);
    let columnBreak: AuditSourceVerification['first_break'] | undefined;
    let index = 0;
    // Parsed once: verifyChain takes records as well as lines.
    function* lines(): Generator<string | AuditRecord> {
      for (const row of rows) {
        let record: Record<string, unknown> | undefined;
        try {
          record = JSON.parse(row.line) as Record<string, unknown>;
        } catch {
          record = undefined;
        }
        if (record !== undefined && !columnsMatch(row, record)) {
          columnBreak = {
            seq: row.seq,
            index,
            problem: 'changed',
            message: `record ${row.seq}: its row was edited (its columns no longer match its stored record)`,
          };
          return;
        }
        index++;
        yield record === undefined ? row.line : (record as unknown as AuditRecord);
      }
    }
    const anchor =
      cut !== undefined
        ? { seq: cut.first_kept_seq, prevHash: cut.anchor_hash }
        : anchorRow === undefined
          ? { seq: 0, prevHash: GENESIS_HASH }
          : { seq: anchorRow.anchor_seq, prevHash: anchorRow.anchor_prev_hash };
    const iterator = lines();
    let v: ReturnType<typeof verifyChain>;
    try {
      v = verifyChain(iterator, { anchor });
    } finally {
      // verifyChain stops at the first bad record: close the statement, or it keeps
      // the connection's read transaction (and its snapshot) open.
      iterator.return(undefined);
    }
    if (columnBreak !== undefined && (v.ok || v.index >= columnBreak.index)) {
      return {
        source,
        ok: false,
        records: columnBreak.index,
        first_seq: null,
        last_seq: null,
        head_hash: null,
        first_break: columnBreak,
      };
    }
    if (v.ok) {
      return {
        source,
        ok: true,
        records: v.records,
        first_seq: v.firstSeq ?? null,
        last_seq: v.lastSeq ?? null,
        head_hash: v.headHash,
      };
    }
    return {
      source,
      ok: false,
      records: v.records,
      first_seq: null,
      last_seq: null,
      head_hash: null,
      first_break: { seq: v.seq ?? null, index: v.index, problem: v.problem, message: v.message },
    };
  }

  /**
   * Removes the stored records past their retention, safely, in one transaction: per
   * source, only the prefix of its chain (by `seq`) whose records are all expired,
   * and only from a chain that verifies (a broken one stays whole, its break
   * visible). Each cut is recorded first, as an `audit.retention_cut` record in the
   * server's own chain ({@link SERVER_AUDIT_SOURCE}) naming the source, the first
   * record kept (`first_kept_seq`) and the hash it links to (`anchor_hash`); the
   * source's chain then verifies from there. The server's own chain is never cut.
   * Without a configured retention nothing is removed (`expired` is 0). The store's
   * `compact()` runs it.
   */
  applyRetention(now: number): AuditRetentionResult {
    const retention = this.#retention;
    if (retention === undefined) {
      const none = { removed: 0, expired: 0, cuts: [] };
      this.#lastRetention = { ...none, at: now };
      return none;
    }
    const result = this.#db.transaction((): AuditRetentionResult => {
      let removed = 0;
      let expired = 0;
      const cuts: { source: string; removed: number; firstKeptSeq: number }[] = [];
      const shortest = Math.min(...Object.values(retention));
      for (const source of this.sources()) {
        if (source === SERVER_AUDIT_SOURCE) continue;
        // Only rows older than the shortest retention can be expired: no other is read.
        const rows = this.#db
          .prepare<
            [string, number],
            { seq: number; hash: string; prev_hash: string; ts_ms: number; line: string }
          >(
            'SELECT seq, hash, prev_hash, ts_ms, line FROM audit_entries WHERE source = ? AND ts_ms <= ? ORDER BY seq',
          )
          .all(source, now - shortest);
        // The prefix stops at the first younger row.
        const firstYoung = this.#db
          .prepare<[string, number], { seq: number | null }>(
            'SELECT MIN(seq) AS seq FROM audit_entries WHERE source = ? AND ts_ms > ?',
          )
          .get(source, now - shortest)?.seq;
        let removable = 0;
        let counting = true;
        let sourceExpired = 0;
        for (const row of rows) {
          const isExpired = row.ts_ms + keepFor(row.line, retention) <= now;
          if (isExpired) sourceExpired++;
          if (firstYoung !== null && firstYoung !== undefined && row.seq > firstYoung) {
            counting = false;
          }
          if (counting && isExpired) removable++;
          else counting = false;
        }
        if (removable === 0) {
          expired += sourceExpired;
          continue;
        }
        if (!this.#verifySource(source).ok) {
          // Never cut a broken chain: the cut would hide what broke it.
          expired += sourceExpired;
          continue;
        }
        const lastRemoved = rows[removable - 1]!;
        const firstKept = this.#db
          .prepare<[string, number], { seq: number; prev_hash: string }>(
            'SELECT seq, prev_hash FROM audit_entries WHERE source = ? AND seq > ? ORDER BY seq LIMIT 1',
          )
          .get(source, lastRemoved.seq);
        const firstKeptSeq = firstKept?.seq ?? lastRemoved.seq + 1;
        const anchorHash = firstKept?.prev_hash ?? lastRemoved.hash;
        const cutRecord = this.#appendServerRecord(now, {
          user_id: 'system',
          action: RETENTION_CUT_ACTION,
          resource_type: 'audit_source',
          resource_id: source,
          outcome: 'success',
          metadata: {
            source,
            first_kept_seq: firstKeptSeq,
            anchor_hash: anchorHash,
            removed: removable,
            removed_through_seq: lastRemoved.seq,
            removed_through: new Date(lastRemoved.ts_ms).toISOString(),
            retention_ms: { ...retention },
          },
          compliance_tags: ['SOC2', 'ISO27001'],
        });
        this.#db
          .prepare(
            `INSERT INTO audit_retention_cuts (source, first_kept_seq, anchor_hash, cut_seq, cut_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (source) DO UPDATE SET first_kept_seq = excluded.first_kept_seq,
               anchor_hash = excluded.anchor_hash, cut_seq = excluded.cut_seq, cut_at = excluded.cut_at`,
          )
          .run(source, firstKeptSeq, anchorHash, cutRecord.seq, now);
        this.#db
          .prepare('DELETE FROM audit_entries WHERE source = ? AND seq < ?')
          .run(source, firstKeptSeq);
        removed += removable;
        expired += sourceExpired - removable;
        cuts.push({ source, removed: removable, firstKeptSeq });
      }
      return { removed, expired, cuts };
    })();
    this.#lastRetention = { ...result, at: now };
    return result;
  }

  /** Seals a record onto the end of the server's own chain and stores it. */
  #appendServerRecord(
    now: number,
    entry: Omit<AuditRecord, 'seq' | 'prev_hash' | 'hash' | 'timestamp'>,
  ): AuditRecord {
    const head = this.#db
      .prepare<[string], { seq: number; hash: string }>(
        'SELECT seq, hash FROM audit_entries WHERE source = ? ORDER BY seq DESC LIMIT 1',
      )
      .get(SERVER_AUDIT_SOURCE);
    const body: Record<string, unknown> = {
      ...entry,
      timestamp: new Date(now).toISOString(),
      seq: head === undefined ? 0 : head.seq + 1,
      prev_hash: head?.hash ?? GENESIS_HASH,
    };
    const { hash, line } = sealRecord(body);
    const record = { ...body, hash } as unknown as AuditRecord;
    this.#db
      .prepare(
        `INSERT INTO audit_entries
           (source, seq, hash, prev_hash, ts_ms, user_id, action, outcome, line, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        SERVER_AUDIT_SOURCE,
        record.seq,
        hash,
        record.prev_hash,
        now,
        record.user_id ?? null,
        record.action ?? null,
        record.outcome ?? null,
        line,
        now,
      );
    this.#db
      .prepare(
        `INSERT INTO audit_sources (source, anchor_seq, anchor_prev_hash, first_received, last_received)
         VALUES (?, 0, ?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET last_received = excluded.last_received`,
      )
      .run(SERVER_AUDIT_SOURCE, GENESIS_HASH, now, now);
    return record;
  }

  #cutOf(
    source: string,
  ): { first_kept_seq: number; anchor_hash: string; cut_seq: number } | undefined {
    return this.#db
      .prepare<[string], { first_kept_seq: number; anchor_hash: string; cut_seq: number }>(
        'SELECT first_kept_seq, anchor_hash, cut_seq FROM audit_retention_cuts WHERE source = ?',
      )
      .get(source);
  }

  /** Whether the server's chain holds the retention cut record naming this cut. */
  #cutConfirmed(
    source: string,
    cut: { first_kept_seq: number; anchor_hash: string; cut_seq: number },
  ): boolean {
    const row = this.#db
      .prepare<[string, number], { line: string }>(
        'SELECT line FROM audit_entries WHERE source = ? AND seq = ?',
      )
      .get(SERVER_AUDIT_SOURCE, cut.cut_seq);
    if (row === undefined) return false;
    try {
      const record = JSON.parse(row.line) as AuditRecord;
      const m = record.metadata ?? {};
      return (
        record.action === RETENTION_CUT_ACTION &&
        m['source'] === source &&
        m['first_kept_seq'] === cut.first_kept_seq &&
        m['anchor_hash'] === cut.anchor_hash
      );
    } catch {
      return false;
    }
  }

  /**
   * Runs `store` for a batch of business metrics unless its id was stored before (in
   * the same transaction: a retried batch is stored once). Returns whether it was a
   * duplicate.
   */
  onceForBatch(batchId: string | undefined, store: () => void): boolean {
    return this.#db.transaction((): boolean => {
      this.forgetBatches(this.#clock.now() - BATCH_ID_TTL_MS);
      if (batchId !== undefined) {
        const key = `business:${batchId}`;
        const seen = this.#db
          .prepare<[string], { batch_id: string }>(
            'SELECT batch_id FROM audit_batches WHERE batch_id = ?',
          )
          .get(key);
        if (seen !== undefined) return true;
        this.#db
          .prepare('INSERT INTO audit_batches (batch_id, received_at) VALUES (?, ?)')
          .run(key, this.#clock.now());
      }
      store();
      return false;
    })();
  }

  /** Forgets batch ids received before `before` (ms since the epoch); returns how many. */
  forgetBatches(before: number): number {
    return this.#db.prepare('DELETE FROM audit_batches WHERE received_at < ?').run(before).changes;
  }
}

/** How long a stored line's record is kept: the longest retention among its tags. */
function keepFor(line: string, retention: Readonly<Record<string, number>>): number {
  let tags: unknown;
  try {
    tags = (JSON.parse(line) as { compliance_tags?: unknown }).compliance_tags;
  } catch {
    tags = undefined;
  }
  let ms = 0;
  if (Array.isArray(tags)) {
    for (const tag of tags) {
      const t = typeof tag === 'string' && Object.hasOwn(retention, tag) ? retention[tag]! : 0;
      if (tag !== 'default' && t > ms) ms = t;
    }
  }
  return ms === 0 ? retention['default']! : ms;
}

const stores = new WeakMap<object, AuditStore>();

/**
 * Opens the audit tables on a store's connection. Called once by the `MonitorStore`
 * constructor. @internal
 */
export function openAuditStore(
  owner: object,
  db: Database.Database,
  clock: Clock,
  retention?: AuditRecordRetention,
): void {
  stores.set(owner, new AuditStore(db, clock, retention));
}

/**
 * The audit copies of a store (any `MonitorStore`: its constructor opens them). @internal
 *
 * @example
 * ```ts
 * const store = openStore('./prsm-monitor.db');
 * for (const v of auditStoreOf(store).verify()) console.log(v.source, v.ok);
 * ```
 */
export function auditStoreOf(store: object): AuditStore {
  const audit = stores.get(store);
  if (audit === undefined) throw new TypeError('auditStoreOf: not a store opened by openStore');
  return audit;
}
