/**
 * `@prsm/decorators`: `@monitorPerformance` for methods, `@monitored` for whole
 * classes and `instrument()` for plain functions. Each call is timed into the
 * monitor's `operation.duration` timer, counted (calls, errors by type, slow calls)
 * and run in an OpenTelemetry span, under TC39 and legacy (`experimentalDecorators`)
 * decorators alike.
 *
 * @packageDocumentation
 */

export { monitorPerformance } from './monitor-performance.js';
export type { MonitorPerformanceDecorator } from './monitor-performance.js';

export { monitored } from './monitored.js';
export type { MonitoredDecorator } from './monitored.js';

export { instrument } from './instrument.js';

export type {
  InstrumentFunctionOptions,
  MonitoredOptions,
  MonitorPerformanceOptions,
  SpanAttributesOf,
} from './options.js';

export { MONITOR_PERFORMANCE_METADATA } from './runtime/metadata.js';
export type { MonitorPerformanceMetadata } from './runtime/metadata.js';

export { VERSION } from './version.js';
