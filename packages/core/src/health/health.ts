/**
 * The spec's `GET /health` object and its `overall_health_score`: a pure scoring
 * function over resource pressure, the error rate, unhealthy background tasks and
 * firing alerts by severity, and the reporter that gathers its inputs.
 */
import type { AlertSeverity } from '../alerting/notification.js';
import type { Alert } from '../alerting/types.js';
import type { Clock } from '../clock/clock.js';
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';
import type { RecentPerformance } from './recent.js';
import type { ResourceSampler } from './resources.js';
import type { TaskRegistry } from './tasks.js';
import type {
  HealthActiveAlert,
  HealthRecentPerformance,
  HealthReport,
  HealthSystemMetrics,
} from './types.js';
import { messageOf } from './types.js';

/**
 * What the health score is computed from. Fractions are 0..1; a NaN (not measured)
 * costs nothing.
 *
 * @example
 * ```ts
 * const inputs: HealthScoreInputs = {
 *   cpuUsage: 0.45, memoryUsage: 0.68, diskUsage: 0.24,
 *   errorRate: 0.002, unhealthyTasks: 0, firingAlerts: { medium: 1 },
 * };
 * computeHealthScore(inputs); // 95
 * ```
 */
export interface HealthScoreInputs {
  /** The machine's CPU busy fraction. */
  readonly cpuUsage: number;
  /** The machine's memory in use, fraction. */
  readonly memoryUsage: number;
  /** The fullest watched file system, fraction. */
  readonly diskUsage: number;
  /** Errors over samples of the recent window, 0..1. */
  readonly errorRate: number;
  /** Background tasks that missed their heartbeat or whose queue is past its bound. */
  readonly unhealthyTasks: number;
  /** Firing alerts by severity (pending ones do not count). */
  readonly firingAlerts: Readonly<Partial<Record<AlertSeverity, number>>>;
}

/**
 * The score's weights: what each input can cost at most, and from where.
 *
 * - Resource pressure: nothing up to `threshold`, then linearly up to `weight` at
 *   100%: `weight × (u − threshold) / (1 − threshold)`. CPU from 70% (15 points),
 *   memory from 80% (15), disk from 80% (10).
 * - Error rate: `25 × min(1, errorRate / 0.10)`: 10% errors (the spec's critical
 *   threshold) or more costs all 25.
 * - Unhealthy tasks: 5 each, at most 15.
 * - Firing alerts: critical 20, high 10, medium 5, low 2, info 0 each, at most 40 in all.
 *
 * The score is `100 − the sum`, clamped to 0..100 and rounded to one decimal.
 *
 * @example
 * ```ts
 * HEALTH_SCORE_WEIGHTS.alerts.critical; // 20
 * ```
 */
export const HEALTH_SCORE_WEIGHTS: HealthScoreWeights = Object.freeze({
  cpu: Object.freeze({ threshold: 0.7, weight: 15 }),
  memory: Object.freeze({ threshold: 0.8, weight: 15 }),
  disk: Object.freeze({ threshold: 0.8, weight: 10 }),
  errorRate: Object.freeze({ saturatesAt: 0.1, weight: 25 }),
  tasks: Object.freeze({ each: 5, max: 15 }),
  alerts: Object.freeze({ critical: 20, high: 10, medium: 5, low: 2, info: 0, max: 40 }),
});

/**
 * A resource's pressure weight: nothing up to `threshold`, then linearly up to
 * `weight` points at 100%.
 *
 * @example
 * ```ts
 * const cpu: ResourceWeight = HEALTH_SCORE_WEIGHTS.cpu; // { threshold: 0.7, weight: 15 }
 * ```
 */
export interface ResourceWeight {
  /** The fraction from which it costs points. */
  readonly threshold: number;
  /** The points it costs at 100%. */
  readonly weight: number;
}

/**
 * The error rate's weight: `weight` points at `saturatesAt` and beyond, linearly below.
 *
 * @example
 * ```ts
 * const e: ErrorRateWeight = HEALTH_SCORE_WEIGHTS.errorRate; // { saturatesAt: 0.1, weight: 25 }
 * ```
 */
