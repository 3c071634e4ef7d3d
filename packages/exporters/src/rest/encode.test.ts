/**
 * `encodeRestBatch` against its definition: the UTF-8 bytes of
 * `JSON.stringify(toRestBatch(...))`, over a real `Monitor`'s snapshots (every series
 * type, sub-windows closed and open, window quantiles, exemplars, escapes, overflow
 * series, series added and reordered between collections) and hand-made items (spans,
 * alert events, numbers JSON cannot hold, objects that change between calls).
 */
import { ManualClock, Monitor, type ExportItem, type MonitorSnapshot } from '@prsm/core';
import type { AlertHistoryEntry, SeriesSnapshot, StoredSpan } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { type RestSource, toRestBatch } from './body.js';
import { encodeRestBatch } from './encode.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const SOURCE: RestSource = { instance_id: 'i-1', resource: { 'service.name': 'checkout', pid: 7 } };
const monitors: Monitor[] = [];

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function monitorAt(options: { maxSeriesPerMetric?: number } = {}): {
  monitor: Monitor;
  clock: ManualClock;
} {
  const clock = new ManualClock(T0);
  const monitor = new Monitor({
    clock,
    windows: [60, 300],
    alerting: { evaluationIntervalSeconds: 0 },
    health: { resources: false },
    ...options,
  });
  monitors.push(monitor);
  return { monitor, clock };
}

function itemsOf(snapshot: MonitorSnapshot): ExportItem[] {
  return snapshot.series.map((series) => ({
    kind: 'series' as const,
    timestamp: snapshot.timestamp,
    series,
  }));
}

/** Both encodings of a batch, as text; the encoder's bytes must be valid UTF-8. */
function both(
  items: readonly ExportItem[],
  sentAt = T0 + 5,
  source?: RestSource,
): { expected: string; actual: string } {
  const batch = { id: 'b-1', items };
  const bytes = encodeRestBatch(batch, sentAt, source);
  const actual = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  return { expected: JSON.stringify(toRestBatch(batch, sentAt, source)), actual };
}

