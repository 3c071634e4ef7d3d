/**
 * rest/: the REST exporter of metrics, spans and alert events to a PRSM monitoring
 * server (`POST /api/v1/monitoring/batch`), and the shapes of its JSON body for the
 * server to share. Imports `@prsm/core` types, `node:zlib` and the global `fetch`.
 */
export { REST_BATCH_ID_HEADER, REST_BATCH_PATH, restExporter } from './exporter.js';
export type { RestExporterOptions } from './exporter.js';
export { toRestBatch } from './body.js';
export type {
  RestAlertEvent,
  RestBatchBody,
  RestCounterMetric,
  RestCounterWindow,
  RestDistributionMetric,
  RestDistributionWindow,
  RestGaugeMetric,
  RestMetric,
  RestMetricBase,
  RestQuantiles,
  RestSource,
  RestSpan,
  RestSubWindow,
} from './body.js';
