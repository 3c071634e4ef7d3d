import { afterEach, describe, expect, it } from 'vitest';

import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { Monitor } from '../monitor.js';
import { type SecurityIncident, ThreatDetector, type ThreatDetectionOptions } from './detection.js';
import { securityMonitor, total } from './test-support.js';

const monitors: Monitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

/** Everything off but what a test turns on. */
const OFF: ThreatDetectionOptions = {
  bruteForceUser: false,
  bruteForceIp: false,
  credentialStuffing: false,
  authorizationDenials: false,
  roleEscalation: false,
  requestRate: false,
};

function setup(options: ThreatDetectionOptions) {
  const s = securityMonitor();
  monitors.push(s.monitor);
  const seen: SecurityIncident[] = [];
  const detector = new ThreatDetector(s.context, { ...OFF, ...options });
  detector.onIncident((i) => seen.push(i));
  return { ...s, detector, seen };
}

describe('brute force per user', () => {
  it('fires exactly at the threshold-th failure within the window, once', () => {
    const { detector, seen, clock, monitor } = setup({
      bruteForceUser: { threshold: 5, windowMs: 60_000 },
    });
    for (let i = 0; i < 4; i++) {
      detector.observeAuth('alice', `10.0.0.${i}`, false);
      clock.advance(10_000);
    }
    expect(seen).toHaveLength(0);
    detector.observeAuth('alice', '10.0.0.9', false); // 5th, 40 s after the 1st
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      kind: 'brute_force_user',
      severity: 'high',
      subject: { userId: 'alice' },
      count: 5,
      threshold: 5,
      windowMs: 60_000,
    });
    expect(
      total(monitor, 'security.incidents', { kind: 'brute_force_user', severity: 'high' }),
    ).toBe(1);
    // The count restarts after an incident: the 6th failure alone does not fire.
    detector.observeAuth('alice', '10.0.0.9', false);
    expect(seen).toHaveLength(1);
  });

  it('does not fire when the failures are spread wider than the window (benign control)', () => {
    const { detector, seen, clock } = setup({ bruteForceUser: { threshold: 5, windowMs: 60_000 } });
    for (let i = 0; i < 50; i++) {
      detector.observeAuth('alice', '10.0.0.1', false);
      clock.advance(15_000); // 5 failures span 60 s: never within the window
    }
    // Successes never count.
    for (let i = 0; i < 100; i++) detector.observeAuth('alice', '10.0.0.1', true);
    expect(seen).toHaveLength(0);
  });

  it('the window edge: the oldest failure exactly windowMs old no longer counts', () => {
    const { detector, seen, clock } = setup({ bruteForceUser: { threshold: 2, windowMs: 1000 } });
    detector.observeAuth('u', undefined, false);
    clock.advance(1000);
    detector.observeAuth('u', undefined, false);
    expect(seen).toHaveLength(0);
    clock.advance(999);
    detector.observeAuth('u', undefined, false);
    expect(seen).toHaveLength(1);
  });

  it('a crossing within the cooldown is suppressed and counted', () => {
    const { detector, seen, clock } = setup({
      bruteForceUser: { threshold: 2, windowMs: 10_000 },
      cooldownMs: 60_000,
    });
    for (let i = 0; i < 4; i++) detector.observeAuth('u', undefined, false);
    expect(seen).toHaveLength(1);
    expect(detector.stats().suppressed).toBe(1);
    clock.advance(60_000);
    detector.observeAuth('u', undefined, false);
    detector.observeAuth('u', undefined, false);
    expect(seen).toHaveLength(2);
  });
});

