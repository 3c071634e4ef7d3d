/**
 * The `BusinessOutcomes` aggregator: KPIs kept per calendar period with targets and
 * trends, engagement (sessions, DAU/MAU sketches, funnels, click-through), revenue,
 * growth and quality, the spec's business dashboard, and the gauges and counters
 * that carry all of it to the monitor's exporters.
 */
import {
  type Clock,
  createRedactor,
  DiagnosticCode,
  type DiagnosticCodeValue,
  getGlobalMonitor,
  KPI_AGGREGATION_KEY,
  KPI_PERIOD_KEY,
  type MonitorApi,
  type MonitorSnapshot,
  type Redactor,
  type SnapshotOptions,
  type Tags,
  type WindowRates,
  systemClock,
} from '@prsm/core';
import type {
  BoundCounter,
  BoundGauge,
  BoundHistogram,
  ComponentName,
  ExportSource,
  SeriesQuery,
} from '@prsm/core';
import {
  type Dimension,
  DIMENSIONS,
  isDimension,
  type Period,
  PeriodCursor,
  ZonedCalendar,
} from './calendar/calendar.js';
import type {
  BusinessDashboard,
  BusinessMetadata,
  BusinessMetricBody,
  GrowthMetrics,
  QualityMetrics,
  RevenueMetrics,
  TargetProgress,
  UserMetrics,
} from './dashboard/types.js';
import { type Aggregation, PeriodRing, type Points, pointsOf } from './kpi/ring.js';
import {
  classifyTrend,
  type ResolvedTrendRule,
  resolveTrendRule,
  type Trend,
  type TrendRule,
} from './kpi/trend.js';
import { HyperLogLog } from './sketch/hyperloglog.js';

/**
 * What `BusinessOutcomes` needs of a monitor: the recording surface every monitor
 * has, plus (optional) the read and diagnostics parts of `Monitor` it uses for system
 * reliability and for reporting its own problems.
 *
 * @example
 * ```ts
 * const monitor: BusinessMonitor = new Monitor();
 * ```
 */
export interface BusinessMonitor extends MonitorApi {
  /** Where time comes from (used when no `clock` option is given). */
  readonly clock?: Clock;
  /** Counts of the SDK's own problems; bad input and internal errors are reported here. */
  readonly diagnostics?: {
    report(code: DiagnosticCodeValue, message: string, context?: Record<string, unknown>): void;
    error(code: DiagnosticCodeValue, error: unknown, context?: Record<string, unknown>): void;
  };
  /** Rates of a series: read for system reliability. */
  getRates?(name: string, query?: SeriesQuery): WindowRates | undefined;
  /** Every series: read to find the timers system reliability is computed from. */
  snapshot?(options?: SnapshotOptions): MonitorSnapshot;
  /**
   * The monitor's redaction, applied to business metadata before it is kept or
   * exported. A monitor that has the property but holds `undefined` (`redaction:
   * false`) turns it off; one without it gets the default rules.
   */
  readonly redactor?: Pick<Redactor, 'redactAttributes'> | undefined;
  /**
   * Where `BusinessOutcomes` offers its KPIs to the exporters (a source of kind
   * {@link BUSINESS_METRICS_KIND}, the spec's `POST /business-metrics` bodies).
   */
  addExportSource?(source: ExportSource): () => void;
}

/**
 * The kind of the export source a `BusinessOutcomes` adds to its monitor: records
 * are {@link BusinessMetricBody} objects (the spec's `POST /business-metrics`
 * bodies), one per listed KPI with a current value. The REST exporter pulls them at
 * each export and posts them to the server.
 *
 * @example
 * ```ts
 * const bodies = host.collect(BUSINESS_METRICS_KIND) as BusinessMetricBody[];
 * ```
 */
export const BUSINESS_METRICS_KIND = 'business_metrics';

/**
 * A series of the monitor that system reliability reads (`1 − errors / calls`).
 *
 * @example
 * ```ts
 * const checkout: ReliabilitySource = { name: 'operation.duration', component: 'marketplace', tags: { operation: 'checkout' } };
 * ```
 */
export interface ReliabilitySource {
  /** A timer or histogram (errors and calls) or counter (calls only). */
  readonly name: string;
  readonly component?: ComponentName;
  readonly tags?: Tags;
}

/**
 * Options of {@link BusinessOutcomes}. A bad value throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * const outcomes = new BusinessOutcomes({
 *   monitor,
 *   timeZone: 'America/New_York',
 *   marketSize: 150_000,
 *   retention: { daily: 366 },
 *   trend: { periods: 14 },
 * });
 * ```
 */
export interface BusinessOutcomesOptions {
  /** Where business metrics are recorded and reliability is read. Default: the global monitor. */
  readonly monitor?: BusinessMonitor;
  /** Where time comes from. Default: the monitor's clock, else the system clock. */
  readonly clock?: Clock;
  /** The IANA time zone calendar periods are cut in. Default `'UTC'`. */
  readonly timeZone?: string;
  /** The component of every series recorded into the monitor. Default `'business'`. */
  readonly component?: ComponentName;
  /** KPIs kept (user-defined and derived); further ones are dropped and counted. Default 200. */
  readonly maxKpis?: number;
  /**
   * Periods kept per KPI and dimension. Default hourly 168 (a week), daily 366 (a
   * year), weekly 104, monthly 36.
   */
  readonly retention?: Partial<Readonly<Record<Dimension, number>>>;
  /** How trends are told from noise. */
  readonly trend?: TrendRule;
  /** Sessions in flight; starting one more evicts the oldest (counted). Default 10000. */
  readonly maxSessions?: number;
  /** A session idle this long is ended at its last activity. Default 30 minutes. */
  readonly sessionTimeoutMinutes?: number;
  /** The period engagement, funnels and click-through are measured over. Default `'daily'`. */
  readonly engagementDimension?: Dimension;
  /** The number of potential users, for `market_penetration`. Default: none (0). */
  readonly marketSize?: number;
  /**
   * Where `system_reliability` comes from: the listed series, else every timer the
   * monitor has (component `prsm` excepted), over `windowSeconds` (default: the
   * monitor's first window).
   */
  readonly reliability?: {
    readonly sources?: readonly ReliabilitySource[];
    readonly windowSeconds?: number | 'cumulative';
  };
  /**
   * How often derived metrics (DAU, rates, the dashboard's groups) are written to the
   * monitor's gauges, in seconds, on an unref'd timer; 0: only when `dashboard()` or
   * `publish()` is called. Default 60.
   */
  readonly publishIntervalSeconds?: number;
}

/**
 * A KPI definition.
 *
 * @example
 * ```ts
 * outcomes.defineKpi({ name: 'user_satisfaction_score', target: 4.5, aggregation: 'mean' });
 * ```
 */
export interface KpiDefinition {
  /** The KPI's name, as it appears in the dashboard (`daily_active_users`...). */
  readonly name: string;
  /** The target `achievement` is measured against. */
  readonly target?: number;
  /** The period it is kept and trended per (the first one when several). Default `'daily'`. */
  readonly dimension?: Dimension | readonly Dimension[];
  /** How the samples of one period make its value. Default `'last'`. */
  readonly aggregation?: Aggregation;
}

/**
 * A business KPI sample in the fields of the spec's `POST /business-metrics`.
 *
 * @example
 * ```ts
 * const sample: BusinessMetricInput = {
 *   metricName: 'monthly_recurring_revenue',
 *   value: 125000,
 *   dimension: 'monthly',
 *   target: 150000,
 *   metadata: { currency: 'USD', segment: 'enterprise', growth_rate: 0.15 },
 * };
 * ```
 */
export interface BusinessMetricInput {
  /** The KPI's name. */
  readonly metricName: string;
  /** Its value. */
  readonly value: number;
  /** The period it is measured over. Default: the KPI's, else `'daily'`. */
  readonly dimension?: Dimension;
  /** A target; replaces the KPI's. */
  readonly target?: number;
  /** Flat metadata, kept as the KPI's latest. */
  readonly metadata?: BusinessMetadata;
}

/**
 * What is known of one KPI.
 *
 * @example
 * ```ts
 * const kpi: KpiSummary | undefined = outcomes.kpi('daily_active_users');
 * ```
 */
