/**
 * Exemplars end to end over a real server on 127.0.0.1 with a real SQLite file and an
 * injected clock: a batch's sub-windows carry traced values, the server checks them
 * (400 naming the field, nothing stored), keeps the 4 slowest per series and minute,
 * drops them with the minute rows, and `GET /dashboard/series` links the latency steps
 * and the top operations to their traces. OpenAPI documents the field.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createServer, type PrsmServer } from '../server.js';
import { tempDir } from '../test-support.js';

const T0 = Date.parse('2026-03-15T12:00:30Z');
const MINUTE = 60_000;
const TRACE = (n: number): string => n.toString(16).padStart(32, '0');

let dir: { dir: string; remove: () => void };
let server: PrsmServer;
let now = T0;
let key = '';
let ingestKey = '';

beforeEach(async () => {
  now = T0;
  dir = tempDir();
  server = await createServer({
    db: join(dir.dir, 'm.db'),
    port: 0,
    rateLimit: false,
    compactIntervalMs: 0,
    storeOptions: { rollupAfterMs: 2 * 3_600_000 },
    clock: { now: () => now },
  });
  key = server.store.createKey('read').key;
  ingestKey = server.store.createKey('ingest').key;
});

afterEach(async () => {
  await server.close();
  dir.remove();
});

interface Exemplar {
  value: number;
  trace_id: string;
  span_id?: string;
  timestamp?: string;
}

/** One timer of integer samples in the minute `start`, with `exemplars`. */
function timer(op: string, start: number, values: number[], exemplars?: unknown): unknown {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    metric_name: 'operation.duration',
    component: 'checkout',
    tags: { operation: op },
    labels: {},
    timestamp: new Date(now).toISOString(),
    metric_type: 'timer',
    value: sum / sorted.length,
    unit: 'ms',
    count: sorted.length,
    sum,
    windows: [],
    sub_windows: [
      {
        start_time: new Date(start).toISOString(),
        seconds: 60,
        partial: false,
        count: sorted.length,
        sum,
        min: sorted[0],
        max: sorted[sorted.length - 1],
        error_count: 0,
        centroids: Buffer.from(new Float32Array(sorted.flatMap((v) => [v, 1])).buffer).toString(
          'base64',
        ),
        ...(exemplars === undefined ? {} : { exemplars }),
      },
    ],
  };
}

