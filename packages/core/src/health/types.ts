/**
 * health/: system health. Resource sampling (CPU, memory, disk, network, event loop,
 * GC), background task heartbeats, database query timing and pool gauges, and the
 * spec's `GET /health` object with its score. Records through the monitor's public
 * recording surface; may import from clock/, diagnostics/, metrics/ and alerting/
 * (types and the series reader), never from exporters or the server.
 *
 * This file: the spec's health object, key by key, in its snake_case.
 */
import type { Clock } from '../clock/clock.js';
import type { Diagnostics } from '../diagnostics/diagnostics.js';
import type { AlertSeverity } from '../alerting/notification.js';
import type { MonitorApi } from '../monitor.js';

/**
 * The spec's `network_io`: bytes through the machine's network interfaces (loopback
 * excluded) since boot, as the kernel counts them.
 *
 * @example
 * ```ts
 * const io: HealthNetworkIo = monitor.health().system_metrics.network_io;
 * console.log(io.bytes_sent, io.bytes_recv);
 * ```
 */
export interface HealthNetworkIo {
  /** Bytes transmitted. */
  readonly bytes_sent: number;
  /** Bytes received. */
  readonly bytes_recv: number;
}

/**
 * The spec's `system_metrics`: the latest resource sample, in percent (0-100) as the
 * spec shows them (the gauges hold the same readings as fractions 0..1, the unit of
 * `80%` in alert conditions).
 *
 * @example
 * ```ts
 * const { cpu_usage, memory_usage, disk_usage } = monitor.health().system_metrics;
 * if (disk_usage > 90) console.warn('disk nearly full');
 * ```
 */
export interface HealthSystemMetrics {
  /** The machine's CPU busy time over the last sampling interval, percent of all cores. */
  readonly cpu_usage: number;
  /** The machine's memory in use (total less available), percent. */
  readonly memory_usage: number;
  /** The fullest of the configured paths' file systems, percent (as `df` computes Use%). */
  readonly disk_usage: number;
  /** Network bytes since boot. */
  readonly network_io: HealthNetworkIo;
  /** When the sample was taken (ISO 8601); the report's time when none was taken yet. */
  readonly last_updated: string;
}

/**
 * The spec's `recent_performance`: what the monitor recorded over the recent window
 * (see `HealthSources.recentPerformance`).
 *
 * @example
 * ```ts
 * const { metrics_per_minute, error_count } = monitor.health().recent_performance;
 * ```
 */
export interface HealthRecentPerformance {
  /** Measurements recorded in the window: histogram and timer samples plus counter increases. */
  readonly total_metrics: number;
  /** The same per minute of the time the window covered. */
  readonly metrics_per_minute: number;
  /** Samples recorded as errors in the window. */
  readonly error_count: number;
  /** Mean duration of the window's timer samples, in milliseconds; 0 without any. */
  readonly performance_average: number;
}

/**
 * One entry of the spec's `active_alerts`: a firing alert.
 *
 * @example
 * ```ts
 * for (const a of monitor.health().active_alerts) console.log(a.severity, a.name, a.triggered_at);
 * ```
 */
export interface HealthActiveAlert {
  /** The alert episode's id. */
  readonly alert_id: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's severity. */
  readonly severity: AlertSeverity;
  /** The rule's component. */
  readonly component: string;
  /** When it started firing (ISO 8601). */
  readonly triggered_at: string;
}

/**
 * The spec's `monitoring_status`.
 *
 * @example
 * ```ts
 * if (!monitor.health().monitoring_status.background_tasks_running) console.warn('a task is stale');
 * ```
 */
export interface HealthMonitoringStatus {
  /** Measurements recorded since the monitor started (as `total_metrics` counts them). */
  readonly metrics_collected: number;
  /** Traces in the trace store. */
  readonly active_traces: number;
  /** Alert rules configured. */
  readonly configured_alerts: number;
  /**
   * True when resource sampling (if enabled) is running and no registered background
   * task has missed its heartbeat.
   */
  readonly background_tasks_running: boolean;
}

/**
 * The spec's `GET /api/v1/monitoring/health` object, exactly: what `monitor.health()`
 * returns and `@prsm/server` serves.
 *
 * @example
 * ```ts
 * const report: HealthReport = monitor.health();
 * if (report.overall_health_score < 70) console.warn(JSON.stringify(report, null, 2));
 * ```
 */
export interface HealthReport {
  /** 0-100, one decimal (see `computeHealthScore` for the formula). */
  readonly overall_health_score: number;
  /** The latest resource sample. */
  readonly system_metrics: HealthSystemMetrics;
  /** The recent window's measurements. */
  readonly recent_performance: HealthRecentPerformance;
  /** Firing alerts, most severe first. */
  readonly active_alerts: readonly HealthActiveAlert[];
  /** The monitor's own state. */
  readonly monitoring_status: HealthMonitoringStatus;
  /** When the report was made (ISO 8601). */
  readonly timestamp: string;
}

/**
 * What the health pieces record through: the monitor's gauge, counter and timer
 * handles ({@link MonitorApi}), so every reading is an ordinary series that alert
 * conditions, snapshots and exporters see.
 *
 * @example
 * ```ts
 * const recorder: HealthRecorder = monitor;
 * ```
 */
export type HealthRecorder = Pick<MonitorApi, 'gauge' | 'counter' | 'timer'>;

/**
 * What every health piece is built with: the monitor's clock, its diagnostics funnel
 * (every failure goes there, none is thrown into the host) and its recording surface.
 *
 * @example
 * ```ts
 * const context: HealthContext = {
 *   clock: monitor.clock,
 *   diagnostics: monitor.diagnostics,
 *   recorder: monitor,
 * };
 * ```
 */
export interface HealthContext {
  /** Where time comes from. */
  readonly clock: Clock;
  /** Where failures are reported. */
  readonly diagnostics: Diagnostics;
  /** Where readings are recorded. */
  readonly recorder: HealthRecorder;
}

/** The message of anything thrown. @internal */
export function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'unknown error';
  }
}
