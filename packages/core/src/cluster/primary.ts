import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { GaugeSeries } from '../metrics/gauge-series.js';
import { HistogramSeries } from '../metrics/histogram-series.js';
import type { Labels, Tags } from '../metrics/types.js';
import type { Monitor } from '../monitor.js';
import { checkEntry, decodeCentroids, isWireMessage, type WireEntry } from './protocol.js';

/**
 * How the primary combines one gauge across workers: `sum` (connections, queue
 * lengths), `max` (a high-water mark), or `last` (the most recently received value).
 *
 * @example
 * ```ts
 * const rule: GaugeRule = 'max';
 * ```
 */
export type GaugeRule = 'sum' | 'max' | 'last';

/**
 * Rules for the gauges the monitor records itself (health/resources.ts), under the
 * user's: machine-wide readings are the same in every worker (max, not a sum), event
 * loop delays are worst-of, process memory and CPU add up over the workers.
 */
const BUILT_IN_RULES: Readonly<Record<string, GaugeRule>> = {
  cpu_usage: 'max',
  memory_usage: 'max',
  disk_usage: 'max',
  disk_path_usage: 'max',
  'event_loop_delay.p50': 'max',
  'event_loop_delay.p99': 'max',
  'event_loop_delay.max': 'max',
  event_loop_utilization: 'max',
  process_cpu_usage: 'sum',
  process_memory_rss: 'sum',
  process_heap_used: 'sum',
  process_heap_total: 'sum',
};

/** At most this many gauge series are combined; entries for more are refused and counted. */
const MAX_GAUGES = 100_000;

/** @internal */
export interface PrimaryCounts {
  messages: number;
  entries: number;
  rejectedEntries: number;
  lostMessages: number;
}

interface WorkerState {
  lastSeenMs: number;
  nextSeq: number;
  alive: boolean;
  gauges: Set<string>;
}

interface GaugeState {
  readonly name: string;
  readonly component: string;
  readonly tags: Tags;
  labels: Labels | undefined;
  readonly unit: string;
  readonly description: string;
  readonly values: Map<string, { value: number; atMs: number }>;
}

/**
 * The primary side: validates each worker message and merges it into the primary's
 * own registry (counters by increment, digests by a merge pass into the open
 * sub-window, gauges by their rule over the workers' last values). A worker that has
 * not been heard from within `retentionMs` (dead, or hung) has its gauge values
 * dropped then; what it sent of counters and digests stays in the primary's windows
 * until they age out, as recorded data does.
 *
 * @internal
 */
export class ClusterPrimaryReceiver {
  readonly counts: PrimaryCounts = { messages: 0, entries: 0, rejectedEntries: 0, lostMessages: 0 };
  readonly #monitor: Monitor;
  readonly #rules: Readonly<Record<string, GaugeRule>>;
  readonly #defaultRule: GaugeRule;
  readonly #retentionMs: number;
  readonly #workers = new Map<string, WorkerState>();
  readonly #gauges = new Map<string, GaugeState>();

  constructor(
    monitor: Monitor,
    rules: Readonly<Record<string, GaugeRule>>,
    defaultRule: GaugeRule,
    retentionMs: number,
  ) {
    this.#monitor = monitor;
    this.#rules = { ...BUILT_IN_RULES, ...rules };
    this.#defaultRule = defaultRule;
    this.#retentionMs = retentionMs;
  }

  /** Workers heard from within the retention, and how many of them have exited. */
  workers(): { live: number; exited: number } {
    let live = 0;
    let exited = 0;
    for (const w of this.#workers.values()) {
      if (w.alive) live++;
      else exited++;
    }
    return { live, exited };
  }

