import { ManualClock } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { combineOutcomes, parseRetryAfter, resolveDelivery } from './delivery.js';
import {
  freePort,
  makeNotification,
  recordingLogger,
  recordingSleep,
  reply,
  sequence,
  startServer,
  type TestServer,
} from './test-support.js';
import { alertmanagerChannel } from './alertmanager.js';
import { emailChannel } from './email.js';
import { pagerDutyChannel } from './pagerduty.js';
import { slackChannel } from './slack.js';
import { smsChannel } from './sms.js';
import { webhookChannel } from './webhook.js';

// The retry machinery, driven through the webhook channel against a real HTTP server.
describe('delivery: retries against a real HTTP server', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('retries a 500 and succeeds on the next attempt', async () => {
    server = await startServer(sequence(reply(500, 'boom'), reply(200)));
    const { delays, sleep } = recordingSleep();
    const channel = webhookChannel({ url: `${server.url}/hook`, sleep, random: () => 0.5 });
    const report = await channel.send(makeNotification());
    expect(report).toEqual({ ok: true, attempts: 2, status: 200 });
    expect(server.requests).toHaveLength(2);
    expect(delays).toEqual([250]); // half of the first 500 ms backoff ceiling
    expect(channel.stats()).toEqual({
      delivered: 1,
      failed: 0,
      givenUp: 0,
      retries: 1,
      attempts: 2,
    });
  });

  it('gives up at once on a 400, quoting the response', async () => {
    server = await startServer(reply(400, 'invalid_payload'));
    const { delays, sleep } = recordingSleep();
    const channel = webhookChannel({ url: server.url, sleep });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 1, status: 400, givenUp: true });
    expect(report.error).toContain('HTTP 400: invalid_payload');
    expect(delays).toEqual([]);
    expect(channel.stats()).toMatchObject({ failed: 1, givenUp: 1, retries: 0, attempts: 1 });
  });

  it('waits out a 429 Retry-After in seconds', async () => {
    server = await startServer(sequence(reply(429, 'slow down', { 'Retry-After': '3' }), reply()));
    const { delays, sleep } = recordingSleep();
    const channel = webhookChannel({ url: server.url, sleep, random: () => 0 });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: true, attempts: 2 });
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(3000);
  });

  it('waits out a 503 Retry-After given as an HTTP date', async () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 30, 0));
    const retryAt = new Date(clock.now() + 7000).toUTCString();
    server = await startServer(sequence(reply(503, '', { 'Retry-After': retryAt }), reply()));
    const { delays, sleep } = recordingSleep((ms) => clock.advance(ms));
    const channel = webhookChannel({ url: server.url, sleep, clock });
    expect(await channel.send(makeNotification())).toMatchObject({ ok: true, attempts: 2 });
    expect(delays).toEqual([7000]);
  });

  it('gives up when Retry-After is beyond the budget', async () => {
    server = await startServer(reply(429, '', { 'Retry-After': '3600' }));
    const { delays, sleep } = recordingSleep();
    const channel = webhookChannel({ url: server.url, sleep });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 1, status: 429, givenUp: true });
    expect(report.error).toContain('beyond the retry budget');
    expect(delays).toEqual([]);
  });

  it('backs off exponentially with full jitter, capped, up to maxAttempts', async () => {
    server = await startServer(reply(502));
    const { delays, sleep } = recordingSleep();
    const channel = webhookChannel({
      url: server.url,
      sleep,
      random: () => 0.999,
      retry: { maxAttempts: 6, initialBackoffMs: 100, maxBackoffMs: 1000 },
    });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 6, status: 502, givenUp: true });
    expect(report.error).toContain('gave up after 6 attempts');
    expect(delays).toEqual([99, 199, 399, 799, 999]);
    const jittered = recordingSleep();
    const low = webhookChannel({ url: server.url, sleep: jittered.sleep, random: () => 0 });
    await low.send(makeNotification());
    expect(jittered.delays).toEqual([0, 0, 0, 0, 0]);
  });

  it('times out a server that never answers, retries, and gives up', async () => {
    server = await startServer(() => {
      /* never answers */
    });
    const { sleep } = recordingSleep();
    const channel = webhookChannel({
      url: server.url,
      timeoutMs: 150,
      sleep,
      retry: { maxAttempts: 2 },
    });
    const started = performance.now();
    const report = await channel.send(makeNotification());
    const elapsed = performance.now() - started;
    expect(report).toMatchObject({ ok: false, attempts: 2, givenUp: true });
    expect(report.error).toContain('timed out after 150 ms');
    expect(server.requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
  });

  it('retries a refused connection, then gives up and counts it', async () => {
    const port = await freePort();
    const { delays, sleep } = recordingSleep();
    const logger = recordingLogger();
    const channel = webhookChannel({
      url: `http://127.0.0.1:${port}/hook`,
      sleep,
      logger,
      retry: { maxAttempts: 3 },
    });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 3, givenUp: true });
    expect(report.error).toMatch(/connection failed: .*ECONNREFUSED/);
    expect(report.status).toBeUndefined();
    expect(delays).toHaveLength(2);
    expect(channel.stats()).toEqual({
      delivered: 0,
      failed: 1,
      givenUp: 1,
      retries: 2,
      attempts: 3,
    });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.message).toContain('gave up on notification n-1 after 3 attempt(s)');
  });

  it('gives up when the budget runs out on a server failing for minutes, and resolves', async () => {
    server = await startServer(reply(500, 'still down'));
    const clock = new ManualClock(Date.now());
    const { delays, sleep } = recordingSleep((ms) => clock.advance(ms));
    const channel = webhookChannel({
      url: server.url,
      clock,
      sleep,
      random: () => 1,
      retry: { maxAttempts: 1000 },
    });
    const started = clock.now();
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, status: 500, givenUp: true });
    expect(report.error).toContain('retry budget of 300000 ms exhausted');
    // 500, 1000, ..., 16 000, then 30 000 ms waits: 31.5 s + 30 s * 8 = 271.5 s before the
    // next 30 s would pass the five minutes.
    expect(delays.slice(0, 6)).toEqual([500, 1000, 2000, 4000, 8000, 16_000]);
    expect(clock.now() - started).toBeLessThanOrEqual(300_000);
    expect(clock.now() - started + 30_000).toBeGreaterThan(300_000);
    expect(report.attempts).toBe(delays.length + 1);
    expect(server.requests).toHaveLength(report.attempts);
  });

  it('does not follow redirects', async () => {
    server = await startServer(reply(302, '', { Location: 'http://127.0.0.1:1/elsewhere' }));
    const channel = webhookChannel({ url: server.url });
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 1, status: 302, givenUp: true });
    expect(report.error).toContain('redirects are not followed');
  });

  it('shutdown() stops retries, waits for in-flight sends, and refuses new ones', async () => {
    server = await startServer(reply(500));
    let wake: () => void = () => {};
    const channel = webhookChannel({
      url: server.url,
      // A sleep that never ends by itself: only shutdown() can cut it short.
      sleep: () =>
        new Promise<void>((resolve) => {
          wake = resolve;
        }),
    });
    const pending = channel.send(makeNotification());
    await new Promise((resolve) => setTimeout(resolve, 50));
    await channel.shutdown();
    const report = await pending;
    expect(report).toMatchObject({ ok: false, attempts: 1, givenUp: false });
    expect(report.error).toContain('shutting down');
    const after = await channel.send(makeNotification({ id: 'n-2' }));
    expect(after).toEqual({ ok: false, attempts: 0, error: 'the channel is shut down' });
    expect(channel.stats()).toMatchObject({ failed: 2, givenUp: 0, attempts: 1 });
    await channel.shutdown(); // idempotent
    wake();
  });

  it('calls onDelivery with every report and survives it throwing', async () => {
    server = await startServer(sequence(reply(200), reply(404)));
    const seen: [boolean, string][] = [];
    const logger = recordingLogger();
    const channel = webhookChannel({
      url: server.url,
      logger,
      onDelivery: (report, notification) => {
        seen.push([report.ok, notification.id]);
        throw new Error('callback bug');
      },
    });
    expect((await channel.send(makeNotification({ id: 'x' }))).ok).toBe(true);
    expect((await channel.send(makeNotification({ id: 'y' }))).ok).toBe(false);
    expect(seen).toEqual([
      [true, 'x'],
      [false, 'y'],
    ]);
    expect(logger.lines.filter((l) => l.message.includes('onDelivery threw'))).toHaveLength(2);
  });

  it('never rejects, even when building the request fails', async () => {
    const channel = webhookChannel({ url: 'http://127.0.0.1:9/' });
    const broken = Object.defineProperty({ ...makeNotification() }, 'alerts', {
      get(): never {
        throw new Error('a broken notification');
      },
    });
    const report = await channel.send(broken);
    expect(report.ok).toBe(false);
    expect(report.attempts).toBe(0);
    expect(report.givenUp).toBe(true);
    expect(report.error).toContain('a broken notification');
  });
});

