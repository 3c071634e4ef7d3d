/**
 * dashboard/: the web dashboard at `/` (static files in `packages/server/dashboard/`)
 * and the one read route it needs that the spec does not have: series over time.
 * This file answers `GET /dashboard/series` from the store's SQLite file through a
 * second, read-only connection (the store keeps its connection private; its public
 * methods read one series or one (name, component) at a time, too slow for 10,000
 * series): per component and step, latency percentiles merged from the stored
 * t-digests (never averaged when a digest is stored), throughput and error rate, the
 * top operations with the trace of their slowest recent call, and the resource
 * gauges. Reads the tables of store/schema.ts; imports only core's `TDigest`.
 */
import Database from 'better-sqlite3';
import { TDigest, type Clock, type TDigestJSON } from '@prsm/core';

const MINUTE = 60_000;

/** The windows the dashboard offers, with their step. @internal */
export const WINDOWS = {
  '15m': { ms: 15 * MINUTE, step: MINUTE },
  '1h': { ms: 60 * MINUTE, step: MINUTE },
  '24h': { ms: 24 * 60 * MINUTE, step: 15 * MINUTE },
} as const;

/** One of {@link WINDOWS}. @internal */
export type DashboardWindow = keyof typeof WINDOWS;

/** The latency, throughput and errors of one component over the window. @internal */
export interface ComponentSeries {
  readonly component: string;
  /** Start of each step, ms since the epoch. */
  readonly t: number[];
  readonly p50: (number | null)[];
  readonly p95: (number | null)[];
  readonly p99: (number | null)[];
  /** Calls per minute in each step. */
  readonly throughput: number[];
  /** Failed calls / calls in each step (null without calls). */
  readonly error_rate: (number | null)[];
  readonly calls: number;
  readonly errors: number;
  /** The slowest exemplar of each step (a traced value), or null. */
  readonly exemplars: ({ readonly trace_id: string; readonly value: number } | null)[];
}

/** A stored exemplar: a value recorded with its trace. @internal */
export interface ExemplarRow {
  readonly component: string;
  readonly metric: string;
  readonly operation: string;
  readonly value: number;
  readonly trace_id: string;
  readonly span_id: string | null;
  readonly timestamp: string;
  /** Whether a span of the trace is stored (the waterfall can open it). */
  readonly trace_stored: boolean;
}

/** An operation ranked by its total time in the window. @internal */
export interface OperationRow {
  readonly component: string;
  readonly operation: string;
  readonly metric: string;
  readonly calls: number;
  readonly errors: number;
  readonly avg_ms: number;
  readonly p99_ms: number | null;
  /** The slowest recent root span of this operation (an exemplar), or null. */
  readonly trace_id: string | null;
  readonly trace_duration_ms: number | null;
  /** The operation's slowest exemplar in the window (sent with its samples), or null. */
  readonly exemplar: ExemplarRow | null;
}

/** A slow recent trace (its root span). @internal */
export interface SlowTrace {
  readonly trace_id: string;
  readonly name: string;
  readonly component: string | null;
  readonly duration_ms: number;
  readonly status: string;
  readonly start_time: string;
}

/** The body of `GET /dashboard/series`. @internal */
export interface DashboardSeries {
  readonly window: DashboardWindow;
  /** The service asked for (`?service=`), or null: the whole fleet. */
  readonly service: string | null;
  readonly step_seconds: number;
  readonly from: string;
  readonly to: string;
  readonly components: ComponentSeries[];
  readonly resources: {
    readonly t: number[];
    readonly cpu_usage: (number | null)[];
    readonly memory_usage: (number | null)[];
    readonly disk_usage: (number | null)[];
    /** Bytes per second. */
    readonly network_sent: (number | null)[];
    readonly network_recv: (number | null)[];
  };
  readonly top_operations: OperationRow[];
  readonly slow_traces: SlowTrace[];
  /** The ten slowest exemplars of the window. */
  readonly exemplars: ExemplarRow[];
  readonly series_stored: number;
  readonly generated_at: string;
}

