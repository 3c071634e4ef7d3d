/**
 * read/: the spec's `GET /health` and `GET /analytics` answered from what the server
 * stored for a fleet of services, with core's pure computations (the health score,
 * the analytics engine with its trends, anomalies, bottlenecks, capacity forecasts and
 * recommendations). May import from store/, alerting/ (the active alerts) and core's
 * public API; never from http/ (the routes in server.ts call it).
 *
 * This file: the query and the answers' shapes, in the spec's snake_case.
 */
import type { AnalyticsReport, HealthReport } from '@prsm/core';

/**
 * The windows `GET /health` and `GET /analytics` accept, and their length in seconds.
 *
 * @example
 * ```ts
 * READ_WINDOWS['1h']; // 3600
 * ```
 */
export const READ_WINDOWS: Readonly<Record<ReadWindow, number>> = Object.freeze({
  '15m': 900,
  '1h': 3600,
  '24h': 86_400,
});

/**
 * A window of `GET /health` and `GET /analytics`: `15m` (the default, core's analytics
 * window), `1h` or `24h`.
 *
 * @example
 * ```ts
 * const window: ReadWindow = '1h';
 * ```
 */
export type ReadWindow = '15m' | '1h' | '24h';

/**
 * What `GET /health` and `GET /analytics` were asked.
 *
 * @example
 * ```ts
 * const q: ReadQuery = { component: 'marketplace', service: 'checkout', window: '1h' };
 * ```
 */
export interface ReadQuery {
  /** One component; absent: every component (health) or `default` (analytics). */
  readonly component?: string;
  /** One service (`service.name` of the processes' batches); absent: the whole fleet. */
  readonly service?: string;
  /** Default `15m`. */
  readonly window?: ReadWindow;
}

/**
 * A component's traffic over the window, in `GET /health`'s `components`.
 *
 * @example
 * ```ts
 * const worst = report.components.sort((a: HealthComponent, b: HealthComponent) => b.error_rate - a.error_rate)[0];
 * ```
 */
export interface HealthComponent {
  /** The component. */
  readonly component: string;
  /** Histogram and timer samples in the window. */
  readonly request_count: number;
  /** Of them, recorded as errors. */
  readonly error_count: number;
  /** `error_count / request_count`, 4 decimals; 0 without samples. */
  readonly error_rate: number;
  /** Mean timer sample, ms, 0.1; 0 without timer samples. */
  readonly average_response_time: number;
  /** Samples per minute of the time the window covered, 0.1. */
  readonly throughput_per_minute: number;
}

/**
 * A service heard from in the last 24 hours, in `GET /health`'s `services`.
 *
 * @example
 * ```ts
 * const down = report.services.filter((s: HealthService) => s.stale).map((s) => s.service);
 * ```
 */
export interface HealthService {
  /** Its `service.name` (empty when its processes sent none). */
  readonly service: string;
  /** Processes of it heard from within the staleness limit. */
  readonly live_instances: number;
  /** Its latest batch, ISO 8601. */
  readonly last_seen: string;
  /** True when none of its processes sent a batch within the staleness limit. */
  readonly stale: boolean;
}

/**
 * The resource gauges beyond the spec's `system_metrics`: the largest value among the
 * processes heard from within the staleness limit; null when none reports it.
 *
 * @example
 * ```ts
 * if ((report.resources.event_loop_delay_p99 ?? 0) > 100) console.warn('event loop lag');
 * ```
 */
export interface HealthResources {
  /** A process's CPU share (`process_cpu_usage`, 0..1). */
  readonly process_cpu_usage: number | null;
  /** Resident set size, bytes (`process_memory_rss`). */
  readonly process_memory_rss: number | null;
  /** V8 heap used, bytes (`process_heap_used`). */
  readonly process_heap_used: number | null;
  /** Event-loop delay p99, ms (`event_loop_delay.p99`). */
  readonly event_loop_delay_p99: number | null;
  /** Event-loop utilisation, 0..1 (`event_loop_utilization`). */
  readonly event_loop_utilization: number | null;
}