export interface ErrorRateWeight {
  /** The error rate (0..1) that costs all the points. */
  readonly saturatesAt: number;
  /** The points. */
  readonly weight: number;
}

/**
 * The weight of unhealthy tasks: `each` points per task, at most `max`.
 *
 * @example
 * ```ts
 * const t: TaskWeight = HEALTH_SCORE_WEIGHTS.tasks; // { each: 5, max: 15 }
 * ```
 */
export interface TaskWeight {
  /** Points per unhealthy task. */
  readonly each: number;
  /** Points at most. */
  readonly max: number;
}

/**
 * The weight of firing alerts: points per alert by severity, at most `max` in all.
 *
 * @example
 * ```ts
 * const a: AlertWeight = HEALTH_SCORE_WEIGHTS.alerts; // { critical: 20, ..., max: 40 }
 * ```
 */
export interface AlertWeight {
  /** Per critical alert. */
  readonly critical: number;
  /** Per high alert. */
  readonly high: number;
  /** Per medium alert. */
  readonly medium: number;
  /** Per low alert. */
  readonly low: number;
  /** Per info alert. */
  readonly info: number;
  /** Points at most, all alerts together. */
  readonly max: number;
}

/**
 * The shape of {@link HEALTH_SCORE_WEIGHTS}.
 *
 * @example
 * ```ts
 * const w: HealthScoreWeights = HEALTH_SCORE_WEIGHTS;
 * ```
 */
export interface HealthScoreWeights {
  /** CPU pressure. */
  readonly cpu: ResourceWeight;
  /** Memory pressure. */
  readonly memory: ResourceWeight;
  /** Disk pressure. */
  readonly disk: ResourceWeight;
  /** The error rate. */
  readonly errorRate: ErrorRateWeight;
  /** Unhealthy tasks. */
  readonly tasks: TaskWeight;
  /** Firing alerts. */
  readonly alerts: AlertWeight;
}

/**
 * What each input of the score costs, in points (see {@link HEALTH_SCORE_WEIGHTS}).
 *
 * @example
 * ```ts
 * const p: HealthScorePenalties = healthScorePenalties(inputs);
 * console.log(p.cpu, p.errorRate, p.alerts);
 * ```
 */
export interface HealthScorePenalties {
  /** CPU pressure. */
  readonly cpu: number;
  /** Memory pressure. */
  readonly memory: number;
  /** Disk pressure. */
  readonly disk: number;
  /** The error rate. */
  readonly errorRate: number;
  /** Unhealthy tasks. */
  readonly tasks: number;
  /** Firing alerts. */
  readonly alerts: number;
}

function pressure(u: number, w: { readonly threshold: number; readonly weight: number }): number {
  if (!(u > w.threshold)) return 0; // NaN, or below the threshold
  return (w.weight * (Math.min(u, 1) - w.threshold)) / (1 - w.threshold);
}

function count(n: number | undefined): number {
  return typeof n === 'number' && n > 0 ? n : 0;
}

/**
 * The points each input of the score costs (see {@link HEALTH_SCORE_WEIGHTS}).
 *
 * @example
 * ```ts
 * healthScorePenalties({ ...inputs, cpuUsage: 0.85 }).cpu; // 7.5
 * ```
 */
export function healthScorePenalties(inputs: HealthScoreInputs): HealthScorePenalties {
  const W = HEALTH_SCORE_WEIGHTS;
  const e = inputs.errorRate;
  const a = inputs.firingAlerts;
  const alertPoints =
    count(a.critical) * W.alerts.critical +
    count(a.high) * W.alerts.high +
    count(a.medium) * W.alerts.medium +
    count(a.low) * W.alerts.low +
    count(a.info) * W.alerts.info;
  return {
    cpu: pressure(inputs.cpuUsage, W.cpu),
    memory: pressure(inputs.memoryUsage, W.memory),
    disk: pressure(inputs.diskUsage, W.disk),
    errorRate: e > 0 ? W.errorRate.weight * Math.min(1, e / W.errorRate.saturatesAt) : 0,
    tasks: Math.min(W.tasks.max, count(inputs.unhealthyTasks) * W.tasks.each),
    alerts: Math.min(W.alerts.max, alertPoints),
  };
}

