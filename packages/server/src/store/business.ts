/**
 * The spec's `GET /business-dashboard` built from the stored business metrics: the
 * latest value of each metric in `kpis` or in the spec's four groups (by name), the
 * trend of each KPI by the rule `@prsm/business-outcomes` uses in process (a
 * least-squares slope over the last periods, `classifyKpiTrend` of `@prsm/core`), and
 * progress towards the latest target. May import better-sqlite3's types, `@prsm/core`
 * and ./types.js.
 */
import type Database from 'better-sqlite3';
import {
  classifyKpiTrend,
  DEFAULT_KPI_TREND_RULE,
  KPI_AGGREGATION_KEY,
  KPI_PERIOD_KEY,
  type KpiTrend,
  type ResolvedKpiTrendRule,
} from '@prsm/core';

import type { BusinessDashboard } from './types.js';

/** One of the spec's four groups of derived business metrics. */
type DashboardGroup = 'user_metrics' | 'revenue_metrics' | 'growth_metrics' | 'quality_metrics';

/**
 * Where the dashboard puts a business metric of each of these names (what
 * `BusinessOutcomes.businessMetricBodies()` posts for its groups); any other name is
 * a KPI. `monthly_recurring_revenue` is a KPI that the spec also repeats under
 * `revenue_metrics`. @internal
 */
export const DASHBOARD_GROUPS: Readonly<Record<string, DashboardGroup>> = {
  session_duration_avg: 'user_metrics',
  pages_per_session: 'user_metrics',
  bounce_rate: 'user_metrics',
  return_user_rate: 'user_metrics',
  average_revenue_per_user: 'revenue_metrics',
  customer_lifetime_value: 'revenue_metrics',
  user_growth_rate: 'growth_metrics',
  revenue_growth_rate: 'growth_metrics',
  market_penetration: 'growth_metrics',
  model_accuracy_avg: 'quality_metrics',
  recommendation_relevance: 'quality_metrics',
  system_reliability: 'quality_metrics',
};

const MRR = 'monthly_recurring_revenue';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * A stored row's period ordinal in its dimension, in UTC (consecutive periods have
 * consecutive ordinals): hours, days, ISO weeks (1970-01-01 was a Thursday, so
 * `(day + 3) / 7` turns on Mondays), months; any other dimension counts in days.
 * SQLite divides integers by truncation, which is the floor for these positive times.
 */
const PERIOD_SQL = `CASE dimension
  WHEN 'hourly' THEN recorded_at / ${HOUR}
  WHEN 'weekly' THEN (recorded_at / ${DAY} + 3) / 7
  WHEN 'monthly' THEN CAST(strftime('%Y', recorded_at / 1000, 'unixepoch') AS INTEGER) * 12
    + CAST(strftime('%m', recorded_at / 1000, 'unixepoch') AS INTEGER) - 1
  ELSE recorded_at / ${DAY} END`;

/** The period ordinal of `ms` in `dimension`, as {@link PERIOD_SQL} computes it. */
function periodOrdinal(dimension: string | null, ms: number): number {
  switch (dimension) {
    case 'hourly':
      return Math.floor(ms / HOUR);
    case 'weekly':
      return Math.floor((Math.floor(ms / DAY) + 3) / 7);
    case 'monthly': {
      const d = new Date(ms);
      return d.getUTCFullYear() * 12 + d.getUTCMonth();
    }
    default:
      return Math.floor(ms / DAY);
  }
}

interface LatestRow {
  metric_name: string;
  value: number;
  dimension: string | null;
  aggregation: string | null;
}

interface PeriodRow {
  metric_name: string;
  dimension: string | null;
  period: number;
  value: number;
}

/**
 * Rows stored before these times (ms) are older than a trend window of their
 * dimension (its periods plus one), and are not read.
 */
interface Cutoffs {
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
}

