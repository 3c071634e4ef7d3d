/**
 * `@prsm/http`: the HTTP server instrumentation `@prsm/express` and `@prsm/fastify`
 * share, framework neutral: metric names and tags, per-request state and recording,
 * server spans continuing W3C trace context, security signals fed to
 * `monitor.security`, and the API-gateway report. Users install one of the adapters;
 * this package is what they have in common (and what a new adapter would build on).
 *
 * @packageDocumentation
 */

export { apiGatewayComponentSpecific, apiGatewayReport } from './gateway.js';
export type {
  ApiGatewayReport,
  ApiGatewayReportOptions,
  ErrorCategory,
  GatewayMonitor,
  VolumeTrend,
} from './gateway.js';
export { HttpInstruments, HttpMetrics, RequestState } from './metrics.js';
export type { FinishedResponse, HttpSeriesHandles, RequestOutcome } from './metrics.js';
export {
  ABORTED_STATUS,
  DEFAULT_UNMATCHED_ROUTE,
  HTTP_METRICS,
  normalizeMethod,
  statusClass,
} from './names.js';
export type { HttpInstrumentationOptions } from './options.js';
export { HttpRequestOwner } from './owner.js';
export { HTTP_401_REASON, reportSecuritySignals, securitySinkOf } from './security.js';
export type { HttpSecuritySignal, SecuritySignalSink } from './security.js';
export {
  chunkLength,
  isRateLimitHeader,
  NO_HEADERS,
  parseLength,
  rateLimitUsed,
  rawHeader,
  responseLength,
} from './sizes.js';
export type { HeaderSource } from './sizes.js';
export { HttpTracing } from './tracing.js';
export {
  abandonedAtClose,
  TrackedRequest,
  trackedRequest,
  trackerFailures,
  watchServer,
} from './tracker.js';
export type { RequestPreparer, TrackedRequestOwner } from './tracker.js';
export type { RequestSpan, SpanStart } from './tracing.js';
export { VERSION } from './version.js';
