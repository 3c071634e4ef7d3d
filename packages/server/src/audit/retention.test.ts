/**
 * Retention of stored audit records on the server: a real SQLite file, a manual
 * clock, chains sealed by a real core AuditLog and sent through `POST /audit`
 * (Fastify's inject). Only an expired prefix of a chain is removed, each cut is an
 * `audit.retention_cut` record in the server's own chain, `GET /audit/verify` still
 * passes (after a reopen too), forged cuts are found, a broken chain is never cut,
 * and the count of expired rows is reported by `compact()` (the server's retention
 * report) and by `GET /audit/verify`.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import {
  type AuditEntryInput,
  AuditLog,
  type AuditRecord,
  ManualClock,
  MemoryAuditSink,
  Monitor,
} from '@prsm/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { createServer, type PrsmServer } from '../server.js';
import { auditStoreOf, parseAuditRetention, SERVER_AUDIT_SOURCE } from '../store/audit.js';
import { openStore } from '../store/store.js';
import { runCli, tempDir } from '../test-support.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const RETENTION = { SOC2: 10 * DAY, default: 5 * DAY };

/** A chain sealed by a real audit log: entries at the given days after T0, with tags. */
class Sender {
  readonly clock = new ManualClock(T0);
  readonly monitor = new Monitor({ clock: this.clock, audit: {} });
  readonly audit = new AuditLog(
    { clock: this.clock, diagnostics: this.monitor.diagnostics, recorder: this.monitor },
    { sink: new MemoryAuditSink() },
  );

  record(day: number, tags: string[] = []): AuditRecord {
    this.clock.set(T0 + day * DAY);
    const entry: AuditEntryInput = {
      user_id: 'user_1',
      action: 'update_model',
      resource_type: 'models',
      outcome: 'success',
      compliance_tags: tags,
    };
    return this.audit.record(entry)!;
  }
}

let dir: { dir: string; remove: () => void };
let clock: ManualClock;
let server: PrsmServer;
let key: string;
const senders: Sender[] = [];

async function start(options: { retention?: boolean } = {}): Promise<void> {
  server = await createServer({
    db: join(dir.dir, 'm.db'),
    clock,
    rateLimit: false,
    compactIntervalMs: 0,
    storeOptions: options.retention === false ? {} : { auditRecordRetentionMs: RETENTION },
  });
  key = server.store.createKey('admin').key;
}

beforeEach(async () => {
  dir = tempDir();
  clock = new ManualClock(T0);
  await start();
});

afterEach(async () => {
  vi.useRealTimers();
  await server.close();
  await Promise.all(senders.splice(0).map((s) => s.monitor.shutdown()));
  dir.remove();
});

function sender(): Sender {
  const s = new Sender();
  senders.push(s);
  return s;
}

async function call(
  method: 'GET' | 'POST',
  url: string,
  payload?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await server.app.inject({
    method,
    url: `/api/v1/monitoring${url}`,
    headers: { authorization: `Bearer ${key}` },
    ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
  });
  return { status: r.statusCode, json: r.json() };
}

async function send(source: string, entries: AuditRecord[]): Promise<Record<string, unknown>> {
  const r = await call('POST', '/audit', { source, entries });
  expect(r.status).toBe(200);
  return r.json;
}

interface Verify {
  ok: boolean;
  sources: { source: string; ok: boolean; records: number; first_seq: number | null }[];
  retention: { configured: boolean; last_run: string | null; removed: number; expired: number };
}

async function verify(): Promise<Verify> {
  const r = await call('GET', '/audit/verify');
  expect(r.status).toBe(200);
  return r.json as unknown as Verify;
}

function rows(source: string): number[] {
  const db = new Database(join(dir.dir, 'm.db'), { readonly: true });
  try {
    return db
      .prepare<[string], { seq: number }>(
        'SELECT seq FROM audit_entries WHERE source = ? ORDER BY seq',
      )
      .all(source)
      .map((r) => r.seq);
  } finally {
    db.close();
  }
}

