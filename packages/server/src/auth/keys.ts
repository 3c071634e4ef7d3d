/**
 * auth/: API keys and roles. A key is 32 random bytes, shown once and stored only as
 * its SHA-256 hash; a role decides which routes a key may call. A one-time login key
 * (`prsmo_`) is spent once by the dashboard's login for a session (sessions.ts), which
 * then stands for that key until it ends. Imports only
 * `node:crypto`.
 */
import { createHash, randomBytes } from 'node:crypto';

/**
 * The roles a key can hold. `ingest` writes metrics, spans, business metrics and
 * batches; `read` reads traces, alerts and the Prometheus text; `enterprise` is
 * `read` plus the business dashboard; `admin` holds every permission (alert rules
 * included).
 *
 * @example
 * ```ts
 * const role: Role = 'ingest';
 * ```
 */
export type Role = 'ingest' | 'read' | 'enterprise' | 'admin';

/**
 * Every {@link Role}, in order of increasing reach.
 *
 * @example
 * ```ts
 * if (!ROLES.includes(value as Role)) throw new TypeError(`unknown role ${value}`);
 * ```
 */
export const ROLES: readonly Role[] = Object.freeze(['ingest', 'read', 'enterprise', 'admin']);

/**
 * What a route asks of the caller's role.
 *
 * @example
 * ```ts
 * const permission: Permission = 'read';
 * ```
 */
export type Permission = 'ingest' | 'read' | 'enterprise' | 'admin';

const GRANTS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  ingest: new Set<Permission>(['ingest']),
  read: new Set<Permission>(['read']),
  enterprise: new Set<Permission>(['read', 'enterprise']),
  admin: new Set<Permission>(['ingest', 'read', 'enterprise', 'admin']),
};

/** Whether `role` grants `permission`. @internal */
export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

/** Whether a string is one of the {@link ROLES}. @internal */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** The prefix of every key, so a leaked key is recognisable by secret scanners. */
export const KEY_PREFIX = 'prsm_';

const KEY_SHAPE = /^prsm_[A-Za-z0-9_-]{43}$/;

/** A new random key: `prsm_` and 32 random bytes in base64url. @internal */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** A new key id: short, random, safe to print and log. @internal */
export function generateKeyId(): string {
  return `key_${randomBytes(6).toString('hex')}`;
}

/** The SHA-256 of a key, hex: the only form a key is stored in. @internal */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Whether a string has the shape of a key (before looking its hash up). @internal */
export function looksLikeKey(value: string): boolean {
  return KEY_SHAPE.test(value);
}

/**
 * The prefix of a one-time login key: a different shape from {@link KEY_PREFIX}'s, so
 * the API's key check never accepts it; only the dashboard's login spends it, once.
 *
 * @example
 * ```ts
 * if (key.startsWith(ONE_TIME_KEY_PREFIX)) console.log('exchange it at the login page');
 * ```
 */
export const ONE_TIME_KEY_PREFIX = 'prsmo_';

const ONE_TIME_SHAPE = /^prsmo_[A-Za-z0-9_-]{43}$/;

/** A new one-time login key: `prsmo_` and 32 random bytes in base64url. @internal */
export function generateOneTimeKey(): string {
  return ONE_TIME_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** A new one-time key id (`otk_`...): the store tells one-time keys by it. @internal */
export function generateOneTimeKeyId(): string {
  return `otk_${randomBytes(6).toString('hex')}`;
}

/** Whether a string has the shape of a one-time login key. @internal */
export function looksLikeOneTimeKey(value: string): boolean {
  return ONE_TIME_SHAPE.test(value);
}
