/**
 * The shapes the store takes and returns, in the spec's snake_case where they cross
 * the HTTP boundary. Request bodies are checked by the route schemas before they get
 * here; the store trusts their shape, not their meaning (type conflicts, digests).
 */
import type { TDigestJSON } from '@prsm/core';

import type { Role } from '../auth/keys.js';

/**
 * The spec's metric types.
 *
 * @example
 * ```ts
 * const type: SpecMetricType = 'timer';
 * ```
 */
export type SpecMetricType = 'counter' | 'gauge' | 'histogram' | 'timer';

/**
 * One measurement, the spec's `POST /api/v1/monitoring/metrics` body: a counter's
 * increment, a gauge's new value, or one sample of a histogram or timer (timers in
 * milliseconds).
 *
 * @example
 * ```ts
 * const metric: SpecMetric = {
 *   name: 'marketplace.recommendation.generated',
 *   value: 1,
 *   metric_type: 'counter',
 *   component: 'recommendation',
 *   tags: { algorithm: 'collaborative_filtering' },
 * };
 * ```
 */
export interface SpecMetric {
  /** The metric's name. */
  readonly name: string;
  /** The increment, the new value or the sample. */
  readonly value: number;
  /** How the value is aggregated. */
  readonly metric_type: SpecMetricType;
  /** The component; default `default`. */
  readonly component?: string;
  /** Identifying tags. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Descriptive labels (the latest ones are kept). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Histogram and timer samples only: the sample is a failed call (it counts towards `error_rate`). */
  readonly error?: boolean;
}

/**
 * A business KPI sample, the spec's `POST /api/v1/monitoring/business-metrics` body.
 *
 * @example
 * ```ts
 * const kpi: BusinessMetricInput = {
 *   metric_name: 'monthly_recurring_revenue',
 *   value: 125000,
 *   dimension: 'monthly',
 *   target: 150000,
 *   metadata: { currency: 'USD' },
 * };
 * ```
 */
