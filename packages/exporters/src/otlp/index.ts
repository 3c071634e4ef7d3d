/**
 * `@prsm/exporters/otlp`: OTLP/HTTP exporters of a monitor's series and spans, and
 * `startTracing`, which sets up the OpenTelemetry Node tracer provider with the
 * monitor's span processor and an OTLP trace exporter. Needs the OpenTelemetry
 * packages listed as optional peer dependencies; nothing else in `@prsm/exporters`
 * loads them.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { otlpMetricExporter, startTracing } from '@prsm/exporters/otlp';
 *
 * const monitor = new Monitor({
 *   serviceName: 'checkout',
 *   exporters: [otlpMetricExporter({ url: 'http://otel-collector:4318/v1/metrics' })],
 * });
 * const tracing = startTracing({ monitor, otlp: { url: 'http://otel-collector:4318/v1/traces' } });
 * ```
 *
 * @packageDocumentation
 */
export { otlpMetricExporter } from './metrics.js';
export type { OtlpMetricExporterOptions } from './metrics.js';
export { otlpTraceExporter } from './traces.js';
export type { OtlpTraceExporterOptions } from './traces.js';
export { startTracing } from './start-tracing.js';
export type { StartTracingOptions, Tracing } from './start-tracing.js';
export type { OtlpHttpOptions, OtlpProtocol } from './http.js';
