/**
 * The PagerDuty channel: Events API v2, one event per alert, deduplicated per alert
 * episode so trigger, acknowledge and resolve land on the same incident.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

import type {
  AlertNotification,
  AlertSeverity,
  NotificationStatus,
  NotifiedAlert,
} from '@prsm/core';

import {
  checkOptionalString,
  checkOptionsObject,
  checkString,
  checkUrl,
  combineOutcomes,
  createChannel,
  httpAttempt,
  mapLimit,
  resolveDelivery,
  type DeliveryOptions,
  type NotifierChannel,
} from './delivery.js';
import { isoTime, truncate } from './format.js';

/**
 * Options of {@link pagerDutyChannel}.
 *
 * @example
 * ```ts
 * const options: PagerDutyChannelOptions = {
 *   routingKey: process.env.PAGERDUTY_ROUTING_KEY!,
 *   source: 'checkout-eu-1',
 *   clientUrl: 'https://grafana.example/d/checkout',
 * };
 * ```
 */
export interface PagerDutyChannelOptions extends DeliveryOptions {
  /** The integration key of an Events API v2 integration: a secret, never logged. */
  readonly routingKey: string;
  /** The Events API endpoint. Default `https://events.pagerduty.com/v2/enqueue`. */
  readonly url?: string;
  /** `payload.source`: the affected system. Default this machine's host name. */
  readonly source?: string;
  /** `client`: the monitoring tool's name shown in PagerDuty. Default `'PRSM Monitor'`. */
  readonly client?: string;
  /** `client_url`: a link back to the monitoring tool. */
  readonly clientUrl?: string;
}

type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

const SEVERITY: Readonly<Record<AlertSeverity, PagerDutySeverity>> = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'info',
  info: 'info',
};

const ACTION: Readonly<Record<NotificationStatus, 'trigger' | 'acknowledge' | 'resolve'>> = {
  firing: 'trigger',
  acknowledged: 'acknowledge',
  resolved: 'resolve',
};

/** PagerDuty's limits: summary 1024 characters, dedup_key 255. */
const MAX_SUMMARY = 1024;
const MAX_DEDUP_KEY = 255;

