/**
 * The security part of the demo, after the traffic: the brute-force incident the
 * attacker's burst of failed logins raised, the security alert it fired, and the
 * audit trail (every login, the account lock; attempted passwords masked) whose hash
 * chain is then verified.
 */
import type { Monitor } from '@prsm/core';
import type { ApiClient } from './backend.js';

/** The audit chain's name on the server. */
export const AUDIT_SOURCE = 'marketplace-api';

/** What the audit verification found. */
export interface AuditSummary {
  readonly verified: boolean;
  readonly records: number;
  /** The last record's hash (when verified). */
  readonly headHash: string | undefined;
}

/** Prints the incidents, the security alerts and the verified audit trail. */
export async function printSecurity(monitor: Monitor): Promise<AuditSummary> {
  console.log('\n--- Security and audit ---\n');
  for (const incident of monitor.security.incidents()) {
    console.log(`incident: [${incident.severity}] ${incident.kind}: ${incident.message}`);
  }
  for (const alert of monitor.alerts.active({ state: 'firing' })) {
    if (alert.component === 'security') {
      console.log(`alert firing: ${alert.name} (${alert.severity}, component ${alert.component})`);
    }
  }
  await monitor.audit.flush();
  const verification = await monitor.audit.verify();
  const stats = monitor.audit.stats();
  if (!verification.ok) {
    console.log(`audit trail: NOT verified at record ${verification.index}`);
    return { verified: false, records: 0, headHash: undefined };
  }
  console.log(
    `audit trail: ${verification.records} records, hash chain verified (head ${verification.headHash.slice(0, 16)}…), completeness ${(stats.completeness * 100).toFixed(0)}%`,
  );
  return { verified: true, records: verification.records, headHash: verification.headHash };
}

interface VerifyBody {
  readonly ok: boolean;
  readonly sources: readonly {
    readonly source: string;
    readonly ok: boolean;
    readonly records: number;
    readonly head_hash: string | null;
    readonly first_break?: { readonly seq: number | null; readonly problem: string };
  }[];
}

/**
 * The server's copy of the audit trail: `GET /audit/verify` (read role) checks the
 * chain it stored, whose head must be the local log's; `GET /audit` (admin role)
 * reads the account lock back.
 */
export async function printAuditOnServer(
  admin: ApiClient,
  reader: ApiClient,
  local: AuditSummary,
): Promise<void> {
  const verify = await reader.get<VerifyBody>(`/audit/verify?source=${AUDIT_SOURCE}`);
  const chain = verify.status === 200 ? verify.body.sources[0] : undefined;
  if (chain === undefined) {
    console.log(`audit on the server: GET /audit/verify answered HTTP ${verify.status}`);
    return;
  }
  const same = chain.head_hash !== null && chain.head_hash === local.headHash;
  console.log(
    chain.ok
      ? `audit on the server (GET /audit/verify): ${chain.records} records, hash chain verified (head ${String(chain.head_hash).slice(0, 16)}…)${same ? ', the same head as the local log' : ', NOT the head of the local log'}`
      : `audit on the server (GET /audit/verify): NOT verified: ${chain.first_break?.problem ?? 'broken'} at seq ${String(chain.first_break?.seq)}`,
  );
  const locks = await admin.get<{
    entries: { user_id: string; resource_id?: string; timestamp: string }[];
  }>('/audit?action=account_locked');
  if (locks.status === 200) {
    for (const e of locks.body.entries) {
      console.log(
        `audit on the server (GET /audit?action=account_locked): ${e.user_id} locked ${e.resource_id ?? '?'} at ${e.timestamp}`,
      );
    }
  }
}
