/**
 * Security events (`monitor.security`): logins, authorization checks, rate limiting,
 * sessions, data access, role changes and the HTTP middleware's request signal,
 * counted by kind and outcome in the `security` component and fed to the
 * {@link ThreatDetector}. Each call is a few bound-counter increments: no key is
 * built and nothing is allocated for fixed outcomes.
 */
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import { checkContext, lazyCounter, messageOf, type SecurityContext } from './context.js';
import { type SecurityIncident, ThreatDetector, type ThreatDetectionOptions } from './detection.js';

/**
 * A login attempt.
 *
 * @example
 * ```ts
 * const e: AuthAttemptEvent = { userId: 'alice', ip: '203.0.113.9', success: false, mfa: false, reason: 'bad_password' };
 * ```
 */
export interface AuthAttemptEvent {
  /** Who tried (the user name given, for failures of unknown users). */
  readonly userId?: string;
  readonly ip?: string;
  readonly success: boolean;
  /** Whether a second factor was used. Default false. */
  readonly mfa?: boolean;
  /** Why it failed, a low-cardinality code (`bad_password`, `locked`, `mfa_failed`...). */
  readonly reason?: string;
}

/**
 * An authorization decision.
 *
 * @example
 * ```ts
 * const e: AuthorizationCheckEvent = { userId: 'bob', permission: 'models:delete', resource: 'models/42', allowed: false };
 * ```
 */
export interface AuthorizationCheckEvent {
  /**
   * Who asked. Absent only for a denial of an unidentified client (an HTTP 403 seen by
   * `@prsm/express`/`@prsm/fastify` without a `user` option): counted, but no user's
   * denial burst can be tracked.
   */
  readonly userId?: string;
  readonly permission: string;
  /** What it was about (not used as a metric tag). */
  readonly resource?: string;
  readonly allowed: boolean;
}

/**
 * A request refused by a rate limiter.
 *
 * @example
 * ```ts
 * const e: RateLimitedEvent = { key: 'api-key:42', ip: req.ip, route: '/api/v1/search' };
 * ```
 */
export interface RateLimitedEvent {
  /** The limiter's key (not a metric tag). */
  readonly key?: string;
  readonly ip?: string;
  /** The route template (a metric tag; a raw URL would explode cardinality). */
  readonly route?: string;
}

/**
 * What happened to a session.
 *
 * @example
 * ```ts
 * const kind: SessionEventKind = 'revoked';
 * ```
 */
export type SessionEventKind = 'created' | 'refreshed' | 'expired' | 'revoked' | 'ended';

/**
 * A session event.
 *
 * @example
 * ```ts
 * const e: SessionEvent = { kind: 'created', userId: 'alice', sessionId: 's_1' };
 * ```
 */
export interface SessionEvent {
  readonly kind: SessionEventKind;
  readonly userId?: string;
  readonly sessionId?: string;
}

/**
 * An access to protected data.
 *
 * @example
 * ```ts
 * const e: DataAccessEvent = { userId: 'alice', resourceType: 'patient_records', resourceId: 'p_7', encrypted: true };
 * ```
 */
export interface DataAccessEvent {
  readonly userId?: string;
  /** A metric tag (capped, see `maxTagValues`). */
  readonly resourceType: string;
  readonly resourceId?: string;
  /** Whether the data was encrypted at rest and in transit. */
  readonly encrypted: boolean;
}

/**
 * A role granted or revoked.
 *
 * @example
 * ```ts
 * const e: RoleChangeEvent = { userId: 'bob', role: 'admin', granted: true, actorId: 'alice' };
 * ```
 */
export interface RoleChangeEvent {
  readonly userId: string;
  readonly role: string;
  readonly granted: boolean;
  /** Who made the change. */
  readonly actorId?: string;
}

/**
 * A request seen by the HTTP middleware, for the per-IP rate baseline.
 *
 * @example
 * ```ts
 * const e: RequestEvent = { ip: req.ip };
 * ```
 */
export interface RequestEvent {
  readonly ip: string;
  /**
   * When the request was seen, in milliseconds of the monitor's clock; default: the
   * clock read now. The HTTP middleware passes the request's end, which it has read
   * already (the system clock's `Date.now()` is not free at every request).
   */
  readonly at?: number;
}

