/**
 * Security signals from HTTP answers: 401, 403 and 429 responses and every request's
 * client address, fed to the core's `monitor.security`, so its threat detection (brute
 * force, credential stuffing, denial bursts, unusual request rates) sees what the
 * gateway answered. Imports only types of `@prsm/core`.
 */
import type {
  AuthAttemptEvent,
  AuthorizationCheckEvent,
  RateLimitedEvent,
  RequestEvent,
} from '@prsm/core';

/**
 * The part of `monitor.security` (a `SecurityMonitor`) the middleware feeds. A
 * `Monitor` has one; the no-op global monitor has none, and then nothing is fed.
 *
 * @example
 * ```ts
 * import type { SecuritySignalSink } from '@prsm/http';
 *
 * const sink: SecuritySignalSink = monitor.security;
 * ```
 */
export interface SecuritySignalSink {
  /** A failed (or successful) login: a 401 answer is a failed one. */
  authAttempt(event: AuthAttemptEvent): void;
  /** An authorization decision: a 403 answer is a denial. */
  authorizationCheck(event: AuthorizationCheckEvent): void;
  /** A request refused by a rate limiter: a 429 answer. */
  rateLimited(event: RateLimitedEvent): void;
  /** A request from a client address, for the per-address rate baseline. */
  request(event: RequestEvent): void;
}

/**
 * What the middleware knows of a finished request, for {@link reportSecuritySignals}.
 *
 * @example
 * ```ts
 * const signal: HttpSecuritySignal = {
 *   statusCode: 401, method: 'POST', route: '/login', clientAddress: '203.0.113.9', user: 'alice',
 * };
 * ```
 */
export interface HttpSecuritySignal {
  /** The response status code. */
  readonly statusCode: number;
  /** The normalised method (`GET`, `_OTHER`...). */
  readonly method: string;
  /** The route template (never a raw URL: it becomes a metric tag). */
  readonly route: string;
  /** The client's address, when known. */
  readonly clientAddress: string | undefined;
  /** The user the adapter's `user(req)` option named, when any. */
  readonly user: string | undefined;
  /** When the request ended, in ms of the monitor's clock (undefined: the sink reads its clock). */
  readonly at?: number | undefined;
}

/**
 * The `reason` of the failed login a 401 answer is recorded as
 * (`security.auth.failures{reason="http_401"}`), apart from the reasons an app gives
 * its own `monitor.security.authAttempt` calls.
 *
 * @example
 * ```ts
 * import { HTTP_401_REASON } from '@prsm/http';
 *
 * const failures = monitor.snapshot().series.find(
 *   (s) => s.name === 'security.auth.failures' && s.tags['reason'] === HTTP_401_REASON,
 * );
 * ```
 */
export const HTTP_401_REASON = 'http_401';

/**
 * Feeds one finished request to `monitor.security`:
 *
 * - every request with a known client address: `request({ ip })` (the unusual request
 *   rate rule's baseline);
 * - 401: `authAttempt({ userId, ip, success: false, reason: 'http_401' })`, counted
 *   towards brute force per user and per address and credential stuffing;
 * - 403: `authorizationCheck({ userId, permission: 'METHOD /route', resource: route,
 *   allowed: false })`, towards the user's denial burst (counted without a user, too);
 * - 429: `rateLimited({ key: user ?? ip, ip, route })`, counted by route.
 *
 * A `SecurityMonitor`'s methods never throw (they report a bad event or their own
 * failure to the monitor's diagnostics); {@link HttpMetrics.end} calls this inside its
 * own guard all the same.
 *
 * @example
 * ```ts
 * import { reportSecuritySignals } from '@prsm/http';
 *
 * reportSecuritySignals(monitor.security, {
 *   statusCode: 429, method: 'GET', route: '/api/v1/search', clientAddress: req.socket.remoteAddress, user: undefined,
 * });
 * ```
 */
export function reportSecuritySignals(sink: SecuritySignalSink, signal: HttpSecuritySignal): void {
  const ip = signal.clientAddress;
  if (ip !== undefined) sink.request(signal.at === undefined ? { ip } : { ip, at: signal.at });
  const code = signal.statusCode;
  if (code === 401) {
    sink.authAttempt({
      ...(signal.user !== undefined && { userId: signal.user }),
      ...(ip !== undefined && { ip }),
      success: false,
      reason: HTTP_401_REASON,
    });
  } else if (code === 403) {
    sink.authorizationCheck({
      ...(signal.user !== undefined && { userId: signal.user }),
      permission: `${signal.method} ${signal.route}`,
      resource: signal.route,
      allowed: false,
    });
  } else if (code === 429) {
    const key = signal.user ?? ip;
    sink.rateLimited({
      ...(key !== undefined && { key }),
      ...(ip !== undefined && { ip }),
      route: signal.route,
    });
  }
}

/**
 * `monitor.security` when the monitor has one (a `Monitor`), by duck type; undefined
 * for the no-op global monitor and other `MonitorApi` implementations.
 *
 * @example
 * ```ts
 * import { securitySinkOf } from '@prsm/http';
 *
 * const sink = securitySinkOf(getGlobalMonitor());
 * ```
 */
export function securitySinkOf(monitor: object): SecuritySignalSink | undefined {
  const security = (monitor as { security?: Partial<SecuritySignalSink> | null }).security;
  if (
    security === undefined ||
    security === null ||
    typeof security.authAttempt !== 'function' ||
    typeof security.authorizationCheck !== 'function' ||
    typeof security.rateLimited !== 'function' ||
    typeof security.request !== 'function'
  ) {
    return undefined;
  }
  return security as SecuritySignalSink;
}
