/**
 * Test helpers for analytics/: a seeded random number generator, fixed sources, and
 * synthetic spans.
 */
import type { StoredSpan } from '../tracing/trace-store.js';
import type { AnalyticsSource, ComponentReading, OperationReading } from './source.js';

export const T0 = Date.UTC(2024, 0, 15, 0, 0);

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box-Muller) from a uniform generator. */
export function gaussian(uniform: () => number): () => number {
  return () => {
    const u = Math.max(uniform(), 1e-12);
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export function op(name: string, fields: Partial<OperationReading> = {}): OperationReading {
  return {
    name,
    totalCount: 0,
    totalErrors: 0,
    totalSum: 0,
    count: 0,
    errors: 0,
    sum: 0,
    p50: NaN,
    p99: NaN,
    ...fields,
  };
}

/** A source whose readings the test sets; `reads` counts calls. */
export class FixedSource implements AnalyticsSource {
  readings = new Map<string, ComponentReading>();
  reads = 0;
  fail = false;

  set(component: string, fields: Partial<Omit<ComponentReading, 'component'>>): void {
    this.readings.set(component, {
      component,
      operations: [],
      latencyP99: NaN,
      coveredSeconds: 60,
      counters: new Map(),
      gauges: new Map(),
      ...fields,
    });
  }

  components(): readonly string[] {
    if (this.fail) throw new Error('source down');
    return [...this.readings.keys()];
  }

  read(component: string): ComponentReading {
    this.reads++;
    if (this.fail) throw new Error('source down');
    return (
      this.readings.get(component) ?? {
        component,
        operations: [],
        latencyP99: NaN,
        coveredSeconds: 60,
        counters: new Map(),
        gauges: new Map(),
      }
    );
  }
}

let nextId = 0;

export function spanOf(
  traceId: string,
  name: string,
  startMs: number,
  durationMs: number,
  fields: Partial<StoredSpan> = {},
): StoredSpan {
  return {
    traceId,
    spanId: `s${++nextId}`,
    parentSpanId: undefined,
    name,
    startMs,
    endMs: startMs + durationMs,
    durationMs,
    status: 'success',
    statusMessage: undefined,
    attributes: {},
    component: undefined,
    ...fields,
  };
}

/**
 * A trace: a root of `rootMs` in `component` with children (name, ms, attributes,
 * status) run one after the other.
 */
export function traceOf(
  traceId: string,
  component: string,
  root: string,
  rootMs: number,
  children: readonly {
    name: string;
    ms: number;
    attributes?: StoredSpan['attributes'];
    status?: 'success' | 'error';
  }[],
): StoredSpan[] {
  const r = spanOf(traceId, root, T0, rootMs, {
    component,
    attributes: { 'prsm.component': component },
  });
  let at = T0;
  const spans = [r];
  for (const c of children) {
    spans.push(
      spanOf(traceId, c.name, at, c.ms, {
        parentSpanId: r.spanId,
        attributes: c.attributes ?? {},
        status: c.status ?? 'success',
      }),
    );
    at += c.ms;
  }
  return spans;
}
