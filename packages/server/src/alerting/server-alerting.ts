/**
 * The server's evaluation of the stored alert rules, on an interval of the injected
 * clock: core's condition language over {@link StoreSignalSource}, Prometheus's
 * lifecycle (pending after the condition first holds, firing once it has held for
 * `duration_seconds`, resolved when it stops; a pending alert that stops holding is
 * cancelled; missing data counts as false, core's default `noData: 'ok'`), every
 * transition and action stored (the state survives a restart), and notifications
 * to the channels the server was given (`firing`, `resolved`, `acknowledged`).
 *
 * Core's `AlertEngine` reads only a `Monitor`'s in-memory series (its constructor
 * takes an internal reader), so this is the server's own small lifecycle over
 * core's public parts (`parseCondition`, `SignalSource`, `NotificationChannel`)
 * until core takes a `SignalSource`. No grouping, inhibition, silences nor
 * escalation here. May import from store/ and core's public API.
 */
import { randomUUID } from 'node:crypto';

import {
  parseCondition,
  type AlertNotification,
  type Clock,
  type Condition,
  type NotificationChannel,
  type NotificationStatus,
  type NotifiedAlert,
} from '@prsm/core';

import type { MonitorStore } from '../store/store.js';
import type {
  AlertRuleRecord,
  ServerAlertEvent,
  Severity,
  StoredAlertState,
} from '../store/types.js';
import { StoreSignalSource } from './store-source.js';

/**
 * Options of the server's alert evaluation (`ServerOptions.alerting`).
 *
 * @example
 * ```ts
 * import { webhookChannel } from '@prsm/exporters/notifiers';
 *
 * const alerting: ServerAlertingOptions = {
 *   channels: { webhook: webhookChannel({ url: 'https://ops.example/hook' }) },
 *   evaluationIntervalMs: 10_000,
 * };
 * ```
 */
export interface ServerAlertingOptions {
  /** Channels by the name rules list in `notification_channels`. Default none. */
  readonly channels?: Readonly<Record<string, NotificationChannel>>;
  /** How often rules are evaluated (ms); 0: only when `evaluate()` is called. Default 10,000. */
  readonly evaluationIntervalMs?: number;
  /** The window of signals a condition names none for (seconds). Default 60. */
  readonly windowSeconds?: number;
}

/**
 * A rule's pending or firing alert, as `GET /alerts` lists it.
 *
 * @example
 * ```ts
 * const firing = server.alerting.active().filter((a: ActiveAlertRecord) => a.state === 'firing');
 * ```
 */
export interface ActiveAlertRecord {
  /** The episode's id (stable from pending to resolved). */
  readonly alert_id: string;
  /** The rule's id. */
  readonly rule_id: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's severity. */
  readonly severity: Severity;
  /** The rule's component. */
  readonly component: string;
  /** `pending` or `firing`. */
  readonly state: 'pending' | 'firing';
  /** When the condition started to hold, ISO 8601. */
  readonly active_at: string;
  /** When it started firing, ISO 8601, or null. */
  readonly triggered_at: string | null;
  /** The condition's value at the last evaluation, or null. */
  readonly value: number | null;
  /** Who acknowledged it, or null. */
  readonly acknowledged_by: string | null;
  /** When, ISO 8601, or null. */
  readonly acknowledged_at: string | null;
}

/**
 * What one evaluation did.
 *
 * @example
 * ```ts
 * const { firing, notifications } = server.alerting.evaluate();
 * ```
 */
export interface ServerEvaluationSummary {
  /** When it ran (ms, from the server's clock). */
  readonly at: number;
  /** Rules evaluated. */
  readonly rules: number;
  /** Alerts pending afterwards. */
  readonly pending: number;
  /** Alerts firing afterwards. */
  readonly firing: number;
  /** Rules whose evaluation threw (reported to `onError`). */
  readonly errors: number;
  /** Notifications handed to channels. */
  readonly notifications: number;
}

/**
 * Deliveries of one channel.
 *
 * @example
 * ```ts
 * const { sent, delivered, failed }: ChannelDeliveries = server.alerting.deliveryStats()['webhook']!;
 * ```
 */
export interface ChannelDeliveries {
  /** Notifications handed to the channel. */
  sent: number;
  /** Accepted by the receiver. */
  delivered: number;
  /** Not delivered (after the channel's own retries). */
  failed: number;
}

/**
 * What {@link ServerAlerting.acknowledge} did.
 *
 * @example
 * ```ts
 * const done: AcknowledgeResult | undefined = server.alerting.acknowledge(ruleId, 'ana');
 * ```
 */
export interface AcknowledgeResult {
  /** The rule, marked acknowledged. */
  readonly rule: AlertRuleRecord;
  /** Its active alert, acknowledged, if it had one. */
  readonly alert: ActiveAlertRecord | undefined;
}