/**
 * Options of a {@link SecurityMonitor}.
 *
 * @example
 * ```ts
 * const options: SecurityMonitorOptions = { detection: { bruteForceUser: { threshold: 3, windowMs: 60_000 } } };
 * ```
 */
export interface SecurityMonitorOptions {
  /** Threat detection rules, or `false` for none. Default: the default rules. */
  readonly detection?: ThreatDetectionOptions | false;
  /**
   * Distinct values kept per free-form tag (`reason`, `route`, `resource_type`);
   * further values are counted under `other`. Default 64.
   */
  readonly maxTagValues?: number;
}

const SESSION_KINDS: readonly SessionEventKind[] = [
  'created',
  'refreshed',
  'expired',
  'revoked',
  'ended',
];

/** Bound counters by a free-form tag value, capped; the rest share `other`. */
class TagHandles {
  readonly #map = new Map<string, BoundCounter>();
  readonly #bind: (value: string) => BoundCounter;
  readonly #max: number;
  readonly #other: BoundCounter;

  constructor(bind: (value: string) => BoundCounter, max: number) {
    this.#bind = bind;
    this.#max = max;
    this.#other = lazyCounter(() => bind('other'));
  }

  get(value: string | undefined): BoundCounter {
    if (value === undefined) return this.#other;
    let h = this.#map.get(value);
    if (h === undefined) {
      if (this.#map.size >= this.#max || typeof value !== 'string' || value.length > 128) {
        return this.#other;
      }
      h = this.#bind(value);
      this.#map.set(value, h);
    }
    return h;
  }
}

/**
 * Security event tracking (`monitor.security`). Metrics, all counters in component
 * `security`:
 *
 * - `security.auth.attempts{outcome=success|failure, mfa=true|false}`
 * - `security.auth.failures{reason}` (capped tag)
 * - `security.authz.checks{outcome=allowed|denied}`
 * - `security.rate_limited{route}` (capped tag)
 * - `security.sessions{kind}`
 * - `security.data_access{resource_type, encrypted=true|false}` (capped tag)
 * - `security.role_changes{change=granted|revoked}`
 * - `security.incidents{kind, severity}`, `security.incidents.critical{kind}` (from the detector)
 *
 * No method throws: a malformed event is dropped and reported to diagnostics
 * (`PRSM_INVALID_VALUE`), an internal failure reported as `PRSM_INTERNAL_ERROR`.
 *
 * @example
 * ```ts
 * monitor.security.authAttempt({ userId: 'alice', ip: req.ip, success: false, reason: 'bad_password' });
 * monitor.security.authorizationCheck({ userId: 'alice', permission: 'models:delete', resource: 'models/42', allowed: false });
 * monitor.alerts.create({
 *   name: 'Security incident', severity: 'high', component: 'security',
 *   condition: 'security.incidents[5m] > 0',
 * });
 * ```
 */
export class SecurityMonitor {
  /** The threat detector, unless `detection: false`. */
  readonly detector: ThreatDetector | undefined;
  readonly #context: SecurityContext;
  readonly #auth: readonly BoundCounter[];
  readonly #failures: TagHandles;
  readonly #allowed: BoundCounter;
  readonly #denied: BoundCounter;
  readonly #rateLimited: TagHandles;
  readonly #sessions = new Map<string, BoundCounter>();
  readonly #dataEncrypted: TagHandles;
  readonly #dataPlain: TagHandles;
  readonly #granted: BoundCounter;
  readonly #revoked: BoundCounter;

