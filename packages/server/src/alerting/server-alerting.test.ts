/**
 * The server's alert evaluation, end to end in process: a real server listening on
 * 127.0.0.1 over a real SQLite file, data sent over HTTP (`/metrics`, `/batch`), a
 * ManualClock for time (evaluation by hand, no sleeping), and a real HTTP receiver
 * behind core's webhook channel. Then a restart on the same file.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { ManualClock } from '@prsm/core';
import { webhookChannel, type WebhookPayload } from '@prsm/exporters/notifiers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { createServer, type PrsmServer } from '../server.js';
import { tempDir } from '../test-support.js';

const T0 = Date.UTC(2024, 0, 15, 14, 0, 10);

let tmp: ReturnType<typeof tempDir>;
let receiver: Server;
let hookUrl: string;
const received: WebhookPayload[] = [];

beforeAll(async () => {
  tmp = tempDir();
  receiver = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      received.push(JSON.parse(body) as WebhookPayload);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  tmp.remove();
});

let n = 0;
let db: string;
let clock: ManualClock;
let server: PrsmServer;

async function start(): Promise<PrsmServer> {
  return createServer({
    db,
    port: 0,
    dev: true,
    clock,
    rateLimit: false,
    compactIntervalMs: 0,
    alerting: {
      channels: { webhook: webhookChannel({ url: hookUrl }) },
      evaluationIntervalMs: 0,
    },
  });
}

beforeEach(async () => {
  db = join(tmp.dir, `alerting-${++n}.db`);
  clock = new ManualClock(T0);
  received.length = 0;
  server = await start();
});

afterEach(async () => {
  await server.close();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.url!}/api/v1/monitoring${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function createRule(rule: Record<string, unknown>): Promise<string> {
  const reply = await call('POST', '/alerts', {
    description: '',
    severity: 'high',
    notification_channels: ['webhook', 'email'],
    ...rule,
  });
  expect(reply.status).toBe(201);
  return reply.json['alert_id'] as string;
}

/** `calls` timer samples on api_gateway, the first `errors` of them failed. */
async function traffic(calls: number, errors: number, ms = 100): Promise<void> {
  const metrics = Array.from({ length: calls }, (_, i) => ({
    name: 'http.duration',
    value: ms,
    metric_type: 'timer',
    component: 'api_gateway',
    ...(i < errors && { error: true }),
  }));
  expect((await call('POST', '/metrics', { metrics })).status).toBe(200);
}

async function evaluate(): Promise<void> {
  server.alerting.evaluate();
  await server.alerting.flush();
}

interface AlertList {
  alerts: { alert_id: string; state: string }[];
  active_alerts: { alert_id: string; rule_id: string; state: string; value: number | null }[];
  history: { rule_id: string; event: string; value: number | null; by: string | null }[];
  evaluation: string;
}

async function list(): Promise<AlertList> {
  const reply = await call('GET', '/alerts');
  expect(reply.status).toBe(200);
  return reply.json as unknown as AlertList;
}

