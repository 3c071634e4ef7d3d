import { type Clock, systemClock } from '../clock/clock.js';
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';

/**
 * Knows which sub-window is current, so a record compares one integer instead of
 * reading the clock (`Date.now()` alone costs ~40 ns here, more than a whole record).
 *
 * - the system clock: one unref'd timer fires at each sub-window boundary, and every
 *   buffer flush re-reads the clock, so even a loop that never yields is off by at
 *   most one buffer of values;
 * - a clock with `onChange` (ManualClock): updated the instant time is set;
 * - any other clock: `poll` is true and each record reads the clock itself.
 *
 * The slot never moves backwards: if the clock does, the current sub-window is kept
 * until time passes it again.
 *
 * @internal
 */
export class SlotTicker {
  /** The current sub-window: `floor(now / slotMs)`. */
  slot: number;
  /** Whether records must read the clock themselves. */
  poll: boolean;
  readonly slotMs: number;
  readonly clock: Clock;
  readonly #diagnostics: Diagnostics;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;

  constructor(clock: Clock, slotMs: number, diagnostics: Diagnostics) {
    this.clock = clock;
    this.slotMs = slotMs;
    this.#diagnostics = diagnostics;
    this.slot = Math.floor(clock.now() / slotMs);
    this.monotonic = clock === systemClock ? () => performance.now() : () => clock.now();
    if (clock === systemClock) {
      this.poll = false;
      this.#schedule();
    } else if (typeof clock.onChange === 'function') {
      this.poll = false;
      this.#unsubscribe = clock.onChange(() => this.read());
    } else {
      this.poll = true;
    }
  }

  /** Reads the clock and moves the slot forward if a boundary has passed. */
  read(): number {
    const now = this.clock.now();
    const slot = Math.floor(now / this.slotMs);
    if (slot > this.slot) this.slot = slot;
    else if (slot < this.slot) {
      this.#diagnostics.report(DiagnosticCode.CLOCK_BACKWARDS, 'clock went backwards', { now });
    }
    return this.slot;
  }

  /**
   * A monotonic time in ms for measuring durations: `performance.now()` with the
   * system clock, the injected clock's `now()` otherwise (so tests control durations).
   */
  readonly monotonic: () => number;

  /** The current time in ms, from the clock. */
  now(): number {
    return this.clock.now();
  }

  /** Stops the timer or subscription; later records read the clock themselves. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.poll = true;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const now = this.clock.now();
    const wait = this.slotMs - (now % this.slotMs) + 1;
    this.#timer = setTimeout(() => {
      this.read();
      this.#schedule();
    }, wait);
    this.#timer.unref();
  }
}
