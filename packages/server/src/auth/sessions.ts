/**
 * Dashboard sessions: the page exchanges a key (an API key, or a one-time login key,
 * spent by the exchange) for a session token it keeps in `sessionStorage` and sends as
 * `Authorization: Bearer`, so the key itself is never kept by the page. A session
 * stands for the key it came from (its id and role; revoking that key ends it), ends
 * at logout, after `idleMs` without a request or after `maxAgeMs`. Sessions live in
 * the server's memory (a restart logs everyone out), stored by their SHA-256, at most
 * `maxSessions` (the oldest ended first, counted). Imports only `node:crypto` and
 * this folder.
 */
import { randomBytes } from 'node:crypto';

import type { Clock } from '@prsm/core';

import { hashKey } from './keys.js';

/** The prefix of a session token: neither an API key's nor a one-time key's shape. */
const SESSION_PREFIX = 'prsms_';
const SESSION_SHAPE = /^prsms_[A-Za-z0-9_-]{43}$/;

/** Options of {@link DashboardSessions}. @internal */
export interface SessionOptions {
  /** A session unused this long ends. Default 30 minutes. */
  readonly idleMs?: number;
  /** A session ends this long after login whatever its use. Default 12 hours. */
  readonly maxAgeMs?: number;
  /** At most this many sessions at once; the oldest ends first. Default 1,000. */
  readonly maxSessions?: number;
}

interface Session {
  readonly keyId: string;
  readonly created: number;
  lastUsed: number;
}

/** A new session: the token (shown once) and when it ends at the latest. @internal */
export interface CreatedSession {
  readonly token: string;
  readonly expiresAt: number;
}

/** The dashboard's sessions, in memory. @internal */
export class DashboardSessions {
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #max: number;
  /** By token hash, in creation order (a Map keeps insertion order). */
  readonly #sessions = new Map<string, Session>();
  /** Sessions ended to stay within `maxSessions`. */
  evicted = 0;

  constructor(clock: Clock, options: SessionOptions = {}) {
    const positive = (name: keyof SessionOptions, fallback: number): number => {
      const v = options[name] ?? fallback;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw new TypeError(`sessions: options.${name} must be a positive number`);
      }
      return v;
    };
    this.#clock = clock;
    this.#idleMs = positive('idleMs', 30 * 60_000);
    this.#maxAgeMs = positive('maxAgeMs', 12 * 3_600_000);
    this.#max = Math.floor(positive('maxSessions', 1_000));
  }

  /** How many sessions are open (ended ones not yet swept included). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Opens a session standing for the key `keyId`. */
  create(keyId: string): CreatedSession {
    const now = this.#clock.now();
    this.#sweep(now);
    while (this.#sessions.size >= this.#max) {
      const oldest = this.#sessions.keys().next();
      if (oldest.done === true) break;
      this.#sessions.delete(oldest.value);
      this.evicted += 1;
    }
    const token = SESSION_PREFIX + randomBytes(32).toString('base64url');
    this.#sessions.set(hashKey(token), { keyId, created: now, lastUsed: now });
    return { token, expiresAt: now + this.#maxAgeMs };
  }

  /**
   * The key id a live session token stands for (and the session's use noted), or
   * `undefined` for anything else.
   */
  find(token: string): string | undefined {
    if (!SESSION_SHAPE.test(token)) return undefined;
    const hash = hashKey(token);
    const s = this.#sessions.get(hash);
    if (s === undefined) return undefined;
    const now = this.#clock.now();
    if (this.#expired(s, now)) {
      this.#sessions.delete(hash);
      return undefined;
    }
    s.lastUsed = Math.max(s.lastUsed, now);
    return s.keyId;
  }

  /** Ends a session; whether it was open. */
  end(token: string): boolean {
    return SESSION_SHAPE.test(token) && this.#sessions.delete(hashKey(token));
  }

  /** Whether a string has the shape of a session token. */
  static looksLikeSession(value: string): boolean {
    return SESSION_SHAPE.test(value);
  }

  #expired(s: Session, now: number): boolean {
    return now - s.lastUsed >= this.#idleMs || now - s.created >= this.#maxAgeMs;
  }

  #sweep(now: number): void {
    for (const [hash, s] of this.#sessions) {
      if (this.#expired(s, now)) this.#sessions.delete(hash);
    }
  }
}
