import { afterEach, describe, expect, it } from 'vitest';

import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { Monitor } from '../monitor.js';
import type { SecurityContext } from './context.js';
import { type AuthAttemptEvent, SecurityMonitor, type SecurityMonitorOptions } from './events.js';
import { securityMonitor, total } from './test-support.js';

const monitors: Monitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function setup(options: SecurityMonitorOptions = {}) {
  const s = securityMonitor();
  monitors.push(s.monitor);
  return { ...s, security: new SecurityMonitor(s.context, options) };
}

describe('SecurityMonitor metrics', () => {
  it('counts logins by outcome and MFA, failures by reason', () => {
    const { security, monitor } = setup();
    security.authAttempt({ userId: 'a', ip: '1.1.1.1', success: true, mfa: true });
    security.authAttempt({ userId: 'a', ip: '1.1.1.1', success: true });
    security.authAttempt({ userId: 'b', ip: '1.1.1.1', success: false, reason: 'bad_password' });
    security.authAttempt({ userId: 'b', success: false, reason: 'bad_password' });
    security.authAttempt({ success: false });
    const t = (tags: Record<string, string>) => total(monitor, 'security.auth.attempts', tags);
    expect(t({ outcome: 'success', mfa: 'true' })).toBe(1);
    expect(t({ outcome: 'success', mfa: 'false' })).toBe(1);
    expect(t({ outcome: 'failure', mfa: 'false' })).toBe(3);
    expect(total(monitor, 'security.auth.failures', { reason: 'bad_password' })).toBe(2);
    expect(total(monitor, 'security.auth.failures', { reason: 'other' })).toBe(1);
  });

  it('counts authorization checks, rate limiting, sessions, data access and role changes', () => {
    const { security, monitor } = setup();
    security.authorizationCheck({ userId: 'a', permission: 'p', resource: 'r', allowed: true });
    security.authorizationCheck({ userId: 'a', permission: 'p', allowed: false });
    security.authorizationCheck({ userId: 'a', permission: 'p', allowed: false });
    security.rateLimited({ key: 'k', ip: '1.1.1.1', route: '/api/v1/search' });
    security.rateLimited({ key: 'k' });
    security.sessionEvent({ kind: 'created', userId: 'a', sessionId: 's' });
    security.sessionEvent({ kind: 'bogus' as 'created' });
    security.dataAccess({
      userId: 'a',
      resourceType: 'patients',
      resourceId: 'p1',
      encrypted: true,
    });
    security.dataAccess({ resourceType: 'patients', encrypted: false });
    security.roleChange({ userId: 'b', role: 'viewer', granted: true, actorId: 'a' });
    security.roleChange({ userId: 'b', role: 'viewer', granted: false });
    expect(total(monitor, 'security.authz.checks', { outcome: 'allowed' })).toBe(1);
    expect(total(monitor, 'security.authz.checks', { outcome: 'denied' })).toBe(2);
    expect(total(monitor, 'security.rate_limited', { route: '/api/v1/search' })).toBe(1);
    expect(total(monitor, 'security.rate_limited', { route: 'other' })).toBe(1);
    expect(total(monitor, 'security.sessions', { kind: 'created' })).toBe(1);
    expect(total(monitor, 'security.sessions', { kind: 'other' })).toBe(1);
    expect(
      total(monitor, 'security.data_access', { resource_type: 'patients', encrypted: 'true' }),
    ).toBe(1);
    expect(
      total(monitor, 'security.data_access', { resource_type: 'patients', encrypted: 'false' }),
    ).toBe(1);
    expect(total(monitor, 'security.role_changes', { change: 'granted' })).toBe(1);
    expect(total(monitor, 'security.role_changes', { change: 'revoked' })).toBe(1);
  });

  it('free-form tag values are capped: the rest count as other', () => {
    const { security, monitor } = setup({ maxTagValues: 2 });
    for (const route of ['/a', '/b', '/c', '/d']) security.rateLimited({ route });
    expect(total(monitor, 'security.rate_limited', { route: '/b' })).toBe(1);
    expect(total(monitor, 'security.rate_limited', { route: '/c' })).toBe(0);
    expect(total(monitor, 'security.rate_limited', { route: 'other' })).toBe(2);
  });
});

