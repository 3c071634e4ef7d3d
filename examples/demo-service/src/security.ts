/**
 * The security part of the demo: a burst of failed logins against one account raises
 * a brute-force incident, which fires the monitor's security alert; the sign-ins and
 * the account lock go to the audit log, whose hash chain is then verified.
 */
import type { Monitor } from '@prsm/core';

/** Runs the burst, prints the incident, the alert and the verified audit trail. */
export async function runSecurityDemo(monitor: Monitor): Promise<void> {
  console.log('\n--- Security and audit ---\n');
  // An ordinary morning: people sign in.
  for (let i = 0; i < 20; i++) {
    const userId = `user_${i}`;
    monitor.security.authAttempt({ userId, ip: `10.0.1.${i}`, success: true, mfa: i % 2 === 0 });
    monitor.audit.record({
      user_id: userId,
      action: 'login',
      resource_type: 'session',
      outcome: 'success',
      ip_address: `10.0.1.${i}`,
      compliance_tags: ['SOC2'],
    });
  }
  // Then someone tries passwords against one account.
  for (let i = 0; i < 6; i++) {
    monitor.security.authAttempt({
      userId: 'user_admin',
      ip: '203.0.113.7',
      success: false,
      reason: 'bad_password',
    });
    monitor.audit.record({
      user_id: 'user_admin',
      action: 'login',
      resource_type: 'session',
      outcome: 'failure',
      ip_address: '203.0.113.7',
      metadata: { password: 'letmein' }, // masked before it is stored
      compliance_tags: ['SOC2', 'ISO27001'],
    });
  }
  for (const incident of monitor.security.incidents()) {
    console.log(`incident: [${incident.severity}] ${incident.kind}: ${incident.message}`);
  }
  for (const alert of monitor.alerts.active({ state: 'firing' })) {
    if (alert.component === 'security') {
      console.log(`alert firing: ${alert.name} (${alert.severity}, component ${alert.component})`);
    }
  }
  monitor.audit.record({
    user_id: 'security-bot',
    action: 'account_locked',
    resource_type: 'user',
    resource_id: 'user_admin',
    outcome: 'success',
    compliance_tags: ['SOC2'],
  });
  await monitor.audit.flush();
  const verification = await monitor.audit.verify();
  const stats = monitor.audit.stats();
  console.log(
    verification.ok
      ? `audit trail: ${verification.records} records, hash chain verified (head ${verification.headHash.slice(0, 16)}…), completeness ${(stats.completeness * 100).toFixed(0)}%`
      : `audit trail: NOT verified at record ${verification.index}`,
  );
}
