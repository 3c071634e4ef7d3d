/**
 * The email channel: a notification as a plain-text and HTML message over SMTP with
 * nodemailer, loaded on the first send so importing the notifiers costs nothing for
 * users who never send mail. SMTP failures follow the shared retry policy: connection
 * errors and 4xx (transient) replies are retried, 5xx (permanent) replies are not.
 */
import type { AlertNotification, NotifiedAlert } from '@prsm/core';

import {
  checkOptionalString,
  checkOptionsObject,
  checkString,
  checkStringList,
  combineOutcomes,
  createChannel,
  describeError,
  optionError,
  resolveDelivery,
  type AttemptResult,
  type DeliveryOptions,
  type NotifierChannel,
} from './delivery.js';
import { escapeHtml, formatValue, isoTime, statusWord, summaryLine, truncate } from './format.js';

/**
 * Where and how to connect to an SMTP server; the channel creates a nodemailer
 * transport from it.
 *
 * @example
 * ```ts
 * const transport: SmtpTransportOptions = {
 *   host: 'smtp.example.com',
 *   port: 587,
 *   auth: { user: 'alerts@example.com', pass: process.env.SMTP_PASSWORD! },
 * };
 * ```
 */
export interface SmtpTransportOptions {
  /** The SMTP server's host name or address. */
  readonly host: string;
  /** Its port: 587 (submission, STARTTLS), 465 (implicit TLS) or 25. */
  readonly port: number;
  /** `true` for implicit TLS (port 465). Default `false`: STARTTLS when offered. */
  readonly secure?: boolean;
  /** Credentials, when the server wants them: a secret, never logged. */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Refuse to send unless the connection is upgraded with STARTTLS. */
  readonly requireTLS?: boolean;
  /** TLS settings: the name to check the certificate against, or (tests only) no check. */
  readonly tls?: { readonly servername?: string; readonly rejectUnauthorized?: boolean };
}

/**
 * One message as the channel hands it to a {@link MailTransport}: the fields of a
 * nodemailer message it uses.
 *
 * @example
 * ```ts
 * const message: MailMessage = { from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't', html: '<p>t</p>' };
 * ```
 */
export interface MailMessage {
  /** The sender. */
  readonly from: string;
  /** The recipients. */
  readonly to: string[];
  /** The subject line. */
  readonly subject: string;
  /** The plain-text body. */
  readonly text: string;
  /** The HTML body. */
  readonly html: string;
}

/**
 * Anything that sends a {@link MailMessage}: a nodemailer transporter
 * (`nodemailer.createTransport(...)`) fits, pooled or not, SMTP or another transport.
 * A rejection with a numeric `responseCode` is read as an SMTP reply (4xx retried,
 * 5xx not); one with a connection error `code` (`ECONNECTION`, `ETIMEDOUT`,
 * `ECONNREFUSED`...) is retried.
 *
 * @example
 * ```ts
 * import nodemailer from 'nodemailer';
 *
 * const transport: MailTransport = nodemailer.createTransport({ host: 'localhost', port: 1025, pool: true });
 * ```
 */
export interface MailTransport {
  /** Sends one message; resolves when the server accepted it. */
  sendMail(message: MailMessage): Promise<unknown>;
}

/**
 * Options of {@link emailChannel}.
 *
 * @example
 * ```ts
 * const options: EmailChannelOptions = {
 *   from: 'PRSM Monitor <alerts@example.com>',
 *   to: ['oncall@example.com'],
 *   transport: { host: 'smtp.example.com', port: 587, auth: { user, pass } },
 *   subjectPrefix: '[prod]',
 * };
 * ```
 */
export interface EmailChannelOptions extends DeliveryOptions {
  /** The sender, `address` or `Name <address>`. */
  readonly from: string;
  /** The recipients (one message to all of them). */
  readonly to: readonly string[];
  /** SMTP settings, or a ready transport (closed by `shutdown()` only if the channel made it). */
  readonly transport: SmtpTransportOptions | MailTransport;
  /** Put before every subject. Default `'[PRSM]'`. */
  readonly subjectPrefix?: string;
}

// Connection-level failures (nodemailer's own codes and Node's socket errors): the
// message never reached a server's verdict, so it may go through later.
const RETRYABLE_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** Reads a transport's rejection as an attempt result. */
export function smtpFailure(error: unknown): AttemptResult {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as {
    responseCode?: unknown;
    code?: unknown;
    response?: unknown;
  };
  const responseCode = typeof fields.responseCode === 'number' ? fields.responseCode : undefined;
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  const message = describeError(error).replace(/\s+/g, ' ').slice(0, 300);
  if (responseCode !== undefined) {
    // RFC 5321: 4yz is a transient negative reply (421, 450, 451, 452...), 5yz permanent.
    const transient = responseCode >= 400 && responseCode < 500;
    return {
      ok: false,
      status: responseCode,
      retryable: transient,
      error: `SMTP ${responseCode}: ${message}`,
    };
  }
  const retryable = code !== undefined && RETRYABLE_CODES.has(code);
  return { ok: false, retryable, error: code === undefined ? message : `${code}: ${message}` };
}

