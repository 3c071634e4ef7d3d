/**
 * `@prsm/express`: PRSM Monitor middleware for Express 4 and 5. Request metrics by
 * route template (duration, count, in flight, body sizes), server spans continuing
 * W3C trace context, 401/403/429 answers fed to `monitor.security` and rate-limit
 * quota use, for the spec's API-gateway monitoring. The instrumentation itself is
 * `@prsm/http`'s, shared with `@prsm/fastify`.
 *
 * @packageDocumentation
 */

export { prsmExpress, prsmExpressErrors } from './middleware.js';
export type {
  ExpressErrorMiddleware,
  ExpressMiddleware,
  ExpressRequestLike,
  PrsmExpressOptions,
} from './middleware.js';
export {
  ABORTED_STATUS,
  apiGatewayReport,
  DEFAULT_UNMATCHED_ROUTE,
  HTTP_METRICS,
} from '@prsm/http';
export type {
  ApiGatewayReport,
  ApiGatewayReportOptions,
  HttpInstrumentationOptions,
} from '@prsm/http';
export { VERSION } from './version.js';