interface Mutable {
  alertId: string;
  state: 'pending' | 'firing';
  activeAt: number;
  triggeredAt: number | null;
  value: number | null;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  notified: string[];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The server's alert evaluation over its store. Built by `createServer` (as
 * `server.alerting`); rules are the store's, so they survive a restart, and so does
 * the state of their alerts.
 *
 * @example
 * ```ts
 * const server = await createServer({ db: './prsm.db', clock, alerting: { evaluationIntervalMs: 0 } });
 * clock.advance(60_000);
 * server.alerting.evaluate();
 * await server.alerting.flush(); // the webhook has been called
 * ```
 */
export class ServerAlerting {
  readonly #store: MonitorStore;
  readonly #clock: Clock;
  readonly #channels: ReadonlyMap<string, NotificationChannel>;
  readonly #windowSeconds: number;
  readonly #onError: (error: unknown) => void;
  readonly #states: Map<string, Mutable>;
  readonly #parsed = new Map<string, { text: string; condition: Condition }>();
  readonly #deliveries = new Set<Promise<void>>();
  readonly #stats = new Map<string, ChannelDeliveries>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** @internal */
  constructor(
    store: MonitorStore,
    clock: Clock,
    options: ServerAlertingOptions,
    onError: (error: unknown) => void,
  ) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('createServer: options.alerting must be an object');
    }
    const channels = options.channels ?? {};
    if (channels === null || typeof channels !== 'object') {
      throw new TypeError('createServer: options.alerting.channels must be an object');
    }
    for (const [name, channel] of Object.entries(channels)) {
      if (typeof channel?.send !== 'function' || typeof channel.shutdown !== 'function') {
        throw new TypeError(
          `createServer: options.alerting.channels.${name} must be a NotificationChannel (send, shutdown)`,
        );
      }
      this.#stats.set(name, { sent: 0, delivered: 0, failed: 0 });
    }
    const interval = options.evaluationIntervalMs ?? 10_000;
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0) {
      throw new TypeError(
        'createServer: options.alerting.evaluationIntervalMs must be a non-negative number',
      );
    }
    const window = options.windowSeconds ?? 60;
    if (typeof window !== 'number' || !Number.isFinite(window) || window <= 0) {
      throw new TypeError('createServer: options.alerting.windowSeconds must be a positive number');
    }
    this.#store = store;
    this.#clock = clock;
    this.#channels = new Map(Object.entries(channels));
    this.#windowSeconds = window;
    this.#onError = onError;
    this.#states = new Map(
      [...store.alertStates()].map(([ruleId, s]) => [ruleId, { ...s, notified: [...s.notified] }]),
    );
    if (interval > 0) {
      this.#timer = setInterval(() => {
        try {
          this.evaluate();
        } catch (error) {
          onError(error);
        }
      }, interval);
      this.#timer.unref();
    }
  }

  /**
   * Evaluates every stored rule now, at the clock's time, and moves its alert along.
   * Notifications are delivered in the background (`flush()` waits for them).
   *
   * @example
   * ```ts
   * clock.advance(300_000);
   * server.alerting.evaluate().firing; // 1
   * ```
   */
  evaluate(): ServerEvaluationSummary {
    const now = this.#clock.now();
    const source = new StoreSignalSource(this.#store, now);
    const rules = this.#store.listAlertRules();
    let errors = 0;
    let notifications = 0;
    const ids = new Set<string>();
    for (const rule of rules) {
      ids.add(rule.alert_id);
      try {
        notifications += this.#evaluateRule(rule, source, now);
      } catch (error) {
        errors++;
        this.#onError(error);
      }
    }
    for (const ruleId of [...this.#states.keys()])
      if (!ids.has(ruleId)) this.#states.delete(ruleId);
    let pending = 0;
    let firing = 0;
    for (const s of this.#states.values()) {
      if (s.state === 'firing') firing++;
      else pending++;
    }
    return { at: now, rules: rules.length, pending, firing, errors, notifications };
  }

  /**
   * The state of a rule's alert: `inactive`, `pending` or `firing`.
   *
   * @example
   * ```ts
   * server.alerting.stateOf(ruleId); // 'firing'
   * ```
   */
  stateOf(ruleId: string): 'inactive' | 'pending' | 'firing' {
    return this.#states.get(ruleId)?.state ?? 'inactive';
  }

  /**
   * Alerts pending or firing now, firing first, then by when they became active.
   *
   * @example
   * ```ts
   * server.alerting.active({ component: 'api_gateway' });
   * ```
   */
  active(filter: { severity?: string; component?: string } = {}): ActiveAlertRecord[] {
    const out: ActiveAlertRecord[] = [];
    for (const rule of this.#store.listAlertRules(filter)) {
      const s = this.#states.get(rule.alert_id);
      if (s !== undefined) out.push(this.#view(rule, s));
    }
    return out.sort(
      (a, b) =>
        (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) ||
        a.active_at.localeCompare(b.active_at),
    );
  }

  /**
   * The active alert of a rule, or `undefined`.
   *
   * @example
   * ```ts
   * server.alerting.activeOf(server.store.alertRule(ruleId)!)?.state;
   * ```
   */
  activeOf(rule: AlertRuleRecord): ActiveAlertRecord | undefined {
    const s = this.#states.get(rule.alert_id);
    return s === undefined ? undefined : this.#view(rule, s);
  }

  /**
   * Acknowledges a rule (`id`: the rule's id, or its active alert's id): the rule is
   * marked acknowledged, and its active alert, if any, too, with an
   * `acknowledged` entry in the history and an acknowledgement to every channel told
   * it fires. `undefined` when there is no such rule.
   *
   * @example
   * ```ts
   * server.alerting.acknowledge(ruleId, 'on-call');
   * ```
   */
  acknowledge(id: string, by: string): AcknowledgeResult | undefined {
    let ruleId = id;
    if (this.#store.alertRule(id) === undefined) {
      for (const [r, s] of this.#states) if (s.alertId === id) ruleId = r;
    }
    const rule = this.#store.acknowledgeAlertRule(ruleId, by);
    if (rule === undefined) return undefined;
    const s = this.#states.get(ruleId);
    if (s !== undefined && s.acknowledgedBy === null) {
      const now = this.#clock.now();
      s.acknowledgedBy = by;
      s.acknowledgedAt = now;
      this.#store.saveAlert(ruleId, s, [this.#event(rule, s, 'acknowledged', now, by)]);
      if (s.notified.length > 0) {
        this.#notify(s.notified, rule, s, 'acknowledged', 'acknowledgement', now);
      }
    }
    return { rule, alert: s === undefined ? undefined : this.#view(rule, s) };
  }

  /**
   * Deletes a rule: a firing alert of it is resolved (the channels told it fires
   * hear so), a pending one dropped, with a `rule_deleted` entry. `false` when there
   * is no such rule.
   *
   * @example
   * ```ts
   * server.alerting.delete(ruleId); // true
   * ```
   */
  delete(ruleId: string): boolean {
    const rule = this.#store.alertRule(ruleId);
    if (rule === undefined) return false;
    const s = this.#states.get(ruleId);
    if (s !== undefined) {
      const now = this.#clock.now();
      this.#store.saveAlert(ruleId, undefined, [this.#event(rule, s, 'rule_deleted', now)]);
      this.#states.delete(ruleId);
      if (s.state === 'firing' && s.notified.length > 0) {
        this.#notify(s.notified, rule, s, 'resolved', 'resolution', now);
      }
    }
    return this.#store.deleteAlertRule(ruleId);
  }

  /**
   * The server's alert history, newest first.
   *
   * @example
   * ```ts
   * server.alerting.history(20).map((e) => `${e.at} ${e.name} ${e.event}`);
   * ```
   */
  history(limit = 100): ServerAlertEvent[] {
    return this.#store.serverAlertEvents(limit);
  }

  /**
   * Deliveries per configured channel: handed over, delivered, failed.
   *
   * @example
   * ```ts
   * server.alerting.deliveryStats()['webhook']?.delivered;
   * ```
   */
  deliveryStats(): Record<string, ChannelDeliveries> {
    const out: Record<string, ChannelDeliveries> = {};
    for (const [name, s] of this.#stats) out[name] = { ...s };
    return out;
  }

  /**
   * Waits for every notification handed to a channel so far.
   *
   * @example
   * ```ts
   * server.alerting.evaluate();
   * await server.alerting.flush();
   * ```
   */
  async flush(): Promise<void> {
    while (this.#deliveries.size > 0) await Promise.all([...this.#deliveries]);
  }

  /** Stops the interval, waits for deliveries and shuts the channels down. @internal */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.flush();
    await Promise.all(
      [...this.#channels.values()].map(async (c) => {
        try {
          await c.shutdown();
        } catch (error) {
          this.#onError(error);
        }
      }),
    );
  }

  #condition(rule: AlertRuleRecord): Condition {
    const cached = this.#parsed.get(rule.alert_id);
    if (cached?.text === rule.condition) return cached.condition;
    const condition = parseCondition(rule.condition);
    this.#parsed.set(rule.alert_id, { text: rule.condition, condition });
    return condition;
  }

  /** Moves one rule's alert along; returns the notifications it handed out. */
  #evaluateRule(rule: AlertRuleRecord, source: StoreSignalSource, now: number): number {
    const result = this.#condition(rule).evaluate(source, rule.component, this.#windowSeconds);
    const value = result.value ?? null;
    const s = this.#states.get(rule.alert_id);
    if (result.state === 'true') {
      const events: ServerAlertEvent[] = [];
      let alert = s;
      if (alert === undefined) {
        alert = {
          alertId: `episode_${randomUUID()}`,
          state: 'pending',
          activeAt: now,
          triggeredAt: null,
          value,
          acknowledgedBy: null,
          acknowledgedAt: null,
          notified: [],
        };
        this.#states.set(rule.alert_id, alert);
        events.push(this.#event(rule, alert, 'pending', now));
      }
      alert.value = value;
      let sent = 0;
      if (alert.state === 'pending' && now - alert.activeAt >= rule.duration_seconds * 1000) {
        alert.state = 'firing';
        alert.triggeredAt = now;
        events.push(this.#event(rule, alert, 'firing', now));
        const channels = rule.notification_channels.filter((c) => this.#channels.has(c));
        alert.notified = channels;
        sent = this.#notify(channels, rule, alert, 'firing', 'group', now);
      }
      if (events.length > 0 || s?.value !== value)
        this.#store.saveAlert(rule.alert_id, alert, events);
      return sent;
    }
    if (s === undefined) return 0;
    if (value !== null) s.value = value;
    this.#states.delete(rule.alert_id);
    if (s.state === 'pending') {
      this.#store.saveAlert(rule.alert_id, undefined, [this.#event(rule, s, 'cancelled', now)]);
      return 0;
    }
    this.#store.saveAlert(rule.alert_id, undefined, [this.#event(rule, s, 'resolved', now)]);
    return this.#notify(s.notified, rule, s, 'resolved', 'resolution', now);
  }

  #event(
    rule: AlertRuleRecord,
    s: Mutable,
    event: ServerAlertEvent['event'],
    at: number,
    by: string | null = null,
  ): ServerAlertEvent {
    return {
      alert_id: s.alertId,
      rule_id: rule.alert_id,
      name: rule.name,
      severity: rule.severity,
      component: rule.component,
      event,
      at: iso(at),
      value: s.value,
      by,
    };
  }

  #view(rule: AlertRuleRecord, s: StoredAlertState): ActiveAlertRecord {
    return {
      alert_id: s.alertId,
      rule_id: rule.alert_id,
      name: rule.name,
      severity: rule.severity,
      component: rule.component,
      state: s.state,
      active_at: iso(s.activeAt),
      triggered_at: s.triggeredAt === null ? null : iso(s.triggeredAt),
      value: s.value,
      acknowledged_by: s.acknowledgedBy,
      acknowledged_at: s.acknowledgedAt === null ? null : iso(s.acknowledgedAt),
    };
  }

  #notify(
    channels: readonly string[],
    rule: AlertRuleRecord,
    s: Mutable,
    status: NotificationStatus,
    reason: AlertNotification['reason'],
    now: number,
  ): number {
    const labels = { alertname: rule.name, severity: rule.severity, component: rule.component };
    const annotations = {
      ...(rule.description !== '' && { description: rule.description }),
      condition: rule.condition,
      ...(rule.threshold !== null && { threshold: String(rule.threshold) }),
    };
    const alert: NotifiedAlert = {
      alertId: s.alertId,
      ruleId: rule.alert_id,
      name: rule.name,
      description: rule.description,
      severity: rule.severity,
      component: rule.component,
      status,
      condition: rule.condition,
      labels,
      annotations,
      startsAt: s.triggeredAt ?? s.activeAt,
      ...(rule.threshold !== null && { threshold: rule.threshold }),
      ...(s.value !== null && { value: s.value }),
      ...(status === 'resolved' && { endsAt: now }),
      ...(s.acknowledgedBy !== null && {
        acknowledgedBy: s.acknowledgedBy,
        acknowledgedAt: s.acknowledgedAt ?? now,
      }),
    };
    let sent = 0;
    for (const name of channels) {
      const channel = this.#channels.get(name);
      const stats = this.#stats.get(name);
      if (channel === undefined || stats === undefined) continue;
      const notification: AlertNotification = {
        id: randomUUID(),
        channel: name,
        status,
        groupKey: `{component=${JSON.stringify(rule.component)}}`,
        groupLabels: { component: rule.component },
        commonLabels: labels,
        commonAnnotations: annotations,
        severity: rule.severity,
        alerts: [alert],
        reason,
        timestamp: now,
      };
      stats.sent++;
      sent++;
      const delivery = (async (): Promise<void> => {
        try {
          const report = await channel.send(notification);
          if (report.ok) stats.delivered++;
          else {
            stats.failed++;
            this.#onError(new Error(`channel ${name}: ${report.error ?? 'not delivered'}`));
          }
        } catch (error) {
          stats.failed++;
          this.#onError(error);
        }
      })();
      this.#deliveries.add(delivery);
      void delivery.finally(() => this.#deliveries.delete(delivery));
    }
    return sent;
  }
}
