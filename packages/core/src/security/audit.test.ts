import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';

import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { Monitor } from '../monitor.js';
import {
  AuditLog,
  type AuditEntryInput,
  type AuditLogOptions,
  verifyAuditExport,
} from './audit.js';
import {
  type AuditRecord,
  canonicalJson,
  GENESIS_HASH,
  sealRecord,
  sha256Hex,
  verifyChain,
} from './chain.js';
import { MemoryAuditSink } from './sinks.js';
import { securityMonitor, T0, total } from './test-support.js';

const monitors: Monitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function setup(options: AuditLogOptions = {}) {
  const s = securityMonitor();
  monitors.push(s.monitor);
  return { ...s, audit: new AuditLog(s.context, options) };
}

const SPEC_ENTRY: AuditEntryInput = {
  timestamp: '2024-01-15T14:30:00Z',
  user_id: 'user_123',
  action: 'create_distillation_job',
  resource_type: 'distillation_jobs',
  resource_id: 'job_uuid',
  outcome: 'success',
  ip_address: '192.168.1.100',
  user_agent: 'PRSM-Client/1.0',
  session_id: 'session_uuid',
  request_id: 'req_uuid',
  metadata: { strategy: 'multi_teacher', teacher_models: 3, estimated_cost: 450.0 },
  compliance_tags: ['SOC2', 'audit_required'],
};

function entry(i: number, extra: Partial<AuditEntryInput> = {}): AuditEntryInput {
  return {
    user_id: `user_${i % 7}`,
    action: 'update',
    resource_type: 'models',
    resource_id: `m_${i}`,
    outcome: i % 5 === 0 ? 'failure' : 'success',
    ...extra,
  };
}

function lines(audit: AuditLog): string[] {
  return [...audit.sink.read()];
}

describe('record', () => {
  it('stores the spec example field for field, chained from the genesis', () => {
    const { audit } = setup();
    const r = audit.record(SPEC_ENTRY)!;
    expect(r).toMatchObject({
      ...SPEC_ENTRY,
      timestamp: '2024-01-15T14:30:00.000Z',
      seq: 0,
      prev_hash: GENESIS_HASH,
    });
    const { hash: _hash, ...body } = r;
    expect(r.hash).toBe(sha256Hex(canonicalJson(body)));
    expect(JSON.parse(lines(audit)[0]!)).toEqual(r);
    const second = audit.record(entry(1))!;
    expect(second).toMatchObject({
      seq: 1,
      prev_hash: r.hash,
      timestamp: new Date(T0).toISOString(),
    });
  });

  it.each(['user_id', 'action', 'resource_type', 'outcome'] as const)(
    'a missing %s throws a TypeError naming it, and nothing is stored',
    (field) => {
      const { audit, monitor } = setup();
      const { [field]: _dropped, ...rest } = SPEC_ENTRY;
      expect(() => audit.record(rest as AuditEntryInput)).toThrow(
        new TypeError(`${field} is required`),
      );
      expect(lines(audit)).toHaveLength(0);
      expect(audit.stats()).toMatchObject({ recorded: 0, rejected: 1, nextSeq: 0 });
      expect(total(monitor, 'audit.rejected', {}, 'audit')).toBe(1);
    },
  );

  it('wrong types, unknown fields and oversized metadata throw, naming the field', () => {
    const { audit } = setup({ maxMetadataChars: 100 });
    const bad =
      (e: unknown): (() => unknown) =>
      () =>
        audit.record(e as AuditEntryInput);
    expect(bad({ ...SPEC_ENTRY, user_id: 42 })).toThrow(/user_id must be a non-empty string/);
    expect(bad({ ...SPEC_ENTRY, userId: 'x' })).toThrow(/unknown field userId/);
    expect(bad({ ...SPEC_ENTRY, timestamp: 'yesterday' })).toThrow(/timestamp must be/);
    expect(bad({ ...SPEC_ENTRY, compliance_tags: 'SOC2' })).toThrow(/compliance_tags/);
    expect(bad({ ...SPEC_ENTRY, metadata: { blob: 'x'.repeat(200) } })).toThrow(
      /metadata is larger/,
    );
    expect(bad(null)).toThrow(/must be an object/);
    expect(lines(audit)).toHaveLength(0);
  });

  it('metadata is redacted before it is stored', () => {
    const { audit } = setup();
    const r = audit.record({
      ...SPEC_ENTRY,
      metadata: {
        password: 'hunter2',
        nested: { apiKey: 'k-123' },
        note: 'card 4111 1111 1111 1111',
      },
    })!;
    expect(r.metadata).toEqual({
      password: '[REDACTED]',
      nested: { apiKey: '[REDACTED]' },
      note: 'card [REDACTED]',
    });
    expect(lines(audit)[0]).not.toMatch(/hunter2|k-123|4111/);
  });

  it('tryRecord never throws: an entry without a user is stored incomplete and counted', () => {
    const { audit, monitor } = setup();
    audit.record(SPEC_ENTRY);
    expect(
      audit.tryRecord({
        action: 'export',
        resource_type: 'reports',
        outcome: 'success',
        user_id: 7 as unknown as string,
      }),
    ).toBeDefined();
    expect(audit.stats()).toMatchObject({ recorded: 2, complete: 1, completeness: 0.5 });
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(1);
    expect(audit.tryRecord(null as unknown as AuditEntryInput)).toBeUndefined();
  });

  it('after close, records are refused and reported', async () => {
    const { audit, monitor } = setup();
    await audit.close();
    expect(audit.record(SPEC_ENTRY)).toBeUndefined();
    expect(monitor.diagnostics.count(DiagnosticCode.AFTER_SHUTDOWN)).toBe(1);
  });
});

