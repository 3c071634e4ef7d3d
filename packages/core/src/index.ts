/**
 * `@prsm/core`: the in-process aggregator of PRSM Monitor. Series of counters,
 * gauges, histograms and timers with windowed t-digest percentiles, rates and error
 * rates; a global monitor for decorators and middleware; an injectable clock.
 *
 * @packageDocumentation
 */

export { Monitor } from './monitor.js';

export { isMonitoringComponent, MonitoringComponent } from './components/names.js';
export type { ComponentName, MonitoringComponentName } from './components/names.js';
export { CacheTracker } from './components/caches.js';
export type { CacheStats, CacheTrackerOptions } from './components/caches.js';
export { MarketplaceMonitor } from './components/marketplace.js';
export type {
  MarketplaceSearch,
  MarketplaceTransaction,
  ResourceAction,
} from './components/marketplace.js';
export { RecommendationMonitor } from './components/recommendation.js';
export type {
  RecommendationInference,
  RecommendationInteraction,
  RecommendationQuality,
} from './components/recommendation.js';
export { JobTracker } from './components/jobs.js';
export type {
  JobFinishDetails,
  JobGpuUsage,
  JobOutcome,
  JobProbes,
  JobStartOptions,
  JobState,
  JobStatus,
  JobTrackerOptions,
  JobTrackerStats,
} from './components/jobs.js';
export { nvidiaSmiProbe, parseNvidiaSmi } from './components/gpu.js';
export type { GpuProbe, GpuReading, GpuSample } from './components/gpu.js';
export { CostTracker, HOURS_PER_MONTH } from './components/costs.js';
export type { CostOptions, CostReport, CostSources } from './components/costs.js';
export { EfficiencyTracker, efficiencyTrend } from './components/efficiency.js';
export type {
  ComponentEfficiency,
  EfficiencyFigure,
  EfficiencyOptions,
  EfficiencySources,
  EfficiencyTrend,
  EfficiencyTrendFit,
} from './components/efficiency.js';
export { securitySpecific } from './components/security.js';
export type { SecuritySources } from './components/security.js';
export type { ComponentHost } from './components/host.js';
export type {
  AnalyticsMonitorOptions,
  AuditOptions,
  ExportSource,
  HealthOptions,
  MonitorApi,
  MonitorExporterHost,
  MonitorOptions,
  SecurityOptions,
  SeriesQuery,
} from './monitor.js';

export { SecurityMonitor } from './security/events.js';
export type {
  AuthAttemptEvent,
  AuthorizationCheckEvent,
  DataAccessEvent,
  RateLimitedEvent,
  RequestEvent,
  RoleChangeEvent,
  SecurityMonitorOptions,
  SessionEvent,
  SessionEventKind,
} from './security/events.js';
export { ThreatDetector } from './security/detection.js';
export type {
  RequestRateRule,
  RoleEscalationRule,
  SecurityIncident,
  SecurityIncidentKind,
  ThreatDetectionOptions,
  ThreatDetectionStats,
  ThresholdRule,
} from './security/detection.js';
export {
  AuditLog,
  COMPLIANCE_TAGS,
  DEFAULT_RETENTION_DAYS,
  REQUIRED_AUDIT_FIELDS,
  verifyAuditExport,
} from './security/audit.js';
export type {
  AuditComplianceReport,
  AuditEntryInput,
  AuditExportProof,
  AuditLogOptions,
  AuditLogStats,
  AuditOutcome,
  AuditRange,
  ComplianceTag,
  RetentionDays,
  RetentionResult,
} from './security/audit.js';
export {
  audited,
  currentAuditContext,
  getDefaultAuditLog,
  setDefaultAuditLog,
  withAuditContext,
} from './security/audited.js';
export type { AuditedDecorator, AuditedOptions, AuditRequestContext } from './security/audited.js';
export {
  canonicalJson,
  GENESIS_HASH,
  RETENTION_CUT_ACTION,
  sealRecord,
  sha256Hex,
  verifyChain,
} from './security/chain.js';
export type {
  AuditJsonValue,
  AuditRecord,
  ChainAnchor,
  ChainProblem,
  ChainVerification,
  VerifyChainOptions,
} from './security/chain.js';
export { JsonlFileSink, MemoryAuditSink } from './security/sinks.js';
export type {
  AuditSink,
  AuditSinkContext,
  AuditSinkStats,
  JsonlFileSinkOptions,
  MemoryAuditSinkOptions,
} from './security/sinks.js';
export { createRedactor, DEFAULT_REDACTED_KEYS, luhnValid, redact } from './security/redaction.js';
export type { RedactionOptions, Redactor } from './security/redaction.js';
export type { SecurityContext, SecurityRecorder } from './security/context.js';

