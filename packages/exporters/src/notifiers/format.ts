/**
 * Text the human-facing channels (Slack, email, SMS) share: status words, the one-line
 * summary of a notification, numbers and times as people read them, HTML escaping.
 * Pure functions; imports only `@prsm/core` types.
 */
import type { AlertNotification, NotificationStatus, NotifiedAlert } from '@prsm/core';

/** `FIRING`, `RESOLVED` or `ACKNOWLEDGED`. */
export function statusWord(status: NotificationStatus): string {
  return status.toUpperCase();
}

/** A condition value as people read it: `0.12`, `1234.57`, `n/a` when absent. */
export function formatValue(value: number | undefined): string {
  if (value === undefined) return 'n/a';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}

/** Milliseconds since the epoch as ISO 8601, or the number itself if it is no valid time. */
export function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/** The component a notification is about: its group's, else its first alert's. */
export function notificationComponent(notification: AlertNotification): string {
  return (
    notification.groupLabels['component'] ??
    notification.commonLabels['component'] ??
    notification.alerts[0]?.component ??
    'unknown'
  );
}

/**
 * The one-line summary: `[FIRING] API Error Rate Critical (api_gateway)`, or with
 * several alerts `[FIRING:3] API Error Rate Critical +2 more (api_gateway)`.
 */
export function summaryLine(notification: AlertNotification): string {
  const count = notification.alerts.length;
  const first = notification.alerts[0];
  const status = statusWord(notification.status);
  const head = count > 1 ? `[${status}:${count}]` : `[${status}]`;
  const name = first === undefined ? 'no alerts' : first.name;
  const more = count > 1 ? ` +${count - 1} more` : '';
  return `${head} ${name}${more} (${notificationComponent(notification)})`;
}

/** One alert on one line: `[CRITICAL] FIRING API Error Rate Critical (api_gateway) value=0.12`. */
export function alertLine(alert: NotifiedAlert): string {
  const value = alert.value === undefined ? '' : ` value=${formatValue(alert.value)}`;
  return `[${alert.severity.toUpperCase()}] ${statusWord(alert.status)} ${alert.name} (${alert.component})${value}`;
}

/**
 * Cuts `text` to at most `max` UTF-16 code units, ending with `…` when cut, never
 * splitting a surrogate pair.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
