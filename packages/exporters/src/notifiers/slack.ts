/**
 * The Slack channel: a notification as an incoming-webhook message, a fallback `text`
 * plus Block Kit `blocks` kept within Slack's limits.
 */
import type { AlertNotification, NotifiedAlert } from '@prsm/core';

import {
  checkOptionsObject,
  checkUrl,
  combineOutcomes,
  createChannel,
  httpAttempt,
  resolveDelivery,
  type DeliveryOptions,
  type NotifierChannel,
} from './delivery.js';
import { formatValue, isoTime, statusWord, summaryLine, truncate } from './format.js';

/**
 * Options of {@link slackChannel}.
 *
 * @example
 * ```ts
 * const options: SlackChannelOptions = { webhookUrl: process.env.SLACK_WEBHOOK_URL! };
 * ```
 */
export interface SlackChannelOptions extends DeliveryOptions {
  /** The incoming webhook's URL (`https://hooks.slack.com/services/...`): a secret, never logged. */
  readonly webhookUrl: string;
}

/** Slack's documented limits for a message's blocks. */
const MAX_BLOCKS = 50;
const MAX_HEADER = 150;
const MAX_SECTION_TEXT = 3000;
const MAX_FIELD_TEXT = 2000;
const MAX_FALLBACK_TEXT = 3000;

interface TextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}

type Block =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] };

/** The body of an incoming-webhook request. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

const EMOJI = {
  firing: ':rotating_light:',
  resolved: ':white_check_mark:',
  acknowledged: ':eyes:',
};

// Slack's mrkdwn needs only these three escaped; the rest is shown as written.
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function mrkdwn(text: string, max: number): TextObject {
  return { type: 'mrkdwn', text: truncate(text, max) };
}

function alertBlocks(alert: NotifiedAlert): Block[] {
  const description = alert.description.trim() === '' ? '' : `\n${esc(alert.description)}`;
  const status = alert.status === 'firing' ? '' : ` (${statusWord(alert.status).toLowerCase()})`;
  const fields = [
    mrkdwn(`*Severity*\n${alert.severity.toUpperCase()}`, MAX_FIELD_TEXT),
    mrkdwn(`*Component*\n${esc(alert.component)}`, MAX_FIELD_TEXT),
    mrkdwn(
      `*Value*\n${formatValue(alert.value)}${alert.threshold === undefined ? '' : ` (threshold ${formatValue(alert.threshold)})`}`,
      MAX_FIELD_TEXT,
    ),
    mrkdwn(`*Condition*\n\`${esc(alert.condition.replace(/`/g, "'"))}\``, MAX_FIELD_TEXT),
  ];
  const context = [
    `alert \`${esc(alert.alertId)}\``,
    `rule \`${esc(alert.ruleId)}\``,
    `since ${isoTime(alert.startsAt)}`,
  ];
  if (alert.endsAt !== undefined) context.push(`resolved ${isoTime(alert.endsAt)}`);
  if (alert.acknowledgedBy !== undefined)
    context.push(`acknowledged by ${esc(alert.acknowledgedBy)}`);
  return [
    {
      type: 'section',
      text: mrkdwn(`*${esc(alert.name)}*${status}${description}`, MAX_SECTION_TEXT),
      fields,
    },
    { type: 'context', elements: [mrkdwn(context.join(' · '), MAX_SECTION_TEXT)] },
  ];
}

/**
 * The Slack message for a notification: a header, then per alert a section (name,
 * description, severity, component, value, condition) and a context line (alert id,
 * rule id, times), and a last line counting the alerts that did not fit in 50 blocks.
 *
 * @example
 * ```ts
 * const { text, blocks } = toSlackMessage(notification);
 * ```
 */
export function toSlackMessage(notification: AlertNotification): SlackMessage {
  const summary = summaryLine(notification);
  const blocks: Block[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: truncate(`${EMOJI[notification.status]} ${summary}`, MAX_HEADER),
        emoji: true,
      },
    },
  ];
  const perAlert = 2;
  // Room for the header and a closing "more" line.
  const fit = Math.floor((MAX_BLOCKS - 2) / perAlert);
  const shown = notification.alerts.slice(0, fit);
  for (const alert of shown) blocks.push(...alertBlocks(alert));
  const hidden = notification.alerts.length - shown.length;
  if (hidden > 0) {
    blocks.push({
      type: 'context',
      elements: [mrkdwn(`…and ${hidden} more alert${hidden === 1 ? '' : 's'}`, MAX_SECTION_TEXT)],
    });
  }
  return { text: truncate(esc(summary), MAX_FALLBACK_TEXT), blocks };
}

/**
 * A channel that posts each notification to a Slack incoming webhook as a
 * Block Kit message. Slack's rate limit answer (429 with
 * `Retry-After` in seconds) is waited out within the retry budget.
 *
 * @example
 * ```ts
 * import { slackChannel } from '@prsm/exporters/notifiers';
 *
 * const slack = slackChannel({ webhookUrl: process.env.SLACK_WEBHOOK_URL! });
 * const monitor = new Monitor({ alerting: { channels: { 'slack-critical': slack } } });
 * ```
 */
export function slackChannel(options: SlackChannelOptions): NotifierChannel {
  const factory = 'slackChannel';
  checkOptionsObject(factory, options);
  const url = checkUrl(factory, 'webhookUrl', options.webhookUrl);
  const delivery = resolveDelivery(factory, options);
  const target = url.href;
  return createChannel(
    {
      kind: 'slack',
      endpoint: url.origin,
      // The path of an incoming webhook URL is its credential.
      secrets: [target, url.pathname].filter((s) => s.length > 1),
      async deliver(notification, context) {
        const body = JSON.stringify(toSlackMessage(notification));
        const outcome = await context.request(() =>
          httpAttempt(
            { url: target, headers: { 'content-type': 'application/json' }, body },
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
