/**
 * The alerting part of the demo: a local webhook receiver (node:http on 127.0.0.1)
 * that checks every request's HMAC signature with `verifyWebhookSignature`, an
 * error-rate rule on the recommendation component, and an incident: the model server
 * starts timing out on every other call, the rule fires, on-call acknowledges, the
 * model recovers and the alert resolves. Every step is what the webhook received.
 *
 * Durations are tiny so the whole lifecycle fits in a few seconds: the monitor keeps
 * 1-second sub-windows, the rule reads a 1-second window and must hold for 0.5 s,
 * the engine evaluates every 0.25 s. In production these are minutes.
 */
import type { AlertRuleInput, AlertingOptions, Monitor } from '@prsm/core';
import {
  type WebhookPayload,
  verifyWebhookSignature,
  webhookChannel,
} from '@prsm/exporters/notifiers';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEALTHY_TIMEOUT_EVERY, RecommendationService } from './decorated-service.js';

/** One request the receiver got. */
export interface ReceivedWebhook {
  /** When it arrived (ms since the epoch). */
  readonly at: number;
  /** Whether `verifyWebhookSignature` accepted it (it was answered 401 otherwise). */
  readonly verified: boolean;
  /** The body, parsed (only when verified). */
  readonly payload?: WebhookPayload;
}

/** A local webhook receiver: what PRSM's webhook channel posts to. */
export interface WebhookReceiver {
  readonly url: string;
  readonly secret: string;
  readonly received: readonly ReceivedWebhook[];
  /**
   * The first request matching `match` among those received from index `from` on
   * (already or to come); rejects after `timeoutMs`.
   */
  waitFor(
    what: string,
    from: number,
    match: (r: ReceivedWebhook) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedWebhook>;
  close(): Promise<void>;
}

/** Starts the receiver on 127.0.0.1, on a free port, with a fresh shared secret. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secret = randomBytes(32).toString('hex');
  const received: ReceivedWebhook[] = [];
  const waiters = new Set<() => void>();
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
      received.push({
        at: Date.now(),
        verified,
        ...(verified && { payload: JSON.parse(body.toString('utf8')) as WebhookPayload }),
      });
      res.writeHead(verified ? 204 : 401).end();
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}/prsm-alerts`,
    secret,
    received,
    waitFor(what, from, match, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = received.slice(from).find(match);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the webhook received no ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The monitor's alerting options: one signed webhook channel, short waits. */
export function demoAlerting(receiver: WebhookReceiver): AlertingOptions {
  return {
    channels: { webhook: webhookChannel({ url: receiver.url, secret: receiver.secret }) },
    evaluationIntervalSeconds: 0.1,
    groupWaitSeconds: 0.2,
    groupIntervalSeconds: 0.5,
  };
}

/** The rule, in the spec's fields (plus a 1-second window for the demo). */
export const ERROR_RATE_RULE: AlertRuleInput = {
  id: 'recommendation-error-rate',
  name: 'Recommendation Error Rate High',
  description: 'More than 10% of recommendation calls fail',
  severity: 'high',
  component: 'recommendation',
  condition: 'error_rate > 10%',
  threshold: 0.1,
  durationSeconds: 0.5,
  windowSeconds: 0.5,
  notificationChannels: ['webhook'],
};

const percent = (value: number | undefined): string =>
  value === undefined ? 'n/a' : `${(value * 100).toFixed(2)}%`;

const since = (start: number, at: number): string => `+${((at - start) / 1000).toFixed(2)} s`;

function describe(r: ReceivedWebhook, start: number): string {
  const p = r.payload;
  if (p === undefined) return `${since(start, r.at)}  webhook <- REJECTED: bad signature`;
  const alerts = p.alerts
    .map(
      (a) =>
        `${a.name} [${a.severity}] status=${a.status} value=${percent(a.value)}${
          a.acknowledged_by === undefined ? '' : ` acknowledged_by=${a.acknowledged_by}`
        }`,
    )
    .join('; ');
  return `${since(start, r.at)}  webhook <- ${p.status.toUpperCase()} (reason ${p.reason}, signature verified): ${alerts}`;
}

/**
 * Runs the incident on a fresh recommendation service (a steady ~150 requests per
 * second) and prints what the webhook received: firing, acknowledged, resolved.
 */
export async function runAlertingDemo(
  monitor: Monitor,
  receiver: WebhookReceiver,
  ruleId: string,
): Promise<void> {
  const rule = monitor.alerts.get(ruleId)!;
  console.log('\n--- Alerting ---\n');
  console.log(
    `rule "${rule.name}" (${rule.severity}, component ${rule.component}): ${rule.condition} over ${rule.windowSeconds} s, for ${rule.durationSeconds} s -> channel ${rule.notificationChannels.join(', ')} (HMAC-signed) at ${receiver.url}`,
  );
  console.log(
    `after the traffic above: ${rule.state} (error rate ${percent(rule.lastEvaluation?.value)}), ${receiver.received.length} notifications`,
  );

  console.log('\n+0.00 s  incident: the model server times out on every other call');
  const start = Date.now();
  let from = receiver.received.length;
  const service = new RecommendationService();
  service.setModelTimeouts(2);
  let running = true;
  let requests = 0;
  let failures = 0;
  const traffic = (async () => {
    while (running) {
      await Promise.all(
        Array.from({ length: 4 }, () =>
          service.generate(`user_${requests++}`).catch(() => {
            failures++;
          }),
        ),
      );
      await sleep(15);
    }
  })();

  try {
    const firing = await receiver.waitFor(
      'firing notification',
      from,
      (r) => r.payload?.status === 'firing',
    );
    console.log(describe(firing, start));

    // On-call takes it, by the alert id the webhook carried.
    from = receiver.received.length;
    monitor.alerts.acknowledge(firing.payload!.alerts[0]!.alert_id, 'demo-oncall');
    console.log(`${since(start, Date.now())}  acknowledged by demo-oncall`);
    const acknowledged = await receiver.waitFor(
      'acknowledgement',
      from,
      (r) => r.payload?.status === 'acknowledged',
    );
    console.log(describe(acknowledged, start));

    from = receiver.received.length;
    service.setModelTimeouts(HEALTHY_TIMEOUT_EVERY);
    console.log(
      `${since(start, Date.now())}  recovery: the model server is healthy again (1 timeout in ${HEALTHY_TIMEOUT_EVERY})`,
    );
    const resolved = await receiver.waitFor(
      'resolution',
      from,
      (r) => r.payload?.status === 'resolved',
    );
    console.log(describe(resolved, start));
  } finally {
    running = false;
    await traffic;
  }
  await monitor.alerts.flush();

  const history = monitor.alerts
    .history({ ruleId })
    .map((e) => `${e.event}${e.by === undefined ? '' : ` by ${e.by}`} ${since(start, e.at)}`);
  console.log(`\n${requests} requests during the incident and after (${failures} failed)`);
  console.log(`alert history: ${history.join(' -> ')}`);
  const verified = receiver.received.filter((r) => r.verified).length;
  const stats = monitor.alerts.deliveryStats()['webhook']!;
  console.log(
    `webhook: ${receiver.received.length} requests received, ${verified} with a valid signature; engine: ${stats.sent} sent, ${stats.delivered} delivered, ${stats.failed} failed, ${stats.dropped} dropped`,
  );
}