describe('server-side evaluation of stored rules', () => {
  it('error_rate > 0.05 from POST /metrics: pending, firing after duration_seconds, resolved, notified by webhook', async () => {
    const id = await createRule({
      name: 'High API Error Rate',
      component: 'api_gateway',
      condition: 'error_rate > 0.05',
      threshold: 0.05,
      duration_seconds: 120,
    });
    await traffic(100, 2);
    await evaluate();
    expect((await list()).alerts[0]!.state).toBe('inactive');

    await traffic(100, 18); // 20 of 200 in the window: 10%
    await evaluate();
    let state = await list();
    expect(state.evaluation).toBe('server');
    expect(state.alerts[0]).toMatchObject({ alert_id: id, state: 'pending' });
    expect(state.active_alerts[0]).toMatchObject({ rule_id: id, state: 'pending', value: 0.1 });
    expect(received).toHaveLength(0);

    clock.advance(60_000);
    await traffic(10, 5);
    await evaluate();
    expect((await list()).alerts[0]!.state).toBe('pending'); // 60 s of 120

    clock.advance(60_000);
    await traffic(10, 5);
    await evaluate();
    state = await list();
    expect(state.alerts[0]!.state).toBe('firing');
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ status: 'firing', channel: 'webhook', severity: 'high' });
    expect(received[0]!.alerts[0]).toMatchObject({
      rule_id: id,
      name: 'High API Error Rate',
      component: 'api_gateway',
      condition: 'error_rate > 0.05',
      threshold: 0.05,
      status: 'firing',
    });
    expect(received[0]!.alerts[0]!.alert_id).toBe(state.active_alerts[0]!.alert_id);
    expect(server.alerting.deliveryStats()['webhook']).toEqual({
      sent: 1,
      delivered: 1,
      failed: 0,
    });

    // Still firing: no second notification. Then healthy traffic only.
    clock.advance(30_000);
    await traffic(10, 5);
    await evaluate();
    expect(received).toHaveLength(1);
    clock.advance(120_000);
    await traffic(50, 0);
    await evaluate();
    state = await list();
    expect(state.alerts[0]!.state).toBe('inactive');
    expect(state.active_alerts).toEqual([]);
    expect(received.map((p) => p.status)).toEqual(['firing', 'resolved']);
    expect(received[1]!.alerts[0]!.ends_at).toBe(new Date(clock.now()).toISOString());
    expect(state.history.map((e) => e.event)).toEqual(['resolved', 'firing', 'pending']);
  });

  it('p99(http.duration[5m]) > 500ms fires from samples, and from a REST batch', async () => {
    await createRule({
      name: 'Slow API',
      component: 'api_gateway',
      condition: 'p99(http.duration[5m]) > 500ms',
    });
    await traffic(100, 0, 100);
    await evaluate();
    expect((await list()).alerts[0]!.state).toBe('inactive');
    await traffic(5, 0, 2000);
    await evaluate();
    const state = await list();
    expect(state.alerts[0]!.state).toBe('firing'); // duration 0: at once
    expect(state.active_alerts[0]!.value).toBeGreaterThan(500);

    const batchRule = await createRule({
      name: 'Slow checkout',
      component: 'shop',
      condition: 'p99(checkout[5m]) > 500ms and rate(orders[5m]) > 0',
    });
    const batch = (id: string, total: number, p99: number): Record<string, unknown> => ({
      batch_id: id,
      sent_at: new Date(clock.now()).toISOString(),
      metrics: [
        {
          metric_name: 'checkout',
          metric_type: 'timer',
          component: 'shop',
          tags: {},
          labels: {},
          timestamp: new Date(clock.now()).toISOString(),
          value: p99,
          unit: 'ms',
          count: total,
          sum: total * 100,
          windows: [
            {
              window_seconds: 60,
              count: total,
              sum: total * 100,
              error_rate: 0,
              per_second: 1,
              quantiles: { p50: 90, p99 },
            },
          ],
        },
        {
          metric_name: 'orders',
          metric_type: 'counter',
          component: 'shop',
          tags: {},
          labels: {},
          timestamp: new Date(clock.now()).toISOString(),
          value: total,
          windows: [],
        },
      ],
      traces: [],
      alerts: [],
    });
    expect((await call('POST', '/batch', batch('b1', 10, 300))).status).toBe(200);
    await evaluate();
    expect(server.alerting.stateOf(batchRule)).toBe('inactive');
    clock.advance(60_000);
    expect((await call('POST', '/batch', batch('b2', 20, 900))).status).toBe(200);
    await evaluate();
    // (10 x 300 + 10 x 900) / 20: the minutes' p99s weighted by their samples.
    expect(server.alerting.stateOf(batchRule)).toBe('firing');
    expect((await list()).active_alerts.find((a) => a.rule_id === batchRule)?.value).toBeCloseTo(
      600,
    );
  });

  it('gauges by name, counters by rate, a pending alert cancelled, missing data as false', async () => {
    const gaugeRule = await createRule({
      name: 'Pool',
      component: 'database',
      condition: 'db.connections > 80',
      duration_seconds: 60,
    });
    const rateRule = await createRule({
      name: 'Order burst',
      component: 'shop',
      condition: 'rate(orders[1m]) > 1',
    });
    await evaluate();
    expect(server.alerting.stateOf(gaugeRule)).toBe('inactive'); // no data: false
    const gauge = (value: number): Record<string, unknown> => ({
      name: 'db.connections',
      value,
      metric_type: 'gauge',
      component: 'database',
    });
    await call('POST', '/metrics', gauge(90));
    await call('POST', '/metrics', {
      name: 'orders',
      value: 30,
      metric_type: 'counter',
      component: 'shop',
    });
    clock.advance(10_000);
    await evaluate();
    expect(server.alerting.stateOf(gaugeRule)).toBe('pending');
    expect(server.alerting.stateOf(rateRule)).toBe('firing'); // 30 in 20 s of data
    await call('POST', '/metrics', gauge(10));
    await evaluate();
    expect(server.alerting.stateOf(gaugeRule)).toBe('inactive');
    const history = (await list()).history.filter((e) => e.rule_id === gaugeRule);
    expect(history.map((e) => e.event)).toEqual(['cancelled', 'pending']);
    clock.advance(120_000);
    await evaluate();
    expect(server.alerting.stateOf(rateRule)).toBe('inactive'); // no order in the last minutes
  });

  it('acknowledge and delete act on the alert: history, and the channels told it fires hear so', async () => {
    const id = await createRule({
      name: 'Any error',
      component: 'api_gateway',
      condition: 'error_rate > 0',
    });
    await traffic(10, 5);
    await evaluate();
    const alertId = (await list()).active_alerts[0]!.alert_id;
    const ack = await call('POST', `/alerts/${alertId}/acknowledge`, { by: 'ana' });
    expect(ack.status).toBe(200);
    expect(ack.json['alert_id']).toBe(id);
    expect(ack.json['active_alert']).toMatchObject({
      alert_id: alertId,
      acknowledged_by: 'ana',
      state: 'firing',
    });
    await server.alerting.flush();
    expect(received.map((p) => p.status)).toEqual(['firing', 'acknowledged']);
    expect(received[1]!.alerts[0]).toMatchObject({ acknowledged_by: 'ana', alert_id: alertId });

    expect((await call('DELETE', `/alerts/${id}`)).status).toBe(200);
    await server.alerting.flush();
    expect(received.map((p) => p.status)).toEqual(['firing', 'acknowledged', 'resolved']);
    const state = await list();
    expect(state.alerts).toEqual([]);
    expect(state.active_alerts).toEqual([]);
    expect(state.history.map((e) => e.event)).toEqual([
      'rule_deleted',
      'acknowledged',
      'firing',
      'pending',
    ]);
    expect(state.history[1]!.by).toBe('ana');
    expect((await call('POST', `/alerts/${alertId}/acknowledge`, {})).status).toBe(404);
  });

  it('rules and the state of their alerts survive a restart on the same file', async () => {
    const id = await createRule({
      name: 'Errors',
      component: 'api_gateway',
      condition: 'error_rate > 0.5',
    });
    await traffic(10, 9);
    await evaluate();
    const before = (await list()).active_alerts;
    expect(before[0]).toMatchObject({ rule_id: id, state: 'firing' });
    await server.close();

    clock.advance(5 * 60_000);
    server = await start();
    const after = await list();
    expect(after.alerts.map((a) => [a.alert_id, a.state])).toEqual([[id, 'firing']]);
    expect(after.active_alerts).toEqual(before);
    // The old samples are out of the window: resolved, and the webhook told so.
    await evaluate();
    expect(server.alerting.stateOf(id)).toBe('inactive');
    expect(received.map((p) => `${p.status}:${p.alerts[0]!.alert_id}`)).toEqual([
      `firing:${before[0]!.alert_id}`,
      `resolved:${before[0]!.alert_id}`,
    ]);
  });

  it('a failing webhook is counted, never thrown; bad alerting options are TypeErrors', async () => {
    await server.close();
    const errors: unknown[] = [];
    server = await createServer({
      db,
      clock,
      onError: (e) => errors.push(e),
      alerting: {
        channels: {
          webhook: webhookChannel({ url: 'http://127.0.0.1:1/nowhere', retry: { maxAttempts: 1 } }),
        },
        evaluationIntervalMs: 0,
      },
    });
    server.store.createAlertRule({
      name: 'Always',
      severity: 'low',
      component: 'x',
      condition: 'up < 1',
      notification_channels: ['webhook'],
    });
    server.store.ingestMetrics([{ name: 'up', value: 0, metric_type: 'gauge', component: 'x' }]);
    expect(server.alerting.evaluate()).toMatchObject({
      rules: 1,
      firing: 1,
      notifications: 1,
      errors: 0,
    });
    await server.alerting.flush();
    expect(server.alerting.deliveryStats()['webhook']).toMatchObject({ sent: 1, failed: 1 });
    expect(errors).toHaveLength(1);

    await expect(createServer({ alerting: { evaluationIntervalMs: -1 } })).rejects.toThrow(
      TypeError,
    );
    await expect(createServer({ alerting: { windowSeconds: 0 } })).rejects.toThrow(TypeError);
    await expect(
      createServer({
        alerting: { channels: { hook: {} as unknown as ReturnType<typeof webhookChannel> } },
      }),
    ).rejects.toThrow(/alerting\.channels\.hook/);
  });

  it('error is refused on counters and gauges (400 with the field)', async () => {
    const reply = await call('POST', '/metrics', {
      metrics: [{ name: 'orders', value: 1, metric_type: 'counter', error: true }],
    });
    expect(reply.status).toBe(400);
    expect(reply.json['error']).toMatchObject({ code: 'invalid_value', field: 'metrics[0].error' });
  });
});
