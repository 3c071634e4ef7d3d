/**
 * The audit log: validated entries in the spec's `audit_log_entry` fields, chained
 * with SHA-256 (see chain.ts), stored by a sink (see sinks.ts), with compliance
 * tags, retention per tag, range export with its chain proof, and the completeness
 * and retention adherence figures health reports.
 */
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import type { BoundGauge } from '../metrics/gauge-series.js';
import {
  type AuditJsonValue,
  type AuditRecord,
  type ChainVerification,
  GENESIS_HASH,
  RETENTION_CUT_ACTION,
  canonicalJson,
  quote,
  sha256Hex,
  verifyChain,
} from './chain.js';
import { checkContext, lazyCounter, messageOf, type SecurityContext } from './context.js';
import { createRedactor, type RedactionOptions, type Redactor } from './redaction.js';
import { type AuditSink, MemoryAuditSink } from './sinks.js';

/**
 * The compliance frameworks the log knows retention defaults for. Entries may carry
 * other tags too (`audit_required`); those take the default retention.
 *
 * @example
 * ```ts
 * const tag: ComplianceTag = 'HIPAA';
 * ```
 */
export type ComplianceTag = 'SOC2' | 'ISO27001' | 'GDPR' | 'HIPAA';

/**
 * The known compliance tags.
 *
 * @example
 * ```ts
 * COMPLIANCE_TAGS.includes('GDPR'); // true
 * ```
 */
export const COMPLIANCE_TAGS: readonly ComplianceTag[] = Object.freeze([
  'SOC2',
  'ISO27001',
  'GDPR',
  'HIPAA',
]);

/**
 * Retention in days by tag, and `default` for entries without a known tag. An entry
 * is kept for the longest retention among its tags.
 *
 * @example
 * ```ts
 * const days: RetentionDays = { default: 30, GDPR: 180 };
 * ```
 */
export type RetentionDays = Partial<Record<ComplianceTag | 'default', number>>;

/**
 * The default retention (days): `default` 90, SOC2 365, GDPR 365, ISO27001 1095
 * (three years), HIPAA 2190 (six years). Tune them to your own policy: these are
 * common practice, not legal advice.
 *
 * @example
 * ```ts
 * new AuditLog(context, { retentionDays: { ...DEFAULT_RETENTION_DAYS, SOC2: 730 } });
 * ```
 */
export const DEFAULT_RETENTION_DAYS: Readonly<Required<RetentionDays>> = Object.freeze({
  default: 90,
  SOC2: 365,
  GDPR: 365,
  ISO27001: 1095,
  HIPAA: 2190,
});

/**
 * The fields `record()` requires (a missing one throws a `TypeError` naming it).
 * `timestamp` is filled in from the clock when absent; every other field is optional.
 * Completeness counts the entries that hold all of these.
 *
 * @example
 * ```ts
 * REQUIRED_AUDIT_FIELDS; // ['user_id', 'action', 'resource_type', 'outcome']
 * ```
 */
export const REQUIRED_AUDIT_FIELDS = Object.freeze([
  'user_id',
  'action',
  'resource_type',
  'outcome',
] as const);

/**
 * How an audited action ended. Any non-empty string is accepted; these four are the
 * ones the log's metrics tag by name (others count as `other`).
 *
 * @example
 * ```ts
 * const outcome: AuditOutcome = 'denied';
 * ```
 */
export type AuditOutcome = 'success' | 'failure' | 'denied' | 'error' | (string & {});

/**
 * One audit entry, in the spec's `audit_log_entry` fields.
 *
 * @example
 * ```ts
 * const entry: AuditEntryInput = {
 *   timestamp: '2024-01-15T14:30:00Z',
 *   user_id: 'user_123',
 *   action: 'create_distillation_job',
 *   resource_type: 'distillation_jobs',
 *   resource_id: 'job_uuid',
 *   outcome: 'success',
 *   ip_address: '192.168.1.100',
 *   user_agent: 'PRSM-Client/1.0',
 *   session_id: 'session_uuid',
 *   request_id: 'req_uuid',
 *   metadata: { strategy: 'multi_teacher', teacher_models: 3, estimated_cost: 450.0 },
 *   compliance_tags: ['SOC2', 'audit_required'],
 * };
 * ```
 */
export interface AuditEntryInput {
  /** When it happened: an ISO 8601 string, a `Date` or ms since the epoch. Default now. */
  readonly timestamp?: string | number | Date;
  /** Who acted (`'system'` for the service itself). Required. */
  readonly user_id: string;
  /** What was done. Required. */
  readonly action: string;
  /** The kind of thing acted on. Required. */
  readonly resource_type: string;
  /** Which one. */
  readonly resource_id?: string;
  /** How it ended. Required. */
  readonly outcome: AuditOutcome;
  readonly ip_address?: string;
  readonly user_agent?: string;
  readonly session_id?: string;
  readonly request_id?: string;
  /** Details: JSON-like values, redacted before they are stored. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** `SOC2`, `ISO27001`, `GDPR`, `HIPAA` or your own tags (at most 16, each ≤ 64 characters). */
  readonly compliance_tags?: readonly string[];
}

/**
 * Options of an {@link AuditLog}. Checked at construction: a bad one throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: AuditLogOptions = {
 *   sink: new JsonlFileSink({ path: 'audit.jsonl' }),
 *   retentionDays: { default: 30, HIPAA: 2190 },
 *   redaction: { emails: true },
 * };
 * ```
 */
