import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { AuditLog } from './audit.js';

import { securityMonitor } from './test-support.js';
import {
  createRedactor,
  DEFAULT_REDACTED_KEYS,
  luhnValid,
  redact,
  type RedactionOptions,
} from './redaction.js';

/** A Luhn-valid number of `length` digits (13..19) from `body` digits. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + String(d))) return body + String(d);
  throw new Error('unreachable');
}

const cardNumber = fc
  .integer({ min: 12, max: 18 })
  .chain((n) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n }))
  .map(withCheckDigit)
  .chain((digits) =>
    fc.constantFrom(
      digits,
      digits.replace(/(\d{4})(?=\d)/g, '$1 '),
      digits.replace(/(\d{4})(?=\d)/g, '$1-'),
    ),
  );

/** Secrets are distinctive: nothing else generated can spell them. */
const secret = fc
  .string({
    unit: fc.constantFrom(...'ABCDEFGHJKMNPQRSTUVWXYZ23456789'),
    minLength: 6,
    maxLength: 20,
  })
  .map((s) => `ZQ${s}`);

/** Filler text: lower-case words, no digits (so a card never touches other digits), no secrets. */
const filler = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnop .,!'), maxLength: 20 });

/** Sensitive key spellings, as services write them. */
const sensitiveKey = fc.constantFrom(
  'password',
  'Password',
  'user_password',
  'accessToken',
  'refresh-token',
  'client_secret',
  'Authorization',
  'set-cookie',
  'X-API-Key',
  'api_key',
  'apiKey',
  'cardNumber',
  'privateKey',
);
const plainKey = fc.constantFrom('name', 'id', 'count', 'items', 'meta', 'note', 'route', 'region');

interface Planted {
  readonly value: unknown;
  readonly secrets: readonly string[];
}

/** A value with secrets planted where redaction must find them. */
function planted(emails: boolean): fc.Arbitrary<Planted> {
  const leaf: fc.Arbitrary<Planted> = fc.oneof(
    fc.oneof(filler, fc.integer(), fc.boolean(), fc.constant(null)).map((v) => ({
      value: v,
      secrets: [],
    })),
    // A card number inside text.
    fc.tuple(filler, cardNumber, filler).map(([a, c, b]) => ({
      value: `${a} ${c} ${b}`,
      secrets: [c, c.replace(/[ -]/g, '')],
    })),
    // `key=secret` and `"key":"secret"` inside text.
    fc
      .tuple(filler, sensitiveKey, fc.constantFrom('=', ': ', '":"'), secret, filler)
      .map(([a, k, sep, s, b]) => ({ value: `${a} ${k}${sep}${s} ${b}`, secrets: [s] })),
    // Bearer credentials.
    fc.tuple(filler, secret).map(([a, s]) => ({ value: `${a} Bearer ${s}`, secrets: [s] })),
    ...(emails
      ? [
          fc.tuple(filler, secret, filler).map(([a, s, b]) => ({
            value: `${a} ${s.toLowerCase()}@example.com ${b}`,
            secrets: [s.toLowerCase()],
          })),
        ]
      : []),
  );
  const tree = fc.letrec<{ node: Planted }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      // Anything under a sensitive key, however nested.
      fc
        .tuple(
          sensitiveKey,
          fc.oneof(
            secret,
            tie('node').map((n) => n.value),
          ),
          secret,
        )
        .map(([k, v, s]) => ({ value: { [k]: v, nested: { [k]: s } }, secrets: [s] })),
      fc.array(tie('node'), { maxLength: 4 }).map((items) => ({
        value: items.map((i) => i.value),
        secrets: items.flatMap((i) => i.secrets),
      })),
      fc.dictionary(plainKey, tie('node'), { maxKeys: 4 }).map((d) => ({
        value: Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.value])),
        secrets: Object.values(d).flatMap((v) => v.secrets),
      })),
    ),
  }));
  return tree.node;
}

