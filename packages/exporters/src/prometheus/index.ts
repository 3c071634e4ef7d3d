/**
 * Prometheus exposition of a `@prsm/core` monitor: counters, gauges, and histograms
 * and timers as summaries (sliding-window quantiles, cumulative `_sum`/`_count`,
 * timers in seconds), in the text format 0.0.4 or, when the scraper asks, in
 * OpenMetrics 1.0 with trace exemplars. A handler for node:http, Express and Fastify,
 * a standalone server, and the pure renderer.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { startPrometheusServer } from '@prsm/exporters/prometheus';
 *
 * const monitor = new Monitor({ defaultComponent: 'checkout' });
 * const metrics = await startPrometheusServer({ monitor, port: 9464 });
 * console.log(`scrape ${metrics.url}`);
 * ```
 *
 * @packageDocumentation
 */
export {
  negotiateFormat,
  prometheusHandler,
  prometheusScrape,
  prometheusScrapeInSlices,
  startPrometheusServer,
} from './handler.js';
export type {
  PrometheusHandlerOptions,
  PrometheusRequestHandler,
  PrometheusScrapeOptions,
  PrometheusServer,
  PrometheusServerOptions,
  PrometheusSlicedScrapeOptions,
  SnapshotSource,
} from './handler.js';
export {
  escapeLabelValue,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  sanitizeLabelName,
  sanitizeMetricName,
  toPrometheusText,
} from './text.js';
export type { PrometheusFormat, PrometheusTextOptions } from './text.js';
export { toPrometheusRules } from './rules.js';
export type {
  PrometheusRuleMetricType,
  PrometheusRulesOptions,
  PrometheusRulesResult,
  SkippedPrometheusRule,
} from './rules.js';