  /** Handles one IPC message from a worker; anything not ours is ignored. Never throws. */
  receive(message: unknown): boolean {
    if (!isWireMessage(message)) return false;
    try {
      this.#receive(message.pid, message.seq, message.entries, message.final === true);
    } catch (error) {
      this.#monitor.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `cluster primary: ${error instanceof Error ? error.message : 'unknown error'}`,
      );
    }
    return true;
  }

  /** A worker process ended: its data is kept until the retention passes. */
  exited(pid: number): void {
    const w = this.#workers.get(String(pid));
    if (w !== undefined) w.alive = false;
  }

  /** Drops the gauge values of workers silent for longer than the retention. */
  sweep(): void {
    const now = this.#monitor.clock.now();
    for (const [id, w] of this.#workers) {
      if (now - w.lastSeenMs <= this.#retentionMs) continue;
      this.#workers.delete(id);
      for (const key of w.gauges) {
        const g = this.#gauges.get(key);
        if (g === undefined) continue;
        g.values.delete(id);
        this.#applyGauge(g);
        if (g.values.size === 0) this.#gauges.delete(key);
      }
    }
  }

  #receive(pid: number, seq: number, entries: readonly unknown[], final: boolean): void {
    const now = this.#monitor.clock.now();
    const id = String(pid);
    let w = this.#workers.get(id);
    if (w === undefined) {
      w = { lastSeenMs: now, nextSeq: seq, alive: true, gauges: new Set() };
      this.#workers.set(id, w);
    }
    if (seq > w.nextSeq) this.counts.lostMessages += seq - w.nextSeq;
    w.nextSeq = seq + 1;
    w.lastSeenMs = now;
    if (final) w.alive = false;
    this.counts.messages++;
    let rejected = 0;
    let reason = '';
    for (const raw of entries) {
      const entry = checkEntry(raw);
      const problem = typeof entry === 'string' ? entry : this.#merge(id, w, entry, now);
      if (problem === undefined) this.counts.entries++;
      else {
        rejected++;
        reason = problem;
      }
    }
    if (rejected > 0) {
      this.counts.rejectedEntries += rejected;
      this.#monitor.diagnostics.report(
        DiagnosticCode.EXPORT_DROPPED,
        `cluster primary: refused ${rejected} entries from worker ${id} (${reason})`,
      );
    }
    this.sweep();
  }

  /** Merges one entry; returns why it was refused, if it was. */
  #merge(id: string, worker: WorkerState, e: WireEntry, now: number): string | undefined {
    const monitor = this.#monitor;
    const options = {
      component: e.c,
      ...(e.u !== undefined && e.u !== '' && { unit: e.u }),
      ...(e.d !== undefined && { description: e.d }),
    };
    if (e.t === 'c') {
      monitor.counter(e.n, options).bind(e.g, e.l).inc(e.v);
      return undefined;
    }
    if (e.t === 'g') {
      const key = `${e.n}\u0000${e.c}\u0000${JSON.stringify(e.g)}`;
      let g = this.#gauges.get(key);
      if (g === undefined) {
        if (this.#gauges.size >= MAX_GAUGES) return `over ${MAX_GAUGES} gauge series`;
        g = {
          name: e.n,
          component: e.c,
          tags: e.g,
          labels: e.l,
          unit: e.u ?? '',
          description: e.d ?? '',
          values: new Map(),
        };
        this.#gauges.set(key, g);
      }
      if (e.l !== undefined) g.labels = e.l;
      g.values.set(id, { value: e.v!, atMs: now });
      worker.gauges.add(key);
      this.#applyGauge(g);
      return undefined;
    }
    const handle =
      e.t === 't'
        ? monitor.timer(e.n, options).bind(e.g, e.l)
        : monitor.histogram(e.n, options).bind(e.g, e.l);
    if (!(handle instanceof HistogramSeries)) return 'no series (type conflict, bad tags or a cap)';
    for (const [, count, sum, min, max, errors, text] of e.w!) {
      const centroids = decodeCentroids(text);
      if (centroids === null) return 'bad centroids';
      const length = centroids.length / 2;
      let weight = 0;
      let previous = -Infinity;
      for (let i = 0; i < length; i++) {
        const m = centroids[2 * i]!;
        const wt = centroids[2 * i + 1]!;
        if (!(m >= previous) || !(wt > 0) || !Number.isFinite(m) || !Number.isFinite(wt)) {
          return 'centroids not sorted, or a weight not positive';
        }
        previous = m;
        weight += wt;
      }
      if (Math.abs(weight - count) > 1e-6 * Math.max(1, count) || errors < 0 || errors > count) {
        return 'centroid weights do not add up to the count';
      }
      handle.mergeCentroids(centroids, length, count, sum, min, max, errors);
    }
    return undefined;
  }

  #applyGauge(g: GaugeState): void {
    const handle = this.#monitor
      .gauge(g.name, {
        component: g.component,
        ...(g.unit !== '' && { unit: g.unit }),
        description: g.description,
      })
      .bind(g.tags, g.labels);
    if (g.values.size === 0) {
      // Every worker that set it has gone: the gauge is no longer reported.
      if (handle instanceof GaugeSeries) handle.hasValue = false;
      return;
    }
    const rule = this.#rules[g.name] ?? this.#defaultRule;
    let value = rule === 'max' ? -Infinity : 0;
    let latest = -Infinity;
    for (const v of g.values.values()) {
      if (rule === 'sum') value += v.value;
      else if (rule === 'max') value = Math.max(value, v.value);
      else if (v.atMs >= latest) {
        latest = v.atMs;
        value = v.value;
      }
    }
    handle.set(value);
  }
}
