/**
 * `@prsm/business-outcomes`: business KPIs for PRSM Monitor. `@recordBusinessOutcome`
 * counts what decorated methods achieve; `BusinessOutcomes` keeps KPIs per calendar
 * period with targets and trends, engagement (sessions, DAU/MAU, funnels,
 * click-through), revenue, growth and quality, and builds the spec's business
 * dashboard; everything is also recorded into the monitor for its exporters.
 *
 * @packageDocumentation
 */

export { BUSINESS_METRICS_KIND, BusinessOutcomes } from './outcomes.js';
export type {
  BusinessMetricInput,
  BusinessMonitor,
  BusinessOutcomesOptions,
  BusinessOutcomesStats,
  FunnelDefinition,
  FunnelReport,
  KpiDefinition,
  KpiSummary,
  ReliabilitySource,
  RevenueInput,
} from './outcomes.js';

export { recordBusinessOutcome } from './decorator/record-business-outcome.js';
export type {
  RecordBusinessOutcomeDecorator,
  RecordBusinessOutcomeOptions,
} from './decorator/record-business-outcome.js';

export { getGlobalBusinessOutcomes, setGlobalBusinessOutcomes } from './global.js';

export { HyperLogLog } from './sketch/hyperloglog.js';

export { calculateCostMetrics, calculateMonitoringRoi } from './revenue/roi.js';
export type { CostInput, CostMetrics, MonitoringRoi, MonitoringRoiInput } from './revenue/roi.js';

export type { Dimension } from './calendar/calendar.js';
export type { Aggregation } from './kpi/ring.js';
export type { Trend, TrendRule } from './kpi/trend.js';
export type {
  BusinessDashboard,
  BusinessMetadata,
  BusinessMetricBody,
  GrowthMetrics,
  QualityMetrics,
  RevenueMetrics,
  TargetProgress,
  UserMetrics,
} from './dashboard/types.js';

export { VERSION } from './version.js';
