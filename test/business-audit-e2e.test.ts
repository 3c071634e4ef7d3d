/**
 * Business metrics and the audit trail reaching a real `prsm-monitor serve` child
 * process (issues 7 and 10), end to end: `BusinessOutcomes` offers its KPIs to the
 * monitor, the REST exporter posts them (gzipped, keyed, batched) to
 * `POST /business-metrics` and `GET /business-dashboard` shows them; `restAuditSink`
 * keeps the audit log in a local JSONL file and ships it to `POST /audit`, both
 * copies verify, and rows tampered with in the server's SQLite file are found by
 * `GET /audit/verify`. A proxy on 127.0.0.1 in front of the server answers 503 after
 * the server stored a request, so the pipeline retries a batch the server already has.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { BusinessOutcomes } from '@prsm/business-outcomes';
import { JsonlFileSink, ManualClock, Monitor } from '@prsm/core';
import { otlpMetricExporter } from '@prsm/exporters/otlp';
import { toPrometheusText } from '@prsm/exporters/prometheus';
import { restAuditSink, restExporter } from '@prsm/exporters/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer } from '../packages/exporters/src/notifiers/test-support.js';
import { decodeMetrics } from '../packages/exporters/src/otlp/test-support-otlp.js';
import {
  createKeyCli,
  query,
  startServerChild,
  tempDir,
  type ServerChild,
} from '../packages/server/src/test-support.js';

const START = Date.parse('2026-03-15T12:00:00Z');
const noSleep = (): Promise<void> => Promise.resolve();

let dir: { dir: string; remove: () => void };
let db: string;
let server: ServerChild;
let keys: { ingest: string; read: string; enterprise: string; admin: string };

beforeAll(async () => {
  dir = tempDir();
  db = join(dir.dir, 'monitor.db');
  server = await startServerChild(db);
  const [ingest, read, enterprise, admin] = await Promise.all(
    ['ingest', 'read', 'enterprise', 'admin'].map((role) => createKeyCli(db, role)),
  );
  keys = { ingest: ingest!.key, read: read!.key, enterprise: enterprise!.key, admin: admin!.key };
}, 60_000);

afterAll(async () => {
  await server?.stop();
  dir?.remove();
});

async function api(
  method: 'GET' | 'POST',
  path: string,
  key: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A proxy to the server that answers 503 to the first `failures` requests it forwarded. */
