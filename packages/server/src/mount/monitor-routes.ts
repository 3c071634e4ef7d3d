/**
 * mount/: the spec's read endpoints over an in-process `Monitor` (no SQLite), for a
 * user's own Fastify or Express app. This file holds the routes once, framework
 * neutral: their schemas (the server's own, from http/schemas.ts), and handlers that
 * map the monitor's alerts and traces to the server's JSON. The adapters
 * (`fastify.ts`, `express.ts`) only bind them. May import from http/ and core's and
 * the exporters' public APIs; never from store/.
 */
import {
  ConditionSyntaxError,
  type Alert,
  type AlertHistoryEntry,
  type AlertRule,
  type Monitor,
} from '@prsm/core';
import type { PrometheusHandlerOptions } from '@prsm/exporters/prometheus';

import { HttpError } from '../http/errors.js';
import {
  acknowledgeBodySchema,
  alertChangedSchema,
  alertCreatedSchema,
  alertListSchema,
  alertParamsSchema,
  alertRuleBodySchema,
  alertsQuerySchema,
  analyticsSchema,
  componentQuerySchema,
  errorResponses,
  healthSchema,
  noQuerySchema,
  traceParamsSchema,
  traceResponseSchema,
} from '../http/schemas.js';
import type { AlertRuleBody, Severity } from '../store/types.js';

/**
 * Options of `prsmMonitorFastify` and `prsmMonitorExpress`. A bad value throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: PrsmMonitorRoutesOptions = { monitor, bodyLimit: 64 * 1024 };
 * ```
 */
export interface PrsmMonitorRoutesOptions {
  /** The monitor whose traces, alerts and metrics the routes answer with. */
  readonly monitor: Monitor;
  /** The largest request body, received and inflated, in bytes. Default 1 MiB. */
  readonly bodyLimit?: number;
  /** Receives unexpected errors (their details never reach a client). Default: none. */
  readonly onError?: (error: unknown) => void;
  /** Options of the `GET /metrics` Prometheus handler (all but `monitor`). */
  readonly prometheus?: Omit<PrometheusHandlerOptions, 'monitor'>;
  /** Who acknowledges when the body names nobody. Default `'api'`. */
  readonly defaultAcknowledgedBy?: string;
}

/** Checked options. @internal */
export interface ResolvedRoutesOptions {
  readonly monitor: Monitor;
  readonly bodyLimit: number;
  readonly onError: (error: unknown) => void;
  readonly prometheus: Omit<PrometheusHandlerOptions, 'monitor'>;
  readonly defaultAcknowledgedBy: string;
}