/** A trace's spans placed in time, for the waterfall. @internal */
export interface TraceWaterfall {
  readonly trace_id: string;
  readonly start_time: string;
  readonly total_ms: number;
  readonly spans: {
    readonly span_id: string;
    readonly parent_span_id: string | null;
    readonly name: string;
    readonly component: string | null;
    readonly offset_ms: number;
    readonly duration_ms: number;
    readonly status: 'success' | 'error';
    readonly depth: number;
  }[];
}

interface WaterfallRow {
  span_id: string;
  parent_span_id: string | null;
  name: string;
  component: string | null;
  start_ms: number;
  duration_ms: number;
  status: string;
}

interface DistRow {
  component: string;
  name: string;
  op: string | null;
  bucket: number;
  count: number;
  sum: number;
  errors: number;
  digest: string | null;
  quantiles: string | null;
}

interface GaugeRow {
  name: string;
  bucket: number;
  value: number | null;
  total: number | null;
}

interface SpanRow {
  trace_id: string;
  name: string;
  component: string | null;
  duration_ms: number;
  status: string;
  start_ms: number;
}

interface ExemplarDbRow {
  component: string;
  name: string;
  op: string | null;
  bucket: number;
  trace_id: string;
  span_id: string | null;
  value: number;
  at: number;
}

/** The most exemplar rows one answer reads (the newest minutes first). */
const MAX_EXEMPLAR_ROWS = 20_000;

const RESOURCE_NAMES = [
  'cpu_usage',
  'memory_usage',
  'disk_usage',
  'network_io.bytes_sent',
  'network_io.bytes_recv',
] as const;

/**
 * Merges digests exactly, in one compression pass over all their centroids (sorted
 * together) rather than one pass per digest; rows with only the sender's quantiles
 * are count-weighted.
 */
class Percentiles {
  readonly #parts: TDigestJSON[] = [];
  readonly #approx = new Map<string, { w: number; s: number }>();
  #digest: TDigest | undefined;

  add(row: DistRow, digest: TDigestJSON | null): void {
    this.#digest = undefined;
    if (digest !== null) {
      if (digest.count > 0) this.#parts.push(digest);
    } else if (row.quantiles !== null && row.count > 0) {
      const q = JSON.parse(row.quantiles) as Record<string, number>;
      for (const key of ['p50', 'p95', 'p99']) {
        const v = q[key];
        if (typeof v !== 'number') continue;
        const a = this.#approx.get(key) ?? { w: 0, s: 0 };
        a.w += row.count;
        a.s += v * row.count;
        this.#approx.set(key, a);
      }
    }
  }

