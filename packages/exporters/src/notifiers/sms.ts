/**
 * The SMS channel: Twilio's Messages API (and compatible ones), one short message per
 * recipient.
 */
import type { AlertNotification } from '@prsm/core';

import {
  checkOptionsObject,
  checkString,
  checkStringList,
  checkUrl,
  combineOutcomes,
  createChannel,
  httpAttempt,
  mapLimit,
  resolveDelivery,
  type DeliveryOptions,
  type NotifierChannel,
} from './delivery.js';
import { alertLine, statusWord, truncate } from './format.js';

/**
 * Options of {@link smsChannel}.
 *
 * @example
 * ```ts
 * const options: SmsChannelOptions = {
 *   accountSid: process.env.TWILIO_ACCOUNT_SID!,
 *   authToken: process.env.TWILIO_AUTH_TOKEN!,
 *   from: '+15005550006',
 *   to: ['+14155550100'],
 * };
 * ```
 */
export interface SmsChannelOptions extends DeliveryOptions {
  /** The account SID (`AC...`). */
  readonly accountSid: string;
  /** The account's auth token: a secret, never logged. */
  readonly authToken: string;
  /** The sending number (E.164, `+15005550006`) or sender id. */
  readonly from: string;
  /** The recipients, E.164 numbers; each gets its own message. */
  readonly to: readonly string[];
  /** The API's base URL. Default `https://api.twilio.com`. */
  readonly baseUrl?: string;
}

/** Twilio's limit for one message body. */
const MAX_BODY = 1600;

/**
 * The message text: one line per alert, `[CRITICAL] FIRING API Error Rate Critical
 * (api_gateway) value=0.12`, joined by `; ` and cut to 1600 characters with `…`.
 */
export function toSmsBody(notification: AlertNotification): string {
  if (notification.alerts.length === 0) return `PRSM ${statusWord(notification.status)}`;
  return truncate(notification.alerts.map(alertLine).join('; ').replace(/\s+/g, ' '), MAX_BODY);
}

/**
 * A channel that texts each notification to every number in `to` through the Twilio
 * Messages API: `POST {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json`,
 * form-encoded `To`, `From` and `Body`, HTTP basic auth with the account SID and auth
 * token. Twilio answers 201 Created; any 2xx counts. Each recipient is a request with
 * its own retries (at most four at a time); the notification is delivered when every
 * recipient's message was accepted.
 *
 * @example
 * ```ts
 * import { smsChannel } from '@prsm/exporters/notifiers';
 *
 * const sms = smsChannel({
 *   accountSid: process.env.TWILIO_ACCOUNT_SID!,
 *   authToken: process.env.TWILIO_AUTH_TOKEN!,
 *   from: '+15005550006',
 *   to: ['+14155550100', '+14155550101'],
 * });
 * ```
 */
export function smsChannel(options: SmsChannelOptions): NotifierChannel {
  const factory = 'smsChannel';
  checkOptionsObject(factory, options);
  const accountSid = checkString(factory, 'accountSid', options.accountSid);
  const authToken = checkString(factory, 'authToken', options.authToken);
  const from = checkString(factory, 'from', options.from);
  const to = checkStringList(factory, 'to', options.to);
  const base = checkUrl(factory, 'baseUrl', options.baseUrl ?? 'https://api.twilio.com');
  const delivery = resolveDelivery(factory, options);
  const target = new URL(
    `${base.pathname.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`,
    base,
  ).href;
  const authorization = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;

  return createChannel(
    {
      kind: 'sms',
      endpoint: base.origin,
      secrets: [authToken, authorization],
      async deliver(notification, context) {
        const body = toSmsBody(notification);
        const outcomes = await mapLimit(to, 4, (recipient) => {
          const form = new URLSearchParams({ To: recipient, From: from, Body: body }).toString();
          return context.request(() =>
            httpAttempt(
              {
                url: target,
                headers: {
                  'content-type': 'application/x-www-form-urlencoded',
                  authorization,
                  accept: 'application/json',
                },
                body: form,
              },
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
