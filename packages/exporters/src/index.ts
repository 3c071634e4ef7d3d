/**
 * PRSM Monitor exporters: the alert notification channels, also importable on their
 * own from `@prsm/exporters/notifiers` (webhook, Slack, PagerDuty, email, SMS,
 * Alertmanager), the Prometheus exposition, from `@prsm/exporters/prometheus`, and
 * the REST exporter, from `@prsm/exporters/rest`. Each is a subpath of its own (OTLP
 * will come as another), so loading one never loads the others' dependencies.
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
export {
  escapeLabelValue,
  negotiateFormat,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  prometheusHandler,
  sanitizeLabelName,
  sanitizeMetricName,
  startPrometheusServer,
  toPrometheusRules,
  toPrometheusText,
} from './prometheus/index.js';
export type {
  PrometheusFormat,
  PrometheusHandlerOptions,
  PrometheusRequestHandler,
  PrometheusRuleMetricType,
  PrometheusRulesOptions,
  PrometheusRulesResult,
  PrometheusServer,
  PrometheusServerOptions,
  PrometheusTextOptions,
  SkippedPrometheusRule,
  SnapshotSource,
} from './prometheus/index.js';
export { REST_BATCH_ID_HEADER, REST_BATCH_PATH, restExporter, toRestBatch } from './rest/index.js';
export type {
  RestAlertEvent,
  RestBatchBody,
  RestCounterMetric,
  RestCounterWindow,
  RestDistributionMetric,
  RestDistributionWindow,
  RestExporterOptions,
  RestGaugeMetric,
  RestMetric,
  RestMetricBase,
  RestQuantiles,
  RestSpan,
} from './rest/index.js';
export { consoleExporter } from './console/index.js';
export type { ConsoleExporterOptions } from './console/index.js';
