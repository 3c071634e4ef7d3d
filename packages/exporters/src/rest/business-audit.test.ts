/**
 * The REST exporter's business metrics and `restAuditSink` against a real HTTP
 * receiver on 127.0.0.1: what is posted where, with which ids and keys, in what
 * order; retries keep the batch id; bad options throw a `TypeError` naming them.
 * The path to a real `@prsm/server` is in test/business-audit-e2e.test.ts.
 */
import { gunzipSync } from 'node:zlib';

import { ManualClock, MemoryAuditSink, Monitor, verifyChain } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { reply, sequence, startServer, type TestServer } from '../notifiers/test-support.js';
import { restAuditSink } from './audit-sink.js';
import type { RestAuditBatchBody } from './audit-sink.js';
import type { RestBusinessMetricsBody } from './body.js';
import { REST_BUSINESS_METRICS_KIND, restExporter } from './exporter.js';

const KEY = 'prsm_test_key_0123456789';
const noSleep = (): Promise<void> => Promise.resolve();
let cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function receiver(...responders: Parameters<typeof sequence>): Promise<TestServer> {
  const s = await startServer(responders.length === 0 ? reply(200, '{}') : sequence(...responders));
  cleanups.push(() => s.close());
  return s;
}

function bodyOf<T>(request: TestServer['requests'][number]): T {
  const raw =
    request.headers['content-encoding'] === 'gzip' ? gunzipSync(request.rawBody) : request.rawBody;
  return JSON.parse(raw.toString('utf8')) as T;
}

describe('restExporter: business metrics', () => {
  it('posts the records of business_metrics sources that changed, with key and batch id', async () => {
    const s = await receiver();
    const monitor = new Monitor({
      clock: new ManualClock(0),
      exporters: [restExporter({ url: `${s.url}/base/`, apiKey: KEY })],
    });
    cleanups.push(() => monitor.shutdown());
    let mrr = 100;
    monitor.addExportSource({
      kind: REST_BUSINESS_METRICS_KIND,
      collect: () => [
        { metric_name: 'mrr', value: mrr, dimension: 'monthly', target: 150 },
        { metric_name: 'dau', value: 7 },
        { bogus: true },
      ],
    });
    monitor.addExportSource({ kind: 'something_else', collect: () => [{ metric_name: 'no' }] });
    await monitor.forceFlush(5);
    const posts = s.requests.filter((r) => r.url === '/base/api/v1/monitoring/business-metrics');
    expect(posts).toHaveLength(1);
    const body = bodyOf<RestBusinessMetricsBody>(posts[0]!);
    expect(body.metrics).toEqual([
      { metric_name: 'mrr', value: 100, dimension: 'monthly', target: 150 },
      { metric_name: 'dau', value: 7 },
    ]);
    expect(posts[0]!.headers['x-api-key']).toBe(KEY);
    expect(posts[0]!.headers['x-prsm-batch-id']).toBe(body.batch_id);
    expect(body.source?.resource['service.name']).toBeDefined();

    await monitor.forceFlush(5); // nothing changed
    mrr = 120;
    await monitor.forceFlush(5);
    const later = s.requests.filter((r) => r.url === '/base/api/v1/monitoring/business-metrics');
    expect(later).toHaveLength(2);
    expect(bodyOf<RestBusinessMetricsBody>(later[1]!).metrics).toEqual([
      { metric_name: 'mrr', value: 120, dimension: 'monthly', target: 150 },
    ]);
    expect(monitor.diagnostics.count('PRSM_INVALID_VALUE')).toBeGreaterThan(0);
  });

  it('posts an unchanged value again when the period it belongs to changes', async () => {
    // What BusinessOutcomes sends: the period of the value in metadata.prsm_period, so
    // the server keeps one value per period for its trend.
    const s = await receiver();
    const monitor = new Monitor({
      clock: new ManualClock(0),
      exporters: [restExporter({ url: s.url, gzip: false })],
    });
    cleanups.push(() => monitor.shutdown());
    let period = 20_480;
    monitor.addExportSource({
      kind: REST_BUSINESS_METRICS_KIND,
      collect: () => [
        {
          metric_name: 'plan_price',
          value: 49,
          dimension: 'daily',
          metadata: { prsm_period: period },
        },
      ],
    });
    const posted = (): number[] =>
      s.requests
        .filter((r) => r.url.endsWith('/business-metrics'))
        .flatMap((r) => bodyOf<RestBusinessMetricsBody>(r).metrics)
        .map((m) => m.metadata?.['prsm_period'] as number);
    await monitor.forceFlush(5);
    await monitor.forceFlush(5); // same value, same period: not sent again
    period++;
    await monitor.forceFlush(5);
    expect(posted()).toEqual([20_480, 20_481]);
  });

  it('retries a failed batch with the same id; businessMetrics: false sends none', async () => {
    let failed = false;
    const s = await receiver((request, response) => {
      if (!failed && request.url.endsWith('/business-metrics')) {
        failed = true;
        response.writeHead(503).end('busy');
      } else response.writeHead(200).end('{}');
    });
    const monitor = new Monitor({
      exporters: [
        restExporter({ url: s.url, gzip: false, businessPipeline: { sleep: noSleep } }),
        restExporter({ url: s.url, gzip: false, businessMetrics: false }),
      ],
      exportPipeline: { sleep: noSleep },
    });
    cleanups.push(() => monitor.shutdown());
    monitor.addExportSource({
      kind: REST_BUSINESS_METRICS_KIND,
      collect: () => [{ metric_name: 'mrr', value: 1 }],
    });
    await monitor.forceFlush(5);
    const posts = s.requests.filter((r) => r.url.endsWith('/business-metrics'));
    expect(posts).toHaveLength(2);
    expect(posts[0]!.headers['x-prsm-batch-id']).toBe(posts[1]!.headers['x-prsm-batch-id']);
  });

  it('rejects bad options with a TypeError naming them', () => {
    expect(() => restExporter({ url: 'http://x', businessMetrics: 'yes' as never })).toThrow(
      new TypeError('restExporter: options.businessMetrics must be a boolean'),
    );
    expect(() =>
      restExporter({ url: 'http://x', businessPipeline: { maxBatchItems: 5000 } }),
    ).toThrow(/options\.businessPipeline\.maxBatchItems must be at most 1000/);
    expect(() => restExporter({ url: 'http://x', businessPipeline: { maxAttempts: 0 } })).toThrow(
      /options\.businessPipeline is invalid: maxAttempts/,
    );
  });
});

