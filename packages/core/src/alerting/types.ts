/** The public shapes of the alert engine: rules, alerts, silences, history, options. */
import type { ComponentName } from '../components/names.js';
import type { AlertSeverity, NotificationChannel } from './notification.js';

/**
 * What an alert rule does when its condition has no data (a signal without
 * samples in the window, a gauge never set): `'ok'` treats it as false, so a pending
 * alert drops and a firing one resolves (after `keepFiringForSeconds`), as Prometheus
 * does when a series disappears; `'keep'` leaves the state as it is (pending does not
 * advance to firing, firing keeps firing); `'alerting'` treats it as true.
 *
 * @example
 * ```ts
 * monitor.alerts.create({ ..., condition: 'heartbeats.ok[5m] < 1', noData: 'alerting' });
 * ```
 */
export type NoDataPolicy = 'ok' | 'keep' | 'alerting';

/**
 * A label matcher, as in Alertmanager: `=` equal, `!=` not equal, `=~` matches the
 * regular expression (anchored at both ends), `!~` does not. A label that is not
 * set reads as the empty string.
 *
 * @example
 * ```ts
 * const matchers: LabelMatcher[] = [
 *   { name: 'component', value: 'database' },
 *   { name: 'severity', type: '=~', value: 'medium|low' },
 * ];
 * ```
 */
export interface LabelMatcher {
  /** The label's name (`component`, `severity`, `alertname` or a rule label). */
  readonly name: string;
  /** The value or the regular expression. */
  readonly value: string;
  /** Default `'='`. */
  readonly type?: '=' | '!=' | '=~' | '!~';
}

/**
 * One step of an escalation policy: when a firing alert is still unacknowledged
 * `afterSeconds` after it started firing, it is sent to `channels`.
 *
 * @example
 * ```ts
 * const step: EscalationStep = { afterSeconds: 900, channels: ['pagerduty'] };
 * ```
 */
export interface EscalationStep {
  /** Seconds after the alert started firing (≥ 0). */
  readonly afterSeconds: number;
  /** Names of configured channels. */
  readonly channels: readonly string[];
}

/**
 * An escalation policy: ordered steps with increasing `afterSeconds`. An
 * unacknowledged firing alert climbs them; acknowledging stops the climb; resolving
 * sends a resolution to every channel that was notified.
 *
 * @example
 * ```ts
 * const policy: EscalationPolicy = {
 *   steps: [
 *     { afterSeconds: 0, channels: ['slack-oncall'] },
 *     { afterSeconds: 600, channels: ['pagerduty'] },
 *     { afterSeconds: 1800, channels: ['sms'] },
 *   ],
 * };
 * ```
 */
export interface EscalationPolicy {
  /** Ordered steps; `afterSeconds` must not decrease. */
  readonly steps: readonly EscalationStep[];
}

/**
 * An Alertmanager-style inhibition rule: while an alert matching `sourceMatchers`
 * fires, alerts matching `targetMatchers` that have the same values for every label
 * in `equal` are muted (not notified; still listed with `inhibitedBy`). An alert
 * never inhibits itself.
 *
 * @example
 * ```ts
 * // The default: a firing critical alert mutes the lower severities on its component.
 * const rule: InhibitRule = {
 *   sourceMatchers: [{ name: 'severity', value: 'critical' }],
 *   targetMatchers: [{ name: 'severity', type: '=~', value: 'high|medium|low|info' }],
 *   equal: ['component'],
 * };
 * ```
 */
export interface InhibitRule {
  /** What the muting alert matches. */
  readonly sourceMatchers: readonly LabelMatcher[];
  /** What the muted alerts match. */
  readonly targetMatchers: readonly LabelMatcher[];
  /** Labels that must be equal on both. */
  readonly equal: readonly string[];
}

/**
 * What `monitor.alerts.create` takes: the spec's alert fields in camelCase, plus
 * options. Only `name`, `severity` and `condition` are required.
 *
 * @example
 * ```ts
 * monitor.alerts.create({
 *   name: 'High API Error Rate',
 *   description: 'Alert when API error rate exceeds 5% for 5 minutes',
 *   severity: 'high',
 *   component: 'api_gateway',
 *   condition: 'error_rate > 0.05',
 *   threshold: 0.05,
 *   durationSeconds: 300,
 *   notificationChannels: ['email', 'slack', 'pagerduty'],
 * });
 * ```
 */