export interface AuditLogOptions {
  /** Where records go. Default a {@link MemoryAuditSink} (10000 records). */
  readonly sink?: AuditSink;
  /** Retention by tag, merged over {@link DEFAULT_RETENTION_DAYS}. */
  readonly retentionDays?: RetentionDays;
  /** How `metadata` is redacted; `false` stores it as given. Default: the default rules. */
  readonly redaction?: RedactionOptions | false;
  /** The largest `metadata` (as JSON, characters). Default 16384. */
  readonly maxMetadataChars?: number;
  /**
   * Called with every record after it is sealed (to forward it to an exporter).
   * Never lets an exception out: one is reported to diagnostics.
   */
  readonly onRecord?: (record: AuditRecord) => void;
}

/**
 * The counters of an {@link AuditLog} since it was created.
 *
 * @example
 * ```ts
 * const { recorded, completeness } = monitor.audit.stats();
 * ```
 */
export interface AuditLogStats {
  /** Records sealed and handed to the sink. */
  readonly recorded: number;
  /** Of those, records holding every required field. */
  readonly complete: number;
  /** `complete / recorded` (1 when none). */
  readonly completeness: number;
  /** Entries refused by `record()` (it threw) or `tryRecord()` (it returned undefined). */
  readonly rejected: number;
  /** The next `seq`. */
  readonly nextSeq: number;
  /** The hash the next record will link to. */
  readonly headHash: string;
}

/**
 * A scan of the stored log against the compliance rules (see {@link AuditLog.compliance}).
 *
 * @example
 * ```ts
 * const report: AuditComplianceReport = await monitor.audit.compliance();
 * if (report.retentionAdherence < 1) await monitor.audit.applyRetention();
 * ```
 */
export interface AuditComplianceReport {
  /** Records stored. */
  readonly records: number;
  /** Records holding every required field. */
  readonly complete: number;
  /** `complete / records` (1 when none). */
  readonly completeness: number;
  /** Records still stored past their retention. */
  readonly expired: number;
  /** `1 - expired / records` (1 when none): 1 means nothing is kept longer than its policy. */
  readonly retentionAdherence: number;
  /** Records by compliance tag. */
  readonly byTag: Readonly<Record<string, number>>;
  /** The oldest stored record's timestamp. */
  readonly oldest: string | undefined;
  /** The newest stored record's timestamp. */
  readonly newest: string | undefined;
}

/**
 * What a retention run did.
 *
 * @example
 * ```ts
 * const { removed, cut } = await monitor.audit.applyRetention();
 * ```
 */
export interface RetentionResult {
  /** Records removed. */
  readonly removed: number;
  /** The `audit.retention_cut` record that documents the cut, when one was made. */
  readonly cut: AuditRecord | undefined;
}

/**
 * A time range for {@link AuditLog.exportRange}: `from` inclusive, `to` exclusive.
 *
 * @example
 * ```ts
 * const range: AuditRange = { from: '2024-01-01T00:00:00Z', to: new Date() };
 * ```
 */
export interface AuditRange {
  readonly from?: string | number | Date;
  readonly to?: string | number | Date;
}

/**
 * The first line of an export: the chain proof of the records after it.
 *
 * @example
 * ```ts
 * const proof = (JSON.parse(text.split('\n')[0]!) as { audit_export: AuditExportProof }).audit_export;
 * ```
 */
export interface AuditExportProof {
  readonly from: string | null;
  readonly to: string | null;
  /** The `seq` of the first exported record (the next seq when none). */
  readonly first_seq: number;
  /** The hash before the range: the first exported record's `prev_hash`. */
  readonly prev_hash: string;
  /** The last exported record's hash (`prev_hash` when none). */
  readonly last_hash: string;
  readonly count: number;
  readonly exported_at: string;
}

const OUTCOME_TAGS: ReadonlySet<string> = new Set(['success', 'failure', 'denied', 'error']);
const FIELDS: ReadonlySet<string> = new Set([
  'timestamp',
  'user_id',
  'action',
  'resource_type',
  'resource_id',
  'outcome',
  'ip_address',
  'user_agent',
  'session_id',
  'request_id',
  'metadata',
  'compliance_tags',
]);
const DAY_MS = 86_400_000;

class Invalid extends TypeError {}

/** No value yet (a metadata value cache slot). */
const NONE: unique symbol = Symbol('none');

/** A record being built: the stored fields, set one by one. */
type Body = { -readonly [K in keyof AuditRecord]?: AuditRecord[K] } & { timestamp: string };

/** A copy of valid compliance tags, or undefined. */
function checkTags(tags: unknown): string[] | undefined {
  if (!Array.isArray(tags) || tags.length > 16) return undefined;
  for (let i = 0; i < tags.length; i++) {
    const t: unknown = tags[i];
    if (typeof t !== 'string' || t === '' || t.length > 64) return undefined;
  }
  return (tags as string[]).slice();
}

/** The canonical JSON of an array of strings. */
function tagsJson(tags: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < tags.length; i++) out += `${i === 0 ? '' : ','}${quote(tags[i]!)}`;
  return `${out}]`;
}

function toMs(value: unknown, what: string): number {
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'number'
        ? value
        : typeof value === 'string'
          ? Date.parse(value)
          : NaN;
  if (!Number.isFinite(ms)) {
    throw new Invalid(`${what} must be an ISO 8601 string, a Date or ms since the epoch`);
  }
  return ms;
}

function isComplete(record: Readonly<Record<string, unknown>>): boolean {
  for (const field of REQUIRED_AUDIT_FIELDS) {
    if (typeof record[field] !== 'string' || record[field] === '') return false;
  }
  return true;
}

