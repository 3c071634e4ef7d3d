/**
 * The Alertmanager channel: a `mode: 'stream'` channel that posts alerts to
 * Alertmanager's v2 API the way Prometheus does, re-sent while they fire, so
 * Alertmanager does the grouping, silencing and routing.
 */
import type { AlertNotification, NotifiedAlert } from '@prsm/core';

import {
  checkHeaders,
  checkOptionsObject,
  checkPositive,
  checkUrl,
  combineOutcomes,
  createChannel,
  httpAttempt,
  optionError,
  resolveDelivery,
  splitCredentials,
  type DeliveryOptions,
  type NotifierChannel,
} from './delivery.js';
import { isoTime } from './format.js';
import { secretsInUrl } from './webhook.js';

/**
 * Options of {@link alertmanagerChannel}.
 *
 * @example
 * ```ts
 * const options: AlertmanagerChannelOptions = {
 *   url: 'http://alertmanager:9093',
 *   firingTtlSeconds: 240,
 *   generatorUrl: (alert) => `https://monitor.example/alerts/${alert.alertId}`,
 * };
 * ```
 */
export interface AlertmanagerChannelOptions extends DeliveryOptions {
  /** Alertmanager's base URL (alerts go to `{url}/api/v2/alerts`). */
  readonly url: string;
  /**
   * How long a firing alert stays firing in Alertmanager without being re-sent, in
   * seconds: its `endsAt` is the notification's time plus this. Keep it several times
   * the engine's `resendIntervalSeconds` (Prometheus uses 4×). Default 240.
   */
  readonly firingTtlSeconds?: number;
  /** `generatorURL` of each alert: a link back to its source. Default none. */
  readonly generatorUrl?: string | ((alert: NotifiedAlert) => string);
  /** Extra headers on every request (an `Authorization` header for a proxy in front). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** An alert as Alertmanager's `POST /api/v2/alerts` takes it. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/**
 * A label name Alertmanager accepts (`[a-zA-Z_][a-zA-Z0-9_]*`): other characters
 * become `_`, and a leading digit gets a `_` before it.
 */
export function sanitizeLabelName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (cleaned === '') return '_';
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

// Sorted, so which of two colliding names wins never depends on insertion order.
function sanitizeSet(set: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(set).sort()) {
    const value = set[name]!;
    // An empty value means "no such label" to Alertmanager.
    if (value === '') continue;
    const clean = sanitizeLabelName(name);
    if (!(clean in out)) out[clean] = value;
  }
  return out;
}

/** The postable alerts for a notification (acknowledgements are not sent). */
export function toPostableAlerts(
  notification: AlertNotification,
  config: { firingTtlMs: number; generatorUrl?: (alert: NotifiedAlert) => string | undefined },
): PostableAlert[] {
  if (notification.status === 'acknowledged') return [];
  return notification.alerts.map((alert) => {
    const annotations: Record<string, string> = {
      ...alert.annotations,
      prsm_alert_id: alert.alertId,
      prsm_rule_id: alert.ruleId,
    };
    if (alert.value !== undefined) annotations['value'] = String(alert.value);
    if (alert.threshold !== undefined) annotations['threshold'] = String(alert.threshold);
    if (alert.description !== '' && annotations['description'] === undefined) {
      annotations['description'] = alert.description;
    }
    const endsAt =
      alert.status === 'resolved'
        ? (alert.endsAt ?? notification.timestamp)
        : notification.timestamp + config.firingTtlMs;
    const generatorURL = config.generatorUrl?.(alert);
    return {
      labels: sanitizeSet({
        ...alert.labels,
        alertname: alert.labels['alertname'] ?? alert.name,
        severity: alert.labels['severity'] ?? alert.severity,
        component: alert.labels['component'] ?? alert.component,
      }),
      annotations: sanitizeSet(annotations),
      startsAt: isoTime(alert.startsAt),
      endsAt: isoTime(endsAt),
      ...(generatorURL === undefined ? {} : { generatorURL }),
    };
  });
}