describe('delivery: option checks', () => {
  const transport = { host: 'localhost', port: 25 };
  it.each([
    ['webhookChannel url', () => webhookChannel({ url: 'not a url' }), 'options.url'],
    ['webhookChannel ftp url', () => webhookChannel({ url: 'ftp://x.example' }), 'options.url'],
    [
      'webhookChannel timeoutMs',
      () => webhookChannel({ url: 'http://x.example', timeoutMs: 0 }),
      'options.timeoutMs',
    ],
    [
      'webhookChannel negative timeoutMs',
      () => webhookChannel({ url: 'http://x.example', timeoutMs: -5 }),
      'options.timeoutMs',
    ],
    [
      'retry.maxAttempts',
      () => webhookChannel({ url: 'http://x.example', retry: { maxAttempts: 0 } }),
      'options.retry.maxAttempts',
    ],
    [
      'retry.budgetMs',
      () => webhookChannel({ url: 'http://x.example', retry: { budgetMs: Number.NaN } }),
      'options.retry.budgetMs',
    ],
    [
      'retry.maxBackoffMs below initialBackoffMs',
      () =>
        webhookChannel({
          url: 'http://x.example',
          retry: { initialBackoffMs: 1000, maxBackoffMs: 10 },
        }),
      'options.retry.maxBackoffMs',
    ],
    [
      'webhookChannel secret',
      () => webhookChannel({ url: 'http://x.example', secret: '' }),
      'options.secret',
    ],
    [
      'webhookChannel headers',
      () => webhookChannel({ url: 'http://x.example', headers: { 'bad header': 'x' } }),
      'options.headers.bad header',
    ],
    ['slackChannel webhookUrl', () => slackChannel({ webhookUrl: '' }), 'options.webhookUrl'],
    [
      'pagerDutyChannel routingKey',
      () => pagerDutyChannel({ routingKey: '' }),
      'options.routingKey',
    ],
    [
      'pagerDutyChannel url',
      () => pagerDutyChannel({ routingKey: 'k', url: 'nope' }),
      'options.url',
    ],
    ['emailChannel to', () => emailChannel({ from: 'a@x', to: [], transport }), 'options.to'],
    ['emailChannel from', () => emailChannel({ from: '', to: ['b@x'], transport }), 'options.from'],
    [
      'emailChannel transport.port',
      () => emailChannel({ from: 'a@x', to: ['b@x'], transport: { host: 'h', port: 0 } }),
      'options.transport.port',
    ],
    [
      'emailChannel transport.host',
      () => emailChannel({ from: 'a@x', to: ['b@x'], transport: { host: '', port: 25 } }),
      'options.transport.host',
    ],
    [
      'smsChannel to',
      () => smsChannel({ accountSid: 'AC1', authToken: 't', from: '+1', to: [] }),
      'options.to',
    ],
    [
      'smsChannel authToken',
      () => smsChannel({ accountSid: 'AC1', authToken: '', from: '+1', to: ['+2'] }),
      'options.authToken',
    ],
    [
      'smsChannel baseUrl',
      () => smsChannel({ accountSid: 'AC1', authToken: 't', from: '+1', to: ['+2'], baseUrl: 'x' }),
      'options.baseUrl',
    ],
    ['alertmanagerChannel url', () => alertmanagerChannel({ url: '' }), 'options.url'],
    [
      'alertmanagerChannel firingTtlSeconds',
      () => alertmanagerChannel({ url: 'http://am:9093', firingTtlSeconds: 0 }),
      'options.firingTtlSeconds',
    ],
  ])('%s: a TypeError naming the option', (_name, make, option) => {
    expect(make).toThrow(TypeError);
    expect(make).toThrow(option);
  });

  it('never echoes a rejected URL (it may hold a secret)', () => {
    expect(() => slackChannel({ webhookUrl: 'hooks.slack.com/services/T0/B0/SECRET' })).toThrow(
      /^slackChannel: options.webhookUrl must be an absolute/,
    );
    try {
      slackChannel({ webhookUrl: 'hooks.slack.com/services/T0/B0/SECRET' });
    } catch (error) {
      expect(String(error)).not.toContain('SECRET');
    }
  });

  it('fills in the documented defaults', () => {
    const resolved = resolveDelivery('test', {});
    expect(resolved).toMatchObject({
      timeoutMs: 10_000,
      maxAttempts: 6,
      initialBackoffMs: 500,
      maxBackoffMs: 30_000,
      budgetMs: 300_000,
    });
  });
});

describe('delivery: helpers', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.UTC(2024, 0, 1);
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter(new Date(now - 5000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('combines several requests into one report', () => {
    expect(combineOutcomes([])).toEqual({ ok: true, attempts: 0 });
    expect(
      combineOutcomes([
        { ok: true, attempts: 1, status: 202, givenUp: false },
        { ok: false, attempts: 3, status: 500, error: 'HTTP 500', givenUp: true },
      ]),
    ).toEqual({
      ok: false,
      attempts: 4,
      status: 500,
      error: '1 of 2 requests failed: HTTP 500',
      givenUp: true,
    });
  });
});
