import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  alertmanagerChannel,
  sanitizeLabelName,
  toPostableAlerts,
  type PostableAlert,
} from './alertmanager.js';
import {
  T0,
  makeAlert,
  makeNotification,
  reply,
  startServer,
  type Received,
  type TestServer,
} from './test-support.js';
import {
  alertmanagerAvailable,
  startAlertmanager,
  waitFor,
  type RunningAlertmanager,
} from './test-support-alertmanager.js';

describe('alertmanagerChannel: the alerts it posts', () => {
  it('is a stream channel', () => {
    expect(alertmanagerChannel({ url: 'http://am.example:9093' }).mode).toBe('stream');
  });

  it('sanitises label names to [a-zA-Z_][a-zA-Z0-9_]*', () => {
    expect(sanitizeLabelName('http.route')).toBe('http_route');
    expect(sanitizeLabelName('9lives')).toBe('_9lives');
    expect(sanitizeLabelName('ünïcode-name')).toBe('_n_code_name');
    expect(sanitizeLabelName('')).toBe('_');
    expect(sanitizeLabelName('ok_Name9')).toBe('ok_Name9');
  });

  it('firing alerts end firingTtlSeconds after the notification; resolved ones at their end', () => {
    const alerts = toPostableAlerts(
      makeNotification({}, [
        makeAlert({
          labels: { ...makeAlert().labels, 'http.route': '/api', empty: '', '1x': 'y' },
        }),
        makeAlert({ alertId: 'a-2', status: 'resolved', endsAt: T0 - 5000 }),
        makeAlert({ alertId: 'a-3', status: 'acknowledged', acknowledgedBy: 'ana' }),
      ]),
      { firingTtlMs: 240_000, generatorUrl: (a) => `https://monitor.example/alerts/${a.alertId}` },
    );
    expect(alerts[0]).toEqual({
      labels: {
        _1x: 'y',
        alertname: 'API Error Rate Critical',
        component: 'api_gateway',
        http_route: '/api',
        severity: 'critical',
      },
      annotations: {
        condition: 'error_rate > 0.1',
        description: 'More than 10% of API requests fail',
        prsm_alert_id: 'a-1',
        prsm_rule_id: 'api-error-rate',
        threshold: '0.1',
        value: '0.12',
      },
      startsAt: new Date(T0 - 60_000).toISOString(),
      endsAt: new Date(T0 + 240_000).toISOString(),
      generatorURL: 'https://monitor.example/alerts/a-1',
    });
    expect(alerts[1]!.endsAt).toBe(new Date(T0 - 5000).toISOString());
    // Acknowledged but still firing: kept alive.
    expect(alerts[2]!.endsAt).toBe(new Date(T0 + 240_000).toISOString());
  });

  describe('against a real HTTP server', () => {
    let server: TestServer | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });

    it('POSTs the array to {url}/api/v2/alerts and expects 200', async () => {
      server = await startServer(reply(200, ''));
      const channel = alertmanagerChannel({ url: `${server.url}/am/`, firingTtlSeconds: 60 });
      const report = await channel.send(makeNotification());
      expect(report).toEqual({ ok: true, attempts: 1, status: 200 });
      const [request] = server.requests;
      expect(request!.url).toBe('/am/api/v2/alerts');
      expect(request!.headers['content-type']).toBe('application/json');
      const alerts = JSON.parse(request!.body) as PostableAlert[];
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.endsAt).toBe(new Date(T0 + 60_000).toISOString());
      expect(alerts[0]).not.toHaveProperty('generatorURL');
    });

    it('does not send acknowledgements', async () => {
      server = await startServer(reply(200, ''));
      const channel = alertmanagerChannel({ url: server.url });
      const report = await channel.send(
        makeNotification({ status: 'acknowledged', reason: 'acknowledgement' }, [
          makeAlert({ status: 'acknowledged', acknowledgedBy: 'ana' }),
        ]),
      );
      expect(report).toEqual({ ok: true, attempts: 0 });
      expect(server.requests).toHaveLength(0);
      expect(channel.stats()).toMatchObject({ delivered: 1, attempts: 0 });
    });
  });
});

// --- A real Alertmanager ---------------------------------------------------------

const available = alertmanagerAvailable(
  'alertmanager.test.ts',
  'alertmanagerChannel against a real Alertmanager',
);

