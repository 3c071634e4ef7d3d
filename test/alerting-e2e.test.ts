/**
 * The alert engine (`monitor.alerts` in @prsm/core) driving the real notification
 * channels of @prsm/exporters/notifiers, end to end: a monitor on a ManualClock with
 * manual evaluation records traffic, rules fire and resolve, and the channels make
 * real HTTP requests to servers on 127.0.0.1 that check what they get: a webhook
 * receiver verifying the HMAC signature, a server keeping PagerDuty's Events API v2
 * contract, a receiver that fails for a while, and a real Alertmanager (the Debian
 * package `prometheus-alertmanager`) whose own grouped webhook closes the loop.
 */
import { randomBytes } from 'node:crypto';

import {
  ManualClock,
  Monitor,
  parseCondition,
  type AlertingOptions,
  type AlertRuleInput,
} from '@prsm/core';
import {
  alertmanagerChannel,
  pagerDutyChannel,
  verifyWebhookSignature,
  webhookChannel,
  type WebhookPayload,
} from '@prsm/exporters/notifiers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  startServer,
  type Received,
  type Responder,
} from '../packages/exporters/src/notifiers/test-support.js';
import {
  alertmanagerAvailable,
  startAlertmanager,
  waitFor,
  type RunningAlertmanager,
} from '../packages/exporters/src/notifiers/test-support-alertmanager.js';

// --- Real servers on 127.0.0.1 -----------------------------------------------------

interface Receiver {
  readonly url: string;
  readonly requests: Received[];
  close(): Promise<void>;
}

const ok204: Responder = (_request, response) => {
  response.writeHead(204).end();
};
const ok200: Responder = (_request, response) => {
  response.writeHead(200).end();
};

/** Cleanups of the running test, run after it in reverse order (servers, monitors, gates). */
let cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  const pending = cleanups.reverse();
  cleanups = [];
  for (const cleanup of pending) await cleanup();
});

/** A receiver closed after the test, or (`untilClosed`) when the caller closes it. */
async function startReceiver(
  respond: Responder = ok204,
  { untilClosed = false }: { untilClosed?: boolean } = {},
): Promise<Receiver> {
  const receiver = await startServer(respond);
  if (!untilClosed) cleanups.push(() => receiver.close());
  return receiver;
}

/** A monitor on a manual clock, evaluated by hand, shut down after the test. */
function alertingMonitor(
  clock: ManualClock,
  alerting: AlertingOptions,
): { monitor: Monitor; clock: ManualClock } {
  const monitor = new Monitor({ clock, alerting: { evaluationIntervalSeconds: 0, ...alerting } });
  cleanups.push(() => monitor.shutdown());
  return { monitor, clock };
}

