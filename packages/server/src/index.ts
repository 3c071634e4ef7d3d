/**
 * `@prsm/server`: the PRSM Monitor REST API (`/api/v1/monitoring/...`) as a
 * standalone server on SQLite, with API keys and roles, strict validation, a per-key
 * rate limit, OpenAPI, and the `prsm-monitor` command.
 *
 * @packageDocumentation
 */

export { API_PREFIX, createServer } from './server.js';
export type { PrsmServer, ServerOptions } from './server.js';

export { ServerAlerting } from './alerting/server-alerting.js';
export type {
  AcknowledgeResult,
  ActiveAlertRecord,
  ChannelDeliveries,
  ServerAlertingOptions,
  ServerEvaluationSummary,
} from './alerting/server-alerting.js';

export { MonitorStore, openStore } from './store/store.js';
export type { BatchResult, StoreOptions } from './store/store.js';
export type {
  AlertEventRecord,
  AlertRuleBody,
  AlertRuleRecord,
  BusinessDashboard,
  BusinessMetricInput,
  CompactionResult,
  CreatedKey,
  KeyInfo,
  KeyUse,
  ServerAlertEvent,
  Severity,
  SpecMetric,
  SpecMetricType,
  StoreCounts,
  StoredAlertState,
  StoredPoint,
  StoredSeries,
  StoredSource,
} from './store/types.js';

export { ROLES } from './auth/keys.js';
export type { Permission, Role } from './auth/keys.js';

export { InputError } from './errors.js';

// Issue 12: BI export, backup and restore, archival.
export {
  csvField,
  csvRecord,
  exportContentType,
  openExportStream,
  type ExportRequest,
} from './export/stream.js';
export { EXPORT_COLUMNS, EXPORT_DATASETS, EXPORT_FORMATS } from './export/datasets.js';
export type { ExportCell, ExportDataset, ExportFormat } from './export/datasets.js';
export {
  backupDatabase,
  BackupError,
  databaseInUse,
  restoreDatabase,
  type BackupOptions,
  type BackupResult,
  type RestoreOptions,
} from './backup/backup.js';
export { archiveFileName, type ArchiveDataset, type ArchiveOptions } from './archive/archive.js';
export type { RateLimitOptions } from './http/rate-limit.js';
export type {
  AnalyticsAnomaly,
  AnalyticsCapacity,
  FleetAnalyticsReport,
  FleetHealthReport,
  HealthComponent,
  HealthResources,
  HealthService,
  LatencyPercentiles,
  ReadQuery,
  ReadWindow,
} from './read/types.js';