export interface AlertRuleInput {
  /** Optional id (letters, digits, `_`, `-`, `.`, ≤ 128 chars); default a random UUID. */
  readonly id?: string;
  /** A human name, 1 to 200 characters. Becomes the `alertname` label. */
  readonly name: string;
  /** What it means and what to do. Default empty. */
  readonly description?: string;
  /** How urgent. */
  readonly severity: AlertSeverity;
  /** The component whose signals the condition reads. Default the monitor's `defaultComponent`. */
  readonly component?: ComponentName;
  /** The condition, in the condition language (see `parseCondition`). */
  readonly condition: string;
  /** The spec's threshold, kept and shown in notifications (the condition decides). */
  readonly threshold?: number;
  /** How long the condition must hold before the alert fires (the spec's `duration_seconds`). Default 0. */
  readonly durationSeconds?: number;
  /** Channels to notify (configured names). Default: the routes for the severity. */
  readonly notificationChannels?: readonly string[];
  /** Labels identifying the alert, for grouping, silences and inhibition. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Free-form details (runbook URL, dashboard...), sent with notifications. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Keep firing this long after the condition clears, against flapping. Default 0. */
  readonly keepFiringForSeconds?: number;
  /** The name of a configured escalation policy, or a policy. Default none. */
  readonly escalationPolicy?: string | EscalationPolicy;
  /** The window of signals that name none. Default the monitor's shortest window. */
  readonly windowSeconds?: number;
  /** What missing data means. Default `'ok'`. */
  readonly noData?: NoDataPolicy;
}

/**
 * The lifecycle state of a rule's alert: `inactive` (condition false), `pending`
 * (true, not yet for `durationSeconds`), `firing`.
 *
 * @example
 * ```ts
 * const state: AlertState = monitor.alerts.get(ruleId)!.state;
 * ```
 */
export type AlertState = 'inactive' | 'pending' | 'firing';

/**
 * The outcome of a rule's last evaluation.
 *
 * @example
 * ```ts
 * const last: RuleEvaluation | undefined = monitor.alerts.get(id)?.lastEvaluation;
 * if (last?.result === 'no_data') console.warn('no data for', last.missing);
 * ```
 */
export interface RuleEvaluation {
  /** When (ms since the epoch). */
  readonly at: number;
  /** The condition's value, or `error` when evaluation threw. */
  readonly result: 'true' | 'false' | 'no_data' | 'error';
  /** The condition's value (see `ConditionResult.value`). */
  readonly value?: number;
  /** Signals without data. */
  readonly missing: readonly string[];
  /** The error's message, for `result: 'error'`. */
  readonly error?: string;
}

/**
 * A rule as stored: its input, normalised, with its id, times and current state.
 *
 * @example
 * ```ts
 * for (const rule of monitor.alerts.list()) console.log(rule.id, rule.name, rule.state);
 * ```
 */
export interface AlertRule {
  /** The rule's id. */
  readonly id: string;
  /** Its name. */
  readonly name: string;
  /** Its description. */
  readonly description: string;
  /** Its severity. */
  readonly severity: AlertSeverity;
  /** Its component. */
  readonly component: string;
  /** The condition as written. */
  readonly condition: string;
  /** The spec's threshold, when given. */
  readonly threshold?: number;
  /** Seconds the condition must hold. */
  readonly durationSeconds: number;
  /** Channels as given (empty: routed by severity). */
  readonly notificationChannels: readonly string[];
  /** Its labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Its annotations. */
  readonly annotations: Readonly<Record<string, string>>;
  /** Seconds it keeps firing after clearing. */
  readonly keepFiringForSeconds: number;
  /** Its escalation policy, when it has one. */
  readonly escalationPolicy?: string | EscalationPolicy;
  /** The window of signals that name none. */
  readonly windowSeconds: number;
  /** What missing data means. */
  readonly noData: NoDataPolicy;
  /** When it was created (ms). */
  readonly createdAt: number;
  /** When it was last updated (ms). */
  readonly updatedAt: number;
  /** The state of its alert now. */
  readonly state: AlertState;
  /** Its last evaluation, once evaluated. */
  readonly lastEvaluation?: RuleEvaluation;
}