export { AnalyticsEngine } from './analytics/analytics.js';
export type { AnalyticsContext, AnalyticsOptions, AnalyticsQuery } from './analytics/analytics.js';
export {
  anomalyDefaults,
  anomalyScore,
  detectAnomalies,
  findAnomalies,
  MIN_REQUESTS_FOR_ERROR_RATE,
  scoreAt,
} from './analytics/anomaly.js';
export type { AnomalyOptions, AnomalyScore } from './analytics/anomaly.js';
export {
  analyzeTraces,
  bottleneckName,
  operationBottlenecks,
  snakeCase,
  spanKind,
  spansOf,
} from './analytics/bottlenecks.js';
export type { BottleneckOptions, DependencyStats, TraceAnalysis } from './analytics/bottlenecks.js';
export {
  DEFAULT_CAPACITY_THRESHOLDS,
  forecastCapacity,
  forecastLinear,
  formatDuration,
} from './analytics/capacity.js';
export type { CapacityOptions, LinearForecast } from './analytics/capacity.js';
export {
  COUNTER_RATIOS,
  RATIO_GAUGE_SUFFIXES,
  readComponentSpecific,
  SPECIFIC_GAUGE_PREFIX,
  withComponentSpecific,
} from './analytics/component-specific.js';
export type {
  ComponentSpecificProvider,
  CounterRatio,
  SpecificReading,
} from './analytics/component-specific.js';
export { DEFAULT_HISTORY_GAUGES, HISTORY_METRICS, MinuteHistory } from './analytics/history.js';
export type {
  HistorySeries,
  HistorySeriesQuery,
  MinuteHistoryOptions,
  MinutePoint,
} from './analytics/history.js';
export { buildRecommendations } from './analytics/recommendations.js';
export type { RecommendationEvidence, RecommendationOptions } from './analytics/recommendations.js';
export { snapshotSource } from './analytics/source.js';
export type {
  AnalyticsSource,
  ComponentReading,
  OperationReading,
  ReadQuantiles,
  SnapshotReadable,
} from './analytics/source.js';
export { fitLine, median, medianAndMad } from './analytics/stats.js';
export type { LineFit } from './analytics/stats.js';
export { classifyTrend, classifyUsagePattern, hourlyProfile } from './analytics/trends.js';
export type { TrendOptions, UsagePatternOptions } from './analytics/trends.js';
export {
  classifyKpiTrend,
  DEFAULT_KPI_TREND_RULE,
  KPI_AGGREGATION_KEY,
  KPI_PERIOD_KEY,
  kpiTrendTCritical,
  resolveKpiTrendRule,
} from './analytics/kpi-trend.js';
export type { KpiTrend, KpiTrendRule, ResolvedKpiTrendRule } from './analytics/kpi-trend.js';
export type {
  AnalyticsInsights,
  AnalyticsReport,
  AnalyticsSummary,
  AnalyticsTopOperation,
  AnalyticsTrends,
  AnalyticsUsagePattern,
  AnomalyRecord,
  Bottleneck,
  CapacityForecast,
  Recommendation,
  RecommendationRule,
  TrendDirection,
  TrendFit,
  UsagePatternName,
} from './analytics/types.js';

export { TaskRegistry } from './health/tasks.js';
export type {
  TaskCounts,
  TaskHandle,
  TaskOptions,
  TaskOutcome,
  TaskProblem,
  TaskRegistryOptions,
  TaskRun,
  TaskStatus,
} from './health/tasks.js';
export { DatabaseMonitor, OTHER_STATEMENT, pgPoolStats } from './health/database.js';
export type {
  DatabaseMonitorOptions,
  PgPoolLike,
  PgPoolOptionsLike,
  PoolStats,
  SlowQuery,
} from './health/database.js';
export {
  cpuUsageBetween,
  defaultResourceProbes,
  diskUsageOf,
  parseProcNetDev,
  ResourceSampler,
} from './health/resources.js';
export type {
  CpuInfo,
  CpuTimes,
  DiskReading,
  EventLoopProbe,
  EventLoopReading,
  GcKind,
  NetDevTotals,
  NetworkReading,
  ProcessCpuTime,
  ProcessMemory,
  ProcessReading,
  ResourceProbes,
  ResourceReading,
  ResourceSamplerContext,
  ResourceSamplerOptions,
  StatFsLike,
} from './health/resources.js';
export { computeHealthScore, HEALTH_SCORE_WEIGHTS, healthScorePenalties } from './health/health.js';
export type {
  AlertWeight,
  ErrorRateWeight,
  HealthScoreInputs,
  HealthScorePenalties,
  HealthScoreWeights,
  ResourceWeight,
  TaskWeight,
} from './health/health.js';
export type {
  HealthActiveAlert,
  HealthContext,
  HealthMonitoringStatus,
  HealthNetworkIo,
  HealthRecentPerformance,
  HealthRecorder,
  HealthReport,
  HealthSystemMetrics,
} from './health/types.js';

