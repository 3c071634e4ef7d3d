/**
 * Alert notification channels for the `@prsm/core` alert engine: a signed JSON
 * webhook, Slack, PagerDuty (Events API v2), email (SMTP), SMS (Twilio) and
 * Prometheus Alertmanager. Each factory returns a `NotificationChannel` whose
 * `send()` never throws or rejects: it retries what may succeed later within a
 * budget and reports the rest, and counts it all in `stats()`.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { pagerDutyChannel, slackChannel } from '@prsm/exporters/notifiers';
 *
 * const monitor = new Monitor({
 *   alerting: {
 *     channels: {
 *       slack: slackChannel({ webhookUrl: process.env.SLACK_WEBHOOK_URL! }),
 *       oncall: pagerDutyChannel({ routingKey: process.env.PAGERDUTY_ROUTING_KEY! }),
 *     },
 *   },
 * });
 * ```
 *
 * @packageDocumentation
 */
export { alertmanagerChannel } from './alertmanager.js';
export type { AlertmanagerChannelOptions } from './alertmanager.js';
export type { DeliveryOptions, NotifierChannel, NotifierStats, RetryOptions } from './delivery.js';
export { emailChannel } from './email.js';
export type {
  EmailChannelOptions,
  MailMessage,
  MailTransport,
  SmtpTransportOptions,
} from './email.js';
export { pagerDutyChannel } from './pagerduty.js';
export type { PagerDutyChannelOptions } from './pagerduty.js';
export { slackChannel } from './slack.js';
export type { SlackChannelOptions } from './slack.js';
export { smsChannel } from './sms.js';
export type { SmsChannelOptions } from './sms.js';
export {
  signWebhookBody,
  toWebhookPayload,
  verifyWebhookSignature,
  webhookChannel,
} from './webhook.js';
export type {
  VerifyWebhookSignatureOptions,
  WebhookAlert,
  WebhookChannelOptions,
  WebhookPayload,
} from './webhook.js';
