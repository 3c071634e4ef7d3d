/**
 * `@prsm/express`: PRSM Monitor middleware for Express 4 and 5. Request metrics by
 * route template (duration, count, in flight, body sizes), server spans continuing
 * W3C trace context, security signals from 401/403/429 responses and rate-limit
 * quota use, for the spec's API-gateway monitoring.
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
export { ABORTED_STATUS, DEFAULT_UNMATCHED_ROUTE, HTTP_METRICS } from './shared/http-metrics.js';
export { VERSION } from './version.js';
