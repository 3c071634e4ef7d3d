/**
 * clock/: where the monitor's time comes from. Everything time-based (sub-window
 * rotation, rates, later alert `for` durations and escalation) reads an injected
 * {@link Clock}, so tests move time by hand instead of sleeping. Imports nothing.
 */

/**
 * A source of wall-clock time in milliseconds since the Unix epoch.
 *
 * Anything with `now()` works. A clock that can also tell listeners when it jumps
 * (like {@link ManualClock}) lets the monitor rotate windows the instant time moves;
 * for any other custom clock the monitor reads `now()` on every record, which is
 * correct but slower.
 *
 * @example
 * ```ts
 * const offsetClock: Clock = { now: () => Date.now() + 1000 };
 * const monitor = new Monitor({ clock: offsetClock });
 * ```
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Optional: registers a listener called synchronously after every change of time.
   * Returns a function that removes it.
   */
  onChange?(listener: () => void): () => void;
}

/**
 * The real clock: `Date.now()`. The monitor's default; it watches sub-window
 * boundaries with one unref'd timer instead of reading the time on every record.
 *
 * @example
 * ```ts
 * const monitor = new Monitor({ clock: systemClock }); // same as the default
 * ```
 */
export const systemClock: Clock = Object.freeze({ now: (): number => Date.now() });

/**
 * A clock that moves only when told to: for tests of windows, rates and alert rules,
 * yours and ours, without sleeping. Starts at `start` (default 0, the epoch).
 *
 * @example
 * ```ts
 * import { ManualClock, Monitor } from '@prsm/core';
 *
 * const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 30));
 * const monitor = new Monitor({ clock });
 * monitor.histogram('api.latency').bind({ route: '/x' }).record(120);
 * clock.advance(60_000); // one minute later, instantly
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  readonly #listeners = new Set<() => void>();

  constructor(start = 0) {
    if (!Number.isFinite(start))
      throw new TypeError(`ManualClock start must be finite, got ${start}`);
    this.#now = start;
  }

  /** The current time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Moves time forward by `ms` (which must be finite and not negative). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new TypeError(`ManualClock.advance(ms) needs a finite ms >= 0, got ${ms}`);
    }
    this.set(this.#now + ms);
  }

  /** Sets the time to `ms` since the epoch. Going backwards is allowed, as real clocks do. */
  set(ms: number): void {
    if (!Number.isFinite(ms))
      throw new TypeError(`ManualClock.set(ms) needs a finite ms, got ${ms}`);
    this.#now = ms;
    for (const listener of this.#listeners) listener();
  }

  /** Registers a listener called after every `advance` or `set`; returns its remover. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