/**
 * An active alert: one episode of a rule's condition holding, from pending through
 * firing. The spec's `active_alerts` entries are `alertId`, `name`, `severity`,
 * `component` and `triggeredAt`.
 *
 * @example
 * ```ts
 * for (const alert of monitor.alerts.active()) {
 *   if (alert.state === 'firing' && !alert.acknowledgedBy) page(alert);
 * }
 * ```
 */
export interface Alert {
  /** Unique per episode. */
  readonly alertId: string;
  /** The rule's id. */
  readonly ruleId: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's severity. */
  readonly severity: AlertSeverity;
  /** The rule's component. */
  readonly component: string;
  /** `pending` or `firing`. */
  readonly state: 'pending' | 'firing';
  /** When the condition started to hold (ms). */
  readonly activeAt: number;
  /** When it started firing (ms), once firing. */
  readonly triggeredAt?: number;
  /** The condition's latest value. */
  readonly value?: number;
  /** Labels: the rule's, plus `alertname`, `severity`, `component`. */
  readonly labels: Readonly<Record<string, string>>;
  /** Annotations: the rule's, plus `description` and `condition`. */
  readonly annotations: Readonly<Record<string, string>>;
  /** Who acknowledged it. */
  readonly acknowledgedBy?: string;
  /** When it was acknowledged (ms). */
  readonly acknowledgedAt?: number;
  /** The last escalation step reached (0-based); -1 before the first. */
  readonly escalationStep: number;
  /** Ids of silences muting it now. */
  readonly silencedBy: readonly string[];
  /** Ids of alerts inhibiting it now. */
  readonly inhibitedBy: readonly string[];
  /** Channels it has been sent to. */
  readonly notifiedChannels: readonly string[];
}

/**
 * One entry of the alert history: a transition or an action.
 *
 * @example
 * ```ts
 * const fired = monitor.alerts.history({ ruleId }).filter((e) => e.event === 'firing');
 * ```
 */
export interface AlertHistoryEntry {
  /** When (ms). */
  readonly at: number;
  /** What happened: `cancelled` is pending → inactive without firing. */
  readonly event:
    'pending' | 'firing' | 'resolved' | 'cancelled' | 'acknowledged' | 'escalated' | 'rule_deleted';
  /** The episode. */
  readonly alertId: string;
  /** The rule. */
  readonly ruleId: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's severity. */
  readonly severity: AlertSeverity;
  /** The rule's component. */
  readonly component: string;
  /** The condition's value then. */
  readonly value?: number;
  /** Who acknowledged (for `acknowledged`). */
  readonly by?: string;
  /** The step reached (for `escalated`). */
  readonly escalationStep?: number;
}

/**
 * What `monitor.alerts.silence` takes. Give `endsAt` or `durationSeconds`.
 *
 * @example
 * ```ts
 * monitor.alerts.silence({
 *   matchers: [{ name: 'component', value: 'database' }],
 *   durationSeconds: 3600,
 *   createdBy: 'ana',
 *   comment: 'planned failover',
 * });
 * ```
 */
export interface SilenceInput {
  /** At least one; every matcher must match. */
  readonly matchers: readonly LabelMatcher[];
  /** Default now (ms). */
  readonly startsAt?: number;
  /** When it expires (ms). */
  readonly endsAt?: number;
  /** Or how long it lasts from `startsAt`. */
  readonly durationSeconds?: number;
  /** Who made it. */
  readonly createdBy: string;
  /** Why. */
  readonly comment?: string;
}

/**
 * A silence: alerts whose labels match all its matchers between `startsAt` and
 * `endsAt` are not notified (they still show in `active()` with `silencedBy`).
 *
 * @example
 * ```ts
 * const silence: Silence = monitor.alerts.silence({ matchers, durationSeconds: 600, createdBy: 'ana' });
 * monitor.alerts.expireSilence(silence.id);
 * ```
 */
