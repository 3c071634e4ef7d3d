/**
 * The REST exporter on its own (one attempt per call, against a real HTTP server on
 * 127.0.0.1) and behind a core `ExportPipeline` with a receiver that fails, then
 * takes the batch and drops its duplicates by `x-prsm-batch-id`.
 */
import { gunzipSync } from 'node:zlib';

import {
  Diagnostics,
  ExportPipeline,
  type AlertHistoryEntry,
  type ExportItem,
  type SeriesSnapshot,
} from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import {
  freePort,
  recordingSleep,
  reply,
  sequence,
  startServer,
  type Received,
  type TestServer,
} from '../notifiers/test-support.js';
import { toRestBatch, type RestBatchBody } from './body.js';
import { restExporter } from './exporter.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const API_KEY = 'sk-secret-7d2e';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(...responders: Parameters<typeof sequence>): Promise<TestServer> {
  const s = await startServer(responders.length === 0 ? reply() : sequence(...responders));
  servers.push(s);
  return s;
}

function decode(request: Received): RestBatchBody {
  const raw =
    request.headers['content-encoding'] === 'gzip' ? gunzipSync(request.rawBody) : request.rawBody;
  return JSON.parse(raw.toString('utf8')) as RestBatchBody;
}

function alertItem(n: number): ExportItem {
  const event: AlertHistoryEntry = {
    at: T0 + n,
    event: 'firing',
    alertId: `a-${n}`,
    ruleId: 'r-1',
    name: 'Pool busy',
    severity: 'high',
    component: 'database',
    value: n,
  };
  return { kind: 'alert', event };
}

const signal = (): AbortSignal => new AbortController().signal;