describe('audit record retention on the server', () => {
  it('removes only the expired prefix, records the cut, and every chain still verifies', async () => {
    const s = sender();
    const records = [
      ...[0, 0, 0, 0, 0].map((d) => s.record(d)), // default: 5 days
      s.record(1, ['SOC2']), // 10 days: kept until day 11
      s.record(1, ['SOC2', 'audit_required']),
      ...[6, 6, 6].map((d) => s.record(d)), // until day 11
    ];
    await send('svc', records);

    clock.set(T0 + 7 * DAY);
    const result = server.store.compact(clock.now());
    expect(result).toMatchObject({ auditRecordsRemoved: 5, auditRecordsExpired: 0 });
    expect(result.dropped).toBeGreaterThanOrEqual(5);
    expect(rows('svc')).toEqual([5, 6, 7, 8, 9]);
    const cuts = auditStoreOf(server.store).list({ source: SERVER_AUDIT_SOURCE });
    expect(cuts).toHaveLength(1);
    expect(cuts[0]).toMatchObject({
      seq: 0,
      user_id: 'system',
      action: 'audit.retention_cut',
      resource_id: 'svc',
      metadata: {
        source: 'svc',
        first_kept_seq: 5,
        anchor_hash: records[4]!.hash,
        removed: 5,
        removed_through_seq: 4,
      },
    });
    const v = await verify();
    expect(v.ok).toBe(true);
    expect(v.sources).toEqual([
      expect.objectContaining({ source: SERVER_AUDIT_SOURCE, ok: true, records: 1 }),
      expect.objectContaining({ source: 'svc', ok: true, records: 5, first_seq: 5 }),
    ]);
    expect(v.retention).toEqual({
      configured: true,
      last_run: new Date(T0 + 7 * DAY).toISOString(),
      removed: 5,
      expired: 0,
    });

    // A retry of the first batch after the cut: nothing removed comes back.
    expect(await send('svc', records)).toMatchObject({ stored: 0, ignored: 10 });
    expect(rows('svc')).toEqual([5, 6, 7, 8, 9]);

    // Later everything stored has expired: all rows go, and the chain continues.
    clock.set(T0 + 12 * DAY);
    expect(server.store.compact(clock.now())).toMatchObject({ auditRecordsRemoved: 5 });
    expect(rows('svc')).toEqual([]);
    expect(await send('svc', [s.record(12)])).toMatchObject({ stored: 1, chain: 'linked' });
    expect(await verify()).toMatchObject({ ok: true });
    expect(rows(SERVER_AUDIT_SOURCE)).toEqual([0, 1]);

    // The file, reopened by another server, verifies the same.
    await server.close();
    await start();
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('a record still retained holds back the expired ones after it, counted as expired', async () => {
    const s = sender();
    await send('svc', [s.record(0), s.record(0, ['HIPAA']), s.record(0), s.record(0)]);
    clock.set(T0 + 30 * DAY);
    expect(server.store.compact(clock.now())).toMatchObject({
      auditRecordsRemoved: 1,
      auditRecordsExpired: 2,
    });
    expect(rows('svc')).toEqual([1, 2, 3]);
    expect((await verify()).retention).toMatchObject({ removed: 1, expired: 2 });
  });

  it('a cut record edited, or deleted, fails verification', async () => {
    const s = sender();
    await send('svc', [s.record(0), s.record(0), s.record(9)]);
    clock.set(T0 + 6 * DAY);
    server.store.compact(clock.now());
    expect(await verify()).toMatchObject({ ok: true });

    const db = new Database(join(dir.dir, 'm.db'));
    try {
      // The server's record of the cut, edited: its own chain breaks.
      db.prepare(
        'UPDATE audit_entries SET line = replace(line, \'"removed":2\', \'"removed":1\') WHERE source = ?',
      ).run(SERVER_AUDIT_SOURCE);
      let v = await verify();
      expect(v.ok).toBe(false);
      expect(v.sources.find((x) => x.source === SERVER_AUDIT_SOURCE)).toMatchObject({
        ok: false,
        first_break: { problem: 'changed', seq: 0 },
      });
      // Deleted: the source's shortened chain is no longer accounted for.
      db.prepare('DELETE FROM audit_entries WHERE source = ?').run(SERVER_AUDIT_SOURCE);
      v = await verify();
      expect(v.ok).toBe(false);
      expect(v.sources.find((x) => x.source === 'svc')).toMatchObject({
        ok: false,
        first_break: { problem: 'removed', seq: 2 },
      });
    } finally {
      db.close();
    }
  });

  it('rows removed by hand past the cut are found; the cut itself cannot be moved', async () => {
    const s = sender();
    await send('svc', [s.record(0), s.record(0), s.record(9), s.record(9), s.record(9)]);
    clock.set(T0 + 6 * DAY);
    server.store.compact(clock.now());
    const db = new Database(join(dir.dir, 'm.db'));
    try {
      db.prepare("UPDATE audit_retention_cuts SET first_kept_seq = 3 WHERE source = 'svc'").run();
      db.prepare("DELETE FROM audit_entries WHERE source = 'svc' AND seq = 2").run();
    } finally {
      db.close();
    }
    expect(await verify()).toMatchObject({ ok: false });
  });

  it('a chain that does not verify is never cut: its break stays visible', async () => {
    const s = sender();
    await send('svc', [s.record(0), s.record(0), s.record(0)]);
    const db = new Database(join(dir.dir, 'm.db'));
    try {
      db.prepare(
        "UPDATE audit_entries SET line = replace(line, 'user_1', 'user_2'), user_id = 'user_2' WHERE source = 'svc' AND seq = 1",
      ).run();
    } finally {
      db.close();
    }
    clock.set(T0 + 30 * DAY);
    expect(server.store.compact(clock.now())).toMatchObject({
      auditRecordsRemoved: 0,
      auditRecordsExpired: 3,
    });
    expect(rows('svc')).toEqual([0, 1, 2]);
    expect(await verify()).toMatchObject({ ok: false });
  });

  it("the server's timer runs it, with the other retention", async () => {
    await server.close();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    server = await createServer({
      db: join(dir.dir, 'm.db'),
      clock,
      rateLimit: false,
      compactIntervalMs: 60_000,
      storeOptions: { auditRecordRetentionMs: RETENTION },
    });
    key = server.store.createKey('admin').key;
    const s = sender();
    await send('svc', [s.record(0), s.record(9)]);
    clock.set(T0 + 6 * DAY);
    vi.advanceTimersByTime(60_000);
    expect(rows('svc')).toEqual([1]);
    expect(await verify()).toMatchObject({ ok: true, retention: { removed: 1 } });
  });

  it('without a configured retention, audit records are kept', async () => {
    await server.close();
    await start({ retention: false });
    const s = sender();
    await send('svc', [s.record(0), s.record(0)]);
    clock.set(T0 + 10_000 * DAY);
    expect(server.store.compact(clock.now())).toMatchObject({
      auditRecordsRemoved: 0,
      auditRecordsExpired: 0,
    });
    expect(rows('svc')).toEqual([0, 1]);
    expect((await verify()).retention).toMatchObject({ configured: false, removed: 0 });
  });

  it(`${SERVER_AUDIT_SOURCE} is reserved: POST /audit refuses it`, async () => {
    const s = sender();
    const r = await call('POST', '/audit', { source: SERVER_AUDIT_SOURCE, entries: [s.record(0)] });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: { code: 'invalid_value', field: 'source' } });
  });
});

