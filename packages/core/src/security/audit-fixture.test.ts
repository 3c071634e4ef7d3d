/**
 * The stored form is stable: fixtures/audit-chain-v1.jsonl was written by the first
 * serialiser (generic canonical JSON through `JSON.stringify`, before the
 * hand-written one); it must still verify, a log opened on it must continue its
 * chain, and today's code must write the same lines, byte for byte, from the same
 * entries. A property test checks every line against the generic serialiser
 * (`sealRecord`), the reference of the canonical form.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';

import type { Monitor } from '../monitor.js';
import { AuditLog, type AuditEntryInput } from './audit.js';
import { type AuditRecord, sealRecord, verifyChain } from './chain.js';
import { JsonlFileSink, MemoryAuditSink } from './sinks.js';
import { writeFixtureLog } from './test-support-audit-fixture.js';
import { securityMonitor } from './test-support.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/audit-chain-v1.jsonl', import.meta.url));
const monitors: Monitor[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fixtureLines(): string[] {
  return readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** The reference: the generic serialiser over the record without its hash. */
function referenceLine(record: AuditRecord): string {
  const { hash: _hash, ...body } = record;
  return sealRecord(body).line;
}

describe('audit log written by the first serialiser (fixture)', () => {
  it('still verifies, retention cut included', () => {
    const lines = fixtureLines();
    expect(lines.length).toBe(30);
    expect(lines.some((l) => l.includes('"action":"audit.retention_cut"'))).toBe(true);
    expect(verifyChain(lines)).toMatchObject({ ok: true, records: 30, firstSeq: 5, lastSeq: 34 });
  });

  it("is reproduced byte for byte by today's serialiser from the same entries", async () => {
    const s = securityMonitor();
    monitors.push(s.monitor);
    const audit = new AuditLog(s.context, { sink: new MemoryAuditSink() });
    await writeFixtureLog(audit, s.clock);
    const written = [...audit.sink.read()];
    const expected = fixtureLines();
    expect(written.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) expect(written[i]).toBe(expected[i]);
  });

  it('a file sink opened on it continues the chain, and the whole file verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prsm-audit-fixture-'));
    dirs.push(dir);
    const path = join(dir, 'audit.jsonl');
    copyFileSync(FIXTURE, path);
    const s = securityMonitor();
    monitors.push(s.monitor);
    const audit = new AuditLog(s.context, { sink: new JsonlFileSink({ path }) });
    expect(audit.head().nextSeq).toBe(35);
    const r = audit.record({
      user_id: 'user_1',
      action: 'login',
      resource_type: 'session',
      outcome: 'success',
      metadata: { note: 'after the upgrade', n: 1 },
    })!;
    expect(r.seq).toBe(35);
    expect(await audit.verify()).toMatchObject({ ok: true, records: 31, firstSeq: 5, lastSeq: 35 });
    await audit.close();
  });
});

