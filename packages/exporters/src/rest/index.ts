/**
 * rest/: the REST exporter of metrics, spans, alert events and business metrics to a
 * PRSM monitoring server (`POST /api/v1/monitoring/batch`, `/business-metrics`), the
 * audit sink that ships the audit log to it (`POST /audit`), and the shapes of their
 * JSON bodies for the server to share. Imports `@prsm/core`, `node:zlib` and the
 * global `fetch`.
 */
export {
  REST_BATCH_ID_HEADER,
  REST_BATCH_PATH,
  REST_BUSINESS_METRICS_KIND,
  REST_BUSINESS_METRICS_PATH,
  restExporter,
} from './exporter.js';
export type { RestExporterOptions } from './exporter.js';
export type { RestConnectionOptions } from './transport.js';
export { REST_AUDIT_PATH, restAuditSink } from './audit-sink.js';
export type { RestAuditBatchBody, RestAuditSinkOptions } from './audit-sink.js';
export { REST_MAX_EXEMPLARS, toRestBatch, toRestBusinessMetrics } from './body.js';
export { encodeRestBatch } from './encode.js';
export type {
  RestAlertEvent,
  RestBatchBody,
  RestBusinessMetric,
  RestBusinessMetricsBody,
  RestCounterMetric,
  RestCounterWindow,
  RestDistributionMetric,
  RestDistributionWindow,
  RestExemplar,
  RestGaugeMetric,
  RestMetric,
  RestMetricBase,
  RestQuantiles,
  RestSource,
  RestSpan,
  RestSubWindow,
} from './body.js';
