/**
 * Threat detection over security events: brute force (failures per user, per IP),
 * credential stuffing (distinct users failing from one IP), bursts of authorization
 * denials, role escalation, and request rates far above an IP's own baseline. Time
 * comes from the injected clock (no timers); memory is bounded by caps on the users
 * and IPs tracked (least recently seen evicted first, counted). A detection is an
 * incident: handed to listeners, kept in a bounded list, and counted in
 * `security.incidents{kind,severity}` for alert rules on the `security` component.
 */
import { randomUUID } from 'node:crypto';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { AlertSeverity } from '../alerting/notification.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import { checkContext, lazyCounter, messageOf, type SecurityContext } from './context.js';

/**
 * What was detected.
 *
 * @example
 * ```ts
 * const kind: SecurityIncidentKind = 'credential_stuffing';
 * ```
 */
export type SecurityIncidentKind =
  | 'brute_force_user'
  | 'brute_force_ip'
  | 'credential_stuffing'
  | 'authorization_denials'
  | 'role_escalation'
  | 'unusual_request_rate';

/**
 * A detection.
 *
 * @example
 * ```ts
 * monitor.security.onIncident((i: SecurityIncident) => console.warn(i.severity, i.message));
 * ```
 */
export interface SecurityIncident {
  /** A random UUID. */
  readonly id: string;
  readonly kind: SecurityIncidentKind;
  readonly severity: AlertSeverity;
  /** When it was detected (ms since the epoch). */
  readonly at: number;
  /** Who or where: the user, the IP, or both. */
  readonly subject: { readonly userId?: string; readonly ip?: string };
  /** What was counted when the threshold was crossed (events, distinct users, requests). */
  readonly count: number;
  /** The threshold crossed. */
  readonly threshold: number;
  /** The window counted over (ms); 0 for role escalation. */
  readonly windowMs: number;
  /** A sentence for people. */
  readonly message: string;
}

/**
 * A count threshold over a sliding window: the rule fires when the `threshold`-th
 * event within `windowMs` arrives (events at `t` with `now - t < windowMs` count).
 *
 * @example
 * ```ts
 * const rule: ThresholdRule = { threshold: 5, windowMs: 5 * 60_000 };
 * ```
 */
export interface ThresholdRule {
  /** Events in the window that make an incident; an integer in 1..1000 (each tracked subject keeps `threshold` event times: memory is `maxTracked` × `threshold` × 8 bytes per rule at most). */
  readonly threshold: number;
  /** The window, ms > 0. */
  readonly windowMs: number;
}

/**
 * Role escalation: an incident when a user is granted a privileged role
 * (`roleChange`, `critical` when self-granted), or passes an authorization check for a
 * privileged permission without having been seen to hold privilege before (after
 * `learningMs`, during which the privileged users are learned silently).
 *
 * @example
 * ```ts
 * const rule: RoleEscalationRule = { privileged: ['admin', 'billing:refund'], learningMs: 3_600_000 };
 * ```
 */
export interface RoleEscalationRule {
  /**
   * Privileged roles and permissions: a string matches itself and anything under it
   * (`admin` matches `admin`, `admin:users`, `admin.write`, `admin/x`); a RegExp is
   * tested. Default `['admin', 'root', 'superuser', 'owner']`.
   */
  readonly privileged?: readonly (string | RegExp)[];
  /** How long privileged users are learned without incidents (ms). Default 1 hour. */
  readonly learningMs?: number;
}

/**
 * Request rate against an IP's own baseline: requests are counted in buckets of
 * `bucketMs`; the baseline is an exponentially weighted moving average (EWMA) of
 * past buckets (`alpha` the weight of the newest). Once an IP has `warmupBuckets`
 * of history, an incident fires when its current bucket reaches
 * `max(minRequests, factor × baseline)`, at most once a bucket.
 *
 * @example
 * ```ts
 * const rule: RequestRateRule = { bucketMs: 10_000, factor: 10, minRequests: 100 };
 * ```
 */
export interface RequestRateRule {
  /** Default 10000 (10 s). */
  readonly bucketMs?: number;
  /** Default 10. */
  readonly factor?: number;
  /** Default 100. */
  readonly minRequests?: number;
  /** Default 0.1. */
  readonly alpha?: number;
  /** Default 6. */
  readonly warmupBuckets?: number;
}

/**
 * The detection rules and limits. `false` turns a rule off.
 *
 * @example
 * ```ts
 * const options: ThreatDetectionOptions = {
 *   bruteForceUser: { threshold: 3, windowMs: 60_000 },
 *   requestRate: false,
 *   maxTracked: 50_000,
 * };
 * ```
 */
