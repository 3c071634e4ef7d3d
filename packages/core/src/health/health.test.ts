import { existsSync, readFileSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { ManualClock } from '../clock/clock.js';
import { DiagnosticCode, Diagnostics } from '../diagnostics/diagnostics.js';
import type { Monitor } from '../monitor.js';
import { DatabaseMonitor } from './database.js';
import {
  computeHealthScore,
  HEALTH_SCORE_WEIGHTS,
  type HealthAlertSource,
  HealthReporter,
  type HealthScoreInputs,
  healthScorePenalties,
  type HealthSources,
} from './health.js';
import { readRecentPerformance, type RecentPerformance } from './recent.js';
import { ResourceSampler } from './resources.js';
import { TaskRegistry } from './tasks.js';
import { cpu, familiesReader, FixedProbes, healthMonitor, statfsOf, T0 } from './test-support.js';

/** The spec's `GET /api/v1/monitoring/health` example, as the spec prints it. */
const SPEC_EXAMPLE = {
  overall_health_score: 87.5,
  system_metrics: {
    cpu_usage: 45.2,
    memory_usage: 68.1,
    disk_usage: 23.7,
    network_io: {
      bytes_sent: 1048576000,
      bytes_recv: 2097152000,
    },
    last_updated: '2024-01-15T14:30:00Z',
  },
  recent_performance: {
    total_metrics: 45230,
    metrics_per_minute: 1250,
    error_count: 23,
    performance_average: 150.0,
  },
  active_alerts: [
    {
      alert_id: 'alert_uuid',
      name: 'Database Connection Pool Warning',
      severity: 'medium',
      component: 'database',
      triggered_at: '2024-01-15T14:25:00Z',
    },
  ],
  monitoring_status: {
    metrics_collected: 45230,
    active_traces: 12,
    configured_alerts: 35,
    background_tasks_running: true,
  },
  timestamp: '2024-01-15T14:30:00Z',
};

const SPEC_PATH = '/work/shared/spec/monitoring-system.md';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/;

/** Every key of `expected` is in `actual` with the same JSON type, and nothing else is. */
function shapeDifferences(expected: unknown, actual: unknown, path = '$'): string[] {
  const kind = (v: unknown): string =>
    Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
  if (kind(expected) !== kind(actual))
    return [`${path}: ${kind(expected)} expected, got ${kind(actual)}`];
  if (Array.isArray(expected) && Array.isArray(actual)) {
    return actual.flatMap((item, i) => shapeDifferences(expected[0], item, `${path}[${i}]`));
  }
  if (kind(expected) !== 'object') {
    if (typeof expected === 'string' && ISO.test(expected) && !ISO.test(actual as string)) {
      return [`${path}: an ISO 8601 time expected, got ${String(actual)}`];
    }
    if (typeof actual === 'number' && !Number.isFinite(actual)) return [`${path}: not finite`];
    return [];
  }
  const e = expected as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  const out: string[] = [];
  for (const key of Object.keys(e)) {
    if (!(key in a)) out.push(`${path}.${key}: missing`);
    else out.push(...shapeDifferences(e[key], a[key], `${path}.${key}`));
  }
  for (const key of Object.keys(a)) if (!(key in e)) out.push(`${path}.${key}: not in the spec`);
  return out;
}

const CALM: HealthScoreInputs = {
  cpuUsage: 0.2,
  memoryUsage: 0.3,
  diskUsage: 0.4,
  errorRate: 0,
  unhealthyTasks: 0,
  firingAlerts: {},
};

describe('the health score formula', () => {
  it('is 100 with nothing wrong, and NaN (unmeasured) inputs cost nothing', () => {
    expect(computeHealthScore(CALM)).toBe(100);
    expect(
      computeHealthScore({
        ...CALM,
        cpuUsage: NaN,
        memoryUsage: NaN,
        diskUsage: NaN,
        errorRate: NaN,
      }),
    ).toBe(100);
  });

  it('resource pressure costs nothing to its threshold, then linearly to its weight at 100%', () => {
    const score = (patch: Partial<HealthScoreInputs>): number =>
      computeHealthScore({ ...CALM, ...patch });
    expect(score({ cpuUsage: 0.7 })).toBe(100);
    expect(score({ cpuUsage: 0.85 })).toBe(92.5);
    expect(score({ cpuUsage: 1 })).toBe(85);
    expect(score({ cpuUsage: 1.5 })).toBe(85); // out-of-range readings clamp
    expect(score({ memoryUsage: 0.8 })).toBe(100);
    expect(score({ memoryUsage: 0.9 })).toBe(92.5);
    expect(score({ memoryUsage: 1 })).toBe(85);
    expect(score({ diskUsage: 0.9 })).toBe(95);
    expect(score({ diskUsage: 1 })).toBe(90);
  });

  it('the error rate costs 25 points at 10% and beyond, proportionally below', () => {
    const score = (errorRate: number): number => computeHealthScore({ ...CALM, errorRate });
    expect(score(0.01)).toBe(97.5);
    expect(score(0.05)).toBe(87.5);
    expect(score(0.1)).toBe(75);
    expect(score(0.9)).toBe(75);
  });

  it('unhealthy tasks cost 5 each, at most 15', () => {
    const score = (unhealthyTasks: number): number =>
      computeHealthScore({ ...CALM, unhealthyTasks });
    expect([0, 1, 2, 3, 4, 100].map(score)).toEqual([100, 95, 90, 85, 85, 85]);
  });

  it('firing alerts cost by severity (critical 20, high 10, medium 5, low 2, info 0), at most 40', () => {
    const score = (firingAlerts: HealthScoreInputs['firingAlerts']): number =>
      computeHealthScore({ ...CALM, firingAlerts });
    expect(score({ critical: 1 })).toBe(80);
    expect(score({ high: 1 })).toBe(90);
    expect(score({ medium: 1 })).toBe(95);
    expect(score({ low: 1 })).toBe(98);
    expect(score({ info: 5 })).toBe(100);
    expect(score({ high: 1, medium: 2, low: 1 })).toBe(78);
    expect(score({ critical: 3 })).toBe(60);
    expect(HEALTH_SCORE_WEIGHTS.alerts.max).toBe(40);
  });

  it('adds the penalties, clamps at 0 and rounds to one decimal', () => {
    const worst: HealthScoreInputs = {
      cpuUsage: 1,
      memoryUsage: 1,
      diskUsage: 1,
      errorRate: 1,
      unhealthyTasks: 10,
      firingAlerts: { critical: 10 },
    };
    const penalties = healthScorePenalties(worst);
    const maxima = { cpu: 15, memory: 15, disk: 10, errorRate: 25, tasks: 15, alerts: 40 };
    for (const [key, points] of Object.entries(maxima)) {
      expect(penalties[key as keyof typeof maxima]).toBeCloseTo(points, 9);
    }
    expect(computeHealthScore(worst)).toBe(0);
    expect(
      computeHealthScore({
        cpuUsage: 0.85,
        memoryUsage: 0.5,
        diskUsage: 0.3,
        errorRate: 0.05,
        unhealthyTasks: 1,
        firingAlerts: { high: 1 },
      }),
    ).toBe(65);
    expect(computeHealthScore({ ...CALM, cpuUsage: 0.7001 })).toBe(100); // 99.995 → 100.0
    expect(computeHealthScore({ ...CALM, cpuUsage: 0.71 })).toBe(99.5);
  });

  it('stays within 0..100, and raising any input never raises the score (random inputs)', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const keys = ['cpuUsage', 'memoryUsage', 'diskUsage', 'errorRate', 'unhealthyTasks'] as const;
    for (let i = 0; i < 2000; i++) {
      const inputs: HealthScoreInputs = {
        cpuUsage: rand() * 1.2,
        memoryUsage: rand(),
        diskUsage: rand(),
        errorRate: rand() * 0.2,
        unhealthyTasks: Math.floor(rand() * 5),
        firingAlerts: {
          critical: Math.floor(rand() * 2),
          high: Math.floor(rand() * 3),
          low: Math.floor(rand() * 4),
        },
      };
      const s = computeHealthScore(inputs);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(100);
      const key = keys[i % keys.length]!;
      const worse = { ...inputs, [key]: inputs[key] + rand() };
      expect(computeHealthScore(worse)).toBeLessThanOrEqual(s);
      const moreAlerts = { ...inputs, firingAlerts: { ...inputs.firingAlerts, medium: 1 } };
      expect(computeHealthScore(moreAlerts)).toBeLessThanOrEqual(s);
    }
  });
});