async function flakyProxy(
  target: string,
  failures: number,
  path: string,
): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const to = new URL(target);
  const seen: string[] = [];
  let left = failures;
  const proxy: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${String(req.headers['x-prsm-batch-id'])}`);
      const forward = httpRequest(
        {
          host: to.hostname,
          port: to.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (upstream) => {
          const body: Buffer[] = [];
          upstream.on('data', (c: Buffer) => body.push(c));
          upstream.on('end', () => {
            if (left > 0 && req.url === path) {
              left--;
              res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"flaky"}');
              return;
            }
            res.writeHead(upstream.statusCode ?? 502, upstream.headers).end(Buffer.concat(body));
          });
        },
      );
      forward.end(Buffer.concat(chunks));
    });
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => proxy.close(() => resolve())),
  };
}

describe('business metrics reach @prsm/server', () => {
  it('posts changed KPIs (redacted) through the pipeline; a retried batch is stored once', async () => {
    const proxy = await flakyProxy(server.url, 1, '/api/v1/monitoring/business-metrics');
    const clock = new ManualClock(START);
    const monitor = new Monitor({
      clock,
      exportIntervalSeconds: 3600,
      exporters: [
        restExporter({
          url: proxy.url,
          apiKey: keys.ingest,
          businessPipeline: { sleep: noSleep, random: () => 0 },
        }),
      ],
      exportPipeline: { sleep: noSleep },
    });
    const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 0 });
    try {
      outcomes.recordMetric({
        metricName: 'monthly_recurring_revenue',
        value: 125_000,
        dimension: 'monthly',
        target: 150_000,
        metadata: { currency: 'USD', api_token: 'tok-SECRET-123', note: 'password=hunter2' },
      });
      outcomes.recordMetric({
        metricName: 'daily_active_users',
        value: 12_500,
        dimension: 'daily',
        target: 15_000,
      });
      await monitor.forceFlush(10);

      // The first POST was stored, answered 503 by the proxy, retried with the same id.
      const posts = proxy.seen.filter((s) =>
        s.startsWith('POST /api/v1/monitoring/business-metrics'),
      );
      expect(posts, JSON.stringify(proxy.seen)).toHaveLength(2);
      expect(posts[0]!.split(' ')[2]).toBe(posts[1]!.split(' ')[2]);
      const rows = query<{ metric_name: string; value: number; metadata: string }>(
        db,
        'SELECT metric_name, value, metadata FROM business_metrics ORDER BY id',
      );
      expect(rows.map((r) => [r.metric_name, r.value])).toEqual([
        ['monthly_recurring_revenue', 125_000],
        ['daily_active_users', 12_500],
      ]);
      const metadata = JSON.parse(rows[0]!.metadata) as Record<string, unknown>;
      expect(metadata).toEqual({
        currency: 'USD',
        api_token: '[REDACTED]',
        note: 'password=[REDACTED]',
        prsm_period: 2026 * 12 + 2, // the period of the value (March), for the server's trend
      });
      expect(JSON.stringify(rows)).not.toMatch(/SECRET|hunter2/);

      // Nothing changed: nothing sent again.
      await monitor.forceFlush(10);
      expect(query(db, 'SELECT id FROM business_metrics')).toHaveLength(2);

      // A new value goes out; the dashboard shows the latest and its target.
      outcomes.recordMetric({ metricName: 'monthly_recurring_revenue', value: 130_000 });
      await monitor.forceFlush(10);
      const dashboard = await api('GET', '/business-dashboard', keys.enterprise);
      expect(dashboard.status).toBe(200);
      const targets = dashboard.json['targets'] as Record<string, Record<string, number>>;
      expect(targets['monthly_recurring_revenue']).toMatchObject({
        current: 130_000,
        target: 150_000,
      });
      expect(targets['monthly_recurring_revenue']!['achievement']).toBeCloseTo(130 / 150, 2);
      expect(targets['daily_active_users']).toMatchObject({ current: 12_500, target: 15_000 });
      const trends = dashboard.json['trends'] as Record<string, string>;
      // Two values in one month are not a trend (a least-squares slope over 3+ periods).
      expect(trends['monthly_recurring_revenue']).toBe('stable');
      expect(monitor.exportStats()[0]!.dropped).toEqual({ queueFull: 0, failed: 0, shutdown: 0 });
    } finally {
      outcomes.shutdown();
      await monitor.shutdown();
      await proxy.close();
    }
  });

  it('keeps the single body, and drops a repeated batch id', async () => {
    const single = await api('POST', '/business-metrics', keys.ingest, {
      metric_name: 'user_satisfaction_score',
      value: 4.2,
    });
    expect(single.status).toBe(200);
    expect(single.json['recorded']).toBe(1);
    const batch = {
      batch_id: 'e2e-batch-1',
      metrics: [
        { metric_name: 'recommendation_click_rate', value: 0.12, dimension: 'daily', target: 0.15 },
      ],
    };
    const first = await api('POST', '/business-metrics', keys.ingest, batch);
    const again = await api('POST', '/business-metrics', keys.ingest, batch);
    expect([first.json['recorded'], again.json['recorded']]).toEqual([1, 0]);
    expect(
      query(db, "SELECT id FROM business_metrics WHERE metric_name = 'recommendation_click_rate'"),
    ).toHaveLength(1);
    const bad = await api('POST', '/business-metrics', keys.ingest, { metrics: [] });
    expect(bad.status).toBe(400);
    expect(bad.json['error']).toMatchObject({ code: expect.any(String) as string });
  });
});

describe('the audit trail reaches the server SQLite', () => {
  it('ships the chain; both copies verify; tampering with rows is found', async () => {
    const file = join(dir.dir, 'audit.jsonl');
    const clock = new ManualClock(START);
    const sink = restAuditSink({
      url: server.url,
      apiKey: keys.ingest,
      source: 'checkout-1',
      local: new JsonlFileSink({ path: file }),
      exportIntervalMs: 0,
      pipeline: { sleep: noSleep, maxBatchItems: 7 },
    });
    const monitor = new Monitor({ clock, audit: { sink } });
    try {
      for (let i = 0; i < 20; i++) {
        clock.advance(1000);
        monitor.audit.record({
          user_id: `user_${i % 4}`,
          action: i % 2 === 0 ? 'create_distillation_job' : 'delete_model',
          resource_type: 'distillation_jobs',
          resource_id: `job_${i}`,
          outcome: 'success',
          ip_address: '192.168.1.100',
          metadata: { strategy: 'multi_teacher', password: `pw-${i}`, token: 'tok-SECRET' },
          compliance_tags: ['SOC2'],
        });
      }
      await monitor.audit.flush();
      expect(sink.pipelineStats()).toMatchObject({ exported: 20, queued: 0 });
      expect(await monitor.audit.verify()).toMatchObject({ ok: true, records: 20 });

      const verified = await api('GET', '/audit/verify', keys.read);
      expect(verified.status).toBe(200);
      expect(verified.json).toMatchObject({
        ok: true,
        sources: [{ source: 'checkout-1', ok: true, records: 20, first_seq: 0, last_seq: 19 }],
      });
      const local = readFileSync(file, 'utf8').trim().split('\n');
      const head = JSON.parse(local[19]!) as { hash: string };
      expect((verified.json['sources'] as { head_hash: string }[])[0]!.head_hash).toBe(head.hash);

      // Reading the trail is for admin keys; verifying is for read keys.
      expect((await api('GET', '/audit', keys.read)).status).toBe(403);
      const listed = await api(
        'GET',
        `/audit?user_id=user_1&action=delete_model&from=${new Date(START).toISOString()}&limit=3`,
        keys.admin,
      );
      expect(listed.status).toBe(200);
      const entries = listed.json['entries'] as Record<string, unknown>[];
      expect(entries.map((e) => e['resource_id'])).toEqual(['job_1', 'job_5', 'job_9']);
      expect(entries[0]).toMatchObject({
        source: 'checkout-1',
        seq: 1,
        metadata: { strategy: 'multi_teacher', password: '[REDACTED]', token: '[REDACTED]' },
        compliance_tags: ['SOC2'],
      });
      expect(JSON.stringify(listed.json)).not.toMatch(/pw-\d|SECRET/);
      const rangeEnd = new Date(START + 3000).toISOString();
      const range = await api('GET', `/audit?to=${rangeEnd}`, keys.admin);
      expect((range.json['entries'] as unknown[]).length).toBe(2);

      // A retried batch (same id) and re-sent records (new id) are not stored twice.
      const records = local.slice(0, 3).map((l) => JSON.parse(l) as Record<string, unknown>);
      const batch = { batch_id: 'audit-retry-1', source: 'checkout-1', entries: records };
      const first = await api('POST', '/audit', keys.ingest, batch);
      expect(first.json).toMatchObject({ duplicate: false, stored: 0, ignored: 3 });
      const again = await api('POST', '/audit', keys.ingest, batch);
      expect(again.json).toMatchObject({ duplicate: true, stored: 0 });
      // A record whose hash does not match its content: 400 naming it.
      const forged = { ...records[1], user_id: 'mallory' };
      const badHash = await api('POST', '/audit', keys.ingest, {
        source: 'checkout-1',
        entries: [forged],
      });
      expect(badHash.status).toBe(400);
      expect(badHash.json['error']).toMatchObject({
        code: 'hash_mismatch',
        field: 'entries[0].hash',
      });
      // An unknown field: 400 (strict schema).
      const unknown = await api('POST', '/audit', keys.ingest, {
        source: 'checkout-1',
        entries: [{ ...records[0], extra: 1 }],
      });
      expect(unknown.status).toBe(400);
      // Another log under the same source with a different record 0: 409.
      const other = new Monitor({ clock, audit: {} });
      other.audit.record({ user_id: 'x', action: 'y', resource_type: 'z', outcome: 'success' });
      const otherLine = [...other.audit.sink.read()][0]!;
      const conflict = await api('POST', '/audit', keys.ingest, {
        source: 'checkout-1',
        entries: [JSON.parse(otherLine)],
      });
      expect(conflict.status).toBe(409);
      expect(conflict.json['error']).toMatchObject({ code: 'audit_conflict' });
      await other.shutdown();
      expect((await api('GET', '/audit/verify', keys.read)).json['ok']).toBe(true);

      // Tampering with the SQLite rows, kind by kind, then undone.
      const tamper = (sql: string, undo: string): (() => void) => {
        const sqlite = new Database(db);
        sqlite.exec(sql);
        sqlite.close();
        return () => {
          const s = new Database(db);
          s.exec(undo);
          s.close();
        };
      };
      const firstBreak = async (): Promise<Record<string, unknown> | undefined> => {
        const v = await api('GET', '/audit/verify?source=checkout-1', keys.read);
        return (v.json['sources'] as { first_break?: Record<string, unknown> }[])[0]!.first_break;
      };
      const line7 = query<{ line: string }>(
        db,
        "SELECT line FROM audit_entries WHERE source = 'checkout-1' AND seq = 7",
      )[0]!.line;
      const quoted = line7.replace(/'/g, "''");

      // The stored record changed.
      let undo = tamper(
        "UPDATE audit_entries SET line = replace(line, 'job_7', 'job_8') WHERE seq = 7",
        `UPDATE audit_entries SET line = '${quoted}' WHERE seq = 7`,
      );
      expect(await firstBreak()).toMatchObject({ seq: 7, index: 7, problem: 'changed' });
      undo();
      // Only an indexed column changed (what GET /audit filters on).
      undo = tamper(
        "UPDATE audit_entries SET user_id = 'user_9' WHERE seq = 7",
        "UPDATE audit_entries SET user_id = 'user_3' WHERE seq = 7",
      );
      expect(await firstBreak()).toMatchObject({ seq: 7, problem: 'changed' });
      undo();
      expect(await firstBreak()).toBeUndefined();
      // A record removed from the middle, then the first one.
      const row = (seq: number): string =>
        `INSERT INTO audit_entries SELECT * FROM saved WHERE seq = ${seq}; DROP TABLE saved;`;
      undo = tamper(
        'CREATE TABLE saved AS SELECT * FROM audit_entries WHERE seq = 12; DELETE FROM audit_entries WHERE seq = 12',
        row(12),
      );
      expect(await firstBreak()).toMatchObject({ seq: 13, problem: 'removed' });
      undo();
      undo = tamper(
        'CREATE TABLE saved AS SELECT * FROM audit_entries WHERE seq = 0; DELETE FROM audit_entries WHERE seq = 0',
        row(0),
      );
      expect(await firstBreak()).toMatchObject({ seq: 1, index: 0, problem: 'removed' });
      undo();
      // A record rewritten with a recomputed hash: its successor no longer links to it.
      const rewritten = JSON.parse(line7) as Record<string, unknown>;
      rewritten['resource_id'] = 'job_77';
      const { sealRecord } = await import('@prsm/core');
      const { hash: _old, ...body } = rewritten;
      void _old;
      const sealed = sealRecord(body);
      undo = tamper(
        `UPDATE audit_entries SET line = '${sealed.line.replace(/'/g, "''")}', hash = '${sealed.hash}' WHERE seq = 7`,
        `UPDATE audit_entries SET line = '${quoted}', hash = '${String((JSON.parse(line7) as { hash: string }).hash)}' WHERE seq = 7`,
      );
      expect(await firstBreak()).toMatchObject({ seq: 7, problem: 'changed' });
      undo();
      expect((await api('GET', '/audit/verify', keys.read)).json['ok']).toBe(true);
    } finally {
      await monitor.shutdown();
    }
  });

  it('reports a gap until the missing records arrive', async () => {
    const records = Array.from({ length: 4 }, () => undefined);
    const monitor = new Monitor({ clock: new ManualClock(START), audit: {} });
    for (const _ of records) {
      monitor.audit.record({ user_id: 'u', action: 'a', resource_type: 'r', outcome: 'success' });
    }
    const lines = [...monitor.audit.sink.read()].map((l) => JSON.parse(l) as unknown);
    await monitor.shutdown();
    const post = (entries: unknown[]): Promise<{ json: Record<string, unknown> }> =>
      api('POST', '/audit', keys.ingest, { source: 'gappy', entries });
    const firstPost = await post(lines.slice(0, 1));
    expect(firstPost.json['chain'], JSON.stringify(firstPost.json)).toBe('linked');
    const gap = await post(lines.slice(2));
    expect(gap.json).toMatchObject({ stored: 2, chain: 'gap' });
    const v = await api('GET', '/audit/verify?source=gappy', keys.read);
    expect(v.json).toMatchObject({
      ok: false,
      sources: [{ first_break: { seq: 2, problem: 'removed' } }],
    });
    expect((await post(lines.slice(1, 2))).json['chain']).toBe('linked');
    expect((await api('GET', '/audit/verify?source=gappy', keys.read)).json['ok']).toBe(true);
    expect((await api('GET', '/audit/verify?source=nobody', keys.read)).status).toBe(404);
  });
});

