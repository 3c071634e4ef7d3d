import { DiagnosticCode, type Monitor } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { reportSecuritySignals, securitySinkOf } from './security.js';
import { countOf, series, testResources } from './test-support.js';

const resources = testResources();

function newMonitor(): Monitor {
  return resources.monitor({
    security: {
      defaultAlertRules: false,
      detection: {
        bruteForceIp: { threshold: 2, windowMs: 60_000 },
        authorizationDenials: { threshold: 2, windowMs: 60_000 },
      },
    },
  }).monitor;
}

const signal = {
  method: 'GET',
  route: '/admin/:section',
  clientAddress: '203.0.113.9',
  user: undefined,
} as const;

describe('reportSecuritySignals', () => {
  it('turns 401s of unknown users into failed logins counted per address', () => {
    const monitor = newMonitor();
    reportSecuritySignals(monitor.security, { ...signal, statusCode: 401 });
    reportSecuritySignals(monitor.security, { ...signal, statusCode: 401 });
    expect(series(monitor, 'security.auth.failures').map((s) => [s.tags, countOf(s)])).toEqual([
      [{ reason: 'http_401' }, 2],
    ]);
    expect(monitor.security.incidents().map((i) => [i.kind, i.subject])).toEqual([
      ['brute_force_ip', { ip: '203.0.113.9' }],
    ]);
  });

  it('counts a 403 of an unidentified client without a denial burst, and of a user with one', () => {
    const monitor = newMonitor();
    for (let i = 0; i < 3; i++) {
      reportSecuritySignals(monitor.security, { ...signal, statusCode: 403 });
    }
    expect(monitor.security.incidents()).toEqual([]);
    for (let i = 0; i < 2; i++) {
      reportSecuritySignals(monitor.security, { ...signal, statusCode: 403, user: 'eve' });
    }
    expect(series(monitor, 'security.authz.checks').map((s) => [s.tags, countOf(s)])).toEqual([
      [{ outcome: 'denied' }, 5],
    ]);
    expect(monitor.security.incidents().map((i) => [i.kind, i.subject])).toEqual([
      ['authorization_denials', { userId: 'eve' }],
    ]);
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(0);
  });

  it('counts a 429 by route, and other answers only as requests', () => {
    const monitor = newMonitor();
    reportSecuritySignals(monitor.security, { ...signal, statusCode: 429 });
    for (const statusCode of [200, 404, 500]) {
      reportSecuritySignals(monitor.security, { ...signal, statusCode });
    }
    reportSecuritySignals(monitor.security, {
      ...signal,
      clientAddress: undefined,
      statusCode: 429,
    });
    expect(series(monitor, 'security.rate_limited').map((s) => [s.tags, countOf(s)])).toEqual([
      [{ route: '/admin/:section' }, 2],
    ]);
    expect(series(monitor, 'security.auth.attempts')).toEqual([]);
    expect(series(monitor, 'security.authz.checks')).toEqual([]);
  });

  it('finds monitor.security by duck type', () => {
    const monitor = newMonitor();
    expect(securitySinkOf(monitor)).toBe(monitor.security);
    expect(securitySinkOf({})).toBeUndefined();
    expect(securitySinkOf({ security: null })).toBeUndefined();
    expect(securitySinkOf({ security: { authAttempt: () => undefined } })).toBeUndefined();
  });
});