export interface ThreatDetectionOptions {
  /** Failed logins per user. Default 5 in 5 minutes (severity high). */
  readonly bruteForceUser?: ThresholdRule | false;
  /** Failed logins per IP. Default 20 in 5 minutes (high). */
  readonly bruteForceIp?: ThresholdRule | false;
  /** Distinct users failing from one IP. Default 10 in 10 minutes (critical). */
  readonly credentialStuffing?: ThresholdRule | false;
  /** Authorization denials per user. Default 10 in 1 minute (medium). */
  readonly authorizationDenials?: ThresholdRule | false;
  /** Role escalation (high; critical when self-granted). */
  readonly roleEscalation?: RoleEscalationRule | false;
  /** Request rate against the IP's baseline (medium). */
  readonly requestRate?: RequestRateRule | false;
  /**
   * After an incident for a subject, further incidents of the same kind for it are
   * suppressed (counted) this long (ms). Default 60000.
   */
  readonly cooldownMs?: number;
  /** Users or IPs tracked per rule; the least recently seen is evicted past it. Default 10000. */
  readonly maxTracked?: number;
  /** Incidents kept for `incidents()`. Default 100. */
  readonly maxIncidents?: number;
  /** Called with every incident (as `onIncident` listeners are). */
  readonly onIncident?: (incident: SecurityIncident) => void;
}

/**
 * Detection counters, for health and analytics.
 *
 * @example
 * ```ts
 * const { tracked, evicted, incidents } = monitor.security.detector!.stats();
 * ```
 */
export interface ThreatDetectionStats {
  /** Subjects tracked now, all rules together. */
  readonly tracked: number;
  /** Subjects evicted at the caps. */
  readonly evicted: number;
  /** Incidents raised, by kind. */
  readonly incidents: Readonly<Record<SecurityIncidentKind, number>>;
  /** Crossings within a cooldown, not raised. */
  readonly suppressed: number;
}

/**
 * A map of subjects capped at `max`, evicting an approximately least recently used
 * one (CLOCK, "second chance"): a hit only sets a flag; at eviction, entries touched
 * since they were last passed over go back to the end, the first untouched one goes.
 */
class Lru<V> {
  readonly #map = new Map<string, { value: V; touched: boolean }>();
  readonly #max: number;
  readonly #onEvict: () => void;