export interface BusinessMetricInput {
  /** The KPI's name. */
  readonly metric_name: string;
  /** Its value. */
  readonly value: number;
  /** The period or breakdown it is measured over (`daily`, `monthly`, ...). */
  readonly dimension?: string;
  /** The target value. */
  readonly target?: number;
  /** Flat metadata: strings, numbers, booleans or null. */
  readonly metadata?: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * The spec's alert severities.
 *
 * @example
 * ```ts
 * const severity: Severity = 'critical';
 * ```
 */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/**
 * An alert rule, the spec's `POST /api/v1/monitoring/alerts` body.
 *
 * @example
 * ```ts
 * const rule: AlertRuleBody = {
 *   name: 'High API Error Rate',
 *   severity: 'high',
 *   component: 'api_gateway',
 *   condition: 'error_rate > 0.05',
 *   threshold: 0.05,
 *   duration_seconds: 300,
 *   notification_channels: ['email', 'slack'],
 * };
 * ```
 */
export interface AlertRuleBody {
  /** The rule's name. */
  readonly name: string;
  /** What it is for. Default empty. */
  readonly description?: string;
  /** How urgent a firing is. */
  readonly severity: Severity;
  /** The component it watches. */
  readonly component: string;
  /** The condition, in the alert engine's condition language (parsed, never evaluated as code). */
  readonly condition: string;
  /** The threshold, as documentation beside the condition. */
  readonly threshold?: number;
  /** How long the condition must hold before firing (seconds). Default 0. */
  readonly duration_seconds?: number;
  /** Where notifications go. Default none. */
  readonly notification_channels?: readonly string[];
}

/**
 * A stored alert rule, as `GET /alerts` lists it.
 *
 * @example
 * ```ts
 * const open = rules.filter((r: AlertRuleRecord) => r.acknowledged_at === null);
 * ```
 */
export interface AlertRuleRecord {
  /** The rule's id. */
  readonly alert_id: string;
  /** The rule's name. */
  readonly name: string;
  /** What it is for. */
  readonly description: string;
  /** Its severity. */
  readonly severity: Severity;
  /** Its component. */
  readonly component: string;
  /** Its condition. */
  readonly condition: string;
  /** Its threshold, or null. */
  readonly threshold: number | null;
  /** Its `for` duration. */
  readonly duration_seconds: number;
  /** Its channels. */
  readonly notification_channels: readonly string[];
  /** When it was created, ISO 8601. */
  readonly created_at: string;
  /** When it was last acknowledged, ISO 8601, or null. */
  readonly acknowledged_at: string | null;
  /** Who acknowledged it (a key id or the given name), or null. */
  readonly acknowledged_by: string | null;
}

/**
 * An alert event received from a monitor (through `/batch`), as `GET /alerts` lists it.
 *
 * @example
 * ```ts
 * const firing = events.filter((e: AlertEventRecord) => e.event === 'firing');
 * ```
 */
export interface AlertEventRecord {
  /** The episode. */
  readonly alert_id: string;
  /** The rule. */
  readonly rule_id: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's severity. */
  readonly severity: string;
  /** The rule's component. */
  readonly component: string;
  /** What happened. */
  readonly event: string;
  /** When, ISO 8601. */
  readonly at: string;
  /** The condition's value then, or null. */
  readonly value: number | null;
}

/**
 * An API key as listed: never the key itself.
 *
 * @example
 * ```ts
 * for (const k of store.listKeys()) console.log(k.id, k.role, k.revoked_at ?? 'active');
 * ```
 */
export interface KeyInfo {
  /** The key's id (safe to print). */
  readonly id: string;
  /** Its role. */
  readonly role: Role;
  /** When it was created, ms since the epoch. */
  readonly created_at: number;
  /** When it was last used, or null. */
  readonly last_used_at: number | null;
  /** When it was revoked, or null. */
  readonly revoked_at: number | null;
}

/**
 * One row of the key-use audit: the requests of a key to a route with a status
 * within one minute.
 *
 * @example
 * ```ts
 * const denied = store.keyUses().filter((u: KeyUse) => u.status === 401 || u.status === 403);
 * ```
 */
export interface KeyUse {
  /** The key's id; null when no known key was sent. */
  readonly key_id: string | null;
  /** The HTTP method. */
  readonly method: string;
  /** The route template, such as `/api/v1/monitoring/traces/:trace_id`. */
  readonly route: string;
  /** The response status. */
  readonly status: number;
  /** The minute, ms since the epoch. */
  readonly minute: number;
  /** Requests in that minute. */
  readonly count: number;
  /** The first of them, ms since the epoch. */
  readonly first_at: number;
  /** The last of them, ms since the epoch. */
  readonly last_at: number;
}

/**
 * A key just created: the only time the key itself is known.
 *
 * @example
 * ```ts
 * const { id, key } = store.createKey('ingest');
 * console.log(`${id}: ${key}`); // show once, never again
 * ```
 */
export interface CreatedKey extends KeyInfo {
  /** The key: `prsm_` and 43 base64url characters. */
  readonly key: string;
}

/**
 * A stored series with its latest values, as the Prometheus text is built from.
 *
 * @example
 * ```ts
 * const p99 = store.latestSeries().find((s: StoredSeries) => s.name === 'api.latency')?.quantiles['p99'];
 * ```
 */
export interface StoredSeries {
  /** The series' row id. */
  readonly id: number;
  /** The metric's name. */
  readonly name: string;
  /** Its component. */
  readonly component: string;
  /** Its tags. */
  readonly tags: Readonly<Record<string, string>>;
  /**
   * The `service.name` of the processes that send it (empty for metrics sent without
   * a `source`): a series two services send is stored once per service.
   */
  readonly service: string;
  /** Its latest labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Its type. */
  readonly metric_type: SpecMetricType;
  /** The unit of histogram and timer samples (`ms` for timers), else empty. */
  readonly unit: string;
  /** Counter: the total; gauge: the last value; histogram and timer: the cumulative mean. */
  readonly value: number;
  /** Histogram and timer: samples so far (counters and gauges: updates). */
  readonly count: number;
  /** Histogram and timer: their sum. */
  readonly sum: number;
  /** The latest quantiles (`p50`, `p99`, ...), histograms and timers only. */
  readonly quantiles: Readonly<Record<string, number>>;
  /** When it was last updated, ms since the epoch. */
  readonly updated_at: number;
}

/**
 * A process that sent batches with a `source` (see `MonitorStore.sources`).
 *
 * @example
 * ```ts
 * for (const s of store.sources()) console.log(s.service_name, s.instance_id, new Date(s.last_seen));
 * ```
 */
export interface StoredSource {
  /** The exporter's id for its process. */
  readonly instance_id: string;
  /** Its `service.name`. */
  readonly service_name: string;
  /** Its resource attributes. */
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  /** Its first batch, ms since the epoch. */
  readonly first_seen: number;
  /** Its latest batch, ms since the epoch. */
  readonly last_seen: number;
}

/**
 * One stored aggregate of a series over a minute (`resolution` 60) or an hour (3600).
 *
 * @example
 * ```ts
 * const hours = store.points(seriesId).filter((p: StoredPoint) => p.resolution === 3600);
 * ```
 */
export interface StoredPoint {
  /** 60 or 3600 seconds. */
  readonly resolution: number;
  /** The bucket's start, ms since the epoch. */
  readonly bucket: number;
  /** Updates (counters, gauges) or samples (histograms, timers) in the bucket. */
  readonly count: number;
  /** Their sum (a counter's increase). */
  readonly sum: number;
  /** Their minimum, or null. */
  readonly min: number | null;
  /** Their maximum, or null. */
  readonly max: number | null;
  /** The last value seen in the bucket. */
  readonly last: number;
  /** The bucket's t-digest (samples received one by one), or null. */
  readonly digest: TDigestJSON | null;
}

/**
 * What {@link MonitorStore.compact} did.
 *
 * @example
 * ```ts
 * const { rolledUp, dropped } = store.compact(Date.now());
 * ```
 */
export interface CompactionResult {
  /** Minute rows merged into hour rows. */
  readonly rolledUp: number;
  /** Rows dropped past their retention (points, spans, events, audit, batch ids). */
  readonly dropped: number;
  /** Of those, audit records (`POST /audit`) removed by their retention. */
  readonly auditRecordsRemoved: number;
  /** Audit records still stored past their retention (behind a retained one, or in a broken chain). */
  readonly auditRecordsExpired: number;
}

/**
 * Row counts of every table: what a test compares before and after a rejected request.
 *
 * @example
 * ```ts
 * expect(store.counts()).toEqual(before);
 * ```
 */
export type StoreCounts = Readonly<Record<string, number>>;

/**
 * The spec's `GET /business-dashboard` body, built from the stored business metrics.
 * `kpis` holds the latest value of every metric not in one of the four groups; the
 * spec's `monthly_recurring_revenue` is a KPI (the spec also repeats it under
 * `revenue_metrics`, and so does this). The groups hold the spec's keys, 0 until stored.
 *
 * @example
 * ```ts
 * const d: BusinessDashboard = store.businessDashboard();
 * console.log(d.kpis['daily_active_users'], d.targets['daily_active_users']?.achievement);
 * ```
 */
export interface BusinessDashboard {
  /** Latest value per KPI. */
  readonly kpis: Record<string, number>;
  /** Per KPI: `increasing`, `decreasing` or `stable` (`classifyKpiTrend`, last 7 periods). */
  readonly trends: Record<string, 'increasing' | 'decreasing' | 'stable'>;
  /** Progress towards the latest target, per metric that has one. */
  readonly targets: Record<string, { current: number; target: number; achievement: number }>;
  /** `session_duration_avg`, `pages_per_session`, `bounce_rate`, `return_user_rate`. */
  readonly user_metrics: Record<string, number>;
  /** `monthly_recurring_revenue`, `average_revenue_per_user`, `customer_lifetime_value`. */
  readonly revenue_metrics: Record<string, number>;
  /** `user_growth_rate`, `revenue_growth_rate`, `market_penetration`. */
  readonly growth_metrics: Record<string, number>;
  /** `model_accuracy_avg`, `recommendation_relevance`, `system_reliability`. */
  readonly quality_metrics: Record<string, number>;
  /** When it was built, ISO 8601. */
  readonly generated_at: string;
}

/**
 * A series as the server's alert evaluation reads it. @internal
 */
export interface WindowSeries {
  readonly id: number;
  readonly metric_type: SpecMetricType;
  readonly value: number;
}

/**
 * A minute row as the server's alert evaluation reads it. @internal
 */
export interface WindowPoint {
  readonly metric_type: SpecMetricType;
  readonly bucket: number;
  readonly count: number;
  readonly sum: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly errors: number;
  readonly digest: string | null;
  readonly quantiles: string | null;
}

/**
 * The pending or firing alert of a rule, as the server keeps it across restarts.
 *
 * @example
 * ```ts
 * const firing = [...store.alertStates().values()].filter((s: StoredAlertState) => s.state === 'firing');
 * ```
 */
export interface StoredAlertState {
  /** The episode's id (stable from pending to resolved). */
  readonly alertId: string;
  /** `pending` or `firing`. */
  readonly state: 'pending' | 'firing';
  /** When the condition started to hold (ms since the epoch). */
  readonly activeAt: number;
  /** When it started firing, or null. */
  readonly triggeredAt: number | null;
  /** The condition's value at the last evaluation, or null. */
  readonly value: number | null;
  /** Who acknowledged it, or null. */
  readonly acknowledgedBy: string | null;
  /** When, or null. */
  readonly acknowledgedAt: number | null;
  /** The channels told it fires (they hear of its resolution). */
  readonly notified: readonly string[];
}

/**
 * One entry of the server's alert history: a transition (`pending`, `firing`,
 * `resolved`, `cancelled`) or an action (`acknowledged`, `rule_deleted`).
 *
 * @example
 * ```ts
 * const resolved = history.filter((e: ServerAlertEvent) => e.event === 'resolved');
 * ```
 */
export interface ServerAlertEvent {
  /** The episode. */
  readonly alert_id: string;
  /** The rule. */
  readonly rule_id: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's severity. */
  readonly severity: string;
  /** The rule's component. */
  readonly component: string;
  /** What happened. */
  readonly event: 'pending' | 'firing' | 'resolved' | 'cancelled' | 'acknowledged' | 'rule_deleted';
  /** When, ISO 8601. */
  readonly at: string;
  /** The condition's value then, or null. */
  readonly value: number | null;
  /** Who acted (acknowledgements), or null. */
  readonly by: string | null;
}
