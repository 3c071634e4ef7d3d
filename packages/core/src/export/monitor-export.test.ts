/**
 * `new Monitor({ exporters })`: series on every export interval (and on forceFlush),
 * finished spans and alert events, each exporter behind its own pipeline, all
 * delivered by shutdown within its deadline. Against a real HTTP receiver.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import type { BoundTimer } from '../metrics/instruments.js';
import type { ExportItem } from './items.js';
import type { Exporter } from './pipeline.js';
import { httpExporter, receiver } from './test-support.js';

const kinds = (items: readonly unknown[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const item of items as ExportItem[]) out[item.kind] = (out[item.kind] ?? 0) + 1;
  return out;
};

/** An exporter that needs sub-windows and keeps every item it takes in `got`. */
function subWindowExporter(got: ExportItem[]): Exporter<ExportItem> {
  return {
    needs: { windowQuantiles: false, digests: false, subWindows: true },
    export: (batch) => {
      got.push(...batch.items);
      return Promise.resolve({ ok: true });
    },
    shutdown: () => Promise.resolve(),
  };
}

/**
 * A monitor on a ManualClock exporting every 10 s (under fake intervals) to an exporter
 * that needs sub-windows, whose items land in `got`, with `routes` timer series.
 */
function slicedExport(routes: number): {
  t0: number;
  clock: ManualClock;
  got: ExportItem[];
  monitor: Monitor;
  timers: BoundTimer[];
} {
  const t0 = Date.UTC(2024, 0, 15, 14);
  const clock = new ManualClock(t0);
  const got: ExportItem[] = [];
  const exporter = subWindowExporter(got);
  const monitor = new Monitor({
    clock,
    exporters: [exporter],
    exportIntervalSeconds: 10,
    maxSeriesPerMetric: 5000,
  });
  const family = monitor.timer('latency', { component: 'shop' });
  const timers = Array.from({ length: routes }, (_, i) => family.bind({ route: `/r${i}` }));
  return { t0, clock, got, monitor, timers };
}

