/**
 * The contract between the alert engine and notification channels. The engine
 * (in `@prsm/core`) decides what to send and when; a channel (the ones we ship are
 * in `@prsm/exporters/notifiers`) turns one {@link AlertNotification} into a
 * provider's request and reports how delivery went. Imports nothing.
 */

/**
 * Alert severities, most urgent first, with the spec's meaning: `critical` needs
 * immediate action (an outage or a security breach), `high` action within an hour
 * (performance degradation), `medium` within four hours (capacity warnings), `low`
 * is informational (trends, maintenance), `info` general information (deployments,
 * routine events).
 *
 * @example
 * ```ts
 * const severity: AlertSeverity = 'high';
 * ```
 */
export type AlertSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/**
 * What happened to the alerts a notification carries: `firing` (new or still
 * firing), `resolved` (the condition cleared), `acknowledged` (someone took it).
 *
 * @example
 * ```ts
 * if (notification.status === 'resolved') closeIncident(notification.groupKey);
 * ```
 */
export type NotificationStatus = 'firing' | 'resolved' | 'acknowledged';

/**
 * One alert as a channel sees it: everything needed to render or forward it.
 * Times are milliseconds since the Unix epoch.
 *
 * @example
 * ```ts
 * const line = `[${alert.severity}] ${alert.name} on ${alert.component}: ${alert.value}`;
 * ```
 */
export interface NotifiedAlert {
  /** Stable for one episode of the alert (pending → firing → resolved): use it as a dedup key. */
  readonly alertId: string;
  /** The rule that raised it. */
  readonly ruleId: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's description (may be empty). */
  readonly description: string;
  /** The rule's severity. */
  readonly severity: AlertSeverity;
  /** The rule's component. */
  readonly component: string;
  /** This alert's status in this notification. */
  readonly status: NotificationStatus;
  /** The rule's condition, normalised. */
  readonly condition: string;
  /** The rule's threshold, when it has one. */
  readonly threshold?: number;
  /** The condition's value at the last evaluation (see `ConditionResult.value`). */
  readonly value?: number;
  /**
   * Identifying labels: the rule's labels plus `alertname`, `severity` and
   * `component`. Silences, inhibition and grouping match on these.
   */
  readonly labels: Readonly<Record<string, string>>;
  /** Free-form details: the rule's annotations plus `description` and `condition`. */
  readonly annotations: Readonly<Record<string, string>>;
  /** When the alert started firing. */
  readonly startsAt: number;
  /** When it resolved (only for `resolved`). */
  readonly endsAt?: number;
  /** Who acknowledged it, and when (once acknowledged). */
  readonly acknowledgedBy?: string;
  /** When it was acknowledged. */
  readonly acknowledgedAt?: number;
}

/**
 * One message to one channel: a group of alerts with the same group key (component
 * and the configured group-by labels), or a single alert from an escalation step.
 *
 * @example
 * ```ts
 * const channel: NotificationChannel = {
 *   kind: 'console',
 *   async send(notification) {
 *     for (const alert of notification.alerts) console.log(notification.status, alert.name);
 *     return { ok: true, attempts: 1 };
 *   },
 *   async shutdown() {},
 * };
 * ```
 */
export interface AlertNotification {
  /** Unique per notification; a receiver can drop a duplicate delivery by it. */
  readonly id: string;
  /** The configured name of the channel it goes to (`'slack-critical'`). */
  readonly channel: string;
  /** `firing` when any alert in it fires, else `resolved` or `acknowledged`. */
  readonly status: NotificationStatus;
  /** The group's key, e.g. `{component="api_gateway"}`; stable for the group's life. */
  readonly groupKey: string;
  /** The labels the group was formed on (component and group-by labels). */
  readonly groupLabels: Readonly<Record<string, string>>;
  /** Labels every alert in it shares. */
  readonly commonLabels: Readonly<Record<string, string>>;
  /** Annotations every alert in it shares. */
  readonly commonAnnotations: Readonly<Record<string, string>>;
  /** The highest severity among its alerts. */
  readonly severity: AlertSeverity;
  /** The alerts, firing first. */
  readonly alerts: readonly NotifiedAlert[];
  /** Why it was sent: a group flush, a repeat, an escalation step, or an acknowledgement. */
  readonly reason: 'group' | 'repeat' | 'escalation' | 'acknowledgement' | 'resolution';
  /** For `reason: 'escalation'`: the step's index (0-based). */
  readonly escalationStep?: number;
  /** When the engine made it. */
  readonly timestamp: number;
}

/**
 * How one delivery went, as the channel reports it. A channel never throws: it
 * retries what may succeed later (timeouts, refused connections, 429, 5xx) within its
 * budget and reports `ok: false` with `givenUp: true` when it stops.
 *
 * @example
 * ```ts
 * const report = await channel.send(notification);
 * if (!report.ok) console.warn(`gave up after ${report.attempts} attempts: ${report.error}`);
 * ```
 */
export interface DeliveryReport {
  /** Whether the provider accepted it. */
  readonly ok: boolean;
  /** Requests made (1 when the first succeeded). */
  readonly attempts: number;
  /** The last HTTP status (or SMTP reply code), when there was one. */
  readonly status?: number;
  /** Why it failed, for logs. */
  readonly error?: string;
  /** `true` when it failed for good: a 4xx other than 429, or the retry budget ran out. */
  readonly givenUp?: boolean;
}

/**
 * A notification channel: Slack, PagerDuty, a webhook, email, SMS, Alertmanager or
 * your own. `send` must not throw (the engine still catches and counts it if it does)
 * and should finish within its own timeout and retry budget; `shutdown` lets
 * in-flight deliveries end.
 *
 * `mode: 'stream'` (Alertmanager) asks for every firing alert to be re-sent
 * periodically, unmuted, one notification per alert change, instead of grouped,
 * deduplicated messages: a receiver that groups by itself needs the raw stream.
 *
 * @example
 * ```ts
 * import { webhookChannel } from '@prsm/exporters/notifiers';
 *
 * const monitor = new Monitor({
 *   alerting: { channels: { ops: webhookChannel({ url: 'https://ops.example/hook', secret }) } },
 * });
 * ```
 */
export interface NotificationChannel {
  /** What kind of channel it is (`'slack'`, `'pagerduty'`...), for metrics and logs. */
  readonly kind: string;
  /** `'grouped'` (default): Alertmanager-style grouped notifications. `'stream'`: see above. */
  readonly mode?: 'grouped' | 'stream';
  /** Delivers one notification. */
  send(notification: AlertNotification): Promise<DeliveryReport>;
  /** Waits for in-flight deliveries and releases resources. Idempotent. */
  shutdown(): Promise<void>;
}