describe('canonical JSON', () => {
  it('records with any strings and metadata (integer-like keys, escapes, surrogates) are hashed over their canonical JSON and verify', async () => {
    const { audit } = setup();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1 }), fc.jsonValue(), (text, value) => {
        const r = audit.record({
          ...SPEC_ENTRY,
          resource_id: text.slice(0, 256),
          metadata: { text, value },
        })!;
        const { hash: _h, ...body } = r;
        expect(r.hash).toBe(sha256Hex(canonicalJson(body)));
      }),
      { numRuns: 300 },
    );
    expect(await audit.verify()).toMatchObject({ ok: true, records: 300 });
  });

  it('keys are sorted by UTF-16 code units, undefined members left out', () => {
    expect(canonicalJson({ b: 1, a: [true, undefined, 'x'], B: null, c: undefined })).toBe(
      '{"B":null,"a":[true,null,"x"],"b":1}',
    );
    expect(() => canonicalJson({ n: NaN })).toThrow(TypeError);
  });
});

describe('verify: tampering of each kind is found at the right record', () => {
  function chain(n: number): string[] {
    const { audit } = setup();
    for (let i = 0; i < n; i++) audit.record(entry(i));
    return lines(audit);
  }
  const reseal = (record: Record<string, unknown>): string => {
    const { hash: _h, ...body } = record;
    return sealRecord(body).line;
  };

  it('an untouched log verifies', async () => {
    const { audit } = setup();
    for (let i = 0; i < 50; i++) audit.record(entry(i));
    expect(await audit.verify()).toMatchObject({ ok: true, records: 50, firstSeq: 0, lastSeq: 49 });
  });

  it('changed: an edited field', () => {
    const log = chain(10);
    log[4] = log[4]!.replace('"outcome":"success"', '"outcome":"failure"');
    expect(verifyChain(log)).toMatchObject({ ok: false, index: 4, seq: 4, problem: 'changed' });
  });

  it('changed: an edited record re-hashed, found at its successor and reported at itself', () => {
    const log = chain(10);
    const r = JSON.parse(log[6]!) as Record<string, unknown>;
    r['user_id'] = 'someone_else';
    log[6] = reseal(r);
    expect(verifyChain(log)).toMatchObject({ ok: false, index: 6, seq: 6, problem: 'changed' });
  });

  it('removed: a record in the middle, and the first record', () => {
    const log = chain(10);
    expect(verifyChain(log.filter((_, i) => i !== 3))).toMatchObject({
      ok: false,
      index: 3,
      seq: 4,
      problem: 'removed',
    });
    expect(verifyChain(log.slice(1))).toMatchObject({ ok: false, index: 0, problem: 'removed' });
  });

  it('inserted: a forged record linked in with a valid hash, and a duplicated line', () => {
    const log = chain(10);
    const previous = JSON.parse(log[4]!) as AuditRecord;
    const forged = reseal({
      ...(JSON.parse(log[5]!) as Record<string, unknown>),
      seq: 5,
      prev_hash: previous.hash,
      user_id: 'mallory',
    });
    const withForged = [...log.slice(0, 5), forged, ...log.slice(5)];
    expect(verifyChain(withForged)).toMatchObject({ ok: false, index: 5, problem: 'inserted' });
    const withDuplicate = [...log.slice(0, 6), log[5]!, ...log.slice(6)];
    expect(verifyChain(withDuplicate)).toMatchObject({ ok: false, index: 6, problem: 'inserted' });
  });

  it('reordered: two records swapped', () => {
    const log = chain(10);
    const swapped = [...log];
    [swapped[7], swapped[8]] = [swapped[8]!, swapped[7]!];
    expect(verifyChain(swapped)).toMatchObject({
      ok: false,
      index: 7,
      seq: 8,
      problem: 'reordered',
    });
  });

  it('malformed: a line that is not a record', () => {
    const log = chain(5);
    log[2] = '{"seq":2';
    expect(verifyChain(log)).toMatchObject({ ok: false, index: 2, problem: 'malformed' });
  });
});