/**
 * The spec's `overall_health_score`: 100 less the penalties of
 * {@link healthScorePenalties}, clamped to 0..100, one decimal. The weights and
 * thresholds are {@link HEALTH_SCORE_WEIGHTS}: resource pressure past 70% CPU, 80%
 * memory or 80% disk (up to 15, 15 and 10 points), the error rate (25 points at 10%),
 * unhealthy background tasks (5 each, up to 15) and firing alerts by severity
 * (critical 20, high 10, medium 5, low 2, info 0; up to 40).
 *
 * @example
 * ```ts
 * computeHealthScore({
 *   cpuUsage: 0.85, memoryUsage: 0.5, diskUsage: 0.3,
 *   errorRate: 0.05, unhealthyTasks: 1, firingAlerts: { high: 1 },
 * }); // 100 − 7.5 − 12.5 − 5 − 10 = 65
 * ```
 */
export function computeHealthScore(inputs: HealthScoreInputs): number {
  const p = healthScorePenalties(inputs);
  const score = 100 - (p.cpu + p.memory + p.disk + p.errorRate + p.tasks + p.alerts);
  return Math.round(Math.min(100, Math.max(0, score)) * 10) / 10;
}

/**
 * What the reporter reads of an active alert (an {@link Alert} fits).
 *
 * @example
 * ```ts
 * const a: HealthAlertSource = monitor.alerts.active()[0]!;
 * ```
 */
export type HealthAlertSource = Pick<
  Alert,
  'alertId' | 'name' | 'severity' | 'component' | 'state' | 'activeAt' | 'triggeredAt'
>;

/**
 * What the health report reads of the monitor, as callbacks (each is called once per
 * report; a throw is reported and its part reads as empty).
 *
 * @example
 * ```ts
 * const sources: HealthSources = {
 *   recentPerformance: () => readRecentPerformance(reader, 300, clock.now()),
 *   activeAlerts: () => monitor.alerts.active({ state: 'firing' }),
 *   activeTraces: () => monitor.traces.stats().traces,
 *   configuredAlerts: () => monitor.alerts.list().length,
 * };
 * ```
 */
export interface HealthSources {
  /** The recent window's measurements (see `readRecentPerformance`). */
  recentPerformance(): RecentPerformance;
  /** Active alerts; only firing ones are reported and scored. */
  activeAlerts(): readonly HealthAlertSource[];
  /** Traces held. */
  activeTraces(): number;
  /** Alert rules configured. */
  configuredAlerts(): number;
}

/**
 * What a {@link HealthReporter} is built with.
 *
 * @example
 * ```ts
 * const context: HealthReporterContext = {
 *   clock: monitor.clock,
 *   diagnostics: monitor.diagnostics,
 *   sources,
 *   resources: sampler,
 *   tasks: monitor.tasks,
 * };
 * ```
 */
export interface HealthReporterContext {
  /** Where the report's time comes from. */
  readonly clock: Clock;
  /** Where failing sources are reported. */
  readonly diagnostics: Diagnostics;
  /** What it reads of the monitor. */
  readonly sources: HealthSources;
  /** The resource sampler (a `ResourceSampler` fits), when resources are sampled. */
  readonly resources?: Pick<ResourceSampler, 'latest' | 'running'>;
  /** The task registry (a `TaskRegistry` fits). */
  readonly tasks?: Pick<TaskRegistry, 'counts'>;
}

const EMPTY_RECENT: RecentPerformance = Object.freeze({
  totalMetrics: 0,
  metricsPerMinute: 0,
  errorCount: 0,
  errorRate: 0,
  performanceAverage: 0,
  metricsCollected: 0,
});

const SEVERITY_ORDER: Readonly<Record<AlertSeverity, number>> = {
  critical: 0,
  high: 1,
  medium: 2,
  low: 3,
  info: 4,
};