function isTransport(value: SmtpTransportOptions | MailTransport): value is MailTransport {
  return typeof (value as { sendMail?: unknown }).sendMail === 'function';
}

function checkTransport(factory: string, value: unknown): SmtpTransportOptions | MailTransport {
  if (typeof value !== 'object' || value === null) {
    throw optionError(factory, 'transport', 'must be SMTP settings or a nodemailer transporter');
  }
  const transport = value as SmtpTransportOptions | MailTransport;
  if (isTransport(transport)) return transport;
  checkString(factory, 'transport.host', transport.host);
  if (!Number.isInteger(transport.port) || transport.port < 1 || transport.port > 65_535) {
    throw optionError(factory, 'transport.port', 'must be an integer port between 1 and 65535');
  }
  if (transport.auth !== undefined) {
    if (typeof transport.auth !== 'object' || transport.auth === null) {
      throw optionError(factory, 'transport.auth', 'must be { user, pass }');
    }
    checkString(factory, 'transport.auth.user', transport.auth.user);
    checkString(factory, 'transport.auth.pass', transport.auth.pass);
  }
  return transport;
}

function alertText(alert: NotifiedAlert): string {
  const lines = [
    `${statusWord(alert.status)} ${alert.name}`,
    `  severity:  ${alert.severity}`,
    `  component: ${alert.component}`,
    `  value:     ${formatValue(alert.value)}${alert.threshold === undefined ? '' : ` (threshold ${formatValue(alert.threshold)})`}`,
    `  condition: ${alert.condition}`,
    `  since:     ${isoTime(alert.startsAt)}`,
  ];
  if (alert.endsAt !== undefined) lines.push(`  resolved:  ${isoTime(alert.endsAt)}`);
  if (alert.acknowledgedBy !== undefined) lines.push(`  acknowledged by: ${alert.acknowledgedBy}`);
  if (alert.description.trim() !== '') lines.push(`  ${alert.description}`);
  lines.push(`  alert id: ${alert.alertId}  rule id: ${alert.ruleId}`);
  return lines.join('\n');
}

function alertHtml(alert: NotifiedAlert): string {
  const row = (name: string, value: string): string =>
    `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`;
  const rows = [
    row('Severity', alert.severity),
    row('Component', alert.component),
    row(
      'Value',
      `${formatValue(alert.value)}${alert.threshold === undefined ? '' : ` (threshold ${formatValue(alert.threshold)})`}`,
    ),
    row('Condition', alert.condition),
    row('Since', isoTime(alert.startsAt)),
  ];
  if (alert.endsAt !== undefined) rows.push(row('Resolved', isoTime(alert.endsAt)));
  if (alert.acknowledgedBy !== undefined) rows.push(row('Acknowledged by', alert.acknowledgedBy));
  rows.push(row('Alert id', alert.alertId), row('Rule id', alert.ruleId));
  const description =
    alert.description.trim() === '' ? '' : `<p>${escapeHtml(alert.description)}</p>`;
  return `<h3>${escapeHtml(`${statusWord(alert.status)} ${alert.name}`)}</h3>${description}<table>${rows.join('')}</table>`;
}

/** The subject, text and HTML of a notification's email. */
export function toEmail(
  notification: AlertNotification,
  subjectPrefix: string,
): { subject: string; text: string; html: string } {
  // Header injection is impossible through nodemailer, but a line break would still
  // mangle the subject.
  const subject = truncate(
    `${subjectPrefix === '' ? '' : `${subjectPrefix} `}${summaryLine(notification)}`.replace(
      /[\r\n]+/g,
      ' ',
    ),
    250,
  );
  const intro = `${summaryLine(notification)}\nSeverity: ${notification.severity}. Group: ${notification.groupKey}. Sent ${isoTime(notification.timestamp)} (${notification.reason}).`;
  const text = `${intro}\n\n${notification.alerts.map(alertText).join('\n\n')}\n\nNotification ${notification.id}\n`;
  const html =
    `<!doctype html><html><body style="font-family:sans-serif">` +
    `<h2>${escapeHtml(summaryLine(notification))}</h2>` +
    `<p>Severity: ${escapeHtml(notification.severity)}. Group: ${escapeHtml(notification.groupKey)}. Sent ${escapeHtml(isoTime(notification.timestamp))} (${escapeHtml(notification.reason)}).</p>` +
    notification.alerts.map(alertHtml).join('') +
    `<p style="color:#888">Notification ${escapeHtml(notification.id)}</p></body></html>`;
  return { subject, text, html };
}