  #merged(): TDigest {
    if (this.#digest !== undefined) return this.#digest;
    const digest = new TDigest();
    let pairs = 0;
    for (const p of this.#parts) pairs += p.centroids.length / 2;
    if (pairs > 0) {
      const order = new Float64Array(2 * pairs);
      let i = 0;
      let weight = 0;
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      for (const p of this.#parts) {
        for (let j = 0; j < p.centroids.length; j += 1) order[i++] = p.centroids[j]!;
        weight += p.count;
        sum += p.sum;
        if (p.min !== null && p.min < min) min = p.min;
        if (p.max !== null && p.max > max) max = p.max;
      }
      const index = Array.from({ length: pairs }, (_, k) => k).sort(
        (a, b) => order[2 * a]! - order[2 * b]!,
      );
      const sorted = new Float64Array(2 * pairs);
      index.forEach((k, n) => {
        sorted[2 * n] = order[2 * k]!;
        sorted[2 * n + 1] = order[2 * k + 1]!;
      });
      digest.mergeCentroids(sorted, pairs, weight, sum, min, max);
    }
    this.#digest = digest;
    return digest;
  }

  get(q: number, key: string): number | null {
    const merged = this.#merged();
    const exact = merged.count > 0 ? merged.quantile(q) : undefined;
    const a = this.#approx.get(key);
    if (a === undefined || a.w === 0) return exact ?? null;
    const approx = a.s / a.w;
    if (exact === undefined) return approx;
    const n = merged.count;
    return (exact * n + approx * a.w) / (n + a.w);
  }
}

/** The SQL (on `series s`) and parameters selecting one component and one service. */
interface SeriesFilter {
  readonly sql: string;
  readonly params: string[];
}

function seriesFilter(component: string | undefined, service: string | undefined): SeriesFilter {
  const sql: string[] = [];
  const params: string[] = [];
  if (component !== undefined) {
    sql.push('AND s.component = ?');
    params.push(component);
  }
  // Series are keyed by service (the store's schema version 4): exact.
  if (service !== undefined) {
    sql.push('AND s.service = ?');
    params.push(service);
  }
  return { sql: sql.join(' '), params };
}

function round(v: number | null, digits = 3): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * The dashboard's series over a store's SQLite file, read-only; an answer is reused
 * for up to 5 s per (window, component, service) while nothing new is stored. @internal
 */
export class DashboardSeriesReader {
  readonly #path: string;
  readonly #clock: Clock;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, { at: number; version: number; body: DashboardSeries }>();
  #db: Database.Database | undefined;

  constructor(path: string, clock: Clock, cacheMs = 5_000) {
    this.#path = path;
    this.#clock = clock;
    this.#cacheMs = cacheMs;
  }

  /** Whether the store is a file this reader can open (not `:memory:`). */
  get available(): boolean {
    return (
      this.#path !== '' && this.#path !== ':memory:' && !this.#path.startsWith('file::memory:')
    );
  }

  /**
   * The series of `window`, of one `component` and one `service` when given (a series
   * is keyed by its service: exact; an unknown service has no rows, so empty lists).
   */
  read(window: DashboardWindow, component: string | undefined, service?: string): DashboardSeries {
    const now = this.#clock.now();
    // `data_version` changes when another connection (the store's) commits: an answer
    // is reused only while nothing was stored, within the same minute, for 5 s at most.
    const version = this.#open().pragma('data_version', { simple: true }) as number;
    const key = `${window}\u0000${component ?? ''}\u0000${service ?? '\u0001'}`;
    const hit = this.#cache.get(key);
    if (
      hit !== undefined &&
      hit.version === version &&
      Math.floor(hit.at / MINUTE) === Math.floor(now / MINUTE) &&
      now - hit.at < this.#cacheMs &&
      now >= hit.at
    ) {
      return hit.body;
    }
    const body = this.#compute(window, component, service, now);
    if (this.#cache.size >= 32) this.#cache.clear();
    this.#cache.set(key, { at: now, version, body });
    return body;
  }

  /** The spans of a trace with their offsets and depths, in start order; undefined when none. */
  waterfall(traceId: string): TraceWaterfall | undefined {
    const rows = this.#open()
      .prepare<[string], WaterfallRow>(
        `SELECT span_id, parent_span_id, name, component, start_ms, duration_ms, status
         FROM spans WHERE trace_id = ? ORDER BY start_ms, span_id LIMIT 2000`,
      )
      .all(traceId);
    if (rows.length === 0) return undefined;
    const byId = new Map(rows.map((r) => [r.span_id, r]));
    const depth = (r: WaterfallRow): number => {
      let d = 0;
      const seen = new Set<WaterfallRow>([r]);
      for (let p = byId.get(r.parent_span_id ?? ''); p !== undefined && !seen.has(p);) {
        seen.add(p);
        d += 1;
        p = byId.get(p.parent_span_id ?? '');
      }
      return d;
    };
    const start = Math.min(...rows.map((r) => r.start_ms));
    const end = Math.max(...rows.map((r) => r.start_ms + r.duration_ms));
    return {
      trace_id: traceId,
      start_time: new Date(start).toISOString(),
      total_ms: round(end - start) ?? 0,
      spans: rows
        .map((r) => ({
          span_id: r.span_id,
          parent_span_id: r.parent_span_id,
          name: r.name,
          component: r.component,
          offset_ms: round(r.start_ms - start) ?? 0,
          duration_ms: round(r.duration_ms) ?? 0,
          status: r.status === 'error' ? ('error' as const) : ('success' as const),
          depth: depth(r),
        }))
        .sort((a, b) => a.offset_ms - b.offset_ms || a.depth - b.depth),
    };
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
  }

  #open(): Database.Database {
    this.#db ??= new Database(this.#path, { readonly: true, fileMustExist: true });
    return this.#db;
  }

