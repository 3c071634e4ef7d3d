/**
 * The generic webhook channel: the notification as documented JSON, POSTed to any
 * URL, optionally signed with HMAC-SHA256 over a timestamp and the raw body (the
 * scheme Stripe uses), and the helper a receiver checks that signature with.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import type { AlertNotification, AlertSeverity, NotificationStatus } from '@prsm/core';

import {
  checkHeaders,
  checkOptionalString,
  checkOptionsObject,
  createChannel,
  httpAttempt,
  resolveDelivery,
  checkUrl,
  combineOutcomes,
  splitCredentials,
  type DeliveryOptions,
  type NotifierChannel,
} from './delivery.js';
import { isoTime } from './format.js';

/**
 * Options of {@link webhookChannel}.
 *
 * @example
 * ```ts
 * const options: WebhookChannelOptions = {
 *   url: 'https://ops.example/prsm-alerts',
 *   secret: process.env.PRSM_WEBHOOK_SECRET,
 *   headers: { 'X-Team': 'payments' },
 * };
 * ```
 */
export interface WebhookChannelOptions extends DeliveryOptions {
  /** Where to POST, an absolute http(s) URL. */
  readonly url: string;
  /** Signs every request (`X-PRSM-Timestamp`, `X-PRSM-Signature`) when set. */
  readonly secret?: string;
  /** Extra headers on every request (an `Authorization` header, for instance). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * One alert in a {@link WebhookPayload}. Times are ISO 8601 strings in UTC; optional
 * fields are absent (never `null`) when they do not apply.
 *
 * @example
 * ```ts
 * const firing = (payload as WebhookPayload).alerts.filter((a: WebhookAlert) => a.status === 'firing');
 * ```
 */
export interface WebhookAlert {
  /** Stable for one episode of the alert: a dedup key. */
  readonly alert_id: string;
  /** The rule that raised it. */
  readonly rule_id: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's description (may be empty). */
  readonly description: string;
  /** The rule's severity. */
  readonly severity: AlertSeverity;
  /** The rule's component. */
  readonly component: string;
  /** This alert's status. */
  readonly status: NotificationStatus;
  /** The rule's condition, normalised. */
  readonly condition: string;
  /** The rule's threshold, when it has one. */
  readonly threshold?: number;
  /** The condition's value at the last evaluation. */
  readonly value?: number;
  /** Identifying labels (with `alertname`, `severity`, `component`). */
  readonly labels: Readonly<Record<string, string>>;
  /** Free-form details. */
  readonly annotations: Readonly<Record<string, string>>;
  /** When it started firing. */
  readonly starts_at: string;
  /** When it resolved (resolved alerts only). */
  readonly ends_at?: string;
  /** Who acknowledged it. */
  readonly acknowledged_by?: string;
  /** When it was acknowledged. */
  readonly acknowledged_at?: string;
}

/**
 * The JSON body {@link webhookChannel} POSTs: the notification in snake_case, times
 * as ISO 8601 strings. `version` changes only if a field changes meaning or goes
 * away; new fields may be added within a version.
 *
 * @example
 * ```ts
 * // In the receiver, after verifyWebhookSignature(...) returned true:
 * const payload = JSON.parse(rawBody) as WebhookPayload;
 * if (payload.status === 'firing') openIncident(payload.group_key, payload.alerts);
 * ```
 */
export interface WebhookPayload {
  /** The payload format's version: `'1'`. */
  readonly version: '1';
  /** Unique per notification: drop a duplicate delivery (a retry) by it. */
  readonly id: string;
  /** The configured channel name. */
  readonly channel: string;
  /** `firing` when any alert fires, else `resolved` or `acknowledged`. */
  readonly status: NotificationStatus;
  /** Why it was sent. */
  readonly reason: AlertNotification['reason'];
  /** For `reason: 'escalation'`: the step's index. */
  readonly escalation_step?: number;
  /** The group's key, stable for the group's life. */
  readonly group_key: string;
  /** The labels the group was formed on. */
  readonly group_labels: Readonly<Record<string, string>>;
  /** Labels every alert shares. */
  readonly common_labels: Readonly<Record<string, string>>;
  /** Annotations every alert shares. */
  readonly common_annotations: Readonly<Record<string, string>>;
  /** The highest severity among the alerts. */
  readonly severity: AlertSeverity;
  /** When the notification was made. */
  readonly timestamp: string;
  /** The alerts, firing first. */
  readonly alerts: readonly WebhookAlert[];
}

/**
 * The notification as a {@link WebhookPayload}: what {@link webhookChannel} sends.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(toWebhookPayload(notification));
 * ```
 */
export function toWebhookPayload(notification: AlertNotification): WebhookPayload {
  return {
    version: '1',
    id: notification.id,
    channel: notification.channel,
    status: notification.status,
    reason: notification.reason,
    ...(notification.escalationStep === undefined
      ? {}
      : { escalation_step: notification.escalationStep }),
    group_key: notification.groupKey,
    group_labels: { ...notification.groupLabels },
    common_labels: { ...notification.commonLabels },
    common_annotations: { ...notification.commonAnnotations },
    severity: notification.severity,
    timestamp: isoTime(notification.timestamp),
    alerts: notification.alerts.map((alert): WebhookAlert => ({
      alert_id: alert.alertId,
      rule_id: alert.ruleId,
      name: alert.name,
      description: alert.description,
      severity: alert.severity,
      component: alert.component,
      status: alert.status,
      condition: alert.condition,
      ...(finite(alert.threshold) ? { threshold: alert.threshold } : {}),
      ...(finite(alert.value) ? { value: alert.value } : {}),
      labels: { ...alert.labels },
      annotations: { ...alert.annotations },
      starts_at: isoTime(alert.startsAt),
      ...(alert.endsAt === undefined ? {} : { ends_at: isoTime(alert.endsAt) }),
      ...(alert.acknowledgedBy === undefined ? {} : { acknowledged_by: alert.acknowledgedBy }),
      ...(alert.acknowledgedAt === undefined
        ? {}
        : { acknowledged_at: isoTime(alert.acknowledgedAt) }),
    })),
  };
}

// JSON has no NaN or Infinity: such a value would become null.
function finite(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value);
}