export { getGlobalMonitor, NoopMonitor, setGlobalMonitor } from './global.js';

export { ManualClock, systemClock } from './clock/clock.js';
export type { Clock } from './clock/clock.js';

export { DiagnosticCode, Diagnostics, silentLogger } from './diagnostics/diagnostics.js';
export type { DiagnosticCodeValue, DiagnosticLogger } from './diagnostics/diagnostics.js';

export { TDigest } from './sketch/tdigest.js';

export { PrsmSpanProcessor } from './tracing/span-processor.js';
export type { SpanRedactor } from './tracing/span-processor.js';
export type { FinishedSpan } from './tracing/span-processor.js';
export { TraceStore } from './tracing/trace-store.js';
export type {
  SpanMetadataValue,
  StoredSpan,
  TraceStoreOptions,
  TraceStoreStats,
} from './tracing/trace-store.js';
export type { TraceRecord, TraceSpanRecord } from './tracing/trace-record.js';
export type { TDigestJSON, TDigestOptions } from './sketch/tdigest.js';

export { OVERFLOW_COMPONENT, OVERFLOW_TAG } from './metrics/family.js';
export type {
  BoundTimer,
  Counter,
  Gauge,
  Histogram,
  StopTimer,
  Timer,
} from './metrics/instruments.js';
export type { BoundCounter } from './metrics/counter-series.js';
export type { BoundGauge } from './metrics/gauge-series.js';
export type { BoundHistogram, Exemplar } from './metrics/histogram-series.js';
export type { InstrumentOptions, Labels, MetricInput, MetricType, Tags } from './metrics/types.js';
export type {
  CounterSnapshot,
  CounterWindowSnapshot,
  DistributionReading,
  DistributionSnapshot,
  GaugeSnapshot,
  HistogramSnapshot,
  MonitorSnapshot,
  SeriesSnapshot,
  SeriesSnapshotBase,
  SeriesVisitor,
  SlicedVisitOptions,
  SnapshotOptions,
  SubWindowSnapshot,
  VisitedSeries,
  VisitOptions,
  WindowRates,
  WindowStats,
} from './metrics/snapshot.js';

export { parseCondition } from './alerting/condition/condition.js';
export type { Condition } from './alerting/condition/condition.js';
export { ConditionSyntaxError } from './alerting/condition/errors.js';
export type {
  ConditionResult,
  SignalRef,
  SignalSource,
} from './alerting/condition/signal-source.js';
export type {
  AggregateFunction,
  ArithmeticNode,
  BooleanNode,
  CallNode,
  CompareNode,
  ConditionFunction,
  ConditionNode,
  ConditionUnit,
  LogicalNode,
  NegateNode,
  NotNode,
  NumberNode,
  SignalNode,
} from './alerting/condition/ast.js';

export type {
  AlertNotification,
  AlertSeverity,
  DeliveryReport,
  NotificationChannel,
  NotificationStatus,
  NotifiedAlert,
} from './alerting/notification.js';

export { AlertEngine } from './alerting/engine.js';
export type { EvaluationSummary } from './alerting/engine.js';
export type {
  Alert,
  AlertHistoryEntry,
  AlertingOptions,
  AlertRule,
  AlertRuleInput,
  AlertState,
  ChannelDeliveryStats,
  EscalationPolicy,
  EscalationStep,
  InhibitRule,
  LabelMatcher,
  NoDataPolicy,
  RuleEvaluation,
  Silence,
  SilenceInput,
} from './alerting/types.js';

export { ExportPipeline } from './export/pipeline.js';
export type { ExportItem } from './export/items.js';
export type {
  ExportBatch,
  Exporter,
  ExporterHost,
  ExportNeeds,
  ExportPipelineOptions,
  ExportPipelineStats,
  ExportResult,
} from './export/pipeline.js';

export { clusterAggregation } from './cluster/index.js';
export type {
  ClusterAggregation,
  ClusterChild,
  ClusterOptions,
  ClusterStats,
  GaugeRule,
} from './cluster/index.js';