export interface Silence {
  /** Its id. */
  readonly id: string;
  /** Its matchers. */
  readonly matchers: readonly LabelMatcher[];
  /** When it starts (ms). */
  readonly startsAt: number;
  /** When it ends (ms). */
  readonly endsAt: number;
  /** Who made it. */
  readonly createdBy: string;
  /** Why. */
  readonly comment: string;
}

/**
 * Delivery counters of one channel, since the monitor started.
 *
 * @example
 * ```ts
 * const stats: ChannelDeliveryStats = monitor.alerts.deliveryStats()['slack']!;
 * if (stats.failed > 0) console.warn('slack deliveries failing');
 * ```
 */
export interface ChannelDeliveryStats {
  /** Notifications handed to the channel. */
  readonly sent: number;
  /** Accepted by the provider. */
  readonly delivered: number;
  /** Failed after the channel's retries (or the channel threw). */
  readonly failed: number;
  /** Dropped before sending: the channel's queue was full, or after shutdown. */
  readonly dropped: number;
  /** Being delivered now. */
  readonly inFlight: number;
  /** Waiting for a delivery slot. */
  readonly queued: number;
}

/**
 * Options of the alert engine, `new Monitor({ alerting })`. Every option is checked
 * at construction: a bad value throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * import { pagerDutyChannel, slackChannel } from '@prsm/exporters/notifiers';
 *
 * const monitor = new Monitor({
 *   alerting: {
 *     channels: {
 *       slack: slackChannel({ webhookUrl: process.env.SLACK_WEBHOOK! }),
 *       pagerduty: pagerDutyChannel({ routingKey: process.env.PD_ROUTING_KEY! }),
 *     },
 *     routes: { critical: ['pagerduty', 'slack'], high: ['slack'] },
 *     groupWaitSeconds: 30,
 *   },
 * });
 * ```
 */
export interface AlertingOptions {
  /** Seconds between evaluations on an unref'd timer. 0: only `monitor.alerts.evaluate()`. Default 10. */
  readonly evaluationIntervalSeconds?: number;
  /** Notification channels by name (the names rules and routes use). */
  readonly channels?: Readonly<Record<string, NotificationChannel>>;
  /**
   * Channels per severity for rules that name none. Default: `critical` → pagerduty,
   * sms, slack, email, webhook, alertmanager; `high` and `medium` → slack, email,
   * webhook, alertmanager; `low` → email, webhook, alertmanager; `info` → webhook,
   * alertmanager (names that are not configured are skipped).
   */
  readonly routes?: Partial<Readonly<Record<AlertSeverity, readonly string[]>>>;
  /** Labels besides `component` that notifications are grouped by. Default none. */
  readonly groupBy?: readonly string[];
  /** Wait before the first notification of a new group, to gather its alerts. Default 30. */
  readonly groupWaitSeconds?: number;
  /** Wait before notifying a group about new or resolved alerts. Default 300. */
  readonly groupIntervalSeconds?: number;
  /** Wait before repeating an unchanged notification of a firing group. Default 14400 (4 h). */
  readonly repeatIntervalSeconds?: number;
  /** How often `mode: 'stream'` channels (Alertmanager) get firing alerts again. Default 60. */
  readonly resendIntervalSeconds?: number;
  /** Inhibition rules. Default: a firing critical mutes lower severities on its component. */
  readonly inhibitRules?: readonly InhibitRule[];
  /** Escalation policies by name. */
  readonly escalationPolicies?: Readonly<Record<string, EscalationPolicy>>;
  /** Most rules kept. Default 10000. */
  readonly maxRules?: number;
  /** History entries kept (oldest dropped, counted). Default 1000. */
  readonly maxHistory?: number;
  /** Silences kept. Default 1000. */
  readonly maxSilences?: number;
  /** Deliveries in flight per channel. Default 8. */
  readonly maxInFlightPerChannel?: number;
  /** Notifications waiting per channel beyond those (further ones are dropped, counted). Default 1000. */
  readonly maxQueuedPerChannel?: number;
  /**
   * How long `monitor.shutdown()` lets deliveries (with their retries) go on before it
   * shuts the channels down, which ends their retries. Default 5.
   */
  readonly shutdownTimeoutSeconds?: number;
}
