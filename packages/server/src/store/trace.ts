/**
 * The spec's `GET /traces/{trace_id}` object from stored span rows: the root (a span
 * without a parent, or whose parent is not stored; the earliest if several) gives the
 * operation, component, duration, time and metadata; every other span is listed in
 * start order (a parent before a child starting in the same instant).
 */
import type { SpanMetadataValue, TraceRecord, TraceSpanRecord } from '@prsm/core';

/** One stored span, as read back from SQLite. @internal */
export interface SpanRow {
  readonly trace_id: string;
  readonly span_id: string;
  readonly parent_span_id: string | null;
  readonly name: string;
  readonly start_ms: number;
  readonly end_ms: number;
  readonly duration_ms: number;
  readonly status: string;
  readonly attributes: string;
  readonly component: string | null;
}

const COMPONENT_ATTRIBUTE = 'prsm.component';

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function attributesOf(row: SpanRow): Record<string, SpanMetadataValue> {
  const parsed = JSON.parse(row.attributes) as Record<string, SpanMetadataValue>;
  const out: Record<string, SpanMetadataValue> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key !== COMPONENT_ATTRIBUTE) out[key] = value;
  }
  return out;
}

/** Builds the trace object; `rows` is not empty. @internal */
export function toTrace(traceId: string, rows: readonly SpanRow[]): TraceRecord {
  const ids = new Set(rows.map((r) => r.span_id));
  let root: SpanRow | undefined;
  for (const r of rows) {
    const orphan = r.parent_span_id === null || !ids.has(r.parent_span_id);
    if (orphan && (root === undefined || r.start_ms < root.start_ms)) root = r;
  }
  const top = root ?? rows[0]!;
  const byId = new Map(rows.map((r) => [r.span_id, r]));
  const depth = (r: SpanRow): number => {
    let d = 0;
    const seen = new Set<SpanRow>([r]);
    for (let p = byId.get(r.parent_span_id ?? ''); p !== undefined && !seen.has(p);) {
      seen.add(p);
      d++;
      p = byId.get(p.parent_span_id ?? '');
    }
    return d;
  };
  const ordered = [...rows].sort((a, b) => a.start_ms - b.start_ms || depth(a) - depth(b));
  const start = Math.min(...rows.map((r) => r.start_ms));
  const end = Math.max(...rows.map((r) => r.end_ms));
  const spans: TraceSpanRecord[] = ordered
    .filter((r) => r !== top)
    .map((r) => {
      const metadata = attributesOf(r);
      const record: TraceSpanRecord = {
        name: r.name,
        duration_ms: round(r.duration_ms),
        status: r.status === 'error' ? 'error' : 'success',
      };
      return Object.keys(metadata).length === 0 ? record : { ...record, metadata };
    });
  return {
    trace_id: traceId,
    operation: top.name,
    component: top.component ?? rows.find((r) => r.component !== null)?.component ?? 'unknown',
    total_duration_ms: round(top.parent_span_id === null ? top.duration_ms : end - start),
    spans,
    success: rows.every((r) => r.status !== 'error'),
    timestamp: new Date(top.start_ms).toISOString(),
    metadata: attributesOf(top),
  };
}