describe('brute force per IP and credential stuffing', () => {
  it('per IP: failures of any users from one IP', () => {
    const { detector, seen } = setup({ bruteForceIp: { threshold: 3, windowMs: 60_000 } });
    detector.observeAuth('a', '203.0.113.9', false);
    detector.observeAuth('a', '203.0.113.9', false);
    detector.observeAuth('b', '198.51.100.1', false); // another IP
    expect(seen).toHaveLength(0);
    detector.observeAuth('c', '203.0.113.9', false);
    expect(seen.map((i) => [i.kind, i.subject.ip])).toEqual([['brute_force_ip', '203.0.113.9']]);
  });

  it('credential stuffing: the threshold-th distinct user failing from one IP fires', () => {
    const { detector, seen, clock } = setup({
      credentialStuffing: { threshold: 4, windowMs: 60_000 },
    });
    // The same user failing again and again is not stuffing.
    for (let i = 0; i < 20; i++) detector.observeAuth('alice', '203.0.113.9', false);
    for (const u of ['bob', 'carol']) detector.observeAuth(u, '203.0.113.9', false);
    // Three distinct users so far (alice, bob, carol); a fourth from another IP does not count.
    detector.observeAuth('dave', '198.51.100.1', false);
    clock.advance(1000);
    expect(seen).toHaveLength(0);
    detector.observeAuth('erin', '203.0.113.9', false);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      kind: 'credential_stuffing',
      severity: 'critical',
      subject: { ip: '203.0.113.9' },
      count: 4,
    });
  });

  it('credential stuffing: users whose failure left the window no longer count', () => {
    const { detector, seen, clock } = setup({
      credentialStuffing: { threshold: 3, windowMs: 60_000 },
    });
    detector.observeAuth('a', 'ip', false);
    clock.advance(30_000);
    detector.observeAuth('b', 'ip', false);
    clock.advance(30_000); // a is now 60 s old: out
    detector.observeAuth('c', 'ip', false);
    expect(seen).toHaveLength(0);
    detector.observeAuth('a', 'ip', false); // a again, within the window: b, c, a
    expect(seen).toHaveLength(1);
  });
});

describe('authorization denials', () => {
  it('fires at the threshold-th denial within the window; allowed checks do not count', () => {
    const { detector, seen } = setup({ authorizationDenials: { threshold: 3, windowMs: 60_000 } });
    detector.observeAuthorization('bob', 'models:delete', false);
    for (let i = 0; i < 10; i++) detector.observeAuthorization('bob', 'models:read', true);
    detector.observeAuthorization('bob', 'models:delete', false);
    detector.observeAuthorization('carol', 'models:delete', false);
    expect(seen).toHaveLength(0);
    detector.observeAuthorization('bob', 'billing:refund', false);
    expect(seen.map((i) => [i.kind, i.severity, i.subject.userId])).toEqual([
      ['authorization_denials', 'medium', 'bob'],
    ]);
  });
});

describe('role escalation', () => {
  it('a privileged grant fires; a self-grant is critical; other grants and revocations do not', () => {
    const { detector, seen } = setup({ roleEscalation: {} });
    detector.observeRoleChange('bob', 'viewer', true, 'alice');
    detector.observeRoleChange('bob', 'admin', false, 'alice');
    expect(seen).toHaveLength(0);
    detector.observeRoleChange('bob', 'admin', true, 'alice');
    detector.observeRoleChange('mallory', 'admin:billing', true, 'mallory');
    expect(seen.map((i) => [i.kind, i.severity, i.subject.userId])).toEqual([
      ['role_escalation', 'high', 'bob'],
      ['role_escalation', 'critical', 'mallory'],
    ]);
  });

  it('first use of a privileged permission after learning fires; known admins do not', () => {
    const { detector, seen, clock, monitor } = setup({
      roleEscalation: { privileged: ['admin', /^billing:refund$/], learningMs: 60_000 },
    });
    detector.observeAuthorization('alice', 'admin:users', true); // learned
    detector.observeAuthorization('bob', 'administer', true); // not privileged: "admin" + "ister"
    clock.advance(60_000);
    detector.observeAuthorization('alice', 'admin:users', true);
    detector.observeAuthorization('carol', 'admin:users', false); // denied: not escalation
    detector.observeAuthorization('carol', 'models:read', true);
    expect(seen).toHaveLength(0);
    detector.observeAuthorization('carol', 'billing:refund', true);
    expect(seen.map((i) => [i.kind, i.subject.userId])).toEqual([['role_escalation', 'carol']]);
    detector.observeAuthorization('carol', 'admin:users', true); // now known
    expect(seen).toHaveLength(1);
    detector.observeRoleChange('dave', 'root', true, 'alice'); // root is not privileged here
    detector.observeRoleChange('dave', 'admin', true, 'alice');
    expect(
      total(monitor, 'security.incidents', { kind: 'role_escalation', severity: 'high' }),
    ).toBe(2);
  });
});

