/**
 * `restBatchJson` writes the very characters `JSON.stringify(toRestBatch(...))` does:
 * over a real monitor's snapshots (every kind of series, windows with quantiles, closed
 * and open sub-windows, exemplars), over strings JSON must escape, numbers it cannot
 * hold, and fields not of their declared type (written by `JSON.stringify` of the body
 * object, which decides).
 */
import type {
  AlertHistoryEntry,
  ExportItem,
  HistogramSnapshot,
  SeriesSnapshot,
  StoredSpan,
  SubWindowSnapshot,
} from '@prsm/core';
import { ManualClock, Monitor } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { toRestBatch, type RestSource } from './body.js';
import { restBatchJson } from './json.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const SOURCE: RestSource = {
  instance_id: '6f1c2c7e-8a4b-4c1e-9d2f-1a2b3c4d5e6f',
  resource: { 'service.name': 'checkout', 'service.instance': 3, canary: true },
};
const monitors: Monitor[] = [];

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function seriesItems(series: readonly SeriesSnapshot[], timestamp: number): ExportItem[] {
  return series.map((s) => ({ kind: 'series', timestamp, series: s }));
}

/** Both writers' text of one batch, with and without a source. */
function expectSame(items: readonly ExportItem[], id = 'batch-1'): string {
  const batch = { id, items };
  const json = restBatchJson(batch, T0 + 5000, SOURCE).toString('utf8');
  expect(json).toBe(JSON.stringify(toRestBatch(batch, T0 + 5000, SOURCE)));
  expect(restBatchJson(batch, T0 + 5000).toString('utf8')).toBe(
    JSON.stringify(toRestBatch(batch, T0 + 5000)),
  );
  return json;
}

/** A monitor with counters, gauges, histograms and timers over two sub-windows. */
function busyMonitor(): { monitor: Monitor; clock: ManualClock } {
  const clock = new ManualClock(T0);
  const monitor = new Monitor({ clock, windows: [60, 300], snapshotQuantiles: [0.5, 0.9, 0.99] });
  monitors.push(monitor);
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let minute = 0; minute < 2; minute++) {
    for (let c = 0; c < 3; c++) {
      const component = `svc${c}`;
      const timer = monitor.timer('http.duration', { component });
      for (let r = 0; r < 4; r++) {
        const route = timer.bind({ route: `/r${r}`, method: 'GET' });
        for (let i = 0; i < 40; i++) {
          if (i % 9 === 0) route.recordError(5 + 500 * rnd() ** 3);
          else route.record(5 + 500 * rnd() ** 3);
        }
      }
      monitor
        .histogram('search.results', { component, unit: 'items' })
        .bind({ tier: 'pro' }, { version: 'v2' })
        .record(Math.floor(rnd() * 50));
      monitor.counter('orders', { component }).bind({ status: 'paid' }).inc(3);
      monitor
        .gauge('pool.connections', { component })
        .bind({ pool: 'main' })
        .set(rnd() * 10);
    }
    clock.advance(60_000);
  }
  // The open sub-window's samples.
  monitor
    .timer('http.duration', { component: 'svc1' })
    .bind({ route: '/r1', method: 'GET' })
    .record(42);
  // A histogram that never got a sample, a gauge set to what JSON cannot hold.
  monitor.histogram('empty.histogram', { component: 'svc0' });
  monitor.gauge('odd.gauge', { component: 'svc0' }).set(Number.NaN);
  return { monitor, clock };
}