describe('configuration', () => {
  it('parses the --audit-retention flag; a bad one is a TypeError naming it', () => {
    expect(parseAuditRetention('SOC2=400d,GDPR=30d,default=365d')).toEqual({
      SOC2: 400 * DAY,
      GDPR: 30 * DAY,
      default: 365 * DAY,
    });
    expect(parseAuditRetention('HIPAA=12h, ISO27001=90m')).toEqual({
      HIPAA: 12 * 3_600_000,
      ISO27001: 90 * 60_000,
    });
    expect(() => parseAuditRetention('PCI=1d')).toThrow(/unknown tag PCI/);
    expect(() => parseAuditRetention('SOC2=0d')).toThrow(/SOC2=0d/);
    expect(() => parseAuditRetention('SOC2=10 days')).toThrow(TypeError);
    expect(() => parseAuditRetention('SOC2')).toThrow(/TAG=<duration>/);
    expect(() =>
      openStore(join(dir.dir, 'x.db'), {
        auditRecordRetentionMs: { SOC2: -1 } as unknown as Record<string, number>,
      }),
    ).toThrow(/auditRecordRetentionMs.SOC2/);
  });

  it('prsm-monitor serve refuses a bad --audit-retention with exit code 2', async () => {
    const r = await runCli(['serve', '--db', join(dir.dir, 'c.db'), '--audit-retention', 'SOC2=x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--audit-retention: .*SOC2=x/);
  });
});
