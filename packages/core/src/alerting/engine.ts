/**
 * The alert engine: rules evaluated on a tick with Prometheus's lifecycle (pending,
 * firing, resolved, keep-firing), and notifications with Alertmanager's model
 * (groups, group wait/interval, repeat, inhibition, silences, deduplication), plus
 * escalation policies. Everything reads the injected clock; `evaluate()` runs one
 * tick by hand.
 */
import type { Clock } from '../clock/clock.js';
import { settleWithin } from '../clock/deadline.js';
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';
import type { Redactor } from '../security/redaction.js';
import { matchesAll, compileMatchers, type CompiledMatcher } from './matchers.js';
import { EvaluationPass, type MonitorReader, SeriesIndex } from './monitor-source.js';
import { SlotDigestCache } from './slot-cache.js';
import type {
  AlertNotification,
  AlertSeverity,
  DeliveryReport,
  NotificationChannel,
  NotificationStatus,
  NotifiedAlert,
} from './notification.js';
import {
  checkId,
  checkRule,
  type ResolvedAlertingOptions,
  resolveAlertingOptions,
  type RuleDefinition,
  severityRank,
  show,
} from './rules.js';
import type {
  Alert,
  AlertHistoryEntry,
  AlertingOptions,
  AlertRule,
  AlertRuleInput,
  AlertState,
  ChannelDeliveryStats,
  RuleEvaluation,
  Silence,
  SilenceInput,
} from './types.js';

/**
 * What one evaluation did.
 *
 * @example
 * ```ts
 * const summary: EvaluationSummary = monitor.alerts.evaluate();
 * console.log(`${summary.rules} rules in ${summary.durationMs} ms, ${summary.firing} firing`);
 * ```
 */
export interface EvaluationSummary {
  /** When it ran (ms, from the monitor's clock). */
  readonly at: number;
  /** Rules evaluated. */
  readonly rules: number;
  /** Alerts pending afterwards. */
  readonly pending: number;
  /** Alerts firing afterwards. */
  readonly firing: number;
  /** Rules whose evaluation threw. */
  readonly errors: number;
  /** Notifications handed to channels. */
  readonly notifications: number;
  /** Wall time the evaluation took (ms, from `performance.now()`). */
  readonly durationMs: number;
}

/** Self-metric handles the engine records into. @internal */
export interface AlertInstruments {
  transition(state: 'pending' | 'firing' | 'resolved', severity: AlertSeverity): void;
  notification(channel: string, outcome: 'delivered' | 'failed' | 'dropped'): void;
  evaluation(ms: number): void;
}

/** What the Monitor hands the engine. @internal */
export interface AlertEngineContext {
  readonly clock: Clock;
  readonly diagnostics: Diagnostics;
  readonly reader: MonitorReader;
  readonly defaultComponent: string;
  readonly windows: readonly number[];
  readonly instruments: AlertInstruments;
  /** Sees every history entry (the monitor's exporters); must not throw. */
  readonly onEvent?: (entry: AlertHistoryEntry) => void;
  /**
   * The monitor's redaction: applied to each rule's labels, annotations and
   * description before they are kept, listed or sent to a channel.
   */
  readonly redactor?: Pick<Redactor, 'redactAttributes' | 'redactString'>;
}

interface ActiveAlert {
  readonly alertId: string;
  state: 'pending' | 'firing';
  readonly activeAt: number;
  triggeredAt?: number;
  value?: number;
  acknowledgedBy?: string;
  acknowledgedAt?: number;
  escalationStep: number;
  silencedBy: string[];
  inhibitedBy: string[];
  /** Channel → how it was told: via its group, directly, or as a stream. */
  readonly notified: Map<string, 'group' | 'direct' | 'stream'>;
  /** Stream channel → when the alert was last streamed to it. */
  readonly streamedAt: Map<string, number>;
}

interface RuleRecord {
  def: RuleDefinition;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  readonly createdAt: number;
  updatedAt: number;
  state: AlertState;
  alert?: ActiveAlert;
  lastEvaluation?: RuleEvaluation;
  lastTrueAt: number;
}

interface GroupEntry {
  record: RuleRecord;
  alert: ActiveAlert;
  resolvedAt?: number;
  notified: boolean;
}

interface Group {
  readonly key: string;
  readonly channel: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly entries: Map<string, GroupEntry>;
  nextFlushAt: number;
  /** The firing alerts the last notification carried. */
  lastFiring: ReadonlySet<string>;
  lastSentAt: number;
}

interface ChannelState {
  readonly name: string;
  readonly channel: NotificationChannel;
  readonly stream: boolean;
  inFlight: number;
  readonly queue: AlertNotification[];
  sent: number;
  delivered: number;
  failed: number;
  dropped: number;
}

interface CompiledSilence {
  readonly silence: Silence;
  readonly matchers: readonly CompiledMatcher[];
}

