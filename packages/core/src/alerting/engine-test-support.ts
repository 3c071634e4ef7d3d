/**
 * Test helpers for the alert engine. `RecordingChannel` is an in-process
 * implementation of the NotificationChannel interface (the engine's own seam, not a
 * stand-in for a provider): it keeps what it was sent so tests can check grouping,
 * routing and escalation. Provider contracts are tested against real HTTP and SMTP
 * servers in @prsm/exporters.
 */
import { ManualClock } from '../clock/clock.js';
import { Monitor, type MonitorOptions } from '../monitor.js';
import type { AlertNotification, DeliveryReport, NotificationChannel } from './notification.js';
import type { AlertingOptions } from './types.js';

export class RecordingChannel implements NotificationChannel {
  readonly kind = 'recording';
  readonly mode: 'grouped' | 'stream';
  readonly received: AlertNotification[] = [];
  /** What send() does: answer ok (default), fail, throw, or never settle. */
  behaviour: 'ok' | 'fail' | 'throw' | 'reject' | 'hang' = 'ok';
  shutdowns = 0;

  constructor(mode: 'grouped' | 'stream' = 'grouped') {
    this.mode = mode;
  }

  send(notification: AlertNotification): Promise<DeliveryReport> {
    this.received.push(notification);
    switch (this.behaviour) {
      case 'ok':
        return Promise.resolve({ ok: true, attempts: 1, status: 200 });
      case 'fail':
        return Promise.resolve({
          ok: false,
          attempts: 3,
          status: 500,
          error: 'HTTP 500',
          givenUp: true,
        });
      case 'throw':
        throw new Error('channel bug');
      case 'reject':
        return Promise.reject(new Error('channel rejected'));
      case 'hang':
        return new Promise(() => {});
    }
  }

  shutdown(): Promise<void> {
    this.shutdowns++;
    return Promise.resolve();
  }

  /** `status reason [alert names]` per notification, for compact assertions. */
  summary(): string[] {
    return this.received.map(
      (n) => `${n.status} ${n.reason} [${n.alerts.map((a) => `${a.name}:${a.status}`).join(', ')}]`,
    );
  }

  clear(): void {
    this.received.length = 0;
  }
}

export const T0 = Date.UTC(2024, 0, 15, 14, 0, 0);

/** A monitor on a manual clock with manual evaluation and the given channels. */
export function alertingMonitor(
  alerting: AlertingOptions = {},
  options: MonitorOptions = {},
): { monitor: Monitor; clock: ManualClock } {
  const clock = new ManualClock(T0);
  const monitor = new Monitor({
    clock,
    ...options,
    alerting: { evaluationIntervalSeconds: 0, ...alerting },
  });
  return { monitor, clock };
}

/** Records `calls` timer samples on `component`, `errors` of them failed. */
export function traffic(
  monitor: Monitor,
  component: string,
  calls: number,
  errors: number,
  metric = 'operation.duration',
  tags: Record<string, string> = { operation: 'Api.handle' },
): void {
  const timer = monitor.timer(metric, { component }).bind(tags);
  for (let i = 0; i < calls; i++) {
    if (i < errors) timer.recordError(100 + i);
    else timer.record(50 + (i % 50));
  }
}
