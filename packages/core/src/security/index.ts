/**
 * The public surface of security/: what `packages/core/src/index.ts` re-exports
 * (see README-wiring.md). Values and types kept apart.
 */
export { SecurityMonitor } from './events.js';
export type {
  AuthAttemptEvent,
  AuthorizationCheckEvent,
  DataAccessEvent,
  RateLimitedEvent,
  RequestEvent,
  RoleChangeEvent,
  SecurityMonitorOptions,
  SessionEvent,
  SessionEventKind,
} from './events.js';
export { ThreatDetector } from './detection.js';
export type {
  RequestRateRule,
  RoleEscalationRule,
  SecurityIncident,
  SecurityIncidentKind,
  ThreatDetectionOptions,
  ThreatDetectionStats,
  ThresholdRule,
} from './detection.js';
export {
  AuditLog,
  COMPLIANCE_TAGS,
  DEFAULT_RETENTION_DAYS,
  REQUIRED_AUDIT_FIELDS,
  verifyAuditExport,
} from './audit.js';
export type {
  AuditComplianceReport,
  AuditEntryInput,
  AuditExportProof,
  AuditLogOptions,
  AuditLogStats,
  AuditOutcome,
  AuditRange,
  ComplianceTag,
  RetentionDays,
  RetentionResult,
} from './audit.js';
export {
  audited,
  currentAuditContext,
  getDefaultAuditLog,
  setDefaultAuditLog,
  withAuditContext,
} from './audited.js';
export type { AuditedDecorator, AuditedOptions, AuditRequestContext } from './audited.js';
export {
  canonicalJson,
  GENESIS_HASH,
  RETENTION_CUT_ACTION,
  sealRecord,
  sha256Hex,
  verifyChain,
} from './chain.js';
export type {
  AuditJsonValue,
  AuditRecord,
  ChainAnchor,
  ChainProblem,
  ChainVerification,
  VerifyChainOptions,
} from './chain.js';
export { JsonlFileSink, MemoryAuditSink } from './sinks.js';
export type {
  AuditSink,
  AuditSinkContext,
  AuditSinkStats,
  JsonlFileSinkOptions,
  MemoryAuditSinkOptions,
} from './sinks.js';
export { createRedactor, DEFAULT_REDACTED_KEYS, luhnValid, redact } from './redaction.js';
export type { RedactionOptions, Redactor } from './redaction.js';
export type { SecurityContext, SecurityRecorder } from './context.js';