/**
 * The audit log (`monitor.audit`): `record()` validates an entry, redacts its
 * metadata, chains it (`seq`, `prev_hash`, SHA-256 `hash`) and hands it to its sink;
 * `verify()` checks the stored chain; `applyRetention()` removes expired records
 * and records the cut; `exportRange()` writes a range with its chain proof;
 * `compliance()` scans completeness and retention adherence.
 *
 * Metrics (component `audit`): `audit.records{outcome}`, `audit.rejected`,
 * `audit.completeness` and `audit.retention_adherence` (gauges, 0..1).
 *
 * @example
 * ```ts
 * import { AuditLog, JsonlFileSink, Monitor } from '@prsm/core';
 *
 * const monitor = new Monitor();
 * const audit = new AuditLog(
 *   { clock: monitor.clock, diagnostics: monitor.diagnostics, recorder: monitor },
 *   { sink: new JsonlFileSink({ path: 'audit.jsonl' }) },
 * );
 * audit.record({ user_id: 'user_123', action: 'create_distillation_job',
 *   resource_type: 'distillation_jobs', outcome: 'success', compliance_tags: ['SOC2'] });
 * const v = await audit.verify();
 * console.log(v.ok ? 'verified' : `${v.problem} at line ${v.index + 1}`);
 * ```
 */
export class AuditLog {
  /** The sink records go to. */
  readonly sink: AuditSink;
  /** The sink, when it seals records itself (`appendCanonical`). */
  readonly #sealingSink: (AuditSink & Required<Pick<AuditSink, 'appendCanonical'>>) | undefined;
  readonly #context: SecurityContext;
  readonly #redactor: Redactor | undefined;
  readonly #retention: Readonly<Required<RetentionDays>>;
  readonly #maxMetadata: number;
  readonly #onRecord: ((record: AuditRecord) => void) | undefined;
  #seq: number;
  #prev: string;
  #recorded = 0;
  #complete = 0;
  #rejected = 0;
  #closed = false;
  /** The last timestamp written, by its ms: records come many to a millisecond. */
  #isoMs = NaN;
  /** The metadata last validated, with its canonical text (computed once). */
  #lastMetadata: unknown;
  #metadataText = '';
  /** Flat metadata (see `#flatMetadata`): its sorted keys, their last values and texts. */
  #metaKeys: readonly string[] | undefined;
  #metaValues: unknown[] = [];
  #metaParts: string[] = [];
  #metaText: string | undefined;
  /** The last metadata keys seen, and the same keys sorted. */
  #lastKeys: readonly string[] = [];
  #lastSortedKeys: readonly string[] = [];
  /** The last hash this log computed (hex: written without escaping). */
  #hexPrev = '';
  /** The last value of each string field (see `#quoted`), and its JSON. */
  readonly #lastRaw: string[] = ['', '', '', '', '', '', '', '', ''];
  readonly #lastQuoted: string[] = ['""', '""', '""', '""', '""', '""', '""', '""', '""'];
  #lastTags: readonly string[] = [];
  #lastTagsJson = '[]';
  #iso = '';
  readonly #byOutcome = new Map<string, BoundCounter>();
  readonly #rejectedCounter: BoundCounter;
  readonly #completeness: BoundGauge;
  readonly #adherence: BoundGauge;