describe('retention', () => {
  const DAY = 86_400_000;

  it('cuts only an expired prefix, records the cut, and the shortened log verifies', async () => {
    const { audit, clock } = setup({ retentionDays: { default: 10, HIPAA: 100 } });
    for (let i = 0; i < 5; i++) audit.record(entry(i)); // seq 0-4: default retention
    audit.record(entry(5, { compliance_tags: ['HIPAA'] })); // seq 5: 100 days
    for (let i = 6; i < 9; i++) audit.record(entry(i)); // seq 6-8
    clock.advance(5 * DAY);
    for (let i = 9; i < 12; i++) audit.record(entry(i)); // seq 9-11, five days younger
    clock.advance(6 * DAY); // 0-8 are 11 days old; 9-11 six days; HIPAA 5 kept

    const result = await audit.applyRetention();
    expect(result.removed).toBe(5); // 0-4; 6-8 wait behind the HIPAA record
    expect(result.cut).toMatchObject({
      user_id: 'system',
      action: 'audit.retention_cut',
      seq: 12,
      metadata: { first_kept_seq: 5, removed: 5, removed_through_seq: 4 },
    });
    const stored = lines(audit).map((l) => (JSON.parse(l) as AuditRecord).seq);
    expect(stored).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(await audit.verify()).toMatchObject({ ok: true, firstSeq: 5, lastSeq: 12 });
    const report = await audit.compliance();
    expect(report).toMatchObject({ records: 8, expired: 3, completeness: 1 });
    expect(report.retentionAdherence).toBeCloseTo(1 - 3 / 8);

    // The chain continues after the cut.
    audit.record(entry(13));
    expect(await audit.verify()).toMatchObject({ ok: true, lastSeq: 13 });
  });

  it('a prefix removed without a cut record is detected', async () => {
    const { audit, clock } = setup({ retentionDays: { default: 1 } });
    for (let i = 0; i < 5; i++) audit.record(entry(i));
    clock.advance(2 * DAY);
    await audit.applyRetention();
    const log = lines(audit);
    // The cut record is the only one left (seq 5) and confirms its own start.
    expect(verifyChain(log)).toMatchObject({ ok: true, firstSeq: 5 });
    // Removing the cut record too leaves a start nothing accounts for.
    audit.record(entry(6));
    expect(verifyChain(lines(audit).slice(1))).toMatchObject({
      ok: false,
      problem: 'removed',
    });
  });

  it('nothing expired: nothing removed, no cut recorded', async () => {
    const { audit } = setup();
    for (let i = 0; i < 3; i++) audit.record(entry(i));
    expect(await audit.applyRetention()).toEqual({ removed: 0, cut: undefined });
    expect(lines(audit)).toHaveLength(3);
  });
});