describe('restExporter: one attempt, classified', () => {
  it('2xx is ok; the path keeps a base path; headers carry the key and batch id', async () => {
    const s = await server(reply(202));
    const exporter = restExporter({
      url: `${s.url}/prsm/`,
      apiKey: API_KEY,
      apiKeyHeader: 'Authorization-Key',
      headers: { 'X-Tenant': 'marketplace' },
      now: () => T0,
    });
    expect(exporter.name).toBe('rest');
    const result = await exporter.export(
      { id: 'b-1', items: [alertItem(1)], attempt: 1 },
      signal(),
    );
    expect(result).toEqual({ ok: true });
    const [request] = s.requests;
    expect(request!.url).toBe('/prsm/api/v1/monitoring/batch');
    expect(request!.headers['authorization-key']).toBe(API_KEY);
    expect(request!.headers['x-api-key']).toBeUndefined();
    expect(request!.headers['x-tenant']).toBe('marketplace');
    expect(request!.headers['x-prsm-batch-id']).toBe('b-1');
    expect(decode(request!)).toEqual(toRestBatch({ id: 'b-1', items: [alertItem(1)] }, T0));
    await exporter.shutdown();
  });

  it('gzip: false sends plain JSON', async () => {
    const s = await server();
    const exporter = restExporter({ url: s.url, gzip: false, now: () => T0 });
    const result = await exporter.export(
      { id: 'b-2', items: [alertItem(2)], attempt: 1 },
      signal(),
    );
    expect(result.ok).toBe(true);
    const [request] = s.requests;
    expect(request!.headers['content-encoding']).toBeUndefined();
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['x-api-key']).toBeUndefined();
    expect(JSON.parse(request!.body)).toEqual({
      batch_id: 'b-2',
      sent_at: '2024-01-15T14:30:00.000Z',
      metrics: [],
      traces: [],
      alerts: [
        {
          alert_id: 'a-2',
          rule_id: 'r-1',
          name: 'Pool busy',
          severity: 'high',
          component: 'database',
          event: 'firing',
          at: '2024-01-15T14:30:00.002Z',
          value: 2,
        },
      ],
    });
  });

  it('503 with Retry-After: 2 is retryable after 2000 ms', async () => {
    const s = await server(reply(503, 'busy', { 'retry-after': '2' }));
    const exporter = restExporter({ url: s.url, apiKey: API_KEY });
    const result = await exporter.export({ id: 'b', items: [alertItem(1)], attempt: 1 }, signal());
    expect(result).toEqual({
      ok: false,
      retryable: true,
      retryAfterMs: 2000,
      error: 'rest: HTTP 503: busy',
    });
  });

  it('429 with an HTTP-date Retry-After, 408 and 500 are retryable', async () => {
    const retryAt = new Date(T0 + 30_000).toUTCString();
    const s = await server(reply(429, '', { 'retry-after': retryAt }), reply(408), reply(500));
    const exporter = restExporter({ url: s.url, now: () => T0 });
    const batch = { id: 'b', items: [alertItem(1)], attempt: 1 };
    expect(await exporter.export(batch, signal())).toMatchObject({
      ok: false,
      retryable: true,
      retryAfterMs: 30_000,
    });
    const timeout = await exporter.export(batch, signal());
    expect(timeout).toMatchObject({ ok: false, retryable: true });
    expect(timeout).not.toHaveProperty('retryAfterMs');
    expect(await exporter.export(batch, signal())).toMatchObject({ ok: false, retryable: true });
  });

  it('400, 401 and a redirect are not retryable; the key never shows in the error', async () => {
    const s = await server(
      reply(400, `bad key ${API_KEY}`),
      reply(401),
      reply(307, '', { location: 'http://127.0.0.1:9/elsewhere' }),
    );
    const exporter = restExporter({ url: s.url, apiKey: API_KEY });
    const batch = { id: 'b', items: [alertItem(1)], attempt: 1 };
    const bad = await exporter.export(batch, signal());
    expect(bad).toEqual({
      ok: false,
      retryable: false,
      error: 'rest: HTTP 400: bad key [redacted]',
    });
    expect(await exporter.export(batch, signal())).toMatchObject({ ok: false, retryable: false });
    expect(await exporter.export(batch, signal())).toMatchObject({ ok: false, retryable: false });
    expect(s.requests).toHaveLength(3); // the redirect was not followed
  });

  it('a closed port is a retryable failure, not a throw', async () => {
    const port = await freePort();
    const exporter = restExporter({ url: `http://127.0.0.1:${port}`, apiKey: API_KEY });
    const result = await exporter.export({ id: 'b', items: [alertItem(1)], attempt: 1 }, signal());
    expect(result.ok).toBe(false);
    expect(result.retryable).toBe(true);
    expect(result.error).toMatch(/^rest: request failed/);
    expect(result.error).not.toContain(API_KEY);
  });

  it('honours the signal: an aborted attempt is retryable', async () => {
    const s = await server(() => {
      // Never answers.
    });
    const exporter = restExporter({ url: s.url });
    const abort = new AbortController();
    const pending = exporter.export({ id: 'b', items: [alertItem(1)], attempt: 1 }, abort.signal);
    await new Promise((resolve) => setTimeout(resolve, 20));
    abort.abort();
    expect(await pending).toEqual({
      ok: false,
      retryable: true,
      error: 'rest: request failed: aborted (timeout or shutdown)',
    });
  });

  it('rejects bad options with a TypeError naming the option', () => {
    const make = (options: unknown) => () =>
      restExporter(options as Parameters<typeof restExporter>[0]);
    expect(make(undefined)).toThrow(new TypeError('restExporter: options must be an object'));
    expect(make({})).toThrow(new TypeError('restExporter: options.url must be a URL string'));
    expect(make({ url: '/relative' })).toThrow(
      new TypeError('restExporter: options.url must be an absolute http:// or https:// URL'),
    );
    expect(make({ url: 'ftp://x.example' })).toThrow(/options\.url must be an absolute http/);
    expect(make({ url: 'https://u:p@x.example' })).toThrow(
      /options\.url must not contain credentials/,
    );
    expect(make({ url: 'https://x.example', apiKey: 42 })).toThrow(
      new TypeError('restExporter: options.apiKey must be a string without CR, LF or NUL'),
    );
    expect(make({ url: 'https://x.example', apiKey: '' })).toThrow(
      /options\.apiKey must not be empty/,
    );
    expect(make({ url: 'https://x.example', apiKeyHeader: 'bad header' })).toThrow(
      /options\.apiKeyHeader must be a valid HTTP header name/,
    );
    expect(make({ url: 'https://x.example', gzip: 'yes' })).toThrow(
      /options\.gzip must be a boolean/,
    );
    expect(make({ url: 'https://x.example', headers: [] })).toThrow(
      /options\.headers must be an object/,
    );
    expect(make({ url: 'https://x.example', headers: { 'X-A': 1 } })).toThrow(
      /options\.headers\['X-A'\] must be a string/,
    );
    expect(make({ url: 'https://x.example', headers: { 'Content-Type': 'text/plain' } })).toThrow(
      /options\.headers\['Content-Type'\] is set by the exporter/,
    );
    expect(make({ url: 'https://x.example', now: 5 })).toThrow(/options\.now must be a function/);
  });
});