interface Statements {
  readonly latest: Database.Statement<[], LatestRow>;
  readonly targets: Database.Statement<[], { metric_name: string; target: number }>;
  readonly periods: Database.Statement<[Cutoffs], PeriodRow>;
}

/** The distinct metric names, each found by one index seek past the one before. */
const NAMES_CTE = `WITH RECURSIVE names(name) AS (
  SELECT (SELECT MIN(metric_name) FROM business_metrics)
  UNION ALL
  SELECT (SELECT MIN(metric_name) FROM business_metrics WHERE metric_name > names.name)
  FROM names WHERE names.name IS NOT NULL)`;

const statements = new WeakMap<Database.Database, Statements>();

function statementsOf(db: Database.Database): Statements {
  let s = statements.get(db);
  if (s === undefined) {
    s = {
      // The latest row of each metric through the (metric_name, recorded_at, id) index:
      // one seek per name (the names found by skipping from one to the next), not a
      // scan of every row ever stored.
      latest: db.prepare<[], LatestRow>(
        `${NAMES_CTE}
         SELECT b.metric_name, b.value, b.dimension,
           json_extract(b.metadata, '$.${KPI_AGGREGATION_KEY}') AS aggregation
         FROM names JOIN business_metrics b ON b.id = (
           SELECT x.id FROM business_metrics x WHERE x.metric_name = names.name
           ORDER BY x.recorded_at DESC, x.id DESC LIMIT 1)
         ORDER BY b.metric_name`,
      ),
      targets: db.prepare<[], { metric_name: string; target: number }>(
        `${NAMES_CTE}
         SELECT b.metric_name, b.target
         FROM names JOIN business_metrics b ON b.id = (
           SELECT x.id FROM business_metrics x
           WHERE x.metric_name = names.name AND x.target IS NOT NULL
           ORDER BY x.recorded_at DESC, x.id DESC LIMIT 1)`,
      ),
      // The last value stored in each period of each metric (and dimension): the period
      // the sender names (KPI_PERIOD_KEY), else the one the row was stored in.
      periods: db.prepare<[Cutoffs], PeriodRow>(
        `SELECT metric_name, dimension, period, value FROM (
           SELECT metric_name, dimension, period, value,
             ROW_NUMBER() OVER (
               PARTITION BY metric_name, dimension, period ORDER BY recorded_at DESC, id DESC
             ) AS rn
           FROM (SELECT id, metric_name, dimension, value, recorded_at,
               CASE json_type(metadata, '$.${KPI_PERIOD_KEY}')
                 WHEN 'integer' THEN json_extract(metadata, '$.${KPI_PERIOD_KEY}')
                 ELSE ${PERIOD_SQL} END AS period
             FROM business_metrics
             WHERE recorded_at >= @monthly AND (
               dimension = 'monthly'
               OR (dimension = 'weekly' AND recorded_at >= @weekly)
               OR (dimension = 'hourly' AND recorded_at >= @hourly)
               OR recorded_at >= @daily)))
         WHERE rn = 1 ORDER BY metric_name, period`,
      ),
    };
    statements.set(db, s);
  }
  return s;
}

/**
 * A KPI's trend from the last value stored in each of its periods, by the rule of
 * `BusinessOutcomes`: for a `sum` KPI (outcome counts, marked by the
 * `KPI_AGGREGATION_KEY` metadata entry) the complete periods before the current one,
 * from the first with a value in the window read, a period without one counting 0
 * (`BusinessOutcomes` posts a sum KPI in every period it runs, 0 included, so a gap
 * is a time the service did not run); for any other, the periods with a value among
 * the last `rule.periods`, the current one included.
 */