describe('restBatchJson', () => {
  it("writes a real monitor's snapshot as JSON.stringify(toRestBatch(...)) does", () => {
    const { monitor, clock } = busyMonitor();
    const snapshot = monitor.snapshot({
      windows: [60, 300],
      digests: false,
      cumulativeQuantiles: false,
      subWindows: { since: clock.now() - 120_000, open: true },
    });
    const distributions = snapshot.series.filter(
      (s): s is HistogramSnapshot => s.type === 'timer' || s.type === 'histogram',
    );
    // What the batch holds: quantiles in windows, closed and open sub-windows.
    expect(distributions.some((s) => s.windows.some((w) => w.quantiles.length === 3))).toBe(true);
    expect(distributions.some((s) => s.subWindows?.some((w) => !w.open) === true)).toBe(true);
    expect(distributions.some((s) => s.subWindows?.some((w) => w.open) === true)).toBe(true);
    expect(snapshot.series.map((s) => s.type)).toEqual(
      expect.arrayContaining(['counter', 'gauge', 'histogram', 'timer']),
    );
    const json = expectSame(seriesItems(snapshot.series, snapshot.timestamp));
    expect(JSON.parse(json)).toMatchObject({ batch_id: 'batch-1', source: SOURCE });
    // A second batch of the same series (their tags' text kept from the first).
    expectSame(seriesItems(snapshot.series, snapshot.timestamp + 1), 'batch-2');
  });

  it('escapes what JSON escapes in names, tags, labels and ids', () => {
    const { monitor } = busyMonitor();
    const odd = [
      'quote " and \\ back',
      'line\nbreak\ttab\u0001',
      'é ü 漢字 😀',
      'lone \ud800 half',
    ];
    for (const value of odd) {
      monitor
        .counter(`c.${value}`, { component: `comp ${value}` })
        .bind({ [value]: value })
        .inc();
    }
    const snapshot = monitor.snapshot({ windows: [60] });
    expectSame(seriesItems(snapshot.series, snapshot.timestamp), 'id "with" \n quote');
    // Enough of them for the body to be encoded in many pieces, its buffer grown.
    for (let i = 0; i < 2000; i++) {
      monitor
        .counter('many', { component: 'svc0' })
        .bind({ city: `Zürich 東京 😀 ${i}` })
        .inc(i);
    }
    const many = monitor.snapshot({ windows: [60] });
    const json = expectSame(seriesItems(many.series, many.timestamp));
    expect(Buffer.byteLength(json)).toBeGreaterThan(8 * 16 * 1024);
  });

  it('writes spans, alert events and an empty batch as JSON.stringify does', () => {
    const span: StoredSpan = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      parentSpanId: undefined,
      name: 'GET /users/:id',
      startMs: T0,
      endMs: T0 + 12.5,
      durationMs: 12.5,
      status: 'error',
      statusMessage: 'boom "quoted"',
      attributes: { 'http.status_code': 500, retry: true, note: 'x\ny', list: ['a', 'b'] },
      component: undefined,
    };
    const alert: AlertHistoryEntry = {
      at: T0,
      event: 'firing',
      alertId: 'a-1',
      ruleId: 'r-1',
      name: 'p99 too high',
      severity: 'critical',
      component: 'api_gateway',
      value: Number.NaN,
    };
    expectSame([]);
    expectSame([
      { kind: 'span', span },
      { kind: 'alert', event: alert },
      { kind: 'span', span: { ...span, parentSpanId: 'a1b2c3d4e5f60718', component: 'db' } },
      { kind: 'alert', event: { ...alert, event: 'acknowledged', by: 'ana', value: 3 } },
    ]);
  });

  it('writes hand-made snapshots: no finite value, exemplars, repeated quantiles, tags not frozen', () => {
    const centroids = new Float32Array([1.5, 1, 2.25, 3]);
    const sub = (overrides: Partial<SubWindowSnapshot>): SubWindowSnapshot => ({
      startMs: T0,
      seconds: 60,
      open: false,
      count: 4,
      sum: 8.25,
      min: 1.5,
      max: 2.25,
      errors: 1,
      centroids,
      ...overrides,
    });
    const window = {
      windowSeconds: 60,
      coveredSeconds: 60,
      count: 0,
      errors: 0,
      errorRate: 0,
      perSecond: 0,
      perMinute: 0,
      sum: 0,
      min: Number.NaN,
      max: Number.NaN,
      mean: Number.NaN,
      exemplars: [],
    };
    const tags: Record<string, string> = { b: '1', 2: 'two', a: '0', 1: 'one' };
    const timer: HistogramSnapshot = {
      name: 't',
      component: 'c',
      tags,
      labels: {},
      overflow: false,
      unit: 'ms',
      description: '',
      type: 'timer',
      cumulative: {
        ...window,
        windowSeconds: 'cumulative',
        count: 4,
        sum: Number.POSITIVE_INFINITY,
        min: -0,
        max: 1e21,
        mean: 5e-7,
        quantiles: [],
      },
      windows: [
        { ...window, windowSeconds: 'cumulative', quantiles: [] },
        {
          ...window,
          quantiles: [
            { quantile: 0.5, value: 1 },
            { quantile: 0.99, value: Number.NaN },
            { quantile: 0.999, value: 3 },
          ],
        },
        {
          ...window,
          windowSeconds: 300,
          quantiles: [
            { quantile: 0.5, value: 1 },
            { quantile: 0.5000000000000001, value: 2 },
          ],
        },
      ],
      subWindows: [
        sub({ exemplar: { value: 2.25, traceId: '0af7651916cd43dd8448eb211c80319c' } }),
        sub({ open: true, startMs: T0 + 60_000, exemplar: { value: 1, traceId: 'NOT-HEX' } }),
        sub({ startMs: Number.NaN, min: Number.NaN, centroids: new Float32Array(0) }),
      ],
    };
    expectSame(seriesItems([timer], T0));
    // The same tags object changed between two batches: written anew (it is not frozen).
    tags['a'] = 'changed';
    expect(expectSame(seriesItems([timer], T0))).toContain('"a":"changed"');
    // A histogram with no sub-window list, and an invalid time.
    expectSame(seriesItems([{ ...timer, type: 'histogram', subWindows: undefined }], Number.NaN));
  });

  it('leaves a field not of its declared type to JSON.stringify of the body object', () => {
    const gauge = {
      name: 'g',
      component: 'c',
      tags: Object.freeze({}),
      labels: Object.freeze({}),
      overflow: false,
      unit: '',
      description: '',
      type: 'gauge',
      value: 1,
    } as const;
    const wrong = [
      { ...gauge, value: '7' },
      { ...gauge, name: 42 },
      { ...gauge, value: undefined },
      { ...gauge, tags: null },
      { ...gauge, type: 'summary' },
    ] as unknown as SeriesSnapshot[];
    const json = expectSame(seriesItems([gauge, ...wrong], T0));
    expect(JSON.parse(json)).toMatchObject({
      metrics: [{ value: 1 }, { value: '7' }, { metric_name: 42 }, {}, { tags: null }, null],
    });
    expect(expectSame([], 17 as unknown as string)).toContain('"batch_id":17');
  });

  it('throws what JSON.stringify throws', () => {
    const span = {
      traceId: 't',
      spanId: 's',
      parentSpanId: undefined,
      name: 'n',
      startMs: T0,
      endMs: T0,
      durationMs: 0,
      status: 'success',
      statusMessage: undefined,
      attributes: { big: 1n },
      component: undefined,
    } as unknown as StoredSpan;
    const batch = { id: 'b', items: [{ kind: 'span', span }] as ExportItem[] };
    expect(() => JSON.stringify(toRestBatch(batch, T0))).toThrow(TypeError);
    expect(() => restBatchJson(batch, T0)).toThrow(TypeError);
  });
});