  /** Throws a `TypeError` naming a bad option. */
  constructor(context: SecurityContext, options: AuditLogOptions = {}) {
    this.#context = checkContext(context, 'AuditLog');
    if (options === null || typeof options !== 'object') {
      throw new TypeError('audit options must be an object');
    }
    const sink: AuditSink = options.sink ?? new MemoryAuditSink();
    if (
      sink === null ||
      typeof sink !== 'object' ||
      typeof sink.append !== 'function' ||
      typeof sink.head !== 'function' ||
      typeof sink.read !== 'function'
    ) {
      throw new TypeError('audit.sink must implement AuditSink');
    }
    this.sink = sink;
    this.#sealingSink =
      typeof sink.appendCanonical === 'function'
        ? (sink as AuditSink & Required<Pick<AuditSink, 'appendCanonical'>>)
        : undefined;
    this.#redactor =
      options.redaction === false ? undefined : createRedactor(options.redaction ?? {});
    const retention: Record<string, number> = { ...DEFAULT_RETENTION_DAYS };
    if (options.retentionDays !== undefined) {
      if (options.retentionDays === null || typeof options.retentionDays !== 'object') {
        throw new TypeError('audit.retentionDays must be an object of days by tag');
      }
      for (const [tag, days] of Object.entries(options.retentionDays)) {
        if (tag !== 'default' && !(COMPLIANCE_TAGS as readonly string[]).includes(tag)) {
          throw new TypeError(
            `audit.retentionDays: unknown tag ${tag} (known: default, ${COMPLIANCE_TAGS.join(', ')})`,
          );
        }
        if (typeof days !== 'number' || !(days > 0)) {
          throw new TypeError(`audit.retentionDays.${tag} must be a number of days > 0`);
        }
        retention[tag] = days;
      }
    }
    this.#retention = Object.freeze(retention) as Readonly<Required<RetentionDays>>;
    const maxMetadata = options.maxMetadataChars ?? 16_384;
    if (!Number.isInteger(maxMetadata) || maxMetadata < 2) {
      throw new TypeError('audit.maxMetadataChars must be an integer >= 2');
    }
    this.#maxMetadata = maxMetadata;
    if (options.onRecord !== undefined && typeof options.onRecord !== 'function') {
      throw new TypeError('audit.onRecord must be a function');
    }
    this.#onRecord = options.onRecord;
    sink.attach?.({ diagnostics: this.#context.diagnostics });
    const head = sink.head();
    this.#seq = head === undefined ? 0 : head.seq + 1;
    this.#prev = head === undefined ? GENESIS_HASH : head.hash;
    if (head === undefined) {
      const anchor = sink.anchor?.();
      if (anchor !== undefined) {
        this.#seq = anchor.seq;
        this.#prev = anchor.prevHash;
      }
    }
    const recorder = this.#context.recorder;
    const o = { component: 'audit' };
    const rejected = recorder.counter('audit.rejected', {
      ...o,
      description: 'Audit entries refused as invalid',
    });
    // Counters bind on their first use: no series for a log nobody writes to.
    this.#rejectedCounter = lazyCounter(() => rejected.bind());
    this.#completeness = recorder
      .gauge('audit.completeness', {
        ...o,
        description: 'Audit records with every required field, over all records (0..1)',
      })
      .bind();
    this.#adherence = recorder
      .gauge('audit.retention_adherence', {
        ...o,
        description: 'Stored audit records within their retention, over all stored (0..1)',
      })
      .bind();
    const records = recorder.counter('audit.records', {
      ...o,
      description: 'Audit records stored, by outcome',
    });
    for (const outcome of [...OUTCOME_TAGS, 'other']) {
      this.#byOutcome.set(
        outcome,
        lazyCounter(() => records.bind({ outcome })),
      );
    }
  }

  /**
   * Validates, seals and stores one entry; returns the stored record. Throws a
   * `TypeError` naming the field when a required field (see
   * {@link REQUIRED_AUDIT_FIELDS}) is missing, a field has the wrong type, a field is
   * unknown (`userId` for `user_id`), or the metadata is too large: an explicit call,
   * so a bad entry is an error, never a silent drop. Returns `undefined` after
   * `close()` or when the sink refuses the record (its buffer is full because the
   * disk fails or lags): both reported to diagnostics and counted in `rejected`,
   * and the record is not part of the chain.
   *
   * @example
   * ```ts
   * monitor.audit.record({
   *   user_id: 'user_123', action: 'delete_model', resource_type: 'models',
   *   resource_id: 'm_42', outcome: 'denied', ip_address: req.ip, compliance_tags: ['SOC2'],
   * });
   * ```
   */
  record(entry: AuditEntryInput): AuditRecord | undefined {
    let body: Body;
    try {
      body = this.#validate(entry, true);
    } catch (error) {
      this.#reject();
      if (error instanceof Invalid) throw new TypeError(error.message);
      throw error;
    }
    return this.#append(body);
  }

  /**
   * Records an entry from an instrumentation path (`@audited`, middleware): never
   * throws. Fields with a wrong type are left out and reported; missing required
   * fields leave the record incomplete (it is stored, and counted by completeness).
   * Returns `undefined` when nothing could be stored.
   *
   * @example
   * ```ts
   * monitor.audit.tryRecord({ action: 'export_report', resource_type: 'reports', outcome: 'success' });
   * ```
   */
  tryRecord(entry: Partial<AuditEntryInput>): AuditRecord | undefined {
    try {
      return this.#append(this.#validate(entry, false));
    } catch (error) {
      this.#reject();
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `audit entry dropped: ${messageOf(error)}`,
      );
      return undefined;
    }
  }

  /**
   * The chain's head: the next `seq` and the hash it will link to. Publishing it
   * elsewhere (a ticket, another system) lets a later verification prove nothing was
   * rewritten since.
   *
   * @example
   * ```ts
   * const { nextSeq, headHash } = monitor.audit.head();
   * ```
   */
  head(): { readonly nextSeq: number; readonly headHash: string } {
    return { nextSeq: this.#seq, headHash: this.#prev };
  }

  /**
   * Counters since the log was created, completeness included (for health).
   *
   * @example
   * ```ts
   * if (monitor.audit.stats().completeness < 0.99) console.warn('audit entries lack fields');
   * ```
   */
  stats(): AuditLogStats {
    return {
      recorded: this.#recorded,
      complete: this.#complete,
      completeness: this.#recorded === 0 ? 1 : this.#complete / this.#recorded,
      rejected: this.#rejected,
      nextSeq: this.#seq,
      headHash: this.#prev,
    };
  }

  /**
   * Resolves once every record so far is stored. Never rejects.
   *
   * @example
   * ```ts
   * await monitor.audit.flush();
   * ```
   */
  async flush(): Promise<void> {
    try {
      await this.sink.flush();
    } catch (error) {
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `audit flush: ${messageOf(error)}`,
      );
    }
  }

  /**
   * Flushes, then verifies the stored chain (see `verifyChain`): the first record
   * that was changed, removed, inserted or reordered, or `ok` with the count.
   *
   * @example
   * ```ts
   * const v = await monitor.audit.verify();
   * console.log(v.ok ? `audit trail verified (${v.records} records)` : v.message);
   * ```
   */
  async verify(): Promise<ChainVerification> {
    await this.flush();
    const anchor = this.sink.anchor?.();
    return verifyChain(this.sink.read(), anchor === undefined ? {} : { anchor });
  }

