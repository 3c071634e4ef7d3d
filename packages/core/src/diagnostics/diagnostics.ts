/**
 * diagnostics/: the one funnel for the SDK's own problems (bad input on the hot path,
 * an exporter that failed, a bug of ours). It counts every event by a stable code and
 * hands a rate-limited message to a pluggable logger, silent by default. Nothing in
 * here can throw, so callers on the hot path need no try/catch of their own.
 * Imports nothing.
 */

/**
 * Stable codes for everything the SDK reports about itself. A code is never reused
 * for another meaning; new ones are added at the end.
 *
 * @example
 * ```ts
 * monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE); // how many NaNs were dropped
 * ```
 */
export const DiagnosticCode = {
  /** A value that is not a finite number (NaN, ±Infinity, a string...). Dropped. */
  INVALID_VALUE: 'PRSM_INVALID_VALUE',
  /** A counter increment below zero. Dropped. */
  NEGATIVE_INCREMENT: 'PRSM_NEGATIVE_INCREMENT',
  /** A tag (or label) value that is not a string, or a malformed tag object. Dropped. */
  INVALID_TAGS: 'PRSM_INVALID_TAGS',
  /** A `metricType` outside counter, gauge, histogram, timer. Dropped. */
  UNKNOWN_METRIC_TYPE: 'PRSM_UNKNOWN_METRIC_TYPE',
  /** A metric name already registered with another type. Dropped. */
  TYPE_CONFLICT: 'PRSM_TYPE_CONFLICT',
  /** An empty or non-string metric name or component. Dropped. */
  INVALID_NAME: 'PRSM_INVALID_NAME',
  /** A new tag set beyond the per-metric series cap; recorded into the overflow series. */
  SERIES_OVERFLOW: 'PRSM_SERIES_OVERFLOW',
  /** A new metric name beyond `maxMetrics`. Dropped. */
  METRIC_LIMIT: 'PRSM_METRIC_LIMIT',
  /** The clock went backwards; the current sub-window is kept until time catches up. */
  CLOCK_BACKWARDS: 'PRSM_CLOCK_BACKWARDS',
  /** An error inside the SDK itself, caught so it never reaches user code. */
  INTERNAL_ERROR: 'PRSM_INTERNAL_ERROR',
  /** A call made after `monitor.shutdown()`. Dropped. */
  AFTER_SHUTDOWN: 'PRSM_AFTER_SHUTDOWN',
  /** The trace store was full: its oldest trace was evicted. */
  TRACE_EVICTED: 'PRSM_TRACE_EVICTED',
  /** A trace already held `maxSpansPerTrace` spans: a further span was dropped. */
  SPAN_DROPPED: 'PRSM_SPAN_DROPPED',
  /** `tracing: true` found a tracer provider already registered: add `monitor.spanProcessor` to it. */
  TRACER_PROVIDER_EXISTS: 'PRSM_TRACER_PROVIDER_EXISTS',
  /** An alert rule's evaluation threw (a bug, or a custom signal source failing); the rule keeps its state. */
  ALERT_EVALUATION_FAILED: 'PRSM_ALERT_EVALUATION_FAILED',
  /** A notification channel reported a failed delivery (after its own retries), or threw. */
  NOTIFICATION_FAILED: 'PRSM_NOTIFICATION_FAILED',
  /** A notification was dropped: its channel's queue was full, or the monitor had shut down. */
  NOTIFICATION_DROPPED: 'PRSM_NOTIFICATION_DROPPED',
  /** The oldest alert history entry was dropped to keep the history bounded. */
  ALERT_HISTORY_DROPPED: 'PRSM_ALERT_HISTORY_DROPPED',
  /** Export items dropped: the export queue was full, a batch failed for good, or shutdown's deadline passed. */
  EXPORT_DROPPED: 'PRSM_EXPORT_DROPPED',
} as const;

/**
 * One of the {@link DiagnosticCode} values.
 *
 * @example
 * ```ts
 * const code: DiagnosticCodeValue = 'PRSM_INVALID_VALUE';
 * ```
 */
export type DiagnosticCodeValue = (typeof DiagnosticCode)[keyof typeof DiagnosticCode];

/**
 * Where the SDK's own messages go. `console` fits; so do pino and winston loggers.
 *
 * @example
 * ```ts
 * const monitor = new Monitor({ logger: console });
 * ```
 */
export interface DiagnosticLogger {
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
  debug?(message: string, context?: Record<string, unknown>): void;
}

/**
 * A logger that drops everything: the default, so an SDK never writes to a service's
 * output unless asked.
 *
 * @example
 * ```ts
 * const monitor = new Monitor({ logger: silentLogger });
 * ```
 */
export const silentLogger: DiagnosticLogger = Object.freeze({
  warn: (): void => {},
  error: (): void => {},
  debug: (): void => {},
});

/**
 * Counts and logs the SDK's own events. Messages for one code are logged on the 1st,
 * 10th, 100th... occurrence (with the running count), so a hot loop of bad input
 * cannot flood the log; the count is always exact.
 *
 * @example
 * ```ts
 * const diagnostics = new Diagnostics(console);
 * diagnostics.report(DiagnosticCode.INVALID_VALUE, 'histogram api.latency got NaN');
 * diagnostics.count(DiagnosticCode.INVALID_VALUE); // 1
 * ```
 */
export class Diagnostics {
  readonly #logger: DiagnosticLogger;
  readonly #counts = new Map<string, number>();
  #nextLogAt = new Map<string, number>();

  constructor(logger: DiagnosticLogger = silentLogger) {
    this.#logger = logger;
  }

  /** Counts one event and logs it (rate-limited) as a warning. Never throws. */
  report(code: DiagnosticCodeValue, message: string, context?: Record<string, unknown>): void {
    const n = this.#bump(code);
    if (n === (this.#nextLogAt.get(code) ?? 1)) {
      this.#nextLogAt.set(code, n * 10);
      this.#safeLog('warn', `[${code}] ${message}${n > 1 ? ` (${n} times so far)` : ''}`, context);
    }
  }

  /**
   * Counts and logs an error caught inside the SDK (an exporter, a listener, a bug of
   * ours). Never throws, whatever `error` is.
   */
  error(code: DiagnosticCodeValue, error: unknown, context?: Record<string, unknown>): void {
    const n = this.#bump(code);
    if (n === (this.#nextLogAt.get(code) ?? 1)) {
      this.#nextLogAt.set(code, n * 10);
      let text: string;
      try {
        text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      } catch {
        text = 'unprintable error';
      }
      this.#safeLog('error', `[${code}] ${text}${n > 1 ? ` (${n} times so far)` : ''}`, {
        ...context,
        error,
      });
    }
  }

  /** How many times `code` was reported. */
  count(code: DiagnosticCodeValue): number {
    return this.#counts.get(code) ?? 0;
  }

  /** Every code reported so far with its count. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  #bump(code: string): number {
    const n = (this.#counts.get(code) ?? 0) + 1;
    this.#counts.set(code, n);
    return n;
  }

  #safeLog(level: 'warn' | 'error', message: string, context?: Record<string, unknown>): void {
    try {
      this.#logger[level](message, context);
    } catch {
      // A broken logger must not break the host; the count above still tells.
    }
  }
}
