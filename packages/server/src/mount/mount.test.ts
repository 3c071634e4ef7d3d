/**
 * The mountable routes in real apps listening on 127.0.0.1: an Express 5 app using
 * `prsmMonitorExpress()` and a Fastify app registering `prsmMonitorFastify` under a
 * prefix, both over one in-process Monitor on a ManualClock (alerts evaluated by
 * hand). The same table runs against both: they must answer alike, and like the
 * server (same schemas, same error shape).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';

import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { ManualClock, Monitor } from '@prsm/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { prsmMonitorExpress } from '../express.js';
import { prsmMonitorFastify } from '../fastify.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const PREFIX = '/api/v1/monitoring';

let clock: ManualClock;
let monitor: Monitor;
let expressServer: Server;
let fastifyApp: FastifyInstance;
const bases: Record<string, string> = {};

beforeAll(async () => {
  clock = new ManualClock(T0);
  monitor = new Monitor({ clock, alerting: { evaluationIntervalSeconds: 0 } });
  monitor.traces.add({
    traceId: TRACE,
    spanId: '00f067aa0ba902b7',
    parentSpanId: undefined,
    name: 'checkout',
    startMs: T0 - 100,
    endMs: T0,
    durationMs: 100,
    status: 'success',
    statusMessage: undefined,
    attributes: { user_tier: 'gold' },
    component: 'shop',
  });

  const app = express();
  app.use(PREFIX, prsmMonitorExpress({ monitor, bodyLimit: 4096 }));
  await new Promise<void>((resolve) => {
    expressServer = app.listen(0, '127.0.0.1', () => resolve());
  });
  bases['express'] = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}${PREFIX}`;

  fastifyApp = Fastify();
  await fastifyApp.register(prsmMonitorFastify, { prefix: PREFIX, monitor, bodyLimit: 4096 });
  fastifyApp.get('/own-route', () => ({ untouched: true }));
  await fastifyApp.listen({ port: 0, host: '127.0.0.1' });
  bases['fastify'] =
    `http://127.0.0.1:${(fastifyApp.server.address() as AddressInfo).port}${PREFIX}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => expressServer.close(() => resolve()));
  await fastifyApp.close();
  await monitor.shutdown();
});

beforeEach(() => {
  for (const rule of monitor.alerts.list()) monitor.alerts.delete(rule.id);
});

interface Reply {
  status: number;
  type: string;
  json: Record<string, unknown>;
  text: string;
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const raw =
    body === undefined
      ? undefined
      : typeof body === 'string' || Buffer.isBuffer(body)
        ? body
        : JSON.stringify(body);
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(raw !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: raw,
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Prometheus text.
  }
  return { status: response.status, type: response.headers.get('content-type') ?? '', json, text };
}

const rule = {
  name: 'High API Error Rate',
  description: 'Alert when API error rate exceeds 5%',
  severity: 'high',
  component: 'api_gateway',
  condition: 'error_rate > 0.05',
  threshold: 0.05,
  duration_seconds: 0,
};

describe.each(['express', 'fastify'])('mounted in %s', (framework) => {
  const base = (): string => bases[framework]!;

  it('GET /traces/{trace_id}: the spec trace from monitor.getTrace; 404 and 400 in the error shape', async () => {
    const ok = await call(base(), 'GET', `/traces/${TRACE.toUpperCase()}`);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      trace_id: TRACE,
      operation: 'checkout',
      component: 'shop',
      total_duration_ms: 100,
      success: true,
    });
    const missing = await call(base(), 'GET', `/traces/${'0'.repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({
      error: { code: 'not_found', message: 'no span of this trace is held', field: 'trace_id' },
    });
    const bad = await call(base(), 'GET', '/traces/xyz');
    expect(bad.status).toBe(400);
    expect(bad.json['error']).toMatchObject({ code: 'invalid_format', field: 'trace_id' });
    const query = await call(base(), 'GET', `/traces/${TRACE}?x=1`);
    expect(query.status).toBe(400);
    expect(query.json['error']).toMatchObject({ code: 'unknown_field', field: 'x' });
  });

  it('POST /alerts creates a rule in monitor.alerts; the monitor evaluates it; GET /alerts lists it firing; acknowledge; delete', async () => {
    const created = await call(base(), 'POST', '/alerts', rule);
    expect(created.status).toBe(201);
    const id = created.json['alert_id'] as string;
    expect(monitor.alerts.get(id)).toMatchObject({ name: rule.name, durationSeconds: 0 });
    expect(created.json['alert']).toMatchObject({ ...rule, alert_id: id, state: 'inactive' });

    const timer = monitor.timer('http.duration', { component: 'api_gateway' }).bind();
    for (let i = 0; i < 10; i++) {
      if (i < 3) timer.recordError(100);
      else timer.record(100);
    }
    monitor.alerts.evaluate();
    const listed = await call(base(), 'GET', '/alerts?component=api_gateway');
    expect(listed.status).toBe(200);
    expect(listed.json['evaluation']).toBe('in-process');
    expect(listed.json['alerts']).toMatchObject([{ alert_id: id, state: 'firing' }]);
    const active = listed.json['active_alerts'] as { alert_id: string; value: number }[];
    expect(active).toHaveLength(1);
    expect(active[0]!.value).toBeCloseTo(0.3);
    const history = listed.json['history'] as { event: string; rule_id: string }[];
    expect(history.filter((e) => e.rule_id === id).map((e) => e.event)).toEqual([
      'firing',
      'pending',
    ]);
    expect((await call(base(), 'GET', '/alerts?component=other')).json['alerts']).toEqual([]);

    const ack = await call(base(), 'POST', `/alerts/${id}/acknowledge`, { by: 'ana' });
    expect(ack.status).toBe(200);
    expect(ack.json['active_alert']).toMatchObject({
      alert_id: active[0]!.alert_id,
      acknowledged_by: 'ana',
    });
    expect(monitor.alerts.active()[0]!.acknowledgedBy).toBe('ana');
    const ackNoBody = await call(base(), 'POST', `/alerts/${active[0]!.alert_id}/acknowledge`);
    expect(ackNoBody.status).toBe(200);

    expect((await call(base(), 'DELETE', `/alerts/${id}`)).status).toBe(200);
    expect(monitor.alerts.get(id)).toBeUndefined();
    expect((await call(base(), 'DELETE', `/alerts/${id}`)).json).toEqual({
      error: { code: 'not_found', message: 'no alert rule with this id', field: 'id' },
    });
    expect((await call(base(), 'POST', `/alerts/${id}/acknowledge`, {})).status).toBe(404);
  });

  it.each([
    ['a bad condition', rule, { condition: 'error_rate >' }, 400, 'invalid_condition', 'condition'],
    ['an unknown field', rule, { extra: 1 }, 400, 'unknown_field', 'extra'],
    ['a missing field', { ...rule, name: undefined }, {}, 400, 'missing_field', 'name'],
    ['a bad severity', rule, { severity: 'urgent' }, 400, 'invalid_value', 'severity'],
    ['a string for a number', rule, { threshold: '0.05' }, 400, 'invalid_type', 'threshold'],
    [
      'an unknown channel',
      rule,
      { notification_channels: ['pager'] },
      400,
      'invalid_value',
      'notification_channels',
    ],
  ])(
    'POST /alerts with %s: 400 like the server',
    async (_name, baseRule, change, status, code, field) => {
      const reply = await call(base(), 'POST', '/alerts', { ...baseRule, ...change });
      expect(reply.status).toBe(status);
      expect(reply.type).toContain('application/json');
      expect(Object.keys(reply.json['error'] as object).sort()).toEqual([
        'code',
        'field',
        'message',
      ]);
      expect(reply.json['error']).toMatchObject({ code, field });
      expect(monitor.alerts.list()).toEqual([]);
    },
  );

  it('bodies: JSON only (415), gzip accepted, the limit applies (413), bad JSON is a 400', async () => {
    expect(
      (await call(base(), 'POST', '/alerts', 'name=x', { 'content-type': 'text/plain' })).status,
    ).toBe(415);
    const gz = await call(base(), 'POST', '/alerts', gzipSync(JSON.stringify(rule)), {
      'content-encoding': 'gzip',
    });
    expect(gz.status).toBe(201);
    const big = await call(base(), 'POST', '/alerts', { ...rule, description: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    expect(big.json['error']).toMatchObject({ code: 'payload_too_large' });
    const broken = await call(base(), 'POST', '/alerts', '{"name":');
    expect(broken.status).toBe(400);
    expect(broken.json['error']).toMatchObject({ code: 'invalid_json', field: 'body' });
    const nowhere = await call(base(), 'GET', '/nowhere');
    expect(nowhere.status).toBe(404);
    expect(nowhere.json['error']).toMatchObject({ code: 'not_found' });
  });

  it('GET /metrics is the Prometheus text of the monitor', async () => {
    monitor.counter(`orders.${framework}`, { component: 'shop' }).bind({ tier: 'gold' }).inc(3);
    const reply = await call(base(), 'GET', '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.type).toContain('text/plain; version=0.0.4');
    expect(reply.text).toContain(`orders_${framework}_total{component="shop",tier="gold"} 3`);
  });
});

describe('the plugin and the router leave the host app alone; bad options', () => {
  it("the Fastify plugin's parser and error handler stay inside its prefix", async () => {
    const own = await fetch(`${bases['fastify']!.replace(PREFIX, '')}/own-route`);
    expect(await own.json()).toEqual({ untouched: true });
  });

  it('throws a TypeError without a monitor or with a bad limit', async () => {
    expect(() => prsmMonitorExpress({} as never)).toThrow(/options\.monitor must be a Monitor/);
    expect(() => prsmMonitorExpress({ monitor, bodyLimit: 0 })).toThrow(TypeError);
    const app = Fastify();
    await expect(app.register(prsmMonitorFastify, { monitor: undefined as never })).rejects.toThrow(
      TypeError,
    );
    await app.close();
  });
});