describe('SecurityMonitor never throws', () => {
  it('malformed events are dropped and reported as invalid', () => {
    const { security, monitor } = setup();
    const calls: (() => void)[] = [
      () => security.authAttempt(null as unknown as AuthAttemptEvent),
      () => security.authAttempt({ success: 'yes' } as unknown as AuthAttemptEvent),
      () => security.authorizationCheck({ userId: 'a' } as never),
      () => security.rateLimited(undefined as never),
      () => security.sessionEvent(42 as never),
      () => security.dataAccess({ resourceType: 'x' } as never),
      () => security.roleChange({} as never),
      () => security.request({} as never),
    ];
    for (const call of calls) expect(call).not.toThrow();
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(calls.length);
  });

  it('a recorder that throws is reported as an internal error', () => {
    const { context } = setup();
    let broken = false;
    const counter = context.recorder.counter.bind(context.recorder);
    const recorder: SecurityContext['recorder'] = {
      gauge: context.recorder.gauge.bind(context.recorder),
      counter: (name, options) => {
        const c = counter(name, options);
        return {
          ...c,
          bind: (tags, labels) => {
            const b = c.bind(tags, labels);
            return {
              inc: (v?: number) => {
                if (broken) throw new Error('recorder bug');
                b.inc(v);
              },
            };
          },
        };
      },
    };
    const security = new SecurityMonitor({ ...context, recorder });
    broken = true;
    expect(() => security.authAttempt({ success: true })).not.toThrow();
    expect(context.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
  });
});

describe('SecurityMonitor detection', () => {
  it('events feed the detector: a burst of failed logins raises an incident and fires an alert', () => {
    const { security, monitor, clock } = setup({
      detection: { bruteForceUser: { threshold: 5, windowMs: 60_000 } },
    });
    const seen: string[] = [];
    const off = security.onIncident((i) => seen.push(`${i.kind}:${i.subject.userId ?? ''}`));
    const rule = monitor.alerts.create({
      name: 'Security incident',
      severity: 'high',
      component: 'security',
      condition: 'security.incidents[5m] > 0',
    });
    for (let i = 0; i < 4; i++) {
      security.authAttempt({ userId: 'alice', ip: `10.0.0.${i}`, success: false });
      clock.advance(1000);
    }
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)!.state).toBe('inactive');
    security.authAttempt({ userId: 'alice', ip: '10.0.0.9', success: false });
    expect(seen).toEqual(['brute_force_user:alice']);
    expect(security.incidents()).toHaveLength(1);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)!.state).toBe('firing');
    off();
  });

  it('authorization, role changes and requests reach the detector', () => {
    const { security } = setup({
      detection: {
        authorizationDenials: { threshold: 2, windowMs: 60_000 },
        roleEscalation: { learningMs: 0 },
        requestRate: { warmupBuckets: 1, minRequests: 3, factor: 2 },
      },
    });
    security.authorizationCheck({ userId: 'b', permission: 'x', allowed: false });
    security.authorizationCheck({ userId: 'b', permission: 'x', allowed: false });
    security.roleChange({ userId: 'c', role: 'admin', granted: true, actorId: 'c' });
    security.authorizationCheck({ userId: 'd', permission: 'admin:users', allowed: true });
    for (let i = 0; i < 3; i++) security.request({ ip: '9.9.9.9' }); // first bucket: warm-up
    expect(security.incidents().map((i) => `${i.kind}/${i.severity}`)).toEqual([
      'authorization_denials/medium',
      'role_escalation/critical',
      'role_escalation/high',
    ]);
  });

  it("a request's `at` places it in the rate buckets instead of the clock", () => {
    const { security, context, monitor } = setup({
      detection: { requestRate: { bucketMs: 1000, warmupBuckets: 1, minRequests: 3, factor: 2 } },
    });
    const clockNow = context.clock.now();
    // Far from the clock: only `at` can put these in two buckets.
    const base = clockNow + 3_600_000;
    for (let i = 0; i < 2; i++) security.request({ ip: '9.9.9.9', at: base });
    for (let i = 0; i < 4; i++) security.request({ ip: '9.9.9.9', at: base + 1000 });
    expect(context.clock.now()).toBe(clockNow);
    const incidents = security.incidents();
    expect(incidents.map((i) => [i.kind, i.at, i.count])).toEqual([
      ['unusual_request_rate', base + 1000, 4],
    ]);
    security.request({ ip: '9.9.9.9', at: Number.NaN });
    security.request({ ip: '9.9.9.9', at: 'soon' as never });
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(2);
  });

  it('detection: false keeps only the metrics', () => {
    const { security } = setup({ detection: false });
    expect(security.detector).toBeUndefined();
    for (let i = 0; i < 100; i++) security.authAttempt({ userId: 'a', success: false });
    expect(security.incidents()).toEqual([]);
    expect(() => security.onIncident(() => {})()).not.toThrow();
  });
});