describe('business metrics reach OTLP and Prometheus too', () => {
  it('as the gauges business.kpi, business.kpi.target and business.kpi.achievement', async () => {
    const receiver = await startServer();
    const monitor = new Monitor({
      clock: new ManualClock(START),
      exporters: [otlpMetricExporter({ url: `${receiver.url}/v1/metrics`, protocol: 'protobuf' })],
    });
    const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 0 });
    try {
      outcomes.recordMetric({
        metricName: 'monthly_recurring_revenue',
        value: 125_000,
        dimension: 'monthly',
        target: 150_000,
      });
      const text = toPrometheusText(monitor.snapshot());
      expect(text).toMatch(/^business_kpi\{[^}]*kpi="monthly_recurring_revenue"[^}]*\} 125000$/m);
      expect(text).toMatch(
        /^business_kpi_target\{[^}]*kpi="monthly_recurring_revenue"[^}]*\} 150000$/m,
      );
      await monitor.forceFlush(10);
      const metrics = receiver.requests.flatMap((r) => decodeMetrics(r).metrics);
      const json = (name: string): string =>
        JSON.stringify(
          metrics.find((m) => m.name === name),
          (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
        );
      expect(json('business.kpi')).toContain('monthly_recurring_revenue');
      expect(json('business.kpi')).toContain('125000');
      expect(json('business.kpi.target')).toContain('150000');
      expect(json('business.kpi.achievement')).toMatch(/0\.8333/);
    } finally {
      outcomes.shutdown();
      await monitor.shutdown();
      await receiver.close();
    }
  });
});
