import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';

import { emailChannel, smtpFailure } from './email.js';
import {
  freePort,
  makeAlert,
  makeNotification,
  recordingLogger,
  recordingSleep,
} from './test-support.js';

interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  user?: string;
}

type DataVerdict = (index: number) => { code: number; message: string } | undefined;

/** A real SMTP server on 127.0.0.1 that keeps what it accepts and rejects as told. */
async function startSmtp(
  verdict: DataVerdict = () => undefined,
  auth?: { user: string; pass: string },
): Promise<{
  port: number;
  mails: ReceivedMail[];
  attempts: number;
  close: () => Promise<void>;
}> {
  const mails: ReceivedMail[] = [];
  const state = { attempts: 0 };
  const server = new SMTPServer({
    disabledCommands: auth === undefined ? ['STARTTLS', 'AUTH'] : ['STARTTLS'],
    authOptional: auth === undefined,
    allowInsecureAuth: true,
    logger: false,
    onAuth(credentials, _session, callback) {
      if (
        auth !== undefined &&
        credentials.username === auth.user &&
        credentials.password === auth.pass
      ) {
        callback(null, { user: credentials.username });
      } else {
        callback(Object.assign(new Error('Invalid credentials'), { responseCode: 535 }));
      }
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const index = state.attempts++;
        const reject = verdict(index);
        if (reject !== undefined) {
          callback(Object.assign(new Error(reject.message), { responseCode: reject.code }));
          return;
        }
        const envelope = session.envelope;
        mails.push({
          from: envelope.mailFrom === false ? '' : envelope.mailFrom.address,
          to: envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    mails,
    get attempts() {
      return state.attempts;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A header's value, unfolded, with RFC 2047 encoded words (Q or B) decoded. */
function header(raw: string, name: string): string | undefined {
  const unfolded = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded
    .split(/\r?\n/)
    .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  if (line === undefined) return undefined;
  return line
    .slice(name.length + 1)
    .trim()
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?UTF-8\?([QB])\?([^?]*)\?=/gi, (_m, kind: string, text: string) =>
      kind.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : decodeQuotedPrintable(text.replace(/_/g, ' ')),
    );
}

/** Quoted-printable soft breaks and escapes undone, enough to read the bodies. */
function decodeQuotedPrintable(text: string): string {
  return Buffer.from(
    text
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
}

describe('emailChannel against a real SMTP server', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('sends a text and HTML message to every recipient', async () => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const channel = emailChannel({
      from: 'PRSM Monitor <alerts@example.com>',
      to: ['oncall@example.com', 'sre@example.com'],
      transport: { host: '127.0.0.1', port: smtp.port },
      subjectPrefix: '[prod]',
    });
    cleanups.push(() => channel.shutdown());
    const alert = makeAlert({
      name: 'Queue <b>backlog</b> & "lag"',
      description: '<script>alert(1)</script>',
    });
    const report = await channel.send(makeNotification({}, [alert]));
    expect(report).toEqual({ ok: true, attempts: 1, status: 250 });
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail.from).toBe('alerts@example.com');
    expect(mail.to).toEqual(['oncall@example.com', 'sre@example.com']);
    expect(header(mail.raw, 'From')).toBe('PRSM Monitor <alerts@example.com>');
    expect(header(mail.raw, 'To')).toBe('oncall@example.com, sre@example.com');
    expect(header(mail.raw, 'Subject')).toBe(
      '[prod] [FIRING] Queue <b>backlog</b> & "lag" (api_gateway)',
    );
    expect(mail.raw).toContain('multipart/alternative');
    expect(mail.raw).toContain('Content-Type: text/plain');
    expect(mail.raw).toContain('Content-Type: text/html');
    const body = decodeQuotedPrintable(mail.raw);
    // Plain text as written...
    expect(body).toContain('FIRING Queue <b>backlog</b> & "lag"');
    expect(body).toContain('severity:  critical');
    expect(body).toContain('value:     0.12 (threshold 0.1)');
    expect(body).toContain('alert id: a-1  rule id: api-error-rate');
    // ...and HTML escaped.
    const html = body.slice(body.indexOf('Content-Type: text/html'));
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('Queue &lt;b&gt;backlog&lt;/b&gt; &amp; &quot;lag&quot;');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>');
  });

  it('logs in with the configured credentials', async () => {
    const smtp = await startSmtp(undefined, { user: 'alerts', pass: 'smtp-password-1' });
    cleanups.push(smtp.close);
    const good = emailChannel({
      from: 'alerts@example.com',
      to: ['oncall@example.com'],
      transport: {
        host: '127.0.0.1',
        port: smtp.port,
        auth: { user: 'alerts', pass: 'smtp-password-1' },
      },
    });
    cleanups.push(() => good.shutdown());
    expect((await good.send(makeNotification())).ok).toBe(true);
    expect(smtp.mails[0]!.user).toBe('alerts');

    const logger = recordingLogger();
    const bad = emailChannel({
      from: 'alerts@example.com',
      to: ['oncall@example.com'],
      transport: {
        host: '127.0.0.1',
        port: smtp.port,
        auth: { user: 'alerts', pass: 'wrong-password-2' },
      },
      logger,
    });
    cleanups.push(() => bad.shutdown());
    const report = await bad.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 1, status: 535, givenUp: true });
    expect(JSON.stringify([report, logger.lines])).not.toContain('wrong-password-2');
  });

  it('retries a 451 transient reply, then delivers', async () => {
    const smtp = await startSmtp((i) =>
      i === 0 ? { code: 451, message: 'Requested action aborted: try again later' } : undefined,
    );
    cleanups.push(smtp.close);
    const { delays, sleep } = recordingSleep();
    const channel = emailChannel({
      from: 'alerts@example.com',
      to: ['oncall@example.com'],
      transport: { host: '127.0.0.1', port: smtp.port },
      sleep,
    });
    cleanups.push(() => channel.shutdown());
    const report = await channel.send(makeNotification());
    expect(report).toEqual({ ok: true, attempts: 2, status: 250 });
    expect(delays).toHaveLength(1);
    expect(smtp.mails).toHaveLength(1);
    expect(channel.stats()).toMatchObject({ delivered: 1, retries: 1, attempts: 2 });
  });

  it('gives up at once on a 550 permanent reply', async () => {
    const smtp = await startSmtp(() => ({ code: 550, message: 'Mailbox unavailable' }));
    cleanups.push(smtp.close);
    const { delays, sleep } = recordingSleep();
    const channel = emailChannel({
      from: 'alerts@example.com',
      to: ['nobody@example.com'],
      transport: { host: '127.0.0.1', port: smtp.port },
      sleep,
    });
    cleanups.push(() => channel.shutdown());
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 1, status: 550, givenUp: true });
    expect(report.error).toContain('SMTP 550');
    expect(delays).toEqual([]);
    expect(smtp.attempts).toBe(1);
  });

  it('retries a refused connection, then gives up', async () => {
    const port = await freePort();
    const { delays, sleep } = recordingSleep();
    const channel = emailChannel({
      from: 'alerts@example.com',
      to: ['oncall@example.com'],
      transport: { host: '127.0.0.1', port },
      sleep,
      retry: { maxAttempts: 3 },
    });
    cleanups.push(() => channel.shutdown());
    const report = await channel.send(makeNotification());
    expect(report).toMatchObject({ ok: false, attempts: 3, givenUp: true });
    expect(report.error).toMatch(/ECONNECTION|ESOCKET|ECONNREFUSED/);
    expect(delays).toHaveLength(2);
  });

  it('takes a nodemailer transporter of your own', async () => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const transporter = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port });
    cleanups.push(() => Promise.resolve(transporter.close()));
    const channel = emailChannel({
      from: 'alerts@example.com',
      to: ['oncall@example.com'],
      transport: transporter,
    });
    expect(await channel.send(makeNotification())).toMatchObject({ ok: true, attempts: 1 });
    expect(smtp.mails).toHaveLength(1);
  });

  it('classifies SMTP failures', () => {
    for (const code of [421, 450, 451, 452]) {
      expect(smtpFailure({ responseCode: code, message: 'later' }).retryable).toBe(true);
    }
    for (const code of [550, 551, 552, 553, 554]) {
      expect(smtpFailure({ responseCode: code, message: 'no' }).retryable).toBe(false);
    }
    expect(smtpFailure(Object.assign(new Error('x'), { code: 'ECONNECTION' })).retryable).toBe(
      true,
    );
    expect(smtpFailure(Object.assign(new Error('x'), { code: 'ETIMEDOUT' })).retryable).toBe(true);
    expect(smtpFailure(Object.assign(new Error('x'), { code: 'EAUTH' })).retryable).toBe(false);
    expect(smtpFailure('weird').retryable).toBe(false);
  });
});
