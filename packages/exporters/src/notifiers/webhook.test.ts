import { ManualClock } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import {
  T0,
  makeAlert,
  makeNotification,
  recordingLogger,
  reply,
  startServer,
  type TestServer,
} from './test-support.js';
import {
  signWebhookBody,
  verifyWebhookSignature,
  webhookChannel,
  type WebhookPayload,
} from './webhook.js';

describe('webhookChannel against a real HTTP server', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('POSTs the documented JSON shape', async () => {
    server = await startServer(reply(204, ''));
    const channel = webhookChannel({ url: `${server.url}/prsm/alerts?team=payments` });
    const resolved = makeAlert({
      alertId: 'a-2',
      status: 'resolved',
      endsAt: T0 - 1000,
      value: undefined,
      threshold: undefined,
    });
    const notification = makeNotification({ reason: 'escalation', escalationStep: 1 }, [
      makeAlert({ acknowledgedBy: 'ana', acknowledgedAt: T0 - 500 }),
      resolved,
    ]);
    const report = await channel.send(notification);
    expect(report).toEqual({ ok: true, attempts: 1, status: 204 });

    const [request] = server.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/prsm/alerts?team=payments');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['x-prsm-signature']).toBeUndefined();
    const payload = JSON.parse(request!.body) as WebhookPayload;
    expect(payload).toEqual({
      version: '1',
      id: 'n-1',
      channel: 'test',
      status: 'firing',
      reason: 'escalation',
      escalation_step: 1,
      group_key: '{component="api_gateway"}',
      group_labels: { component: 'api_gateway' },
      common_labels: { component: 'api_gateway', severity: 'critical' },
      common_annotations: {},
      severity: 'critical',
      timestamp: '2024-01-15T14:30:00.000Z',
      alerts: [
        {
          alert_id: 'a-1',
          rule_id: 'api-error-rate',
          name: 'API Error Rate Critical',
          description: 'More than 10% of API requests fail',
          severity: 'critical',
          component: 'api_gateway',
          status: 'firing',
          condition: 'error_rate > 0.1',
          threshold: 0.1,
          value: 0.12,
          labels: {
            alertname: 'API Error Rate Critical',
            severity: 'critical',
            component: 'api_gateway',
          },
          annotations: {
            description: 'More than 10% of API requests fail',
            condition: 'error_rate > 0.1',
          },
          starts_at: '2024-01-15T14:29:00.000Z',
          acknowledged_by: 'ana',
          acknowledged_at: '2024-01-15T14:29:59.500Z',
        },
        expect.objectContaining({
          alert_id: 'a-2',
          status: 'resolved',
          ends_at: '2024-01-15T14:29:59.000Z',
        }),
      ],
    });
    expect(payload.alerts[1]).not.toHaveProperty('value');
    expect(payload.alerts[1]).not.toHaveProperty('threshold');
  });

  it('signs with a timestamp and HMAC-SHA256 that verifyWebhookSignature accepts', async () => {
    server = await startServer();
    const clock = new ManualClock(T0);
    const secret = 'whsec_0123456789abcdef';
    const channel = webhookChannel({ url: server.url, secret, clock });
    await channel.send(makeNotification());
    const [request] = server.requests;
    const timestamp = request!.headers['x-prsm-timestamp'];
    const signature = request!.headers['x-prsm-signature'];
    expect(timestamp).toBe(String(T0 / 1000));
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(signature).toBe(signWebhookBody(secret, T0 / 1000, request!.body));

    const check = (over: Partial<Parameters<typeof verifyWebhookSignature>[0]>): boolean =>
      verifyWebhookSignature({
        secret,
        body: request!.rawBody,
        timestamp,
        signature,
        now: T0 + 10_000,
        ...over,
      });
    expect(check({})).toBe(true);
    expect(check({ body: request!.body })).toBe(true); // the same bytes as a string
    expect(check({ secret: ['old-secret', secret] })).toBe(true); // rotation
    expect(check({ secret: 'wrong-secret' })).toBe(false);
    expect(check({ body: request!.body.replace('0.12', '0.02') })).toBe(false); // tampered
    expect(check({ timestamp: String(T0 / 1000 + 1) })).toBe(false); // timestamp swapped
    expect(check({ now: T0 + 301_000 })).toBe(false); // replayed too late
    expect(check({ now: T0 + 301_000, toleranceSeconds: 600 })).toBe(true);
    expect(check({ now: T0 - 301_000 })).toBe(false); // from the future
    expect(check({ signature: undefined })).toBe(false);
    expect(check({ timestamp: undefined })).toBe(false);
    expect(check({ signature: 'sha256=abc' })).toBe(false);
    expect(check({ signature: 'md5=' + 'a'.repeat(64) })).toBe(false);
    expect(check({ timestamp: 'yesterday' })).toBe(false);
    expect(check({ signature: [String(signature), String(signature)] })).toBe(false);
  });

  it('signs each retry afresh', async () => {
    server = await startServer((_request, response, index) => {
      response.writeHead(index === 0 ? 503 : 200).end();
    });
    const clock = new ManualClock(T0);
    const channel = webhookChannel({
      url: server.url,
      secret: 's3cret-value',
      clock,
      sleep: (ms) => {
        clock.advance(ms + 60_000);
        return Promise.resolve();
      },
    });
    expect(await channel.send(makeNotification())).toMatchObject({ ok: true, attempts: 2 });
    const [first, second] = server.requests;
    expect(Number(second!.headers['x-prsm-timestamp'])).toBeGreaterThanOrEqual(
      Number(first!.headers['x-prsm-timestamp']) + 60,
    );
    for (const request of [first!, second!]) {
      expect(
        verifyWebhookSignature({
          secret: 's3cret-value',
          body: request.body,
          timestamp: request.headers['x-prsm-timestamp'],
          signature: request.headers['x-prsm-signature'],
          now: Number(request.headers['x-prsm-timestamp']) * 1000,
        }),
      ).toBe(true);
    }
  });

  it('sends custom headers, and URL credentials as basic auth', async () => {
    server = await startServer();
    const url = new URL(server.url);
    url.username = 'prsm';
    url.password = 'hunter2-hunter2';
    const channel = webhookChannel({
      url: url.href,
      headers: { 'X-Team': 'payments', 'Content-Type': 'text/plain' },
    });
    expect((await channel.send(makeNotification())).ok).toBe(true);
    const [request] = server.requests;
    expect(request!.headers['x-team']).toBe('payments');
    expect(request!.headers['content-type']).toBe('application/json'); // ours wins, not joined
    expect(request!.headers.authorization).toBe(
      `Basic ${Buffer.from('prsm:hunter2-hunter2').toString('base64')}`,
    );
  });

  it('keeps the secret out of reports and logs, even when the server echoes it', async () => {
    const secret = 'top-secret-signing-key';
    server = await startServer((request, response) => {
      response.writeHead(401).end(`bad signature for key ${secret} at ${request.url}`);
    });
    const logger = recordingLogger();
    const channel = webhookChannel({ url: server.url, secret, logger });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, status: 401, givenUp: true });
    expect(report.error).toContain('[redacted]');
    expect(JSON.stringify(report)).not.toContain(secret);
    expect(JSON.stringify(logger.lines)).not.toContain(secret);
  });
});