describe('every stored line is the generic serialiser’s', () => {
  const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
  const optional = fc.option(text, { nil: undefined });
  const entryArb = fc.record(
    {
      user_id: text,
      action: text,
      resource_type: text,
      outcome: text,
      resource_id: optional,
      ip_address: optional,
      user_agent: optional,
      session_id: optional,
      request_id: optional,
      metadata: fc.option(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()), {
        nil: undefined,
      }),
      compliance_tags: fc.option(fc.array(text, { maxLength: 4 }), { nil: undefined }),
      timestamp: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: undefined }),
    },
    { requiredKeys: ['user_id', 'action', 'resource_type', 'outcome'] },
  );

  it.each(['memory', 'file'] as const)(
    'for any entry (strict record), with or without redaction, in the %s sink',
    async (kind) => {
      for (const redaction of [undefined, false] as const) {
        const s = securityMonitor();
        monitors.push(s.monitor);
        let sink: MemoryAuditSink | JsonlFileSink = new MemoryAuditSink();
        if (kind === 'file') {
          // The file sink seals records itself (appendCanonical): one encoding, hashed as bytes.
          const dir = mkdtempSync(join(tmpdir(), 'prsm-audit-lines-'));
          dirs.push(dir);
          sink = new JsonlFileSink({ path: join(dir, 'audit.jsonl'), fsync: 'none' });
        }
        const audit = new AuditLog(s.context, {
          sink,
          ...(redaction === false && { redaction }),
          maxMetadataChars: 1_000_000,
        });
        const records: AuditRecord[] = [];
        fc.assert(
          fc.property(entryArb, (entry) => {
            records.push(audit.record(entry)!);
          }),
          { numRuns: 400 },
        );
        await audit.flush();
        const lines = [...audit.sink.read()];
        expect(lines.length).toBe(records.length);
        for (let i = 0; i < lines.length; i++) {
          expect(lines[i]).toBe(referenceLine(records[i]!));
          // The record handed back is what was stored (-0 reads back as 0).
          expect(JSON.parse(lines[i]!)).toEqual(JSON.parse(JSON.stringify(records[i])));
        }
        expect(await audit.verify()).toMatchObject({ ok: true, records: records.length });
        await audit.close();
      }
    },
  );

  it('metadata of the same keys whose values change, repeat, or need masking', async () => {
    const s = securityMonitor();
    monitors.push(s.monitor);
    const audit = new AuditLog(s.context);
    const base = { user_id: 'u', action: 'a', resource_type: 'r', outcome: 'success' };
    const values: unknown[] = [
      'plain',
      'plain',
      'card 4111 1111 1111 1111',
      'plain',
      undefined,
      NaN,
      { nested: 'x' },
      'password=hunter2',
      -0,
      0,
      null,
      true,
      'plain',
    ];
    const records = values.map((note) =>
      audit.record({ ...base, metadata: { note, n: 1, z: 'same' } })!,
    );
    records.push(audit.record({ ...base, metadata: { z: 'same', note: 'plain', n: 1 } })!);
    records.push(audit.record({ ...base, metadata: { n: 1, note: 'plain' } })!);
    const lines = [...audit.sink.read()];
    lines.forEach((line, i) => expect(line).toBe(referenceLine(records[i]!)));
    expect(lines.join('\n')).not.toMatch(/4111|hunter2/);
    expect(records[2]!.metadata).toEqual({ note: 'card [REDACTED]', n: 1, z: 'same' });
    expect(records[4]!.metadata).toEqual({ n: 1, z: 'same' });
    expect(records[5]!.metadata).toEqual({ note: null, n: 1, z: 'same' });
    expect(records[7]!.metadata).toEqual({ note: 'password=[REDACTED]', n: 1, z: 'same' });
    expect(records[12]!.metadata).toEqual({ note: 'plain', n: 1, z: 'same' });
    expect(await audit.verify()).toMatchObject({ ok: true, records: records.length });
  });

  it('for lenient entries (tryRecord) with missing and mistyped fields', async () => {
    const s = securityMonitor();
    monitors.push(s.monitor);
    const audit = new AuditLog(s.context);
    const loose = fc.record(
      {
        user_id: fc.oneof(text, fc.integer(), fc.constant('')),
        action: fc.oneof(text, fc.constant(null)),
        resource_type: text,
        outcome: fc.oneof(text, fc.boolean()),
        metadata: fc.oneof(fc.jsonValue(), fc.object()),
        compliance_tags: fc.oneof(fc.array(text), fc.string()),
        timestamp: fc.oneof(fc.string(), fc.date(), fc.integer()),
      },
      { requiredKeys: [] },
    );
    let count = 0;
    fc.assert(
      fc.property(loose, (entry) => {
        const r = audit.tryRecord(entry as Partial<AuditEntryInput>);
        if (r === undefined) return;
        count++;
        const lines = [...audit.sink.read()];
        expect(lines[lines.length - 1]).toBe(referenceLine(r));
      }),
      { numRuns: 300 },
    );
    expect(await audit.verify()).toMatchObject({ ok: true, records: count });
  });
});