/** `calls` requests of `component`, `errors` of them failed. */
function traffic(monitor: Monitor, component: string, calls: number, errors: number): void {
  const timer = monitor.timer('http.server.duration', { component }).bind({ route: '/api' });
  for (let i = 0; i < calls; i++) {
    if (i < errors) timer.recordError(120);
    else timer.record(40);
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

// --- 1. Webhook -------------------------------------------------------------------

describe('the engine through webhookChannel to a real receiver', () => {
  it('fires once, signed, after the group wait; resolves after the group interval', async () => {
    const secret = `whsec_${randomBytes(16).toString('hex')}`;
    const receiver = await startReceiver();
    const { monitor, clock } = alertingMonitor(new ManualClock(Date.now()), {
      channels: {
        ops: webhookChannel({ url: `${receiver.url}/hooks/prsm?team=payments`, secret }),
      },
      groupWaitSeconds: 30,
      groupIntervalSeconds: 300,
    });
    const rule = monitor.alerts.create({
      id: 'checkout-error-rate',
      name: 'Checkout Error Rate High',
      description: 'More than 5% of checkout requests fail',
      severity: 'critical',
      component: 'checkout',
      condition: 'error_rate > 5%',
      threshold: 0.05,
      durationSeconds: 60,
      notificationChannels: ['ops'],
      annotations: { runbook_url: 'https://runbooks.example/checkout-errors' },
    });

    // 20% of requests fail: pending, then firing once it has held for 60 s.
    traffic(monitor, 'checkout', 100, 20);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)?.state).toBe('pending');
    clock.advance(60_000);
    traffic(monitor, 'checkout', 100, 20);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)?.state).toBe('firing');
    const firedAt = clock.now();
    const alert = monitor.alerts.active()[0]!;
    await monitor.alerts.flush();
    expect(receiver.requests).toHaveLength(0); // the group waits 30 s to gather alerts

    clock.advance(30_000);
    monitor.alerts.evaluate();
    await monitor.alerts.flush();
    expect(receiver.requests).toHaveLength(1);
    const [firing] = receiver.requests;
    expect(firing!.method).toBe('POST');
    expect(firing!.url).toBe('/hooks/prsm?team=payments');
    expect(firing!.headers['content-type']).toBe('application/json');
    const signed = {
      body: firing!.rawBody,
      timestamp: firing!.headers['x-prsm-timestamp'],
      signature: firing!.headers['x-prsm-signature'],
    };
    expect(verifyWebhookSignature({ secret, ...signed })).toBe(true);
    expect(verifyWebhookSignature({ secret: `${secret}x`, ...signed })).toBe(false);
    expect(
      verifyWebhookSignature({
        secret,
        ...signed,
        body: firing!.body.replace('"status":"firing"', '"status":"resolved"'),
      }),
    ).toBe(false);

    const payload = JSON.parse(firing!.body) as WebhookPayload;
    expect(payload).toMatchObject({
      version: '1',
      channel: 'ops',
      status: 'firing',
      reason: 'group',
      group_key: '{component="checkout"}',
      group_labels: { component: 'checkout' },
      severity: 'critical',
      timestamp: iso(firedAt + 30_000),
    });
    expect(payload.alerts).toHaveLength(1);
    expect(payload.alerts[0]).toMatchObject({
      alert_id: alert.alertId,
      rule_id: 'checkout-error-rate',
      name: 'Checkout Error Rate High',
      description: 'More than 5% of checkout requests fail',
      severity: 'critical',
      component: 'checkout',
      status: 'firing',
      condition: parseCondition('error_rate > 5%').toString(),
      threshold: 0.05,
      labels: {
        alertname: 'Checkout Error Rate High',
        severity: 'critical',
        component: 'checkout',
      },
      starts_at: iso(firedAt),
    });
    expect(payload.alerts[0]!.annotations['runbook_url']).toBe(
      'https://runbooks.example/checkout-errors',
    );
    expect(payload.alerts[0]!.value).toBeCloseTo(0.2, 10);
    expect(payload.alerts[0]!.ends_at).toBeUndefined();

    // Only healthy requests from now on: the failures leave the window, the alert
    // resolves, and the resolution waits for the group's next flush.
    clock.advance(150_000);
    traffic(monitor, 'checkout', 100, 0);
    monitor.alerts.evaluate();
    const resolvedAt = clock.now();
    expect(monitor.alerts.get(rule.id)?.state).toBe('inactive');
    expect(monitor.alerts.history({ ruleId: rule.id }).map((e) => e.event)).toEqual([
      'pending',
      'firing',
      'resolved',
    ]);
    await monitor.alerts.flush();
    expect(receiver.requests).toHaveLength(1);

    clock.advance(150_000); // 300 s after the firing notification
    monitor.alerts.evaluate();
    await monitor.alerts.flush();
    expect(receiver.requests).toHaveLength(2);
    const resolved = receiver.requests[1]!;
    expect(
      verifyWebhookSignature({
        secret,
        body: resolved.rawBody,
        timestamp: resolved.headers['x-prsm-timestamp'],
        signature: resolved.headers['x-prsm-signature'],
      }),
    ).toBe(true);
    const resolution = JSON.parse(resolved.body) as WebhookPayload;
    expect(resolution.id).not.toBe(payload.id);
    expect(resolution).toMatchObject({ status: 'resolved', reason: 'group', channel: 'ops' });
    expect(resolution.alerts).toHaveLength(1);
    expect(resolution.alerts[0]).toMatchObject({
      alert_id: alert.alertId,
      name: 'Checkout Error Rate High',
      status: 'resolved',
      starts_at: iso(firedAt),
      ends_at: iso(resolvedAt),
    });
    expect(monitor.alerts.deliveryStats()['ops']).toMatchObject({
      sent: 2,
      delivered: 2,
      failed: 0,
      dropped: 0,
    });
  });
});

// --- 2. PagerDuty -----------------------------------------------------------------

