/**
 * The spec's `GET /api/v1/monitoring/traces/{trace_id}` object, built from the spans
 * the trace store holds.
 */
import type { SpanMetadataValue, StoredSpan } from './trace-store.js';

/**
 * One span of a {@link TraceRecord}, in the spec's fields.
 *
 * @example
 * ```ts
 * const span: TraceSpanRecord = {
 *   name: 'recommendation_model_inference',
 *   duration_ms: 180.2,
 *   status: 'success',
 *   metadata: { model_version: 'v2.1', candidate_count: 150 },
 * };
 * ```
 */
export interface TraceSpanRecord {
  readonly name: string;
  readonly duration_ms: number;
  readonly status: 'success' | 'error';
  /** The span's attributes; absent when it has none. */
  readonly metadata?: Readonly<Record<string, SpanMetadataValue>>;
}

/**
 * A trace in the spec's fields: the root operation, its component and duration, and
 * the spans below it in start order.
 *
 * @example
 * ```ts
 * const t: TraceRecord | undefined = monitor.getTrace(traceId);
 * console.log(t?.operation, t?.total_duration_ms, t?.spans.length);
 * ```
 */
export interface TraceRecord {
  readonly trace_id: string;
  /** The root span's name. */
  readonly operation: string;
  /** The root span's `prsm.component` (else the first span's that has one; else `unknown`). */
  readonly component: string;
  /** The root span's duration (or first start to last end when the root is missing). */
  readonly total_duration_ms: number;
  /** Every span but the root, in start order. */
  readonly spans: readonly TraceSpanRecord[];
  /** False when any span of the trace failed. */
  readonly success: boolean;
  /** The root span's start, ISO 8601. */
  readonly timestamp: string;
  /** The root span's attributes (the component attribute aside). */
  readonly metadata: Readonly<Record<string, SpanMetadataValue>>;
}

/** Rounds to microseconds: a trace is read by people, not diffed at the nanosecond. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * The root of a trace: a span without a parent, or whose parent the store does not
 * hold; the earliest if several.
 *
 * @internal
 */
export function rootOf(spans: readonly StoredSpan[]): StoredSpan {
  const ids = new Set(spans.map((s) => s.spanId));
  let root: StoredSpan | undefined;
  for (const s of spans) {
    const orphan = s.parentSpanId === undefined || !ids.has(s.parentSpanId);
    if (orphan && (root === undefined || s.startMs < root.startMs)) root = s;
  }
  return root ?? spans[0]!;
}

/**
 * Spans by start time; a parent before its children when they start in the same
 * instant (a coarse clock, or a child started synchronously).
 */
function inStartOrder(spans: readonly StoredSpan[]): StoredSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = new Map<StoredSpan, number>();
  const depthOf = (s: StoredSpan): number => {
    let d = depth.get(s);
    if (d !== undefined) return d;
    d = 0;
    const seen = new Set<StoredSpan>([s]);
    for (let p = byId.get(s.parentSpanId ?? ''); p !== undefined && !seen.has(p);) {
      seen.add(p);
      d++;
      p = byId.get(p.parentSpanId ?? '');
    }
    depth.set(s, d);
    return d;
  };
  return [...spans].sort((a, b) => a.startMs - b.startMs || depthOf(a) - depthOf(b));
}

/** Builds the spec's trace object. @internal */
export function toTraceRecord(traceId: string, spans: readonly StoredSpan[]): TraceRecord {
  const root = rootOf(spans);
  const rootIsReal = root.parentSpanId === undefined;
  const start = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.endMs));
  const { 'prsm.component': _component, ...metadata } = root.attributes;
  return {
    trace_id: traceId,
    operation: root.name,
    component:
      root.component ?? spans.find((s) => s.component !== undefined)?.component ?? 'unknown',
    total_duration_ms: round(rootIsReal ? root.durationMs : end - start),
    spans: inStartOrder(spans)
      .filter((s) => s !== root)
      .map((s) => {
        const { 'prsm.component': _c, ...attributes } = s.attributes;
        const record: TraceSpanRecord = {
          name: s.name,
          duration_ms: round(s.durationMs),
          status: s.status,
        };
        return Object.keys(attributes).length === 0 ? record : { ...record, metadata: attributes };
      }),
    success: spans.every((s) => s.status === 'success'),
    timestamp: new Date(root.startMs).toISOString(),
    metadata,
  };
}