  /** The exemplars of histograms and timers from `from` on, newest minutes first, bounded. */
  #exemplars(db: Database.Database, from: number, filter: SeriesFilter): ExemplarDbRow[] {
    try {
      return db
        .prepare<unknown[], ExemplarDbRow>(
          `SELECT s.component AS component, s.name AS name,
             COALESCE(json_extract(s.tags, '$.operation'), json_extract(s.tags, '$."http.route"')) AS op,
             e.bucket AS bucket, e.trace_id AS trace_id, e.span_id AS span_id, e.value AS value, e.at AS at
           FROM exemplars e JOIN series s ON s.id = e.series_id
           WHERE e.bucket >= ? AND s.metric_type IN ('histogram', 'timer') AND s.name NOT LIKE 'prsm.%'
             ${filter.sql}
           ORDER BY e.bucket DESC LIMIT ${MAX_EXEMPLAR_ROWS}`,
        )
        .all(from, ...filter.params);
    } catch (error) {
      // A file written before exemplars were stored, opened read-only: none.
      if (error instanceof Error && /no such table/.test(error.message)) return [];
      throw error;
    }
  }

  #compute(
    window: DashboardWindow,
    component: string | undefined,
    service: string | undefined,
    now: number,
  ): DashboardSeries {
    const db = this.#open();
    const filter = seriesFilter(component, service);
    const { ms, step } = WINDOWS[window];
    const end = Math.floor(now / step) * step;
    const from = end - ms + step;
    const steps = Math.round((end - from) / step) + 1;
    const t = Array.from({ length: steps }, (_, i) => from + i * step);
    const index = (bucket: number): number => Math.floor((bucket - from) / step);
    const resolutions = window === '24h' ? [60, 3600] : [60];
    const resIn = resolutions.join(', ');
    // An hour row starting before `from` still holds minutes inside the window.
    const fromRow = window === '24h' ? from - 60 * MINUTE + MINUTE : from;

    const rows = db
      .prepare<unknown[], DistRow>(
        `SELECT s.component AS component, s.name AS name,
           COALESCE(json_extract(s.tags, '$.operation'), json_extract(s.tags, '$."http.route"')) AS op,
           p.bucket AS bucket, p.count AS count, p.sum AS sum, p.errors AS errors,
           p.digest AS digest, p.quantiles AS quantiles
         FROM points p JOIN series s ON s.id = p.series_id
         WHERE p.resolution IN (${resIn}) AND p.bucket >= ?
           AND s.metric_type IN ('histogram', 'timer') AND s.name NOT LIKE 'prsm.%'
           ${filter.sql}`,
      )
      .all(fromRow, ...filter.params);

    const perComponent = new Map<
      string,
      { steps: Map<number, Percentiles>; count: number[]; errors: number[] }
    >();
    const perOp = new Map<
      string,
      {
        component: string;
        operation: string;
        metric: string;
        count: number;
        sum: number;
        errors: number;
        pct: Percentiles;
      }
    >();
    for (const row of rows) {
      const i = Math.max(0, index(row.bucket));
      if (i >= steps) continue;
      let c = perComponent.get(row.component);
      if (c === undefined) {
        c = {
          steps: new Map(),
          count: new Array<number>(steps).fill(0),
          errors: new Array<number>(steps).fill(0),
        };
        perComponent.set(row.component, c);
      }
      let pct = c.steps.get(i);
      if (pct === undefined) c.steps.set(i, (pct = new Percentiles()));
      const digest = row.digest === null ? null : (JSON.parse(row.digest) as TDigestJSON);
      pct.add(row, digest);
      c.count[i]! += row.count;
      c.errors[i]! += row.errors;
      const operation = row.op ?? row.name;
      const opKey = `${row.component}\u0000${row.name}\u0000${operation}`;
      let op = perOp.get(opKey);
      if (op === undefined) {
        op = {
          component: row.component,
          operation,
          metric: row.name,
          count: 0,
          sum: 0,
          errors: 0,
          pct: new Percentiles(),
        };
        perOp.set(opKey, op);
      }
      op.count += row.count;
      op.sum += row.sum;
      op.errors += row.errors;
      op.pct.add(row, digest);
    }

    const ex = this.#exemplars(db, fromRow, filter);
    const slowestStep = new Map<string, ExemplarDbRow>();
    const slowestOp = new Map<string, ExemplarDbRow>();
    for (const r of ex) {
      const i = Math.max(0, index(r.bucket));
      if (i >= steps) continue;
      const stepKey = `${r.component}\u0000${i}`;
      const s = slowestStep.get(stepKey);
      if (s === undefined || r.value > s.value) slowestStep.set(stepKey, r);
      const opKey = `${r.component}\u0000${r.name}\u0000${r.op ?? r.name}`;
      const o = slowestOp.get(opKey);
      if (o === undefined || r.value > o.value) slowestOp.set(opKey, r);
    }
    const stored = db.prepare<[string], { n: number }>(
      'SELECT 1 AS n FROM spans WHERE trace_id = ? LIMIT 1',
    );
    const withStored = (r: ExemplarDbRow): ExemplarRow => ({
      component: r.component,
      metric: r.name,
      operation: r.op ?? r.name,
      value: round(r.value) ?? 0,
      trace_id: r.trace_id,
      span_id: r.span_id,
      timestamp: new Date(r.at).toISOString(),
      trace_stored: stored.get(r.trace_id) !== undefined,
    });

    const stepMinutes = step / MINUTE;
    const components: ComponentSeries[] = [...perComponent.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, c]) => {
        const q = (p: number, k: string): (number | null)[] =>
          t.map((_, i) => round(c.steps.get(i)?.get(p, k) ?? null));
        return {
          component: name,
          t,
          p50: q(0.5, 'p50'),
          p95: q(0.95, 'p95'),
          p99: q(0.99, 'p99'),
          throughput: c.count.map((n) => round(n / stepMinutes) ?? 0),
          error_rate: c.count.map((n, i) => (n > 0 ? round(c.errors[i]! / n, 5) : null)),
          calls: c.count.reduce((a, b) => a + b, 0),
          errors: c.errors.reduce((a, b) => a + b, 0),
          exemplars: t.map((_, i) => {
            const r = slowestStep.get(`${name}\u0000${i}`);
            return r === undefined ? null : { trace_id: r.trace_id, value: round(r.value) ?? 0 };
          }),
        };
      });

    // Spans are not stored by service: of one service, the roots in its components.
    const spans = db
      .prepare<unknown[], SpanRow>(
        `SELECT trace_id, name, component, duration_ms, status, start_ms FROM spans
         WHERE parent_span_id IS NULL AND received_at >= ?${
           service === undefined
             ? ''
             : ` AND component IN (SELECT DISTINCT s.component FROM series s WHERE s.service = ?${
                 component === undefined ? '' : ' AND s.component = ?'
               })`
         }
         ORDER BY duration_ms DESC LIMIT 200`,
      )
      .all(
        from,
        ...(service === undefined ? [] : [service]),
        ...(service !== undefined && component !== undefined ? [component] : []),
      );
    const slowestOf = new Map<string, SpanRow>();
    for (const s of spans) {
      for (const key of [`${s.component ?? ''}\u0000${s.name}`, `\u0000${s.name}`]) {
        if (!slowestOf.has(key)) slowestOf.set(key, s);
      }
    }
    const topOperations: OperationRow[] = [...perOp.values()]
      .filter((o) => o.count > 0)
      .sort((a, b) => b.sum - a.sum)
      .slice(0, 10)
      .map((o) => {
        const slow =
          slowestOf.get(`${o.component}\u0000${o.operation}`) ??
          slowestOf.get(`\u0000${o.operation}`);
        const exemplar = slowestOp.get(`${o.component}\u0000${o.metric}\u0000${o.operation}`);
        return {
          component: o.component,
          operation: o.operation,
          metric: o.metric,
          calls: o.count,
          errors: o.errors,
          avg_ms: round(o.sum / o.count) ?? 0,
          p99_ms: round(o.pct.get(0.99, 'p99')),
          trace_id: slow?.trace_id ?? null,
          trace_duration_ms: slow === undefined ? null : round(slow.duration_ms),
          exemplar: exemplar === undefined ? null : withStored(exemplar),
        };
      });

    const gauges = db
      .prepare<unknown[], GaugeRow>(
        `SELECT s.name AS name, p.bucket AS bucket,
           AVG(CASE WHEN p.count > 0 THEN p.sum / p.count ELSE p.last END) AS value,
           SUM(p.sum) AS total
         FROM series s JOIN points p ON p.series_id = s.id
         WHERE s.name IN (${RESOURCE_NAMES.map(() => '?').join(', ')})
           AND p.resolution IN (${resIn}) AND p.bucket >= ?${service === undefined ? '' : ' AND s.service = ?'}
         GROUP BY s.name, p.bucket`,
      )
      .all(...RESOURCE_NAMES, fromRow, ...(service === undefined ? [] : [service]));
    const res = (name: string, rate: boolean): (number | null)[] => {
      const acc = new Array<{ s: number; n: number } | null>(steps).fill(null);
      for (const g of gauges) {
        if (g.name !== name) continue;
        const i = Math.max(0, index(g.bucket));
        if (i >= steps) continue;
        const v = rate ? g.total : g.value;
        if (v === null) continue;
        const a = (acc[i] ??= { s: 0, n: 0 });
        a.s += v;
        a.n += 1;
      }
      return acc.map((a) =>
        a === null ? null : rate ? round(a.s / (step / 1000)) : round(a.s / a.n, 5),
      );
    };

    const seriesStored =
      db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM series').get()?.n ?? 0;

    return {
      window,
      service: service ?? null,
      step_seconds: step / 1000,
      from: new Date(from).toISOString(),
      to: new Date(end + step).toISOString(),
      components,
      resources: {
        t,
        cpu_usage: res('cpu_usage', false),
        memory_usage: res('memory_usage', false),
        disk_usage: res('disk_usage', false),
        network_sent: res('network_io.bytes_sent', true),
        network_recv: res('network_io.bytes_recv', true),
      },
      top_operations: topOperations,
      slow_traces: spans.slice(0, 10).map((s) => ({
        trace_id: s.trace_id,
        name: s.name,
        component: s.component,
        duration_ms: round(s.duration_ms) ?? 0,
        status: s.status,
        start_time: new Date(s.start_ms).toISOString(),
      })),
      exemplars: [...slowestOp.values()]
        .sort((a, b) => b.value - a.value)
        .slice(0, 10)
        .map(withStored),
      series_stored: seriesStored,
      generated_at: new Date(now).toISOString(),
    };
  }
}
