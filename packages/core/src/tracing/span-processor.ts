/**
 * The span processor that feeds the trace store: add it to an OpenTelemetry SDK
 * (`new NodeSDK({ spanProcessors: [monitor.spanProcessor] })`), or let
 * `new Monitor({ tracing: true })` use it in the minimal provider.
 */
import { type Context, type HrTime, type SpanContext, SpanStatusCode } from '@opentelemetry/api';
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';
import type { SpanMetadataValue, StoredSpan, TraceStore } from './trace-store.js';

/**
 * What the processor reads of a finished span: the fields of the OpenTelemetry SDK's
 * `ReadableSpan` (1.x `parentSpanId` and 2.x `parentSpanContext` both work), which
 * the minimal provider's spans have too.
 *
 * @example
 * ```ts
 * const finished: FinishedSpan = readableSpanFromTheSdk;
 * monitor.spanProcessor.onEnd(finished);
 * ```
 */
export interface FinishedSpan {
  readonly name: string;
  spanContext(): SpanContext;
  readonly parentSpanContext?: SpanContext | undefined;
  readonly parentSpanId?: string | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: { readonly code: SpanStatusCode; readonly message?: string | undefined };
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** Converts OpenTelemetry's `[seconds, nanoseconds]` to milliseconds. */
function hrTimeToMs(time: HrTime): number {
  return time[0] * 1000 + time[1] / 1e6;
}

function metadataValue(value: unknown): SpanMetadataValue | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value as SpanMetadataValue;
  return undefined;
}

/**
 * A span processor with the shape of the OpenTelemetry SDK's `SpanProcessor`
 * (`onStart`, `onEnd`, `forceFlush`, `shutdown`) that keeps every finished span in
 * the monitor's bounded trace store. It never throws into the SDK.
 *
 * @example
 * ```ts
 * import { NodeSDK } from '@opentelemetry/sdk-node';
 *
 * const monitor = new Monitor();
 * new NodeSDK({ spanProcessors: [monitor.spanProcessor] }).start();
 * // later: monitor.getTrace(traceId)
 * ```
 */
/**
 * What masks secrets in a span before it is stored (a `Redactor` from
 * `createRedactor()`; the monitor passes its own).
 *
 * @example
 * ```ts
 * const processor = new PrsmSpanProcessor(store, diagnostics, undefined, createRedactor());
 * ```
 */
export interface SpanRedactor {
  redactAttributes<V>(attributes: Readonly<Record<string, V>>): Record<string, V | string>;
  redactString(text: string): string;
}

export class PrsmSpanProcessor {
  readonly #store: TraceStore;
  readonly #diagnostics: Diagnostics;
  #shutdown = false;

  readonly #onStored: ((span: StoredSpan) => void) | undefined;
  readonly #redactor: SpanRedactor | undefined;

  /**
   * `onStored` (the monitor's exporters) sees every span once stored; `redactor` masks
   * secrets in attributes and status messages before a span is stored or exported.
   */
  constructor(
    store: TraceStore,
    diagnostics: Diagnostics,
    onStored?: (span: StoredSpan) => void,
    redactor?: SpanRedactor,
  ) {
    this.#store = store;
    this.#diagnostics = diagnostics;
    this.#onStored = onStored;
    this.#redactor = redactor;
  }

  /** Nothing to do when a span starts. */
  onStart(_span: unknown, _parentContext: Context): void {}

  /** Stores the finished span in the trace store. */
  onEnd(span: FinishedSpan): void {
    if (this.#shutdown) return;
    try {
      const context = span.spanContext();
      let attributes: Record<string, SpanMetadataValue> = {};
      for (const [key, value] of Object.entries(span.attributes)) {
        const v = metadataValue(value);
        if (v !== undefined) attributes[key] = v;
      }
      const redactor = this.#redactor;
      if (redactor !== undefined) attributes = redactor.redactAttributes(attributes);
      const startMs = hrTimeToMs(span.startTime);
      const endMs = hrTimeToMs(span.endTime);
      const component = attributes['prsm.component'];
      const stored: StoredSpan = {
        traceId: context.traceId,
        spanId: context.spanId,
        parentSpanId: span.parentSpanContext?.spanId ?? span.parentSpanId,
        name: span.name,
        startMs,
        endMs,
        durationMs: Math.max(0, endMs - startMs),
        status: span.status.code === SpanStatusCode.ERROR ? 'error' : 'success',
        statusMessage:
          redactor !== undefined && span.status.message !== undefined
            ? redactor.redactString(span.status.message)
            : span.status.message,
        attributes,
        component: typeof component === 'string' ? component : undefined,
      };
      this.#store.add(stored);
      this.#onStored?.(stored);
    } catch (error) {
      this.#diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, {
        where: 'spanProcessor.onEnd',
      });
    }
  }

  /** Spans are stored synchronously: nothing to flush. */
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Stops storing spans. */
  shutdown(): Promise<void> {
    this.#shutdown = true;
    return Promise.resolve();
  }
}
