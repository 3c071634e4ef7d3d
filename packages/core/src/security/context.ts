/**
 * What every security piece is built with: the monitor's clock, its diagnostics
 * funnel and its recording surface (as the health pieces are).
 */
import type { Clock } from '../clock/clock.js';
import type { Diagnostics } from '../diagnostics/diagnostics.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import type { MonitorApi } from '../monitor.js';

/**
 * The recording surface the security pieces use: the monitor's counter and gauge
 * handles, so every reading is an ordinary series that alert rules, snapshots and
 * exporters see.
 *
 * @example
 * ```ts
 * const recorder: SecurityRecorder = monitor;
 * ```
 */
export type SecurityRecorder = Pick<MonitorApi, 'counter' | 'gauge'>;

/**
 * The clock, diagnostics and recorder a {@link SecurityMonitor}, {@link ThreatDetector}
 * or {@link AuditLog} is built with. Every failure goes to `diagnostics`; none is
 * thrown into the host from a recording path.
 *
 * @example
 * ```ts
 * const context: SecurityContext = {
 *   clock: monitor.clock,
 *   diagnostics: monitor.diagnostics,
 *   recorder: monitor,
 * };
 * ```
 */
export interface SecurityContext {
  /** Where time comes from. */
  readonly clock: Clock;
  /** Where failures are reported. */
  readonly diagnostics: Diagnostics;
  /** Where readings are recorded. */
  readonly recorder: SecurityRecorder;
}

/**
 * Checks a context at construction; throws a `TypeError` naming `who`. @internal
 *
 * @example
 * ```ts
 * this.#context = checkContext(context, 'AuditLog');
 * ```
 */
export function checkContext(context: unknown, who: string): SecurityContext {
  const c = context as Partial<SecurityContext> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    typeof c.clock?.now !== 'function' ||
    typeof c.diagnostics?.report !== 'function' ||
    typeof c.recorder?.counter !== 'function' ||
    typeof c.recorder.gauge !== 'function'
  ) {
    throw new TypeError(`${who}: context must hold clock, diagnostics and recorder`);
  }
  return c as SecurityContext;
}

/**
 * The message of anything thrown, never throwing itself. @internal
 *
 * @example
 * ```ts
 * diagnostics.report(DiagnosticCode.INTERNAL_ERROR, `audit: ${messageOf(error)}`);
 * ```
 */
export function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'unknown error';
  }
}

/**
 * A counter handle bound on its first increment: a monitor whose service never sees
 * that event keeps no series for it (snapshots and scrapes stay free of zeros).
 * @internal
 */
export function lazyCounter(bind: () => BoundCounter): BoundCounter {
  let bound: BoundCounter | undefined;
  return {
    inc(value?: number): void {
      (bound ??= bind()).inc(value);
    },
  };
}