/** An Events API v2 event, as PagerDuty documents it. */
interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key?: string;
  payload?: {
    summary: string;
    source: string;
    severity: string;
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  client?: string;
  client_url?: string;
  links?: { href: string; text?: string }[];
}

/** What PagerDuty would reject in an event, per the Events API v2 reference. */
function pagerDutyErrors(event: Partial<PagerDutyEvent>): string[] {
  const errors: string[] = [];
  if (typeof event.routing_key !== 'string' || event.routing_key.length !== 32)
    errors.push('routing_key must be a 32-character integration key');
  if (!['trigger', 'acknowledge', 'resolve'].includes(event.event_action as string))
    errors.push('event_action must be trigger, acknowledge or resolve');
  if (
    event.dedup_key !== undefined &&
    (event.dedup_key.length === 0 || event.dedup_key.length > 255)
  )
    errors.push('dedup_key must be 1 to 255 characters');
  if (event.event_action !== 'trigger') {
    if (event.dedup_key === undefined) errors.push(`${event.event_action} needs a dedup_key`);
    return errors;
  }
  const p = event.payload;
  if (p === undefined) return [...errors, 'trigger needs a payload'];
  if (typeof p.summary !== 'string' || p.summary.length === 0 || p.summary.length > 1024)
    errors.push('payload.summary must be 1 to 1024 characters');
  if (typeof p.source !== 'string' || p.source.length === 0) errors.push('payload.source missing');
  if (!['critical', 'error', 'warning', 'info'].includes(p.severity))
    errors.push('payload.severity must be critical, error, warning or info');
  if (p.timestamp !== undefined && Number.isNaN(Date.parse(p.timestamp)))
    errors.push('payload.timestamp must be ISO 8601');
  return errors;
}

/** Acts as events.pagerduty.com/v2/enqueue: checks each event, answers 202 or 400. */
const pagerDutyContract: Responder = (request, response) => {
  let errors: string[];
  let event: Partial<PagerDutyEvent> = {};
  if (request.method !== 'POST' || request.url !== '/v2/enqueue') {
    errors = [`unexpected ${request.method} ${request.url}`];
  } else if (!String(request.headers['content-type']).startsWith('application/json')) {
    errors = ['content-type must be application/json'];
  } else {
    try {
      event = JSON.parse(request.body) as Partial<PagerDutyEvent>;
      errors = pagerDutyErrors(event);
    } catch {
      errors = ['body is not JSON'];
    }
  }
  response.writeHead(errors.length === 0 ? 202 : 400, { 'content-type': 'application/json' });
  response.end(
    JSON.stringify(
      errors.length === 0
        ? { status: 'success', message: 'Event processed', dedup_key: event.dedup_key }
        : { status: 'invalid event', message: 'Event object is invalid', errors },
    ),
  );
};

