/**
 * The mountable `GET /health` and `GET /analytics` in real Express 5 and Fastify 5
 * apps listening on 127.0.0.1, over one in-process Monitor on a ManualClock: each
 * answers exactly what `monitor.health()` and `monitor.analytics({ component })`
 * return, through the server's response schemas (nothing dropped by serialisation),
 * and refuses a malformed query string with a 400 naming the field.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { ManualClock, Monitor } from '@prsm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { prsmMonitorExpress } from '../express.js';
import { prsmMonitorFastify } from '../fastify.js';

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
  const search = monitor.timer('marketplace_search', { component: 'marketplace' });
  for (let i = 1; i <= 200; i++) {
    if (i % 50 === 0) search.recordError(i);
    else search.record(i);
  }
  monitor.counter('search.hits', { component: 'marketplace' }).inc(78);
  monitor.counter('search.misses', { component: 'marketplace' }).inc(22);
  clock.advance(30_000);

  const app = express();
  app.use(PREFIX, prsmMonitorExpress({ monitor }));
  await new Promise<void>((resolve) => {
    expressServer = app.listen(0, '127.0.0.1', () => resolve());
  });
  bases['express'] = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}${PREFIX}`;
  fastifyApp = Fastify();
  await fastifyApp.register(prsmMonitorFastify, { prefix: PREFIX, monitor });
  await fastifyApp.listen({ port: 0, host: '127.0.0.1' });
  bases['fastify'] =
    `http://127.0.0.1:${(fastifyApp.server.address() as AddressInfo).port}${PREFIX}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => expressServer?.close(() => resolve()));
  await fastifyApp?.close();
  await monitor?.shutdown();
});

async function get(base: string, path: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, json: await response.json() };
}

describe.each(['express', 'fastify'])('mounted in %s', (framework) => {
  it('GET /health is monitor.health(), key by key', async () => {
    const reply = await get(bases[framework]!, '/health');
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual(JSON.parse(JSON.stringify(monitor.health())));
    expect(
      (reply.json as { recent_performance: { error_count: number } }).recent_performance,
    ).toMatchObject({ error_count: 4 });
  });

  it('GET /analytics?component= is monitor.analytics({ component })', async () => {
    const reply = await get(bases[framework]!, '/analytics?component=marketplace');
    expect(reply.status).toBe(200);
    const want = JSON.parse(JSON.stringify(monitor.analytics({ component: 'marketplace' }))) as {
      summary: unknown;
      component_specific: unknown;
    };
    expect(reply.json).toEqual(want);
    expect(want.summary).toMatchObject({ total_requests: 200, error_rate: 0.02 });
    expect(want.component_specific).toMatchObject({ search_hit_rate: 0.78 });
  });

  it('an unknown component is answered empty, as the monitor answers it', async () => {
    const reply = await get(bases[framework]!, '/analytics?component=nope');
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ component: 'nope', summary: { total_requests: 0 } });
  });

  it.each([
    ['/analytics?component=', 'component'],
    ['/analytics?window=1h', 'window'],
    ['/health?component=marketplace', 'component'],
  ])('%s is a 400 naming %s', async (path, field) => {
    const reply = await get(bases[framework]!, path);
    expect(reply.status).toBe(400);
    expect((reply.json as { error: { field: string } }).error.field).toBe(field);
  });
});