describe('Monitor exporters', () => {
  it('attaches each exporter to the monitor with its resource attributes', async () => {
    const seen: unknown[] = [];
    const exporter = {
      attach(host: { resource: Readonly<Record<string, string | number | boolean>> }) {
        seen.push(host.resource);
      },
      export: () => Promise.resolve({ ok: true }),
      shutdown: () => Promise.resolve(),
    };
    const broken = {
      ...exporter,
      attach: () => {
        throw new Error('attach failed');
      },
    };
    const monitor = new Monitor({
      serviceName: 'checkout',
      resourceAttributes: { 'deployment.environment': 'prod', 'service.instance.count': 3 },
      exporters: [exporter, broken],
    });
    expect(seen).toEqual([
      { 'deployment.environment': 'prod', 'service.instance.count': 3, 'service.name': 'checkout' },
    ]);
    expect(monitor.resource['service.name']).toBe('checkout');
    expect(Object.isFrozen(monitor.resource)).toBe(true);
    expect(monitor.diagnostics.counts()['PRSM_INTERNAL_ERROR']).toBe(1);
    await monitor.shutdown();
  });

  it('sends every sub-window exactly once to an exporter that needs them, the open one at shutdown', async () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14));
    const got: ExportItem[] = [];
    const exporter = subWindowExporter(got);
    const monitor = new Monitor({ clock, exporters: [exporter] });
    const timer = monitor.timer('latency', { component: 'shop' }).bind({ route: '/x' });
    let recorded = 0;
    for (let minute = 0; minute < 5; minute++) {
      for (let i = 0; i < 10 + minute; i++) {
        timer.record(i + minute * 100);
        recorded++;
      }
      clock.advance(30_000);
      if (minute % 2 === 0) await monitor.forceFlush(5); // mid-minute: closed ones only
      clock.advance(30_000);
    }
    timer.record(7); // the open sub-window, sent at shutdown
    recorded++;
    await monitor.shutdown();
    const windows = got.flatMap((item) =>
      item.kind === 'series' && item.series.type === 'timer' ? (item.series.subWindows ?? []) : [],
    );
    const starts = windows.map((w) => w.startMs);
    expect(new Set(starts).size).toBe(starts.length); // none twice
    expect(windows.reduce((n, w) => n + w.count, 0)).toBe(recorded);
    expect(windows.map((w) => w.count)).toEqual([10, 11, 12, 13, 14, 1]);
    expect(windows.map((w) => w.open)).toEqual([false, false, false, false, false, true]);
    const first = windows[0]!;
    expect(first.startMs).toBe(Date.UTC(2024, 0, 15, 14));
    expect(first.seconds).toBe(60);
    expect([first.min, first.max, first.sum]).toEqual([0, 9, 45]);
    let weight = 0;
    for (let i = 1; i < first.centroids.length; i += 2) weight += first.centroids[i]!;
    expect(weight).toBe(10);
    // Nothing computed that no exporter reads.
    const series = got.find((i) => i.kind === 'series' && i.series.type === 'timer');
    if (series?.kind !== 'series' || series.series.type !== 'timer') throw new Error('timer');
    expect(series.series.windows).toEqual([]);
    expect(series.series.cumulative.quantiles).toEqual([]);
    expect(series.series.cumulative.digest).toBeUndefined();
  });

  it('reads sub-windows up to `until`, and rejects a bad one', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14));
    const monitor = new Monitor({ clock });
    const timer = monitor.timer('latency', { component: 'shop' });
    for (let minute = 0; minute < 4; minute++) {
      timer.record(minute + 1);
      clock.advance(60_000);
    }
    timer.record(9); // the open sub-window (minute 4)
    const starts = (subWindows: { since: number; until?: number; open?: boolean }): number[] => {
      const s = monitor.snapshot({ subWindows }).series[0];
      if (s?.type !== 'timer') throw new Error('timer');
      return (s.subWindows ?? []).map((w) => (w.startMs - Date.UTC(2024, 0, 15, 14)) / 60_000);
    };
    const t0 = Date.UTC(2024, 0, 15, 14);
    expect(starts({ since: t0 })).toEqual([0, 1, 2, 3]);
    expect(starts({ since: t0 + 60_000, until: t0 + 3 * 60_000 })).toEqual([1, 2]);
    // A bound inside a sub-window takes it (it started before), as `since` does not.
    expect(starts({ since: t0 + 30_000, until: t0 + 150_000 })).toEqual([1, 2]);
    expect(starts({ since: t0, until: t0 + 4 * 60_000, open: true })).toEqual([0, 1, 2, 3]);
    expect(starts({ since: t0, until: Infinity, open: true })).toEqual([0, 1, 2, 3, 4]);
    expect(() => monitor.snapshot({ subWindows: { since: t0, until: Number.NaN } })).toThrow(
      /subWindows\.until must be a time/,
    );
    expect(() =>
      monitor.snapshot({ subWindows: { since: t0, until: '1' as unknown as number } }),
    ).toThrow(/subWindows\.until must be a time/);
    void monitor.shutdown();
  });

  it('collects on the export interval in slices, each sub-window still sent once', async () => {
    // Fake intervals and immediates only (the export interval and the breaks between
    // slices); the monitor runs on its ManualClock, which does not move while slicing, so
    // a slice ends after 1,000 series.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setImmediate'] });
    try {
      const { t0, clock, got, monitor, timers } = slicedExport(2500);
      for (const t of timers) t.record(1); // minute 0
      clock.advance(60_000);
      for (const t of timers) t.record(2); // minute 1, open
      vi.advanceTimersByTime(10_000); // the interval: the first slice runs now
      const enqueued = (): number => monitor.exportStats()[0]!.enqueued;
      expect(enqueued()).toBe(0); // not done: two more slices to go
      // Minute 1 closes between the slices: the series read later see it closed.
      clock.advance(60_000);
      for (const t of timers) t.record(3); // minute 2, open
      for (let i = 0; i < 10 && enqueued() === 0; i++) await vi.advanceTimersToNextTimerAsync();
      // Every series (the monitor's own too) in one collection.
      expect(enqueued()).toBe(monitor.snapshot().series.length);
      expect(enqueued()).toBeGreaterThan(2500);
      await monitor.forceFlush(5); // minute 1, closed by now
      await monitor.shutdown(); // minute 2, open
      const byRoute = new Map<string, number[]>();
      for (const item of got) {
        if (item.kind !== 'series' || item.series.type !== 'timer') continue;
        const route = item.series.tags['route']!;
        const minutes = byRoute.get(route) ?? [];
        for (const w of item.series.subWindows ?? []) minutes.push((w.startMs - t0) / 60_000);
        byRoute.set(route, minutes);
      }
      expect(byRoute.size).toBe(2500);
      for (const [route, minutes] of byRoute) expect([route, minutes]).toEqual([route, [0, 1, 2]]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives up a collection in slices when forceFlush collects meanwhile, losing nothing', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setImmediate'] });
    try {
      const { t0, clock, got, monitor, timers } = slicedExport(1500);
      for (const t of timers) t.record(1);
      clock.advance(60_000);
      vi.advanceTimersByTime(10_000); // the first of two slices
      await monitor.forceFlush(5); // in one go: minute 0 of every series
      await vi.advanceTimersToNextTimerAsync(); // the break of the one given up (not the interval)
      await monitor.shutdown();
      const minutes = got.flatMap((item) =>
        item.kind === 'series' && item.series.type === 'timer'
          ? (item.series.subWindows ?? []).map((w) => (w.startMs - t0) / 60_000)
          : [],
      );
      // Minute 0 once per series; the open minute 1 holds nothing.
      expect(minutes.length).toBe(1500);
      expect(new Set(minutes)).toEqual(new Set([0]));
      // The series went out with forceFlush and shutdown only.
      const latency = got.filter((i) => i.kind === 'series' && i.series.name === 'latency');
      expect(latency.length).toBe(1500 + 1500);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects a bad serviceName or resource attribute, naming it', () => {
    expect(() => new Monitor({ serviceName: '' })).toThrow(/serviceName must be a non-empty/);
    expect(() => new Monitor({ resourceAttributes: { 'host.cpu': Number.NaN } })).toThrow(
      /resourceAttributes.host.cpu must be/,
    );
    expect(
      () => new Monitor({ resourceAttributes: [] as unknown as Record<string, string> }),
    ).toThrow(/resourceAttributes must be an object/);
    const defaulted = new Monitor();
    expect(defaulted.resource['service.name']).toBe(
      process.env['OTEL_SERVICE_NAME'] ?? 'unknown_service:node',
    );
    void defaulted.shutdown();
  });

  it('exports series on forceFlush, finished spans and alert events, once each', async () => {
    const r = await receiver();
    const monitor = new Monitor({
      clock: new ManualClock(Date.UTC(2024, 0, 15, 14)),
      tracing: true,
      exporters: [httpExporter<ExportItem>(r.url)],
      alerting: { evaluationIntervalSeconds: 0 },
    });
    monitor.counter('orders', { component: 'shop' }).bind().inc(3);
    monitor.gauge('pool', { component: 'shop' }).bind().set(7);
    monitor.histogram('latency', { component: 'shop' }).bind().record(42);
    trace.getTracer('t').startActiveSpan('checkout', (span) => span.end());
    monitor.alerts.create({
      name: 'busy',
      severity: 'low',
      component: 'shop',
      condition: 'pool > 5',
    });
    monitor.alerts.evaluate(); // pending, then firing (no duration): two events
    await monitor.forceFlush(5);
    const got = r.items as ExportItem[];
    expect(kinds(got)).toMatchObject({ span: 1, alert: 2 });
    const series = got
      .filter((i) => i.kind === 'series')
      .map((i) => (i.kind === 'series' ? i.series.name : ''));
    expect(series).toEqual(expect.arrayContaining(['orders', 'pool', 'latency']));
    const span = got.find((i) => i.kind === 'span');
    expect(span?.kind === 'span' && span.span.name).toBe('checkout');
    const events = got
      .filter((i) => i.kind === 'alert')
      .map((i) => (i.kind === 'alert' ? i.event.event : ''));
    expect(events).toEqual(['pending', 'firing']);
    expect(monitor.exportStats()).toEqual([
      expect.objectContaining({
        name: 'test-http',
        dropped: { queueFull: 0, failed: 0, shutdown: 0 },
      }),
    ]);
    await monitor.shutdown();
    // Shutdown exported the series once more (a final interval), nothing else new.
    expect(kinds(r.items)).toMatchObject({ span: 1, alert: 2 });
  });

  it('a receiver that never answers: shutdown keeps its deadline and counts what it dropped', async () => {
    const r = await receiver(() => 'hang');
    const monitor = new Monitor({
      exporters: [httpExporter<ExportItem>(r.url)],
      shutdownTimeoutSeconds: 0.2,
      exportPipeline: { timeoutMs: 60_000, maxConcurrency: 1, maxBatchItems: 1 },
    });
    for (let i = 0; i < 5; i++) monitor.counter(`c${i}`).bind().inc();
    await monitor.shutdown();
    const [stats] = monitor.exportStats();
    expect(stats!.exported).toBe(0);
    expect(stats!.dropped.shutdown).toBeGreaterThanOrEqual(5);
    expect(stats!.queued).toBe(0);
  });

  it('rejects bad exporter options with the option named', () => {
    // @ts-expect-error -- not an exporter
    expect(() => new Monitor({ exporters: [{}] })).toThrow(
      /exporters\[0\]: an exporter must have export\(\) and shutdown\(\)/,
    );
    expect(() => new Monitor({ exportIntervalSeconds: 0 })).toThrow(/exportIntervalSeconds/);
    expect(
      () =>
        new Monitor({
          exportPipeline: { maxBatchItems: -1 },
          exporters: [httpExporter('http://127.0.0.1:9/x')],
        }),
    ).toThrow(/maxBatchItems/);
  });

  it('handleSignals: on SIGTERM everything queued is delivered, then the process ends by the signal', async () => {
    const r = await receiver();
    const child = spawn(
      process.execPath,
      [
        '--conditions=@prsm/source',
        '--import',
        'tsx',
        fileURLToPath(new URL('./handle-signals.child.ts', import.meta.url)),
        r.url,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let i = 0; i < 200 && !output.includes('ready'); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(output).toContain('ready');
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (c, s) => resolve([c, s])),
    );
    expect(signal).toBe('SIGTERM');
    expect(code).toBeNull();
    const names = (r.items as ExportItem[]).map((i) =>
      i.kind === 'series' ? i.series.name : i.kind,
    );
    expect(names).toContain('signals.handled');
  });
});