describe('the engine escalating to pagerDutyChannel, against a PagerDuty contract server', () => {
  it('escalates an unacknowledged alert, then acknowledges and resolves the same incident', async () => {
    const routingKey = randomBytes(16).toString('hex'); // 32 characters, like an integration key
    const pagerduty = await startReceiver(pagerDutyContract);
    const ops = await startReceiver();
    const manager = await startReceiver();
    const { monitor, clock } = alertingMonitor(new ManualClock(Date.now()), {
      channels: {
        ops: webhookChannel({ url: ops.url }),
        manager: webhookChannel({ url: manager.url }),
        pagerduty: pagerDutyChannel({
          routingKey,
          url: `${pagerduty.url}/v2/enqueue`,
          source: 'payments-eu-1',
        }),
      },
      groupWaitSeconds: 0,
      escalationPolicies: {
        'payments-oncall': {
          steps: [
            { afterSeconds: 600, channels: ['pagerduty'] },
            { afterSeconds: 1200, channels: ['manager'] },
          ],
        },
      },
    });
    const rule = monitor.alerts.create({
      name: 'Payment Errors',
      description: 'Payments are failing',
      severity: 'critical',
      component: 'payments',
      condition: 'error_rate > 0.05',
      threshold: 0.05,
      durationSeconds: 0,
      notificationChannels: ['ops'],
      escalationPolicy: 'payments-oncall',
    });
    const events = (): PagerDutyEvent[] =>
      pagerduty.requests.map((r) => JSON.parse(r.body) as PagerDutyEvent);

    traffic(monitor, 'payments', 100, 30);
    monitor.alerts.evaluate(); // fires at once (durationSeconds 0), notifies ops
    const startedAt = clock.now();
    await monitor.alerts.flush();
    const alert = monitor.alerts.active()[0]!;
    expect(alert.state).toBe('firing');
    expect(ops.requests).toHaveLength(1);
    expect(pagerduty.requests).toHaveLength(0);

    clock.advance(300_000);
    traffic(monitor, 'payments', 100, 30);
    monitor.alerts.evaluate();
    await monitor.alerts.flush();
    expect(pagerduty.requests).toHaveLength(0); // 300 s: not yet

    clock.advance(300_000); // 600 s unacknowledged: step 0 pages
    traffic(monitor, 'payments', 100, 30);
    monitor.alerts.evaluate();
    await monitor.alerts.flush();
    expect(events()).toHaveLength(1);
    const dedupKey = `prsm:${rule.id}:${alert.alertId}`;
    const trigger = events()[0]!;
    expect(trigger).toMatchObject({
      routing_key: routingKey,
      event_action: 'trigger',
      dedup_key: dedupKey,
      client: 'PRSM Monitor',
      payload: {
        summary: '[CRITICAL] Payment Errors (payments): Payments are failing',
        source: 'payments-eu-1',
        severity: 'critical',
        timestamp: iso(startedAt),
        component: 'payments',
        class: 'Payment Errors',
        custom_details: {
          alert_id: alert.alertId,
          rule_id: rule.id,
          reason: 'escalation',
          escalation_step: 0,
          threshold: 0.05,
        },
      },
    });
    expect(monitor.alerts.active()[0]).toMatchObject({ escalationStep: 0 });
    expect(monitor.alerts.active()[0]!.notifiedChannels).toEqual(['ops', 'pagerduty']);
    expect(monitor.alerts.history({ ruleId: rule.id }).map((e) => e.event)).toEqual([
      'pending',
      'firing',
      'escalated',
    ]);

    // Ana takes it: PagerDuty gets an acknowledge for the same incident, ops is told.
    expect(monitor.alerts.acknowledge(alert.alertId, 'ana')?.acknowledgedBy).toBe('ana');
    await monitor.alerts.flush();
    expect(events()).toHaveLength(2);
    expect(events()[1]).toEqual({
      routing_key: routingKey,
      event_action: 'acknowledge',
      dedup_key: dedupKey,
    });
    const opsAck = JSON.parse(ops.requests[1]!.body) as WebhookPayload;
    expect(opsAck).toMatchObject({ status: 'acknowledged', reason: 'acknowledgement' });
    expect(opsAck.alerts[0]).toMatchObject({ acknowledged_by: 'ana', status: 'acknowledged' });

    // Still failing at 1200 s, but acknowledged: no climb to the manager.
    clock.advance(600_000);
    traffic(monitor, 'payments', 100, 30);
    monitor.alerts.evaluate();
    await monitor.alerts.flush();
    expect(monitor.alerts.active()[0]).toMatchObject({ state: 'firing', escalationStep: 0 });
    expect(manager.requests).toHaveLength(0);
    expect(events()).toHaveLength(2);

    // Healthy again: the incident is resolved, by the same dedup_key.
    clock.advance(300_000);
    traffic(monitor, 'payments', 100, 0);
    monitor.alerts.evaluate();
    await monitor.alerts.flush();
    expect(monitor.alerts.active()).toEqual([]);
    expect(events()).toHaveLength(3);
    expect(events()[2]).toEqual({
      routing_key: routingKey,
      event_action: 'resolve',
      dedup_key: dedupKey,
    });
    // Every event kept the contract (the server answered 202 to each).
    for (const event of events()) expect(pagerDutyErrors(event)).toEqual([]);
    expect(monitor.alerts.deliveryStats()['pagerduty']).toMatchObject({
      sent: 3,
      delivered: 3,
      failed: 0,
    });
    expect((JSON.parse(ops.requests[ops.requests.length - 1]!.body) as WebhookPayload).status).toBe(
      'resolved',
    );
  });
});

// --- 3. A failing receiver ----------------------------------------------------------

