/**
 * read/: the spec's `GET /health` and `GET /analytics` over the stored data of a fleet.
 *
 * This file: {@link FleetReader}, which answers both from the store in a few indexed
 * queries over the window's minute rows, with core's health score and analytics
 * engine doing the arithmetic, and keeps what it computed for the rest of the minute
 * (until the next ingest).
 */
import {
  AnalyticsEngine,
  computeHealthScore,
  Diagnostics,
  MinuteHistory,
  TDigest,
  type AlertSeverity,
  type AnalyticsSource,
  type Clock,
  type ComponentReading,
  type DiagnosticLogger,
  type HealthActiveAlert,
  type HealthScoreInputs,
  type OperationReading,
  type StoredSpan,
  type TDigestJSON,
} from '@prsm/core';

import type { ActiveAlertRecord } from '../alerting/server-alerting.js';
import type { MonitorStore, ReadPoint } from '../store/store.js';
import type { SpanRow } from '../store/trace.js';
import {
  READ_WINDOWS,
  type FleetAnalyticsReport,
  type FleetHealthReport,
  type HealthComponent,
  type HealthResources,
  type HealthService,
  type LatencyPercentiles,
  type ReadQuery,
  type ReadWindow,
} from './types.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The SDK's resource sampler records under this component. */
const SYSTEM = 'system';
/** Minutes of history the trends and anomalies are fitted over (core's default). */
const TREND_MINUTES = 60;
/** Hours of history the usage pattern and hourly forecasts read (core's default). */
const HISTORY_HOURS = 168;
/** Traces read for the bottleneck analysis, the latest first. */
const MAX_TRACES = 500;
const MAX_CACHED = 512;
/**
 * Merged operation-minutes kept (older rows rarely change: their merged minute is kept
 * instead of their rows). A full digest takes about 5 KB, so the map holds at most
 * about 50 MB; past its bound it is emptied (then filled again by the next reads), as
 * is the map of rows ({@link MAX_ROW_DIGESTS}).
 */
const MAX_DIGESTS = 10_000;
/**
 * Parsed row digests kept (the rows of the minutes still written, {@link RECENT_MS}):
 * enough for two minutes of 15,000 series, so that reading every component in turn
 * does not empty the map before the next read of the first one (each component's
 * changed operation-minute then needs every row of that minute, re-read and parsed
 * from SQL). A row holds one minute of one series: mostly far below a full digest's
 * 5 KB.
 */
const MAX_ROW_DIGESTS = 30_000;
/** Minute p99s kept (numbers). */
const MAX_P99S = 100_000;
/**
 * Row digests are kept for minutes this recent (ms): the ones still being written (the
 * current minute, and the last one until exporters' last sub-windows of it arrive).
 */
const RECENT_MS = 2 * MINUTE;

const SEVERITY_ORDER: Readonly<Record<string, number>> = {
  critical: 0,
  high: 1,
  medium: 2,
  low: 3,
  info: 4,
};

/**
 * Options of a {@link FleetReader}.
 *
 * @example
 * ```ts
 * const options: FleetReaderOptions = { staleAfterMs: 120_000 };
 * ```
 */
export interface FleetReaderOptions {
  /**
   * A process that sent no batch for this long no longer counts as live: its gauges
   * are not read, and a service without a live process is stale. Default 180,000
   * (three times the REST exporter's longest default interval).
   */
  readonly staleAfterMs?: number;
  /** Receives the analytics engine's internal warnings. Default: none. */
  readonly logger?: DiagnosticLogger;
}

/** What the reader needs of the server's alerting (a `ServerAlerting` fits). */
interface AlertsView {
  active(filter?: { component?: string }): ActiveAlertRecord[];
}

interface Cached<T> {
  readonly version: number;
  readonly minute: number;
  readonly value: T;
}

/** What a health answer keeps: all but the alerts, which are read at each call. */
interface HealthBase {
  readonly report: FleetHealthReport;
  readonly score: Omit<HealthScoreInputs, 'firingAlerts'>;
}

/** The window rows of one operation while they are summed. */
interface OperationWork {
  name: string;
  count: number;
  errors: number;
  sum: number;
  digests: TDigest[];
}

/** The rows of one operation in one minute. */
interface Cell {
  readonly name: string;
  readonly bucket: number;
  readonly rows: ReadPoint[];
  signature: string;
}

