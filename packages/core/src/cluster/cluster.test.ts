import { fork } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import { clusterAggregation, type ClusterAggregation } from './cluster.js';
import { ClusterPrimaryReceiver } from './primary.js';
import { ClusterWorkerSender } from './worker.js';
import type { WireMessage } from './protocol.js';
import { exactQuantile, START_MS, VALUES_PER_WORKER, workerValues } from './test-support.js';

const WORKERS = 4;
const child = fileURLToPath(new URL('./cluster-worker.child.ts', import.meta.url));

function monitorAt(clock = new ManualClock(START_MS)): Monitor {
  return new Monitor({ clock, health: { resources: false } });
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

describe('clusterAggregation across real node:cluster workers', () => {
  it('merges digests, counters and gauges into the primary: fleet p99 within 1% of exact', async () => {
    const monitor = monitorAt();
    const aggregation: ClusterAggregation = clusterAggregation(monitor, {
      role: 'auto',
      gauges: { 'api.peak': 'max' },
    });
    open.push(
      () => aggregation.stop(),
      () => monitor.shutdown(),
    );
    expect(aggregation.role).toBe('primary');
    cluster.setupPrimary({
      exec: child,
      execArgv: ['--conditions=@prsm/source', '--import', 'tsx'],
      silent: false,
    });
    const promJson: unknown[] = [];
    const exits: Promise<void>[] = [];
    for (let i = 0; i < WORKERS; i++) {
      const worker: Worker = cluster.fork({ PRSM_WORKER_INDEX: String(i) });
      worker.on('message', (m: { promClient?: unknown }) => {
        if (m.promClient !== undefined) promJson.push(m.promClient);
      });
      exits.push(new Promise((resolve) => worker.once('exit', () => resolve())));
    }
    await Promise.all(exits);

    const all = new Float64Array(WORKERS * VALUES_PER_WORKER);
    for (let i = 0; i < WORKERS; i++) all.set(workerValues(i), i * VALUES_PER_WORKER);
    const exact99 = exactQuantile(all, 0.99);
    const exact50 = exactQuantile(all, 0.5);
    const [p50, p99] = monitor.getPercentiles('api.latency', [0.5, 0.99], {
      component: 'api',
      tags: { route: '/x' },
      windowSeconds: 60,
    });
    const ourError = Math.abs(p99! - exact99) / exact99;

    // prom-client's cluster mode on the same values: AggregatorRegistry.aggregate is
    // what clusterMetrics() runs on the workers' getMetricsAsJSON() replies.
    const aggregated = AggregatorRegistry.aggregate(promJson as object[]);
    const promP99 = async (name: string): Promise<number> => {
      const metric = (await aggregated.getMetricsAsJSON()).find((m) => m.name === name)!;
      const values = metric.values as { labels: { quantile?: number }; value: number }[];
      return values.find((v) => v.labels.quantile === 0.99)!.value;
    };
    const promSum = await promP99('latency_sum_aggregated');
    const promAvg = await promP99('latency_avg_aggregated');
    console.log(
      [
        `fleet of ${WORKERS} workers x ${VALUES_PER_WORKER} values: exact p99 ${exact99.toFixed(2)}`,
        `  @prsm/core merged digests: p99 ${p99!.toFixed(2)} (error ${(ourError * 100).toFixed(3)}%), p50 ${p50!.toFixed(2)} vs exact ${exact50.toFixed(2)}`,
        `  prom-client AggregatorRegistry, summary aggregator 'sum' (default): p99 ${promSum.toFixed(2)} (error ${((Math.abs(promSum - exact99) / exact99) * 100).toFixed(1)}%)`,
        `  prom-client AggregatorRegistry, summary aggregator 'average': p99 ${promAvg.toFixed(2)} (error ${((Math.abs(promAvg - exact99) / exact99) * 100).toFixed(1)}%)`,
      ].join('\n'),
    );
    expect(ourError).toBeLessThanOrEqual(0.01);
    // The median of the merged digest is coarser (the scale is finest at the tails);
    // measured 0.1%..0.6% over runs (workers' messages arrive in any order).
    expect(Math.abs(p50! - exact50) / exact50).toBeLessThanOrEqual(0.015);
    // Averaging per-worker p99s is not the fleet p99 when workers differ.
    expect(Math.abs(promAvg - exact99) / exact99).toBeGreaterThan(0.05);

    // What the exporters read: the primary's snapshot holds the fleet.
    const snap = monitor.snapshot();
    const timer = snap.series.find((s) => s.name === 'api.latency');
    expect(timer?.type === 'timer' && timer.windows[0]!.count).toBe(WORKERS * VALUES_PER_WORKER);
    const digest = timer?.type === 'timer' ? timer.windows[0]!.digest : undefined;
    expect(Math.abs(digest!.quantile(0.99) - exact99) / exact99).toBeLessThanOrEqual(0.01);
    const requests = snap.series.find((s) => s.name === 'api.requests');
    expect(requests?.type === 'counter' && requests.total).toBe(WORKERS * VALUES_PER_WORKER);
    const gauge = (name: string): number | undefined => {
      const s = snap.series.find((x) => x.name === name);
      return s?.type === 'gauge' ? s.value : undefined;
    };
    expect(gauge('api.connections')).toBe(10 + 11 + 12 + 13); // default rule: sum
    expect(gauge('api.peak')).toBe(400); // 'max'
    // health() and analytics() read the same registry.
    // 200,000 timer samples and 200,000 counter increments, all from the workers.
    expect(monitor.health().recent_performance.total_metrics).toBe(2 * WORKERS * VALUES_PER_WORKER);
    const summary = monitor.analytics({ component: 'api' }).summary;
    expect(summary.total_requests).toBe(WORKERS * VALUES_PER_WORKER);
    let exactSum = 0;
    for (const v of all) exactSum += v;
    expect(summary.average_response_time).toBeCloseTo(exactSum / all.length, 0);
    const stats = aggregation.stats();
    expect(stats.workers).toEqual({ live: 0, exited: WORKERS });
    expect(stats.rejectedEntries).toBe(0);
    expect(stats.lostMessages).toBe(0);
  }, 60_000);
});

describe('clusterAggregation with child_process.fork children', () => {
  it('attach(child) merges what forked workers send', async () => {
    const monitor = monitorAt();
    const aggregation = clusterAggregation(monitor, { role: 'primary' });
    open.push(
      () => aggregation.stop(),
      () => monitor.shutdown(),
    );
    const exits: Promise<void>[] = [];
    for (let i = 0; i < 2; i++) {
      const worker = fork(child, [], {
        execArgv: ['--conditions=@prsm/source', '--import', 'tsx'],
        env: { ...process.env, PRSM_WORKER_INDEX: String(i), PRSM_CLUSTER_ROLE: 'worker' },
      });
      aggregation.attach(worker);
      exits.push(new Promise((resolve) => worker.once('exit', () => resolve())));
    }
    await Promise.all(exits);
    const all = new Float64Array(2 * VALUES_PER_WORKER);
    for (let i = 0; i < 2; i++) all.set(workerValues(i), i * VALUES_PER_WORKER);
    const exact99 = exactQuantile(all, 0.99);
    const [p99] = monitor.getPercentiles('api.latency', [0.99], {
      component: 'api',
      tags: { route: '/x' },
    });
    expect(Math.abs(p99! - exact99) / exact99).toBeLessThanOrEqual(0.01);
    expect(aggregation.stats()).toMatchObject({
      role: 'primary',
      workers: { live: 0, exited: 2 },
      rejectedEntries: 0,
    });
  }, 60_000);
});

/** Worker and primary in one process, the IPC hop replaced by a JSON round trip. */
function pair(
  options: { maxMessageBytes?: number; maxBytesPerInterval?: number; retentionMs?: number } = {},
): {
  clock: ManualClock;
  worker: Monitor;
  primary: Monitor;
  sender: ClusterWorkerSender;
  receiver: ClusterPrimaryReceiver;
  messages: WireMessage[];
} {
  const clock = new ManualClock(START_MS);
  const worker = monitorAt(clock);
  const primary = monitorAt(clock);
  const receiver = new ClusterPrimaryReceiver(
    primary,
    { peak: 'max', latest: 'last' },
    'sum',
    options.retentionMs ?? 900_000,
  );
  const messages: WireMessage[] = [];
  const sender = new ClusterWorkerSender(
    worker,
    (message, done) => {
      messages.push(message);
      receiver.receive(JSON.parse(JSON.stringify(message)));
      done(null);
    },
    {
      maxMessageBytes: options.maxMessageBytes ?? 262_144,
      maxBytesPerInterval: options.maxBytesPerInterval ?? 16 * 1024 * 1024,
    },
  );
  open.push(
    () => worker.shutdown(),
    () => primary.shutdown(),
  );
  return { clock, worker, primary, sender, receiver, messages };
}

// These tests replace the IPC channel with a JSON round trip in one process, to
// drive the clock; the fork test above covers the real channel.
describe('cluster deltas', () => {
  it('sends counter increases and closed sub-windows once each', () => {
    const { clock, worker, primary, sender } = pair();
    const c = worker.counter('jobs').bind();
    const t = worker.timer('op').bind();
    c.inc(3);
    t.record(5);
    sender.flush();
    // Nothing closed yet: the timer's open sub-window waits; the counter went.
    expect(primary.getRates('jobs', { windowSeconds: 60 })?.count).toBe(3);
    expect(primary.getStats('op', { windowSeconds: 60 })).toBeUndefined();
    clock.advance(60_000);
    c.inc(2);
    sender.flush();
    sender.flush(); // nothing new: nothing counted twice
    expect(primary.snapshot().series.find((s) => s.name === 'jobs')).toMatchObject({ total: 5 });
    expect(primary.getStats('op', { windowSeconds: 60 })?.count).toBe(1);
    t.record(7);
    sender.flush(true);
    expect(primary.getStats('op', { windowSeconds: 60 })).toMatchObject({ count: 2, max: 7 });
    t.record(9);
    expect(sender.flush()).toBe(0); // after the final flush nothing more goes
    // The worker is gone: what it sent stays in the primary's windows until they pass.
    clock.advance(60_000);
    expect(primary.getStats('op', { windowSeconds: 60 })?.count).toBe(2);
    clock.advance(120_000);
    expect(primary.getStats('op', { windowSeconds: 60 })?.count).toBe(0);
    expect(primary.getStats('op', { windowSeconds: 'cumulative' })?.count).toBe(2);
  });

  it('keeps a silent worker gauge until the retention passes, then stops reporting it', () => {
    const { clock, worker, primary, sender, receiver } = pair({ retentionMs: 300_000 });
    worker.gauge('conns').set(4);
    worker.gauge('peak').set(9);
    sender.flush();
    // A second worker, by pid.
    receiver.receive({
      prsm: 'prsm.cluster/1',
      pid: 424242,
      seq: 0,
      entries: [
        { t: 'g', n: 'conns', c: 'default', g: {}, v: 6 },
        { t: 'g', n: 'peak', c: 'default', g: {}, v: 3 },
      ],
    });
    const gauge = (name: string): number | undefined => {
      const s = primary.snapshot().series.find((x) => x.name === name);
      return s?.type === 'gauge' ? s.value : undefined;
    };
    expect(gauge('conns')).toBe(10);
    expect(gauge('peak')).toBe(9);
    receiver.exited(424242);
    clock.advance(200_000);
    sender.flush(); // the first worker is alive (a heartbeat)
    receiver.sweep();
    expect(gauge('conns')).toBe(10);
    clock.advance(200_000);
    receiver.sweep();
    expect(gauge('conns')).toBe(4);
    expect(receiver.workers()).toEqual({ live: 1, exited: 0 });
  });

  it('combines the monitor resource gauges by their built-in rules', () => {
    const { primary, receiver } = pair();
    for (const [pid, cpu, rss] of [
      [1, 0.5, 100],
      [2, 0.7, 200],
    ] as const) {
      receiver.receive({
        prsm: 'prsm.cluster/1',
        pid,
        seq: 0,
        entries: [
          { t: 'g', n: 'cpu_usage', c: 'system', g: {}, v: cpu },
          { t: 'g', n: 'process_memory_rss', c: 'system', g: {}, u: 'By', v: rss },
        ],
      });
    }
    const values = Object.fromEntries(
      primary
        .snapshot()
        .series.filter((s) => s.type === 'gauge')
        .map((s) => [s.name, s.type === 'gauge' ? s.value : NaN]),
    );
    expect(values).toMatchObject({ cpu_usage: 0.7, process_memory_rss: 300 });
  });

  it('bounds message size and counts drops; a deferred counter is not lost', () => {
    const { worker, primary, sender, messages } = pair({
      maxMessageBytes: 16_384,
      maxBytesPerInterval: 20_000,
    });
    for (let i = 0; i < 400; i++)
      worker
        .counter('c')
        .bind({ i: String(i) })
        .inc(1);
    sender.flush();
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(JSON.stringify(m).length).toBeLessThan(16_384 * 1.5);
    const dropped = sender.counts.droppedEntries;
    expect(dropped).toBeGreaterThan(0);
    expect(worker.diagnostics.count('PRSM_EXPORT_DROPPED')).toBeGreaterThan(0);
    for (let k = 0; k < 10; k++) sender.flush();
    const total = primary
      .snapshot()
      .series.filter((s) => s.name === 'c')
      .reduce((sum, s) => sum + (s.type === 'counter' ? s.total : 0), 0);
    expect(total).toBe(400);
  });

  it('stops queueing when the primary does not read: unwritten messages are bounded', () => {
    const clock = new ManualClock(START_MS);
    const worker = monitorAt(clock);
    open.push(() => worker.shutdown());
    let handed = 0;
    // A channel that never completes a write (a primary that stopped reading).
    const sender = new ClusterWorkerSender(worker, () => void handed++, {
      maxMessageBytes: 262_144,
      maxBytesPerInterval: 16 * 1024 * 1024,
    });
    const c = worker.counter('c').bind();
    for (let i = 0; i < 100; i++) {
      c.inc();
      sender.flush();
    }
    expect(handed).toBe(64);
    expect(sender.counts.failedMessages).toBe(36);
    expect(sender.counts.droppedEntries).toBe(36);
  });

  it('refuses malformed entries, counts them, and never throws', () => {
    const { primary, receiver } = pair();
    receiver.receive({
      prsm: 'prsm.cluster/1',
      pid: 7,
      seq: 0,
      entries: [
        { t: 'c', n: 'x', c: 'default', g: {}, v: -1 },
        { t: 'h', n: 'h', c: 'default', g: {}, w: [[0, 5, 1, 1, 1, 0, 'AAAA']] },
        { t: 'h', n: 'h', c: 'default', g: {}, w: [[0, 5, 1, 1, 1, 0, '']] },
        null,
        { t: 'c', n: 'ok', c: 'default', g: {}, v: 1 },
      ],
    });
    receiver.receive({ prsm: 'prsm.cluster/1', pid: 7, seq: 3, entries: [] });
    expect(receiver.counts).toMatchObject({ entries: 1, rejectedEntries: 4, lostMessages: 2 });
    expect(primary.diagnostics.count('PRSM_EXPORT_DROPPED')).toBe(1);
    expect(receiver.receive('not ours')).toBe(false);
  });

  it('checks its options', () => {
    const monitor = monitorAt();
    open.push(() => monitor.shutdown());
    expect(() => clusterAggregation(monitor, { role: 'boss' as 'auto' })).toThrow(TypeError);
    expect(() => clusterAggregation(monitor, { maxMessageBytes: 10 })).toThrow(/maxMessageBytes/);
    expect(() => clusterAggregation(monitor, { gauges: { a: 'avg' as 'sum' } })).toThrow(
      /gauges\.a/,
    );
  });
});