describe('a channel whose receiver fails for a while', () => {
  it('retries with backoff until delivered, without delaying another channel', async () => {
    const secret = `whsec_${randomBytes(16).toString('hex')}`;
    // 500 three times, then 200.
    const flakyServer = await startReceiver((_request, response, index) => {
      response.writeHead(index < 3 ? 500 : 200).end(index < 3 ? 'upstream exploded' : 'ok');
    });
    const steadyServer = await startReceiver();

    // The flaky channel's waits advance its own ManualClock, then hold at a gate
    // the test opens: no real sleeping, and a window to look at the other channel.
    const channelClock = new ManualClock(Date.now());
    const startedAt = channelClock.now();
    const delays: number[] = [];
    let openGate: () => void = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    cleanups.push(() => openGate()); // before the monitor's shutdown waits for it
    const completed: string[] = [];
    const flaky = webhookChannel({
      url: flakyServer.url,
      secret,
      clock: channelClock,
      random: () => 1, // the full backoff: 1 s, 2 s, 4 s
      retry: { maxAttempts: 6, initialBackoffMs: 1000 },
      sleep: async (ms) => {
        delays.push(ms);
        channelClock.advance(ms);
        await gate;
      },
      onDelivery: (report) => completed.push(`flaky ok=${report.ok}`),
    });
    const steady = webhookChannel({
      url: steadyServer.url,
      onDelivery: (report) => completed.push(`steady ok=${report.ok}`),
    });
    const { monitor } = alertingMonitor(new ManualClock(Date.now()), {
      channels: { flaky, steady },
      groupWaitSeconds: 0,
    });
    monitor.alerts.create({
      name: 'Search Errors',
      severity: 'high',
      component: 'search',
      condition: 'error_rate > 5%',
      notificationChannels: ['flaky', 'steady'],
    });

    traffic(monitor, 'search', 50, 10);
    expect(monitor.alerts.evaluate()).toMatchObject({ firing: 1, notifications: 2 });

    // The flaky receiver has answered 500 once and its channel is backing off...
    await waitFor('the first failed attempt', () =>
      flakyServer.requests.length === 1 && delays.length === 1 ? true : undefined,
    );
    // ...while the steady channel's notification is already delivered.
    await waitFor('the steady delivery', () =>
      completed.includes('steady ok=true') ? true : undefined,
    );
    expect(completed).toEqual(['steady ok=true']);
    expect(steadyServer.requests).toHaveLength(1);
    expect(monitor.alerts.deliveryStats()).toMatchObject({
      flaky: { sent: 1, delivered: 0, inFlight: 1 },
      steady: { sent: 1, delivered: 1, inFlight: 0 },
    });
    expect(monitor.alerts.evaluate().errors).toBe(0); // evaluation never waits for delivery

    openGate();
    await monitor.alerts.flush();
    expect(completed).toEqual(['steady ok=true', 'flaky ok=true']);
    expect(delays).toEqual([1000, 2000, 4000]);
    expect(channelClock.now() - startedAt).toBe(7000);
    expect(flakyServer.requests).toHaveLength(4);
    // The same notification each time, signed anew with the channel clock's time.
    expect(new Set(flakyServer.requests.map((r) => r.body)).size).toBe(1);
    expect(flakyServer.requests.map((r) => Number(r.headers['x-prsm-timestamp']))).toEqual(
      [0, 1000, 3000, 7000].map((offset) => Math.floor((startedAt + offset) / 1000)),
    );
    for (const r of flakyServer.requests) {
      expect(
        verifyWebhookSignature({
          secret,
          body: r.rawBody,
          timestamp: r.headers['x-prsm-timestamp'],
          signature: r.headers['x-prsm-signature'],
          now: channelClock.now(),
        }),
      ).toBe(true);
    }
    expect(monitor.alerts.deliveryStats()['flaky']).toEqual({
      sent: 1,
      delivered: 1,
      failed: 0,
      dropped: 0,
      inFlight: 0,
      queued: 0,
    });
    expect(flaky.stats()).toMatchObject({ delivered: 1, failed: 0, attempts: 4, retries: 3 });
  });
});

// --- 4. A real Alertmanager ---------------------------------------------------------

const available = alertmanagerAvailable(
  'alerting-e2e.test.ts',
  'the engine streaming to a real Alertmanager',
);

/** Alertmanager's webhook body (version 4). */
interface AlertmanagerWebhook {
  version: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  alerts: {
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
  }[];
}