/** The dedup key of an alert episode: `prsm:<ruleId>:<alertId>`, hashed if over 255 characters. */
export function dedupKey(alert: NotifiedAlert): string {
  const key = `prsm:${alert.ruleId}:${alert.alertId}`;
  if (key.length <= MAX_DEDUP_KEY) return key;
  return `prsm:sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** One Events API v2 event, as sent. */
export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp: string;
    component: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  client?: string;
  client_url?: string;
  links?: { href: string; text: string }[];
}

function links(alert: NotifiedAlert): { href: string; text: string }[] {
  const out: { href: string; text: string }[] = [];
  for (const [key, text] of [
    ['runbook_url', 'Runbook'],
    ['dashboard_url', 'Dashboard'],
  ] as const) {
    const href = alert.annotations[key];
    if (href !== undefined && /^https?:\/\//.test(href)) out.push({ href, text });
  }
  return out;
}

/** The event for one alert of a notification. */
export function toPagerDutyEvent(
  notification: AlertNotification,
  alert: NotifiedAlert,
  config: { routingKey: string; source: string; client: string; clientUrl?: string },
): PagerDutyEvent {
  const action = ACTION[alert.status];
  const event: PagerDutyEvent = {
    routing_key: config.routingKey,
    event_action: action,
    dedup_key: dedupKey(alert),
  };
  if (action !== 'trigger') return event;
  const description = alert.description.trim() === '' ? '' : `: ${alert.description.trim()}`;
  event.payload = {
    summary: truncate(
      `[${alert.severity.toUpperCase()}] ${alert.name} (${alert.component})${description}`,
      MAX_SUMMARY,
    ),
    source: config.source,
    severity: SEVERITY[alert.severity],
    timestamp: isoTime(alert.startsAt),
    component: alert.component,
    group: notification.groupKey,
    class: alert.name,
    custom_details: {
      alert_id: alert.alertId,
      rule_id: alert.ruleId,
      severity: alert.severity,
      description: alert.description,
      condition: alert.condition,
      ...(alert.threshold !== undefined && Number.isFinite(alert.threshold)
        ? { threshold: alert.threshold }
        : {}),
      ...(alert.value !== undefined && Number.isFinite(alert.value) ? { value: alert.value } : {}),
      labels: { ...alert.labels },
      annotations: { ...alert.annotations },
      notification_id: notification.id,
      reason: notification.reason,
      ...(notification.escalationStep === undefined
        ? {}
        : { escalation_step: notification.escalationStep }),
    },
  };
  event.client = config.client;
  if (config.clientUrl !== undefined) event.client_url = config.clientUrl;
  const alertLinks = links(alert);
  if (alertLinks.length > 0) event.links = alertLinks;
  return event;
}

/**
 * A channel that sends each alert of a notification to PagerDuty's Events API v2 as
 * its own event (so each alert is its own incident), with
 *
 * - `event_action`: `trigger` for a firing alert, `acknowledge` for an acknowledged
 *   one, `resolve` for a resolved one;
 * - `dedup_key`: `prsm:<ruleId>:<alertId>`, the same for every event of one alert
 *   episode, so the acknowledgement and resolution find the incident the trigger made;
 * - on triggers only, `payload` (summary up to 1024 characters, source, severity,
 *   ISO timestamp of the alert's start, component, group: the notification's group
 *   key, class: the rule's name, custom_details: ids, condition, value, threshold,
 *   labels, annotations), `client`, `client_url`, and `links` from the
 *   `runbook_url` and `dashboard_url` annotations;
 * - severity mapped `critical`→`critical`, `high`→`error`, `medium`→`warning`,
 *   `low` and `info`→`info`.
 *
 * PagerDuty answers 202 Accepted; any 2xx counts as delivered. Events go out at most
 * four at a time; the notification is delivered when all of them are.
 *
 * @example
 * ```ts
 * import { pagerDutyChannel } from '@prsm/exporters/notifiers';
 *
 * const pager = pagerDutyChannel({ routingKey: process.env.PAGERDUTY_ROUTING_KEY! });
 * const monitor = new Monitor({ alerting: { channels: { oncall: pager } } });
 * ```
 */
export function pagerDutyChannel(options: PagerDutyChannelOptions): NotifierChannel {
  const factory = 'pagerDutyChannel';
  checkOptionsObject(factory, options);
  const routingKey = checkString(factory, 'routingKey', options.routingKey);
  const url = checkUrl(factory, 'url', options.url ?? 'https://events.pagerduty.com/v2/enqueue');
  const source = checkOptionalString(factory, 'source', options.source) ?? safeHostname();
  const client = checkOptionalString(factory, 'client', options.client) ?? 'PRSM Monitor';
  const clientUrl =
    options.clientUrl === undefined
      ? undefined
      : checkUrl(factory, 'clientUrl', options.clientUrl).href;
  const delivery = resolveDelivery(factory, options);
  const target = url.href;
  const config = { routingKey, source, client, ...(clientUrl === undefined ? {} : { clientUrl }) };

  return createChannel(
    {
      kind: 'pagerduty',
      endpoint: url.origin,
      secrets: [routingKey],
      async deliver(notification, context) {
        const outcomes = await mapLimit(notification.alerts, 4, (alert) => {
          const body = JSON.stringify(toPagerDutyEvent(notification, alert, config));
          return context.request(() =>
            httpAttempt(
              { url: target, headers: { 'content-type': 'application/json' }, body },
              delivery.timeoutMs,
              () => delivery.clock.now(),
            ),
          );
        });
        return combineOutcomes(outcomes);
      },
    },
    delivery,
  );
}

function safeHostname(): string {
  try {
    return hostname() || 'prsm-monitor';
  } catch {
    return 'prsm-monitor';
  }
}
