/**
 * dashboard/: the spec's `GET /business-dashboard` body and the spec's
 * `POST /business-metrics` body, as types. Imports kpi/ types only.
 */
import type { Trend } from '../kpi/trend.js';

/**
 * Progress of one KPI towards its target.
 *
 * @example
 * ```ts
 * const t: TargetProgress = { current: 12500, target: 15000, achievement: 0.83 };
 * ```
 */
export interface TargetProgress {
  /** The KPI's current value. */
  readonly current: number;
  /** Its target. */
  readonly target: number;
  /** `current / target`, rounded to two decimals (as the spec shows it). */
  readonly achievement: number;
}

/**
 * The spec's `GET /api/v1/monitoring/business-dashboard` body, key by key. Values
 * with no data yet are 0 in the four metric groups; `kpis`, `trends` and `targets`
 * hold only KPIs with data.
 *
 * @example
 * ```ts
 * const d: BusinessDashboard = outcomes.dashboard();
 * console.log(d.kpis['daily_active_users'], d.targets['daily_active_users']?.achievement);
 * ```
 */
export interface BusinessDashboard {
  /** The current value of each KPI. */
  readonly kpis: Record<string, number>;
  /** Each KPI's trend over its last periods. */
  readonly trends: Record<string, Trend>;
  /** Progress towards the target, for each KPI that has one. */
  readonly targets: Record<string, TargetProgress>;
  /** Engagement over the latest period with ended sessions. */
  readonly user_metrics: UserMetrics;
  /** Revenue. */
  readonly revenue_metrics: RevenueMetrics;
  /** Growth, period over period. */
  readonly growth_metrics: GrowthMetrics;
  /** Quality. */
  readonly quality_metrics: QualityMetrics;
  /** When it was built, ISO 8601 to the second in UTC (`2024-01-15T14:30:00Z`). */
  readonly generated_at: string;
}

/**
 * The dashboard's `user_metrics`.
 *
 * @example
 * ```ts
 * const u: UserMetrics = outcomes.dashboard().user_metrics;
 * ```
 */
export interface UserMetrics {
  /** Mean duration of the sessions ended in the period, in minutes. */
  readonly session_duration_avg: number;
  /** Mean page views per ended session. */
  readonly pages_per_session: number;
  /** Share of ended sessions with at most one page view. */
  readonly bounce_rate: number;
  /** Share of the day's active users already active on an earlier day (HyperLogLog estimate). */
  readonly return_user_rate: number;
}

/**
 * The dashboard's `revenue_metrics`.
 *
 * @example
 * ```ts
 * const r: RevenueMetrics = outcomes.dashboard().revenue_metrics;
 * ```
 */
export interface RevenueMetrics {
  /** The latest MRR recorded. */
  readonly monthly_recurring_revenue: number;
  /** MRR per paying customer (per monthly active user when no customer count was recorded). */
  readonly average_revenue_per_user: number;
  /** ARPU divided by the monthly churn rate (0 without a churn rate). */
  readonly customer_lifetime_value: number;
}

/**
 * The dashboard's `growth_metrics`.
 *
 * @example
 * ```ts
 * const g: GrowthMetrics = outcomes.dashboard().growth_metrics;
 * ```
 */
export interface GrowthMetrics {
  /** Monthly active users of the last complete month against the month before. */
  readonly user_growth_rate: number;
  /** The latest MRR against the last MRR of the month before. */
  readonly revenue_growth_rate: number;
  /** Users (monthly active, else paying customers) over the configured market size. */
  readonly market_penetration: number;
}

/**
 * The dashboard's `quality_metrics`.
 *
 * @example
 * ```ts
 * const q: QualityMetrics = outcomes.dashboard().quality_metrics;
 * ```
 */
export interface QualityMetrics {
  /** Mean model accuracy over the latest period with samples. */
  readonly model_accuracy_avg: number;
  /** Mean recommendation relevance over the latest period with samples. */
  readonly recommendation_relevance: number;
  /** `1 − errors / calls` of the monitor's timers (or the configured series). */
  readonly system_reliability: number;
}

/**
 * Flat metadata of a business metric: strings, numbers, booleans or null, as the
 * spec's `POST /business-metrics` takes it.
 *
 * @example
 * ```ts
 * const m: BusinessMetadata = { currency: 'USD', segment: 'enterprise', growth_rate: 0.15 };
 * ```
 */
export type BusinessMetadata = Readonly<Record<string, string | number | boolean | null>>;

/**
 * A business KPI sample in the spec's `POST /api/v1/monitoring/business-metrics`
 * fields (snake_case), ready to send to `@prsm/server`.
 *
 * @example
 * ```ts
 * for (const body of outcomes.businessMetricBodies()) {
 *   await fetch(`${base}/api/v1/monitoring/business-metrics`, { method: 'POST', body: JSON.stringify(body) });
 * }
 * ```
 */
export interface BusinessMetricBody {
  readonly metric_name: string;
  readonly value: number;
  readonly dimension: string;
  readonly target?: number;
  readonly metadata?: BusinessMetadata;
}
