/**
 * Bottlenecks: child spans that dominate the self time of a component's slowest
 * traces, and operations with the largest p99 × volume; plus each dependency's call
 * and error counts, for the circuit-breaker recommendation.
 */
import type { StoredSpan } from '../tracing/trace-store.js';
import type { OperationReading } from './source.js';
import { round } from './stats.js';
import type { Bottleneck } from './types.js';

/**
 * Thresholds of {@link analyzeTraces} and {@link operationBottlenecks}.
 *
 * @example
 * ```ts
 * const options: BottleneckOptions = { slowFraction: 0.1, minShare: 0.2, maxTraces: 10_000 };
 * ```
 */
export interface BottleneckOptions {
  /** The slowest fraction of each operation's traces examined. Default 0.1 (at least one trace). */
  readonly slowFraction?: number;
  /** A span is a bottleneck when its self time is at least this share of the slow traces' time. Default 0.2. */
  readonly minShare?: number;
  /** Newest traces examined at most. Default 10,000. */
  readonly maxTraces?: number;
  /** An operation is a bottleneck at this share of the component's p99 × volume. Default 0.5. */
  readonly minOperationShare?: number;
  /** Window samples an operation needs to count. Default 20. */
  readonly minOperationSamples?: number;
}

/**
 * A dependency's calls in the traces examined.
 *
 * @example
 * ```ts
 * const d: DependencyStats = analysis.dependencies[0]!;
 * if (d.errors / d.calls > 0.05) console.warn(d.dependency, 'failing');
 * ```
 */
export interface DependencyStats {
  /** `peer.service`, `server.address`, `db.system`, else the span's name. */
  readonly dependency: string;
  /** `database` or `external`. */
  readonly kind: 'database' | 'external';
  /** Spans seen. */
  readonly calls: number;
  /** Of which failed. */
  readonly errors: number;
}

/**
 * What the traces of a component showed.
 *
 * @example
 * ```ts
 * const { bottlenecks, dependencies, traces } = analyzeTraces(spansOf(monitor.traces), 'marketplace');
 * ```
 */
export interface TraceAnalysis {
  /** Span bottlenecks, largest share first. */
  readonly bottlenecks: readonly Bottleneck[];
  /** Dependencies by calls, most first. */
  readonly dependencies: readonly DependencyStats[];
  /** Traces of the component examined. */
  readonly traces: number;
}

const DB_ATTRIBUTES = ['db.system', 'db.statement', 'db.query.text', 'db.operation', 'db.name'];
const EXTERNAL_ATTRIBUTES = [
  'peer.service',
  'server.address',
  'http.url',
  'url.full',
  'http.method',
  'http.request.method',
  'rpc.system',
];
const DB_NAME = /(^|[^a-z])(db|sql|query|database|postgres|mysql|mongo)([^a-z]|$)/i;

/**
 * A name in the spec's style: lower snake case.
 *
 * @example
 * ```ts
 * snakeCase('Recommendation Model.inference'); // 'recommendation_model_inference'
 * ```
 */
export function snakeCase(name: string): string {
  return (
    name
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'unnamed'
  );
}

/**
 * What a span is: a database call (a `db.*` attribute, or db/sql/query in its name),
 * an external call (`peer.service`, `server.address`, an HTTP or RPC client
 * attribute), or the service's own work.
 *
 * @example
 * ```ts
 * spanKind({ ...span, attributes: { 'db.system': 'postgresql' } }); // 'database'
 * ```
 */
export function spanKind(
  span: Pick<StoredSpan, 'name' | 'attributes'>,
): 'database' | 'external' | 'internal' {
  const a = span.attributes;
  if (DB_ATTRIBUTES.some((k) => a[k] !== undefined) || DB_NAME.test(span.name)) return 'database';
  if (EXTERNAL_ATTRIBUTES.some((k) => a[k] !== undefined)) return 'external';
  return 'internal';
}

/**
 * The name a span's bottleneck is listed under: `database_query_optimization` for
 * database calls, `external_api_dependencies` for external ones, else the span's
 * name in snake case (`recommendation_model_inference`).
 *
 * @example
 * ```ts
 * bottleneckName({ name: 'SELECT listings', attributes: { 'db.system': 'postgresql' } }); // 'database_query_optimization'
 * ```
 */
export function bottleneckName(span: Pick<StoredSpan, 'name' | 'attributes'>): string {
  switch (spanKind(span)) {
    case 'database':
      return 'database_query_optimization';
    case 'external':
      return 'external_api_dependencies';
    default:
      return snakeCase(span.name);
  }
}

