/**
 * The spec's components ("Component Monitoring Matrix" and the health, security and
 * business sections) as a typed constant. Imports nothing.
 */

/**
 * The components the spec names, as the strings every API takes. Plain strings keep
 * working for a service's own components: everywhere a component is accepted the type
 * is {@link ComponentName} (`MonitoringComponentName | (string & {})`), so editors
 * complete these values and any other non-empty string still compiles.
 *
 * | key | value | what the spec monitors there |
 * |---|---|---|
 * | `API_GATEWAY` | `api_gateway` | request volume, p50/p95/p99, 4xx/5xx, rate limiting |
 * | `MARKETPLACE` | `marketplace` | resource activity, search, transactions, conversion |
 * | `RECOMMENDATION` | `recommendation` | accuracy, relevance, diversity, inference latency, cache, click-through |
 * | `DISTILLATION` | `distillation` | job success, progress and ETA, CPU/GPU, quality retention |
 * | `SECURITY` | `security` | authentication, authorization, incidents, audit completeness |
 * | `DATABASE` | `database` | query performance, connection pool |
 * | `SYSTEM` | `system` | CPU, memory, disk, network (the resource sampler) |
 * | `TASKS` | `tasks` | background task heartbeats and queues |
 * | `BUSINESS` | `business` | KPIs and business outcomes |
 * | `COSTS` | `costs` | cost per user, request, prediction, GB |
 *
 * @example
 * ```ts
 * import { Monitor, MonitoringComponent } from '@prsm/core';
 *
 * const monitor = new Monitor();
 * monitor.timer('generate_recommendations', { component: MonitoringComponent.RECOMMENDATION }).record(42);
 * monitor.analytics({ component: MonitoringComponent.RECOMMENDATION });
 * monitor.counter('invoices.sent', { component: 'billing' }).inc(); // any string still works
 * ```
 */
export const MonitoringComponent = Object.freeze({
  API_GATEWAY: 'api_gateway',
  MARKETPLACE: 'marketplace',
  RECOMMENDATION: 'recommendation',
  DISTILLATION: 'distillation',
  SECURITY: 'security',
  DATABASE: 'database',
  SYSTEM: 'system',
  TASKS: 'tasks',
  BUSINESS: 'business',
  COSTS: 'costs',
} as const);

/**
 * One of the {@link MonitoringComponent} values: `'api_gateway' | 'marketplace' | ...`.
 *
 * @example
 * ```ts
 * const c: MonitoringComponentName = MonitoringComponent.DISTILLATION; // 'distillation'
 * ```
 */
export type MonitoringComponentName =
  (typeof MonitoringComponent)[keyof typeof MonitoringComponent];

/**
 * What every `component` option and parameter accepts: a {@link MonitoringComponentName}
 * (completed by editors) or any other string (a service's own component). The
 * `string & Record<never, never>` half keeps the literal values from collapsing into
 * plain `string`, which would lose the completion.
 *
 * @example
 * ```ts
 * const spec: ComponentName = MonitoringComponent.MARKETPLACE;
 * const own: ComponentName = 'billing';
 * ```
 */
export type ComponentName = MonitoringComponentName | (string & Record<never, never>);

const KNOWN: ReadonlySet<string> = new Set(Object.values(MonitoringComponent));

/**
 * Whether `value` is one of the spec's components.
 *
 * @example
 * ```ts
 * isMonitoringComponent('marketplace'); // true
 * isMonitoringComponent('billing'); // false
 * ```
 */
export function isMonitoringComponent(value: unknown): value is MonitoringComponentName {
  return typeof value === 'string' && KNOWN.has(value);
}