/** Checks the options; a bad one is a `TypeError`. @internal */
export function resolveRoutesOptions(
  options: PrsmMonitorRoutesOptions | undefined,
  who: string,
): ResolvedRoutesOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${who}: options must be an object with a monitor`);
  }
  const monitor = options.monitor as Partial<Monitor> | undefined;
  if (
    monitor === null ||
    typeof monitor !== 'object' ||
    typeof monitor.getTrace !== 'function' ||
    typeof monitor.alerts?.create !== 'function'
  ) {
    throw new TypeError(`${who}: options.monitor must be a Monitor`);
  }
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  if (!Number.isInteger(bodyLimit) || bodyLimit <= 0) {
    throw new TypeError(`${who}: options.bodyLimit must be a positive integer`);
  }
  const onError = options.onError ?? ((): void => undefined);
  if (typeof onError !== 'function')
    throw new TypeError(`${who}: options.onError must be a function`);
  const by = options.defaultAcknowledgedBy ?? 'api';
  if (typeof by !== 'string' || by === '') {
    throw new TypeError(`${who}: options.defaultAcknowledgedBy must be a non-empty string`);
  }
  return {
    monitor: options.monitor,
    bodyLimit,
    onError,
    prometheus: options.prometheus ?? {},
    defaultAcknowledgedBy: by,
  };
}

/** What a handler gets, already validated. @internal */
export interface RouteInput {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly body: unknown;
}

/** One JSON route, framework neutral. @internal */
export interface MonitorRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly url: string;
  readonly schema: {
    readonly params?: Record<string, unknown>;
    readonly querystring: Record<string, unknown>;
    readonly body?: Record<string, unknown>;
    readonly response: Record<string, unknown>;
  };
  /** The body may be absent (`POST /alerts/{id}/acknowledge`). */
  readonly optionalBody: boolean;
  handle(input: RouteInput): { status: number; body: unknown };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function ruleRecord(rule: AlertRule, active: Alert | undefined): Record<string, unknown> {
  return {
    alert_id: rule.id,
    name: rule.name,
    description: rule.description,
    severity: rule.severity,
    component: rule.component,
    condition: rule.condition,
    threshold: rule.threshold ?? null,
    duration_seconds: rule.durationSeconds,
    notification_channels: [...rule.notificationChannels],
    created_at: iso(rule.createdAt),
    acknowledged_at: active?.acknowledgedAt === undefined ? null : iso(active.acknowledgedAt),
    acknowledged_by: active?.acknowledgedBy ?? null,
    state: rule.state,
  };
}

function activeRecord(a: Alert): Record<string, unknown> {
  return {
    alert_id: a.alertId,
    rule_id: a.ruleId,
    name: a.name,
    severity: a.severity,
    component: a.component,
    state: a.state,
    active_at: iso(a.activeAt),
    triggered_at: a.triggeredAt === undefined ? null : iso(a.triggeredAt),
    value: a.value ?? null,
    acknowledged_by: a.acknowledgedBy ?? null,
    acknowledged_at: a.acknowledgedAt === undefined ? null : iso(a.acknowledgedAt),
  };
}

function historyRecord(e: AlertHistoryEntry): Record<string, unknown> {
  return {
    alert_id: e.alertId,
    rule_id: e.ruleId,
    name: e.name,
    severity: e.severity,
    component: e.component,
    event: e.event,
    at: iso(e.at),
    value: e.value ?? null,
    by: e.by ?? null,
  };
}

const SNAKE: Readonly<Record<string, string>> = {
  notificationChannels: 'notification_channels',
  durationSeconds: 'duration_seconds',
};

/** The rule fields core's `create` names in a `TypeError`, in the spec's spelling. */
function fieldOf(message: string): string {
  const m = /^([A-Za-z]+)\b/.exec(message);
  const name = m?.[1] ?? '';
  if (SNAKE[name] !== undefined) return SNAKE[name];
  return ['name', 'description', 'severity', 'component', 'condition', 'threshold'].includes(name)
    ? name
    : 'body';
}

/**
 * The JSON routes over `monitor`: `GET /traces/{trace_id}`, `GET /alerts`,
 * `POST /alerts`, `POST /alerts/{id}/acknowledge`, `DELETE /alerts/{id}`. @internal
 */
export function monitorRoutes(options: ResolvedRoutesOptions): MonitorRoute[] {
  const { monitor } = options;
  const activeOf = (ruleId: string): Alert | undefined =>
    monitor.alerts.active().find((a) => a.ruleId === ruleId);
  return [
    {
      method: 'GET',
      url: '/traces/:trace_id',
      schema: {
        params: traceParamsSchema,
        querystring: noQuerySchema,
        response: { 200: traceResponseSchema, ...errorResponses([400, 404]) },
      },
      optionalBody: false,
      handle: ({ params }) => {
        const trace = monitor.getTrace(params['trace_id']!.toLowerCase());
        if (trace === undefined) {
          throw new HttpError(404, 'not_found', 'trace_id', 'no span of this trace is held');
        }
        return { status: 200, body: trace };
      },
    },
    {
      method: 'GET',
      url: '/alerts',
      schema: {
        querystring: alertsQuerySchema,
        response: { 200: alertListSchema, ...errorResponses([400]) },
      },
      optionalBody: false,
      handle: ({ query }) => {
        const filter = {
          ...(query['severity'] !== undefined && { severity: query['severity'] as Severity }),
          ...(query['component'] !== undefined && { component: query['component'] }),
        };
        const active = monitor.alerts
          .active()
          .filter(
            (a) =>
              (filter.severity === undefined || a.severity === filter.severity) &&
              (filter.component === undefined || a.component === filter.component),
          );
        return {
          status: 200,
          body: {
            alerts: monitor.alerts.list(filter).map((r) =>
              ruleRecord(
                r,
                active.find((a) => a.ruleId === r.id),
              ),
            ),
            active_alerts: active.map(activeRecord),
            history: monitor.alerts.history({ limit: 100 }).reverse().map(historyRecord),
            recent_events: [],
            evaluation: 'in-process',
          },
        };
      },
    },
    {
      method: 'POST',
      url: '/alerts',
      schema: {
        body: alertRuleBodySchema,
        querystring: noQuerySchema,
        response: { 201: alertCreatedSchema, ...errorResponses([400, 413, 415]) },
      },
      optionalBody: false,
      handle: ({ body }) => {
        const input = body as AlertRuleBody;
        let rule: AlertRule;
        try {
          rule = monitor.alerts.create({
            name: input.name,
            severity: input.severity,
            component: input.component,
            condition: input.condition,
            ...(input.description !== undefined && { description: input.description }),
            ...(input.threshold !== undefined && { threshold: input.threshold }),
            ...(input.duration_seconds !== undefined && {
              durationSeconds: input.duration_seconds,
            }),
            ...(input.notification_channels !== undefined && {
              notificationChannels: input.notification_channels,
            }),
          });
        } catch (error) {
          if (error instanceof ConditionSyntaxError) {
            throw new HttpError(400, 'invalid_condition', 'condition', error.message);
          }
          if (error instanceof TypeError) {
            throw new HttpError(400, 'invalid_value', fieldOf(error.message), error.message);
          }
          throw error;
        }
        return {
          status: 201,
          body: {
            success: true,
            message: 'Alert rule created',
            alert_id: rule.id,
            alert: ruleRecord(rule, undefined),
          },
        };
      },
    },
    {
      method: 'POST',
      url: '/alerts/:id/acknowledge',
      schema: {
        params: alertParamsSchema,
        querystring: noQuerySchema,
        body: acknowledgeBodySchema,
        response: { 200: alertChangedSchema, ...errorResponses([400, 404, 413, 415]) },
      },
      optionalBody: true,
      handle: ({ params, body }) => {
        const id = params['id']!;
        const by = (body as { by?: string } | undefined)?.by ?? options.defaultAcknowledgedBy;
        const active = monitor.alerts.active().find((a) => a.alertId === id || a.ruleId === id);
        const rule = monitor.alerts.get(active?.ruleId ?? id);
        if (rule === undefined)
          throw new HttpError(404, 'not_found', 'id', 'no alert rule with this id');
        const acked =
          active === undefined ? undefined : monitor.alerts.acknowledge(active.alertId, by);
        return {
          status: 200,
          body: {
            success: true,
            message: acked === undefined ? 'Alert rule has no active alert' : 'Alert acknowledged',
            alert_id: rule.id,
            alert: ruleRecord(rule, acked),
            ...(acked !== undefined && { active_alert: activeRecord(acked) }),
          },
        };
      },
    },
    {
      method: 'DELETE',
      url: '/alerts/:id',
      schema: {
        params: alertParamsSchema,
        querystring: noQuerySchema,
        response: { 200: alertChangedSchema, ...errorResponses([400, 404]) },
      },
      optionalBody: false,
      handle: ({ params }) => {
        const id = params['id']!;
        if (activeOf(id) === undefined && monitor.alerts.get(id) === undefined) {
          throw new HttpError(404, 'not_found', 'id', 'no alert rule with this id');
        }
        monitor.alerts.delete(id);
        return {
          status: 200,
          body: { success: true, message: 'Alert rule deleted', alert_id: id },
        };
      },
    },
    {
      method: 'GET',
      url: '/health',
      schema: {
        querystring: noQuerySchema,
        response: { 200: healthSchema, ...errorResponses([400]) },
      },
      optionalBody: false,
      handle: () => ({ status: 200, body: monitor.health() }),
    },
    {
      method: 'GET',
      url: '/analytics',
      schema: {
        querystring: componentQuerySchema,
        response: { 200: analyticsSchema, ...errorResponses([400]) },
      },
      optionalBody: false,
      // An unknown component is answered, empty, as `monitor.analytics()` answers it.
      handle: ({ query }) => ({
        status: 200,
        body: monitor.analytics(
          query['component'] === undefined ? {} : { component: query['component'] },
        ),
      }),
    },
  ];
}
