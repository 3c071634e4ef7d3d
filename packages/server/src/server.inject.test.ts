/**
 * The server in process (Fastify's inject): what a child process cannot easily show.
 * An unexpected error is a generic 500 without a stack; `--dev` only trusts loopback;
 * the compaction timer runs the store's `compact` with the injected clock; options
 * are checked.
 */
import { ManualClock, Monitor, type AlertHistoryEntry, type ExportItem } from '@prsm/core';
import { toRestBatch } from '@prsm/exporters/rest';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { createServer, type PrsmServer } from './server.js';
import { openStore } from './store/store.js';

const servers: PrsmServer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function make(options: Parameters<typeof createServer>[0] = {}): Promise<PrsmServer> {
  const s = await createServer({ rateLimit: false, ...options });
  servers.push(s);
  return s;
}

describe('createServer in process', () => {
  it('answers an unexpected error with a generic 500, never the stack or the message', async () => {
    const errors: unknown[] = [];
    const s = await make({ onError: (e) => errors.push(e) });
    const { key } = s.store.createKey('ingest');
    s.store.ingestSpans = (): void => {
      throw new Error('SQLITE_CORRUPT at /secret/path/monitor.db');
    };
    const reply = await s.app.inject({
      method: 'POST',
      url: '/api/v1/monitoring/traces',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({
        spans: [
          {
            trace_id: 'a'.repeat(32),
            span_id: 'b'.repeat(16),
            name: 'op',
            start_time: '2024-01-15T14:30:00Z',
            end_time: '2024-01-15T14:30:01Z',
            duration_ms: 1000,
            status: 'success',
            attributes: {},
          },
        ],
      }),
    });
    expect(reply.statusCode).toBe(500);
    expect(reply.json()).toEqual({
      error: { code: 'internal_error', message: 'internal server error', field: null },
    });
    expect(reply.body).not.toMatch(/secret|SQLITE|at /);
    expect(errors).toHaveLength(1);
  });

  it('dev mode trusts loopback only', async () => {
    const s = await make({ dev: true });
    const local = await s.app.inject({
      method: 'GET',
      url: '/api/v1/monitoring/alerts',
      remoteAddress: '127.0.0.1',
    });
    expect(local.statusCode).toBe(200);
    const remote = await s.app.inject({
      method: 'GET',
      url: '/api/v1/monitoring/alerts',
      remoteAddress: '10.1.2.3',
    });
    expect(remote.statusCode).toBe(401);
  });

  it('compacts the store on its interval with the injected clock', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 5));
    const store = openStore(':memory:', { clock, rollupAfterMs: 3_600_000 });
    const s = await make({ store, clock, compactIntervalMs: 60_000 });
    store.ingestMetrics([{ name: 'lat', value: 5, metric_type: 'timer' }]);
    const id = store.latestSeries()[0]!.id;
    expect(store.points(id).map((p) => p.resolution)).toEqual([60]);
    clock.advance(2 * 3_600_000);
    vi.advanceTimersByTime(60_000);
    expect(store.points(id).map((p) => p.resolution)).toEqual([3600]);
    await s.close();
    store.close();
  });

  it('rejects bad options with a TypeError naming them', async () => {
    await expect(createServer({ bodyLimit: -1 })).rejects.toThrow(/bodyLimit/);
    await expect(createServer({ port: 70_000 })).rejects.toThrow(/port/);
    await expect(createServer({ rateLimit: { perSecond: 0 } })).rejects.toThrow(/perSecond/);
    await expect(createServer({ dev: 'yes' as unknown as boolean })).rejects.toThrow(/dev/);
  });

  it('the body limit is configurable and applies to the inflated size', async () => {
    const s = await make({ bodyLimit: 200 });
    const { key } = s.store.createKey('ingest');
    const send = (payload: string): Promise<{ statusCode: number; json: () => unknown }> =>
      s.app.inject({
        method: 'POST',
        url: '/api/v1/monitoring/metrics',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload,
      });
    expect(
      (await send(JSON.stringify({ name: 'a', value: 1, metric_type: 'gauge' }))).statusCode,
    ).toBe(200);
    const big = await send(
      JSON.stringify({ name: 'a'.repeat(300), value: 1, metric_type: 'gauge' }),
    );
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ error: { code: 'payload_too_large', field: 'body' } });
  });

  it('accepts everything toRestBatch emits (the schema is the exporter contract)', async () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 30));
    const monitor = new Monitor({ clock });
    monitor.counter('c').bind({ a: 'b' }).inc(2);
    monitor.gauge('g').bind().set(-3.5);
    monitor.histogram('h', { component: 'x' }).bind();
    const t = monitor.timer('t').bind({ route: '/r' });
    t.record(12);
    t.record(0);
    clock.advance(3_600_000);
    monitor.timer('t').bind({ route: '/r' }).record(5);
    const events: AlertHistoryEntry['event'][] = [
      'pending',
      'firing',
      'resolved',
      'cancelled',
      'acknowledged',
      'escalated',
      'rule_deleted',
    ];
    const items: ExportItem[] = [
      ...monitor
        .snapshot()
        .series.map((series) => ({ kind: 'series' as const, timestamp: clock.now(), series })),
      {
        kind: 'span',
        span: {
          traceId: 'ab'.repeat(16),
          spanId: 'cd'.repeat(8),
          parentSpanId: 'ef'.repeat(8),
          name: 'child',
          startMs: clock.now(),
          endMs: clock.now() + 1.5,
          durationMs: 1.5,
          status: 'error',
          statusMessage: 'timeout',
          attributes: { n: 1, s: 's', b: false, list: ['a', null], nums: [1, 2] },
          component: undefined,
        },
      },
      ...events.map((event, i) => ({
        kind: 'alert' as const,
        event: {
          at: clock.now() + i,
          event,
          alertId: 'al-1',
          ruleId: 'r-1',
          name: 'Rule',
          severity: 'info' as const,
          component: 'x',
          ...(event === 'firing' ? { value: 0.5 } : {}),
          ...(event === 'acknowledged' ? { by: 'ops' } : {}),
          ...(event === 'escalated' ? { escalationStep: 1 } : {}),
        },
      })),
    ];
    await monitor.shutdown();
    const body = toRestBatch({ id: 'contract-1', items }, clock.now());
    expect(body.metrics.map((m) => m.metric_type).sort()).toEqual([
      'counter',
      'gauge',
      'histogram',
      'timer',
    ]);
    const s = await make();
    const { key } = s.store.createKey('ingest');
    const reply = await s.app.inject({
      method: 'POST',
      url: '/api/v1/monitoring/batch',
      headers: {
        'x-api-key': key,
        'content-type': 'application/json',
        'x-prsm-batch-id': 'contract-1',
      },
      payload: JSON.stringify(body),
    });
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json()).toMatchObject({
      duplicate: false,
      stored: { metrics: 4, traces: 1, alerts: 7 },
    });
  });
});
