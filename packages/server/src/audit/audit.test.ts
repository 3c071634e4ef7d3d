/**
 * The audit routes through Fastify's inject, on a real SQLite file: roles, strict
 * schemas, chain verdicts (linked, gap, mismatch), duplicates, and verification of a
 * store reopened from its file. The end-to-end path (a monitor's restAuditSink to a
 * server process, tampering with rows) is in test/business-audit-e2e.test.ts.
 */
import { join } from 'node:path';

import { ManualClock, Monitor, sealRecord } from '@prsm/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createServer, type PrsmServer } from '../server.js';
import { auditStoreOf } from '../store/audit.js';
import { openStore } from '../store/store.js';
import { tempDir } from '../test-support.js';

const T0 = Date.parse('2026-03-15T12:00:00Z');

function chain(n: number, user = 'user_1'): Record<string, unknown>[] {
  const monitor = new Monitor({ clock: new ManualClock(T0), audit: {} });
  for (let i = 0; i < n; i++) {
    monitor.audit.record({
      user_id: user,
      action: i % 2 === 0 ? 'create_job' : 'delete_job',
      resource_type: 'jobs',
      resource_id: `job_${i}`,
      outcome: 'success',
      metadata: { n: i, nested: { ok: true } },
      compliance_tags: ['SOC2'],
    });
  }
  const lines = [...monitor.audit.sink.read()];
  void monitor.shutdown();
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

let dir: { dir: string; remove: () => void };
let server: PrsmServer;
let keys: Record<'ingest' | 'read' | 'admin', string>;

beforeEach(async () => {
  dir = tempDir();
  server = await createServer({ db: join(dir.dir, 'm.db'), rateLimit: false });
  keys = {
    ingest: server.store.createKey('ingest').key,
    read: server.store.createKey('read').key,
    admin: server.store.createKey('admin').key,
  };
});

afterEach(async () => {
  await server.close();
  dir.remove();
});

async function call(
  method: 'GET' | 'POST',
  url: string,
  key: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await server.app.inject({
    method,
    url: `/api/v1/monitoring${url}`,
    headers: { authorization: `Bearer ${key}`, ...headers },
    ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
  });
  return { status: r.statusCode, json: r.json() };
}

describe('POST /audit', () => {
  it('stores a chain, answers linked, ignores a retry, and keeps roles apart', async () => {
    const entries = chain(5);
    const first = await call('POST', '/audit', keys.ingest, {
      batch_id: 'b1',
      source: 'svc',
      entries,
    });
    expect(first).toMatchObject({
      status: 200,
      json: { success: true, duplicate: false, stored: 5, ignored: 0, chain: 'linked' },
    });
    const retry = await call('POST', '/audit', keys.ingest, {
      batch_id: 'b1',
      source: 'svc',
      entries,
    });
    expect(retry.json).toMatchObject({ duplicate: true, stored: 0 });
    expect((await call('POST', '/audit', keys.read, { source: 'svc', entries })).status).toBe(403);
    expect((await call('GET', '/audit', keys.read)).status).toBe(403);
    expect((await call('GET', '/audit', keys.ingest)).status).toBe(403);
    const listed = await call('GET', '/audit?action=delete_job&limit=1', keys.admin);
    expect(listed.json).toMatchObject({
      count: 1,
      entries: [{ source: 'svc', resource_id: 'job_1' }],
    });
    expect((listed.json['entries'] as Record<string, unknown>[])[0]!['metadata']).toEqual({
      n: 1,
      nested: { ok: true },
    });
    expect((await call('GET', '/audit/verify', keys.read)).json).toMatchObject({
      ok: true,
      sources: [{ source: 'svc', ok: true, records: 5, first_seq: 0, last_seq: 4 }],
    });
  });

  it('refuses bad input with a 400 naming the field', async () => {
    const [entry] = chain(1);
    const cases: [unknown, string][] = [
      [{ source: 'svc', entries: [] }, 'entries'],
      [{ source: 'svc', entries: [{ ...entry, seq: -1 }] }, 'entries[0].seq'],
      [{ source: 'svc', entries: [{ ...entry, hash: 'nothex' }] }, 'entries[0].hash'],
      [{ source: 'svc', entries: [{ ...entry, surprise: 1 }] }, 'entries[0].surprise'],
      [{ entries: [entry] }, 'source'],
      [{ source: 'svc', entries: [{ ...entry, outcome: 'failure' }] }, 'entries[0].hash'],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/audit', keys.ingest, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.json['error'] as { field: string }).field).toBe(field);
    }
    const header = await call(
      'POST',
      '/audit',
      keys.ingest,
      { batch_id: 'a', source: 'svc', entries: [entry] },
      { 'x-prsm-batch-id': 'b' },
    );
    expect(header.json['error']).toMatchObject({ code: 'batch_id_mismatch' });
    expect((await call('GET', '/audit?limit=0', keys.admin)).status).toBe(400);
    expect((await call('GET', '/audit?from=yesterday', keys.admin)).status).toBe(400);
    expect((await call('GET', '/audit?colour=red', keys.admin)).status).toBe(400);
  });

  it('answers gap and mismatch, stores them, and verify names the first break', async () => {
    const entries = chain(4);
    await call('POST', '/audit', keys.ingest, { source: 'svc', entries: entries.slice(0, 2) });
    // Record 2 of another chain, sealed correctly, does not link to our record 1.
    const { hash: _hash, ...body } = chain(4, 'user_2')[2]!;
    void _hash;
    const foreign = JSON.parse(sealRecord(body).line) as Record<string, unknown>;
    const mismatch = await call('POST', '/audit', keys.ingest, {
      source: 'svc',
      entries: [foreign],
    });
    expect(mismatch.json).toMatchObject({ stored: 1, chain: 'mismatch' });
    const verdict = await call('GET', '/audit/verify?source=svc', keys.read);
    expect(verdict.json).toMatchObject({
      ok: false,
      // As verifyChain reads it: record 1 was rewritten (record 2 holds another prev_hash).
      sources: [{ ok: false, first_break: { seq: 1, index: 1, problem: 'changed' } }],
    });
    const gap = await call('POST', '/audit', keys.ingest, {
      source: 'other',
      entries: [entries[0], entries[3]],
    });
    expect(gap.json).toMatchObject({ stored: 2, chain: 'gap' });
  });

  it('keeps the copy in the SQLite file: a reopened store verifies it', async () => {
    await call('POST', '/audit', keys.ingest, { source: 'svc', entries: chain(3) });
    const path = server.store.path;
    await server.close();
    const store = openStore(path);
    try {
      expect(auditStoreOf(store).verify()).toMatchObject([{ source: 'svc', ok: true, records: 3 }]);
    } finally {
      store.close();
    }
    server = await createServer({ db: path, rateLimit: false });
  });
});

describe('POST /business-metrics batches', () => {
  it('stores a batch once per batch id, keeps the single body', async () => {
    const batch = {
      batch_id: 'k1',
      metrics: [
        {
          metric_name: 'monthly_recurring_revenue',
          value: 125000,
          dimension: 'monthly',
          target: 150000,
        },
        { metric_name: 'daily_active_users', value: 12500, dimension: 'daily' },
      ],
    };
    expect((await call('POST', '/business-metrics', keys.ingest, batch)).json).toMatchObject({
      recorded: 2,
    });
    expect((await call('POST', '/business-metrics', keys.ingest, batch)).json).toMatchObject({
      recorded: 0,
    });
    const single = await call('POST', '/business-metrics', keys.ingest, {
      metric_name: 'user_satisfaction_score',
      value: 4.2,
    });
    expect(single.json).toMatchObject({ recorded: 1, metric_name: 'user_satisfaction_score' });
    expect(
      server.store
        .businessMetrics()
        .map((m) => m.metric_name)
        .sort(),
    ).toEqual(['daily_active_users', 'monthly_recurring_revenue', 'user_satisfaction_score']);
    const mixed = await call('POST', '/business-metrics', keys.ingest, {
      metric_name: 'x',
      value: 1,
      metrics: [],
    });
    expect(mixed.status).toBe(400);
  });
});