function newId(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * `monitor.alerts`: create and manage alert rules, read active alerts and history,
 * acknowledge, silence, and run an evaluation by hand. Rules are evaluated every
 * `alerting.evaluationIntervalSeconds` (default 10) on an unref'd timer once the
 * first rule exists.
 *
 * Lifecycle, as Prometheus's: a rule whose condition holds is `pending`; once it has
 * held for `durationSeconds` it is `firing` (at once when 0); when it stops holding, a
 * pending alert is dropped (`cancelled`) and a firing one `resolved`, unless
 * `keepFiringForSeconds` keeps it firing that long after the condition last held.
 * Missing data follows the rule's `noData` policy.
 *
 * @example
 * ```ts
 * import { ManualClock, Monitor } from '@prsm/core';
 *
 * const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 30));
 * const monitor = new Monitor({ clock, alerting: { evaluationIntervalSeconds: 0 } });
 * const rule = monitor.alerts.create({
 *   name: 'API Error Rate Critical',
 *   severity: 'critical',
 *   component: 'api_gateway',
 *   condition: 'error_rate > 0.10',
 *   durationSeconds: 120,
 * });
 * // ... record failing calls, then, like `promtool test rules`:
 * monitor.alerts.evaluate();
 * clock.advance(120_000);
 * monitor.alerts.evaluate();
 * monitor.alerts.get(rule.id)?.state; // 'firing'
 * ```
 */
export class AlertEngine {
  readonly #context: AlertEngineContext;
  readonly #options: ResolvedAlertingOptions;
  readonly #rules = new Map<string, RuleRecord>();
  readonly #history: AlertHistoryEntry[] = [];
  #historyStart = 0;
  readonly #silences = new Map<string, CompiledSilence>();
  readonly #groups = new Map<string, Group>();
  readonly #channels = new Map<string, ChannelState>();
  readonly #pendingDeliveries = new Set<Promise<void>>();
  readonly #slotCache: SlotDigestCache;
  readonly #seriesIndex = new SeriesIndex();
  /** One pass for every tick, emptied between them: see `EvaluationPass.begin`. */
  #pass: EvaluationPass | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #notificationsThisTick = 0;

  /** @internal */
  constructor(context: AlertEngineContext, options: AlertingOptions | undefined) {
    this.#context = context;
    this.#options = resolveAlertingOptions(options);
    this.#slotCache = new SlotDigestCache();
    for (const [name, channel] of this.#options.channels) {
      this.#channels.set(name, {
        name,
        channel,
        stream: channel.mode === 'stream',
        inFlight: 0,
        queue: [],
        sent: 0,
        delivered: 0,
        failed: 0,
        dropped: 0,
      });
    }
  }

  /**
   * Creates a rule. The condition is parsed now: a bad one throws a
   * `ConditionSyntaxError` naming the position and what was expected; any other bad
   * field throws a `TypeError` naming it (an unknown channel or escalation policy, a
   * window longer than the monitor keeps...). Nothing already stored changes then.
   *
   * @example
   * ```ts
   * const rule = monitor.alerts.create({
   *   name: 'Database Connection Pool Warning',
   *   severity: 'medium',
   *   component: 'database',
   *   condition: 'db_connections > 0.80 * max_connections',
   *   durationSeconds: 300,
   *   notificationChannels: ['slack-alerts', 'email'],
   * });
   * ```
   */
  create(input: AlertRuleInput): AlertRule {
    const id = input?.id === undefined ? newId() : checkId(input.id);
    if (this.#rules.has(id)) throw new TypeError(`id: a rule with id '${id}' already exists`);
    if (this.#rules.size >= this.#options.maxRules) {
      throw new TypeError(`too many rules: alerting.maxRules is ${this.#options.maxRules}`);
    }
    const def = this.#redactRule(checkRule(input, id, this.#ruleContext()));
    const now = this.#context.clock.now();
    const record: RuleRecord = {
      def,
      ...decorate(def, this.#context.redactor),
      createdAt: now,
      updatedAt: now,
      state: 'inactive',
      lastTrueAt: -Infinity,
    };
    this.#rules.set(id, record);
    this.#startTimer();
    return this.#ruleView(record);
  }

  /**
   * How many rules there are (what `list().length` gives, without building the views).
   *
   * @example
   * ```ts
   * console.log(`${monitor.alerts.ruleCount()} alert rules`);
   * ```
   */
  ruleCount(): number {
    return this.#rules.size;
  }

  /**
   * Every rule, optionally only those of a component or a severity.
   *
   * @example
   * ```ts
   * const critical = monitor.alerts.list({ severity: 'critical' });
   * ```
   */
  list(
    filter: { readonly component?: string; readonly severity?: AlertSeverity } = {},
  ): AlertRule[] {
    const out: AlertRule[] = [];
    for (const record of this.#rules.values()) {
      if (filter.component !== undefined && record.def.component !== filter.component) continue;
      if (filter.severity !== undefined && record.def.severity !== filter.severity) continue;
      out.push(this.#ruleView(record));
    }
    return out;
  }

  /**
   * One rule by id, with its state and last evaluation; `undefined` if there is none.
   *
   * @example
   * ```ts
   * monitor.alerts.get(rule.id)?.state; // 'inactive' | 'pending' | 'firing'
   * ```
   */
  get(id: string): AlertRule | undefined {
    const record = this.#rules.get(id);
    return record === undefined ? undefined : this.#ruleView(record);
  }

  /**
   * Changes a rule: `changes` holds the fields to replace (the rest are kept); checked
   * like `create`, and on a bad field nothing changes. The rule's current alert keeps
   * its state and id. `undefined` if there is no such rule.
   *
   * @example
   * ```ts
   * monitor.alerts.update(rule.id, { condition: 'error_rate > 0.02', durationSeconds: 600 });
   * ```
   */
  update(id: string, changes: Partial<Omit<AlertRuleInput, 'id'>>): AlertRule | undefined {
    const record = this.#rules.get(id);
    if (record === undefined) return undefined;
    if (typeof changes !== 'object' || changes === null)
      throw new TypeError('changes must be an object');
    const current = record.def;
    const merged: AlertRuleInput = {
      name: current.name,
      description: current.description,
      severity: current.severity,
      component: current.component,
      condition: current.condition,
      durationSeconds: current.durationSeconds,
      notificationChannels: current.notificationChannels,
      labels: current.labels,
      annotations: current.annotations,
      keepFiringForSeconds: current.keepFiringForSeconds,
      windowSeconds: current.windowSeconds,
      noData: current.noData,
      ...(current.threshold !== undefined && { threshold: current.threshold }),
      ...(current.escalationPolicy !== undefined && { escalationPolicy: current.escalationPolicy }),
      ...changes,
    };
    const def = this.#redactRule(checkRule(merged, id, this.#ruleContext()));
    record.def = def;
    Object.assign(record, decorate(def, this.#context.redactor));
    record.updatedAt = this.#context.clock.now();
    return this.#ruleView(record);
  }

  /**
   * Deletes a rule. A firing alert of it is resolved (a resolution goes to every
   * channel that was notified); a pending one is dropped. `false` if there was none.
   *
   * @example
   * ```ts
   * monitor.alerts.delete(rule.id); // true
   * ```
   */
  delete(id: string): boolean {
    const record = this.#rules.get(id);
    if (record === undefined) return false;
    const now = this.#context.clock.now();
    const alert = record.alert;
    if (alert !== undefined) {
      this.#record(record, alert, 'rule_deleted', now);
      if (alert.state === 'firing') this.#resolve(record, now, false);
    }
    record.alert = undefined;
    record.state = 'inactive';
    this.#rules.delete(id);
    if (alert?.state !== 'firing') this.#dropFromGroups(id);
    return true;
  }

  /**
   * Alerts pending or firing now, firing first, most severe first.
   *
   * @example
   * ```ts
   * const firing = monitor.alerts.active().filter((a) => a.state === 'firing');
   * ```
   */
  active(
    filter: { readonly component?: string; readonly state?: 'pending' | 'firing' } = {},
  ): Alert[] {
    const out: Alert[] = [];
    for (const record of this.#rules.values()) {
      const alert = record.alert;
      if (alert === undefined) continue;
      if (filter.component !== undefined && record.def.component !== filter.component) continue;
      if (filter.state !== undefined && alert.state !== filter.state) continue;
      out.push(alertView(record, alert));
    }
    return out.sort(
      (a, b) =>
        (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) ||
        severityRank(a.severity) - severityRank(b.severity) ||
        a.activeAt - b.activeAt,
    );
  }

  /**
   * Transitions and actions, oldest first; bounded by `alerting.maxHistory` (the
   * oldest entries go first, counted as `PRSM_ALERT_HISTORY_DROPPED`).
   *
   * @example
   * ```ts
   * monitor.alerts.history({ ruleId: rule.id, limit: 20 });
   * ```
   */
  history(
    filter: { readonly ruleId?: string; readonly alertId?: string; readonly limit?: number } = {},
  ): AlertHistoryEntry[] {
    let out = this.#history.slice(this.#historyStart);
    if (filter.ruleId !== undefined) out = out.filter((e) => e.ruleId === filter.ruleId);
    if (filter.alertId !== undefined) out = out.filter((e) => e.alertId === filter.alertId);
    if (filter.limit !== undefined && filter.limit >= 0)
      out = out.slice(Math.max(0, out.length - filter.limit));
    return out;
  }

  /**
   * Acknowledges an active alert: its escalation stops, and every channel that was
   * notified gets an acknowledgement (PagerDuty's `acknowledge`). `undefined` when no
   * active alert has that id; acknowledging twice keeps the first.
   *
   * @example
   * ```ts
   * monitor.alerts.acknowledge(alert.alertId, 'ana@example.com');
   * ```
   */
  acknowledge(alertId: string, by: string): Alert | undefined {
    if (typeof by !== 'string' || by.length === 0)
      throw new TypeError('by must be a non-empty string');
    for (const record of this.#rules.values()) {
      const alert = record.alert;
      if (alert === undefined || alert.alertId !== alertId) continue;
      if (alert.acknowledgedBy === undefined) {
        const now = this.#context.clock.now();
        alert.acknowledgedBy = by;
        alert.acknowledgedAt = now;
        this.#record(record, alert, 'acknowledged', now, { by });
        for (const [channel, via] of alert.notified) {
          if (via === 'stream') continue;
          this.#send(
            channel,
            [this.#notified(record, alert, 'acknowledged')],
            'acknowledgement',
            now,
          );
        }
      }
      return alertView(record, alert);
    }
    return undefined;
  }

  /**
   * Silences alerts whose labels match every matcher, from `startsAt` (default now)
   * to `endsAt` (or for `durationSeconds`). Silenced alerts still evaluate and show in
   * `active()`; they are not notified and do not escalate.
   *
   * @example
   * ```ts
   * const s = monitor.alerts.silence({
   *   matchers: [{ name: 'component', value: 'database' }, { name: 'severity', type: '!=', value: 'critical' }],
   *   durationSeconds: 3600,
   *   createdBy: 'ana',
   *   comment: 'index rebuild',
   * });
   * ```
   */
  silence(input: SilenceInput): Silence {
    if (typeof input !== 'object' || input === null)
      throw new TypeError('a silence must be an object');
    const matchers = compileMatchers(input.matchers, 'matchers');
    const now = this.#context.clock.now();
    const startsAt = input.startsAt ?? now;
    if (typeof startsAt !== 'number' || !Number.isFinite(startsAt)) {
      throw new TypeError('startsAt must be a time in ms since the epoch');
    }
    let endsAt: number;
    if (input.endsAt !== undefined) {
      if (input.durationSeconds !== undefined)
        throw new TypeError('give endsAt or durationSeconds, not both');
      endsAt = input.endsAt;
    } else if (input.durationSeconds !== undefined) {
      if (typeof input.durationSeconds !== 'number' || !(input.durationSeconds > 0)) {
        throw new TypeError('durationSeconds must be a number of seconds > 0');
      }
      endsAt = startsAt + input.durationSeconds * 1000;
    } else {
      throw new TypeError('a silence needs endsAt or durationSeconds');
    }
    if (
      typeof endsAt !== 'number' ||
      !Number.isFinite(endsAt) ||
      endsAt <= startsAt ||
      endsAt <= now
    ) {
      throw new TypeError('endsAt must be a time in ms after startsAt and after now');
    }
    if (typeof input.createdBy !== 'string' || input.createdBy.length === 0) {
      throw new TypeError('createdBy must be a non-empty string');
    }
    if (input.comment !== undefined && typeof input.comment !== 'string') {
      throw new TypeError('comment must be a string');
    }
    this.#pruneSilences(now);
    if (this.#silences.size >= this.#options.maxSilences) {
      throw new TypeError(
        `too many silences: alerting.maxSilences is ${this.#options.maxSilences}`,
      );
    }
    const silence: Silence = Object.freeze({
      id: newId(),
      matchers: Object.freeze(matchers.map((m) => m.matcher)),
      startsAt,
      endsAt,
      createdBy: input.createdBy,
      comment: input.comment ?? '',
    });
    this.#silences.set(silence.id, { silence, matchers });
    return silence;
  }

  /**
   * Silences not yet expired (active or starting later).
   *
   * @example
   * ```ts
   * for (const s of monitor.alerts.silences()) console.log(s.id, s.comment, new Date(s.endsAt));
   * ```
   */
  silences(): Silence[] {
    this.#pruneSilences(this.#context.clock.now());
    return [...this.#silences.values()].map((s) => s.silence);
  }

  /**
   * Ends a silence now. `false` if there is none with that id.
   *
   * @example
   * ```ts
   * monitor.alerts.expireSilence(silence.id);
   * ```
   */
  expireSilence(id: string): boolean {
    return this.#silences.delete(id);
  }

  /**
   * Delivery counters per configured channel.
   *
   * @example
   * ```ts
   * console.table(monitor.alerts.deliveryStats());
   * ```
   */
  deliveryStats(): Record<string, ChannelDeliveryStats> {
    const out: Record<string, ChannelDeliveryStats> = {};
    for (const c of this.#channels.values()) {
      out[c.name] = {
        sent: c.sent,
        delivered: c.delivered,
        failed: c.failed,
        dropped: c.dropped,
        inFlight: c.inFlight,
        queued: c.queue.length,
      };
    }
    return out;
  }

  /**
   * Waits until every notification handed to a channel so far has been delivered or
   * given up (each channel bounds that by its own timeout and retry budget).
   *
   * @example
   * ```ts
   * monitor.alerts.evaluate();
   * await monitor.alerts.flush(); // the webhook has been called
   * ```
   */
  async flush(): Promise<void> {
    while (this.#pendingDeliveries.size > 0) {
      await Promise.all([...this.#pendingDeliveries]);
    }
  }

  /**
   * Runs one evaluation now, at the clock's time: every rule, then silences and
   * inhibition, groups due, stream channels and escalations. Synchronous; the
   * notifications it hands out are delivered in the background (`flush()` waits).
   *
   * @example
   * ```ts
   * clock.advance(60_000);
   * const { firing } = monitor.alerts.evaluate();
   * ```
   */
  evaluate(): EvaluationSummary {
    const started = performance.now();
    const now = this.#context.clock.now();
    this.#notificationsThisTick = 0;
    let errors = 0;
    let pending = 0;
    let firing = 0;
    if (this.#rules.size > 0) {
      this.#slotCache.beginTick();
      const pass = (this.#pass ??= new EvaluationPass(
        this.#context.reader,
        this.#slotCache,
        this.#seriesIndex,
        now,
      )).begin(now);
      for (const record of this.#rules.values()) {
        if (!this.#evaluateRule(record, pass, now)) errors++;
      }
      this.#slotCache.endTick();
      pass.release();
    }
    this.#pruneSilences(now);
    this.#mute(now);
    for (const record of this.#rules.values()) {
      if (record.alert === undefined) continue;
      if (record.alert.state === 'pending') pending++;
      else {
        firing++;
        this.#enterGroups(record, record.alert, now);
      }
    }
    this.#flushGroups(now);
    this.#stream(now);
    this.#escalate(now);
    const durationMs = performance.now() - started;
    this.#context.instruments.evaluation(durationMs);
    return {
      at: now,
      rules: this.#rules.size,
      pending,
      firing,
      errors,
      notifications: this.#notificationsThisTick,
      durationMs,
    };
  }

  /**
   * Stops the tick, sends the resolutions groups still hold, lets deliveries finish
   * within `shutdownTimeoutSeconds`, then shuts the channels down (which ends their
   * retries) and waits for what they report, at most a second more. @internal
   */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    try {
      if (this.#groups.size > 0) this.#flushResolutions(this.#context.clock.now());
    } catch (error) {
      // A clock or channel that throws must not turn shutdown into a rejection.
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `alert engine shutdown: ${show(error)}`,
      );
    }
    this.#closed = true;
    const until = performance.now() + this.#options.shutdownTimeoutMs;
    await settleWithin(this.flush(), until);
    await settleWithin(
      Promise.all(
        [...this.#channels.values()].map(async (c) => {
          try {
            await c.channel.shutdown();
          } catch (error) {
            this.#context.diagnostics.report(
              DiagnosticCode.NOTIFICATION_FAILED,
              `channel ${c.name}: shutdown failed: ${show(error)}`,
            );
          }
        }),
      ),
      Math.max(until, performance.now()) + 1000,
    );
    await settleWithin(this.flush(), Math.max(until, performance.now()) + 1000);
  }

  /** Sends, without waiting for their group's interval, the resolutions groups hold. */
  #flushResolutions(now: number): void {
    for (const [key, group] of this.#groups) {
      const resolved: GroupEntry[] = [];
      for (const entry of group.entries.values()) {
        if (entry.resolvedAt !== undefined && entry.notified) resolved.push(entry);
      }
      if (resolved.length === 0) continue;
      const alerts = resolved.map((e) =>
        this.#notified(e.record, e.alert, 'resolved', e.resolvedAt),
      );
      this.#send(group.channel, alerts, 'resolution', now, group);
      for (const e of resolved) group.entries.delete(e.alert.alertId);
      if (group.entries.size === 0) this.#groups.delete(key);
    }
  }

  #ruleContext(): Parameters<typeof checkRule>[2] {
    return {
      defaultComponent: this.#context.defaultComponent,
      windows: this.#context.windows,
      options: this.#options,
    };
  }

  #startTimer(): void {
    if (this.#timer !== undefined || this.#closed || this.#options.evaluationIntervalMs === 0)
      return;
    this.#timer = setInterval(() => {
      try {
        this.evaluate();
      } catch (error) {
        this.#context.diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `alert evaluation: ${show(error)}`,
        );
      }
    }, this.#options.evaluationIntervalMs);
    this.#timer.unref();
  }

  /** Evaluates one rule and moves its alert along; false when evaluation threw. */
  #evaluateRule(record: RuleRecord, pass: EvaluationPass, now: number): boolean {
    const def = record.def;
    let holds: boolean | 'keep';
    try {
      const result = def.parsed.evaluate(pass, def.component, def.windowSeconds);
      record.lastEvaluation = {
        at: now,
        result: result.state,
        missing: result.missing,
        ...(result.value !== undefined && { value: result.value }),
      };
      if (record.alert !== undefined && result.value !== undefined)
        record.alert.value = result.value;
      if (result.state === 'true') holds = true;
      else if (result.state === 'false') holds = false;
      else holds = def.noData === 'ok' ? false : def.noData === 'alerting' ? true : 'keep';
    } catch (error) {
      record.lastEvaluation = { at: now, result: 'error', missing: [], error: show(error) };
      this.#context.diagnostics.report(
        DiagnosticCode.ALERT_EVALUATION_FAILED,
        `alert rule ${def.name}: ${show(error)}`,
      );
      return false;
    }
    if (holds === 'keep') return true;
    const value = record.lastEvaluation.value;
    if (holds) {
      record.lastTrueAt = now;
      let alert = record.alert;
      if (alert === undefined) {
        alert = {
          alertId: newId(),
          state: 'pending',
          activeAt: now,
          escalationStep: -1,
          silencedBy: [],
          inhibitedBy: [],
          notified: new Map(),
          streamedAt: new Map(),
          ...(value !== undefined && { value }),
        };
        record.alert = alert;
        record.state = 'pending';
        this.#record(record, alert, 'pending', now);
        this.#context.instruments.transition('pending', def.severity);
      }
      if (alert.state === 'pending' && now - alert.activeAt >= def.durationSeconds * 1000) {
        alert.state = 'firing';
        alert.triggeredAt = now;
        record.state = 'firing';
        this.#record(record, alert, 'firing', now);
        this.#context.instruments.transition('firing', def.severity);
      }
      return true;
    }
    const alert = record.alert;
    if (alert === undefined) return true;
    if (alert.state === 'pending') {
      this.#record(record, alert, 'cancelled', now);
      record.alert = undefined;
      record.state = 'inactive';
      return true;
    }
    if (now - record.lastTrueAt < def.keepFiringForSeconds * 1000) return true;
    this.#resolve(record, now, true);
    return true;
  }

  /** A firing alert resolves: history, groups, streams, direct resolutions. */
  #resolve(record: RuleRecord, now: number, recordEvent: boolean): void {
    const alert = record.alert!;
    if (recordEvent) this.#record(record, alert, 'resolved', now);
    this.#context.instruments.transition('resolved', record.def.severity);
    record.alert = undefined;
    record.state = 'inactive';
    const resolvedInGroup = new Set<string>();
    for (const group of this.#groups.values()) {
      const entry = group.entries.get(alert.alertId);
      if (entry === undefined) continue;
      entry.resolvedAt = now;
      if (entry.notified) resolvedInGroup.add(group.channel);
    }
    // Stream channels and channels told directly (escalation) hear of it now; groups
    // at their next flush.
    for (const channel of alert.notified.keys()) {
      if (!resolvedInGroup.has(channel)) {
        this.#send(channel, [this.#notified(record, alert, 'resolved', now)], 'resolution', now);
      }
    }
  }

  #dropFromGroups(ruleId: string): void {
    for (const group of this.#groups.values()) {
      for (const [alertId, entry] of group.entries) {
        if (entry.record.def.id === ruleId) group.entries.delete(alertId);
      }
    }
  }

  #pruneSilences(now: number): void {
    for (const [id, s] of this.#silences) if (s.silence.endsAt <= now) this.#silences.delete(id);
  }

  /** Works out which firing alerts are silenced or inhibited now. */
  #mute(now: number): void {
    const firing: RuleRecord[] = [];
    for (const record of this.#rules.values()) {
      const alert = record.alert;
      if (alert === undefined) continue;
      alert.silencedBy = [];
      for (const s of this.#silences.values()) {
        if (s.silence.startsAt <= now && matchesAll(s.matchers, record.labels)) {
          alert.silencedBy.push(s.silence.id);
        }
      }
      if (alert.state === 'firing') firing.push(record);
    }
    // Per inhibit rule, the firing sources by the values of its `equal` labels: each
    // alert then looks up its own key instead of scanning every firing alert.
    const sourcesByRule = this.#options.inhibitRules.map((rule) => {
      const byKey = new Map<string, RuleRecord[]>();
      for (const source of firing) {
        if (!matchesAll(rule.source, source.labels)) continue;
        const key = equalKey(rule.equal, source.labels);
        const list = byKey.get(key);
        if (list === undefined) byKey.set(key, [source]);
        else list.push(source);
      }
      return byKey;
    });
    for (const record of this.#rules.values()) {
      const alert = record.alert;
      if (alert === undefined) continue;
      alert.inhibitedBy = [];
      this.#options.inhibitRules.forEach((rule, i) => {
        if (!matchesAll(rule.target, record.labels)) return;
        for (const source of sourcesByRule[i]!.get(equalKey(rule.equal, record.labels)) ?? []) {
          const id = source.alert!.alertId;
          if (source !== record && !alert.inhibitedBy.includes(id)) alert.inhibitedBy.push(id);
        }
      });
    }
  }

  #routes(record: RuleRecord): readonly string[] {
    const own = record.def.notificationChannels;
    return own.length > 0 ? own : this.#options.routes[record.def.severity];
  }

  #enterGroups(record: RuleRecord, alert: ActiveAlert, now: number): void {
    for (const channel of this.#routes(record)) {
      const state = this.#channels.get(channel);
      if (state === undefined || state.stream) continue;
      const groupLabels: Record<string, string> = { component: record.def.component };
      for (const label of this.#options.groupBy) {
        const value = record.labels[label];
        if (value !== undefined) groupLabels[label] = value;
      }
      const labelsKey = formatLabels(groupLabels);
      const key = `${channel}\u0000${labelsKey}`;
      let group = this.#groups.get(key);
      if (group === undefined) {
        group = {
          key: labelsKey,
          channel,
          labels: Object.freeze(groupLabels),
          entries: new Map(),
          nextFlushAt: now + this.#options.groupWaitMs,
          lastFiring: new Set(),
          lastSentAt: -Infinity,
        };
        this.#groups.set(key, group);
      }
      if (!group.entries.has(alert.alertId)) {
        group.entries.set(alert.alertId, { record, alert, notified: false });
      }
    }
  }

  #flushGroups(now: number): void {
    for (const [key, group] of this.#groups) {
      if (now < group.nextFlushAt) continue;
      group.nextFlushAt = now + this.#options.groupIntervalMs;
      const firing: GroupEntry[] = [];
      const resolved: GroupEntry[] = [];
      for (const [alertId, entry] of group.entries) {
        if (entry.resolvedAt !== undefined) {
          if (entry.notified) resolved.push(entry);
          else group.entries.delete(alertId);
        } else if (entry.record.alert !== entry.alert) {
          group.entries.delete(alertId); // the rule was deleted
        } else if (entry.alert.silencedBy.length === 0 && entry.alert.inhibitedBy.length === 0) {
          firing.push(entry);
        }
      }
      // Alertmanager's deduplication: notify when an alert fires that the last
      // notification did not carry, or one resolves; else only after repeatInterval.
      // Alerts muted since then just drop out, unannounced.
      const changed =
        resolved.length > 0 || firing.some((e) => !group.lastFiring.has(e.alert.alertId));
      const repeat =
        !changed && firing.length > 0 && now - group.lastSentAt >= this.#options.repeatIntervalMs;
      if (changed || repeat) {
        const alerts = [
          ...firing.map((e) => this.#notified(e.record, e.alert, 'firing')),
          ...resolved.map((e) => this.#notified(e.record, e.alert, 'resolved', e.resolvedAt)),
        ];
        this.#send(group.channel, alerts, repeat ? 'repeat' : 'group', now, group);
        group.lastSentAt = now;
        group.lastFiring = new Set(firing.map((e) => e.alert.alertId));
        for (const e of firing) {
          e.notified = true;
          if (!e.alert.notified.has(group.channel)) e.alert.notified.set(group.channel, 'group');
        }
      }
      for (const e of resolved) group.entries.delete(e.alert.alertId);
      if (group.entries.size === 0) this.#groups.delete(key);
    }
  }

  /** `mode: 'stream'` channels: every firing alert now and then (resolutions go at once). */
  #stream(now: number): void {
    const due = new Map<string, NotifiedAlert[]>();
    const add = (channel: string, alert: NotifiedAlert): void => {
      const list = due.get(channel);
      if (list === undefined) due.set(channel, [alert]);
      else list.push(alert);
    };
    for (const record of this.#rules.values()) {
      const alert = record.alert;
      if (alert?.state !== 'firing') continue;
      if (alert.silencedBy.length > 0 || alert.inhibitedBy.length > 0) continue;
      for (const channel of this.#routes(record)) {
        if (this.#channels.get(channel)?.stream !== true) continue;
        const last = alert.streamedAt.get(channel);
        if (last !== undefined && now - last < this.#options.resendIntervalMs) continue;
        alert.streamedAt.set(channel, now);
        alert.notified.set(channel, 'stream');
        add(channel, this.#notified(record, alert, 'firing'));
      }
    }
    for (const [channel, alerts] of due) this.#send(channel, alerts, 'group', now);
  }

  #escalate(now: number): void {
    for (const record of this.#rules.values()) {
      const alert = record.alert;
      const policy = record.def.policy;
      if (policy === undefined || alert?.state !== 'firing' || alert.acknowledgedBy !== undefined)
        continue;
      if (alert.silencedBy.length > 0 || alert.inhibitedBy.length > 0) continue;
      const since = now - alert.triggeredAt!;
      for (;;) {
        const next = policy.steps[alert.escalationStep + 1];
        if (next === undefined || since < next.afterSeconds * 1000) break;
        alert.escalationStep++;
        this.#record(record, alert, 'escalated', now, { escalationStep: alert.escalationStep });
        for (const channel of next.channels) {
          if (!alert.notified.has(channel)) alert.notified.set(channel, 'direct');
          this.#send(
            channel,
            [this.#notified(record, alert, 'firing')],
            'escalation',
            now,
            undefined,
            alert.escalationStep,
          );
        }
      }
    }
  }

  /** The rule with its description and annotations as the monitor's redaction leaves them. */
  #redactRule(def: RuleDefinition): RuleDefinition {
    const redactor = this.#context.redactor;
    if (redactor === undefined) return def;
    return {
      ...def,
      description: redactor.redactString(def.description),
      annotations: Object.freeze(redactor.redactAttributes(def.annotations)),
    };
  }

  #notified(
    record: RuleRecord,
    alert: ActiveAlert,
    status: NotificationStatus,
    endsAt?: number,
  ): NotifiedAlert {
    const def = record.def;
    return {
      alertId: alert.alertId,
      ruleId: def.id,
      name: def.name,
      description: def.description,
      severity: def.severity,
      component: def.component,
      status,
      condition: def.parsed.toString(),
      labels: record.labels,
      annotations: record.annotations,
      startsAt: alert.triggeredAt ?? alert.activeAt,
      ...(def.threshold !== undefined && { threshold: def.threshold }),
      ...(alert.value !== undefined && { value: alert.value }),
      ...(status === 'resolved' && endsAt !== undefined && { endsAt }),
      ...(alert.acknowledgedBy !== undefined && {
        acknowledgedBy: alert.acknowledgedBy,
        acknowledgedAt: alert.acknowledgedAt!,
      }),
    };
  }

  #send(
    channel: string,
    alerts: readonly NotifiedAlert[],
    reason: AlertNotification['reason'],
    now: number,
    group?: Group,
    escalationStep?: number,
  ): void {
    const state = this.#channels.get(channel);
    if (state === undefined || alerts.length === 0) return;
    const groupLabels = group?.labels ?? { component: alerts[0]!.component };
    const status: NotificationStatus = alerts.some((a) => a.status === 'firing')
      ? 'firing'
      : alerts.every((a) => a.status === 'acknowledged')
        ? 'acknowledged'
        : 'resolved';
    let severity = alerts[0]!.severity;
    for (const a of alerts)
      if (severityRank(a.severity) < severityRank(severity)) severity = a.severity;
    const notification: AlertNotification = {
      id: newId(),
      channel,
      status,
      groupKey: group?.key ?? formatLabels(groupLabels),
      groupLabels,
      commonLabels: common(alerts.map((a) => a.labels)),
      commonAnnotations: common(alerts.map((a) => a.annotations)),
      severity,
      alerts: [...alerts].sort(
        (a, b) => (a.status === 'firing' ? 0 : 1) - (b.status === 'firing' ? 0 : 1),
      ),
      reason,
      timestamp: now,
      ...(escalationStep !== undefined && { escalationStep }),
    };
    this.#notificationsThisTick++;
    this.#deliver(state, notification);
  }

  #deliver(state: ChannelState, notification: AlertNotification): void {
    if (this.#closed) {
      this.#dropNotification(state, 'the monitor has shut down');
      return;
    }
    this.#start(state, notification);
  }

  /** Starts a delivery, or queues it behind the channel's deliveries in flight. */
  #start(state: ChannelState, notification: AlertNotification): void {
    if (state.inFlight >= this.#options.maxInFlightPerChannel) {
      if (state.queue.length >= this.#options.maxQueuedPerChannel) {
        this.#dropNotification(state, `its queue is full (${this.#options.maxQueuedPerChannel})`);
        return;
      }
      state.queue.push(notification);
      return;
    }
    state.inFlight++;
    state.sent++;
    let promise: Promise<void>;
    const settle = (report: DeliveryReport | undefined, error?: unknown): void => {
      try {
        this.#settled(state, notification, report, error);
      } catch (bug) {
        // Never a rejection of the tracked promise, never an unhandled one.
        this.#context.diagnostics.report(DiagnosticCode.INTERNAL_ERROR, `delivery: ${show(bug)}`);
      }
      this.#pendingDeliveries.delete(promise);
      // Queued before a shutdown: still delivered (shutdown waits for them).
      const next = state.queue.shift();
      if (next !== undefined) this.#start(state, next);
    };
    try {
      promise = Promise.resolve(state.channel.send(notification)).then(
        (report) => settle(report),
        (error: unknown) => settle(undefined, error),
      );
    } catch (error) {
      promise = Promise.resolve().then(() => settle(undefined, error));
    }
    this.#pendingDeliveries.add(promise);
  }

  /** Counts how a delivery went. */
  #settled(
    state: ChannelState,
    notification: AlertNotification,
    report: DeliveryReport | undefined,
    error: unknown,
  ): void {
    state.inFlight--;
    if (report?.ok === true) {
      state.delivered++;
      this.#context.instruments.notification(state.name, 'delivered');
      return;
    }
    state.failed++;
    const why = error !== undefined ? `threw ${show(error)}` : (report?.error ?? 'failed');
    this.#context.diagnostics.report(
      DiagnosticCode.NOTIFICATION_FAILED,
      `channel ${state.name} (${state.channel.kind}): notification ${notification.id} not delivered after ${report?.attempts ?? 1} attempt(s): ${why}`,
    );
    this.#context.instruments.notification(state.name, 'failed');
  }

  #dropNotification(state: ChannelState, why: string): void {
    state.dropped++;
    this.#context.instruments.notification(state.name, 'dropped');
    this.#context.diagnostics.report(
      DiagnosticCode.NOTIFICATION_DROPPED,
      `channel ${state.name}: notification dropped: ${why}`,
    );
  }

  #record(
    record: RuleRecord,
    alert: ActiveAlert,
    event: AlertHistoryEntry['event'],
    at: number,
    extra: { by?: string; escalationStep?: number } = {},
  ): void {
    const def = record.def;
    const entry: AlertHistoryEntry = {
      at,
      event,
      alertId: alert.alertId,
      ruleId: def.id,
      name: def.name,
      severity: def.severity,
      component: def.component,
      ...(alert.value !== undefined && { value: alert.value }),
      ...extra,
    };
    this.#history.push(entry);
    this.#context.onEvent?.(entry);
    if (this.#history.length - this.#historyStart > this.#options.maxHistory) {
      this.#historyStart++;
      this.#context.diagnostics.report(
        DiagnosticCode.ALERT_HISTORY_DROPPED,
        'alert history full: oldest entry dropped',
      );
      if (this.#historyStart > 1024 && this.#historyStart * 2 > this.#history.length) {
        this.#history.splice(0, this.#historyStart);
        this.#historyStart = 0;
      }
    }
  }

  #ruleView(record: RuleRecord): AlertRule {
    const def = record.def;
    return {
      id: def.id,
      name: def.name,
      description: def.description,
      severity: def.severity,
      component: def.component,
      condition: def.condition,
      durationSeconds: def.durationSeconds,
      notificationChannels: def.notificationChannels,
      labels: def.labels,
      annotations: def.annotations,
      keepFiringForSeconds: def.keepFiringForSeconds,
      windowSeconds: def.windowSeconds,
      noData: def.noData,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      state: record.state,
      ...(def.threshold !== undefined && { threshold: def.threshold }),
      ...(def.escalationPolicy !== undefined && { escalationPolicy: def.escalationPolicy }),
      ...(record.lastEvaluation !== undefined && { lastEvaluation: record.lastEvaluation }),
    };
  }
}

