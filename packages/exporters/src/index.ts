/**
 * PRSM Monitor exporters. For now: the alert notification channels, also importable
 * on their own from `@prsm/exporters/notifiers` (webhook, Slack, PagerDuty, email,
 * SMS, Alertmanager). Exporters of metrics and traces (REST, OTLP) will come as
 * subpaths of their own, so loading one never loads the others' dependencies.
 *
 * @example
 * ```ts
 * import { webhookChannel } from '@prsm/exporters';
 * // same as: import { webhookChannel } from '@prsm/exporters/notifiers';
 *
 * const ops = webhookChannel({ url: 'https://ops.example/prsm-alerts', secret });
 * ```
 *
 * @packageDocumentation
 */
export {
  alertmanagerChannel,
  emailChannel,
  pagerDutyChannel,
  signWebhookBody,
  slackChannel,
  smsChannel,
  toWebhookPayload,
  verifyWebhookSignature,
  webhookChannel,
} from './notifiers/index.js';
export type {
  AlertmanagerChannelOptions,
  DeliveryOptions,
  EmailChannelOptions,
  MailMessage,
  MailTransport,
  NotifierChannel,
  NotifierStats,
  PagerDutyChannelOptions,
  RetryOptions,
  SlackChannelOptions,
  SmsChannelOptions,
  SmtpTransportOptions,
  VerifyWebhookSignatureOptions,
  WebhookAlert,
  WebhookChannelOptions,
  WebhookPayload,
} from './notifiers/index.js';
