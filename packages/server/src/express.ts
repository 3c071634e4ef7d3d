/**
 * `@prsm/server/express`: the spec's read endpoints (traces, alerts, Prometheus
 * metrics) over an in-process `Monitor`, as an Express 5 router. Express is an
 * optional peer dependency: only this entry point loads it.
 *
 * @packageDocumentation
 */
export { prsmMonitorExpress } from './mount/express.js';
export type { PrsmMonitorRoutesOptions } from './mount/monitor-routes.js';