/** Batches of `size` items, as the export pipeline cuts a collection. */
function inBatches(items: readonly ExportItem[], size: number): ExportItem[][] {
  const out: ExportItem[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A monitor with every series type, escapes, labels, exemplars and an overflow series. */
function busyMonitor(): { monitor: Monitor; clock: ManualClock; record: () => void } {
  const { monitor, clock } = monitorAt({ maxSeriesPerMetric: 6 });
  const latency = monitor.timer('http.server.duration', {
    component: 'api_gateway',
    description: 'request time',
  });
  const size = monitor.histogram('payload.size', { component: 'api_gateway', unit: 'By' });
  const orders = monitor.counter('orders', { component: 'checkout' });
  const pool = monitor.gauge('pool.connections', { component: 'db' });
  const untagged = monitor.timer('cron.run', { component: 'jobs' });
  const routes = ['/users/:id', '/résumé', 'quote "x"', 'back\\slash', 'tab\there', '日本語'];
  let n = 0;
  const record = (): void => {
    for (const [i, route] of routes.entries()) {
      const bound = latency.bind({ route, method: i % 2 === 0 ? 'GET' : 'POST' });
      bound.record(1 + ((n * 7 + i * 13) % 97) / 3);
      if (i === 1) bound.record(250.5, '4bf92f3577b34da6a3ce929d0e0e4736');
      if (i === 2) bound.recordError(999.25);
      size.bind({ route }).record(512 * (i + 1) + n);
      orders.bind({ status: `s${i}` }).inc(i + n);
      pool.bind({ pool: `p${i}` }).set(i % 2 === 0 ? -i - 0.5 : i * 1e21);
    }
    // Past the cap of 6 series: the overflow series, whose tags object all share.
    latency.bind({ route: `/extra${n}`, method: 'GET' }).record(3);
    untagged.record(40 + n);
    n++;
  };
  return { monitor, clock, record };
}

describe('encodeRestBatch', () => {
  it('writes the bytes of JSON.stringify(toRestBatch(...)) for a real monitor, collection after collection', () => {
    const { monitor, clock, record } = busyMonitor();
    monitor
      .timer('http.server.duration', { component: 'api_gateway' })
      .bind({ route: '/users/:id', method: 'GET' }, { team: 'identity', owner: 'ünïcödé' });
    let lastUntil = T0 - 600_000;
    for (let minute = 0; minute < 4; minute++) {
      record();
      clock.advance(60_000);
      record();
      const until = Math.floor(clock.now() / 60_000) * 60_000;
      const shapes = [
        // What restExporter asks for: the sub-windows closed since the last export.
        {
          windows: [],
          digests: false,
          cumulativeQuantiles: false,
          subWindows: { since: lastUntil, until },
        },
        // With windowQuantiles: every window's quantiles and rates too.
        { windows: [60, 300], digests: false, subWindows: { since: lastUntil, until } },
        // The final collection: the open sub-window too.
        { windows: [60], digests: false, subWindows: { since: lastUntil, open: true } },
      ] as const;
      for (const shape of shapes) {
        const items = itemsOf(monitor.snapshot(shape));
        expect(items.length).toBeGreaterThan(20);
        for (const part of inBatches(items, 7)) {
          const { expected, actual } = both(part, clock.now(), SOURCE);
          expect(actual).toBe(expected);
        }
      }
      lastUntil = until;
    }
    // The shapes above did reach what the equality is meant to cover.
    const text = both(
      itemsOf(monitor.snapshot({ windows: [60], subWindows: { since: 0, open: true } })),
    ).actual;
    for (const needle of [
      '"exemplars":[{"value":250.5,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}]',
      '"partial":true',
      '"partial":false',
      '"labels":{"owner":"ünïcödé","team":"identity"}',
      '"route":"quote \\"x\\""',
      '"route":"tab\\there"',
      '"prsm.overflow":"true"',
      '"metric_type":"histogram"',
      '"value":1e+21',
      '"quantiles":{"p50":',
    ]) {
      expect(text).toContain(needle);
    }
  });

  it('follows series added, reordered and relabelled between collections', () => {
    const { monitor, clock } = monitorAt();
    const timer = monitor.timer('work', { component: 'jobs' });
    const shape = { windows: [], digests: false, cumulativeQuantiles: false } as const;
    for (const kind of ['a', 'b', 'c', 'd']) timer.bind({ kind }).record(1);
    const first = itemsOf(monitor.snapshot(shape));
    expect(both(first).actual).toBe(both(first).expected);
    // A series in the middle of the order, and the same series in another order.
    clock.advance(1000);
    timer.bind({ kind: 'b2' }).record(2);
    const second = itemsOf(monitor.snapshot(shape));
    for (const items of [second, [...second].reverse(), second.slice(2), second]) {
      const { expected, actual } = both(items);
      expect(actual).toBe(expected);
    }
    // New labels on an existing series: its head is made again.
    timer.bind({ kind: 'a' }, { owner: 'team-x' }).record(3);
    const third = itemsOf(monitor.snapshot(shape));
    const { expected, actual } = both(third);
    expect(actual).toBe(expected);
    expect(actual).toContain('"labels":{"owner":"team-x"}');
  });

  it('writes hand-made items as toRestBatch does: spans, alert events, NaN and Infinity, changing objects', () => {
    const tags: Record<string, string> = { route: '/a' };
    const timer = {
      type: 'timer',
      name: 'latency',
      component: 'api',
      tags,
      labels: {},
      overflow: false,
      unit: 'ms',
      description: '',
      cumulative: {
        windowSeconds: 'cumulative',
        count: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        mean: NaN,
        errorRate: NaN,
        perSecond: 0,
        quantiles: [],
        exemplars: [],
      },
      windows: [],
      subWindows: [
        {
          startMs: T0,
          seconds: 60,
          open: false,
          count: 2,
          sum: -0,
          min: -1e-7,
          max: 1e-7,
          errors: 0,
          centroids: new Float32Array([-1e-7, 1, 1e-7, 1]),
          exemplar: { value: 3, traceId: 'not-a-trace-id' },
        },
      ],
    } as unknown as SeriesSnapshot;
    const span: StoredSpan = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      parentSpanId: undefined,
      name: 'checkout',
      startMs: T0,
      endMs: T0 + 12.5,
      durationMs: 12.5,
      status: 'error',
      statusMessage: 'card "declined"',
      attributes: { 'http.route': '/pay', retries: 2, ok: false },
      component: 'payments',
    };
    const event = {
      at: T0 + 1,
      event: 'firing',
      alertId: 'a-1',
      ruleId: 'r-1',
      name: 'p99 high',
      severity: 'critical',
      component: 'api',
      value: NaN,
    } as AlertHistoryEntry;
    const items: ExportItem[] = [
      { kind: 'span', span },
      { kind: 'series', timestamp: T0, series: timer },
      { kind: 'alert', event },
      { kind: 'series', timestamp: NaN, series: timer },
    ];
    let { expected, actual } = both(items, T0, SOURCE);
    expect(actual).toBe(expected);
    expect(actual).toContain('"value":0,"unit":"ms"');
    // The same tags object, changed in place (not the monitor's: not frozen).
    tags.route = '/b';
    ({ expected, actual } = both(items, T0));
    expect(actual).toBe(expected);
    expect(actual).toContain('"tags":{"route":"/b"}');
    // Nothing but spans and alerts.
    ({ expected, actual } = both([items[0]!, items[2]!]));
    expect(actual).toBe(expected);
    ({ expected, actual } = both([]));
    expect(actual).toBe(expected);
  });

  it('gives each body bytes of its own, whatever its size, unchanged by the next one', () => {
    const { monitor } = monitorAt({ maxSeriesPerMetric: 5000 });
    const timer = monitor.timer('big', { component: 'c' });
    for (let i = 0; i < 3000; i++) {
      const bound = timer.bind({ id: String(i) });
      for (let j = 0; j < 20; j++) bound.record(i + j / 7);
    }
    const items = itemsOf(
      monitor.snapshot({ windows: [], digests: false, subWindows: { since: 0, open: true } }),
    );
    const small = encodeRestBatch({ id: 's', items: items.slice(0, 1) }, T0);
    const smallText = small.toString('utf8');
    // Bigger than every buffer before: it grows as it writes.
    const big = encodeRestBatch({ id: 'b', items }, T0);
    expect(big.length).toBeGreaterThan(1_000_000);
    expect(big.toString('utf8')).toBe(JSON.stringify(toRestBatch({ id: 'b', items }, T0)));
    const again = encodeRestBatch({ id: 's2', items: items.slice(0, 1) }, T0);
    expect(small.toString('utf8')).toBe(smallText);
    expect(again.buffer).not.toBe(big.buffer);
    expect(big.toString('utf8')).toBe(JSON.stringify(toRestBatch({ id: 'b', items }, T0)));
  });
});