  constructor(max: number, onEvict: () => void) {
    this.#max = max;
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value, marked as used; `undefined` when absent. */
  get(key: string): V | undefined {
    const hit = this.#map.get(key);
    if (hit === undefined) return undefined;
    hit.touched = true;
    return hit.value;
  }

  /** Adds an absent key (evicting one when full); returns `value`. */
  add(key: string, value: V): V {
    if (this.#map.size >= this.#max) this.#evict();
    this.#map.set(key, { value, touched: false });
    return value;
  }

  #evict(): void {
    const map = this.#map;
    // Each pass clears a flag, so this ends within size + 1 steps.
    for (;;) {
      const [key, entry] = map.entries().next().value!;
      map.delete(key);
      if (!entry.touched) break;
      entry.touched = false;
      map.set(key, entry);
    }
    this.#onEvict();
  }
}

/** The last `threshold` event times of one subject, and its last incident. */
interface Ring {
  readonly times: Float64Array;
  next: number;
  size: number;
  lastIncident: number;
}

interface Distinct {
  /** Users who failed from the IP, with their last failure time, `size` of them. */
  readonly users: string[];
  readonly times: Float64Array;
  size: number;
  lastIncident: number;
}

interface RateState {
  bucketStart: number;
  count: number;
  baseline: number;
  buckets: number;
  firedBucket: number;
}

const SEVERITY: Readonly<Record<SecurityIncidentKind, AlertSeverity>> = {
  brute_force_user: 'high',
  brute_force_ip: 'high',
  credential_stuffing: 'critical',
  authorization_denials: 'medium',
  role_escalation: 'high',
  unusual_request_rate: 'medium',
};

const KINDS = Object.keys(SEVERITY) as SecurityIncidentKind[];

function rule(name: string, value: ThresholdRule | false | undefined, fallback: ThresholdRule) {
  if (value === false) return undefined;
  const r = value ?? fallback;
  if (r === null || typeof r !== 'object') {
    throw new TypeError(`detection.${name} must be { threshold, windowMs } or false`);
  }
  if (!Number.isInteger(r.threshold) || r.threshold < 1 || r.threshold > 1000) {
    throw new TypeError(`detection.${name}.threshold must be an integer in 1..1000`);
  }
  if (typeof r.windowMs !== 'number' || !(r.windowMs > 0) || !Number.isFinite(r.windowMs)) {
    throw new TypeError(`detection.${name}.windowMs must be a number of ms > 0`);
  }
  return { threshold: r.threshold, windowMs: r.windowMs };
}

function positive(name: string, value: unknown, fallback: number, integer = false): number {
  const v = value ?? fallback;
  if (
    typeof v !== 'number' ||
    !(v > 0) ||
    !Number.isFinite(v) ||
    (integer && !Number.isInteger(v))
  ) {
    throw new TypeError(
      `detection.${name} must be a ${integer ? 'positive integer' : 'number > 0'}`,
    );
  }
  return v;
}

/**
 * The threat detector (`monitor.security.detector`): fed by `SecurityMonitor`'s
 * events, or directly. Every `observe*` call is cheap (a map lookup and a ring
 * write), never throws (failures go to diagnostics), and reads the clock once.
 *
 * @example
 * ```ts
 * import { ManualClock, Monitor, ThreatDetector } from '@prsm/core';
 *
 * const clock = new ManualClock();
 * const monitor = new Monitor({ clock });
 * const detector = new ThreatDetector(
 *   { clock, diagnostics: monitor.diagnostics, recorder: monitor },
 *   { bruteForceUser: { threshold: 3, windowMs: 60_000 } },
 * );
 * detector.onIncident((i) => console.warn(i.message));
 * for (let i = 0; i < 3; i++) detector.observeAuth('alice', '10.0.0.1', false);
 * // brute_force_user: 3 failed logins for alice within 60 s
 * ```
 */
export class ThreatDetector {
  readonly #context: SecurityContext;
  readonly #bruteUser: ThresholdRule | undefined;
  readonly #bruteIp: ThresholdRule | undefined;
  readonly #stuffing: ThresholdRule | undefined;
  readonly #denials: ThresholdRule | undefined;
  readonly #escalation:
    { strings: readonly string[]; patterns: readonly RegExp[]; learnUntil: number } | undefined;
  readonly #rate: Required<RequestRateRule> | undefined;
  readonly #cooldown: number;
  readonly #maxIncidents: number;
  readonly #failuresByUser: Lru<Ring>;
  readonly #failuresByIp: Lru<Ring>;
  readonly #usersByIp: Lru<Distinct>;
  readonly #denialsByUser: Lru<Ring>;
  readonly #privileged: Lru<true>;
  readonly #rates: Lru<RateState>;
  readonly #listeners = new Set<(incident: SecurityIncident) => void>();
  readonly #recent: SecurityIncident[] = [];
  readonly #counts: Record<SecurityIncidentKind, number>;
  readonly #handles = new Map<string, BoundCounter>();
  #evicted = 0;
  #suppressed = 0;