/** A minute of a component's timers. */
interface MinuteWork {
  requests: number;
  errors: number;
  sum: number;
  digests: TDigest[];
  /** Rows and samples: a changed minute reads differently. */
  signature: string;
}

function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function percent(fraction: number | undefined): number {
  return fraction !== undefined && Number.isFinite(fraction) ? Math.round(fraction * 1000) / 10 : 0;
}

function toSpan(row: SpanRow): StoredSpan {
  const attributes = JSON.parse(row.attributes) as StoredSpan['attributes'];
  return {
    traceId: row.trace_id,
    spanId: row.span_id,
    parentSpanId: row.parent_span_id ?? undefined,
    name: row.name,
    startMs: row.start_ms,
    endMs: row.end_ms,
    durationMs: row.duration_ms,
    status: row.status === 'error' ? 'error' : 'success',
    statusMessage: undefined,
    attributes,
    component: row.component ?? undefined,
  };
}

/**
 * Answers `GET /health` and `GET /analytics` from a {@link MonitorStore}: see the
 * package README ("Health and analytics from stored data") for how each number is
 * computed. Call {@link FleetReader.invalidate} after every write: an answer is kept
 * for the rest of its minute unless something was written since. @internal
 *
 * @example
 * ```ts
 * const reader = new FleetReader(store, clock, alerting);
 * const health = reader.health({ window: '15m' });
 * const analytics = reader.analytics({ component: 'marketplace', service: 'checkout' });
 * ```
 */
export class FleetReader {
  readonly #store: MonitorStore;
  readonly #clock: Clock;
  readonly #alerts: AlertsView;
  readonly #staleAfterMs: number;
  readonly #diagnostics: Diagnostics;
  readonly #answers = new Map<string, Cached<unknown>>();
  /** Parsed minute digests by `seriesId:bucket`, with the samples they held. */
  readonly #digests = new Map<string, { count: number; digest: TDigest | undefined }>();
  /** An operation's merged minute, by `component\0service\0operation\0bucket`. */
  readonly #cells = new Map<string, { signature: string; digest: TDigest | undefined }>();
  /** A component's merged p99 per minute, by `component\0service\0bucket`. */
  readonly #p99s = new Map<string, { signature: string; p99: number }>();
  /** A component's hours, kept for the hour they were read in. */
  readonly #hours = new Map<string, Cached<ReturnType<MonitorStore['readComponentHours']>>>();
  /** The components stored, by service (`''`: the fleet). */
  readonly #components = new Map<string, Cached<Set<string>>>();
  #version = 0;
  #prunedAt = 0;

  constructor(
    store: MonitorStore,
    clock: Clock,
    alerts: AlertsView,
    options: FleetReaderOptions = {},
  ) {
    const stale = options.staleAfterMs ?? 180_000;
    if (typeof stale !== 'number' || !Number.isFinite(stale) || stale <= 0) {
      throw new TypeError('staleAfterMs must be a positive number of milliseconds');
    }
    this.#store = store;
    this.#clock = clock;
    this.#alerts = alerts;
    this.#staleAfterMs = stale;
    this.#diagnostics = new Diagnostics(options.logger);
  }

  /** Forgets every kept answer: call it after each write to the store. */
  invalidate(): void {
    this.#version++;
  }