/**
 * A `mode: 'stream'` channel for Prometheus Alertmanager (v0.16 and later): each
 * notification's alerts are POSTed to `{url}/api/v2/alerts` as
 * `{ labels, annotations, startsAt, endsAt, generatorURL? }`, the way Prometheus
 * sends them, and Alertmanager groups, silences, inhibits and routes them itself.
 *
 * - Labels are the alert's labels (with `alertname`, `severity`, `component`), names
 *   sanitised to `[a-zA-Z_][a-zA-Z0-9_]*`, empty values left out. Annotations are the
 *   alert's plus `prsm_alert_id`, `prsm_rule_id`, `value`, `threshold`.
 * - A firing alert gets `endsAt` = the notification's time + `firingTtlSeconds`
 *   (240 s by default): the engine re-sends firing alerts to stream channels (every
 *   `resendIntervalSeconds`, 60 by default), and if it stops, Alertmanager resolves
 *   them by itself when `endsAt` passes. A resolved alert gets its own `endsAt`.
 * - Acknowledgements are not sent (Alertmanager has no such state; use its silences):
 *   `send()` reports `ok` with 0 attempts. An acknowledged alert that still fires
 *   keeps being sent as firing.
 *
 * Alertmanager answers 200; any 2xx counts.
 *
 * @example
 * ```ts
 * import { alertmanagerChannel } from '@prsm/exporters/notifiers';
 *
 * const alertmanager = alertmanagerChannel({ url: 'http://alertmanager:9093' });
 * const monitor = new Monitor({ alerting: { channels: { alertmanager } } });
 * ```
 */
export function alertmanagerChannel(options: AlertmanagerChannelOptions): NotifierChannel {
  const factory = 'alertmanagerChannel';
  checkOptionsObject(factory, options);
  const base = checkUrl(factory, 'url', options.url);
  const firingTtlMs =
    checkPositive(factory, 'firingTtlSeconds', options.firingTtlSeconds, 240) * 1000;
  const headers = checkHeaders(factory, 'headers', options.headers);
  let generatorUrl: ((alert: NotifiedAlert) => string | undefined) | undefined;
  const generator = options.generatorUrl;
  if (typeof generator === 'string') {
    const fixed = checkUrl(factory, 'generatorUrl', generator).href;
    generatorUrl = () => fixed;
  } else if (typeof generator === 'function') {
    generatorUrl = (alert) => {
      try {
        const url = generator(alert);
        return typeof url === 'string' && /^https?:\/\//.test(url) ? url : undefined;
      } catch {
        return undefined;
      }
    };
  } else if (generator !== undefined) {
    throw optionError(factory, 'generatorUrl', 'must be a URL string or a function');
  }
  const delivery = resolveDelivery(factory, options);
  const { url: target, headers: credentials } = splitCredentials(
    new URL(`${base.pathname.replace(/\/+$/, '')}/api/v2/alerts`, base),
  );
  const config = { firingTtlMs, ...(generatorUrl === undefined ? {} : { generatorUrl }) };

  return createChannel(
    {
      kind: 'alertmanager',
      mode: 'stream',
      endpoint: base.origin,
      secrets: [
        ...secretsInUrl(base),
        ...Object.values(credentials),
        ...Object.values(headers).filter((v) => v.length >= 8),
      ],
      async deliver(notification, context) {
        const alerts = toPostableAlerts(notification, config);
        if (alerts.length === 0) return { ok: true, attempts: 0 };
        const body = JSON.stringify(alerts);
        const outcome = await context.request(() =>
          httpAttempt(
            {
              url: target,
              headers: { ...credentials, ...headers, 'content-type': 'application/json' },
              body,
            },
            delivery.timeoutMs,
            () => delivery.clock.now(),
          ),
        );
        return combineOutcomes([outcome]);
      },
    },
    delivery,
  );
}
