/**
 * components/: one-call recorders for the spec's Component Monitoring Matrix
 * (marketplace, recommendation, long jobs, security), cache effectiveness and cost
 * analytics, and what they add to `analytics({ component }).component_specific`.
 * May import from metrics/, analytics/, security/, health/, clock/ and diagnostics/;
 * the Monitor hands each piece a {@link ComponentHost} (itself).
 */
import type { Clock } from '../clock/clock.js';
import type { Diagnostics } from '../diagnostics/diagnostics.js';
import type { ComponentReading } from '../analytics/source.js';
import type { Counter, Gauge, Histogram, Timer } from '../metrics/instruments.js';
import type { WindowRates } from '../metrics/snapshot.js';
import type { InstrumentOptions, Tags } from '../metrics/types.js';

/**
 * What the component helpers need of a monitor (a `Monitor` fits, with `readComponent`
 * bound by the Monitor to its analytics source).
 *
 * @example
 * ```ts
 * const host: ComponentHost = {
 *   clock, diagnostics, windows: [60, 300, 900],
 *   counter: (n, o) => monitor.counter(n, o), gauge: (n, o) => monitor.gauge(n, o),
 *   histogram: (n, o) => monitor.histogram(n, o), timer: (n, o) => monitor.timer(n, o),
 *   getPercentiles: (n, q, s) => monitor.getPercentiles(n, q, s),
 *   getRates: (n, s) => monitor.getRates(n, s),
 * };
 * ```
 */
export interface ComponentHost {
  /** Where time comes from. */
  readonly clock: Clock;
  /** Where bad input and internal failures are reported. */
  readonly diagnostics: Diagnostics;
  /** The monitor's windows (seconds), ascending. */
  readonly windows: readonly number[];
  /** A counter handle (see `Monitor.counter`). */
  counter(name: string, options?: InstrumentOptions): Counter;
  /** A gauge handle (see `Monitor.gauge`). */
  gauge(name: string, options?: InstrumentOptions): Gauge;
  /** A histogram handle (see `Monitor.histogram`). */
  histogram(name: string, options?: InstrumentOptions): Histogram;
  /** A timer handle (see `Monitor.timer`). */
  timer(name: string, options?: InstrumentOptions): Timer;
  /** Quantiles of a series over a window (see `Monitor.getPercentiles`). */
  getPercentiles(
    name: string,
    quantiles: readonly number[],
    query?: { component?: string; tags?: Tags; windowSeconds?: number | 'cumulative' },
  ): number[];
  /** Counts and rates of a series over a window (see `Monitor.getRates`). */
  getRates(
    name: string,
    query?: { component?: string; tags?: Tags; windowSeconds?: number | 'cumulative' },
  ): WindowRates | undefined;
  /** A component's series over a window, without quantiles (the costs read volumes here). */
  readComponent?(component: string, windowSeconds: number): ComponentReading;
}

/** The window the helpers read percentiles over: the longest configured one up to 900 s. */
export function readWindow(windows: readonly number[]): number {
  let best = windows[0] ?? 60;
  for (const w of windows) if (w <= 900) best = w;
  return best;
}

/** Rounds to `digits` decimals (NaN stays NaN). */
export function round(value: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A value for a component_specific key: finite, rounded; undefined otherwise. */
export function put(out: Record<string, number>, key: string, value: number, digits = 4): void {
  if (Number.isFinite(value)) out[key] = round(value, digits);
}

/** `value` as a snake_case key part (`Card Declined` → `card_declined`). */
export function keyPart(value: string): string {
  return (
    value
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 64) || 'unnamed'
  );
}

/** Whether `value` is a finite number (a type guard for input checks). */
export function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Values of one tag kept under a cap: the first `max` distinct values are kept, the rest
 * become `other`, and each such fold is counted.
 */
export class CappedValues {
  readonly #seen = new Set<string>();
  readonly #max: number;
  /** Values folded into `other` because the cap was reached. */
  folded = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** The value to record: `value` itself while under the cap, else `'other'`. */
  get(value: string | undefined): string {
    const v = value === undefined || value === '' ? 'unknown' : value.slice(0, 128);
    if (this.#seen.has(v)) return v;
    if (this.#seen.size < this.#max) {
      this.#seen.add(v);
      return v;
    }
    this.folded++;
    return 'other';
  }
}