  /**
   * Whether `component` has a stored series (of `service`, when given): what the
   * routes answer 404 on.
   */
  hasComponent(component: string, service: string | undefined): boolean {
    const minute = Math.floor(this.#clock.now() / MINUTE);
    const key = service ?? '';
    let kept = this.#components.get(key);
    if (kept === undefined || kept.version !== this.#version || kept.minute !== minute) {
      if (this.#components.size >= MAX_CACHED) this.#components.clear();
      kept = {
        version: this.#version,
        minute,
        value: new Set(this.#store.readComponents(service ?? null)),
      };
      this.#components.set(key, kept);
    }
    return kept.value.has(component);
  }

  /** Whether a process of `service` ever sent a batch. */
  hasService(service: string): boolean {
    return this.#store.hasService(service);
  }

  /** The spec's health object over the stored data. */
  health(query: ReadQuery = {}): FleetHealthReport {
    const window = query.window ?? '15m';
    const base = this.#kept(
      `h\u0000${query.component ?? ''}\u0000${query.service ?? ''}\u0000${window}`,
      () => this.#health(query.component, query.service, window),
    );
    // Alerts change with the server's evaluation, not with ingest: read at each call.
    const firing = this.#alerts
      .active(query.component === undefined ? {} : { component: query.component })
      .filter((a) => a.state === 'firing')
      .sort(
        (a, b) =>
          (SEVERITY_ORDER[a.severity] ?? 5) - (SEVERITY_ORDER[b.severity] ?? 5) ||
          (a.triggered_at ?? a.active_at).localeCompare(b.triggered_at ?? b.active_at),
      );
    const bySeverity: Partial<Record<AlertSeverity, number>> = {};
    for (const a of firing) bySeverity[a.severity] = (bySeverity[a.severity] ?? 0) + 1;
    const active_alerts: HealthActiveAlert[] = firing.map((a) => ({
      alert_id: a.alert_id,
      name: a.name,
      severity: a.severity,
      component: a.component,
      triggered_at: a.triggered_at ?? a.active_at,
    }));
    const report = base.report;
    return {
      ...report,
      overall_health_score: computeHealthScore({ ...base.score, firingAlerts: bySeverity }),
      active_alerts,
      timestamp: iso(this.#clock.now()),
    };
  }

  /** The spec's analytics object for a component over the stored data. */
  analytics(query: ReadQuery = {}): FleetAnalyticsReport {
    const window = query.window ?? '15m';
    const component = query.component ?? 'default';
    return this.#kept(`a\u0000${component}\u0000${query.service ?? ''}\u0000${window}`, () =>
      this.#analytics(component, query.service, window),
    );
  }

  #kept<T>(key: string, compute: () => T): T {
    const minute = Math.floor(this.#clock.now() / MINUTE);
    const hit = this.#answers.get(key);
    if (hit !== undefined && hit.version === this.#version && hit.minute === minute) {
      return hit.value as T;
    }
    const value = compute();
    if (this.#answers.size >= MAX_CACHED) this.#answers.clear();
    this.#answers.set(key, { version: this.#version, minute, value });
    return value;
  }

  // ---- health --------------------------------------------------------------------

  #health(
    component: string | undefined,
    service: string | undefined,
    window: ReadWindow,
  ): HealthBase {
    const store = this.#store;
    const now = this.#clock.now();
    const seconds = READ_WINDOWS[window];
    const from = Math.floor((now - seconds * 1000) / MINUTE) * MINUTE;
    const svc = service ?? null;
    const live = now - this.#staleAfterMs;
    this.#prune(now);

    // Traffic: one grouped pass over the window's minute rows.
    const totals = store.readCallTotals(from, component ?? null, svc);
    const byComponent = new Map<
      string,
      { samples: number; errors: number; timerCount: number; timerSum: number; first: number }
    >();
    let total = 0;
    let samples = 0;
    let errors = 0;
    let timerCount = 0;
    let timerSum = 0;
    let first = now;
    for (const t of totals) {
      // The SDK's resource gauges and GC pauses are not the services' traffic.
      if (t.component === SYSTEM && component !== SYSTEM) continue;
      let c = byComponent.get(t.component);
      if (c === undefined) {
        c = { samples: 0, errors: 0, timerCount: 0, timerSum: 0, first: now };
        byComponent.set(t.component, c);
      }
      if (t.first < first) first = t.first;
      if (t.first < c.first) c.first = t.first;
      if (t.metric_type === 'counter') {
        total += t.sum;
        continue;
      }
      total += t.count;
      samples += t.count;
      errors += t.errors;
      c.samples += t.count;
      c.errors += t.errors;
      if (t.metric_type === 'timer') {
        timerCount += t.count;
        timerSum += t.sum;
        c.timerCount += t.count;
        c.timerSum += t.sum;
      }
    }
    const covered = (start: number): number =>
      Math.max(1, Math.min(seconds, (now - Math.max(start, from)) / 1000));
    const components: HealthComponent[] = [...byComponent.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, c]) => ({
        component: name,
        request_count: c.samples,
        error_count: c.errors,
        error_rate: c.samples > 0 ? round(c.errors / c.samples, 4) : 0,
        average_response_time: c.timerCount > 0 ? round(c.timerSum / c.timerCount, 1) : 0,
        throughput_per_minute: round((c.samples / covered(c.first)) * 60, 1),
      }));
    const errorRate = samples > 0 ? errors / samples : 0;

    // Resources: the latest value of each live process, the largest of them.
    const gauges = store.readLatestGauges(
      SYSTEM,
      [
        'cpu_usage',
        'memory_usage',
        'disk_usage',
        'process_cpu_usage',
        'process_memory_rss',
        'process_heap_used',
        'event_loop_delay.p99',
        'event_loop_utilization',
      ],
      live,
      svc,
    );
    const network = store.readCounterTotals(
      SYSTEM,
      ['network_io.bytes_sent', 'network_io.bytes_recv'],
      svc,
    );
    const gauge = (name: string): number | undefined => gauges.get(name)?.value;
    const nullable = (name: string): number | null => gauge(name) ?? null;
    let lastUpdated = -1;
    for (const name of ['cpu_usage', 'memory_usage', 'disk_usage']) {
      const at = gauges.get(name)?.at;
      if (at !== undefined && at > lastUpdated) lastUpdated = at;
    }
    const resources: HealthResources = {
      process_cpu_usage: nullable('process_cpu_usage'),
      process_memory_rss: nullable('process_memory_rss'),
      process_heap_used: nullable('process_heap_used'),
      event_loop_delay_p99: nullable('event_loop_delay.p99'),
      event_loop_utilization: nullable('event_loop_utilization'),
    };

    // Staleness: services heard from in the last day without a live process.
    const services = new Map<string, { live: number; last: number }>();
    for (const s of store.readSources(now - DAY)) {
      if (service !== undefined && s.service_name !== service) continue;
      let e = services.get(s.service_name);
      if (e === undefined) services.set(s.service_name, (e = { live: 0, last: s.last_seen }));
      if (s.last_seen >= live) e.live++;
      if (s.last_seen > e.last) e.last = s.last_seen;
    }
    const serviceList: HealthService[] = [...services.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, e]) => ({
        service: name,
        live_instances: e.live,
        last_seen: iso(e.last),
        stale: e.live === 0,
      }));
    const stale = serviceList.filter((s) => s.stale).length;

    const counts = store.readTraceAndRuleCounts(from);
    const timestamp = iso(now);
    const score: HealthBase['score'] = {
      cpuUsage: gauge('cpu_usage') ?? Number.NaN,
      memoryUsage: gauge('memory_usage') ?? Number.NaN,
      diskUsage: gauge('disk_usage') ?? Number.NaN,
      errorRate,
      unhealthyTasks: stale,
    };
    const report: FleetHealthReport = {
      overall_health_score: computeHealthScore({ ...score, firingAlerts: {} }),
      system_metrics: {
        cpu_usage: percent(gauge('cpu_usage')),
        memory_usage: percent(gauge('memory_usage')),
        disk_usage: percent(gauge('disk_usage')),
        network_io: {
          bytes_sent: network.get('network_io.bytes_sent') ?? 0,
          bytes_recv: network.get('network_io.bytes_recv') ?? 0,
        },
        last_updated: lastUpdated < 0 ? timestamp : iso(lastUpdated),
      },
      recent_performance: {
        total_metrics: total,
        metrics_per_minute: round((total / covered(first)) * 60, 2),
        error_count: errors,
        performance_average: timerCount > 0 ? round(timerSum / timerCount, 3) : 0,
      },
      active_alerts: [],
      monitoring_status: {
        metrics_collected: store.readCollected(component === SYSTEM ? '' : SYSTEM, svc),
        active_traces: counts.traces,
        configured_alerts: counts.rules,
        background_tasks_running: stale === 0,
      },
      timestamp,
      window,
      service: service ?? null,
      components,
      services: serviceList,
      resources,
    };
    return { report, score };
  }

  // ---- analytics -----------------------------------------------------------------

  #analytics(
    component: string,
    service: string | undefined,
    window: ReadWindow,
  ): FleetAnalyticsReport {
    const store = this.#store;
    const now = this.#clock.now();
    const seconds = READ_WINDOWS[window];
    const svc = service ?? null;
    const from = Math.floor((now - seconds * 1000) / MINUTE) * MINUTE;
    const trendFrom = Math.floor(now / MINUTE) * MINUTE - (TREND_MINUTES - 1) * MINUTE;
    const readFrom = Math.min(from, trendFrom);

    // One pass over the minute rows of the window and of the trend hour (counts from
    // an index, digests fetched only for rows not already parsed).
    const rows = store.readComponentPoints(component, readFrom, svc, false);
    const ops = new Map<string, OperationWork>();
    const minutes = new Map<number, MinuteWork>();
    // Cells in the order their first row came (the order digests are merged in), found
    // by operation then minute (no key string built per row).
    const cells: Cell[] = [];
    const cellsByName = new Map<string, Map<number, Cell>>();
    let first = now;
    for (const row of rows) {
      if (row.metric_type !== 'timer' || row.count <= 0) continue;
      let byBucket = cellsByName.get(row.name);
      if (byBucket === undefined) {
        byBucket = new Map();
        cellsByName.set(row.name, byBucket);
      }
      let cell = byBucket.get(row.bucket);
      if (cell === undefined) {
        cell = { name: row.name, bucket: row.bucket, rows: [], signature: '' };
        byBucket.set(row.bucket, cell);
        cells.push(cell);
      }
      cell.rows.push(row);
      cell.signature += `${row.series_id}:${row.count};`;
      let m = minutes.get(row.bucket);
      if (m === undefined) {
        m = { requests: 0, errors: 0, sum: 0, digests: [], signature: '' };
        minutes.set(row.bucket, m);
      }
      m.requests += row.count;
      m.errors += row.errors;
      m.sum += row.sum;
      m.signature += `${row.series_id}:${row.count};`;
      if (row.bucket < from) continue;
      if (row.bucket < first) first = row.bucket;
      let op = ops.get(row.name);
      if (op === undefined) {
        op = { name: row.name, count: 0, errors: 0, sum: 0, digests: [] };
        ops.set(row.name, op);
      }
      op.count += row.count;
      op.errors += row.errors;
      op.sum += row.sum;
    }
    // An operation's minute is merged once while its rows are unchanged; windows and
    // minutes merge those.
    // Many rows to parse (a first read): their digests in one query, not one each.
    // Only from the oldest minute with a changed row on: after a write, the minutes it
    // touched (usually the latest), not the whole hour.
    let missing = 0;
    let oldestMissing = Number.POSITIVE_INFINITY;
    for (const cell of cells) {
      if (this.#cellKept(component, svc, cell)) continue;
      for (const row of cell.rows) {
        if (!this.#digestKept(row)) missing++;
      }
      if (cell.bucket < oldestMissing) oldestMissing = cell.bucket;
    }
    let texts: Map<string, string | null> | undefined;
    if (missing > 100) {
      texts = new Map();
      for (const r of store.readComponentPoints(component, oldestMissing, svc, true)) {
        texts.set(`${r.series_id}:${r.bucket}`, r.digest);
      }
    }
    for (const cell of cells) {
      const digest = this.#cellDigest(component, svc, cell, texts);
      if (digest === undefined) continue;
      minutes.get(cell.bucket)!.digests.push(digest);
      if (cell.bucket >= from) ops.get(cell.name)!.digests.push(digest);
    }

    const all = new TDigest();
    const operations: OperationReading[] = [];
    for (const op of ops.values()) {
      let p50 = Number.NaN;
      let p99 = Number.NaN;
      if (op.digests.length > 0) {
        const merged = new TDigest().merge(...op.digests);
        all.merge(merged);
        p50 = merged.quantile(0.5);
        p99 = merged.quantile(0.99);
      }
      operations.push({
        name: op.name,
        // The server has no process start: "since the series began" is the window.
        totalCount: op.count,
        totalErrors: op.errors,
        totalSum: op.sum,
        count: op.count,
        errors: op.errors,
        sum: op.sum,
        p50,
        p99,
      });
    }
    const counters = new Map<string, number>();
    const componentGauges = new Map<string, number>();
    for (const s of store.readComponentSeries(component, svc)) {
      if (s.metric_type === 'counter') counters.set(s.name, (counters.get(s.name) ?? 0) + s.value);
      else if (s.metric_type === 'gauge' && s.updated_at >= from) {
        const prev = componentGauges.get(s.name);
        if (prev === undefined || s.value > prev) componentGauges.set(s.name, s.value);
      }
    }
    const reading: ComponentReading = {
      component,
      operations,
      latencyP99: all.count > 0 ? all.quantile(0.99) : Number.NaN,
      coveredSeconds: Math.max(1, Math.min(seconds, (now - Math.max(first, from)) / 1000)),
      counters,
      gauges: componentGauges,
    };
    const source: AnalyticsSource = {
      components: () => [component],
      read: () => reading,
    };

    // The history core's trends, anomalies, usage pattern and forecasts read.
    const history = new MinuteHistory(undefined, this.#diagnostics, {
      minutes: Math.max(TREND_MINUTES, Math.ceil(seconds / 60)),
      hours: HISTORY_HOURS,
      maxComponents: 2,
    });
    const firstMinute = this.#recordHours(history, component, svc, now, readFrom);
    for (const [bucket, m] of minutes) {
      if (bucket < firstMinute) continue;
      history.record(component, bucket, {
        requests: m.requests,
        errors: m.errors,
        latency: m.requests > 0 ? m.sum / m.requests : Number.NaN,
        latencyP99: this.#minuteP99(component, svc, bucket, m),
      });
    }
    const gaugeNames = history.gauges;
    for (const c of component === SYSTEM ? [SYSTEM] : [component, SYSTEM]) {
      for (const g of store.readGaugeMinutes(c, gaugeNames, readFrom)) {
        history.record(c, g.bucket, { gauges: { [g.name]: g.value } });
      }
    }

    const engine = new AnalyticsEngine(
      {
        clock: this.#clock,
        diagnostics: this.#diagnostics,
        source,
        history,
        traces: () =>
          store.readComponentTraces(component, from, MAX_TRACES).map((spans) => spans.map(toSpan)),
        defaultComponent: 'default',
      },
      { windowSeconds: seconds, trendMinutes: TREND_MINUTES, anomalyMinutes: TREND_MINUTES },
    );
    const insights = engine.insights({ component });
    const percentile = (q: number): number | null =>
      all.count > 0 ? round(all.quantile(q), 3) : null;
    const latency_percentiles: LatencyPercentiles = {
      count: all.count,
      p50: percentile(0.5),
      p90: percentile(0.9),
      p95: percentile(0.95),
      p99: percentile(0.99),
      p999: percentile(0.999),
    };
    return {
      ...insights.report,
      window,
      service: service ?? null,
      latency_percentiles,
      anomalies: insights.anomalies
        .filter(
          (a) =>
            Number.isFinite(a.value) && Number.isFinite(a.baseline) && Number.isFinite(a.score),
        )
        .map((a) => ({
          metric: a.metric,
          component: a.component,
          timestamp: iso(a.timestamp),
          value: a.value,
          baseline: a.baseline,
          score: round(a.score, 2),
        })),
      capacity: insights.capacity
        .filter((f) => Number.isFinite(f.current) && Number.isFinite(f.threshold))
        .map((f) => ({
          metric: f.metric,
          component: f.component,
          current: f.current,
          threshold: f.threshold,
          time_to_threshold_seconds:
            f.timeToThresholdMs === null ? null : Math.round(f.timeToThresholdMs / 1000),
          summary: f.summary,
          advice: f.advice ?? null,
        })),
    };
  }

  /**
   * Records the hours before the minute rows read (as per-minute means, the unit of
   * core's hourly history) and returns the first minute to record from minute rows.
   * Hours are read once per hour and component: the usage pattern and hourly
   * forecasts do not move with the latest minutes.
   */
  #recordHours(
    history: MinuteHistory,
    component: string,
    service: string | null,
    now: number,
    readFrom: number,
  ): number {
    const firstHour = Math.floor(readFrom / HOUR) * HOUR;
    const hourNow = Math.floor(now / HOUR);
    const key = `${component}\u0000${service ?? ''}`;
    let kept = this.#hours.get(key);
    if (kept === undefined || kept.minute !== hourNow) {
      const value = this.#store.readComponentHours(
        component,
        (hourNow - HISTORY_HOURS + 1) * HOUR,
        service,
      );
      if (this.#hours.size >= MAX_CACHED) this.#hours.clear();
      kept = { version: 0, minute: hourNow, value };
      this.#hours.set(key, kept);
    }
    for (const h of kept.value) {
      if (h.hour >= firstHour || h.minutes <= 0) continue;
      history.record(component, h.hour, {
        requests: h.count / h.minutes,
        errors: h.errors / h.minutes,
        latency: h.count > 0 ? h.sum / h.count : Number.NaN,
      });
    }
    return firstHour;
  }

  /** A minute's p99 over every timer of the component, merged once per content. */
  #minuteP99(component: string, service: string | null, bucket: number, m: MinuteWork): number {
    if (m.digests.length === 0) return Number.NaN;
    const key = `${component}\u0000${service ?? ''}\u0000${bucket}`;
    const hit = this.#p99s.get(key);
    if (hit !== undefined && hit.signature === m.signature) return hit.p99;
    const p99 =
      m.digests.length === 1
        ? m.digests[0]!.quantile(0.99)
        : new TDigest().merge(...m.digests).quantile(0.99);
    if (this.#p99s.size >= MAX_P99S) this.#p99s.clear();
    this.#p99s.set(key, { signature: m.signature, p99 });
    return p99;
  }

  /** Whether an operation's minute is kept as its rows are now. */
  #cellKept(component: string, service: string | null, cell: Cell): boolean {
    const key = `${component}\u0000${service ?? ''}\u0000${cell.name}\u0000${cell.bucket}`;
    return this.#cells.get(key)?.signature === cell.signature;
  }

  /** An operation's minute: its rows' digests merged, kept while they are unchanged. */
  #cellDigest(
    component: string,
    service: string | null,
    cell: Cell,
    texts: ReadonlyMap<string, string | null> | undefined,
  ): TDigest | undefined {
    const key = `${component}\u0000${service ?? ''}\u0000${cell.name}\u0000${cell.bucket}`;
    const hit = this.#cells.get(key);
    if (hit !== undefined && hit.signature === cell.signature) return hit.digest;
    let digest: TDigest | undefined;
    for (const row of cell.rows) {
      const d = this.#digest(row, texts);
      if (d === undefined) continue;
      if (cell.rows.length === 1) digest = d;
      else (digest ??= new TDigest()).merge(d);
    }
    if (this.#cells.size >= MAX_DIGESTS) this.#cells.clear();
    this.#cells.set(key, { signature: cell.signature, digest });
    return digest;
  }

  /** Whether a row's parsed digest is kept as the row is now (here or by the store). */
  #digestKept(row: ReadPoint): boolean {
    return (
      this.#digests.get(`${row.series_id}:${row.bucket}`)?.count === row.count ||
      this.#store.readParsedDigest(row.series_id, row.bucket, row.count) !== undefined
    );
  }

  /**
   * A row's digest, read and parsed; kept while the row holds the same samples when
   * its minute is recent (older rows are read through their operation-minute).
   */
  #digest(
    row: ReadPoint,
    texts: ReadonlyMap<string, string | null> | undefined,
  ): TDigest | undefined {
    const key = `${row.series_id}:${row.bucket}`;
    const hit = this.#digests.get(key);
    if (hit !== undefined && hit.count === row.count) return hit.digest;
    // Written by a batch of this process: its parsed digest, shared (only read here).
    let digest = this.#store.readParsedDigest(row.series_id, row.bucket, row.count);
    if (digest !== undefined) {
      if (this.#digests.size >= MAX_ROW_DIGESTS) this.#digests.clear();
      this.#digests.set(key, { count: row.count, digest });
      return digest;
    }
    try {
      const text =
        texts !== undefined && texts.has(key)
          ? (texts.get(key) ?? null)
          : this.#store.readDigest(row.series_id, row.bucket);
      digest = text === null ? undefined : TDigest.fromJSON(JSON.parse(text) as TDigestJSON);
    } catch {
      digest = undefined;
    }
    if (row.bucket >= this.#clock.now() - RECENT_MS) {
      if (this.#digests.size >= MAX_ROW_DIGESTS) this.#digests.clear();
      this.#digests.set(key, { count: row.count, digest });
    }
    return digest;
  }

  /** Drops, once an hour, what processes gone for a week reported. */
  #prune(now: number): void {
    if (now - this.#prunedAt < HOUR) return;
    this.#prunedAt = now;
    this.#store.pruneSourceSeries(now - 7 * DAY);
  }
}
