/**
 * Cluster aggregation cost: a real forked worker (IPC channel, `process.send`) with
 * 1,000 series (400 timers, 400 counters, 200 gauges) sends its deltas to this
 * process with `clusterAggregation` at the default export interval (60 s, simulated:
 * the worker's clock advances one minute per interval, so every timer has a closed
 * sub-window to send each time). Per interval we measure the worker's CPU time spent
 * in `flush()` (snapshot, encoding, and the JSON serialization `process.send` does)
 * with `process.cpuUsage()`, and the primary's time merging a worker's messages. The
 * cost of recording itself (the application's own work) is not counted.
 *
 * Second section, the limit of one server: the SQLite store of `@prsm/server`
 * (`openStore`, the built bundle, `synchronous: 'full'`) given one million points in
 * the server bench's shape (1,000 series, 1 in 5 a timer sample) in two layouts: one
 * point per series per minute for 1,000 minutes (every point its own minute row, the
 * worst case for size), and 1,000 points per series within 1 minute (rows are per
 * series and minute, so size follows series x minutes, not points). Reported: the
 * file size after a checkpoint, bytes per point and per minute row, and the in-process
 * ingest rate (no HTTP).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterAggregation, ManualClock, Monitor } from '@prsm/core';
import { openStore, type SpecMetric } from '@prsm/server';
import { bytes, fixed, heading, median, nearestRank, paragraph, table } from '../lib/report.js';

const TIMERS = 400;
const COUNTERS = 400;
const GAUGES = 200;
const VALUES_PER_TIMER = 100;
const INTERVALS = 30;
const WARMUP = 5;
const INTERVAL_SECONDS = 60;

interface ChildReport {
  readonly cpuMs: number[];
  readonly messages: number;
  readonly bytes: number;
  readonly dropped: number;
}

async function child(): Promise<void> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const monitor = new Monitor({ clock, health: { resources: false } });
  const aggregation = clusterAggregation(monitor, { role: 'worker' });
  const timers = Array.from({ length: TIMERS }, (_, i) =>
    monitor.timer('op.latency', { component: `c${i % 8}` }).bind({ op: `op${i}` }),
  );
  const counters = Array.from({ length: COUNTERS }, (_, i) =>
    monitor.counter('op.calls', { component: `c${i % 8}` }).bind({ op: `op${i}` }),
  );
  const gauges = Array.from({ length: GAUGES }, (_, i) =>
    monitor.gauge('pool.size', { component: `c${i % 8}` }).bind({ pool: `p${i}` }),
  );
  let x = 1;
  const cpuMs: number[] = [];
  for (let interval = 0; interval < WARMUP + INTERVALS; interval++) {
    for (const t of timers) {
      for (let i = 0; i < VALUES_PER_TIMER; i++) {
        x = (x * 16807) % 2147483647;
        t.record(5 + (x % 1000) / 10);
      }
    }
    for (const c of counters) c.inc(1 + (x % 3));
    for (const [i, g] of gauges.entries()) g.set((interval + i) % 7);
    clock.advance(INTERVAL_SECONDS * 1000);
    const before = process.cpuUsage();
    aggregation.flush();
    const used = process.cpuUsage(before);
    if (interval >= WARMUP) cpuMs.push((used.user + used.system) / 1000);
    // Intervals are a minute apart in a service: let the IPC channel write what the
    // flush queued (a loop that never yields would fill the worker's send queue).
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
  }
  const stats = aggregation.stats();
  const report: ChildReport = {
    cpuMs,
    messages: stats.messages,
    bytes: stats.bytes,
    dropped: stats.droppedEntries,
  };
  await new Promise<void>((resolve) => process.send!({ report }, undefined, {}, () => resolve()));
  process.disconnect();
}

export async function run(): Promise<void> {
  heading('Cluster aggregation: per-worker cost');
  const primary = new Monitor({
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    health: { resources: false },
  });
  const aggregation = clusterAggregation(primary, { role: 'primary' });
  const worker = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, PRSM_BENCH_CLUSTER_CHILD: '1' },
  });
  // attach() takes anything with on/off('message'|'exit'): a proxy in front of the
  // child lets us time each merge.
  const listeners: ((message: unknown) => void)[] = [];
  const proxy = {
    pid: worker.pid,
    on(event: 'message' | 'exit', listener: (message: unknown) => void): unknown {
      if (event === 'message') listeners.push(listener);
      else worker.on('exit', () => listener(undefined));
      return proxy;
    },
    off(): unknown {
      return proxy;
    },
  };
  const mergeMs: number[] = [];
  let report: ChildReport | undefined;
  const onMessage = (message: { report?: ChildReport }): void => {
    if (message.report !== undefined) {
      report = message.report;
      return;
    }
    const t0 = performance.now();
    for (const l of listeners) l(message);
    mergeMs.push(performance.now() - t0);
  };
  aggregation.attach(proxy);
  worker.on('message', onMessage);
  await new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  await aggregation.stop();
  if (report === undefined) throw new Error('the worker sent no report');
  const perInterval = median(report.cpuMs);
  const p95 = nearestRank(report.cpuMs, 0.95);
  const share = perInterval / (INTERVAL_SECONDS * 1000);
  const merged = mergeMs.reduce((a, b) => a + b, 0) / (WARMUP + INTERVALS);
  console.log(
    table(
      ['measure', 'value'],
      [
        ['series in the worker', String(TIMERS + COUNTERS + GAUGES)],
        ['worker CPU per flush, median (ms)', fixed(perInterval, 2)],
        ['worker CPU per flush, p95 (ms)', fixed(p95, 2)],
        [
          `share of one core at a ${INTERVAL_SECONDS} s interval (median)`,
          `${fixed(share * 100, 3)}%`,
        ],
        ['messages per interval', fixed(report.messages / (WARMUP + INTERVALS), 1)],
        ['bytes per interval (estimated)', fixed(report.bytes / (WARMUP + INTERVALS), 0)],
        ['entries dropped', String(report.dropped)],
        ['primary merge time per worker interval (ms)', fixed(merged, 2)],
      ],
    ),
  );
  paragraph(
    `Target: <= 1% of a core per worker. Every timer sends one closed sub-window (${VALUES_PER_TIMER} values) each interval. Timings on a shared machine are noisy.`,
  );
  await primary.shutdown();
  sqliteLimits();
}

const POINTS = 1_000_000;
const STORE_SERIES = 1000;

function storeLayout(
  dir: string,
  label: string,
  pointsPerSeriesMinute: number,
): { label: string; seconds: number; size: number; rows: number } {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const path = join(dir, `${label.replace(/\W+/g, '-')}.db`);
  // Rollups and retention stay out of the way: the rows measured are minute rows.
  const store = openStore(path, {
    clock,
    synchronous: 'full',
    rollupAfterMs: 365 * 86_400_000,
    retentionMs: 365 * 86_400_000,
  });
  const request = (offset: number): SpecMetric[] => {
    const metrics: SpecMetric[] = [];
    for (let i = 0; i < STORE_SERIES; i++) {
      metrics.push(
        i % 5 === 0
          ? {
              name: 'bench.latency',
              value: 20 + ((i + offset) % 97),
              metric_type: 'timer',
              component: 'api',
              tags: { route: `r${i}` },
            }
          : {
              name: 'bench.requests',
              value: 1,
              metric_type: 'counter',
              component: 'api',
              tags: { route: `r${i}` },
            },
      );
    }
    return metrics;
  };
  const t0 = performance.now();
  const requests = POINTS / STORE_SERIES;
  for (let r = 0; r < requests; r++) {
    store.ingestMetrics(request(r));
    if ((r + 1) % pointsPerSeriesMinute === 0) clock.advance(60_000);
  }
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  let size = statSync(path).size;
  for (const extra of [`${path}-wal`, `${path}-shm`])
    if (existsSync(extra)) size += statSync(extra).size;
  return { label, seconds, size, rows: (requests / pointsPerSeriesMinute) * STORE_SERIES };
}

function sqliteLimits(): void {
  heading('One server: SQLite store size per million points');
  const dir = mkdtempSync(join(tmpdir(), 'prsm-bench-store-'));
  try {
    const rows = [
      storeLayout(dir, '1 point per series-minute, 1000 minutes', 1),
      storeLayout(dir, '1000 points per series-minute, 1 minute', 1000),
    ].map((r) => [
      r.label,
      String(r.rows),
      bytes(r.size),
      fixed(r.size / POINTS, 1),
      fixed(r.size / r.rows, 1),
      fixed(POINTS / r.seconds, 0),
    ]);
    console.log(
      table(
        [
          'layout (1,000,000 points, 1,000 series)',
          'minute rows',
          'file size',
          'bytes/point',
          'bytes/row',
          'points/s in process',
        ],
        rows,
      ),
    );
    paragraph(
      "The file holds one row per (series, minute) with its count, sum, min, max, last value and, for timers, the minute's digest; hour rollups and retention (off here) bound it over time. Ingest here is one request of 1,000 points per transaction, without group commit or HTTP.",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env['PRSM_BENCH_CLUSTER_CHILD'] === '1') await child();