describe('unusual request rate', () => {
  const rule = { bucketMs: 10_000, factor: 5, minRequests: 50, alpha: 0.5, warmupBuckets: 3 };

  it('fires when the current bucket reaches factor × the IP’s own baseline', () => {
    const { detector, seen, clock } = setup({ requestRate: rule });
    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 20; i++) detector.observeRequest('10.1.1.1');
      clock.advance(10_000);
    }
    // Baseline 20 a bucket: the threshold is max(50, 5 × 20) = 100.
    for (let i = 0; i < 99; i++) detector.observeRequest('10.1.1.1');
    expect(seen).toHaveLength(0);
    detector.observeRequest('10.1.1.1');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      kind: 'unusual_request_rate',
      subject: { ip: '10.1.1.1' },
      count: 100,
      threshold: 100,
    });
    // Once a bucket.
    for (let i = 0; i < 500; i++) detector.observeRequest('10.1.1.1');
    expect(seen).toHaveLength(1);
  });

  it('a steady busy IP and a new IP in warm-up do not fire (benign control)', () => {
    const { detector, seen, clock } = setup({ requestRate: rule });
    for (let b = 0; b < 30; b++) {
      for (let i = 0; i < 300; i++) detector.observeRequest('10.1.1.1'); // busy but steady
      if (b < 2) for (let i = 0; i < 1000; i++) detector.observeRequest('10.2.2.2'); // warm-up
      clock.advance(10_000);
    }
    expect(seen).toHaveLength(0);
  });

  it('idle buckets lower the baseline', () => {
    const { detector, seen, clock } = setup({ requestRate: rule });
    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 40; i++) detector.observeRequest('ip');
      clock.advance(10_000);
    }
    clock.advance(100_000); // ten idle buckets: the baseline decays towards 0
    for (let i = 0; i < 50; i++) detector.observeRequest('ip'); // minRequests
    expect(seen).toHaveLength(1);
  });
});

describe('bounds and robustness', () => {
  it('tracks at most maxTracked subjects per rule, evicting the least recently seen', () => {
    const { detector, seen } = setup({
      bruteForceUser: { threshold: 2, windowMs: 60_000 },
      maxTracked: 100,
    });
    detector.observeAuth('victim', undefined, false);
    for (let i = 0; i < 100; i++) detector.observeAuth(`u${i}`, undefined, false);
    expect(detector.stats()).toMatchObject({ tracked: 100, evicted: 1 });
    detector.observeAuth('victim', undefined, false); // its first failure was evicted
    expect(seen).toHaveLength(0);
  });

  it('a throwing listener is reported, and the others still run', () => {
    const { detector, seen, monitor } = setup({ bruteForceUser: { threshold: 1, windowMs: 1 } });
    detector.onIncident(() => {
      throw new Error('listener bug');
    });
    expect(() => detector.observeAuth('u', undefined, false)).not.toThrow();
    expect(seen).toHaveLength(1);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
  });

  it('incidents() keeps the latest maxIncidents', () => {
    const { detector } = setup({ bruteForceUser: { threshold: 1, windowMs: 1 }, maxIncidents: 3 });
    for (let i = 0; i < 5; i++) detector.observeAuth(`u${i}`, undefined, false);
    expect(detector.incidents().map((i) => i.subject.userId)).toEqual(['u2', 'u3', 'u4']);
    expect(detector.stats().incidents.brute_force_user).toBe(5);
  });

  it('bad options throw a TypeError naming them', () => {
    const { context } = setup({});
    expect(
      () => new ThreatDetector(context, { bruteForceUser: { threshold: 0, windowMs: 1 } }),
    ).toThrow(/bruteForceUser.threshold/);
    expect(() => new ThreatDetector(context, { requestRate: { alpha: 2 } })).toThrow(/alpha/);
    expect(() => new ThreatDetector(context, { maxTracked: 0 })).toThrow(/maxTracked/);
  });
});

describe('incident → alert engine', () => {
  it('an incident fires a rule on the security component through the alert engine', () => {
    const { detector, monitor } = setup({ bruteForceUser: { threshold: 3, windowMs: 60_000 } });
    const rule = monitor.alerts.create({
      name: 'Security incident',
      severity: 'high',
      component: 'security',
      condition: 'security.incidents[5m] > 0',
    });
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)!.state).toBe('inactive');
    for (let i = 0; i < 3; i++) detector.observeAuth('alice', undefined, false);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)!.state).toBe('firing');
  });

  it('a critical incident also fires the critical rule (security.incidents.critical)', () => {
    const { detector, monitor } = setup({ credentialStuffing: { threshold: 2, windowMs: 60_000 } });
    const critical = monitor.alerts.create({
      name: 'Critical security incident',
      severity: 'critical',
      component: 'security',
      condition: 'security.incidents.critical > 0',
      windowSeconds: 300,
    });
    detector.observeAuth('a', 'ip', false);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(critical.id)!.state).toBe('inactive');
    detector.observeAuth('b', 'ip', false);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(critical.id)!.state).toBe('firing');
  });
});