export interface KpiSummary {
  readonly name: string;
  readonly dimension: Dimension;
  readonly aggregation: Aggregation | 'ratio';
  /** The current value; undefined without data. */
  readonly current: number | undefined;
  readonly target: number | undefined;
  readonly trend: Trend;
  /** The latest metadata recorded with it. */
  readonly metadata: BusinessMetadata | undefined;
  /** The values of its last periods, oldest first: `{ period: '2024-01-15', value }`. */
  readonly history: readonly { readonly period: string; readonly value: number }[];
}

/**
 * Steps of a conversion funnel, counted per period.
 *
 * @example
 * ```ts
 * outcomes.defineFunnel({ name: 'marketplace', steps: ['view', 'cart', 'purchase'] });
 * ```
 */
export interface FunnelDefinition {
  /** The funnel's name; its KPI is `<name>_conversion_rate`. */
  readonly name: string;
  /** At least two step names, in order. */
  readonly steps: readonly string[];
  /** A target for the conversion rate. */
  readonly target?: number;
}

/**
 * A funnel over the current period (or the latest with entries).
 *
 * @example
 * ```ts
 * const report: FunnelReport | undefined = outcomes.funnel('marketplace');
 * ```
 */
export interface FunnelReport {
  readonly name: string;
  readonly steps: readonly {
    readonly step: string;
    readonly count: number;
    /** count / count of the step before (1 for the first step). */
    readonly rateFromPrevious: number;
  }[];
  /** Last step / first step. */
  readonly conversionRate: number;
}

/**
 * Revenue figures, recorded as the KPIs `monthly_recurring_revenue`,
 * `paying_customers` and `churn_rate` (monthly).
 *
 * @example
 * ```ts
 * outcomes.recordRevenue({ mrr: 125000, customers: 2778, churnRate: 0.036 });
 * ```
 */
export interface RevenueInput {
  /** Monthly recurring revenue now. */
  readonly mrr?: number;
  /** Paying customers now (ARPU's divisor). */
  readonly customers?: number;
  /** The share of customers lost per month (CLV's divisor), 0..1. */
  readonly churnRate?: number;
  /** A target for MRR. */
  readonly mrrTarget?: number;
}

/**
 * Counts and sizes of a `BusinessOutcomes`, for capacity checks.
 *
 * @example
 * ```ts
 * const { kpis, sessionsEvicted } = outcomes.stats();
 * ```
 */
export interface BusinessOutcomesStats {
  readonly kpis: number;
  readonly kpisDropped: number;
  readonly sessionsInFlight: number;
  readonly sessionsEvicted: number;
  /** Bytes of period rings and sketches held. */
  readonly bytes: number;
}

/** The dashboard's four groups of derived metrics. */
interface DashboardGroups {
  readonly user_metrics: UserMetrics;
  readonly revenue_metrics: RevenueMetrics;
  readonly growth_metrics: GrowthMetrics;
  readonly quality_metrics: QualityMetrics;
}

/**
 * The period each derived metric is measured over, as its body's `dimension`; the
 * ones missing are measured over the `engagementDimension` option's period.
 */
const GROUP_DIMENSIONS: Readonly<Partial<Record<string, Dimension>>> = {
  return_user_rate: 'daily',
  average_revenue_per_user: 'monthly',
  customer_lifetime_value: 'monthly',
  user_growth_rate: 'monthly',
  revenue_growth_rate: 'monthly',
  market_penetration: 'monthly',
  system_reliability: 'daily',
};

/** Metric names recorded into the monitor (in the `component` option's component). */
const METRIC = {
  outcomeCount: 'business.outcome.count',
  outcomeValue: 'business.outcome.value',
  kpi: 'business.kpi',
  target: 'business.kpi.target',
  achievement: 'business.kpi.achievement',
  group: 'business.dashboard',
  sessionsActive: 'business.sessions.active',
  sessionsEvicted: 'business.sessions.evicted',
  dropped: 'business.records.dropped',
} as const;

const DEFAULT_RETENTION: Readonly<Record<Dimension, number>> = {
  hourly: 168,
  daily: 366,
  weekly: 104,
  monthly: 36,
};

const NAME_MAX = 200;
const METADATA_MAX_KEYS = 64;

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= NAME_MAX;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function positiveInteger(value: unknown, fallback: number, option: string, max = 1e7): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max) {
    throw new TypeError(`${option} must be an integer from 1 to ${max}`);
  }
  return value as number;
}

/** ISO 8601 to the second, as the spec writes it. */
function isoSeconds(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** A copy of flat metadata, or undefined when it is not flat. */
function copyMetadata(metadata: unknown): BusinessMetadata | undefined {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
    return undefined;
  const out: Record<string, string | number | boolean | null> = {};
  let n = 0;
  for (const [key, value] of Object.entries(metadata as Record<string, unknown>)) {
    if (++n > METADATA_MAX_KEYS) return undefined;
    if (
      value === null ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value))
    ) {
      out[key] = value;
    } else {
      return undefined;
    }
  }
  return Object.freeze(out);
}

/** Where a KPI's values come from. */
interface KpiSource {
  readonly dimension: Dimension;
  readonly aggregation: Aggregation | 'ratio';
  current(currentOrdinal: number): number | undefined;
  /** The ordinal of the period `current()` reads (undefined when it reads none). */
  currentPeriod(currentOrdinal: number): number | undefined;
  points(currentOrdinal: number, n: number): Points;
}

class RingSource implements KpiSource {
  readonly dimension: Dimension;
  readonly aggregation: Aggregation;
  readonly ring: PeriodRing;
  constructor(dimension: Dimension, aggregation: Aggregation, ring: PeriodRing) {
    this.dimension = dimension;
    this.aggregation = aggregation;
    this.ring = ring;
  }
  current(currentOrdinal: number): number | undefined {
    const ring = this.ring;
    if (ring.size === 0) return undefined;
    for (let k = 0; k < ring.size; k++) {
      const i = ring.index(k);
      const o = ring.ordinalAt(i);
      if (o > currentOrdinal) continue;
      if (this.aggregation === 'sum') return o === currentOrdinal ? ring.sumAt(i) : 0;
      return ring.valueAt(i, this.aggregation);
    }
    return undefined;
  }
  currentPeriod(currentOrdinal: number): number | undefined {
    if (this.ring.size === 0) return undefined;
    if (this.aggregation === 'sum') return currentOrdinal;
    const o = latestOrdinal(this.ring, currentOrdinal);
    return Number.isNaN(o) ? undefined : o;
  }
  points(currentOrdinal: number, n: number): Points {
    return pointsOf(this.ring, this.aggregation, currentOrdinal, n);
  }
}

/** numerator / denominator of two `sum` rings, per period with a denominator. */
class RatioSource implements KpiSource {
  readonly aggregation = 'ratio';
  readonly dimension: Dimension;
  readonly numerator: PeriodRing;
  readonly denominator: PeriodRing;
  constructor(dimension: Dimension, numerator: PeriodRing, denominator: PeriodRing) {
    this.dimension = dimension;
    this.numerator = numerator;
    this.denominator = denominator;
  }
  #ratioAt(i: number): number {
    const den = this.denominator.sumAt(i);
    const j = this.numerator.find(this.denominator.ordinalAt(i));
    return j < 0 ? 0 : this.numerator.sumAt(j) / den;
  }
  current(currentOrdinal: number): number | undefined {
    const den = this.denominator;
    for (let k = 0; k < den.size; k++) {
      const i = den.index(k);
      if (den.ordinalAt(i) > currentOrdinal || den.sumAt(i) <= 0) continue;
      return this.#ratioAt(i);
    }
    return undefined;
  }
  currentPeriod(currentOrdinal: number): number | undefined {
    const den = this.denominator;
    for (let k = 0; k < den.size; k++) {
      const i = den.index(k);
      if (den.ordinalAt(i) > currentOrdinal || den.sumAt(i) <= 0) continue;
      return den.ordinalAt(i);
    }
    return undefined;
  }
  points(currentOrdinal: number, n: number): Points {
    const x: number[] = [];
    const y: number[] = [];
    const den = this.denominator;
    for (let k = Math.min(n, den.size) - 1; k >= 0; k--) {
      const i = den.index(k);
      const o = den.ordinalAt(i);
      if (o > currentOrdinal || o <= currentOrdinal - n || den.sumAt(i) <= 0) continue;
      x.push(den.ordinalAt(i));
      y.push(this.#ratioAt(i));
    }
    return { x, y };
  }
}

