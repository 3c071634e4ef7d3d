/** Checking and normalising alert rules and engine options. Throws `TypeError`s naming the field. @internal */
import { isArray } from '../metrics/types.js';
import { type Condition, parseCondition } from './condition/condition.js';
import { compileMatchers, type CompiledMatcher } from './matchers.js';
import type { AlertSeverity, NotificationChannel } from './notification.js';
import type {
  AlertingOptions,
  AlertRuleInput,
  EscalationPolicy,
  InhibitRule,
  NoDataPolicy,
} from './types.js';

/** Severities, most urgent first. @internal */
export const SEVERITIES: readonly AlertSeverity[] = ['critical', 'high', 'medium', 'low', 'info'];

/** Rank of a severity: 0 is the most urgent. @internal */
export function severityRank(severity: AlertSeverity): number {
  return SEVERITIES.indexOf(severity);
}

const DEFAULT_ROUTES: Readonly<Record<AlertSeverity, readonly string[]>> = {
  critical: ['pagerduty', 'sms', 'slack', 'email', 'webhook', 'alertmanager'],
  high: ['slack', 'email', 'webhook', 'alertmanager'],
  medium: ['slack', 'email', 'webhook', 'alertmanager'],
  low: ['email', 'webhook', 'alertmanager'],
  info: ['webhook', 'alertmanager'],
};

const ID = /^[A-Za-z0-9_.-]{1,128}$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NO_DATA: ReadonlySet<string> = new Set(['ok', 'keep', 'alerting']);

/** Engine options with every default applied. @internal */
export interface ResolvedAlertingOptions {
  readonly evaluationIntervalMs: number;
  readonly channels: ReadonlyMap<string, NotificationChannel>;
  readonly routes: Readonly<Record<AlertSeverity, readonly string[]>>;
  readonly groupBy: readonly string[];
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
  readonly resendIntervalMs: number;
  readonly inhibitRules: readonly CompiledInhibitRule[];
  readonly escalationPolicies: ReadonlyMap<string, EscalationPolicy>;
  readonly maxRules: number;
  readonly maxHistory: number;
  readonly maxSilences: number;
  readonly maxInFlightPerChannel: number;
  readonly maxQueuedPerChannel: number;
  readonly shutdownTimeoutMs: number;
}

/** An inhibition rule with its matchers compiled. @internal */
export interface CompiledInhibitRule {
  readonly source: readonly CompiledMatcher[];
  readonly target: readonly CompiledMatcher[];
  readonly equal: readonly string[];
}

const DEFAULT_INHIBIT: InhibitRule = {
  sourceMatchers: [{ name: 'severity', value: 'critical' }],
  targetMatchers: [{ name: 'severity', type: '=~', value: 'high|medium|low|info' }],
  equal: ['component'],
};

/** A value in an error message: strings quoted, errors by message, never `[object Object]`. @internal */
export function show(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value) ?? typeof value;
    } catch {
      return typeof value;
    }
  }
  return String(value);
}

function seconds(value: unknown, field: string, fallback: number, allowZero = true): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0)
  ) {
    throw new TypeError(
      `${field} must be a finite number of seconds ${allowZero ? '>= 0' : '> 0'}, got ${show(value)}`,
    );
  }
  return value;
}