  /**
   * Removes the records past their retention, safely: only a prefix of the chain is
   * ever removed (a record waits while an older one is still retained), and the cut
   * is itself recorded first, as an `audit.retention_cut` record (`user_id`
   * `'system'`) whose metadata names the first record kept (`first_kept_seq`) and the
   * hash it links to (`anchor_hash`), so the shortened log still verifies. Never
   * rejects (failures are reported and the log is left as it was).
   *
   * @example
   * ```ts
   * setInterval(() => void monitor.audit.applyRetention(), 86_400_000).unref();
   * ```
   */
  async applyRetention(): Promise<RetentionResult> {
    try {
      await this.flush();
      const now = this.#context.clock.now();
      let removable = 0;
      let counting = true;
      let lastRemoved: AuditRecord | undefined;
      let firstKept: { seq: number; prev: string } | undefined;
      let last: AuditRecord | undefined;
      let records = 0;
      let expired = 0;
      for (const line of this.sink.read()) {
        const r = JSON.parse(line) as AuditRecord;
        records++;
        last = r;
        const isExpired = this.#expired(r, now);
        if (isExpired) expired++;
        if (counting && isExpired) {
          removable++;
          lastRemoved = r;
        } else if (counting) {
          counting = false;
          firstKept = { seq: r.seq, prev: r.prev_hash };
        }
      }
      // What remains after the cut: the records kept, of which some may still be
      // expired (waiting behind an older record that is retained).
      const kept = records - removable;
      this.#adherence.set(kept === 0 ? 1 : 1 - (expired - removable) / kept);
      if (removable === 0 || lastRemoved === undefined || last === undefined) {
        return { removed: 0, cut: undefined };
      }
      // Everything stored expired: the first record kept is the next one (the cut
      // itself, or a record still waiting in the sink's buffer).
      firstKept ??= { seq: last.seq + 1, prev: last.hash };
      const cut = this.#append({
        timestamp: new Date(now).toISOString(),
        user_id: 'system',
        action: RETENTION_CUT_ACTION,
        resource_type: 'audit_log',
        resource_id: this.sink.name,
        outcome: 'success',
        metadata: {
          first_kept_seq: firstKept.seq,
          anchor_hash: firstKept.prev,
          removed: removable,
          removed_through_seq: lastRemoved.seq,
          removed_through: lastRemoved.timestamp,
          retention_days: { ...this.#retention },
        },
        compliance_tags: ['SOC2', 'ISO27001'],
      });
      await this.flush();
      const removed = await this.sink.removeBefore(firstKept.seq);
      return { removed, cut };
    } catch (error) {
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `audit retention: ${messageOf(error)}`,
      );
      return { removed: 0, cut: undefined };
    }
  }

  /**
   * Scans the stored log: completeness (records with every required field over all)
   * and retention adherence (records within their retention over all), records by
   * tag, oldest and newest. Sets the `audit.completeness` and
   * `audit.retention_adherence` gauges from the scan.
   *
   * @example
   * ```ts
   * const { completeness, retentionAdherence } = await monitor.audit.compliance();
   * ```
   */
  async compliance(): Promise<AuditComplianceReport> {
    await this.flush();
    const now = this.#context.clock.now();
    let records = 0;
    let complete = 0;
    let expired = 0;
    let oldest: string | undefined;
    let newest: string | undefined;
    const byTag: Record<string, number> = {};
    for (const line of this.sink.read()) {
      let r: AuditRecord;
      try {
        r = JSON.parse(line) as AuditRecord;
      } catch {
        records++;
        continue;
      }
      records++;
      if (isComplete(r as unknown as Record<string, unknown>)) complete++;
      if (this.#expired(r, now)) expired++;
      for (const tag of r.compliance_tags ?? []) byTag[tag] = (byTag[tag] ?? 0) + 1;
      oldest ??= r.timestamp;
      newest = r.timestamp;
    }
    const completeness = records === 0 ? 1 : complete / records;
    const retentionAdherence = records === 0 ? 1 : 1 - expired / records;
    this.#completeness.set(completeness);
    this.#adherence.set(retentionAdherence);
    return {
      records,
      complete,
      completeness,
      expired,
      retentionAdherence,
      byTag,
      oldest,
      newest,
    };
  }

  /**
   * The records of a time range (`from` inclusive, `to` exclusive; the run from the
   * first record at or after `from` to the last before `to`, records in between
   * included whatever their timestamp, so the run is a contiguous piece of the chain)
   * as JSONL, after one proof line `{"audit_export":{...}}` ({@link AuditExportProof})
   * holding the hash before the range. `verifyAuditExport` checks it.
   *
   * @example
   * ```ts
   * const jsonl = await monitor.audit.exportRange({ from: '2024-01-01T00:00:00Z', to: '2024-02-01T00:00:00Z' });
   * await writeFile('audit-2024-01.jsonl', jsonl);
   * ```
   */
  async exportRange(range: AuditRange = {}): Promise<string> {
    if (range === null || typeof range !== 'object') {
      throw new TypeError('exportRange needs { from?, to? }');
    }
    const from = range.from === undefined ? -Infinity : toMs(range.from, 'from');
    const to = range.to === undefined ? Infinity : toMs(range.to, 'to');
    await this.flush();
    const lines: string[] = [];
    let lastInRange = -1;
    let first: AuditRecord | undefined;
    let last: AuditRecord | undefined;
    let lastSeen: AuditRecord | undefined;
    for (const line of this.sink.read()) {
      const r = JSON.parse(line) as AuditRecord;
      const t = Date.parse(r.timestamp);
      if (first === undefined) {
        if (!(t >= from && t < to)) {
          lastSeen = r;
          continue;
        }
        first = r;
      }
      lines.push(line);
      if (t >= from && t < to) {
        lastInRange = lines.length - 1;
        last = r;
      }
    }
    lines.length = lastInRange + 1;
    const prev = first?.prev_hash ?? lastSeen?.hash ?? this.#prev;
    const proof: AuditExportProof = {
      from: Number.isFinite(from) ? new Date(from).toISOString() : null,
      to: Number.isFinite(to) ? new Date(to).toISOString() : null,
      first_seq: first?.seq ?? (lastSeen === undefined ? this.#seq : lastSeen.seq + 1),
      prev_hash: prev,
      last_hash: last?.hash ?? prev,
      count: lines.length,
      exported_at: new Date(this.#context.clock.now()).toISOString(),
    };
    return `${JSON.stringify({ audit_export: proof })}\n${lines.map((l) => `${l}\n`).join('')}`;
  }

  /**
   * Flushes and closes the sink; later records are refused (reported). Never rejects.
   *
   * @example
   * ```ts
   * await monitor.audit.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    try {
      await this.sink.close();
    } catch (error) {
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `audit close: ${messageOf(error)}`,
      );
    }
  }

  #expired(record: AuditRecord, now: number): boolean {
    const t = Date.parse(record.timestamp);
    if (!Number.isFinite(t)) return false;
    let days = 0;
    for (const tag of record.compliance_tags ?? []) {
      const d = this.#retention[tag as ComplianceTag];
      if (d !== undefined && d > days) days = d;
    }
    if (days === 0) days = this.#retention.default;
    return t + days * DAY_MS <= now;
  }

  #reject(): void {
    this.#rejected++;
    this.#rejectedCounter.inc();
  }

  /** The record body (without seq and hashes), validated; lenient: bad fields left out. */
  #validate(entry: unknown, strict: boolean): Body {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new Invalid('an audit entry must be an object');
    }
    const e = entry as Record<string, unknown>;
    // for-in walks the entry's enumeration cache without allocating a key array.
    for (const key in e) {
      if (!FIELDS.has(key) && Object.hasOwn(e, key)) {
        this.#problem(strict, `unknown field ${key} (the spec's fields are snake_case)`);
      }
    }
    const timestamp = e['timestamp'];
    const time = timestamp === undefined ? this.#now() : this.#timestamp(timestamp, strict);
    // The string fields, one by one (named loads: one shape per caller); a bad one is
    // left out (lenient) or throws (strict), in this order.
    const userId = this.#field(e['user_id'], 'user_id', strict);
    const action = this.#field(e['action'], 'action', strict);
    const resourceType = this.#field(e['resource_type'], 'resource_type', strict);
    const resourceId = this.#field(e['resource_id'], 'resource_id', strict);
    const outcome = this.#field(e['outcome'], 'outcome', strict);
    const ip = this.#field(e['ip_address'], 'ip_address', strict);
    const agent = this.#field(e['user_agent'], 'user_agent', strict, 1024);
    const session = this.#field(e['session_id'], 'session_id', strict);
    const request = this.#field(e['request_id'], 'request_id', strict);
    if (
      strict &&
      (userId === undefined ||
        action === undefined ||
        resourceType === undefined ||
        outcome === undefined)
    ) {
      const given = { user_id: userId, action, resource_type: resourceType, outcome };
      for (const field of REQUIRED_AUDIT_FIELDS) {
        if (given[field] === undefined) throw new Invalid(`${field} is required`);
      }
    }
    let tags: string[] | undefined;
    const tagsIn = e['compliance_tags'];
    if (tagsIn !== undefined) {
      tags = checkTags(tagsIn);
      if (tags === undefined) {
        this.#problem(
          strict,
          'compliance_tags must be an array of at most 16 strings of 1 to 64 characters',
        );
      }
    }
    let metadata: Record<string, AuditJsonValue> | undefined;
    const metadataIn = e['metadata'];
    if (metadataIn !== undefined) {
      if (metadataIn === null || typeof metadataIn !== 'object' || Array.isArray(metadataIn)) {
        this.#problem(strict, 'metadata must be an object');
      } else {
        metadata = this.#metadata(metadataIn as Record<string, unknown>);
        if (metadata === undefined) {
          this.#problem(strict, `metadata is larger than ${this.#maxMetadata} characters`);
        }
      }
    }
    if (
      userId !== undefined &&
      action !== undefined &&
      resourceType !== undefined &&
      resourceId !== undefined &&
      outcome !== undefined &&
      ip !== undefined &&
      agent !== undefined &&
      session !== undefined &&
      request !== undefined &&
      tags !== undefined &&
      metadata !== undefined
    ) {
      // Every field given (the common case): one object of one shape, in one piece.
      return {
        timestamp: time,
        user_id: userId,
        action,
        resource_type: resourceType,
        resource_id: resourceId,
        outcome,
        ip_address: ip,
        user_agent: agent,
        session_id: session,
        request_id: request,
        compliance_tags: tags,
        metadata,
        seq: 0,
        prev_hash: '',
        hash: '',
      };
    }
    // The record holds only the fields that are set.
    const body: Body = { timestamp: time };
    if (userId !== undefined) body.user_id = userId;
    if (action !== undefined) body.action = action;
    if (resourceType !== undefined) body.resource_type = resourceType;
    if (resourceId !== undefined) body.resource_id = resourceId;
    if (outcome !== undefined) body.outcome = outcome;
    if (ip !== undefined) body.ip_address = ip;
    if (agent !== undefined) body.user_agent = agent;
    if (session !== undefined) body.session_id = session;
    if (request !== undefined) body.request_id = request;
    if (tags !== undefined) body.compliance_tags = tags;
    if (metadata !== undefined) body.metadata = metadata;
    return body;
  }

  #problem(strict: boolean, message: string): void {
    if (strict) throw new Invalid(message);
    this.#context.diagnostics.report(DiagnosticCode.INVALID_VALUE, `audit entry: ${message}`);
  }

  /** `value` when given and valid; undefined when absent, or invalid (reported, or thrown). */
  #field(value: unknown, field: string, strict: boolean, limit = 256): string | undefined {
    return value !== undefined && this.#text(value, field, strict, limit) ? value : undefined;
  }

  /** Whether `value` is a valid string field; reports (or throws) when not. */
  #text(value: unknown, field: string, strict: boolean, limit = 256): value is string {
    if (typeof value === 'string' && value !== '' && value.length <= limit) return true;
    this.#problem(strict, `${field} must be a non-empty string of at most ${limit} characters`);
    return false;
  }

  #now(): string {
    const ms = this.#context.clock.now();
    if (ms !== this.#isoMs) {
      this.#iso = new Date(ms).toISOString();
      this.#isoMs = ms;
    }
    return this.#iso;
  }

  #timestamp(value: unknown, strict: boolean): string {
    try {
      return new Date(toMs(value, 'timestamp')).toISOString();
    } catch (error) {
      if (strict) throw error;
      this.#problem(false, messageOf(error));
      return new Date(this.#context.clock.now()).toISOString();
    }
  }

  /** Redacted, JSON-safe metadata, or undefined when too large. */
  #metadata(metadata: Record<string, unknown>): Record<string, AuditJsonValue> | undefined {
    // Flat metadata nothing in which is masked (the common case): copied and written
    // in one pass, without the redactor's deep copy.
    const flat = this.#flatMetadata(metadata);
    if (flat !== undefined) {
      if (this.#metadataText.length > this.#maxMetadata) return undefined;
      this.#lastMetadata = flat;
      return flat;
    }
    let value: unknown = this.#redactor === undefined ? metadata : this.#redactor.redact(metadata);
    let text: string;
    try {
      text = canonicalJson(value);
    } catch {
      // Non-finite numbers, bigints...: as JSON writes them.
      value = JSON.parse(
        JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ??
          '{}',
      ) as unknown;
      text = canonicalJson(value);
    }
    if (text.length > this.#maxMetadata) return undefined;
    this.#lastMetadata = value;
    this.#metadataText = text;
    return value as Record<string, AuditJsonValue>;
  }

  /**
   * A copy of metadata whose values are all strings, finite numbers, booleans, null or
   * undefined and in which redaction masks nothing, with its canonical text in
   * `#metadataText`; `undefined` for anything else (the general path decides).
   */
  #flatMetadata(metadata: Record<string, unknown>): Record<string, AuditJsonValue> | undefined {
    const proto: unknown = Object.getPrototypeOf(metadata);
    // A Map, Date or class instance: the redactor knows how to copy it.
    if (proto !== Object.prototype && proto !== null) return undefined;
    const keys = this.#sortedKeys(Object.keys(metadata));
    // Each key's last value and its `"key":value` text, reused while values repeat
    // (checked and quoted once). Any change drops the whole text kept.
    if (keys !== this.#metaKeys) {
      this.#metaKeys = keys;
      this.#metaValues = new Array<unknown>(keys.length).fill(NONE);
      this.#metaParts = new Array<string>(keys.length).fill('');
      this.#metaText = undefined;
    }
    const values = this.#metaValues;
    const parts = this.#metaParts;
    const copy: Record<string, AuditJsonValue> = {};
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const v = metadata[key];
      if (v !== values[i]) {
        this.#metaText = undefined;
        const json = this.#flatJson(key, v);
        if (json === undefined) {
          values[i] = NONE;
          return undefined;
        }
        values[i] = v;
        parts[i] = json === '' ? '' : `${quote(key)}:${json}`;
      }
      if (v !== undefined) copy[key] = v as AuditJsonValue;
    }
    let text = this.#metaText;
    if (text === undefined) {
      text = '{';
      for (const part of parts) if (part !== '') text += `${text.length === 1 ? '' : ','}${part}`;
      text += '}';
      this.#metaText = text;
    }
    this.#metadataText = text;
    return copy;
  }

  /**
   * The JSON of a flat metadata value nothing in which is masked: `''` for
   * undefined (left out), `undefined` when the general path must decide.
   */
  #flatJson(key: string, v: unknown): string | undefined {
    const redactor = this.#redactor;
    // `__proto__` would set the copy's prototype: the general path handles it.
    if (key === '__proto__' || (redactor !== undefined && redactor.isSensitiveKey(key))) {
      return undefined;
    }
    switch (typeof v) {
      case 'string':
        return redactor !== undefined && redactor.redactString(v) !== v ? undefined : quote(v);
      case 'number':
        // Finite numbers: JSON writes them as String does (-0 as 0).
        return Number.isFinite(v) ? String(v) : undefined;
      case 'boolean':
        return v ? 'true' : 'false';
      case 'object':
        return v === null ? 'null' : undefined;
      case 'undefined':
        return '';
      default:
        return undefined;
    }
  }

  /** Keys in canonical (UTF-16 code unit) order; the last order is reused for the same keys. */
  #sortedKeys(keys: string[]): readonly string[] {
    const last = this.#lastKeys;
    if (last.length === keys.length) {
      let same = true;
      for (let i = 0; i < keys.length; i++) {
        if (last[i] !== keys[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastSortedKeys;
    }
    this.#lastKeys = keys;
    this.#lastSortedKeys = keys.slice().sort();
    return this.#lastSortedKeys;
  }

  /** `quote(value)`, reusing the last result of field `k` when the value repeats. */
  #quoted(k: number, value: string): string {
    if (this.#lastRaw[k] === value) return this.#lastQuoted[k]!;
    const q = quote(value);
    this.#lastRaw[k] = value;
    this.#lastQuoted[k] = q;
    return q;
  }

  /** The canonical JSON of the tags, reusing the last when the tags repeat. */
  #tagsJson(tags: readonly string[]): string {
    const last = this.#lastTags;
    if (last.length === tags.length) {
      let same = true;
      for (let i = 0; i < tags.length; i++) {
        if (last[i] !== tags[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastTagsJson;
    }
    this.#lastTags = tags;
    this.#lastTagsJson = tagsJson(tags);
    return this.#lastTagsJson;
  }

  #append(body: Body): AuditRecord | undefined {
    if (this.#closed) {
      this.#context.diagnostics.report(
        DiagnosticCode.AFTER_SHUTDOWN,
        'audit record after close: dropped',
      );
      return undefined;
    }
    // The canonical form (see chain.ts), written field by field in sorted key order:
    // the same text `canonicalJson` writes for the record without its hash.
    const metadata = body.metadata;
    const metadataText =
      metadata === undefined
        ? undefined
        : metadata === this.#lastMetadata
          ? this.#metadataText
          : canonicalJson(metadata);
    this.#lastMetadata = undefined;
    const seq = this.#seq;
    const prev = this.#prev;
    // Values repeat from record to record: each field's last quoted value is reused.
    let c = '{';
    if (body.action !== undefined) c += `"action":${this.#quoted(0, body.action)},`;
    if (body.compliance_tags !== undefined) {
      c += `"compliance_tags":${this.#tagsJson(body.compliance_tags)},`;
    }
    if (body.ip_address !== undefined) c += `"ip_address":${this.#quoted(1, body.ip_address)},`;
    if (metadataText !== undefined) c += `"metadata":${metadataText},`;
    if (body.outcome !== undefined) c += `"outcome":${this.#quoted(2, body.outcome)},`;
    c += `"prev_hash":${prev === this.#hexPrev ? `"${prev}"` : quote(prev)}`;
    if (body.request_id !== undefined) c += `,"request_id":${this.#quoted(3, body.request_id)}`;
    if (body.resource_id !== undefined) {
      c += `,"resource_id":${this.#quoted(4, body.resource_id)}`;
    }
    if (body.resource_type !== undefined) {
      c += `,"resource_type":${this.#quoted(5, body.resource_type)}`;
    }
    c += `,"seq":${seq}`;
    if (body.session_id !== undefined) c += `,"session_id":${this.#quoted(6, body.session_id)}`;
    // An ISO string from toISOString: nothing to escape.
    c += `,"timestamp":"${body.timestamp}"`;
    if (body.user_agent !== undefined) c += `,"user_agent":${this.#quoted(7, body.user_agent)}`;
    if (body.user_id !== undefined) c += `,"user_id":${this.#quoted(8, body.user_id)}`;
    const canonical = `${c}}`;
    let hash: string | undefined;
    if (this.#sealingSink !== undefined) {
      // The sink encodes the text once and hashes those bytes.
      hash = this.#sealingSink.appendCanonical(canonical);
    } else {
      hash = sha256Hex(canonical);
      if (!this.sink.append(`${c},"hash":"${hash}"}`)) hash = undefined;
    }
    if (hash === undefined) {
      // Refused (a full buffer): left out of the chain, so the chain has no gap.
      this.#reject();
      return undefined;
    }
    // The record handed back holds only the fields that are set.
    body.seq = seq;
    body.prev_hash = prev;
    body.hash = hash;
    this.#seq = seq + 1;
    this.#prev = hash;
    this.#hexPrev = hash;
    const record = Object.freeze(body) as AuditRecord;
    this.#recorded++;
    if (
      body.user_id !== undefined &&
      body.action !== undefined &&
      body.resource_type !== undefined &&
      body.outcome !== undefined
    ) {
      this.#complete++;
    }
    this.#completeness.set(this.#complete / this.#recorded);
    const outcome = body.outcome ?? '';
    (this.#byOutcome.get(outcome) ?? this.#byOutcome.get('other')!).inc();
    if (this.#onRecord !== undefined) {
      try {
        this.#onRecord(record);
      } catch (error) {
        this.#context.diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `audit onRecord: ${messageOf(error)}`,
        );
      }
    }
    return record;
  }
}

/**
 * Verifies an export made by {@link AuditLog.exportRange}: its records chain from
 * the proof's `prev_hash` and `first_seq`, their count and last hash match the
 * proof. Never throws.
 *
 * @example
 * ```ts
 * const v = verifyAuditExport(await readFile('audit-2024-01.jsonl', 'utf8'));
 * if (!v.ok) throw new Error(v.message);
 * ```
 */
export function verifyAuditExport(text: string): ChainVerification {
  const lines = text.split('\n').filter((l) => l !== '');
  let proof: AuditExportProof;
  try {
    proof = (JSON.parse(lines[0] ?? '') as { audit_export: AuditExportProof }).audit_export;
    if (typeof proof.prev_hash !== 'string' || typeof proof.first_seq !== 'number') {
      throw new Error('no proof');
    }
  } catch {
    return {
      ok: false,
      index: 0,
      seq: undefined,
      problem: 'malformed',
      message: 'the first line is not an audit_export proof',
      records: 0,
    };
  }
  const result = verifyChain(lines.slice(1), {
    anchor: { seq: proof.first_seq, prevHash: proof.prev_hash },
  });
  if (!result.ok) return result;
  if (result.records !== proof.count || result.headHash !== proof.last_hash) {
    return {
      ok: false,
      index: result.records,
      seq: result.lastSeq,
      problem: 'removed',
      message: `the export holds ${result.records} records ending at ${result.headHash}; its proof says ${proof.count} ending at ${proof.last_hash}`,
      records: result.records,
    };
  }
  return result;
}