interface Kpi {
  readonly name: string;
  readonly source: KpiSource;
  /** Rings per dimension (ring KPIs only); the source reads the first. */
  readonly rings: ReadonlyMap<Dimension, PeriodRing>;
  /** Listed in the dashboard's `kpis` (internal helper series are not). */
  readonly listed: boolean;
  target: number | undefined;
  metadata: BusinessMetadata | undefined;
  readonly gauge: BoundGauge;
  targetGauge: BoundGauge | undefined;
  achievementGauge: BoundGauge | undefined;
}

/**
 * A decorated method's outcome, resolved once per `BusinessOutcomes`: the KPI it
 * counts into and its monitor handles.
 *
 * @internal
 */
export interface OutcomeHandle {
  readonly kpi: Kpi | undefined;
  readonly count: BoundCounter;
  readonly value: BoundHistogram;
}

interface Session {
  readonly userId: string | undefined;
  readonly start: number;
  lastSeen: number;
  pages: number;
}

/**
 * Business outcomes for one service: KPIs with targets and trends per calendar period
 * (hours, days, ISO weeks, months in a configurable IANA time zone), engagement
 * (sessions, DAU/MAU counted with HyperLogLog sketches, funnels, click-through),
 * revenue, growth and quality, and the spec's business dashboard. Everything is also
 * recorded into the monitor (see the package README for the metric names), so every
 * exporter carries it.
 *
 * Memory is bounded by the options: `maxKpis` KPIs of at most `retention` periods
 * each, `maxSessions` sessions in flight, four 12 KiB sketches. Recording methods never
 * throw: bad input is dropped, reported to the monitor's diagnostics and counted in
 * `business.records.dropped`. The constructor throws a `TypeError` naming a bad option.
 *
 * @example
 * ```ts
 * import { ManualClock, Monitor } from '@prsm/core';
 * import { BusinessOutcomes } from '@prsm/business-outcomes';
 *
 * const monitor = new Monitor();
 * const outcomes = new BusinessOutcomes({ monitor, timeZone: 'Europe/Paris' });
 * outcomes.recordMetric({ metricName: 'monthly_recurring_revenue', value: 125000, dimension: 'monthly', target: 150000 });
 * outcomes.startSession('s1', 'user_123');
 * outcomes.pageView('s1');
 * outcomes.endSession('s1');
 * console.log(outcomes.dashboard());
 * ```
 */
