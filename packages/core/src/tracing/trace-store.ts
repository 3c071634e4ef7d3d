/**
 * tracing/: spans in and traces out. A span processor (usable in the OpenTelemetry
 * SDK or in our minimal provider) feeds finished spans to a bounded trace store; the
 * store answers the spec's `GET /traces/{trace_id}`. May import from clock/ and
 * diagnostics/, and the OpenTelemetry API.
 *
 * This file: the bounded store.
 */
import type { Clock } from '../clock/clock.js';
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';

/**
 * A value of span metadata: what OpenTelemetry allows as an attribute value.
 *
 * @example
 * ```ts
 * const value: SpanMetadataValue = ['a', 'b'];
 * ```
 */
export type SpanMetadataValue =
  | string
  | number
  | boolean
  | readonly (string | null | undefined)[]
  | readonly (number | null | undefined)[]
  | readonly (boolean | null | undefined)[];

/**
 * A finished span as the trace store keeps it.
 *
 * @example
 * ```ts
 * const spans: readonly StoredSpan[] | undefined = monitor.traces.spans(traceId);
 * const slowest = spans?.reduce((a, b) => (a.durationMs > b.durationMs ? a : b));
 * ```
 */
export interface StoredSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** The parent's span id; undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** Start, ms since the epoch. */
  readonly startMs: number;
  /** End, ms since the epoch. */
  readonly endMs: number;
  readonly durationMs: number;
  /** `error` when the span's status is ERROR, else `success`. */
  readonly status: 'success' | 'error';
  /** The status message of a failed span. */
  readonly statusMessage: string | undefined;
  /** The span's attributes. */
  readonly attributes: Readonly<Record<string, SpanMetadataValue>>;
  /** The `prsm.component` attribute, when set. */
  readonly component: string | undefined;
}

/**
 * Limits of the trace store. Every limit is checked at construction (a `TypeError`
 * names the option).
 *
 * @example
 * ```ts
 * new Monitor({ tracing: { maxTraces: 5000, maxSpansPerTrace: 200, maxTraceAgeSeconds: 3600 } });
 * ```
 */
export interface TraceStoreOptions {
  /** Traces kept; the oldest is evicted beyond it. Default 1000. */
  readonly maxTraces?: number;
  /** Spans kept per trace; further spans of the trace are dropped. Default 500. */
  readonly maxSpansPerTrace?: number;
  /** A trace is forgotten this long after its first span ended. Default 900 (15 min). */
  readonly maxTraceAgeSeconds?: number;
}

/**
 * What the store holds and what it let go.
 *
 * @example
 * ```ts
 * const { traces, evictedTraces } = monitor.traces.stats();
 * ```
 */
export interface TraceStoreStats {
  readonly traces: number;
  readonly spans: number;
  /** Traces evicted to stay within `maxTraces`. */
  readonly evictedTraces: number;
  /** Traces forgotten after `maxTraceAgeSeconds`. */
  readonly expiredTraces: number;
  /** Spans dropped because their trace already held `maxSpansPerTrace`. */
  readonly droppedSpans: number;
}

interface Entry {
  readonly firstMs: number;
  readonly spans: StoredSpan[];
}

function positiveInteger(value: unknown, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${option} must be an integer >= 1, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Finished spans grouped by trace, bounded by count and age. Eviction is oldest-first
 * (by when the trace's first span ended); every eviction and drop is counted in
 * {@link TraceStore.stats} and in the monitor's diagnostics.
 *
 * @example
 * ```ts
 * const store = new TraceStore({ maxTraces: 100 }, systemClock, new Diagnostics());
 * store.add(span);
 * store.spans(span.traceId);
 * ```
 */
export class TraceStore {
  readonly #traces = new Map<string, Entry>();
  readonly #clock: Clock;
  readonly #diagnostics: Diagnostics;
  readonly #maxTraces: number;
  readonly #maxSpans: number;
  readonly #maxAgeMs: number;
  #spanCount = 0;
  #evicted = 0;
  #expired = 0;
  #dropped = 0;

  constructor(options: TraceStoreOptions, clock: Clock, diagnostics: Diagnostics) {
    this.#maxTraces = positiveInteger(options.maxTraces, 1000, 'traceStore.maxTraces');
    this.#maxSpans = positiveInteger(options.maxSpansPerTrace, 500, 'traceStore.maxSpansPerTrace');
    const age = options.maxTraceAgeSeconds ?? 900;
    if (typeof age !== 'number' || !(age > 0) || !Number.isFinite(age)) {
      throw new TypeError(
        `traceStore.maxTraceAgeSeconds must be a positive number, got ${String(age)}`,
      );
    }
    this.#maxAgeMs = age * 1000;
    this.#clock = clock;
    this.#diagnostics = diagnostics;
  }

  /** Adds a finished span. Never throws. */
  add(span: StoredSpan): void {
    const now = this.#clock.now();
    this.#expire(now);
    let entry = this.#traces.get(span.traceId);
    if (entry === undefined) {
      if (this.#traces.size >= this.#maxTraces) this.#evictOldest();
      entry = { firstMs: now, spans: [] };
      this.#traces.set(span.traceId, entry);
    }
    if (entry.spans.length >= this.#maxSpans) {
      this.#dropped++;
      this.#diagnostics.report(
        DiagnosticCode.SPAN_DROPPED,
        `trace ${span.traceId} holds ${this.#maxSpans} spans (maxSpansPerTrace): span dropped`,
      );
      return;
    }
    entry.spans.push(span);
    this.#spanCount++;
  }

  /** The spans of a trace, in the order they ended; undefined when unknown or expired. */
  spans(traceId: string): readonly StoredSpan[] | undefined {
    this.#expire(this.#clock.now());
    return this.#traces.get(traceId)?.spans;
  }

  /** Ids of the traces held, oldest first. */
  traceIds(): string[] {
    this.#expire(this.#clock.now());
    return [...this.#traces.keys()];
  }

  /** Counts of what is held and what was let go. */
  stats(): TraceStoreStats {
    this.#expire(this.#clock.now());
    return {
      traces: this.#traces.size,
      spans: this.#spanCount,
      evictedTraces: this.#evicted,
      expiredTraces: this.#expired,
      droppedSpans: this.#dropped,
    };
  }

  #evictOldest(): void {
    for (const [traceId, entry] of this.#traces) {
      this.#traces.delete(traceId);
      this.#spanCount -= entry.spans.length;
      this.#evicted++;
      this.#diagnostics.report(
        DiagnosticCode.TRACE_EVICTED,
        `trace store full (maxTraces ${this.#maxTraces}): oldest trace evicted`,
      );
      return;
    }
  }

  #expire(now: number): void {
    // Insertion order is first-span order: stop at the first trace still young.
    for (const [traceId, entry] of this.#traces) {
      if (now - entry.firstMs < this.#maxAgeMs) return;
      this.#traces.delete(traceId);
      this.#spanCount -= entry.spans.length;
      this.#expired++;
    }
  }
}
