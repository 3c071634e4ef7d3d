/**
 * The alerting part of the demo: a local webhook receiver (node:http on 127.0.0.1)
 * that checks every request's HMAC signature with `verifyWebhookSignature`, and the
 * two rules on the recommendation component's error rate that send to it: one the
 * monitoring server evaluates over what the service exported (created with
 * `POST /alerts`), one the service's own monitor evaluates in process.
 *
 * The in-process rule reads half-second windows so it fires and resolves within the
 * demo; the server keeps minutes, so its rule reads the error rate since the start
 * of the previous minute, fires later and stays firing until the minute turns. In
 * production both windows are minutes.
 */
import {
  type AlertRuleInput,
  type AlertingOptions,
  MonitoringComponent,
  type NotificationChannel,
} from '@prsm/core';
import {
  type WebhookPayload,
  verifyWebhookSignature,
  webhookChannel,
} from '@prsm/exporters/notifiers';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

/** Where a notification came from: the receiver's path says. */
export type AlertSource = 'server' | 'service';

/** One request the receiver got. */
export interface ReceivedWebhook {
  /** When it arrived (ms since the epoch). */
  readonly at: number;
  /** `server` (posted to /server) or `service` (posted to /service). */
  readonly source: AlertSource;
  /** Whether `verifyWebhookSignature` accepted it (it was answered 401 otherwise). */
  readonly verified: boolean;
  /** The body, parsed (only when verified). */
  readonly payload?: WebhookPayload;
}

/** A local webhook receiver: what PRSM's webhook channels post to. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:port/prsm-alerts`; channels post to `${url}/server` or `${url}/service`. */
  readonly url: string;
  readonly secret: string;
  readonly received: readonly ReceivedWebhook[];
  /** Called with every request received, after it was recorded. */
  onReceive(listener: (r: ReceivedWebhook) => void): void;
  close(): Promise<void>;
}

/** Starts the receiver on 127.0.0.1, on a free port, with a fresh shared secret. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secret = randomBytes(32).toString('hex');
  const received: ReceivedWebhook[] = [];
  const listeners: ((r: ReceivedWebhook) => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // Checked on the raw bytes, before parsing: HMAC-SHA256 of "<timestamp>.<body>".
      const verified = verifyWebhookSignature({
        secret,
        body,
        timestamp: req.headers['x-prsm-timestamp'],
        signature: req.headers['x-prsm-signature'],
      });
      const r: ReceivedWebhook = {
        at: Date.now(),
        source: (req.url ?? '').endsWith('/server') ? 'server' : 'service',
        verified,
        ...(verified && { payload: JSON.parse(body.toString('utf8')) as WebhookPayload }),
      };
      received.push(r);
      res.writeHead(verified ? 204 : 401).end();
      for (const listener of listeners) listener(r);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}/prsm-alerts`,
    secret,
    received,
    onReceive: (listener) => void listeners.push(listener),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A signed webhook channel to the receiver, for `source`. */
export function channelTo(receiver: WebhookReceiver, source: AlertSource): NotificationChannel {
  return webhookChannel({ url: `${receiver.url}/${source}`, secret: receiver.secret });
}

/** The service monitor's alerting options: one signed webhook channel, short waits. */
export function serviceAlerting(receiver: WebhookReceiver): AlertingOptions {
  return {
    channels: { webhook: channelTo(receiver, 'service') },
    evaluationIntervalSeconds: 0.1,
    groupWaitSeconds: 0.2,
    groupIntervalSeconds: 0.5,
  };
}

/** The in-process rule, in the spec's fields (plus a half-second window for the demo). */
export const SERVICE_RULE: AlertRuleInput = {
  id: 'recommendation-error-rate',
  name: 'Recommendation Error Rate High',
  description: 'More than 10% of recommendation calls fail (evaluated by the service)',
  severity: 'high',
  component: MonitoringComponent.RECOMMENDATION,
  condition: 'error_rate > 10%',
  threshold: 0.1,
  durationSeconds: 0.5,
  windowSeconds: 0.5,
  notificationChannels: ['webhook'],
};

/** The server-side rule: the body of `POST /api/v1/monitoring/alerts`, in the spec's fields. */
export const SERVER_RULE = {
  name: 'Recommendation Error Rate High (fleet)',
  description:
    'More than 10% of recommendation calls fail, over what every service exported (evaluated by the server)',
  severity: 'high',
  component: MonitoringComponent.RECOMMENDATION,
  condition: 'error_rate > 0.1',
  threshold: 0.1,
  duration_seconds: 1,
  notification_channels: ['webhook'],
} as const;

const percent = (value: number | null | undefined): string =>
  value === undefined || value === null ? 'n/a' : `${(value * 100).toFixed(2)}%`;

/** One line for a notification: its source, status, reason and the alerts it carries. */
export function describeWebhook(r: ReceivedWebhook): string {
  const p = r.payload;
  if (p === undefined) return `${r.source} webhook <- REJECTED: bad signature`;
  const alerts = p.alerts
    .map(
      (a) =>
        `${a.name} [${a.severity}] status=${a.status} value=${percent(a.value)}${
          a.acknowledged_by === undefined || a.acknowledged_by === null
            ? ''
            : ` acknowledged_by=${a.acknowledged_by}`
        }`,
    )
    .join('; ');
  return `${r.source} webhook <- ${p.status.toUpperCase()} (reason ${p.reason}, signature verified): ${alerts}`;
}