function dependencyOf(span: StoredSpan, kind: 'database' | 'external'): string {
  const a = span.attributes;
  for (const key of kind === 'database'
    ? ['db.system', 'db.name']
    : ['peer.service', 'server.address']) {
    const v = a[key];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return span.name;
}

/** The span without a parent (the earliest if several), else the earliest orphan. */
function rootOf(spans: readonly StoredSpan[]): StoredSpan | undefined {
  let root: StoredSpan | undefined;
  for (const s of spans) {
    if (s.parentSpanId === undefined && (root === undefined || s.startMs < root.startMs)) root = s;
  }
  if (root !== undefined) return root;
  // The root was dropped or is still open: its orphaned children stand in.
  const ids = new Set<string>();
  for (const s of spans) ids.add(s.spanId);
  for (const s of spans) {
    const orphan = !ids.has(s.parentSpanId!);
    if (orphan && (root === undefined || s.startMs < root.startMs)) root = s;
  }
  return root;
}

/**
 * Examines the traces of `component` (a trace belongs to the component of its root
 * span, else of its first span that has one). For each root operation, its slowest
 * `slowFraction` of traces: each child span's self time (its duration less its
 * children's, never below 0) summed by {@link bottleneckName}, over the sum of the
 * root durations. A name at `minShare` or more of an operation's slow time is a
 * bottleneck; each name is listed once, with its largest share. Never throws on odd
 * traces (missing roots, cycles): such spans are skipped.
 *
 * @example
 * ```ts
 * const analysis = analyzeTraces(spansOf(monitor.traces), 'marketplace');
 * analysis.bottlenecks[0]?.name; // 'recommendation_model_inference'
 * ```
 */
export function analyzeTraces(
  traces: Iterable<readonly StoredSpan[]>,
  component: string,
  options: BottleneckOptions = {},
): TraceAnalysis {
  const slowFraction = options.slowFraction ?? 0.1;
  const minShare = options.minShare ?? 0.2;
  const byOperation = new Map<string, { root: StoredSpan; spans: readonly StoredSpan[] }[]>();
  const deps = new Map<
    string,
    { dependency: string; kind: 'database' | 'external'; calls: number; errors: number }
  >();
  let examined = 0;
  for (const spans of traces) {
    if (spans.length === 0) continue;
    const root = rootOf(spans);
    if (root === undefined) continue;
    const owner = root.component ?? spans.find((s) => s.component !== undefined)?.component;
    if (owner !== component) continue;
    examined++;
    let list = byOperation.get(root.name);
    if (list === undefined) byOperation.set(root.name, (list = []));
    list.push({ root, spans });
    for (const s of spans) {
      if (s === root) continue;
      const kind = spanKind(s);
      if (kind === 'internal') continue;
      const dependency = dependencyOf(s, kind);
      const key = `${kind}\u0000${dependency}`;
      let d = deps.get(key);
      if (d === undefined) {
        if (deps.size >= 1000) continue; // bounded: names come from traffic
        deps.set(key, (d = { dependency, kind, calls: 0, errors: 0 }));
      }
      d.calls++;
      if (s.status === 'error') d.errors++;
    }
  }
  const best = new Map<string, Bottleneck>();
  for (const [operation, list] of byOperation) {
    list.sort((a, b) => b.root.durationMs - a.root.durationMs);
    const slow = list.slice(0, Math.max(1, Math.min(100, Math.ceil(list.length * slowFraction))));
    let rootTotal = 0;
    const self = new Map<string, { ms: number; source: string }>();
    for (const { root, spans } of slow) {
      rootTotal += root.durationMs;
      const childSum = new Map<string, number>();
      for (const s of spans) {
        if (s === root || s.parentSpanId === undefined) continue;
        childSum.set(s.parentSpanId, (childSum.get(s.parentSpanId) ?? 0) + s.durationMs);
      }
      for (const s of spans) {
        if (s === root) continue;
        const ms = Math.max(0, s.durationMs - (childSum.get(s.spanId) ?? 0));
        const name = bottleneckName(s);
        const e = self.get(name);
        if (e === undefined) self.set(name, { ms, source: s.name });
        else e.ms += ms;
      }
    }
    if (!(rootTotal > 0)) continue;
    for (const [name, { ms, source }] of self) {
      const share = ms / rootTotal;
      if (share < minShare) continue;
      const prev = best.get(name);
      if (prev !== undefined && prev.share >= share) continue;
      best.set(name, {
        name,
        kind: 'span',
        source,
        operation,
        share: round(share, 4),
        meanSelfMs: round(ms / slow.length, 3),
        samples: slow.length,
      });
    }
  }
  const bottlenecks = [...best.values()].sort(
    (a, b) => b.share - a.share || (a.name < b.name ? -1 : 1),
  );
  const dependencies = [...deps.values()].sort((a, b) => b.calls - a.calls);
  return { bottlenecks, dependencies, traces: examined };
}

/**
 * Operations (timers) whose p99 × window volume is at least `minOperationShare` of
 * the component's total, among two or more operations with `minOperationSamples`
 * samples; named by the operation in snake case, largest share first.
 *
 * @example
 * ```ts
 * operationBottlenecks(reading.operations); // [{ name: 'recommendation_generation', kind: 'operation', share: 0.62, ... }]
 * ```
 */
export function operationBottlenecks(
  operations: readonly OperationReading[],
  options: BottleneckOptions = {},
): Bottleneck[] {
  const minSamples = options.minOperationSamples ?? 20;
  const minShare = options.minOperationShare ?? 0.5;
  const ops = operations.filter((o) => o.count >= minSamples && Number.isFinite(o.p99));
  if (ops.length < 2) return [];
  let total = 0;
  for (const o of ops) total += o.p99 * o.count;
  if (!(total > 0)) return [];
  return ops
    .map((o) => ({ o, share: (o.p99 * o.count) / total }))
    .filter((x) => x.share >= minShare)
    .sort((a, b) => b.share - a.share)
    .map(({ o, share }) => ({
      name: snakeCase(o.name),
      kind: 'operation' as const,
      source: o.name,
      operation: undefined,
      share: round(share, 4),
      meanSelfMs: round(o.p99, 3),
      samples: o.count,
    }));
}

/**
 * The spans of every trace a store holds, newest last, at most `maxTraces` (the
 * newest): what {@link analyzeTraces} reads. A `TraceStore` fits.
 *
 * @example
 * ```ts
 * analyzeTraces(spansOf(monitor.traces), 'marketplace');
 * ```
 */
export function* spansOf(
  store: {
    traceIds(): string[];
    spans(traceId: string): readonly StoredSpan[] | undefined;
  },
  maxTraces = 10_000,
): Generator<readonly StoredSpan[]> {
  const ids = store.traceIds();
  for (let i = Math.max(0, ids.length - maxTraces); i < ids.length; i++) {
    const spans = store.spans(ids[i]!);
    if (spans !== undefined) yield spans;
  }
}