interface WebhookMessage {
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

describe.skipIf(!available)('alertmanagerChannel against a real Alertmanager', () => {
  let alertmanager: RunningAlertmanager;
  let receiver: TestServer;
  let amUrl: string;

  beforeAll(async () => {
    receiver = await startServer(reply(200, ''));
    alertmanager = await startAlertmanager(`${receiver.url}/alertmanager`);
    amUrl = alertmanager.url;
  });

  afterAll(async () => {
    await alertmanager?.stop();
    await receiver?.close();
  });

  it('accepts our alerts, groups them by component, and notifies firing then resolved', async () => {
    const channel = alertmanagerChannel({
      url: amUrl,
      generatorUrl: (alert) => `https://monitor.example/alerts/${alert.alertId}`,
    });
    const now = Date.now();
    const labels = (name: string): Record<string, string> => ({
      alertname: name,
      severity: 'critical',
      component: 'checkout',
      'http.route': '/pay',
    });
    const firing = [
      makeAlert({
        alertId: 'am-1',
        name: 'Checkout Errors',
        labels: labels('Checkout Errors'),
        component: 'checkout',
        startsAt: now - 1000,
      }),
      makeAlert({
        alertId: 'am-2',
        ruleId: 'latency',
        name: 'Checkout Latency',
        labels: labels('Checkout Latency'),
        component: 'checkout',
        severity: 'high',
        startsAt: now - 1000,
      }),
    ];
    const report = await channel.send(
      makeNotification(
        {
          timestamp: now,
          groupKey: '{component="checkout"}',
          groupLabels: { component: 'checkout' },
        },
        firing,
      ),
    );
    expect(report).toEqual({ ok: true, attempts: 1, status: 200 });

    // Alertmanager holds them, with our (sanitised) labels.
    const held = await waitFor('the alerts in GET /api/v2/alerts', async () => {
      const response = await fetch(`${amUrl}/api/v2/alerts`);
      const alerts = (await response.json()) as {
        labels: Record<string, string>;
        annotations: Record<string, string>;
        generatorURL: string;
        status: { state: string };
      }[];
      return alerts.length === 2 ? alerts : undefined;
    });
    const byName = new Map(held.map((a) => [a.labels['alertname'] ?? '', a]));
    expect(byName.get('Checkout Errors')!.labels).toEqual({
      alertname: 'Checkout Errors',
      severity: 'critical',
      component: 'checkout',
      http_route: '/pay',
    });
    expect(byName.get('Checkout Errors')!.annotations['prsm_alert_id']).toBe('am-1');
    expect(byName.get('Checkout Errors')!.generatorURL).toBe('https://monitor.example/alerts/am-1');
    expect(byName.get('Checkout Latency')!.status.state).toBe('active');

    // A grouped webhook, firing, for the component, with both alerts. (On a loaded
    // machine Alertmanager may flush the group once before it holds the second alert;
    // its next flush, a group_interval later, carries both.)
    const hooks = (): WebhookMessage[] =>
      receiver.requests.map((r: Received) => JSON.parse(r.body) as WebhookMessage);
    const firingHook = await waitFor('the firing webhook with both alerts', () =>
      hooks().find((h) => h.status === 'firing' && h.alerts.length === 2),
    );
    expect(firingHook.groupLabels).toEqual({ component: 'checkout' });
    expect(firingHook.alerts.map((a) => a.labels['alertname']).sort()).toEqual([
      'Checkout Errors',
      'Checkout Latency',
    ]);

    // Both resolve: one resolved webhook.
    const resolvedAt = Date.now();
    const resolved = await channel.send(
      makeNotification(
        {
          id: 'n-2',
          status: 'resolved',
          reason: 'resolution',
          timestamp: resolvedAt,
          groupKey: '{component="checkout"}',
          groupLabels: { component: 'checkout' },
        },
        firing.map((a) => ({ ...a, status: 'resolved' as const, endsAt: resolvedAt - 100 })),
      ),
    );
    expect(resolved.ok).toBe(true);
    const resolvedHook = await waitFor('the resolved webhook', () =>
      hooks().find((h) => h.status === 'resolved'),
    );
    expect(resolvedHook.alerts.every((a) => a.status === 'resolved')).toBe(true);
    expect(resolvedHook.alerts).toHaveLength(2);
    await channel.shutdown();
  });

  it('rejects an invalid alert with a 400 that is given up', async () => {
    const channel = alertmanagerChannel({ url: amUrl });
    // Alertmanager refuses an alert whose end is before its start.
    const report = await channel.send(
      makeNotification({ status: 'resolved' }, [
        makeAlert({ status: 'resolved', startsAt: Date.now(), endsAt: Date.now() - 60_000 }),
      ]),
    );
    expect(report).toMatchObject({ ok: false, status: 400, attempts: 1, givenUp: true });
  });
});
