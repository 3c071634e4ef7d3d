/**
 * `@prsm/fastify`: the PRSM Monitor plugin for Fastify 5. Request metrics by route
 * template (duration, count, in flight, body sizes), server spans continuing W3C trace
 * context, security signals from 401/403/429 responses and rate-limit quota use, for
 * the spec's API-gateway monitoring. The same metric names as `@prsm/express`.
 *
 * @packageDocumentation
 */

export { prsmFastify } from './plugin.js';
export type { PrsmFastifyOptions } from './plugin.js';
export { ABORTED_STATUS, DEFAULT_UNMATCHED_ROUTE, HTTP_METRICS } from './shared/http-metrics.js';
export { VERSION } from './version.js';