/**
 * The signature {@link webhookChannel} puts in `X-PRSM-Signature`:
 * `sha256=` + the hex HMAC-SHA256, keyed with `secret`, of `"<timestamp>.<body>"`.
 *
 * @example
 * ```ts
 * const timestamp = Math.floor(Date.now() / 1000);
 * const signature = signWebhookBody(secret, timestamp, body); // 'sha256=5f2b...'
 * ```
 */
export function signWebhookBody(
  secret: string,
  timestamp: number | string,
  body: string | Uint8Array,
): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${String(timestamp)}.`);
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/**
 * Options of {@link verifyWebhookSignature}.
 *
 * @example
 * ```ts
 * const options: VerifyWebhookSignatureOptions = {
 *   secret,
 *   body: rawBody,
 *   timestamp: req.headers['x-prsm-timestamp'],
 *   signature: req.headers['x-prsm-signature'],
 * };
 * ```
 */
export interface VerifyWebhookSignatureOptions {
  /** The shared secret; a list accepts any of them, for rotating secrets. */
  readonly secret: string | readonly string[];
  /** The raw request body, exactly as received (not re-serialised JSON). */
  readonly body: string | Uint8Array;
  /** The `X-PRSM-Timestamp` header: Unix seconds. */
  readonly timestamp: string | number | readonly string[] | undefined;
  /** The `X-PRSM-Signature` header: `sha256=<hex>`. */
  readonly signature: string | readonly string[] | undefined;
  /** Largest accepted age (or clock skew) of the timestamp, in seconds. Default 300. */
  readonly toleranceSeconds?: number;
  /** The receiver's time in milliseconds since the epoch. Default `Date.now()`. */
  readonly now?: number;
}

/**
 * Checks a signed webhook request: the signature must match the body and timestamp
 * under the secret (compared in constant time), and the timestamp must be within
 * `toleranceSeconds` of `now`, so a captured request cannot be replayed later.
 * Returns `false` for anything missing or malformed; never throws.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { verifyWebhookSignature } from '@prsm/exporters/notifiers';
 *
 * createServer(async (req, res) => {
 *   const chunks: Buffer[] = [];
 *   for await (const chunk of req) chunks.push(chunk as Buffer);
 *   const body = Buffer.concat(chunks);
 *   const ok = verifyWebhookSignature({
 *     secret: process.env.PRSM_WEBHOOK_SECRET!,
 *     body,
 *     timestamp: req.headers['x-prsm-timestamp'],
 *     signature: req.headers['x-prsm-signature'],
 *   });
 *   res.writeHead(ok ? 204 : 401).end();
 * }).listen(8080);
 * ```
 */