/**
 * The server's `GET /health`: the spec's object, key by key as `monitor.health()`
 * builds it, computed over the stored data of every service (or one), plus what a
 * fleet adds: the window, per-component traffic, per-service staleness and more
 * resource gauges.
 *
 * @example
 * ```ts
 * const report = (await (await fetch(`${url}/api/v1/monitoring/health`, { headers })).json()) as FleetHealthReport;
 * console.log(report.overall_health_score, report.services.filter((s) => s.stale));
 * ```
 */
export interface FleetHealthReport extends HealthReport {
  /** The window the numbers cover. */
  readonly window: ReadWindow;
  /** The service asked for, or null for the fleet. */
  readonly service: string | null;
  /** Per component (the SDK's `system` left out unless asked for), by name. */
  readonly components: readonly HealthComponent[];
  /** Services heard from in the last 24 hours, by name. */
  readonly services: readonly HealthService[];
  /** More resource gauges. */
  readonly resources: HealthResources;
}

/**
 * Percentiles of a component's timer samples over the window, from the merged
 * per-minute t-digests of every process; null without samples.
 *
 * @example
 * ```ts
 * const p99: number | null = report.latency_percentiles.p99;
 * ```
 */
export interface LatencyPercentiles {
  /** Samples merged. */
  readonly count: number;
  /** Median, ms. */
  readonly p50: number | null;
  /** 90th percentile, ms. */
  readonly p90: number | null;
  /** 95th percentile, ms. */
  readonly p95: number | null;
  /** 99th percentile, ms. */
  readonly p99: number | null;
  /** 99.9th percentile, ms. */
  readonly p999: number | null;
}

/**
 * An anomalous minute, in `GET /analytics`'s `anomalies`.
 *
 * @example
 * ```ts
 * for (const a of report.anomalies) console.log(a.metric, a.timestamp, a.value, a.baseline, a.score);
 * ```
 */
export interface AnalyticsAnomaly {
  /** `latency`, `latency_p99`, `error_rate`, `throughput` or a gauge. */
  readonly metric: string;
  /** The component whose history it is. */
  readonly component: string;
  /** The minute's start, ISO 8601. */
  readonly timestamp: string;
  /** The minute's value. */
  readonly value: number;
  /** The baseline's median. */
  readonly baseline: number;
  /** The robust z-score. */
  readonly score: number;
}

/**
 * A capacity forecast, in `GET /analytics`'s `capacity`.
 *
 * @example
 * ```ts
 * for (const f of report.capacity) if (f.time_to_threshold_seconds !== null) console.log(f.summary);
 * ```
 */
export interface AnalyticsCapacity {
  /** The gauge, or `throughput`. */
  readonly metric: string;
  /** The component whose history it is. */
  readonly component: string;
  /** The fitted value now. */
  readonly current: number;
  /** The threshold forecast against. */
  readonly threshold: number;
  /** Seconds until the fitted line crosses it; null when not heading there. */
  readonly time_to_threshold_seconds: number | null;
  /** One line: `disk_usage at 90% in 12 days`. */
  readonly summary: string;
  /** Scaling advice within the horizon, or null. */
  readonly advice: string | null;
}

/**
 * The server's `GET /analytics`: the spec's object, key by key as
 * `monitor.analytics({ component })` builds it (core's engine, over the stored data),
 * plus the window, the latency percentiles and the anomalies and capacity forecasts
 * the recommendations came from.
 *
 * @example
 * ```ts
 * const report = (await (await fetch(`${url}/api/v1/monitoring/analytics?component=marketplace`, { headers })).json()) as FleetAnalyticsReport;
 * console.log(report.summary.error_rate, report.latency_percentiles.p99, report.bottlenecks);
 * ```
 */
export interface FleetAnalyticsReport extends AnalyticsReport {
  /** The window `summary`, `top_operations` and percentiles cover. */
  readonly window: ReadWindow;
  /** The service asked for, or null for the fleet. */
  readonly service: string | null;
  /** The component's timer samples over the window. */
  readonly latency_percentiles: LatencyPercentiles;
  /** Anomalous minutes of the last hour, most recent first. */
  readonly anomalies: readonly AnalyticsAnomaly[];
  /** Capacity forecasts of the component's and the system's gauges and throughput. */
  readonly capacity: readonly AnalyticsCapacity[];
}
