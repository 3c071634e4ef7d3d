/**
 * `monitor.security`, `monitor.audit` and redaction as the Monitor wires them (the
 * pieces are tested on their own beside this file).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { setGlobalMonitor } from '../global.js';
import { Monitor } from '../monitor.js';
import { getDefaultAuditLog } from './audited.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30);
const monitors: Monitor[] = [];
const dirs: string[] = [];
afterEach(async () => {
  setGlobalMonitor(undefined);
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(options: ConstructorParameters<typeof Monitor>[0] = {}): Monitor {
  const monitor = new Monitor({
    clock: new ManualClock(T0),
    alerting: { evaluationIntervalSeconds: 0 },
    ...options,
  });
  monitors.push(monitor);
  return monitor;
}

describe('Monitor security', () => {
  it('a brute force raises an incident that fires the default security rule at once', () => {
    const monitor = setup();
    // Nothing security-related in a snapshot before any event.
    expect(monitor.snapshot().series.filter((s) => s.component === 'security')).toEqual([]);
    expect(monitor.alerts.ruleCount()).toBe(0);
    for (let i = 0; i < 4; i++) {
      monitor.security.authAttempt({ userId: 'u1', ip: '10.0.0.9', success: false });
    }
    expect(monitor.alerts.ruleCount()).toBe(0); // below the threshold: no incident yet
    monitor.security.authAttempt({ userId: 'u1', ip: '10.0.0.9', success: false });
    expect(monitor.security.incidents().map((i) => i.kind)).toEqual(['brute_force_user']);
    const firing = monitor.alerts.active({ state: 'firing' });
    expect(firing.map((a) => [a.name, a.severity, a.component])).toEqual([
      ['Security incident', 'high', 'security'],
    ]);
    expect(monitor.health().active_alerts.map((a) => a.component)).toEqual(['security']);
  });

  it('no default rules with defaultAlertRules: false', () => {
    const monitor = setup({ security: { defaultAlertRules: false } });
    for (let i = 0; i < 5; i++) {
      monitor.security.authAttempt({ userId: 'u1', ip: '10.0.0.9', success: false });
    }
    expect(monitor.security.incidents()).toHaveLength(1);
    expect(monitor.alerts.ruleCount()).toBe(0);
  });

  it('audits to a JSONL file that verifies, with secrets masked; the global monitor’s log is @audited’s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prsm-audit-'));
    dirs.push(dir);
    const file = join(dir, 'audit.jsonl');
    const monitor = setup({ audit: { file } });
    setGlobalMonitor(monitor);
    monitor.audit.record({
      user_id: 'user_123',
      action: 'model_training_initiated',
      resource_type: 'ml_model',
      resource_id: 'model_456',
      outcome: 'success',
      metadata: { password: 'hunter2', dataset: 'orders-2024' },
      compliance_tags: ['SOC2', 'GDPR'],
    });
    // (@audited itself is compiled by tsc in both decorator modes in audited.test.ts.)
    expect(getDefaultAuditLog()).toBe(monitor.audit);
    for (const outcome of ['success', 'failure'] as const) {
      monitor.audit.record({
        user_id: 'user_9',
        action: 'model_deleted',
        resource_type: 'ml_model',
        resource_id: 'm1',
        outcome,
      });
    }
    await monitor.audit.flush();
    const verification = await monitor.audit.verify();
    expect(verification.ok).toBe(true);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).toContain('orders-2024');
    const outcomes = lines.map((l) => (JSON.parse(l) as { outcome: string }).outcome);
    setGlobalMonitor(undefined);
    expect(getDefaultAuditLog()).toBeUndefined();
    expect(outcomes).toEqual(['success', 'success', 'failure']);
    expect(() =>
      monitor.audit.record({ action: 'x', resource_type: 'y', outcome: 'success' } as never),
    ).toThrow(/user_id/);
  });

  it('masks secrets in span attributes and status messages before they are stored', async () => {
    const { trace } = await import('@opentelemetry/api');
    const monitor = setup({ tracing: true });
    let traceId = '';
    trace.getTracer('t').startActiveSpan('login', (span) => {
      traceId = span.spanContext().traceId;
      span.setAttributes({ 'user.password': 'hunter2', 'http.route': '/login' });
      span.setStatus({ code: 2, message: 'rejected Authorization: Bearer abc.def.ghi' });
      span.end();
    });
    const stored = monitor.traces.spans(traceId)![0]!;
    expect(JSON.stringify(stored)).not.toContain('hunter2');
    expect(JSON.stringify(stored)).not.toContain('abc.def.ghi');
    expect(JSON.stringify(stored)).toContain('/login');
  });

  it('rejects bad security, audit and redaction options, naming them', () => {
    expect(() => new Monitor({ security: 4 as never })).toThrow('security must be an object');
    expect(() => new Monitor({ audit: 'x' as never })).toThrow('audit must be an object');
    expect(() => new Monitor({ security: { defaultAlertRules: 'yes' as never } })).toThrow(
      'security.defaultAlertRules must be a boolean',
    );
    expect(() => new Monitor({ security: { maxTagValues: 0 } })).toThrow(/^security\./);
  });
});