function count(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${field} must be an integer >= 1, got ${show(value)}`);
  }
  return value;
}

function stringList(value: unknown, field: string): string[] {
  if (!isArray(value)) throw new TypeError(`${field} must be an array of strings`);
  return value.map((v, i) => {
    if (typeof v !== 'string' || v.length === 0) {
      throw new TypeError(`${field}[${i}] must be a non-empty string`);
    }
    return v;
  });
}

function channelList(
  value: unknown,
  field: string,
  channels: ReadonlyMap<string, NotificationChannel>,
): string[] {
  const names = stringList(value, field);
  names.forEach((name, i) => {
    if (!channels.has(name)) {
      const known = [...channels.keys()];
      throw new TypeError(
        `${field}[${i}]: no channel named '${name}' is configured (configured: ${known.length > 0 ? known.join(', ') : 'none'})`,
      );
    }
  });
  return [...new Set(names)];
}

/** Checks an escalation policy against the configured channels. @internal */
export function checkPolicy(
  value: unknown,
  field: string,
  channels: ReadonlyMap<string, NotificationChannel>,
): EscalationPolicy {
  if (typeof value !== 'object' || value === null || !isArray((value as EscalationPolicy).steps)) {
    throw new TypeError(`${field} must be an object with a steps array`);
  }
  const raw = (value as EscalationPolicy).steps;
  if (raw.length === 0) throw new TypeError(`${field}.steps must not be empty`);
  let previous = 0;
  const steps = raw.map((step, i) => {
    const where = `${field}.steps[${i}]`;
    if (typeof step !== 'object' || step === null)
      throw new TypeError(`${where} must be an object`);
    const afterSeconds = seconds(step.afterSeconds, `${where}.afterSeconds`, NaN);
    if (Number.isNaN(afterSeconds)) throw new TypeError(`${where}.afterSeconds is required`);
    if (afterSeconds < previous) {
      throw new TypeError(
        `${where}.afterSeconds must not be less than the step before (${previous})`,
      );
    }
    previous = afterSeconds;
    const stepChannels = channelList(step.channels, `${where}.channels`, channels);
    if (stepChannels.length === 0) throw new TypeError(`${where}.channels must not be empty`);
    return Object.freeze({ afterSeconds, channels: Object.freeze(stepChannels) });
  });
  return Object.freeze({ steps: Object.freeze(steps) });
}

/** Applies defaults to and checks the engine options. @internal */
export function resolveAlertingOptions(
  options: AlertingOptions | undefined,
): ResolvedAlertingOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new TypeError('alerting must be an object');
  const channels = new Map<string, NotificationChannel>();
  if (o.channels !== undefined) {
    if (typeof o.channels !== 'object' || o.channels === null) {
      throw new TypeError('alerting.channels must map names to channels');
    }
    for (const [name, channel] of Object.entries(o.channels)) {
      if (!ID.test(name)) {
        throw new TypeError(
          `alerting.channels: '${name}' is not a valid channel name (letters, digits, _ . -)`,
        );
      }
      const c = channel as Partial<NotificationChannel> | null;
      if (
        c === null ||
        typeof c !== 'object' ||
        typeof c.send !== 'function' ||
        typeof c.shutdown !== 'function'
      ) {
        throw new TypeError(`alerting.channels.${name} must have send() and shutdown()`);
      }
      channels.set(name, channel);
    }
  }
  const routes = {} as Record<AlertSeverity, readonly string[]>;
  for (const severity of SEVERITIES) {
    const given = o.routes?.[severity];
    routes[severity] =
      given === undefined
        ? DEFAULT_ROUTES[severity].filter((name) => channels.has(name))
        : channelList(given, `alerting.routes.${severity}`, channels);
  }
  if (o.routes !== undefined) {
    for (const key of Object.keys(o.routes)) {
      if (!SEVERITIES.includes(key as AlertSeverity)) {
        throw new TypeError(`alerting.routes.${key}: not a severity (${SEVERITIES.join(', ')})`);
      }
    }
  }
  const groupBy = o.groupBy === undefined ? [] : stringList(o.groupBy, 'alerting.groupBy');
  const inhibitRules = (o.inhibitRules ?? [DEFAULT_INHIBIT]).map((rule, i) => {
    const where = `alerting.inhibitRules[${i}]`;
    if (typeof rule !== 'object' || rule === null)
      throw new TypeError(`${where} must be an object`);
    return {
      source: compileMatchers(rule.sourceMatchers, `${where}.sourceMatchers`),
      target: compileMatchers(rule.targetMatchers, `${where}.targetMatchers`),
      equal: rule.equal === undefined ? [] : stringList(rule.equal, `${where}.equal`),
    };
  });
  const escalationPolicies = new Map<string, EscalationPolicy>();
  for (const [name, policy] of Object.entries(o.escalationPolicies ?? {})) {
    escalationPolicies.set(
      name,
      checkPolicy(policy, `alerting.escalationPolicies.${name}`, channels),
    );
  }
  return {
    evaluationIntervalMs:
      seconds(o.evaluationIntervalSeconds, 'alerting.evaluationIntervalSeconds', 10) * 1000,
    channels,
    routes,
    groupBy,
    groupWaitMs: seconds(o.groupWaitSeconds, 'alerting.groupWaitSeconds', 30) * 1000,
    groupIntervalMs:
      seconds(o.groupIntervalSeconds, 'alerting.groupIntervalSeconds', 300, false) * 1000,
    repeatIntervalMs:
      seconds(o.repeatIntervalSeconds, 'alerting.repeatIntervalSeconds', 14_400, false) * 1000,
    resendIntervalMs:
      seconds(o.resendIntervalSeconds, 'alerting.resendIntervalSeconds', 60, false) * 1000,
    inhibitRules,
    escalationPolicies,
    maxRules: count(o.maxRules, 'alerting.maxRules', 10_000),
    maxHistory: count(o.maxHistory, 'alerting.maxHistory', 1000),
    maxSilences: count(o.maxSilences, 'alerting.maxSilences', 1000),
    maxInFlightPerChannel: count(o.maxInFlightPerChannel, 'alerting.maxInFlightPerChannel', 8),
    maxQueuedPerChannel: count(o.maxQueuedPerChannel, 'alerting.maxQueuedPerChannel', 1000),
    shutdownTimeoutMs:
      seconds(o.shutdownTimeoutSeconds, 'alerting.shutdownTimeoutSeconds', 5) * 1000,
  };
}

/** A rule's definition, checked and with defaults applied. @internal */
export interface RuleDefinition {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly severity: AlertSeverity;
  readonly component: string;
  readonly condition: string;
  readonly parsed: Condition;
  readonly threshold?: number;
  readonly durationSeconds: number;
  readonly notificationChannels: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly keepFiringForSeconds: number;
  readonly escalationPolicy?: string | EscalationPolicy;
  /** The policy itself (a named one looked up). */
  readonly policy?: EscalationPolicy;
  readonly windowSeconds: number;
  readonly noData: NoDataPolicy;
}

/** What checking a rule needs to know of the monitor and engine. @internal */
export interface RuleContext {
  readonly defaultComponent: string;
  readonly windows: readonly number[];
  readonly options: ResolvedAlertingOptions;
}

function stringMap(
  value: unknown,
  field: string,
  labelNames: boolean,
): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value !== 'object' || value === null || isArray(value)) {
    throw new TypeError(`${field} must map names to strings`);
  }
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (labelNames && !LABEL_NAME.test(key)) {
      throw new TypeError(
        `${field}.${key}: label names are letters, digits and _, not starting with a digit`,
      );
    }
    if (typeof v !== 'string') throw new TypeError(`${field}.${key} must be a string`);
    out[key] = v;
  }
  return Object.freeze(out);
}

const RESERVED_LABELS = new Set(['alertname', 'severity', 'component']);

/** Checks a rule and applies its defaults. Throws a `TypeError` (or a `ConditionSyntaxError`). @internal */
export function checkRule(input: AlertRuleInput, id: string, context: RuleContext): RuleDefinition {
  if (typeof input !== 'object' || input === null)
    throw new TypeError('an alert rule must be an object');
  const { options } = context;
  if (typeof input.name !== 'string' || input.name.trim().length === 0 || input.name.length > 200) {
    throw new TypeError('name must be a non-empty string of at most 200 characters');
  }
  if (input.description !== undefined && typeof input.description !== 'string') {
    throw new TypeError('description must be a string');
  }
  if (!SEVERITIES.includes(input.severity)) {
    throw new TypeError(
      `severity must be one of ${SEVERITIES.join(', ')}, got ${String(input.severity)}`,
    );
  }
  const component = input.component ?? context.defaultComponent;
  if (typeof component !== 'string' || component.length === 0 || component.length > 255) {
    throw new TypeError('component must be a non-empty string');
  }
  if (typeof input.condition !== 'string') throw new TypeError('condition must be a string');
  const parsed = parseCondition(input.condition);
  const longest = context.windows[context.windows.length - 1]!;
  const windowSeconds = seconds(input.windowSeconds, 'windowSeconds', context.windows[0]!, false);
  if (windowSeconds > longest) {
    throw new TypeError(
      `windowSeconds (${windowSeconds}) is longer than the monitor's longest window (${longest} s)`,
    );
  }
  for (const signal of parsed.signals()) {
    if (signal.windowSeconds !== undefined && signal.windowSeconds > longest) {
      throw new TypeError(
        `condition: the window of ${signal.text} (${signal.windowSeconds} s) is longer than the monitor's longest window (${longest} s)`,
      );
    }
  }
  if (
    input.threshold !== undefined &&
    (typeof input.threshold !== 'number' || !Number.isFinite(input.threshold))
  ) {
    throw new TypeError('threshold must be a finite number');
  }
  const labels = stringMap(input.labels, 'labels', true);
  for (const reserved of RESERVED_LABELS) {
    if (reserved in labels) throw new TypeError(`labels.${reserved} is set from the rule itself`);
  }
  const noData = input.noData ?? 'ok';
  if (!NO_DATA.has(noData))
    throw new TypeError(`noData must be 'ok', 'keep' or 'alerting', got ${String(noData)}`);
  let policy: EscalationPolicy | undefined;
  if (typeof input.escalationPolicy === 'string') {
    policy = options.escalationPolicies.get(input.escalationPolicy);
    if (policy === undefined) {
      throw new TypeError(
        `escalationPolicy: no policy named '${input.escalationPolicy}' is configured`,
      );
    }
  } else if (input.escalationPolicy !== undefined) {
    policy = checkPolicy(input.escalationPolicy, 'escalationPolicy', options.channels);
  }
  const definition: RuleDefinition = {
    id,
    name: input.name,
    description: input.description ?? '',
    severity: input.severity,
    component,
    condition: input.condition,
    parsed,
    durationSeconds: seconds(input.durationSeconds, 'durationSeconds', 0),
    notificationChannels: Object.freeze(
      input.notificationChannels === undefined
        ? []
        : channelList(input.notificationChannels, 'notificationChannels', options.channels),
    ),
    labels,
    annotations: stringMap(input.annotations, 'annotations', false),
    keepFiringForSeconds: seconds(input.keepFiringForSeconds, 'keepFiringForSeconds', 0),
    windowSeconds,
    noData,
    ...(input.threshold !== undefined && { threshold: input.threshold }),
    ...(input.escalationPolicy !== undefined && {
      escalationPolicy:
        typeof input.escalationPolicy === 'string' ? input.escalationPolicy : policy,
    }),
    ...(policy !== undefined && { policy }),
  };
  return definition;
}

/** Checks a user-given rule id. @internal */
export function checkId(id: unknown): string {
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new TypeError('id must be 1 to 128 letters, digits, _, - or .');
  }
  return id;
}
