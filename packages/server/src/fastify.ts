/**
 * `@prsm/server/fastify`: the spec's read endpoints (traces, alerts, Prometheus
 * metrics) over an in-process `Monitor`, as a Fastify plugin to register with a
 * prefix. Loads no SQLite.
 *
 * @packageDocumentation
 */
export { prsmMonitorFastify } from './mount/fastify.js';
export type { PrsmMonitorRoutesOptions } from './mount/monitor-routes.js';
