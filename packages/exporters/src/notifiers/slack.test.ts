import { afterEach, describe, expect, it } from 'vitest';

import { slackChannel, toSlackMessage, type SlackMessage } from './slack.js';
import {
  makeAlert,
  makeNotification,
  recordingLogger,
  recordingSleep,
  reply,
  sequence,
  startServer,
  type TestServer,
} from './test-support.js';

// Slack's documented limits for Block Kit messages.
const LIMITS = { blocks: 50, header: 150, sectionText: 3000, fieldText: 2000, fields: 10 };

function checkSlackSchema(message: SlackMessage): void {
  expect(typeof message.text).toBe('string');
  expect(message.text.length).toBeGreaterThan(0);
  expect(message.blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
  for (const block of message.blocks) {
    if (block.type === 'header') {
      expect(block.text.type).toBe('plain_text');
      expect(block.text.text.length).toBeLessThanOrEqual(LIMITS.header);
    } else if (block.type === 'section') {
      expect(['mrkdwn', 'plain_text']).toContain(block.text.type);
      expect(block.text.text.length).toBeLessThanOrEqual(LIMITS.sectionText);
      expect(block.fields?.length ?? 0).toBeLessThanOrEqual(LIMITS.fields);
      for (const field of block.fields ?? []) {
        expect(field.text.length).toBeLessThanOrEqual(LIMITS.fieldText);
      }
    } else {
      expect(block.type).toBe('context');
      expect(block.elements.length).toBeGreaterThan(0);
      expect(block.elements.length).toBeLessThanOrEqual(10);
    }
  }
}

describe('slackChannel against a real HTTP server', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('posts { text, blocks } with header, fields and alert ids', async () => {
    server = await startServer(reply(200, 'ok'));
    const channel = slackChannel({ webhookUrl: `${server.url}/services/T000/B000/XXXX` });
    expect(await channel.send(makeNotification())).toEqual({ ok: true, attempts: 1, status: 200 });
    const [request] = server.requests;
    expect(request!.url).toBe('/services/T000/B000/XXXX');
    expect(request!.headers['content-type']).toBe('application/json');
    const message = JSON.parse(request!.body) as SlackMessage;
    checkSlackSchema(message);
    expect(message.text).toBe('[FIRING] API Error Rate Critical (api_gateway)');
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    const header = message.blocks[0]!;
    expect(header.type === 'header' && header.text.text).toBe(
      ':rotating_light: [FIRING] API Error Rate Critical (api_gateway)',
    );
    const section = message.blocks[1]!;
    if (section.type !== 'section') throw new Error('section expected');
    expect(section.fields!.map((f) => f.text)).toEqual([
      '*Severity*\nCRITICAL',
      '*Component*\napi_gateway',
      '*Value*\n0.12 (threshold 0.1)',
      '*Condition*\n`error_rate &gt; 0.1`',
    ]);
    const context = message.blocks[2]!;
    expect(context.type === 'context' && context.elements[0]!.text).toContain('alert `a-1`');
    expect(context.type === 'context' && context.elements[0]!.text).toContain(
      'rule `api-error-rate`',
    );
  });

  it('keeps within Slack limits for many long alerts', () => {
    const long = 'x'.repeat(5000);
    const alerts = Array.from({ length: 60 }, (_, i) =>
      makeAlert({ alertId: `a-${i}`, name: `${long}${i}`, description: long, condition: long }),
    );
    const message = toSlackMessage(makeNotification({}, alerts));
    checkSlackSchema(message);
    expect(message.blocks).toHaveLength(50);
    const last = message.blocks[49]!;
    expect(last.type === 'context' && last.elements[0]!.text).toBe('…and 36 more alerts');
  });

  it('escapes Slack control characters in user text', () => {
    const message = toSlackMessage(
      makeNotification({}, [makeAlert({ name: '<!channel> & <https://evil|x>' })]),
    );
    const body = JSON.stringify(message.blocks.slice(1));
    expect(body).toContain('&lt;!channel&gt; &amp; &lt;https://evil|x&gt;');
    expect(body).not.toContain('<!channel>');
    expect(message.text).not.toContain('<!channel>');
  });

  it('honours a 429 Retry-After in seconds', async () => {
    server = await startServer(
      sequence(reply(429, 'rate_limited', { 'Retry-After': '30' }), reply(200, 'ok')),
    );
    const { delays, sleep } = recordingSleep();
    const channel = slackChannel({ webhookUrl: `${server.url}/services/T/B/C`, sleep });
    expect(await channel.send(makeNotification())).toMatchObject({ ok: true, attempts: 2 });
    expect(delays).toEqual([30_000]);
  });

  it('gives up on Slack errors such as 404 channel_not_found, without logging the URL', async () => {
    server = await startServer(reply(404, 'channel_not_found'));
    const logger = recordingLogger();
    const webhookUrl = `${server.url}/services/T0SECRET/B0SECRET/TOKEN0SECRET`;
    const channel = slackChannel({ webhookUrl, logger });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, status: 404, givenUp: true, attempts: 1 });
    expect(report.error).toContain('channel_not_found');
    expect(JSON.stringify(logger.lines)).not.toContain('SECRET');
    expect(logger.lines[0]!.context!['endpoint']).toBe(server.url);
  });

  it('resolved and acknowledged notifications say so', () => {
    const resolved = toSlackMessage(
      makeNotification({ status: 'resolved' }, [makeAlert({ status: 'resolved', endsAt: 1 })]),
    );
    expect(resolved.text).toBe('[RESOLVED] API Error Rate Critical (api_gateway)');
    const header = resolved.blocks[0]!;
    expect(header.type === 'header' && header.text.text).toMatch(/^:white_check_mark: /);
    const acknowledged = toSlackMessage(
      makeNotification({ status: 'acknowledged' }, [
        makeAlert({ status: 'acknowledged', acknowledgedBy: 'ana' }),
      ]),
    );
    expect(JSON.stringify(acknowledged.blocks)).toContain('acknowledged by ana');
  });
});
