import { afterEach, describe, expect, it } from 'vitest';

import { smsChannel, toSmsBody } from './sms.js';
import {
  makeAlert,
  makeNotification,
  recordingLogger,
  recordingSleep,
  reply,
  startServer,
  type TestServer,
} from './test-support.js';

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'auth-token-0123456789abcdef';

const created = reply(201, JSON.stringify({ sid: 'SM123', status: 'queued' }), {
  'content-type': 'application/json',
});

describe('smsChannel against a real HTTP server (Twilio Messages API)', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('posts a form-encoded message per recipient with basic auth, expecting 201', async () => {
    server = await startServer(created);
    const channel = smsChannel({
      accountSid: SID,
      authToken: TOKEN,
      from: '+15005550006',
      to: ['+14155550100', '+14155550101'],
      baseUrl: server.url,
    });
    const report = await channel.send(makeNotification());
    expect(report).toEqual({ ok: true, attempts: 2, status: 201 });
    expect(server.requests).toHaveLength(2);
    const recipients: string[] = [];
    for (const request of server.requests) {
      expect(request.method).toBe('POST');
      expect(request.url).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
      expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(request.headers.authorization).toBe(
        `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`,
      );
      const form = new URLSearchParams(request.body);
      expect([...form.keys()].sort()).toEqual(['Body', 'From', 'To']);
      expect(form.get('From')).toBe('+15005550006');
      expect(form.get('Body')).toBe(
        '[CRITICAL] FIRING API Error Rate Critical (api_gateway) value=0.12',
      );
      // '+' must be percent-encoded, or the server would read a space.
      expect(request.body).toContain('To=%2B1415555010');
      recipients.push(form.get('To')!);
    }
    expect(recipients.sort()).toEqual(['+14155550100', '+14155550101']);
  });

  it('keeps the body within 1600 characters, ending in an ellipsis', () => {
    const alerts = Array.from({ length: 40 }, (_, i) =>
      makeAlert({ alertId: `a-${i}`, name: `A rather long alert name number ${i}` }),
    );
    const body = toSmsBody(makeNotification({}, alerts));
    expect(body).toHaveLength(1600);
    expect(body.endsWith('…')).toBe(true);
    expect(
      body.startsWith('[CRITICAL] FIRING A rather long alert name number 0 (api_gateway)'),
    ).toBe(true);
    const short = toSmsBody(makeNotification({}, [makeAlert({ value: undefined, name: 'a\nb' })]));
    expect(short).toBe('[CRITICAL] FIRING a b (api_gateway)');
  });

  it('reports a recipient Twilio refuses, and never the auth token', async () => {
    server = await startServer((request, response) => {
      const to = new URLSearchParams(request.body).get('To');
      if (to === '+10000000000') {
        response
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ code: 21211, message: `Invalid 'To' Phone Number (${TOKEN})` }));
      } else {
        response.writeHead(201).end('{}');
      }
    });
    const logger = recordingLogger();
    const { sleep } = recordingSleep();
    const channel = smsChannel({
      accountSid: SID,
      authToken: TOKEN,
      from: '+15005550006',
      to: ['+14155550100', '+10000000000'],
      baseUrl: server.url,
      logger,
      sleep,
    });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 2, status: 400, givenUp: true });
    expect(report.error).toContain('21211');
    expect(JSON.stringify([report, logger.lines])).not.toContain(TOKEN);
  });
});