function alert(
  severity: HealthAlertSource['severity'],
  state: 'pending' | 'firing',
  at: number,
  name = `${severity} alert`,
): HealthAlertSource {
  return {
    alertId: `id-${name}`,
    name,
    severity,
    component: 'database',
    state,
    activeAt: at - 60_000,
    ...(state === 'firing' && { triggeredAt: at }),
  };
}

function fixedSources(patch: Partial<HealthSources> = {}): HealthSources {
  const recent: RecentPerformance = {
    totalMetrics: 45230,
    metricsPerMinute: 1250,
    errorCount: 23,
    errorRate: 23 / 45230,
    performanceAverage: 150,
    metricsCollected: 90000,
  };
  return {
    recentPerformance: () => recent,
    activeAlerts: () => [],
    activeTraces: () => 12,
    configuredAlerts: () => 35,
    ...patch,
  };
}

describe('HealthReporter', () => {
  it('reports the spec’s object, key by key and type by type', async () => {
    const clock = new ManualClock(T0);
    const h = healthMonitor();
    const fixed = new FixedProbes();
    fixed.cpus = [cpu(452, 548)];
    fixed.total = 1000;
    fixed.free = 319;
    fixed.disks.set('/', statfsOf(237, 763));
    const sampler = new ResourceSampler(h.context, { diskPaths: ['/'], probes: fixed.probes() });
    await sampler.sample();
    const reporter = new HealthReporter({
      clock,
      diagnostics: new Diagnostics(),
      sources: fixedSources({
        activeAlerts: () => [
          alert('medium', 'firing', T0 - 5 * 60_000, 'Database Connection Pool Warning'),
        ],
      }),
      resources: sampler,
    });
    const report = reporter.report();
    expect(shapeDifferences(SPEC_EXAMPLE, report)).toEqual([]);
    expect(shapeDifferences(SPEC_EXAMPLE, JSON.parse(JSON.stringify(report)))).toEqual([]);
    expect(report).toEqual({
      // 100 − 5 (a medium alert) − 25 × 0.0005 / 0.1 (the error rate) = 94.87
      overall_health_score: 94.9,
      system_metrics: {
        cpu_usage: 45.2,
        memory_usage: 68.1,
        disk_usage: 23.7,
        network_io: { bytes_sent: 1200, bytes_recv: 2300 },
        last_updated: '2024-01-15T14:30:00.000Z',
      },
      recent_performance: {
        total_metrics: 45230,
        metrics_per_minute: 1250,
        error_count: 23,
        performance_average: 150,
      },
      active_alerts: [
        {
          alert_id: 'id-Database Connection Pool Warning',
          name: 'Database Connection Pool Warning',
          severity: 'medium',
          component: 'database',
          triggered_at: '2024-01-15T14:25:00.000Z',
        },
      ],
      monitoring_status: {
        metrics_collected: 90000,
        active_traces: 12,
        configured_alerts: 35,
        background_tasks_running: false, // the sampler was never started
      },
      timestamp: '2024-01-15T14:30:00.000Z',
    });
    await h.monitor.shutdown();
  });

  it.runIf(existsSync(SPEC_PATH))(
    'the example above is the spec’s, as the spec file prints it',
    () => {
      const text = readFileSync(SPEC_PATH, 'utf8');
      const section = text.slice(text.indexOf('#### `GET /api/v1/monitoring/health`'));
      const json = section.slice(
        section.indexOf('```json') + 7,
        section.indexOf('```', section.indexOf('```json') + 7),
      );
      expect(JSON.parse(json)).toEqual(SPEC_EXAMPLE);
    },
  );

  it('lists and scores firing alerts only, most severe first', () => {
    const reporter = new HealthReporter({
      clock: new ManualClock(T0),
      diagnostics: new Diagnostics(),
      sources: fixedSources({
        recentPerformance: () => ({ ...fixedSources().recentPerformance(), errorRate: 0 }),
        activeAlerts: () => [
          alert('low', 'firing', T0 - 1000),
          alert('critical', 'pending', T0),
          alert('high', 'firing', T0 - 2000),
          alert('high', 'firing', T0 - 5000, 'older high'),
        ],
      }),
    });
    const report = reporter.report();
    expect(report.active_alerts.map((a) => a.name)).toEqual([
      'older high',
      'high alert',
      'low alert',
    ]);
    expect(report.overall_health_score).toBe(100 - 10 - 10 - 2);
    expect(report.active_alerts[0]!.triggered_at).toBe(new Date(T0 - 5000).toISOString());
  });

  it('reads 0 for unsampled resources, and "now" for last_updated, before any sample', () => {
    const reporter = new HealthReporter({
      clock: new ManualClock(T0),
      diagnostics: new Diagnostics(),
      sources: fixedSources(),
    });
    const report = reporter.report();
    expect(report.system_metrics).toEqual({
      cpu_usage: 0,
      memory_usage: 0,
      disk_usage: 0,
      network_io: { bytes_sent: 0, bytes_recv: 0 },
      last_updated: '2024-01-15T14:30:00.000Z',
    });
    expect(report.monitoring_status.background_tasks_running).toBe(true);
  });

  it('a failing source is reported and reads as empty; the report still comes', () => {
    const diagnostics = new Diagnostics();
    const boom = (): never => {
      throw new Error('broken');
    };
    const reporter = new HealthReporter({
      clock: new ManualClock(T0),
      diagnostics,
      sources: {
        recentPerformance: boom,
        activeAlerts: boom,
        activeTraces: boom,
        configuredAlerts: boom,
      },
      resources: { latest: boom, running: true },
      tasks: { counts: boom },
    });
    const report = reporter.report();
    expect(diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(6);
    expect(shapeDifferences({ ...SPEC_EXAMPLE, active_alerts: [] }, report)).toEqual([]);
    expect(report.overall_health_score).toBe(100);
    expect(report.recent_performance.total_metrics).toBe(0);
  });
});

describe('health() over a real Monitor: resources, tasks, database and alerts together', () => {
  const monitors: Monitor[] = [];
  afterEach(async () => {
    await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
  });

  it('each health input moves the report the documented way', async () => {
    const { monitor, clock, context } = healthMonitor();
    monitors.push(monitor);
    const tasks = new TaskRegistry(context);
    const database = new DatabaseMonitor(context);
    const fixed = new FixedProbes();
    fixed.cpus = [cpu(100, 900)];
    fixed.total = 100;
    fixed.free = 50;
    const sampler = new ResourceSampler(
      {
        ...context,
        onSample: () => {
          tasks.refresh();
          database.samplePools();
        },
      },
      { diskPaths: ['/'], probes: fixed.probes() },
    );
    // The service's own measurements, as recorded through a family reader (what the
    // Monitor hands its alert engine).
    const { reader, family } = familiesReader(clock);
    const requests = family('http.request', 'timer');
    const reporter = new HealthReporter({
      clock,
      diagnostics: monitor.diagnostics,
      sources: {
        recentPerformance: () => readRecentPerformance(reader, 300, clock.now()),
        activeAlerts: () => monitor.alerts.active(),
        activeTraces: () => monitor.traces.stats().traces,
        configuredAlerts: () => monitor.alerts.list().length,
      },
      resources: sampler,
      tasks,
    });
    sampler.start();
    await sampler.sample();
    expect(reporter.report()).toMatchObject({
      overall_health_score: 100,
      monitoring_status: { background_tasks_running: true, configured_alerts: 0 },
    });

    // CPU pressure: 85% busy costs 7.5.
    fixed.cpus = [cpu(100 + 850, 900 + 150)];
    await sampler.sample();
    expect(reporter.report().overall_health_score).toBe(92.5);
    expect(reporter.report().system_metrics.cpu_usage).toBe(85);

    // Errors: 5% of requests costs 12.5.
    const ok = requests.resolve('api', {}, undefined) as unknown as {
      record(v: number): void;
      recordError(v: number): void;
    };
    for (let i = 0; i < 95; i++) ok.record(100);
    for (let i = 0; i < 5; i++) ok.recordError(200);
    let report = reporter.report();
    expect(report.recent_performance).toMatchObject({
      total_metrics: 100,
      error_count: 5,
      performance_average: 105,
    });
    expect(report.overall_health_score).toBe(80);

    // A stale task: 5 more, and background_tasks_running turns false. (The CPU is
    // sampled again with the same times: no delta, so it reads as since boot, 47.5%.)
    tasks.register('indexer', { expectedIntervalMs: 1000 });
    clock.advance(2000);
    await sampler.sample();
    report = reporter.report();
    expect(report.system_metrics.cpu_usage).toBe(47.5);
    expect(report.overall_health_score).toBe(100 - 12.5 - 5);
    expect(report.monitoring_status.background_tasks_running).toBe(false);

    // The spec's pool alert firing: medium, 5 more.
    database.observePool('primary', () => ({ total: 9, idle: 0, waiting: 2, max: 10 }));
    monitor.alerts.create({
      name: 'Database Connection Pool Warning',
      severity: 'medium',
      component: 'database',
      condition: 'db_connections > 0.80 * max_connections',
    });
    monitor.alerts.evaluate();
    report = reporter.report();
    expect(report.active_alerts).toEqual([
      expect.objectContaining({
        name: 'Database Connection Pool Warning',
        severity: 'medium',
        component: 'database',
      }),
    ]);
    expect(report.monitoring_status.configured_alerts).toBe(1);
    expect(report.overall_health_score).toBe(100 - 12.5 - 5 - 5);
    expect(shapeDifferences(SPEC_EXAMPLE, report)).toEqual([]);

    // Recovery: the task beats, the pool drains, CPU calms; the errors age out of the window.
    tasks.get('indexer')!.heartbeat();
    clock.advance(6 * 60_000);
    tasks.get('indexer')!.heartbeat();
    fixed.cpus = [cpu(100 + 850 + 100, 900 + 150 + 900)];
    database.observePool('primary', () => ({ total: 2, idle: 2, waiting: 0, max: 10 }));
    await sampler.sample();
    monitor.alerts.evaluate();
    report = reporter.report();
    expect(report.active_alerts).toEqual([]);
    expect(report.recent_performance.total_metrics).toBe(0);
    expect(report.overall_health_score).toBe(100);
    expect(report.monitoring_status.background_tasks_running).toBe(true);
    sampler.stop();
    expect(reporter.report().monitoring_status.background_tasks_running).toBe(false);
  });
});