export class BusinessOutcomes {
  /** The IANA time zone periods are cut in. */
  readonly timeZone: string;
  /** The clock periods and `generated_at` are read from. */
  readonly clock: Clock;
  readonly #monitor: BusinessMonitor;
  readonly #component: string;
  readonly #calendar: ZonedCalendar;
  readonly #cursors: Readonly<Record<Dimension, PeriodCursor>>;
  readonly #retention: Readonly<Record<Dimension, number>>;
  readonly #trend: ResolvedTrendRule;
  readonly #maxKpis: number;
  readonly #kpis = new Map<string, Kpi>();
  #kpisDropped = 0;
  readonly #maxSessions: number;
  readonly #sessionTimeoutMs: number;
  readonly #sessions = new Map<string, Session>();
  #sessionsEvicted = 0;
  readonly #engagementDimension: Dimension;
  readonly #marketSize: number;
  readonly #reliabilitySources: readonly ReliabilitySource[] | undefined;
  readonly #reliabilityWindow: number | 'cumulative' | undefined;
  readonly #funnels = new Map<string, { steps: readonly string[]; rings: PeriodRing[] }>();
  readonly #clickThrough = new Map<string, { impressions: PeriodRing; clicks: PeriodRing }>();
  // Engagement: per-period sums of the ended sessions.
  readonly #sessionRings: {
    readonly ended: PeriodRing;
    readonly minutes: PeriodRing;
    readonly pages: PeriodRing;
    readonly bounces: PeriodRing;
  };
  // Distinct users: today's and this month's sketches, everyone seen before today.
  readonly #today = new HyperLogLog();
  readonly #month = new HyperLogLog();
  readonly #seenBefore = new HyperLogLog();
  #todayPeriod: Period | undefined;
  #monthPeriod: Period | undefined;
  #usersTracked = false;
  #returnRate = 0;
  readonly #handles = new Map<string, OutcomeHandle>();
  readonly #sessionsActive: BoundGauge;
  readonly #sessionsEvictedCounter: BoundCounter;
  readonly #groupGauges = new Map<string, BoundGauge>();
  /** Derived metrics offered to exporters so far (at most the dashboard's 12 names). */
  readonly #offered = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  readonly #redactor: Pick<Redactor, 'redactAttributes'> | undefined;

  constructor(options: BusinessOutcomesOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('BusinessOutcomes options must be an object');
    }
    const monitor: BusinessMonitor = options.monitor ?? getGlobalMonitor();
    if (
      monitor === null ||
      typeof monitor !== 'object' ||
      typeof monitor.counter !== 'function' ||
      typeof monitor.gauge !== 'function' ||
      typeof monitor.histogram !== 'function'
    ) {
      throw new TypeError('monitor must be a Monitor (with counter(), gauge() and histogram())');
    }
    this.#monitor = monitor;
    const clock = options.clock ?? monitor.clock ?? systemClock;
    if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function') {
      throw new TypeError('clock must be an object with a now() method returning milliseconds');
    }
    this.clock = clock;
    this.#calendar = new ZonedCalendar(options.timeZone ?? 'UTC');
    this.timeZone = this.#calendar.timeZone;
    const component = options.component ?? 'business';
    if (!isName(component)) {
      throw new TypeError(`component must be a non-empty string of at most ${NAME_MAX} characters`);
    }
    this.#component = component;
    this.#maxKpis = positiveInteger(options.maxKpis, 200, 'maxKpis', 100_000);
    const retention: unknown = options.retention ?? {};
    if (retention === null || typeof retention !== 'object') {
      throw new TypeError('retention must be an object of period counts per dimension');
    }
    const r = retention as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!isDimension(key)) throw new TypeError(`retention: unknown dimension ${key}`);
    }
    this.#retention = Object.freeze({
      hourly: positiveInteger(r['hourly'], DEFAULT_RETENTION.hourly, 'retention.hourly', 100_000),
      daily: positiveInteger(r['daily'], DEFAULT_RETENTION.daily, 'retention.daily', 100_000),
      weekly: positiveInteger(r['weekly'], DEFAULT_RETENTION.weekly, 'retention.weekly', 100_000),
      monthly: positiveInteger(
        r['monthly'],
        DEFAULT_RETENTION.monthly,
        'retention.monthly',
        100_000,
      ),
    });
    this.#trend = resolveTrendRule(options.trend, 'trend');
    this.#maxSessions = positiveInteger(options.maxSessions, 10_000, 'maxSessions');
    const timeout = options.sessionTimeoutMinutes ?? 30;
    if (!isFiniteNumber(timeout) || timeout <= 0) {
      throw new TypeError('sessionTimeoutMinutes must be a finite number > 0');
    }
    this.#sessionTimeoutMs = timeout * 60_000;
    const engagement = options.engagementDimension ?? 'daily';
    if (!isDimension(engagement)) {
      throw new TypeError("engagementDimension must be 'hourly', 'daily', 'weekly' or 'monthly'");
    }
    this.#engagementDimension = engagement;
    const market = options.marketSize ?? 0;
    if (!isFiniteNumber(market) || market < 0) {
      throw new TypeError('marketSize must be a finite number >= 0');
    }
    this.#marketSize = market;
    const reliability: unknown = options.reliability ?? {};
    if (reliability === null || typeof reliability !== 'object') {
      throw new TypeError('reliability must be an object');
    }
    const rel = reliability as NonNullable<BusinessOutcomesOptions['reliability']>;
    const sources: unknown = rel.sources;
    if (sources !== undefined) {
      if (
        !Array.isArray(sources) ||
        !sources.every(
          (s: unknown) =>
            s !== null && typeof s === 'object' && isName((s as { name?: unknown }).name),
        )
      ) {
        throw new TypeError('reliability.sources must be an array of { name, component?, tags? }');
      }
    }
    const w = rel.windowSeconds;
    if (w !== undefined && w !== 'cumulative' && (!isFiniteNumber(w) || w <= 0)) {
      throw new TypeError(
        "reliability.windowSeconds must be a number of seconds > 0 or 'cumulative'",
      );
    }
    this.#reliabilitySources = rel.sources;
    this.#reliabilityWindow = w;
    const publish = options.publishIntervalSeconds ?? 60;
    if (!isFiniteNumber(publish) || publish < 0) {
      throw new TypeError('publishIntervalSeconds must be a finite number >= 0');
    }
    this.#cursors = Object.freeze({
      hourly: new PeriodCursor(this.#calendar, 'hourly'),
      daily: new PeriodCursor(this.#calendar, 'daily'),
      weekly: new PeriodCursor(this.#calendar, 'weekly'),
      monthly: new PeriodCursor(this.#calendar, 'monthly'),
    });
    const cap = this.#retention[engagement];
    this.#sessionRings = {
      ended: new PeriodRing(cap),
      minutes: new PeriodRing(cap),
      pages: new PeriodRing(cap),
      bounces: new PeriodRing(cap),
    };
    this.#redactor = 'redactor' in monitor ? monitor.redactor : createRedactor();
    // Kept for the monitor's life: the final export at its shutdown still pulls it.
    if (typeof monitor.addExportSource === 'function') {
      monitor.addExportSource({
        kind: BUSINESS_METRICS_KIND,
        collect: () => this.businessMetricBodies(),
      });
    }
    this.#sessionsActive = monitor.gauge(METRIC.sessionsActive, { component }).bind();
    this.#sessionsEvictedCounter = monitor.counter(METRIC.sessionsEvicted, { component }).bind();
    if (publish > 0) {
      this.#timer = setInterval(() => this.publish(), publish * 1000);
      this.#timer.unref();
    }
  }

  // ---- KPIs -------------------------------------------------------------------------

  /**
   * Defines (or redefines the target of) a KPI. Throws a `TypeError` naming a bad
   * field; a KPI beyond `maxKpis` is dropped and counted.
   *
   * @example
   * ```ts
   * outcomes.defineKpi({ name: 'daily_signups', target: 500, aggregation: 'sum', dimension: ['daily', 'weekly'] });
   * ```
   */
  defineKpi(definition: KpiDefinition): void {
    if (definition === null || typeof definition !== 'object') {
      throw new TypeError('defineKpi: definition must be an object');
    }
    const { name, target } = definition;
    if (!isName(name)) {
      throw new TypeError(
        `defineKpi: name must be a non-empty string of at most ${NAME_MAX} characters`,
      );
    }
    if (target !== undefined && !isFiniteNumber(target)) {
      throw new TypeError('defineKpi: target must be a finite number');
    }
    const aggregation = definition.aggregation ?? 'last';
    if (aggregation !== 'sum' && aggregation !== 'last' && aggregation !== 'mean') {
      throw new TypeError("defineKpi: aggregation must be 'sum', 'last' or 'mean'");
    }
    const dimensions = resolveDimensions(definition.dimension, 'defineKpi: dimension');
    const existing = this.#kpis.get(name);
    if (existing !== undefined) {
      if (target !== undefined) this.#setTarget(existing, target);
      return;
    }
    const kpi = this.#ringKpi(name, dimensions, aggregation, true);
    if (kpi !== undefined && target !== undefined) this.#setTarget(kpi, target);
  }

  /**
   * Sets a KPI's target (`achievement = current / target`). Never throws.
   *
   * @example
   * ```ts
   * outcomes.setTarget('daily_active_users', 15000);
   * ```
   */
  setTarget(name: string, target: number): void {
    const kpi = this.#kpis.get(name);
    if (kpi === undefined || !isFiniteNumber(target)) {
      this.#drop('invalid', `setTarget: no KPI ${String(name)} or a bad target`);
      return;
    }
    this.#setTarget(kpi, target);
  }

  /**
   * Records one KPI sample in the spec's `POST /business-metrics` fields. The KPI is
   * created on first use (aggregation `last`, the sample's dimension). Never throws:
   * bad input is dropped and counted.
   *
   * @example
   * ```ts
   * outcomes.recordMetric({
   *   metricName: 'monthly_recurring_revenue',
   *   value: 125000,
   *   dimension: 'monthly',
   *   target: 150000,
   *   metadata: { currency: 'USD', segment: 'enterprise', growth_rate: 0.15 },
   * });
   * ```
   */
  recordMetric(input: BusinessMetricInput): void {
    try {
      if (input === null || typeof input !== 'object' || !isName(input.metricName)) {
        this.#drop('invalid', 'recordMetric: metricName must be a non-empty string');
        return;
      }
      const { metricName, value, target } = input;
      if (!isFiniteNumber(value) || (target !== undefined && !isFiniteNumber(target))) {
        this.#drop(
          'invalid',
          `recordMetric ${metricName}: value and target must be finite numbers`,
        );
        return;
      }
      if (input.dimension !== undefined && !isDimension(input.dimension)) {
        this.#drop(
          'invalid',
          `recordMetric ${metricName}: unknown dimension ${String(input.dimension)}`,
        );
        return;
      }
      let metadata: BusinessMetadata | undefined;
      if (input.metadata !== undefined) {
        metadata = this.#metadata(input.metadata);
        if (metadata === undefined) {
          this.#drop(
            'invalid',
            `recordMetric ${metricName}: metadata must be flat (strings, numbers, booleans, null)`,
          );
          return;
        }
      }
      const kpi =
        this.#kpis.get(metricName) ??
        this.#ringKpi(metricName, [input.dimension ?? 'daily'], 'last', true);
      if (kpi === undefined) return;
      if (target !== undefined) this.#setTarget(kpi, target);
      if (metadata !== undefined) kpi.metadata = metadata;
      this.#sample(kpi, value, input.dimension);
    } catch (error) {
      this.#internal(error, 'recordMetric');
    }
  }

  /**
   * Counts one business outcome (what `@recordBusinessOutcome` calls): adds `value`
   * (default 1) to the KPI `name` (aggregation `sum`) in each of its dimensions, and
   * to the monitor's `business.outcome.count` and `business.outcome.value`. Never throws.
   *
   * @example
   * ```ts
   * outcomes.recordOutcome('purchase_completed', { value: 49.9, dimension: ['daily', 'monthly'] });
   * ```
   */
  recordOutcome(
    name: string,
    options: {
      readonly value?: number;
      readonly dimension?: Dimension | readonly Dimension[];
      readonly metadata?: BusinessMetadata;
    } = {},
  ): void {
    try {
      let dimensions: readonly Dimension[];
      try {
        dimensions = resolveDimensions(options.dimension, 'dimension');
      } catch {
        this.#drop('invalid', `recordOutcome ${String(name)}: unknown dimension`);
        return;
      }
      const handle = this.outcomeHandle(name, dimensions);
      const value = options.value;
      if (value !== undefined && !isFiniteNumber(value)) {
        this.#drop('invalid', `recordOutcome ${String(name)}: value must be a finite number`);
        return;
      }
      let metadata: BusinessMetadata | undefined;
      if (options.metadata !== undefined) {
        metadata = this.#metadata(options.metadata);
        if (metadata === undefined) {
          this.#drop('invalid', `recordOutcome ${String(name)}: metadata must be flat`);
          return;
        }
      }
      this.countOutcome(handle, value, metadata);
    } catch (error) {
      this.#internal(error, 'recordOutcome');
    }
  }

  /**
   * The handle the decorator counts through, made once per outcome name. @internal
   */
  outcomeHandle(name: string, dimensions: readonly Dimension[]): OutcomeHandle {
    let handle = this.#handles.get(name);
    if (handle !== undefined) return handle;
    const existing = this.#kpis.get(name);
    const kpi =
      existing ?? (isName(name) ? this.#ringKpi(name, dimensions, 'sum', true) : undefined);
    const tags = { outcome: isName(name) ? name : 'invalid' };
    const component = this.#component;
    handle = {
      kpi,
      count: this.#monitor.counter(METRIC.outcomeCount, { component }).bind(tags),
      value: this.#monitor.histogram(METRIC.outcomeValue, { component }).bind(tags),
    };
    if (this.#handles.size < this.#maxKpis) this.#handles.set(name, handle);
    return handle;
  }

  /** The decorator's hot path: `value` already checked or undefined. @internal */
  countOutcome(
    handle: OutcomeHandle,
    value: number | undefined,
    metadata?: BusinessMetadata,
  ): void {
    handle.count.inc();
    if (value !== undefined) handle.value.record(value);
    const kpi = handle.kpi;
    if (kpi === undefined) return;
    if (metadata !== undefined) kpi.metadata = metadata;
    this.#sample(kpi, value ?? 1, undefined);
  }

  /** A redacted copy of flat metadata, or undefined when it is not flat. */
  #metadata(metadata: unknown): BusinessMetadata | undefined {
    const copy = copyMetadata(metadata);
    if (copy === undefined || this.#redactor === undefined) return copy;
    return Object.freeze(this.#redactor.redactAttributes(copy));
  }

  /** Adds a sample to every ring of a ring KPI and sets its gauge. */
  #sample(kpi: Kpi, value: number, only: Dimension | undefined): void {
    const now = this.clock.now();
    const source = kpi.source;
    for (const [dimension, ring] of kpi.rings) {
      if (only !== undefined && dimension !== only) continue;
      if (!ring.add(this.#cursors[dimension].at(now), value)) {
        this.#drop('late', `${kpi.name}: a sample older than every kept period`);
      }
    }
    const current = source.current(this.#cursors[source.dimension].at(now).ordinal);
    if (current !== undefined) {
      kpi.gauge.set(current);
      if (kpi.target !== undefined && kpi.target !== 0) {
        kpi.achievementGauge?.set(current / kpi.target);
      }
    }
  }

  #setTarget(kpi: Kpi, target: number): void {
    kpi.target = target;
    const component = this.#component;
    const tags = { kpi: kpi.name };
    kpi.targetGauge ??= this.#monitor.gauge(METRIC.target, { component }).bind(tags);
    kpi.achievementGauge ??= this.#monitor.gauge(METRIC.achievement, { component }).bind(tags);
    kpi.targetGauge.set(target);
  }

  #addKpi(
    name: string,
    source: KpiSource,
    rings: ReadonlyMap<Dimension, PeriodRing>,
    listed: boolean,
  ): Kpi | undefined {
    if (this.#kpis.size >= this.#maxKpis) {
      this.#kpiLimit(name);
      return undefined;
    }
    const kpi: Kpi = {
      name,
      source,
      rings,
      listed,
      target: undefined,
      metadata: undefined,
      gauge: this.#monitor.gauge(METRIC.kpi, { component: this.#component }).bind({ kpi: name }),
      targetGauge: undefined,
      achievementGauge: undefined,
    };
    this.#kpis.set(name, kpi);
    return kpi;
  }

  #kpiLimit(name: string): void {
    this.#kpisDropped++;
    this.#drop(
      'kpi_limit',
      `KPI ${name} dropped: maxKpis (${this.#maxKpis}) reached`,
      DiagnosticCode.METRIC_LIMIT,
    );
  }

  #ringKpi(
    name: string,
    dimensions: readonly Dimension[],
    aggregation: Aggregation,
    listed: boolean,
  ): Kpi | undefined {
    if (this.#kpis.size >= this.#maxKpis) {
      this.#kpiLimit(name);
      return undefined;
    }
    const rings = new Map<Dimension, PeriodRing>();
    for (const d of dimensions) rings.set(d, new PeriodRing(this.#retention[d]));
    const primary = dimensions[0]!;
    return this.#addKpi(
      name,
      new RingSource(primary, aggregation, rings.get(primary)!),
      rings,
      listed,
    );
  }

  /**
   * What is known of a KPI: its current value, target, trend, latest metadata and the
   * values of its last periods (as many as the trend rule reads). Undefined for an
   * unknown name.
   *
   * @example
   * ```ts
   * const mrr = outcomes.kpi('monthly_recurring_revenue');
   * console.log(mrr?.current, mrr?.trend, mrr?.history);
   * ```
   */
  kpi(name: string): KpiSummary | undefined {
    const kpi = this.#kpis.get(name);
    if (kpi === undefined) return undefined;
    this.#refresh(this.clock.now());
    const now = this.clock.now();
    const period = this.#cursors[kpi.source.dimension].at(now);
    const points = kpi.source.points(period.ordinal, this.#trend.periods);
    const history = points.x.map((ordinal, i) => ({
      period: this.#labelOfOrdinal(kpi.source.dimension, ordinal, period),
      value: points.y[i]!,
    }));
    return {
      name,
      dimension: kpi.source.dimension,
      aggregation: kpi.source.aggregation,
      current: kpi.source.current(period.ordinal),
      target: kpi.target,
      trend: classifyTrend(points.x, points.y, this.#trend),
      metadata: kpi.metadata,
      history,
    };
  }

  #labelOfOrdinal(dimension: Dimension, ordinal: number, current: Period): string {
    // Hop back from the current period by whole periods (ordinals are consecutive).
    let period = current;
    for (let guard = 0; period.ordinal > ordinal && guard < 10_000; guard++) {
      period = this.#calendar.periodOf(dimension, period.start - 1);
    }
    return this.#calendar.label(dimension, period);
  }

  // ---- engagement -------------------------------------------------------------------

  /**
   * Marks a user active now: counted in today's and this month's distinct users.
   * `startSession` does it for the session's user. Never throws.
   *
   * @example
   * ```ts
   * outcomes.trackActivity('user_123');
   * ```
   */
  trackActivity(userId: string): void {
    try {
      if (typeof userId !== 'string' || userId.length === 0) {
        this.#drop('invalid', 'trackActivity: userId must be a non-empty string');
        return;
      }
      this.#rollUsers(this.clock.now());
      this.#usersTracked = true;
      this.#today.add(userId);
      this.#month.add(userId);
    } catch (error) {
      this.#internal(error, 'trackActivity');
    }
  }

  /**
   * Starts a session (and marks its user active). Starting more than `maxSessions`
   * evicts the oldest, counted in `business.sessions.evicted`; sessions idle longer
   * than `sessionTimeoutMinutes` end at their last activity. Never throws.
   *
   * @example
   * ```ts
   * outcomes.startSession(req.sessionID, req.user.id);
   * ```
   */
  startSession(sessionId: string, userId?: string): void {
    try {
      if (typeof sessionId !== 'string' || sessionId.length === 0) {
        this.#drop('invalid', 'startSession: sessionId must be a non-empty string');
        return;
      }
      const now = this.clock.now();
      this.#expireSessions(now);
      if (userId !== undefined) this.trackActivity(userId);
      const sessions = this.#sessions;
      if (sessions.has(sessionId)) this.#endAt(sessionId, now);
      if (sessions.size >= this.#maxSessions) {
        const oldest = sessions.keys().next().value;
        if (oldest !== undefined) {
          sessions.delete(oldest);
          this.#sessionsEvicted++;
          this.#sessionsEvictedCounter.inc();
        }
      }
      sessions.set(sessionId, {
        userId: typeof userId === 'string' ? userId : undefined,
        start: now,
        lastSeen: now,
        pages: 0,
      });
      this.#sessionsActive.set(sessions.size);
    } catch (error) {
      this.#internal(error, 'startSession');
    }
  }

  /**
   * Counts a page view in a session in flight. Never throws.
   *
   * @example
   * ```ts
   * outcomes.pageView(req.sessionID);
   * ```
   */
  pageView(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) {
      this.#drop('unknown_session', `pageView: no session ${String(sessionId)} in flight`);
      return;
    }
    session.pages++;
    session.lastSeen = this.clock.now();
    // Keep the Map in order of last activity, so expiry looks at the front only.
    this.#sessions.delete(sessionId);
    this.#sessions.set(sessionId, session);
  }

  /**
   * Ends a session: its duration (minutes), page views and whether it bounced (at
   * most one page view) go to the period it ends in. Never throws.
   *
   * @example
   * ```ts
   * outcomes.endSession(req.sessionID);
   * ```
   */
  endSession(sessionId: string): void {
    try {
      if (!this.#sessions.has(sessionId)) {
        this.#drop('unknown_session', `endSession: no session ${String(sessionId)} in flight`);
        return;
      }
      this.#endAt(sessionId, this.clock.now());
    } catch (error) {
      this.#internal(error, 'endSession');
    }
  }

  #endAt(sessionId: string, end: number): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    this.#sessions.delete(sessionId);
    this.#sessionsActive.set(this.#sessions.size);
    const period = this.#cursors[this.#engagementDimension].at(end);
    const r = this.#sessionRings;
    r.ended.add(period, 1);
    r.minutes.add(period, Math.max(0, end - session.start) / 60_000);
    r.pages.add(period, session.pages);
    r.bounces.add(period, session.pages <= 1 ? 1 : 0);
  }

  #expireSessions(now: number): void {
    for (const [id, session] of this.#sessions) {
      if (now - session.lastSeen < this.#sessionTimeoutMs) break;
      this.#endAt(id, session.lastSeen);
    }
  }

  /**
   * Defines a conversion funnel; its conversion rate (last step / first step, per
   * period) is the KPI `<name>_conversion_rate`. Throws a `TypeError` naming a bad field.
   *
   * @example
   * ```ts
   * outcomes.defineFunnel({ name: 'marketplace', steps: ['view', 'cart', 'purchase'], target: 0.05 });
   * outcomes.funnelStep('marketplace', 'view');
   * ```
   */
  defineFunnel(definition: FunnelDefinition): void {
    if (definition === null || typeof definition !== 'object' || !isName(definition.name)) {
      throw new TypeError('defineFunnel: name must be a non-empty string');
    }
    const { name, steps, target } = definition;
    if (
      !Array.isArray(steps) ||
      steps.length < 2 ||
      steps.length > 20 ||
      !steps.every(isName) ||
      new Set(steps).size !== steps.length
    ) {
      throw new TypeError('defineFunnel: steps must be 2 to 20 distinct step names');
    }
    if (target !== undefined && !isFiniteNumber(target)) {
      throw new TypeError('defineFunnel: target must be a finite number');
    }
    if (this.#funnels.has(name))
      throw new TypeError(`defineFunnel: funnel ${name} already defined`);
    const d = this.#engagementDimension;
    const rings = steps.map(() => new PeriodRing(this.#retention[d]));
    const kpi = this.#addKpi(
      `${name}_conversion_rate`,
      new RatioSource(d, rings[rings.length - 1]!, rings[0]!),
      new Map(),
      true,
    );
    if (kpi === undefined) return;
    if (target !== undefined) this.#setTarget(kpi, target);
    this.#funnels.set(name, { steps: [...steps], rings });
  }

  /**
   * Counts entries into a funnel step (default 1). Never throws.
   *
   * @example
   * ```ts
   * outcomes.funnelStep('marketplace', 'purchase');
   * ```
   */
  funnelStep(funnel: string, step: string, count = 1): void {
    const f = this.#funnels.get(funnel);
    const index = f === undefined ? -1 : f.steps.indexOf(step);
    if (f === undefined || index < 0 || !isFiniteNumber(count) || count < 0) {
      this.#drop(
        'invalid',
        `funnelStep: no step ${String(step)} in funnel ${String(funnel)}, or a bad count`,
      );
      return;
    }
    f.rings[index]!.add(this.#cursors[this.#engagementDimension].at(this.clock.now()), count);
  }

  /**
   * A funnel's counts and rates over the current period (the latest with entries).
   *
   * @example
   * ```ts
   * const f = outcomes.funnel('marketplace');
   * console.log(f?.conversionRate, f?.steps.map((s) => s.rateFromPrevious));
   * ```
   */
  funnel(name: string): FunnelReport | undefined {
    const f = this.#funnels.get(name);
    if (f === undefined) return undefined;
    const first = f.rings[0]!;
    const now = this.#cursors[this.#engagementDimension].at(this.clock.now()).ordinal;
    let ordinal: number | undefined;
    for (let k = 0; k < first.size; k++) {
      const o = first.ordinalAt(first.index(k));
      if (o <= now) {
        ordinal = o;
        break;
      }
    }
    const counts = f.rings.map((ring) => {
      if (ordinal === undefined) return 0;
      const i = ring.find(ordinal);
      return i < 0 ? 0 : ring.sumAt(i);
    });
    return {
      name,
      steps: f.steps.map((step, i) => ({
        step,
        count: counts[i]!,
        rateFromPrevious: i === 0 ? 1 : counts[i - 1]! > 0 ? counts[i]! / counts[i - 1]! : 0,
      })),
      conversionRate: counts[0]! > 0 ? counts[counts.length - 1]! / counts[0]! : 0,
    };
  }

  /**
   * Counts impressions of something clickable (recommendations, a banner); with
   * {@link BusinessOutcomes.recordClick} it gives the KPI `<name>_click_rate`
   * (clicks / impressions per period). Never throws.
   *
   * @example
   * ```ts
   * outcomes.recordImpression('recommendation', items.length);
   * ```
   */
  recordImpression(name: string, count = 1): void {
    this.#click(name, count, 'impressions');
  }

  /**
   * Counts clicks on something whose impressions are counted. Never throws.
   *
   * @example
   * ```ts
   * outcomes.recordClick('recommendation');
   * ```
   */
  recordClick(name: string, count = 1): void {
    this.#click(name, count, 'clicks');
  }

  #click(name: string, count: number, which: 'impressions' | 'clicks'): void {
    try {
      if (!isName(name) || !isFiniteNumber(count) || count < 0) {
        this.#drop('invalid', `${which}: bad name or count`);
        return;
      }
      let entry = this.#clickThrough.get(name);
      if (entry === undefined) {
        const d = this.#engagementDimension;
        const created = {
          impressions: new PeriodRing(this.#retention[d]),
          clicks: new PeriodRing(this.#retention[d]),
        };
        const kpi = this.#addKpi(
          `${name}_click_rate`,
          new RatioSource(d, created.clicks, created.impressions),
          new Map(),
          true,
        );
        if (kpi === undefined) return;
        this.#clickThrough.set(name, created);
        entry = created;
      }
      entry[which].add(this.#cursors[this.#engagementDimension].at(this.clock.now()), count);
    } catch (error) {
      this.#internal(error, which);
    }
  }

  // ---- revenue and quality ----------------------------------------------------------

  /**
   * Records revenue figures (monthly KPIs `monthly_recurring_revenue`,
   * `paying_customers`, `churn_rate`). Never throws.
   *
   * @example
   * ```ts
   * outcomes.recordRevenue({ mrr: 125000, customers: 2778, churnRate: 0.036, mrrTarget: 150000 });
   * ```
   */
  recordRevenue(input: RevenueInput): void {
    if (input === null || typeof input !== 'object') {
      this.#drop('invalid', 'recordRevenue: input must be an object');
      return;
    }
    if (input.mrr !== undefined) {
      this.recordMetric({
        metricName: 'monthly_recurring_revenue',
        value: input.mrr,
        dimension: 'monthly',
        ...(input.mrrTarget !== undefined && { target: input.mrrTarget }),
      });
    }
    if (input.customers !== undefined)
      this.#internalSample('paying_customers', 'monthly', 'last', input.customers);
    if (input.churnRate !== undefined)
      this.#internalSample('churn_rate', 'monthly', 'last', input.churnRate);
  }

  /**
   * Records a model accuracy sample (0..1); `model_accuracy_avg` is their mean over
   * the latest period. Never throws.
   *
   * @example
   * ```ts
   * outcomes.recordModelAccuracy(0.87);
   * ```
   */
  recordModelAccuracy(accuracy: number): void {
    this.#internalSample('model_accuracy', this.#engagementDimension, 'mean', accuracy);
  }

  /**
   * Records a recommendation relevance sample (0..1); `recommendation_relevance` is
   * their mean over the latest period. Never throws.
   *
   * @example
   * ```ts
   * outcomes.recordRecommendationRelevance(0.82);
   * ```
   */
  recordRecommendationRelevance(relevance: number): void {
    this.#internalSample('recommendation_relevance', this.#engagementDimension, 'mean', relevance);
  }

  #internalSample(
    name: string,
    dimension: Dimension,
    aggregation: Aggregation,
    value: number,
  ): void {
    try {
      if (!isFiniteNumber(value)) {
        this.#drop('invalid', `${name}: value must be a finite number`);
        return;
      }
      const kpi = this.#kpis.get(name) ?? this.#ringKpi(name, [dimension], aggregation, false);
      if (kpi !== undefined) this.#sample(kpi, value, undefined);
    } catch (error) {
      this.#internal(error, name);
    }
  }

  #current(name: string, now: number): number | undefined {
    const kpi = this.#kpis.get(name);
    if (kpi === undefined) return undefined;
    return kpi.source.current(this.#cursors[kpi.source.dimension].at(now).ordinal);
  }

  /** System reliability, `1 − errors / calls`, or undefined without calls. */
  #reliability(): number | undefined {
    const monitor = this.#monitor;
    if (typeof monitor.getRates !== 'function') return undefined;
    const window = this.#reliabilityWindow;
    let sources = this.#reliabilitySources;
    if (sources === undefined) {
      if (typeof monitor.snapshot !== 'function') return undefined;
      const snapshot = monitor.snapshot({
        windows: [],
        digests: false,
        cumulativeQuantiles: false,
      });
      sources = snapshot.series
        .filter((s) => s.type === 'timer' && s.component !== 'prsm')
        .map((s) => ({ name: s.name, component: s.component, tags: s.tags }));
    }
    let calls = 0;
    let errors = 0;
    for (const s of sources) {
      const rates = monitor.getRates(s.name, {
        ...(s.component !== undefined && { component: s.component }),
        ...(s.tags !== undefined && { tags: s.tags }),
        ...(window !== undefined && { windowSeconds: window }),
      });
      if (rates === undefined) continue;
      calls += rates.count;
      errors += rates.errors;
    }
    return calls > 0 ? 1 - errors / calls : undefined;
  }

  // ---- refresh, dashboard, publish --------------------------------------------------

  /** Closes the user sketches' periods that ended before `now`. */
  #rollUsers(now: number): void {
    const day = this.#cursors.daily.at(now);
    const today = this.#todayPeriod;
    if (today === undefined || day.ordinal !== today.ordinal) {
      if (today !== undefined) {
        if (this.#usersTracked) this.#dau()?.ring.set(today, this.#today.estimate());
        this.#seenBefore.merge(this.#today);
        this.#today.clear();
        this.#returnRate = 0;
      }
      this.#todayPeriod = day;
    }
    const month = this.#cursors.monthly.at(now);
    const thisMonth = this.#monthPeriod;
    if (thisMonth === undefined || month.ordinal !== thisMonth.ordinal) {
      if (thisMonth !== undefined && this.#usersTracked) {
        this.#mau()?.ring.set(thisMonth, this.#month.estimate());
      }
      this.#month.clear();
      this.#monthPeriod = month;
    }
  }

  #dau(): RingSource | undefined {
    return this.#derivedRing('daily_active_users', 'daily', true);
  }

  #mau(): RingSource | undefined {
    return this.#derivedRing('monthly_active_users', 'monthly', false);
  }

  #derivedRing(name: string, dimension: Dimension, listed: boolean): RingSource | undefined {
    const kpi = this.#kpis.get(name) ?? this.#ringKpi(name, [dimension], 'last', listed);
    return kpi?.source instanceof RingSource ? kpi.source : undefined;
  }

  /** Writes the live estimates (DAU, MAU, return rate, uptime) into their periods. */
  #refresh(now: number): void {
    this.#expireSessions(now);
    this.#rollUsers(now);
    if (this.#usersTracked) {
      const today = this.#today.estimate();
      this.#dau()?.ring.set(this.#todayPeriod!, today);
      this.#mau()?.ring.set(this.#monthPeriod!, this.#month.estimate());
      if (today > 0) {
        const union = this.#seenBefore.clone();
        union.merge(this.#today);
        const returning = today + this.#seenBefore.estimate() - union.estimate();
        this.#returnRate = Math.min(1, Math.max(0, returning / today));
      }
    }
    const reliability = this.#reliability();
    if (reliability !== undefined) {
      const uptime = this.#derivedRing('system_uptime', 'daily', true);
      uptime?.ring.set(this.#cursors.daily.at(now), reliability * 100);
      this.#lastReliability = reliability;
    }
  }

  #lastReliability: number | undefined;

  /**
   * The spec's `GET /business-dashboard` body: every listed KPI's current value and
   * trend, progress towards targets, and the user, revenue, growth and quality groups
   * (0 where there is no data yet); `generated_at` from the clock. Also writes every
   * value to the monitor's gauges (see {@link BusinessOutcomes.publish}).
   *
   * @example
   * ```ts
   * app.get('/api/v1/monitoring/business-dashboard', (_req, res) => res.json(outcomes.dashboard()));
   * ```
   */
  dashboard(): BusinessDashboard {
    const now = this.clock.now();
    this.#refresh(now);
    const kpis: Record<string, number> = {};
    const trends: Record<string, Trend> = {};
    const targets: Record<string, TargetProgress> = {};
    for (const kpi of this.#kpis.values()) {
      if (!kpi.listed) continue;
      const source = kpi.source;
      const ordinal = this.#cursors[source.dimension].at(now).ordinal;
      const current = source.current(ordinal);
      if (current === undefined) continue;
      kpis[kpi.name] = current;
      const points = source.points(ordinal, this.#trend.periods);
      trends[kpi.name] = classifyTrend(points.x, points.y, this.#trend);
      kpi.gauge.set(current);
      if (kpi.target !== undefined && kpi.target !== 0) {
        const achievement = current / kpi.target;
        targets[kpi.name] = { current, target: kpi.target, achievement: round2(achievement) };
        kpi.achievementGauge?.set(achievement);
      }
    }
    const groups = this.#groups(now);
    for (const [group, values] of Object.entries(groups)) {
      for (const [metric, value] of Object.entries(values as unknown as Record<string, number>)) {
        this.#groupGauge(group, metric).set(value);
      }
    }
    return { kpis, trends, targets, ...groups, generated_at: isoSeconds(now) };
  }

  /** The dashboard's four groups of derived metrics at `now` (after `#refresh`). */
  #groups(now: number): DashboardGroups {
    return {
      user_metrics: this.#userMetrics(now),
      revenue_metrics: this.#revenueMetrics(now),
      growth_metrics: this.#growthMetrics(now),
      quality_metrics: this.#qualityMetrics(now),
    };
  }

  #groupGauge(group: string, metric: string): BoundGauge {
    const key = `${group}\u0000${metric}`;
    let gauge = this.#groupGauges.get(key);
    if (gauge === undefined) {
      gauge = this.#monitor
        .gauge(METRIC.group, { component: this.#component })
        .bind({ group, metric });
      this.#groupGauges.set(key, gauge);
    }
    return gauge;
  }

  #userMetrics(now: number): UserMetrics {
    const r = this.#sessionRings;
    const current = this.#cursors[this.#engagementDimension].at(now).ordinal;
    let i = -1;
    for (let k = 0; k < r.ended.size; k++) {
      const j = r.ended.index(k);
      if (r.ended.ordinalAt(j) <= current) {
        i = j;
        break;
      }
    }
    const ended = i < 0 ? 0 : r.ended.sumAt(i);
    const ordinal = i < 0 ? NaN : r.ended.ordinalAt(i);
    const sumOf = (ring: PeriodRing): number => {
      const j = ring.find(ordinal);
      return j < 0 ? 0 : ring.sumAt(j);
    };
    return {
      session_duration_avg: ended > 0 ? sumOf(r.minutes) / ended : 0,
      pages_per_session: ended > 0 ? sumOf(r.pages) / ended : 0,
      bounce_rate: ended > 0 ? sumOf(r.bounces) / ended : 0,
      return_user_rate: this.#returnRate,
    };
  }

  #revenueMetrics(now: number): RevenueMetrics {
    const mrr = this.#current('monthly_recurring_revenue', now) ?? 0;
    const customers = this.#current('paying_customers', now);
    const users = customers ?? (this.#usersTracked ? this.#month.estimate() : 0);
    const arpu = users > 0 ? mrr / users : 0;
    const churn = this.#current('churn_rate', now) ?? 0;
    return {
      monthly_recurring_revenue: mrr,
      average_revenue_per_user: arpu,
      customer_lifetime_value: churn > 0 ? arpu / churn : 0,
    };
  }

  #growthMetrics(now: number): GrowthMetrics {
    const month = this.#cursors.monthly.at(now).ordinal;
    const growth = (ring: PeriodRing | undefined, latest: number, before: number): number => {
      if (ring === undefined) return 0;
      const a = ring.find(latest);
      const b = ring.find(before);
      if (a < 0 || b < 0) return 0;
      const base = ring.valueAt(b, 'last');
      return base === 0 ? 0 : (ring.valueAt(a, 'last') - base) / base;
    };
    const mau = this.#usersTracked ? this.#mau()?.ring : undefined;
    const mrrKpi = this.#kpis.get('monthly_recurring_revenue');
    const mrrRing = mrrKpi?.rings.get('monthly');
    const customers = this.#current('paying_customers', now);
    const users = this.#usersTracked ? this.#month.estimate() : (customers ?? 0);
    return {
      user_growth_rate: growth(mau, month - 1, month - 2),
      revenue_growth_rate:
        mrrRing === undefined
          ? 0
          : growth(mrrRing, latestOrdinal(mrrRing, month), latestOrdinal(mrrRing, month) - 1),
      market_penetration: this.#marketSize > 0 ? users / this.#marketSize : 0,
    };
  }

  #qualityMetrics(now: number): QualityMetrics {
    return {
      model_accuracy_avg: this.#current('model_accuracy', now) ?? 0,
      recommendation_relevance: this.#current('recommendation_relevance', now) ?? 0,
      system_reliability: this.#lastReliability ?? 0,
    };
  }

  /**
   * Writes every KPI and dashboard value to the monitor's gauges now (also done by
   * `dashboard()` and every `publishIntervalSeconds`). Never throws.
   *
   * @example
   * ```ts
   * outcomes.publish();
   * await monitor.forceFlush();
   * ```
   */
  publish(): void {
    try {
      this.dashboard();
    } catch (error) {
      this.#internal(error, 'publish');
    }
  }

  /**
   * The dashboard as the spec's `POST /business-metrics` bodies, for a server that
   * stores business metrics and builds its own `GET /business-dashboard` from them
   * (`@prsm/server` does; the REST exporter posts these, each only when it changed):
   *
   * - every listed KPI with a current value, with its dimension, target and metadata,
   *   plus two metadata entries for the server's trend (`@prsm/core`'s keys; left out
   *   when the metadata has no room for them under 64 keys): `prsm_period`, the
   *   ordinal of the period the value belongs to (so a KPI's body changes, and is
   *   posted again, in each period it has a value for), and for a KPI of aggregation
   *   `sum` (outcome counts) `prsm_aggregation: 'sum'`, so the server fits its trend
   *   over the complete periods before the current one, a period without a sample
   *   counting 0, as this package does;
   * - the derived metrics of `user_metrics`, `revenue_metrics`, `growth_metrics` and
   *   `quality_metrics` under their dashboard names (`session_duration_avg`,
   *   `average_revenue_per_user`, `user_growth_rate`, `system_reliability`...), with
   *   the dimension they are measured over (no target), from the first time each is
   *   not 0 (before that the dashboard shows 0, as the server does for a missing
   *   one). `monthly_recurring_revenue` is its KPI's body; a listed KPI named like a
   *   derived metric replaces it.
   *
   * @example
   * ```ts
   * for (const body of outcomes.businessMetricBodies()) await client.post('/business-metrics', body);
   * ```
   */
  businessMetricBodies(): BusinessMetricBody[] {
    const now = this.clock.now();
    this.#refresh(now);
    const out: BusinessMetricBody[] = [];
    for (const kpi of this.#kpis.values()) {
      if (!kpi.listed) continue;
      const ordinal = this.#cursors[kpi.source.dimension].at(now).ordinal;
      const value = kpi.source.current(ordinal);
      const period = kpi.source.currentPeriod(ordinal);
      if (value === undefined) continue;
      let metadata = kpi.metadata;
      const sum = kpi.source.aggregation === 'sum';
      if (
        period !== undefined &&
        Object.keys(metadata ?? {}).length + (sum ? 2 : 1) <= METADATA_MAX_KEYS
      ) {
        metadata = {
          ...metadata,
          [KPI_PERIOD_KEY]: period,
          ...(sum && { [KPI_AGGREGATION_KEY]: 'sum' }),
        };
      }
      out.push({
        metric_name: kpi.name,
        value,
        dimension: kpi.source.dimension,
        ...(kpi.target !== undefined && { target: kpi.target }),
        ...(metadata !== undefined && { metadata }),
      });
    }
    const groups = this.#groups(now);
    for (const values of Object.values(groups)) {
      for (const [metric, value] of Object.entries(values as unknown as Record<string, number>)) {
        if (metric === 'monthly_recurring_revenue' || this.#kpis.get(metric)?.listed === true) {
          continue;
        }
        if (value === 0 && !this.#offered.has(metric)) continue;
        this.#offered.add(metric);
        const dimension = GROUP_DIMENSIONS[metric] ?? this.#engagementDimension;
        out.push({ metric_name: metric, value, dimension });
      }
    }
    return out;
  }

  /**
   * Counts and sizes, for capacity checks.
   *
   * @example
   * ```ts
   * console.log(outcomes.stats().bytes);
   * ```
   */
  stats(): BusinessOutcomesStats {
    let bytes = 4 * HyperLogLog.BYTES;
    for (const kpi of this.#kpis.values())
      for (const ring of kpi.rings.values()) bytes += ring.bytes();
    for (const f of this.#funnels.values()) for (const ring of f.rings) bytes += ring.bytes();
    for (const c of this.#clickThrough.values()) bytes += c.clicks.bytes() + c.impressions.bytes();
    for (const ring of Object.values(this.#sessionRings)) bytes += ring.bytes();
    return {
      kpis: this.#kpis.size,
      kpisDropped: this.#kpisDropped,
      sessionsInFlight: this.#sessions.size,
      sessionsEvicted: this.#sessionsEvicted,
      bytes,
    };
  }

  /**
   * Stops the publishing timer after one last `publish()`. Recording still works.
   *
   * @example
   * ```ts
   * outcomes.shutdown();
   * await monitor.shutdown();
   * ```
   */
  shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.publish();
  }

  /** Reports a dropped record (the decorator's hooks). @internal */
  reportDropped(message: string): void {
    this.#drop('invalid', message);
  }

  /** Reports an error caught around user hooks. @internal */
  reportFailure(error: unknown, where: string): void {
    this.#internal(error, where);
  }

  #drop(
    reason: string,
    message: string,
    code: DiagnosticCodeValue = DiagnosticCode.INVALID_VALUE,
  ): void {
    try {
      this.#monitor.diagnostics?.report(code, message);
      this.#monitor.counter(METRIC.dropped, { component: this.#component }).inc(1, { reason });
    } catch {
      // Nothing to report to.
    }
  }

  #internal(error: unknown, where: string): void {
    try {
      this.#monitor.diagnostics?.error(DiagnosticCode.INTERNAL_ERROR, error, {
        where: `BusinessOutcomes.${where}`,
      });
    } catch {
      // Nothing to report to.
    }
  }
}

/** The newest ordinal of a ring at or before `current`, or NaN. */
function latestOrdinal(ring: PeriodRing, current: number): number {
  for (let k = 0; k < ring.size; k++) {
    const o = ring.ordinalAt(ring.index(k));
    if (o <= current) return o;
  }
  return NaN;
}

/** Checks a dimension option (one or a list); throws a `TypeError` naming it. @internal */
export function resolveDimensions(value: unknown, option: string): readonly Dimension[] {
  if (value === undefined) return ['daily'];
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every(isDimension) || new Set(list).size !== list.length) {
    throw new TypeError(
      `${option} must be ${DIMENSIONS.map((d) => `'${d}'`).join(', ')} or a list of them`,
    );
  }
  return list;
}
