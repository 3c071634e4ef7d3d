/**
 * The spec's "Security & Authentication" row, summarised from the security module's
 * counters (`monitor.security`), its threat detector and the audit log.
 */
import type { AuditLog } from '../security/audit.js';
import type { SecurityMonitor } from '../security/events.js';
import { type ComponentHost, put } from './host.js';
import { MonitoringComponent } from './names.js';

/**
 * What {@link securitySpecific} reads.
 *
 * @example
 * ```ts
 * const sources: SecuritySources = { host: monitor, security: monitor.security, audit: monitor.audit };
 * ```
 */
export interface SecuritySources {
  /** The monitor's series. */
  readonly host: Pick<ComponentHost, 'getRates'>;
  /** Security events and threat detection. */
  readonly security: SecurityMonitor;
  /** The audit log. */
  readonly audit: AuditLog;
  /** Counter totals of the `security` component by name (tag sets summed), when read. */
  readonly counters?: ReadonlyMap<string, number>;
}

/**
 * The `security` component's `component_specific` keys, counts since the monitor
 * started: `auth_attempts`, `auth_success_rate`, `auth_failures`, `mfa_usage_rate`
 * (authentication events); `authz_checks`, `authz_denial_rate` (authorization checks);
 * `security_incidents`, `security_incidents_critical` (threat detection: the incidents
 * the detector holds), `rate_limited_requests`, `protected_data_accesses`,
 * `role_changes`; `audit_entries`,
 * `audit_completeness`, `audit_rejected` (compliance: the audit log). Keys without events
 * are left out (audit ones always present).
 *
 * @example
 * ```ts
 * const s = securitySpecific({ host: monitor, security: monitor.security, audit: monitor.audit });
 * if (s.auth_success_rate !== undefined && s.auth_success_rate < 0.9) console.warn('login failures');
 * ```
 */
export function securitySpecific(sources: SecuritySources): Record<string, number> {
  const { host, security, audit } = sources;
  const component = MonitoringComponent.SECURITY;
  const count = (name: string, tags?: Record<string, string>): number =>
    host.getRates(name, { component, ...(tags && { tags }), windowSeconds: 'cumulative' })?.count ??
    0;
  const out: Record<string, number> = {};
  const ok = count('security.auth.attempts', { outcome: 'success', mfa: 'false' });
  const okMfa = count('security.auth.attempts', { outcome: 'success', mfa: 'true' });
  const bad = count('security.auth.attempts', { outcome: 'failure', mfa: 'false' });
  const badMfa = count('security.auth.attempts', { outcome: 'failure', mfa: 'true' });
  const attempts = ok + okMfa + bad + badMfa;
  if (attempts > 0) {
    out['auth_attempts'] = attempts;
    out['auth_failures'] = bad + badMfa;
    put(out, 'auth_success_rate', (ok + okMfa) / attempts);
    put(out, 'mfa_usage_rate', (okMfa + badMfa) / attempts);
  }
  const allowed = count('security.authz.checks', { outcome: 'allowed' });
  const denied = count('security.authz.checks', { outcome: 'denied' });
  if (allowed + denied > 0) {
    out['authz_checks'] = allowed + denied;
    put(out, 'authz_denial_rate', denied / (allowed + denied));
  }
  const incidents = security.incidents();
  if (incidents.length > 0 || security.detector !== undefined) {
    out['security_incidents'] = incidents.length;
    out['security_incidents_critical'] = incidents.filter((i) => i.severity === 'critical').length;
  }
  const granted = count('security.role_changes', { change: 'granted' });
  const revoked = count('security.role_changes', { change: 'revoked' });
  if (granted + revoked > 0) out['role_changes'] = granted + revoked;
  const limited = sources.counters?.get('security.rate_limited') ?? 0;
  if (limited > 0) out['rate_limited_requests'] = limited;
  const data = sources.counters?.get('security.data_access') ?? 0;
  if (data > 0) out['protected_data_accesses'] = data;
  const a = audit.stats();
  out['audit_entries'] = a.recorded;
  put(out, 'audit_completeness', a.completeness);
  out['audit_rejected'] = a.rejected;
  return out;
}