/** An alert in Alertmanager's GET /api/v2/alerts. */
interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string };
}

describe.skipIf(!available)('the engine streaming to a real Alertmanager', () => {
  let alertmanager: RunningAlertmanager;
  let hooks: Receiver;
  let amUrl: string;

  beforeAll(async () => {
    hooks = await startReceiver(ok200, { untilClosed: true }); // lives for the whole suite
    alertmanager = await startAlertmanager(`${hooks.url}/alertmanager`);
    amUrl = alertmanager.url;
  });

  afterAll(async () => {
    await alertmanager?.stop();
    await hooks?.close();
  });

  it('a firing rule is held by Alertmanager, grouped into its webhook, then resolved', async () => {
    // Alertmanager reads times against its own clock: ours runs ten minutes behind
    // the real one, so a resolution's endsAt is in Alertmanager's past, and the
    // channel keeps firing alerts alive for an hour.
    const { monitor, clock } = alertingMonitor(new ManualClock(Date.now() - 600_000), {
      channels: { alertmanager: alertmanagerChannel({ url: amUrl, firingTtlSeconds: 3600 }) },
    });
    const input: AlertRuleInput = {
      name: 'Cart Error Rate High',
      description: 'More than 5% of cart requests fail',
      severity: 'high',
      component: 'cart',
      condition: 'error_rate > 5%',
      threshold: 0.05,
      durationSeconds: 60,
      notificationChannels: ['alertmanager'],
      labels: { team: 'storefront' },
    };
    const rule = monitor.alerts.create(input);
    traffic(monitor, 'cart', 100, 25);
    monitor.alerts.evaluate();
    clock.advance(60_000);
    traffic(monitor, 'cart', 100, 25);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)?.state).toBe('firing');
    const alert = monitor.alerts.active()[0]!;
    await monitor.alerts.flush(); // the stream channel posts at once
    expect(monitor.alerts.deliveryStats()['alertmanager']).toMatchObject({
      sent: 1,
      delivered: 1,
    });

    const held = await waitFor('the alert in GET /api/v2/alerts', async () => {
      const response = await fetch(`${amUrl}/api/v2/alerts`);
      const alerts = (await response.json()) as GettableAlert[];
      return alerts.length === 1 ? alerts[0] : undefined;
    });
    expect(held.labels).toEqual({
      alertname: 'Cart Error Rate High',
      severity: 'high',
      component: 'cart',
      team: 'storefront',
    });
    expect(held.annotations['prsm_alert_id']).toBe(alert.alertId);
    expect(held.annotations['prsm_rule_id']).toBe(rule.id);
    expect(held.status.state).toBe('active');

    const webhooks = (): AlertmanagerWebhook[] =>
      hooks.requests.map((r) => JSON.parse(r.body) as AlertmanagerWebhook);
    const firing = await waitFor("Alertmanager's firing webhook", () =>
      webhooks().find((h) => h.status === 'firing'),
    );
    expect(firing.groupLabels).toEqual({ component: 'cart' });
    expect(firing.commonLabels).toMatchObject({
      alertname: 'Cart Error Rate High',
      team: 'storefront',
    });
    expect(firing.alerts).toHaveLength(1);
    expect(firing.alerts[0]!.labels['severity']).toBe('high');

    // Healthy traffic: the engine resolves the alert and streams the resolution once.
    clock.advance(180_000);
    traffic(monitor, 'cart', 100, 0);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)?.state).toBe('inactive');
    await monitor.alerts.flush();
    expect(monitor.alerts.deliveryStats()['alertmanager']).toMatchObject({
      sent: 2,
      delivered: 2,
      failed: 0,
    });
    const resolved = await waitFor("Alertmanager's resolved webhook", () =>
      webhooks().find((h) => h.status === 'resolved'),
    );
    expect(resolved.groupLabels).toEqual({ component: 'cart' });
    expect(resolved.alerts).toHaveLength(1);
    expect(resolved.alerts[0]).toMatchObject({
      status: 'resolved',
      labels: { alertname: 'Cart Error Rate High', component: 'cart' },
    });
    await waitFor('the alert to leave GET /api/v2/alerts?active=true', async () => {
      const response = await fetch(`${amUrl}/api/v2/alerts?active=true`);
      return ((await response.json()) as GettableAlert[]).length === 0 ? true : undefined;
    });
  });
});