describe('restAuditSink', () => {
  it('keeps the log locally and ships every record, in order, as sealed', async () => {
    const s = await receiver();
    const local = new MemoryAuditSink();
    const sink = restAuditSink({
      url: s.url,
      apiKey: KEY,
      source: 'svc-1',
      local,
      exportIntervalMs: 0,
      pipeline: { maxBatchItems: 4 },
    });
    const monitor = new Monitor({ clock: new ManualClock(1_700_000_000_000), audit: { sink } });
    cleanups.push(() => monitor.shutdown());
    for (let i = 0; i < 10; i++) {
      monitor.audit.record({
        user_id: `u${i}`,
        action: 'login',
        resource_type: 'session',
        outcome: 'success',
        metadata: { password: 'hunter2' },
      });
    }
    await monitor.audit.flush();
    const bodies = s.requests.map((r) => bodyOf<RestAuditBatchBody>(r));
    expect(s.requests.every((r) => r.url === '/api/v1/monitoring/audit')).toBe(true);
    expect(bodies.map((b) => b.entries.length)).toEqual([4, 4, 2]);
    expect(bodies.every((b) => b.source === 'svc-1')).toBe(true);
    const shipped = bodies.flatMap((b) => b.entries);
    expect(shipped.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(verifyChain(shipped)).toMatchObject({ ok: true, records: 10 });
    expect([...local.read()].map((l) => JSON.parse(l) as unknown)).toEqual(shipped);
    expect(JSON.stringify(shipped)).not.toContain('hunter2');
    expect(await monitor.audit.verify()).toMatchObject({ ok: true, records: 10 });
    expect(sink.pipelineStats()).toMatchObject({ exported: 10, queued: 0 });
  });

  it('retries with the same batch id; a server that refuses drops only the copy', async () => {
    const s = await receiver(reply(500, 'down'), reply(200, '{}'), reply(400, 'no'));
    const sink = restAuditSink({
      url: s.url,
      exportIntervalMs: 0,
      pipeline: { sleep: noSleep, maxBatchItems: 1 },
    });
    const monitor = new Monitor({ audit: { sink } });
    cleanups.push(() => monitor.shutdown());
    monitor.audit.record({ user_id: 'u', action: 'a', resource_type: 'r', outcome: 'success' });
    await monitor.audit.flush();
    expect(s.requests[0]!.headers['x-prsm-batch-id']).toBe(
      s.requests[1]!.headers['x-prsm-batch-id'],
    );
    monitor.audit.record({ user_id: 'u', action: 'b', resource_type: 'r', outcome: 'success' });
    await monitor.audit.flush();
    expect(sink.pipelineStats().dropped.failed).toBe(1);
    expect(await monitor.audit.verify()).toMatchObject({ ok: true, records: 2 });
  });

  it('rejects bad options with a TypeError naming them', () => {
    expect(() => restAuditSink({ url: 'http://x', source: '' })).toThrow(
      /restAuditSink: options\.source must be a non-empty string/,
    );
    expect(() => restAuditSink({ url: 'http://x', local: {} as never })).toThrow(
      new TypeError('restAuditSink: options.local must be an AuditSink'),
    );
    expect(() => restAuditSink({ url: 'nope' })).toThrow(
      /restAuditSink: options\.url must be an absolute/,
    );
    expect(() => restAuditSink({ url: 'http://x', pipeline: { maxBatchItems: 2000 } })).toThrow(
      /pipeline\.maxBatchItems must be at most 1000/,
    );
  });
});