async function batch(id: string, metrics: unknown[], traces: unknown[] = []): Promise<Response> {
  return fetch(`${server.url!}/api/v1/monitoring/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      batch_id: id,
      sent_at: new Date(now).toISOString(),
      metrics,
      traces,
      alerts: [],
    }),
  });
}

function stored(): { trace_id: string; value: number; bucket: number }[] {
  const db = new Database(join(dir.dir, 'm.db'), { readonly: true });
  try {
    return db
      .prepare<[], { trace_id: string; value: number; bucket: number }>(
        'SELECT trace_id, value, bucket FROM exemplars ORDER BY value DESC',
      )
      .all();
  } finally {
    db.close();
  }
}

interface SeriesBody {
  components: { component: string; t: number[]; exemplars: ({ trace_id: string } | null)[] }[];
  top_operations: {
    operation: string;
    exemplar: (Exemplar & { operation: string; trace_stored: boolean }) | null;
  }[];
  exemplars: (Exemplar & { operation: string; trace_stored: boolean })[];
}

async function series(): Promise<SeriesBody> {
  const r = await fetch(`${server.url!}/api/v1/monitoring/dashboard/series?window=15m`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(r.status).toBe(200);
  return (await r.json()) as SeriesBody;
}

describe('exemplars in batches', () => {
  it('links the latency steps and the top operations to the traces of their exemplars', async () => {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    const span = {
      trace_id: TRACE(7),
      span_id: 'b'.repeat(16),
      name: 'pay',
      start_time: new Date(minute).toISOString(),
      end_time: new Date(minute + 90).toISOString(),
      duration_ms: 90,
      status: 'success',
      attributes: {},
      component: 'checkout',
    };
    const r = await batch(
      'a',
      [
        timer('pay', minute - 2 * MINUTE, [10, 20, 30], [{ value: 30, trace_id: TRACE(3) }]),
        timer(
          'pay',
          minute,
          [40, 90],
          [{ value: 90, trace_id: TRACE(7), span_id: 'b'.repeat(16) }],
        ),
        timer('browse', minute, [5, 6]), // an older sender: no exemplars
      ],
      [span],
    );
    expect(r.status, await r.text()).toBe(200);
    const body = await series();
    const c = body.components.find((x) => x.component === 'checkout')!;
    expect(c.exemplars).toHaveLength(c.t.length);
    expect(c.exemplars.at(-1)).toEqual({ trace_id: TRACE(7), value: 90 });
    expect(c.exemplars.at(-3)).toEqual({ trace_id: TRACE(3), value: 30 });
    expect(c.exemplars.at(-2)).toBeNull();
    const pay = body.top_operations.find((o) => o.operation === 'pay')!;
    expect(pay.exemplar).toMatchObject({
      operation: 'pay',
      value: 90,
      trace_id: TRACE(7),
      span_id: 'b'.repeat(16),
      timestamp: new Date(minute).toISOString(),
      trace_stored: true,
    });
    expect(body.top_operations.find((o) => o.operation === 'browse')!.exemplar).toBeNull();
    expect(body.exemplars.map((e) => [e.operation, e.trace_id, e.trace_stored])).toEqual([
      ['pay', TRACE(7), true],
    ]);
  });

  it('keeps the 4 slowest per series and minute, and drops them with the minute rows', async () => {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    const values = [11, 12, 13, 14, 15, 16, 17];
    const ex = (vs: number[]): Exemplar[] => vs.map((v) => ({ value: v, trace_id: TRACE(v) }));
    expect((await batch('1', [timer('pay', minute, values, ex([11, 12, 13, 14]))])).status).toBe(
      200,
    );
    expect((await batch('2', [timer('pay', minute, values, ex([15, 16, 17]))])).status).toBe(200);
    // The same trace again with a higher value: one row, the higher value.
    expect(
      (await batch('3', [timer('pay', minute, [1, 20], [{ value: 20, trace_id: TRACE(14) }])]))
        .status,
    ).toBe(200);
    expect(stored().map((e) => [e.trace_id, e.value])).toEqual([
      [TRACE(14), 20],
      [TRACE(17), 17],
      [TRACE(16), 16],
      [TRACE(15), 15],
    ]);
    // Within the minute rows' life they stay; past it (roll-up), they go with them.
    server.store.compact(now + 60 * MINUTE);
    expect(stored()).toHaveLength(4);
    now += 3 * 3_600_000;
    server.store.compact(now);
    expect(stored()).toEqual([]);
  });

  it('refuses a bad exemplar with 400 naming the field, storing nothing of the batch', async () => {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    const cases: [unknown, string][] = [
      [[{ value: 5, trace_id: 'XYZ' }], 'metrics[0].sub_windows[0].exemplars[0].trace_id'],
      [
        [{ value: 5, trace_id: TRACE(1), extra: 1 }],
        'metrics[0].sub_windows[0].exemplars[0].extra',
      ],
      [[{ trace_id: TRACE(1) }], 'metrics[0].sub_windows[0].exemplars[0].value'],
      [
        [{ value: 5, trace_id: TRACE(1), span_id: 'nope' }],
        'metrics[0].sub_windows[0].exemplars[0].span_id',
      ],
      [
        [{ value: 5, trace_id: TRACE(1), timestamp: 'yesterday' }],
        'metrics[0].sub_windows[0].exemplars[0].timestamp',
      ],
      [
        Array.from({ length: 5 }, (_, i) => ({ value: 5, trace_id: TRACE(i + 1) })),
        'metrics[0].sub_windows[0].exemplars',
      ],
      // Checked past the schema: the value must be one the sub-window can hold.
      [[{ value: 500, trace_id: TRACE(1) }], 'metrics[0].sub_windows[0].exemplars[0].value'],
    ];
    for (const [i, [exemplars, field]] of cases.entries()) {
      const r = await batch(`bad-${i}`, [timer('pay', minute, [5, 6], exemplars)]);
      const text = await r.text();
      expect(r.status, text).toBe(400);
      const error = (JSON.parse(text) as { error: { field: string } }).error;
      expect(error.field, JSON.stringify(exemplars)).toBe(field);
    }
    expect(stored()).toEqual([]);
    expect(server.store.latestSeries()).toEqual([]);
  });

  it('is documented in the OpenAPI document of the batch route', async () => {
    const doc = (await (await fetch(`${server.url!}/api/v1/monitoring/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const text = JSON.stringify(doc.paths['/api/v1/monitoring/batch']);
    expect(text).toContain('"exemplars"');
    expect(JSON.stringify(doc.paths['/api/v1/monitoring/dashboard/series'])).toContain('exemplar');
    expect(doc.paths['/api/v1/monitoring/dashboard/session']).toBeDefined();
  });
});