describe('toRestBatch', () => {
  it('leaves out what JSON cannot hold: an empty window has no min, max, mean or quantiles', () => {
    const empty = {
      windowSeconds: 60,
      coveredSeconds: 60,
      count: 0,
      errors: 0,
      errorRate: 0,
      perSecond: 0,
      perMinute: 0,
      sum: 0,
      min: NaN,
      max: NaN,
      mean: NaN,
      quantiles: [{ quantile: 0.5, value: NaN }],
      digest: {},
      exemplars: [],
    };
    const series = {
      type: 'histogram',
      name: 'h',
      component: 'c',
      tags: {},
      labels: {},
      overflow: false,
      unit: '',
      description: '',
      cumulative: { ...empty, windowSeconds: 'cumulative' },
      windows: [empty],
    } as unknown as SeriesSnapshot;
    const body = toRestBatch({ id: 'x', items: [{ kind: 'series', timestamp: T0, series }] }, T0);
    expect(body.metrics).toEqual([
      {
        metric_name: 'h',
        metric_type: 'histogram',
        component: 'c',
        tags: {},
        labels: {},
        timestamp: '2024-01-15T14:30:00.000Z',
        unit: '',
        value: 0,
        count: 0,
        sum: 0,
        windows: [
          {
            window_seconds: 60,
            count: 0,
            sum: 0,
            error_rate: 0,
            per_second: 0,
            quantiles: {},
          },
        ],
      },
    ]);
  });
});

describe('restExporter behind an ExportPipeline', () => {
  it('503 twice, then 200: every item arrives exactly once, the batch id kept across retries', async () => {
    const stored = new Map<string, RestBatchBody>();
    let duplicates = 0;
    const s = await server(
      reply(503, '', { 'retry-after': '1' }),
      reply(503),
      (request, response) => {
        // The receiver: dedup by batch id.
        const id = String(request.headers['x-prsm-batch-id']);
        if (stored.has(id)) duplicates++;
        else stored.set(id, decode(request));
        response.writeHead(200).end();
      },
    );
    const { delays, sleep } = recordingSleep();
    const pipeline = new ExportPipeline(
      restExporter({ url: s.url, apiKey: API_KEY }),
      { exportIntervalMs: 0, maxBatchItems: 10, maxConcurrency: 1, sleep, random: () => 0.5 },
      new Diagnostics(),
    );
    const items = Array.from({ length: 25 }, (_, i) => alertItem(i));
    pipeline.enqueue(items);
    await pipeline.forceFlush(5000);

    expect(duplicates).toBe(0);
    // Three batches; the first was tried three times (two 503s), with the same id.
    expect(s.requests).toHaveLength(5);
    const ids = s.requests.map((r) => r.headers['x-prsm-batch-id']);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[1]).toBe(ids[2]);
    expect(new Set(ids).size).toBe(3);
    expect(delays[0]).toBe(1000); // Retry-After: 1
    expect(delays).toHaveLength(2);
    const arrived = [...stored.values()].flatMap((b) => b.alerts.map((a) => a.alert_id));
    expect(arrived).toEqual(items.map((_, i) => `a-${i}`));
    expect(pipeline.stats()).toMatchObject({
      exported: 25,
      retries: 2,
      dropped: { queueFull: 0, failed: 0, shutdown: 0 },
    });
    await pipeline.shutdown(1000);
  });

  it('a 400 drops the batch at once, counted as failed', async () => {
    const s = await server(reply(400, 'schema mismatch'));
    const { delays, sleep } = recordingSleep();
    const pipeline = new ExportPipeline(
      restExporter({ url: s.url }),
      { exportIntervalMs: 0, sleep },
      new Diagnostics(),
    );
    pipeline.enqueue([alertItem(1), alertItem(2)]);
    await pipeline.forceFlush(5000);
    expect(s.requests).toHaveLength(1);
    expect(delays).toEqual([]);
    expect(pipeline.stats().dropped.failed).toBe(2);
    await pipeline.shutdown(1000);
  });
});
