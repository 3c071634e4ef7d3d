/**
 * Test helpers for security/: a real Monitor on a ManualClock with the security
 * context built from its public surface, and counter reads.
 */
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import type { Tags } from '../metrics/types.js';
import type { SecurityContext } from './context.js';

export const T0 = Date.UTC(2024, 0, 15, 14, 30);

export function securityMonitor(): {
  monitor: Monitor;
  clock: ManualClock;
  context: SecurityContext;
} {
  const clock = new ManualClock(T0);
  const monitor = new Monitor({ clock, alerting: { evaluationIntervalSeconds: 0 } });
  return {
    monitor,
    clock,
    context: { clock, diagnostics: monitor.diagnostics, recorder: monitor },
  };
}

/** The cumulative total of a counter series (0 when it does not exist). */
export function total(monitor: Monitor, name: string, tags: Tags, component = 'security'): number {
  return monitor.getRates(name, { component, tags, windowSeconds: 'cumulative' })?.count ?? 0;
}