/**
 * Builds the spec's health object: `monitor.health()`. Never throws: a source that
 * fails is reported to diagnostics (`PRSM_INTERNAL_ERROR`) and reads as empty.
 * Percentages in `system_metrics` are the sampler's fractions × 100, one decimal; 0
 * before the first sample (or when a source is unreadable).
 *
 * @example
 * ```ts
 * const reporter = new HealthReporter({ clock, diagnostics, sources, resources: sampler, tasks });
 * const report = reporter.report();
 * console.log(report.overall_health_score, report.system_metrics.cpu_usage);
 * ```
 */
export class HealthReporter {
  readonly #context: HealthReporterContext;

  constructor(context: HealthReporterContext) {
    this.#context = context;
  }

  /**
   * The report now.
   *
   * @example
   * ```ts
   * res.json(reporter.report());
   * ```
   */
  report(): HealthReport {
    const ctx = this.#context;
    const now = this.#read('clock', () => ctx.clock.now(), Date.now());
    const reading = this.#read('resources', () => ctx.resources?.latest(), undefined);
    const recent = this.#read(
      'recent performance',
      () => ctx.sources.recentPerformance(),
      EMPTY_RECENT,
    );
    const alerts = this.#read('active alerts', () => ctx.sources.activeAlerts(), []);
    const tasks = this.#read('tasks', () => ctx.tasks?.counts(), undefined);
    const firing = alerts
      .filter((a) => a.state === 'firing')
      .sort(
        (a, b) =>
          (SEVERITY_ORDER[a.severity] ?? 5) - (SEVERITY_ORDER[b.severity] ?? 5) ||
          (a.triggeredAt ?? a.activeAt) - (b.triggeredAt ?? b.activeAt),
      );
    const bySeverity: Partial<Record<AlertSeverity, number>> = {};
    for (const a of firing) bySeverity[a.severity] = (bySeverity[a.severity] ?? 0) + 1;
    const score = computeHealthScore({
      cpuUsage: reading?.cpuUsage ?? Number.NaN,
      memoryUsage: reading?.memoryUsage ?? Number.NaN,
      diskUsage: reading?.diskUsage ?? Number.NaN,
      errorRate: recent.errorRate,
      unhealthyTasks: tasks?.unhealthy ?? 0,
      firingAlerts: bySeverity,
    });
    const timestamp = iso(now);
    const system_metrics: HealthSystemMetrics = {
      cpu_usage: percent(reading?.cpuUsage),
      memory_usage: percent(reading?.memoryUsage),
      disk_usage: percent(reading?.diskUsage),
      network_io: {
        bytes_sent: reading?.network?.bytesSent ?? 0,
        bytes_recv: reading?.network?.bytesRecv ?? 0,
      },
      last_updated: reading === undefined ? timestamp : iso(reading.at),
    };
    const recent_performance: HealthRecentPerformance = {
      total_metrics: finite(recent.totalMetrics),
      metrics_per_minute: finite(recent.metricsPerMinute),
      error_count: finite(recent.errorCount),
      performance_average: finite(recent.performanceAverage),
    };
    const active_alerts: HealthActiveAlert[] = firing.map((a) => ({
      alert_id: a.alertId,
      name: a.name,
      severity: a.severity,
      component: a.component,
      triggered_at: iso(a.triggeredAt ?? a.activeAt),
    }));
    const samplerOk = ctx.resources === undefined || ctx.resources.running;
    return {
      overall_health_score: score,
      system_metrics,
      recent_performance,
      active_alerts,
      monitoring_status: {
        metrics_collected: finite(recent.metricsCollected),
        active_traces: finite(this.#read('active traces', () => ctx.sources.activeTraces(), 0)),
        configured_alerts: finite(
          this.#read('configured alerts', () => ctx.sources.configuredAlerts(), 0),
        ),
        background_tasks_running: samplerOk && (tasks?.stale ?? 0) === 0,
      },
      timestamp,
    };
  }

  #read<T>(what: string, fn: () => T, fallback: T): T {
    try {
      return fn() ?? fallback;
    } catch (error) {
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `health report (${what}): ${messageOf(error)}`,
      );
      return fallback;
    }
  }
}

function percent(fraction: number | undefined): number {
  return fraction !== undefined && Number.isFinite(fraction) ? Math.round(fraction * 1000) / 10 : 0;
}

function finite(n: number): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date().toISOString() : d.toISOString();
}