function trendOf(
  periods: readonly PeriodRow[],
  sum: boolean,
  current: number,
  rule: ResolvedKpiTrendRule,
): KpiTrend {
  const n = rule.periods;
  const x: number[] = [];
  const y: number[] = [];
  if (periods.length === 0) return 'stable';
  if (sum) {
    let k = 0;
    for (let o = Math.max(periods[0]!.period, current - n); o < current; o++) {
      while (k < periods.length && periods[k]!.period < o) k++;
      x.push(o);
      y.push(k < periods.length && periods[k]!.period === o ? periods[k]!.value : 0);
    }
  } else {
    for (const p of periods) {
      if (p.period <= current - n || p.period > current) continue;
      x.push(p.period);
      y.push(p.value);
    }
  }
  return classifyKpiTrend(x, y, rule);
}

/** ISO 8601 to the second, as the spec writes `generated_at`. */
function isoSeconds(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/**
 * The spec's business dashboard from the `business_metrics` table at `now`: the latest
 * value of each metric, in `kpis` or in the group {@link DASHBOARD_GROUPS} names (the
 * spec's keys of the four groups are 0 until stored, as in `BusinessOutcomes`), each
 * KPI's trend over the last `rule.periods` periods of its dimension (each value in the
 * period its body names in `KPI_PERIOD_KEY` metadata, else in the UTC period it was
 * stored in; the current period is the UTC one of `now`), and progress towards each
 * metric's latest target (`achievement` rounded to two decimals). One read of the
 * table; it never writes. @internal
 */
export function businessDashboard(
  db: Database.Database,
  now: number,
  rule: ResolvedKpiTrendRule = DEFAULT_KPI_TREND_RULE,
): BusinessDashboard {
  const s = statementsOf(db);
  const dashboard: BusinessDashboard = {
    kpis: {},
    trends: {},
    targets: {},
    user_metrics: {
      session_duration_avg: 0,
      pages_per_session: 0,
      bounce_rate: 0,
      return_user_rate: 0,
    },
    revenue_metrics: {
      [MRR]: 0,
      average_revenue_per_user: 0,
      customer_lifetime_value: 0,
    },
    growth_metrics: { user_growth_rate: 0, revenue_growth_rate: 0, market_penetration: 0 },
    quality_metrics: { model_accuracy_avg: 0, recommendation_relevance: 0, system_reliability: 0 },
    generated_at: isoSeconds(now),
  };
  const latest = s.latest.all();
  const kpis = new Map<string, LatestRow>();
  for (const row of latest) {
    const group = DASHBOARD_GROUPS[row.metric_name];
    if (group !== undefined) {
      dashboard[group][row.metric_name] = row.value;
      continue;
    }
    dashboard.kpis[row.metric_name] = row.value;
    if (row.metric_name === MRR) dashboard.revenue_metrics[MRR] = row.value;
    kpis.set(row.metric_name, row);
  }
  const periods = new Map<string, PeriodRow[]>();
  const span = rule.periods + 1;
  const cutoffs: Cutoffs = {
    hourly: now - span * HOUR,
    daily: now - span * DAY,
    weekly: now - span * 7 * DAY,
    monthly: now - span * 32 * DAY,
  };
  for (const row of s.periods.all(cutoffs)) {
    const kpi = kpis.get(row.metric_name);
    if (kpi === undefined || row.dimension !== kpi.dimension) continue;
    let list = periods.get(row.metric_name);
    if (list === undefined) periods.set(row.metric_name, (list = []));
    list.push(row);
  }
  for (const [name, kpi] of kpis) {
    dashboard.trends[name] = trendOf(
      periods.get(name) ?? [],
      kpi.aggregation === 'sum',
      periodOrdinal(kpi.dimension, now),
      rule,
    );
  }
  for (const { metric_name: name, target } of s.targets.all()) {
    const current = latestValue(dashboard, name);
    if (current === undefined || target === 0) continue;
    dashboard.targets[name] = {
      current,
      target,
      achievement: Math.round((current / target) * 100) / 100,
    };
  }
  return dashboard;
}

function latestValue(dashboard: BusinessDashboard, name: string): number | undefined {
  const group = DASHBOARD_GROUPS[name];
  return group === undefined ? dashboard.kpis[name] : dashboard[group][name];
}