export function verifyWebhookSignature(options: VerifyWebhookSignatureOptions): boolean {
  try {
    const timestampText = single(options.timestamp);
    const signatureText = single(options.signature);
    if (timestampText === undefined || signatureText === undefined) return false;
    if (!/^\d{1,15}$/.test(timestampText)) return false;
    const tolerance = options.toleranceSeconds ?? 300;
    const nowSeconds = (options.now ?? Date.now()) / 1000;
    if (!(Math.abs(nowSeconds - Number(timestampText)) <= tolerance)) return false;
    const match = /^sha256=([0-9a-fA-F]{64})$/.exec(signatureText.trim());
    if (match === null) return false;
    const given = Buffer.from(match[1]!, 'hex');
    const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
    let valid = false;
    for (const secret of secrets) {
      if (typeof secret !== 'string' || secret === '') continue;
      const expected = Buffer.from(
        signWebhookBody(secret, timestampText, options.body).slice('sha256='.length),
        'hex',
      );
      // Every secret is checked, so the time taken does not tell which one matched.
      if (timingSafeEqual(expected, given)) valid = true;
    }
    return valid;
  } catch {
    return false;
  }
}

function single(value: string | number | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'string') return value.trim();
  return value.length === 1 ? value[0]!.trim() : undefined;
}

/**
 * A channel that POSTs each notification as JSON ({@link WebhookPayload}) to `url`.
 *
 * With a `secret`, each request (each retry too, re-signed) carries
 * `X-PRSM-Timestamp: <unix seconds>` and
 * `X-PRSM-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`; check
 * them with {@link verifyWebhookSignature}. Any 2xx answer is a delivery; see
 * {@link RetryOptions} for what is retried.
 *
 * @example
 * ```ts
 * import { webhookChannel } from '@prsm/exporters/notifiers';
 *
 * const ops = webhookChannel({
 *   url: 'https://ops.example/prsm-alerts',
 *   secret: process.env.PRSM_WEBHOOK_SECRET,
 *   timeoutMs: 5000,
 * });
 * const monitor = new Monitor({ alerting: { channels: { ops } } });
 * ```
 */
export function webhookChannel(options: WebhookChannelOptions): NotifierChannel {
  const factory = 'webhookChannel';
  checkOptionsObject(factory, options);
  const url = checkUrl(factory, 'url', options.url);
  const secret = checkOptionalString(factory, 'secret', options.secret);
  const headers = checkHeaders(factory, 'headers', options.headers);
  const delivery = resolveDelivery(factory, options);
  const { url: target, headers: credentials } = splitCredentials(url);

  return createChannel(
    {
      kind: 'webhook',
      endpoint: url.origin,
      secrets: [
        secret ?? '',
        ...secretsInUrl(url),
        ...Object.values(credentials),
        ...Object.values(headers).filter((v) => v.length >= 8),
      ],
      async deliver(notification, context) {
        const body = JSON.stringify(toWebhookPayload(notification));
        const outcome = await context.request(() => {
          const signed: Record<string, string> = {};
          if (secret !== undefined) {
            const timestamp = Math.floor(delivery.clock.now() / 1000);
            signed['x-prsm-timestamp'] = String(timestamp);
            signed['x-prsm-signature'] = signWebhookBody(secret, timestamp, body);
          }
          return httpAttempt(
            {
              url: target,
              headers: {
                ...credentials,
                ...headers,
                'content-type': 'application/json',
                ...signed,
              },
              body,
            },
            delivery.timeoutMs,
            () => delivery.clock.now(),
          );
        });
        return combineOutcomes([outcome]);
      },
    },
    delivery,
  );
}

/** User info and query values of a URL: where tokens usually hide. */
export function secretsInUrl(url: URL): string[] {
  const secrets = [url.password, url.username];
  for (const value of url.searchParams.values()) secrets.push(value);
  return secrets.filter((s) => s.length >= 8);
}
