import type { AlertSeverity } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { dedupKey, pagerDutyChannel, type PagerDutyEvent } from './pagerduty.js';
import {
  T0,
  makeAlert,
  makeNotification,
  recordingLogger,
  recordingSleep,
  reply,
  startServer,
  type TestServer,
} from './test-support.js';

const ROUTING_KEY = 'R0UT1NGKEY0123456789ABCDEFGHIJKL'; // 32 characters, like PagerDuty's

const accepted = reply(
  202,
  JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: 'x' }),
  { 'content-type': 'application/json' },
);

// The Events API v2 schema (developer.pagerduty.com, "Send an Alert Event").
function checkEventSchema(event: PagerDutyEvent): void {
  expect(event.routing_key).toBe(ROUTING_KEY);
  expect(['trigger', 'acknowledge', 'resolve']).toContain(event.event_action);
  expect(typeof event.dedup_key).toBe('string');
  expect(event.dedup_key.length).toBeGreaterThan(0);
  expect(event.dedup_key.length).toBeLessThanOrEqual(255);
  if (event.event_action !== 'trigger') {
    expect(event).not.toHaveProperty('payload');
    return;
  }
  const payload = event.payload!;
  expect(typeof payload.summary).toBe('string');
  expect(payload.summary.length).toBeGreaterThan(0);
  expect(payload.summary.length).toBeLessThanOrEqual(1024);
  expect(typeof payload.source).toBe('string');
  expect(payload.source.length).toBeGreaterThan(0);
  expect(['critical', 'error', 'warning', 'info']).toContain(payload.severity);
  expect(new Date(payload.timestamp).toISOString()).toBe(payload.timestamp);
  expect(typeof payload.component).toBe('string');
  expect(typeof payload.group).toBe('string');
  expect(typeof payload.class).toBe('string');
  expect(typeof payload.custom_details).toBe('object');
  for (const link of event.links ?? []) {
    expect(link.href).toMatch(/^https?:\/\//);
    expect(typeof link.text).toBe('string');
  }
}

describe('pagerDutyChannel against a real HTTP server', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('sends one Events API v2 event per alert, expecting 202', async () => {
    server = await startServer(accepted);
    const channel = pagerDutyChannel({
      routingKey: ROUTING_KEY,
      url: `${server.url}/v2/enqueue`,
      source: 'checkout-eu-1',
      clientUrl: 'https://monitor.example/alerts',
    });
    const alerts = [
      makeAlert({ annotations: { runbook_url: 'https://runbooks.example/api-errors' } }),
      makeAlert({ alertId: 'a-2', ruleId: 'latency', name: 'Latency High', severity: 'high' }),
    ];
    const report = await channel.send(makeNotification({}, alerts));
    expect(report).toEqual({ ok: true, attempts: 2, status: 202 });
    expect(server.requests).toHaveLength(2);
    const events = server.requests.map((r) => {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/v2/enqueue');
      expect(r.headers['content-type']).toBe('application/json');
      return JSON.parse(r.body) as PagerDutyEvent;
    });
    events.forEach(checkEventSchema);
    const first = events.find((e) => e.dedup_key === 'prsm:api-error-rate:a-1')!;
    expect(first).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'prsm:api-error-rate:a-1',
      payload: {
        summary:
          '[CRITICAL] API Error Rate Critical (api_gateway): More than 10% of API requests fail',
        source: 'checkout-eu-1',
        severity: 'critical',
        timestamp: new Date(T0 - 60_000).toISOString(),
        component: 'api_gateway',
        group: '{component="api_gateway"}',
        class: 'API Error Rate Critical',
        custom_details: {
          alert_id: 'a-1',
          rule_id: 'api-error-rate',
          severity: 'critical',
          description: 'More than 10% of API requests fail',
          condition: 'error_rate > 0.1',
          threshold: 0.1,
          value: 0.12,
          labels: {
            alertname: 'API Error Rate Critical',
            severity: 'critical',
            component: 'api_gateway',
          },
          annotations: { runbook_url: 'https://runbooks.example/api-errors' },
          notification_id: 'n-1',
          reason: 'group',
        },
      },
      client: 'PRSM Monitor',
      client_url: 'https://monitor.example/alerts',
      links: [{ href: 'https://runbooks.example/api-errors', text: 'Runbook' }],
    });
    const second = events.find((e) => e.dedup_key === 'prsm:latency:a-2')!;
    expect(second.payload!.severity).toBe('error');
  });

  it('maps every severity', async () => {
    server = await startServer(accepted);
    const channel = pagerDutyChannel({ routingKey: ROUTING_KEY, url: server.url });
    const severities: AlertSeverity[] = ['critical', 'high', 'medium', 'low', 'info'];
    await channel.send(
      makeNotification(
        {},
        severities.map((severity) => makeAlert({ alertId: severity, severity })),
      ),
    );
    const mapped = Object.fromEntries(
      server.requests.map((r) => {
        const event = JSON.parse(r.body) as PagerDutyEvent;
        checkEventSchema(event);
        return [String(event.payload!.custom_details['alert_id']), event.payload!.severity];
      }),
    );
    expect(mapped).toEqual({
      critical: 'critical',
      high: 'error',
      medium: 'warning',
      low: 'info',
      info: 'info',
    });
  });

  it('keeps one dedup_key across trigger, acknowledge and resolve; payload only on trigger', async () => {
    server = await startServer(accepted);
    const channel = pagerDutyChannel({ routingKey: ROUTING_KEY, url: server.url });
    await channel.send(makeNotification({ id: 'n-1' }, [makeAlert()]));
    await channel.send(
      makeNotification({ id: 'n-2', status: 'acknowledged', reason: 'acknowledgement' }, [
        makeAlert({ status: 'acknowledged', acknowledgedBy: 'ana', acknowledgedAt: T0 }),
      ]),
    );
    await channel.send(
      makeNotification({ id: 'n-3', status: 'resolved', reason: 'resolution' }, [
        makeAlert({ status: 'resolved', endsAt: T0 }),
      ]),
    );
    const events = server.requests.map((r) => JSON.parse(r.body) as PagerDutyEvent);
    events.forEach(checkEventSchema);
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'acknowledge', 'resolve']);
    expect(new Set(events.map((e) => e.dedup_key))).toEqual(new Set(['prsm:api-error-rate:a-1']));
    expect(events[1]).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'acknowledge',
      dedup_key: 'prsm:api-error-rate:a-1',
    });
    // A new episode of the same rule is a new incident.
    expect(dedupKey(makeAlert({ alertId: 'a-9' }))).not.toBe(dedupKey(makeAlert()));
  });

  it('cuts the summary to 1024 characters and hashes an overlong dedup key', async () => {
    server = await startServer(accepted);
    const channel = pagerDutyChannel({ routingKey: ROUTING_KEY, url: server.url });
    const alert = makeAlert({ name: 'n'.repeat(2000), alertId: 'i'.repeat(300) });
    await channel.send(makeNotification({}, [alert]));
    const event = JSON.parse(server.requests[0]!.body) as PagerDutyEvent;
    checkEventSchema(event);
    expect(event.payload!.summary).toHaveLength(1024);
    expect(event.payload!.summary.endsWith('…')).toBe(true);
    expect(event.dedup_key).toMatch(/^prsm:sha256:[0-9a-f]{64}$/);
    expect(dedupKey(alert)).toBe(event.dedup_key);
  });

  it('reports a partial failure, retrying only the failed event', async () => {
    server = await startServer((request, response) => {
      const event = JSON.parse(request.body) as PagerDutyEvent;
      const failing = event.dedup_key.endsWith(':a-2');
      response.writeHead(failing ? 400 : 202).end(failing ? '{"status":"invalid event"}' : '{}');
    });
    const logger = recordingLogger();
    const { sleep } = recordingSleep();
    const channel = pagerDutyChannel({ routingKey: ROUTING_KEY, url: server.url, logger, sleep });
    const report = await channel.send(
      makeNotification({}, [makeAlert(), makeAlert({ alertId: 'a-2' })]),
    );
    expect(report).toMatchObject({ ok: false, attempts: 2, status: 400, givenUp: true });
    expect(report.error).toContain('1 of 2 requests failed');
    expect(JSON.stringify([report, logger.lines])).not.toContain(ROUTING_KEY);
    expect(channel.stats()).toMatchObject({ delivered: 0, failed: 1, attempts: 2 });
  });
});
