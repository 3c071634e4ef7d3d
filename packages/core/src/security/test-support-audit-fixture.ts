/**
 * Test helper for security/: the entries behind fixtures/audit-chain-v1.jsonl, a log
 * written by the audit log's first serialiser (generic canonical JSON through
 * `JSON.stringify`) before the hand-written one replaced it. The fixture test checks
 * that the file still verifies and that today's code writes the same lines, byte for
 * byte, from the same entries.
 */
import type { AuditEntryInput, AuditLog } from './audit.js';

/** The clock when the log is written (2024-05-01T12:00:00Z). */
export const FIXTURE_T0 = Date.UTC(2024, 4, 1, 12);

/** The clock when retention runs: the five 2020 entries (default retention, 90 days) expire. */
export const FIXTURE_RETENTION_AT = Date.UTC(2024, 5, 1, 12);

/** Entries of every shape the serialiser must keep stable. */
export function fixtureEntries(): Partial<AuditEntryInput>[] {
  const base = {
    user_id: 'user_123',
    action: 'create_distillation_job',
    resource_type: 'distillation_jobs',
    outcome: 'success',
  } as const;
  const out: Partial<AuditEntryInput>[] = [];
  for (let i = 0; i < 5; i++) {
    out.push({ ...base, timestamp: Date.UTC(2020, 0, 1 + i), resource_id: `old_${i}` });
  }
  out.push(
    {
      timestamp: '2024-01-15T14:30:00Z',
      user_id: 'user_123',
      action: 'create_distillation_job',
      resource_type: 'distillation_jobs',
      resource_id: 'job_uuid',
      outcome: 'success',
      ip_address: '192.168.1.100',
      user_agent: 'PRSM-Client/1.0',
      session_id: 'session_uuid',
      request_id: 'req_uuid',
      metadata: { strategy: 'multi_teacher', teacher_models: 3, estimated_cost: 450.0 },
      compliance_tags: ['SOC2', 'audit_required'],
    },
    { ...base },
    { ...base, timestamp: new Date(Date.UTC(2024, 3, 30, 23, 59, 59, 999)) },
    { ...base, timestamp: '2024-04-30T10:00:00+02:00', compliance_tags: [] },
    {
      ...base,
      user_id: 'ユーザー😀',
      resource_id: 'quote " back \\ newline \n tab \t ctl \u0001 ls \u2028 del \u007f',
      user_agent: 'Mozilla/5.0 (Ünïcödé; é vs e\u0301) 𝄞',
      outcome: 'denied',
      compliance_tags: ['GDPR', 'HIPAA', 'ISO27001', 'SOC2', 'tag "quoted"'],
    },
    {
      ...base,
      metadata: {
        b: 1,
        a: { z: 1, y: [1, 'x', null, true, false, [], {}] },
        B: null,
        '10': 'ten',
        '2': 'two',
        '-1': 'minus one',
        '01': 'zero one',
        é: 'e acute',
        'e\u0301': 'e combining',
        Z: -0,
      },
    },
    {
      ...base,
      metadata: {
        big: 1e21,
        small: 1e-7,
        sum: 0.1 + 0.2,
        neg: -5.5,
        max: Number.MAX_SAFE_INTEGER,
        int: 42,
        lone: 'lone \ud800 surrogate',
        pair: 'pair 😀',
        empty: '',
      },
    },
    {
      ...base,
      metadata: {
        password: 'hunter2',
        nested: { apiKey: 'k-123', fine: 'ok' },
        note: 'card 4111 1111 1111 1111 and Bearer abc.def.ghi',
        header: 'token=abcdef; other=1',
      },
    },
    {
      ...base,
      metadata: {
        when: new Date(Date.UTC(2024, 0, 1)),
        map: new Map<string, unknown>([
          ['k', 1],
          ['secret', 'x'],
        ]),
        set: new Set([3, 1, 2]),
        deep: { l1: { l2: { l3: ['a', { b: 'c' }] } } },
      },
    },
    { ...base, metadata: {} },
    { ...base, outcome: 'weird-outcome', resource_id: 'r', request_id: 'q', session_id: 's' },
  );
  for (let i = 0; i < 10; i++) {
    out.push({
      ...base,
      user_id: `user_${i % 3}`,
      resource_id: `job_${i}`,
      outcome: i % 4 === 0 ? 'failure' : 'success',
      metadata: { i, even: i % 2 === 0, label: `item ${i}` },
      compliance_tags: i % 2 === 0 ? ['SOC2'] : ['HIPAA', 'audit_required'],
    });
  }
  return out;
}

/** Entries recorded leniently (`tryRecord`): missing and mistyped fields. */
export function fixtureLenientEntries(): Partial<AuditEntryInput>[] {
  return [
    { action: 'export_report', resource_type: 'reports', outcome: 'success' },
    { user_id: 7 as unknown as string, action: 'x', resource_type: 'y', outcome: 'error' },
    { action: 'only_action' },
  ];
}

/**
 * Writes the fixture's log: the entries, the lenient ones, a retention run at
 * {@link FIXTURE_RETENTION_AT} (which cuts the five 2020 entries and records the cut),
 * then the first five entries again.
 */
export async function writeFixtureLog(
  audit: AuditLog,
  clock: { set(ms: number): void },
): Promise<void> {
  clock.set(FIXTURE_T0);
  for (const e of fixtureEntries()) audit.record(e as AuditEntryInput);
  for (const e of fixtureLenientEntries()) audit.tryRecord(e);
  clock.set(FIXTURE_RETENTION_AT);
  await audit.applyRetention();
  for (const e of fixtureEntries().slice(5, 10)) audit.record(e as AuditEntryInput);
  await audit.flush();
}
