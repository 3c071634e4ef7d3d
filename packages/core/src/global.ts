import {
  type Counter,
  type Gauge,
  type Histogram,
  noopInstrument,
  type Timer,
} from './metrics/instruments.js';
import type { MetricInput } from './metrics/types.js';
import type { Monitor, MonitorApi } from './monitor.js';
import { setDefaultAuditLog } from './security/audited.js';

/**
 * The monitor used when none is set: records nothing, allocates nothing per call.
 * Decorators and middleware fall back to it, so instrumented code runs unchanged in
 * tests and scripts that never configure monitoring.
 *
 * @example
 * ```ts
 * const monitor = new NoopMonitor();
 * monitor.timer('x').bind().record(1); // does nothing
 * ```
 */
export class NoopMonitor implements MonitorApi {
  readonly enabled = false;

  recordMetric(_metric: MetricInput): void {}

  counter(name: string): Counter {
    return noopInstrument(name);
  }

  gauge(name: string): Gauge {
    return noopInstrument(name);
  }

  histogram(name: string): Histogram {
    return noopInstrument(name);
  }

  timer(name: string): Timer {
    return noopInstrument(name);
  }
}

const NOOP = new NoopMonitor();
let current: MonitorApi | undefined;

/**
 * Sets the process-wide monitor that decorators and middleware use when they are not
 * given one. Pass `undefined` to go back to the no-op monitor.
 *
 * @example
 * ```ts
 * import { Monitor, setGlobalMonitor } from '@prsm/core';
 *
 * setGlobalMonitor(new Monitor({ defaultComponent: 'api_gateway' }));
 * ```
 */
export function setGlobalMonitor(monitor: MonitorApi | undefined): void {
  if (monitor !== undefined && (monitor === null || typeof monitor.timer !== 'function')) {
    throw new TypeError('setGlobalMonitor needs a Monitor (or undefined to unset it)');
  }
  current = monitor;
  // `@audited` records into the global monitor's audit log.
  setDefaultAuditLog(
    monitor !== undefined && 'audit' in monitor ? (monitor as Monitor).audit : undefined,
  );
}

/**
 * The process-wide monitor, or a cheap {@link NoopMonitor} when none is set.
 *
 * @example
 * ```ts
 * getGlobalMonitor().counter('jobs.started').inc();
 * ```
 */
export function getGlobalMonitor(): MonitorApi {
  return current ?? NOOP;
}