/** The labels and annotations alerts of a rule carry. */
function decorate(
  def: RuleDefinition,
  redactor?: Pick<Redactor, 'redactAttributes'>,
): {
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
} {
  const labels: Record<string, string> = {
    ...def.labels,
    alertname: def.name,
    severity: def.severity,
    component: def.component,
  };
  const annotations: Record<string, string> = {
    ...def.annotations,
    ...(def.description !== '' && { description: def.description }),
    condition: def.parsed.toString(),
    ...(def.threshold !== undefined && { threshold: String(def.threshold) }),
  };
  return {
    labels: Object.freeze(redactor === undefined ? labels : redactor.redactAttributes(labels)),
    annotations: Object.freeze(
      redactor === undefined ? annotations : redactor.redactAttributes(annotations),
    ),
  };
}

function alertView(record: RuleRecord, alert: ActiveAlert): Alert {
  const def = record.def;
  return {
    alertId: alert.alertId,
    ruleId: def.id,
    name: def.name,
    severity: def.severity,
    component: def.component,
    state: alert.state,
    activeAt: alert.activeAt,
    labels: record.labels,
    annotations: record.annotations,
    escalationStep: alert.escalationStep,
    silencedBy: [...alert.silencedBy],
    inhibitedBy: [...alert.inhibitedBy],
    notifiedChannels: [...alert.notified.keys()],
    ...(alert.triggeredAt !== undefined && { triggeredAt: alert.triggeredAt }),
    ...(alert.value !== undefined && { value: alert.value }),
    ...(alert.acknowledgedBy !== undefined && {
      acknowledgedBy: alert.acknowledgedBy,
      acknowledgedAt: alert.acknowledgedAt!,
    }),
  };
}

/** The values of `names` in `labels` (missing: ''), as one map key. */
function equalKey(names: readonly string[], labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(names.map((name) => labels[name] ?? ''));
}

/** `{component="api_gateway",env="prod"}`, names sorted. */
function formatLabels(labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `{${parts.join(',')}}`;
}

/** The entries every map shares. */
function common(
  maps: readonly Readonly<Record<string, string>>[],
): Readonly<Record<string, string>> {
  const first = maps[0];
  if (first === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first)) {
    if (maps.every((m) => m[k] === v)) out[k] = v;
  }
  return out;
}