  /** Throws a `TypeError` naming a bad option. */
  constructor(context: SecurityContext, options: ThreatDetectionOptions = {}) {
    this.#context = checkContext(context, 'ThreatDetector');
    if (options === null || typeof options !== 'object') {
      throw new TypeError('detection options must be an object');
    }
    this.#bruteUser = rule('bruteForceUser', options.bruteForceUser, {
      threshold: 5,
      windowMs: 300_000,
    });
    this.#bruteIp = rule('bruteForceIp', options.bruteForceIp, {
      threshold: 20,
      windowMs: 300_000,
    });
    this.#stuffing = rule('credentialStuffing', options.credentialStuffing, {
      threshold: 10,
      windowMs: 600_000,
    });
    this.#denials = rule('authorizationDenials', options.authorizationDenials, {
      threshold: 10,
      windowMs: 60_000,
    });
    const esc = options.roleEscalation;
    if (esc === false) this.#escalation = undefined;
    else {
      if (esc !== undefined && (esc === null || typeof esc !== 'object')) {
        throw new TypeError('detection.roleEscalation must be an object or false');
      }
      const privileged: unknown = esc?.privileged ?? ['admin', 'root', 'superuser', 'owner'];
      if (!Array.isArray(privileged)) {
        throw new TypeError('detection.roleEscalation.privileged must be an array');
      }
      const strings: string[] = [];
      const patterns: RegExp[] = [];
      for (const p of privileged as unknown[]) {
        if (typeof p === 'string' && p !== '') strings.push(p);
        else if (p instanceof RegExp)
          patterns.push(new RegExp(p.source, p.flags.replace(/[gy]/g, '')));
        else
          throw new TypeError('detection.roleEscalation.privileged must hold strings and RegExps');
      }
      const learningMs = esc?.learningMs ?? 3_600_000;
      if (typeof learningMs !== 'number' || !(learningMs >= 0)) {
        throw new TypeError('detection.roleEscalation.learningMs must be a number of ms >= 0');
      }
      this.#escalation = { strings, patterns, learnUntil: this.#context.clock.now() + learningMs };
    }
    const rate = options.requestRate;
    if (rate === false) this.#rate = undefined;
    else {
      if (rate !== undefined && (rate === null || typeof rate !== 'object')) {
        throw new TypeError('detection.requestRate must be an object or false');
      }
      const alpha = positive('requestRate.alpha', rate?.alpha, 0.1);
      if (alpha > 1) throw new TypeError('detection.requestRate.alpha must be in (0, 1]');
      this.#rate = {
        bucketMs: positive('requestRate.bucketMs', rate?.bucketMs, 10_000),
        factor: positive('requestRate.factor', rate?.factor, 10),
        minRequests: positive('requestRate.minRequests', rate?.minRequests, 100),
        alpha,
        warmupBuckets: positive('requestRate.warmupBuckets', rate?.warmupBuckets, 6, true),
      };
    }
    this.#cooldown = options.cooldownMs ?? 60_000;
    if (typeof this.#cooldown !== 'number' || !(this.#cooldown >= 0)) {
      throw new TypeError('detection.cooldownMs must be a number of ms >= 0');
    }
    const maxTracked = positive('maxTracked', options.maxTracked, 10_000, true);
    this.#maxIncidents = positive('maxIncidents', options.maxIncidents, 100, true);
    const evict = (): void => {
      this.#evicted++;
    };
    this.#failuresByUser = new Lru(maxTracked, evict);
    this.#failuresByIp = new Lru(maxTracked, evict);
    this.#usersByIp = new Lru(maxTracked, evict);
    this.#denialsByUser = new Lru(maxTracked, evict);
    this.#privileged = new Lru(maxTracked, evict);
    this.#rates = new Lru(maxTracked, evict);
    this.#counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<
      SecurityIncidentKind,
      number
    >;
    if (options.onIncident !== undefined) {
      if (typeof options.onIncident !== 'function') {
        throw new TypeError('detection.onIncident must be a function');
      }
      this.#listeners.add(options.onIncident);
    }
    const incidents = this.#context.recorder.counter('security.incidents', {
      component: 'security',
      description: 'Security incidents detected, by kind and severity',
    });
    const critical = this.#context.recorder.counter('security.incidents.critical', {
      component: 'security',
      description: 'Critical security incidents detected, by kind',
    });
    for (const kind of KINDS) {
      for (const severity of ['critical', 'high', 'medium'] as const) {
        this.#handles.set(
          `${kind}/${severity}`,
          lazyCounter(() => incidents.bind({ kind, severity })),
        );
      }
      this.#handles.set(
        `${kind}/critical!`,
        lazyCounter(() => critical.bind({ kind })),
      );
    }
  }

  /**
   * Registers a listener called synchronously with every incident; returns its
   * remover. A listener that throws is reported to diagnostics.
   *
   * @example
   * ```ts
   * const off = detector.onIncident((i) => pager.send(i.message));
   * ```
   */
  onIncident(listener: (incident: SecurityIncident) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('onIncident needs a function');
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * The latest incidents (at most `maxIncidents`), oldest first.
   *
   * @example
   * ```ts
   * for (const i of detector.incidents()) console.log(i.kind, i.subject);
   * ```
   */
  incidents(): readonly SecurityIncident[] {
    return [...this.#recent];
  }

  /**
   * Counters.
   *
   * @example
   * ```ts
   * detector.stats().incidents.brute_force_user;
   * ```
   */
  stats(): ThreatDetectionStats {
    return {
      tracked:
        this.#failuresByUser.size +
        this.#failuresByIp.size +
        this.#usersByIp.size +
        this.#denialsByUser.size +
        this.#privileged.size +
        this.#rates.size,
      evicted: this.#evicted,
      incidents: { ...this.#counts },
      suppressed: this.#suppressed,
    };
  }

  /**
   * A login attempt. Failures count towards brute force (per user, per IP) and
   * credential stuffing (distinct users per IP). `userId` or `ip` may be undefined.
   *
   * @example
   * ```ts
   * detector.observeAuth('alice', '203.0.113.9', false);
   * ```
   */
  observeAuth(userId: string | undefined, ip: string | undefined, success: boolean): void {
    if (success) return;
    try {
      const now = this.#context.clock.now();
      if (userId !== undefined && this.#bruteUser !== undefined) {
        this.#count(this.#failuresByUser, userId, now, this.#bruteUser, 'brute_force_user');
      }
      if (ip !== undefined) {
        if (this.#bruteIp !== undefined) {
          this.#count(this.#failuresByIp, ip, now, this.#bruteIp, 'brute_force_ip');
        }
        if (userId !== undefined && this.#stuffing !== undefined) {
          this.#distinct(ip, userId, now, this.#stuffing);
        }
      }
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * An authorization check. Denials count towards a burst per user; an allowed
   * privileged permission for a user not known to hold privilege (after learning)
   * is a role escalation.
   *
   * @example
   * ```ts
   * detector.observeAuthorization('bob', 'admin:users', true);
   * ```
   */
  observeAuthorization(userId: string, permission: string, allowed: boolean): void {
    try {
      const now = this.#context.clock.now();
      if (!allowed) {
        if (this.#denials !== undefined) {
          this.#count(this.#denialsByUser, userId, now, this.#denials, 'authorization_denials');
        }
        return;
      }
      const esc = this.#escalation;
      if (esc === undefined || !this.#isPrivileged(permission)) return;
      if (this.#privileged.get(userId) !== undefined) return;
      this.#privileged.add(userId, true);
      if (now < esc.learnUntil) return;
      this.#raise(
        'role_escalation',
        'high',
        now,
        { userId },
        1,
        1,
        0,
        `${userId} used privileged permission ${permission} without having held privilege before`,
      );
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * A role grant or revocation. Granting a privileged role is a role escalation,
   * `critical` when `actorId` is the user themself.
   *
   * @example
   * ```ts
   * detector.observeRoleChange('bob', 'admin', true, 'alice');
   * ```
   */
  observeRoleChange(userId: string, role: string, granted: boolean, actorId?: string): void {
    try {
      const esc = this.#escalation;
      if (!granted || esc === undefined || !this.#isPrivileged(role)) return;
      const now = this.#context.clock.now();
      if (this.#privileged.get(userId) === undefined) this.#privileged.add(userId, true);
      const self = actorId === userId;
      this.#raise(
        'role_escalation',
        self ? 'critical' : 'high',
        now,
        { userId },
        1,
        1,
        0,
        self
          ? `${userId} granted themself the privileged role ${role}`
          : `${userId} was granted the privileged role ${role}${actorId === undefined ? '' : ` by ${actorId}`}`,
      );
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * A request from an IP (the HTTP middleware's signal), for the rate baseline. `at` is
   * when it was seen, in ms of the context's clock (default: the clock read now).
   *
   * @example
   * ```ts
   * detector.observeRequest(req.ip);
   * ```
   */
  observeRequest(ip: string, at?: number): void {
    const r = this.#rate;
    if (r === undefined) return;
    try {
      const now = at ?? this.#context.clock.now();
      const bucket = Math.floor(now / r.bucketMs) * r.bucketMs;
      const s =
        this.#rates.get(ip) ??
        this.#rates.add(ip, {
          bucketStart: bucket,
          count: 0,
          baseline: 0,
          buckets: 0,
          firedBucket: -1,
        });
      if (bucket > s.bucketStart) {
        s.baseline = s.buckets === 0 ? s.count : r.alpha * s.count + (1 - r.alpha) * s.baseline;
        s.buckets++;
        // Buckets without a request count as zeros.
        const idle = Math.round((bucket - s.bucketStart) / r.bucketMs) - 1;
        if (idle > 0) {
          s.baseline *= Math.pow(1 - r.alpha, idle);
          s.buckets += idle;
        }
        s.bucketStart = bucket;
        s.count = 0;
      }
      s.count++;
      if (s.buckets < r.warmupBuckets || s.firedBucket === bucket) return;
      const threshold = Math.max(r.minRequests, Math.ceil(r.factor * s.baseline));
      if (s.count >= threshold) {
        s.firedBucket = bucket;
        this.#raise(
          'unusual_request_rate',
          'medium',
          now,
          { ip },
          s.count,
          threshold,
          r.bucketMs,
          `${ip}: ${s.count} requests in ${r.bucketMs / 1000} s against a baseline of ${s.baseline.toFixed(1)}`,
        );
      }
    } catch (error) {
      this.#internal(error);
    }
  }

  #isPrivileged(name: string): boolean {
    const esc = this.#escalation!;
    for (const p of esc.strings) {
      if (name === p) return true;
      if (name.length > p.length && name.startsWith(p)) {
        const c = name.charCodeAt(p.length);
        // ':' '.' '/' '_' '*'
        if (c === 58 || c === 46 || c === 47 || c === 95 || c === 42) return true;
      }
    }
    for (const p of esc.patterns) if (p.test(name)) return true;
    return false;
  }

  /** One event for `key` in a ring of the last `threshold` event times. */
  #count(
    table: Lru<Ring>,
    key: string,
    now: number,
    r: ThresholdRule,
    kind: SecurityIncidentKind,
  ): void {
    const ring =
      table.get(key) ??
      table.add(key, {
        times: new Float64Array(r.threshold),
        next: 0,
        size: 0,
        lastIncident: -Infinity,
      });
    ring.times[ring.next] = now;
    ring.next = (ring.next + 1) % r.threshold;
    if (ring.size < r.threshold) ring.size++;
    if (ring.size < r.threshold) return;
    // The oldest of the last `threshold` events is where the next write goes.
    const oldest = ring.times[ring.next]!;
    if (now - oldest >= r.windowMs) return;
    ring.size = 0;
    if (now - ring.lastIncident < this.#cooldown) {
      this.#suppressed++;
      return;
    }
    ring.lastIncident = now;
    const what = kind === 'authorization_denials' ? 'authorization denials' : 'failed logins';
    const subject = kind === 'brute_force_ip' ? { ip: key } : { userId: key };
    const who = key;
    this.#raise(
      kind,
      SEVERITY[kind],
      now,
      subject,
      r.threshold,
      r.threshold,
      r.windowMs,
      `${r.threshold} ${what} for ${who} within ${r.windowMs / 1000} s`,
    );
  }

  #distinct(ip: string, userId: string, now: number, r: ThresholdRule): void {
    const d =
      this.#usersByIp.get(ip) ??
      this.#usersByIp.add(ip, {
        users: new Array<string>(r.threshold),
        times: new Float64Array(r.threshold),
        size: 0,
        lastIncident: -Infinity,
      });
    // At most `threshold` users, scanned linearly (cheaper than a Map at these sizes).
    const { users, times } = d;
    let i = 0;
    while (i < d.size && users[i] !== userId) i++;
    times[i] = now;
    if (i < d.size) return;
    users[i] = userId;
    d.size++;
    if (d.size < r.threshold) return;
    // Full: drop the users whose last failure left the window, then decide.
    let kept = 0;
    for (let j = 0; j < d.size; j++) {
      if (now - times[j]! < r.windowMs) {
        users[kept] = users[j]!;
        times[kept++] = times[j]!;
      }
    }
    d.size = kept;
    if (kept < r.threshold) return;
    const count = kept;
    d.size = 0;
    if (now - d.lastIncident < this.#cooldown) {
      this.#suppressed++;
      return;
    }
    d.lastIncident = now;
    this.#raise(
      'credential_stuffing',
      'critical',
      now,
      { ip },
      count,
      r.threshold,
      r.windowMs,
      `${count} distinct users failed to log in from ${ip} within ${r.windowMs / 1000} s`,
    );
  }

  #raise(
    kind: SecurityIncidentKind,
    severity: AlertSeverity,
    at: number,
    subject: SecurityIncident['subject'],
    count: number,
    threshold: number,
    windowMs: number,
    message: string,
  ): void {
    const incident: SecurityIncident = Object.freeze({
      id: randomUUID(),
      kind,
      severity,
      at,
      subject: Object.freeze({ ...subject }),
      count,
      threshold,
      windowMs,
      message,
    });
    this.#counts[kind]++;
    this.#recent.push(incident);
    if (this.#recent.length > this.#maxIncidents) this.#recent.shift();
    this.#handles.get(`${kind}/${severity}`)?.inc();
    if (severity === 'critical') this.#handles.get(`${kind}/critical!`)?.inc();
    for (const listener of this.#listeners) {
      try {
        listener(incident);
      } catch (error) {
        this.#context.diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `security incident listener: ${messageOf(error)}`,
        );
      }
    }
  }

  #internal(error: unknown): void {
    this.#context.diagnostics.report(
      DiagnosticCode.INTERNAL_ERROR,
      `threat detection: ${messageOf(error)}`,
    );
  }
}