/**
 * A channel that emails each notification to `to` (one message, all recipients) with
 * a plain-text and an HTML body; everything that comes from rules and labels is
 * HTML-escaped. Give it SMTP settings (nodemailer is loaded, and a transport made,
 * on the first send; `timeoutMs` bounds connecting, the greeting and each reply) or
 * a transport of your own.
 *
 * Retried: connection failures and SMTP 4xx replies (421, 450, 451, 452...). Given
 * up at once: 5xx replies (550 mailbox unavailable...) and authentication errors. A
 * message some recipients accepted counts as delivered.
 *
 * @example
 * ```ts
 * import { emailChannel } from '@prsm/exporters/notifiers';
 *
 * const email = emailChannel({
 *   from: 'PRSM Monitor <alerts@example.com>',
 *   to: ['oncall@example.com', 'sre@example.com'],
 *   transport: {
 *     host: 'smtp.example.com',
 *     port: 587,
 *     auth: { user: 'alerts@example.com', pass: process.env.SMTP_PASSWORD! },
 *   },
 * });
 * ```
 */
export function emailChannel(options: EmailChannelOptions): NotifierChannel {
  const factory = 'emailChannel';
  checkOptionsObject(factory, options);
  const from = checkString(factory, 'from', options.from);
  const to = checkStringList(factory, 'to', options.to);
  const transportOption = checkTransport(factory, options.transport);
  const subjectPrefix =
    checkOptionalString(factory, 'subjectPrefix', options.subjectPrefix) ?? '[PRSM]';
  const delivery = resolveDelivery(factory, options);

  let owned: { sendMail(message: MailMessage): Promise<unknown>; close(): void } | undefined;
  let transportPromise: Promise<MailTransport> | undefined;
  const getTransport = (): Promise<MailTransport> => {
    if (isTransport(transportOption)) return Promise.resolve(transportOption);
    if (transportPromise !== undefined) return transportPromise;
    transportPromise = import('nodemailer').then((nodemailer) => {
      const smtp = transportOption;
      const transporter = nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure ?? false,
        ...(smtp.auth === undefined
          ? {}
          : { auth: { user: smtp.auth.user, pass: smtp.auth.pass } }),
        ...(smtp.requireTLS === undefined ? {} : { requireTLS: smtp.requireTLS }),
        ...(smtp.tls === undefined ? {} : { tls: { ...smtp.tls } }),
        connectionTimeout: delivery.timeoutMs,
        greetingTimeout: delivery.timeoutMs,
        socketTimeout: delivery.timeoutMs,
      });
      owned = transporter;
      return transporter;
    });
    transportPromise.catch(() => {
      // A failed load is retried on the next send.
      transportPromise = undefined;
    });
    return transportPromise;
  };

  const endpoint = isTransport(transportOption)
    ? 'custom transport'
    : `smtp://${transportOption.host}:${transportOption.port}`;
  const secrets = isTransport(transportOption) ? [] : [transportOption.auth?.pass ?? ''];

  return createChannel(
    {
      kind: 'email',
      endpoint,
      secrets,
      async deliver(notification, context) {
        const { subject, text, html } = toEmail(notification, subjectPrefix);
        const message: MailMessage = { from, to: [...to], subject, text, html };
        const outcome = await context.request(async () => {
          let transport: MailTransport;
          try {
            transport = await getTransport();
          } catch (error) {
            return {
              ok: false,
              retryable: false,
              error: `cannot load nodemailer: ${describeError(error)}`,
            };
          }
          // A transport of one's own may not time out by itself.
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<AttemptResult>((resolve) => {
            timer = setTimeout(
              () =>
                resolve({
                  ok: false,
                  retryable: true,
                  error: `timed out after ${delivery.timeoutMs} ms`,
                }),
              // nodemailer's own timeouts (per step) fire first; this bounds the whole send.
              isTransport(transportOption) ? delivery.timeoutMs : delivery.timeoutMs * 3,
            );
            timer.unref();
          });
          const send = transport.sendMail(message).then(
            (): AttemptResult => ({ ok: true, status: 250 }),
            (error: unknown) => smtpFailure(error),
          );
          try {
            return await Promise.race([send, timeout]);
          } finally {
            clearTimeout(timer);
          }
        });
        return combineOutcomes([outcome]);
      },
      close() {
        owned?.close();
      },
    },
    delivery,
  );
}