  /** Throws a `TypeError` naming a bad option. */
  constructor(context: SecurityContext, options: SecurityMonitorOptions = {}) {
    this.#context = checkContext(context, 'SecurityMonitor');
    if (options === null || typeof options !== 'object') {
      throw new TypeError('security options must be an object');
    }
    const maxTagValues = options.maxTagValues ?? 64;
    if (!Number.isInteger(maxTagValues) || maxTagValues < 1) {
      throw new TypeError('security.maxTagValues must be an integer >= 1');
    }
    const detection = options.detection;
    this.detector =
      detection === false ? undefined : new ThreatDetector(this.#context, detection ?? {});
    const counter = (name: string, description: string) =>
      this.#context.recorder.counter(name, { component: 'security', description });
    const attempts = counter('security.auth.attempts', 'Login attempts, by outcome and MFA use');
    // Indexed by success * 2 + mfa.
    // Every handle binds on its first event: no series for events a service never sees.
    this.#auth = [
      lazyCounter(() => attempts.bind({ outcome: 'failure', mfa: 'false' })),
      lazyCounter(() => attempts.bind({ outcome: 'failure', mfa: 'true' })),
      lazyCounter(() => attempts.bind({ outcome: 'success', mfa: 'false' })),
      lazyCounter(() => attempts.bind({ outcome: 'success', mfa: 'true' })),
    ];
    const failures = counter('security.auth.failures', 'Failed logins, by reason');
    this.#failures = new TagHandles((reason) => failures.bind({ reason }), maxTagValues);
    const checks = counter('security.authz.checks', 'Authorization checks, by outcome');
    this.#allowed = lazyCounter(() => checks.bind({ outcome: 'allowed' }));
    this.#denied = lazyCounter(() => checks.bind({ outcome: 'denied' }));
    const limited = counter('security.rate_limited', 'Requests refused by rate limiting, by route');
    this.#rateLimited = new TagHandles((route) => limited.bind({ route }), maxTagValues);
    const sessions = counter('security.sessions', 'Session events, by kind');
    for (const kind of [...SESSION_KINDS, 'other'])
      this.#sessions.set(
        kind,
        lazyCounter(() => sessions.bind({ kind })),
      );
    const data = counter('security.data_access', 'Protected data accesses, by type and encryption');
    this.#dataEncrypted = new TagHandles(
      (resource_type) => data.bind({ resource_type, encrypted: 'true' }),
      maxTagValues,
    );
    this.#dataPlain = new TagHandles(
      (resource_type) => data.bind({ resource_type, encrypted: 'false' }),
      maxTagValues,
    );
    const roles = counter('security.role_changes', 'Role grants and revocations');
    this.#granted = lazyCounter(() => roles.bind({ change: 'granted' }));
    this.#revoked = lazyCounter(() => roles.bind({ change: 'revoked' }));
  }

  /**
   * A login attempt: counted by outcome and MFA, failures by reason; failures feed
   * brute-force and credential-stuffing detection.
   *
   * @example
   * ```ts
   * monitor.security.authAttempt({ userId: 'alice', ip: req.ip, success: true, mfa: true });
   * ```
   */
  authAttempt(event: AuthAttemptEvent): void {
    try {
      if (event === null || typeof event !== 'object' || typeof event.success !== 'boolean') {
        this.#invalid('authAttempt needs { success: boolean }');
        return;
      }
      const success = event.success;
      this.#auth[(success ? 2 : 0) + (event.mfa === true ? 1 : 0)]!.inc();
      if (success) return;
      const reason = event.reason;
      this.#failures.get(typeof reason === 'string' ? reason : undefined).inc();
      const userId = typeof event.userId === 'string' ? event.userId : undefined;
      const ip = typeof event.ip === 'string' ? event.ip : undefined;
      this.detector?.observeAuth(userId, ip, false);
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * An authorization decision: counted by outcome; denials feed the denial-burst
   * rule, allowed privileged permissions the role-escalation rule.
   *
   * @example
   * ```ts
   * monitor.security.authorizationCheck({ userId: 'bob', permission: 'admin:users', resource: 'users/9', allowed: true });
   * ```
   */
  authorizationCheck(event: AuthorizationCheckEvent): void {
    try {
      if (
        event === null ||
        typeof event !== 'object' ||
        typeof event.allowed !== 'boolean' ||
        (typeof event.userId !== 'string' && (event.allowed || event.userId !== undefined)) ||
        typeof event.permission !== 'string'
      ) {
        this.#invalid('authorizationCheck needs { userId, permission, allowed }');
        return;
      }
      (event.allowed ? this.#allowed : this.#denied).inc();
      if (event.userId === undefined) return;
      this.detector?.observeAuthorization(event.userId, event.permission, event.allowed);
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * A request refused by a rate limiter, counted by route template.
   *
   * @example
   * ```ts
   * monitor.security.rateLimited({ key: apiKey, ip: req.ip, route: '/api/v1/search' });
   * ```
   */
  rateLimited(event: RateLimitedEvent): void {
    try {
      if (event === null || typeof event !== 'object') {
        this.#invalid('rateLimited needs an object');
        return;
      }
      this.#rateLimited.get(typeof event.route === 'string' ? event.route : undefined).inc();
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * A session event, counted by kind (an unknown kind counts as `other`).
   *
   * @example
   * ```ts
   * monitor.security.sessionEvent({ kind: 'revoked', userId: 'alice', sessionId: 's_1' });
   * ```
   */
  sessionEvent(event: SessionEvent): void {
    try {
      if (event === null || typeof event !== 'object') {
        this.#invalid('sessionEvent needs { kind }');
        return;
      }
      (this.#sessions.get(event.kind) ?? this.#sessions.get('other')!).inc();
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * An access to protected data, counted by resource type and whether it was encrypted.
   *
   * @example
   * ```ts
   * monitor.security.dataAccess({ userId: 'alice', resourceType: 'patient_records', resourceId: 'p_7', encrypted: true });
   * ```
   */
  dataAccess(event: DataAccessEvent): void {
    try {
      if (
        event === null ||
        typeof event !== 'object' ||
        typeof event.resourceType !== 'string' ||
        typeof event.encrypted !== 'boolean'
      ) {
        this.#invalid('dataAccess needs { resourceType, encrypted }');
        return;
      }
      (event.encrypted ? this.#dataEncrypted : this.#dataPlain).get(event.resourceType).inc();
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * A role granted or revoked; a privileged grant is a role-escalation incident.
   *
   * @example
   * ```ts
   * monitor.security.roleChange({ userId: 'bob', role: 'admin', granted: true, actorId: 'alice' });
   * ```
   */
  roleChange(event: RoleChangeEvent): void {
    try {
      if (
        event === null ||
        typeof event !== 'object' ||
        typeof event.userId !== 'string' ||
        typeof event.role !== 'string' ||
        typeof event.granted !== 'boolean'
      ) {
        this.#invalid('roleChange needs { userId, role, granted }');
        return;
      }
      (event.granted ? this.#granted : this.#revoked).inc();
      const actor = typeof event.actorId === 'string' ? event.actorId : undefined;
      this.detector?.observeRoleChange(event.userId, event.role, event.granted, actor);
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * A request seen by the HTTP middleware: feeds the per-IP rate baseline (not
   * counted here; the middleware records request metrics itself).
   *
   * @example
   * ```ts
   * monitor.security.request({ ip: req.ip });
   * ```
   */
  request(event: RequestEvent): void {
    try {
      if (event === null || typeof event !== 'object' || typeof event.ip !== 'string') {
        this.#invalid('request needs { ip }');
        return;
      }
      const at = event.at;
      if (at !== undefined && !Number.isFinite(at)) {
        this.#invalid('request: at must be a finite number of milliseconds');
        return;
      }
      this.detector?.observeRequest(event.ip, at);
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * Registers an incident listener (see `ThreatDetector.onIncident`); returns its
   * remover. Without detection, the listener is never called.
   *
   * @example
   * ```ts
   * monitor.security.onIncident((i) => console.warn(`[${i.severity}] ${i.message}`));
   * ```
   */
  onIncident(listener: (incident: SecurityIncident) => void): () => void {
    return this.detector?.onIncident(listener) ?? ((): void => {});
  }

  /**
   * The latest incidents, oldest first (empty without detection).
   *
   * @example
   * ```ts
   * const recent = monitor.security.incidents().filter((i) => i.severity === 'critical');
   * ```
   */
  incidents(): readonly SecurityIncident[] {
    return this.detector?.incidents() ?? [];
  }

  #invalid(message: string): void {
    this.#context.diagnostics.report(DiagnosticCode.INVALID_VALUE, `security: ${message}`);
  }

  #internal(error: unknown): void {
    this.#context.diagnostics.report(
      DiagnosticCode.INTERNAL_ERROR,
      `security event: ${messageOf(error)}`,
    );
  }
}