describe('export with chain proof', () => {
  it('exports a time range that verifies from the hash before it; tampering is caught', async () => {
    const { audit, clock } = setup();
    const recorded: AuditRecord[] = [];
    for (let i = 0; i < 20; i++) {
      recorded.push(audit.record(entry(i))!);
      clock.advance(60_000);
    }
    const from = new Date(T0 + 5 * 60_000);
    const to = new Date(T0 + 12 * 60_000);
    const text = await audit.exportRange({ from, to });
    const [header, ...rest] = text.trimEnd().split('\n');
    expect(JSON.parse(header!)).toMatchObject({
      audit_export: {
        first_seq: 5,
        prev_hash: recorded[4]!.hash,
        last_hash: recorded[11]!.hash,
        count: 7,
      },
    });
    expect(rest.map((l) => (JSON.parse(l) as AuditRecord).seq)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(verifyAuditExport(text)).toMatchObject({ ok: true, records: 7 });

    expect(verifyAuditExport(text.replace('"m_7"', '"m_70"'))).toMatchObject({
      ok: false,
      problem: 'changed',
      index: 2,
    });
    const dropLast = `${[header, ...rest.slice(0, -1)].join('\n')}\n`;
    expect(verifyAuditExport(dropLast)).toMatchObject({ ok: false, problem: 'removed' });
    expect(verifyAuditExport('nonsense')).toMatchObject({ ok: false, problem: 'malformed' });
  });

  it('an empty range exports a proof of zero records', async () => {
    const { audit } = setup();
    audit.record(entry(0));
    const text = await audit.exportRange({ from: T0 + 1000, to: T0 + 2000 });
    expect(verifyAuditExport(text)).toMatchObject({ ok: true, records: 0 });
  });
});

describe('compliance figures', () => {
  it('completeness and tags over the stored log, and the gauges for health', async () => {
    const { audit, monitor } = setup();
    audit.record(SPEC_ENTRY);
    audit.record(entry(1, { compliance_tags: ['GDPR', 'HIPAA'] }));
    audit.tryRecord({ action: 'x', resource_type: 'y', outcome: 'success' }); // no user
    audit.tryRecord({ action: 'x', resource_type: 'y', user_id: 'u' }); // no outcome
    const report = await audit.compliance();
    expect(report).toMatchObject({
      records: 4,
      complete: 2,
      completeness: 0.5,
      expired: 0,
      retentionAdherence: 1,
      byTag: { SOC2: 1, audit_required: 1, GDPR: 1, HIPAA: 1 },
    });
    const gauge = monitor
      .snapshot()
      .series.find((s) => s.name === 'audit.completeness' && s.type === 'gauge');
    expect(gauge).toMatchObject({ value: 0.5 });
    expect(total(monitor, 'audit.records', { outcome: 'success' }, 'audit')).toBe(3);
    expect(total(monitor, 'audit.records', { outcome: 'other' }, 'audit')).toBe(1);
  });
});

describe('memory sink', () => {
  it('is bounded: evicted records are counted, and the rest verifies from its anchor', async () => {
    const { audit } = setup({ sink: new MemoryAuditSink({ maxRecords: 10 }) });
    for (let i = 0; i < 25; i++) audit.record(entry(i));
    expect(audit.sink.stats()).toMatchObject({ appended: 25, dropped: 15 });
    expect(lines(audit)).toHaveLength(10);
    expect(await audit.verify()).toMatchObject({ ok: true, firstSeq: 15, lastSeq: 24 });
  });

  it('onRecord sees every record; a throwing one is reported', () => {
    const seen: number[] = [];
    const { audit, monitor } = setup({
      onRecord: (r) => {
        seen.push(r.seq);
        if (r.seq === 1) throw new Error('exporter bug');
      },
    });
    for (let i = 0; i < 3; i++) audit.record(entry(i));
    expect(seen).toEqual([0, 1, 2]);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
  });
});
