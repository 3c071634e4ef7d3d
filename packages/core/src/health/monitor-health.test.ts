/**
 * `monitor.health()`, `monitor.tasks`, `monitor.database` and `monitor.resources` as
 * the Monitor wires them (the pieces are tested on their own beside this file).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import { cpu, FixedProbes, statfsOf } from './test-support.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30);
const monitors: Monitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function setup(options: ConstructorParameters<typeof Monitor>[0] = {}): {
  monitor: Monitor;
  clock: ManualClock;
  probes: FixedProbes;
} {
  const clock = new ManualClock(T0);
  const probes = new FixedProbes();
  probes.cpus = [cpu(100, 900)];
  const monitor = new Monitor({
    clock,
    alerting: { evaluationIntervalSeconds: 0 },
    health: { resources: { diskPaths: ['/'], probes: probes.probes() } },
    ...options,
  });
  monitors.push(monitor);
  return { monitor, clock, probes };
}

describe('Monitor health', () => {
  it('reports the spec object from the monitor’s own resources, metrics, tasks and alerts', async () => {
    const { monitor, clock, probes } = setup();
    await monitor.resources!.sample();
    probes.cpus = [cpu(100 + 850, 900 + 150)]; // 85% busy since the last sample
    probes.total = 100;
    probes.free = 10; // 90% memory
    probes.disks.set('/', statfsOf(50, 50));
    await monitor.resources!.sample();
    const api = monitor.timer('http.request', { component: 'api' }).bind();
    for (let i = 0; i < 95; i++) api.record(100);
    for (let i = 0; i < 5; i++) api.recordError(200);
    let report = monitor.health();
    expect(Object.keys(report).sort()).toEqual(
      [
        'active_alerts',
        'monitoring_status',
        'overall_health_score',
        'recent_performance',
        'system_metrics',
        'timestamp',
      ].sort(),
    );
    expect(report.system_metrics).toMatchObject({
      cpu_usage: 85,
      memory_usage: 90,
      disk_usage: 50,
    });
    expect(report.recent_performance).toMatchObject({ total_metrics: 100, error_count: 5 });
    // 100 − CPU 7.5 − memory 7.5 − errors 12.5.
    expect(report.overall_health_score).toBe(72.5);
    expect(report.timestamp).toBe(new Date(T0).toISOString());

    // A task that misses its heartbeat costs 5 and stops "background tasks running".
    monitor.tasks.register('indexer', { expectedIntervalMs: 1000 });
    clock.advance(2000);
    report = monitor.health();
    expect(report.overall_health_score).toBe(67.5);
    expect(report.monitoring_status.background_tasks_running).toBe(false);

    // A firing alert (high: 10) is listed and scored; its rule reads the sampled gauge.
    monitor.alerts.create({
      name: 'cpu hot',
      severity: 'high',
      component: 'api',
      condition: 'cpu_usage > 80%',
    });
    monitor.alerts.evaluate();
    report = monitor.health();
    expect(report.active_alerts).toHaveLength(1);
    expect(report.active_alerts[0]).toMatchObject({ severity: 'high', component: 'api' });
    expect(report.monitoring_status.configured_alerts).toBe(1);
    expect(report.overall_health_score).toBe(57.5);
  });

  it('times database statements and reads pools through monitor.database', async () => {
    const { monitor } = setup();
    const rows = await monitor.database.track('orders.by_id', () => Promise.resolve([1, 2]));
    expect(rows).toEqual([1, 2]);
    await expect(
      monitor.database.track('orders.by_id', () => Promise.reject(new Error('deadlock'))),
    ).rejects.toThrow('deadlock');
    const stats = monitor.getStats('db.query', {
      component: 'database',
      tags: { statement: 'orders.by_id' },
    });
    expect(stats).toMatchObject({ count: 2, errors: 1 });
    monitor.database.observePool('main', () => ({ total: 9, idle: 1, waiting: 0, max: 10 }));
    await monitor.resources!.sample(); // pools are read on each sample
    monitor.alerts.create({
      name: 'pool nearly full',
      severity: 'medium',
      component: 'database',
      condition: 'db_connections > 0.80 * max_connections',
    });
    monitor.alerts.evaluate();
    expect(monitor.alerts.active().map((a) => a.name)).toEqual(['pool nearly full']);
  });

  it('health metric families do not take the user’s maxMetrics', () => {
    const { monitor } = setup({ maxMetrics: 2 });
    monitor.tasks.register('indexer', { expectedIntervalMs: 1000 });
    monitor.counter('orders').inc();
    monitor.counter('refunds').inc();
    expect(monitor.snapshot().series.map((s) => s.name)).toEqual(
      expect.arrayContaining(['orders', 'refunds', 'task.run', 'network_io.bytes_sent']),
    );
    expect(monitor.diagnostics.counts()['PRSM_METRIC_LIMIT']).toBeUndefined();
  });

  it('samples resources by default only with the system clock; shutdown stops the sampler', async () => {
    const manual = new Monitor({ clock: new ManualClock(T0) });
    monitors.push(manual);
    expect(manual.resources).toBeUndefined();
    expect(manual.health().system_metrics.cpu_usage).toBe(0);
    const real = new Monitor();
    expect(real.resources?.running).toBe(true);
    await real.shutdown();
    expect(real.resources?.running).toBe(false);
  });

  it('rejects bad health options with a TypeError naming them', () => {
    expect(() => new Monitor({ health: 5 as never })).toThrow('health must be an object');
    expect(() => new Monitor({ health: { resources: 'yes' as never } })).toThrow(
      'health.resources must be a boolean or an object',
    );
    expect(() => new Monitor({ health: { windowSeconds: 5000 } })).toThrow(
      /^health\.windowSeconds/,
    );
    expect(
      () => new Monitor({ clock: new ManualClock(T0), health: { tasks: { maxTasks: 0 } } }),
    ).toThrow(/^health\./);
  });
});