describe('redact: property tests', () => {
  it('no planted secret survives, through nested objects, arrays and strings', () => {
    fc.assert(
      fc.property(planted(false), ({ value, secrets }) => {
        const out = JSON.stringify(redact(value));
        for (const s of secrets) expect(out).not.toContain(s);
      }),
      { numRuns: 500 },
    );
  });

  it('with emails on, no planted e-mail address survives either', () => {
    const rules: RedactionOptions = { emails: true };
    fc.assert(
      fc.property(planted(true), ({ value, secrets }) => {
        const out = JSON.stringify(redact(value, rules));
        for (const s of secrets) expect(out).not.toContain(s);
        expect(out).not.toMatch(/@example\.com/);
      }),
      { numRuns: 500 },
    );
  });

  it('a value without secrets comes back equal, and the input is never modified', () => {
    const clean = fc.jsonValue().filter((v) => !/\d{13}|\d[ -]\d|[=:]/.test(JSON.stringify(v)));
    fc.assert(
      fc.property(clean, (value) => {
        const before = JSON.stringify(value);
        const out = redact(value);
        expect(JSON.stringify(value)).toBe(before);
        // Keys the default rules call sensitive are the only change.
        const hasSensitiveKey =
          /password|passwd|passphrase|secret|token|authorization|cookie|apikey|privatekey|cardnumber|creditcard|cvv/i.test(
            before.replace(/[^A-Za-z0-9"]/g, ''),
          );
        if (!hasSensitiveKey) expect(out).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });
});

describe('redaction before storage and export', () => {
  const { monitor, context } = securityMonitor();
  afterAll(() => monitor.shutdown());

  it('no planted secret reaches a stored audit line or an audit export', async () => {
    const audit = new AuditLog(context);
    const plantedSecrets: string[] = [];
    fc.assert(
      fc.property(planted(false), ({ value, secrets }) => {
        audit.record({
          user_id: 'u',
          action: 'a',
          resource_type: 'r',
          outcome: 'success',
          metadata: { payload: value },
        });
        plantedSecrets.push(...secrets);
      }),
      { numRuns: 200 },
    );
    const stored = [...audit.sink.read()].join('\n');
    const exported = await audit.exportRange();
    for (const s of plantedSecrets) {
      expect(stored).not.toContain(s);
      expect(exported).not.toContain(s);
    }
    expect((await audit.verify()).ok).toBe(true);
  });
});

describe('redact: examples', () => {
  it('masks sensitive keys whatever they hold, at any depth', () => {
    expect(
      redact({
        user: 'u1',
        password: { old: 'a', new: 'b' },
        list: [{ 'X-Api-Key': 'k' }, { cookie: ['c1', 'c2'] }],
      }),
    ).toEqual({
      user: 'u1',
      password: '[REDACTED]',
      list: [{ 'X-Api-Key': '[REDACTED]' }, { cookie: '[REDACTED]' }],
    });
  });

  it('masks Luhn-valid card numbers only, and not 13-digit numbers or timestamps', () => {
    expect(redact('paid with 4111-1111-1111-1111 today')).toBe('paid with [REDACTED] today');
    expect(redact('order 4111111111111112')).toBe('order 4111111111111112'); // not Luhn-valid
    expect(redact({ at: 1705329000000 })).toEqual({ at: 1705329000000 }); // a number is kept
    expect(redact('id 12345678901234567890123')).toBe('id 12345678901234567890123'); // too long
  });

  it('inline secrets: key=value, JSON pairs, Bearer, and a pair hidden in another value', () => {
    const r = createRedactor();
    expect(r.redactString('GET /x?user=bob&token=abc123&page=2')).toBe(
      'GET /x?user=bob&token=[REDACTED]&page=2',
    );
    expect(r.redactString('{"password":"hunter2","user":"bob"}')).toBe(
      '{"password":"[REDACTED]","user":"bob"}',
    );
    expect(r.redactString('Authorization: Bearer eyJhbGciOi.x.y')).not.toContain('eyJ');
    expect(r.redactString('a=b=password=x')).toBe('a=b=password=[REDACTED]');
  });

  it('e-mails only when configured; custom keys and patterns; the mask', () => {
    expect(redact('mail bob@example.com')).toBe('mail bob@example.com');
    expect(redact({ email: 'x', note: 'to bob@example.com' }, { emails: true })).toEqual({
      email: '[REDACTED]',
      note: 'to [REDACTED]',
    });
    const r = createRedactor({
      keys: [...DEFAULT_REDACTED_KEYS, 'ssn', /^x-internal-/i],
      mask: '***',
    });
    expect(r.redact({ SSN: '1', 'X-Internal-Id': '2', other: '3' })).toEqual({
      SSN: '***',
      'X-Internal-Id': '***',
      other: '3',
    });
    expect(r.isSensitiveKey('tokenizer')).toBe(true); // over-matching is on purpose
  });

  it('cycles, depth, dates, maps, sets, errors, binary, functions', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    expect(redact(cyclic)).toEqual({ a: 1, self: '[Circular]' });
    let deep: unknown = 'x';
    for (let i = 0; i < 20; i++) deep = { d: deep };
    expect(JSON.stringify(redact(deep))).toContain('[Truncated]');
    expect(
      redact({
        when: new Date(0),
        m: new Map([['token', 't']]),
        s: new Set(['password=p']),
        e: new Error('token=abc'),
        b: Buffer.from('x'),
        f: () => 1,
      }),
    ).toEqual({
      when: '1970-01-01T00:00:00.000Z',
      m: { token: '[REDACTED]' },
      s: ['password=[REDACTED]'],
      e: { name: 'Error', message: 'token=[REDACTED]' },
      b: '[Binary]',
      f: undefined,
    });
  });

  it('redactAttributes masks flat attribute maps (span attributes, alert annotations)', () => {
    const r = createRedactor();
    expect(
      r.redactAttributes({
        'http.request.header.authorization': 'Basic abcd',
        'http.route': '/x',
        n: 3,
      }),
    ).toEqual({ 'http.request.header.authorization': '[REDACTED]', 'http.route': '/x', n: 3 });
  });

  it('a hostile getter is contained', () => {
    const hostile = {
      get boom(): string {
        throw new Error('getter');
      },
    };
    expect(() => redact(hostile)).not.toThrow();
  });

  it('bad options throw a TypeError naming them', () => {
    expect(() => createRedactor({ keys: [3 as unknown as string] })).toThrow(/redaction.keys/);
    expect(() => createRedactor({ keys: ['--'] })).toThrow(/no letters/);
    expect(() => createRedactor({ maxDepth: 0 })).toThrow(/maxDepth/);
  });
});

describe('alert annotations are redacted with the monitor redaction', () => {
  it('in the rule, the active alert and every notification a channel receives', async () => {
    const { Monitor } = await import('../monitor.js');
    const { ManualClock } = await import('../clock/clock.js');
    const clock = new ManualClock(Date.UTC(2026, 2, 15, 12));
    const sent: unknown[] = [];
    const monitor = new Monitor({
      clock,
      redaction: { keys: [...DEFAULT_REDACTED_KEYS, 'ssn'] },
      alerting: {
        evaluationIntervalSeconds: 0,
        groupWaitSeconds: 0,
        channels: {
          // A channel that keeps what it is given: the payload as any channel sees it.
          keep: {
            kind: 'keep',
            send(notification) {
              sent.push(notification);
              return Promise.resolve({ ok: true, attempts: 1 });
            },
            shutdown: () => Promise.resolve(),
          },
        },
      },
    });
    try {
      monitor.alerts.create({
        id: 'errors',
        name: 'Errors',
        description: 'call back with token=tok-AAA-111',
        severity: 'high',
        component: 'checkout',
        condition: 'error_rate > 5%',
        notificationChannels: ['keep'],
        annotations: { runbook: 'https://x.example/?api_key=key-BBB-222', ssn: '078-05-1120' },
        labels: { team: 'pay' },
      });
      const timer = monitor.timer('http.server.duration', { component: 'checkout' }).bind();
      for (let i = 0; i < 10; i++) timer.recordError(100);
      monitor.alerts.evaluate();
      clock.advance(1000);
      monitor.alerts.evaluate();
      await monitor.alerts.flush();
      const seen = JSON.stringify([monitor.alerts.get('errors'), monitor.alerts.active(), sent]);
      expect(sent.length).toBeGreaterThan(0);
      expect(seen).not.toMatch(/tok-AAA|key-BBB|078-05/);
      expect(seen).toContain('token=[REDACTED]');
      expect(seen).toContain('"ssn":"[REDACTED]"');
      expect(seen).toContain('"team":"pay"');
    } finally {
      await monitor.shutdown();
    }
  });
});
