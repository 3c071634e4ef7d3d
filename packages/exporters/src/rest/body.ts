/**
 * The JSON body of the REST exporter: an export batch in the spec's snake_case, built
 * by a pure function so the receiving server (issue 6) can share the shapes. Imports
 * only `@prsm/core` types.
 */
import { endianness } from 'node:os';

import type {
  AlertHistoryEntry,
  AlertSeverity,
  DistributionSnapshot,
  ExportItem,
  SeriesSnapshot,
  SpanMetadataValue,
  StoredSpan,
  SubWindowSnapshot,
} from '@prsm/core';

/**
 * What every metric of a {@link RestBatchBody} carries: the fields of the spec's
 * `POST /api/v1/monitoring/metrics` body (with the name as `metric_name`) and the
 * time of the snapshot.
 *
 * @example
 * ```ts
 * const key = `${metric.component}/${metric.metric_name}${JSON.stringify(metric.tags)}`;
 * ```
 */
export interface RestMetricBase {
  /** The metric's name. */
  readonly metric_name: string;
  /** The component the series belongs to. */
  readonly component: string;
  /** Identifying tags (the series key, besides name and component). */
  readonly tags: Readonly<Record<string, string>>;
  /** Descriptive labels (not part of the series key). */
  readonly labels: Readonly<Record<string, string>>;
  /** When the snapshot was taken, ISO 8601 in UTC. */
  readonly timestamp: string;
}

/**
 * A counter's increase and rates over one configured window.
 *
 * @example
 * ```ts
 * const perMinute = counter.windows.find((w: RestCounterWindow) => w.window_seconds === 60)?.per_minute;
 * ```
 */
export interface RestCounterWindow {
  /** The window, in seconds. */
  readonly window_seconds: number;
  /** The increase within the window. */
  readonly count: number;
  /** `count` per second of the time the window covers. */
  readonly per_second: number;
  /** `per_second * 60`. */
  readonly per_minute: number;
}

/**
 * A counter series: `value` is everything counted since the series began.
 *
 * @example
 * ```ts
 * if (metric.metric_type === 'counter') console.log(metric.value, metric.windows[0]?.per_second);
 * ```
 */
export interface RestCounterMetric extends RestMetricBase {
  /** The kind of series. */
  readonly metric_type: 'counter';
  /** The total since the series began. */
  readonly value: number;
  /** One entry per configured window, in the monitor's order. */
  readonly windows: readonly RestCounterWindow[];
}

/**
 * A gauge series: `value` is its last value.
 *
 * @example
 * ```ts
 * if (metric.metric_type === 'gauge') console.log(metric.value);
 * ```
 */
export interface RestGaugeMetric extends RestMetricBase {
  /** The kind of series. */
  readonly metric_type: 'gauge';
  /** The last value set. */
  readonly value: number;
}

/**
 * The standard quantiles of a window, keyed `p50`, `p90`, `p95`, `p99`, `p999` (the
 * quantile times 100, without the dot: the monitor's `snapshotQuantiles` decide which).
 * A quantile without a value (an empty window) is absent.
 *
 * @example
 * ```ts
 * const p99: number | undefined = window.quantiles['p99'];
 * ```
 */
export type RestQuantiles = Readonly<Record<string, number>>;

/**
 * The statistics of a histogram or timer over one configured window. `min`, `max`
 * and `mean` are absent when the window holds no sample.
 *
 * @example
 * ```ts
 * const slow = metric.windows.filter((w: RestDistributionWindow) => (w.quantiles['p99'] ?? 0) > 500);
 * ```
 */
export interface RestDistributionWindow {
  /** The window, in seconds. */
  readonly window_seconds: number;
  /** Samples within the window. */
  readonly count: number;
  /** Their exact sum. */
  readonly sum: number;
  /** Their exact minimum. */
  readonly min?: number;
  /** Their exact maximum. */
  readonly max?: number;
  /** Their exact mean. */
  readonly mean?: number;
  /** The share of samples recorded as errors, 0 without samples. */
  readonly error_rate: number;
  /** Samples per second of the time the window covers. */
  readonly per_second: number;
  /** The standard quantiles. */
  readonly quantiles: RestQuantiles;
}

/**
 * A histogram or timer series. `value` is the cumulative mean (every sample since the
 * series began; 0 before the first), `count`, `sum`, `min` and `max` are cumulative
 * too; `windows` has the per-window statistics. Digests are never sent.
 *
 * @example
 * ```ts
 * if (metric.metric_type === 'timer') console.log(metric.value, metric.unit, metric.windows[0]?.quantiles['p99']);
 * ```
 */
export interface RestDistributionMetric extends RestMetricBase {
  /** The kind of series. */
  readonly metric_type: 'histogram' | 'timer';
  /** The cumulative mean, 0 when there is no sample yet. */
  readonly value: number;
  /** The unit of the samples (`ms` for timers). */
  readonly unit: string;
  /** Samples since the series began. */
  readonly count: number;
  /** Their exact sum. */
  readonly sum: number;
  /** Their exact minimum, absent before the first sample. */
  readonly min?: number;
  /** Their exact maximum, absent before the first sample. */
  readonly max?: number;
  /**
   * One entry per configured window, in the monitor's order; empty unless the
   * exporter was created with `windowQuantiles: true`.
   */
  readonly windows: readonly RestDistributionWindow[];
  /**
   * The sub-windows closed since the previous export (and, in the last export before
   * shutdown, the open one), each with its digest: what a server merges per minute
   * across processes. Absent when the snapshot carried none.
   */
  readonly sub_windows?: readonly RestSubWindow[];
}

/**
 * One sub-window of a histogram or timer with its digest, for a receiver that keeps
 * mergeable digests per minute. `centroids` is base64 of little-endian 32-bit floats,
 * interleaved mean and weight, sorted by mean.
 *
 * @example
 * ```ts
 * const bytes = Buffer.from(w.centroids, 'base64');
 * const pairs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
 * for (let i = 0; i < pairs.length; i += 2) digest.addCentroid(pairs[i], pairs[i + 1]);
 * ```
 */
export interface RestSubWindow {
  /** When the sub-window began, ISO 8601 in UTC. */
  readonly start_time: string;
  /** Its length in seconds. */
  readonly seconds: number;
  /** True when it was still open (sent at shutdown: a later process may add to it). */
  readonly partial: boolean;
  /** Samples in it. */
  readonly count: number;
  /** Their exact sum. */
  readonly sum: number;
  /** Their exact minimum. */
  readonly min: number;
  /** Their exact maximum. */
  readonly max: number;
  /** Samples recorded as errors. */
  readonly error_count: number;
  /** Base64 of little-endian float32 pairs (mean, weight), sorted by mean. */
  readonly centroids: string;
  /**
   * Its slowest traced values (exemplars), slowest first, at most
   * {@link REST_MAX_EXEMPLARS}: how a server links a latency point to a trace.
   * Absent when none of its values was recorded with a trace id.
   */
  readonly exemplars?: readonly RestExemplar[];
}

/**
 * The most exemplars a {@link RestSubWindow} carries (a server refuses more).
 *
 * @example
 * ```ts
 * const few = exemplars.slice(0, REST_MAX_EXEMPLARS);
 * ```
 */
export const REST_MAX_EXEMPLARS = 4;

/**
 * A value of a sub-window recorded with the trace it was measured in (an exemplar).
 * `span_id` and `timestamp` are sent when the sender knows them (the SDK's histograms
 * keep only the value and the trace id; a server files the exemplar under its
 * sub-window's minute).
 *
 * @example
 * ```ts
 * for (const e of w.exemplars ?? []) console.log(`${e.value} ms: /traces/${e.trace_id}`);
 * ```
 */
export interface RestExemplar {
  /** The recorded value (ms for timers). */
  readonly value: number;
  /** 32 lowercase hex digits. */
  readonly trace_id: string;
  /** 16 lowercase hex digits, when known. */
  readonly span_id?: string;
  /** When the value was recorded, ISO 8601 in UTC, when known. */
  readonly timestamp?: string;
}

/**
 * Who sent a batch: the monitor's resource attributes (`service.name`...) and an id
 * unique to the exporting process, so a server tells apart two processes that report
 * the same series (each one's counter totals are its own).
 *
 * @example
 * ```ts
 * const who = `${body.source?.resource['service.name']}#${body.source?.instance_id}`;
 * ```
 */
export interface RestSource {
  /** Random per exporter instance (one per process, in practice). */
  readonly instance_id: string;
  /** The monitor's resource attributes, `service.name` among them. */
  readonly resource: Readonly<Record<string, string | number | boolean>>;
}

/**
 * One metric of a {@link RestBatchBody}; switch on `metric_type`.
 *
 * @example
 * ```ts
 * for (const metric of body.metrics) if (metric.metric_type === 'gauge') console.log(metric.value);
 * ```
 */
export type RestMetric = RestCounterMetric | RestGaugeMetric | RestDistributionMetric;

/**
 * One finished span, in the spec's trace vocabulary. Optional fields are absent
 * (never `null`) when they do not apply.
 *
 * @example
 * ```ts
 * const roots = body.traces.filter((s: RestSpan) => s.parent_span_id === undefined);
 * ```
 */
export interface RestSpan {
  /** The trace's id (32 hex digits). */
  readonly trace_id: string;
  /** The span's id (16 hex digits). */
  readonly span_id: string;
  /** The parent's span id; absent for a root span. */
  readonly parent_span_id?: string;
  /** The operation. */
  readonly name: string;
  /** Start, ISO 8601 in UTC. */
  readonly start_time: string;
  /** End, ISO 8601 in UTC. */
  readonly end_time: string;
  /** Duration in milliseconds. */
  readonly duration_ms: number;
  /** `error` when the span failed, else `success`. */
  readonly status: 'success' | 'error';
  /** The status message of a failed span. */
  readonly status_message?: string;
  /** The span's attributes. */
  readonly attributes: Readonly<Record<string, SpanMetadataValue>>;
  /** The `prsm.component` attribute, when set. */
  readonly component?: string;
}

/**
 * One alert event (a transition or an action of the alert engine).
 *
 * @example
 * ```ts
 * const fired = body.alerts.filter((e: RestAlertEvent) => e.event === 'firing');
 * ```
 */
export interface RestAlertEvent {
  /** The episode: stable from pending to resolved. */
  readonly alert_id: string;
  /** The rule. */
  readonly rule_id: string;
  /** The rule's name. */
  readonly name: string;
  /** The rule's severity. */
  readonly severity: AlertSeverity;
  /** The rule's component. */
  readonly component: string;
  /** What happened. */
  readonly event: AlertHistoryEntry['event'];
  /** When, ISO 8601 in UTC. */
  readonly at: string;
  /** The condition's value then. */
  readonly value?: number;
  /** Who acknowledged (for `acknowledged`). */
  readonly by?: string;
  /** The escalation step reached (for `escalated`). */
  readonly escalation_step?: number;
}

/**
 * The body the REST exporter POSTs to `/api/v1/monitoring/batch`. `batch_id` is the
 * same on every retry of a batch (and in the `x-prsm-batch-id` header): a receiver
 * drops a batch id it has already stored.
 *
 * @example
 * ```ts
 * const body = JSON.parse(text) as RestBatchBody;
 * if (seen.has(body.batch_id)) return; // a retry of a batch already stored
 * store(body.metrics, body.traces, body.alerts);
 * ```
 */
export interface RestBatchBody {
  /** The batch's id, kept across retries. */
  readonly batch_id: string;
  /** Who sent it (absent when the exporter is not attached to a monitor). */
  readonly source?: RestSource;
  /** When this attempt was made, ISO 8601 in UTC. */
  readonly sent_at: string;
  /** The series of the batch. */
  readonly metrics: readonly RestMetric[];
  /** The finished spans of the batch. */
  readonly traces: readonly RestSpan[];
  /** The alert events of the batch. */
  readonly alerts: readonly RestAlertEvent[];
}

/** Milliseconds since the epoch as ISO 8601, or the number itself if it is no valid time. @internal */
export function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/** `{ [key]: value }` when the value is a finite number, else nothing (JSON has no NaN). */
function finite<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value !== undefined && Number.isFinite(value) ? { [key]: value } : {}) as {
    [P in K]?: number;
  };
}

/** `0.5` → `p50`, `0.999` → `p999`. */
function quantileKey(quantile: number): string {
  return `p${String(Number((quantile * 100).toPrecision(12))).replace('.', '')}`;
}

/** A histogram's or timer's windows as the body writes them (the cumulative one left out). @internal */
export function restDistributionWindows(
  series: Extract<SeriesSnapshot, { type: 'histogram' | 'timer' }>,
): RestDistributionWindow[] {
  const windows: RestDistributionWindow[] = [];
  for (const w of series.windows) {
    const out = distributionWindow(w);
    if (out !== undefined) windows.push(out);
  }
  return windows;
}

function distributionWindow(w: DistributionSnapshot): RestDistributionWindow | undefined {
  if (typeof w.windowSeconds !== 'number') return undefined;
  const quantiles: Record<string, number> = {};
  for (const { quantile, value } of w.quantiles) {
    if (Number.isFinite(value)) quantiles[quantileKey(quantile)] = value;
  }
  return {
    window_seconds: w.windowSeconds,
    count: w.count,
    sum: w.sum,
    ...finite('min', w.min),
    ...finite('max', w.max),
    ...finite('mean', w.mean),
    error_rate: w.errorRate,
    per_second: w.perSecond,
    quantiles,
  };
}

/** Whether this machine's floats are big-endian (the body's are little-endian). @internal */
export const BIG_ENDIAN = endianness() === 'BE';

/** The trace ids a server accepts: W3C's, lowercase. */
const TRACE_ID = /^[0-9a-f]{32}$/;

/** A sub-window's exemplars as the body writes them; undefined when it sends none. @internal */
export function restExemplars(w: SubWindowSnapshot): RestSubWindow['exemplars'] {
  return w.exemplar !== undefined && TRACE_ID.test(w.exemplar.traceId)
    ? [{ value: w.exemplar.value, trace_id: w.exemplar.traceId }]
    : undefined;
}

/** Base64 of the centroids as little-endian float32. @internal */
export function centroidsBase64(centroids: Float32Array): string {
  const bytes = Buffer.from(centroids.buffer, centroids.byteOffset, centroids.byteLength);
  return (BIG_ENDIAN ? Buffer.from(bytes).swap32() : bytes).toString('base64');
}

// Every series' sub-window of a minute starts at the same time: format it once.
let lastStart = NaN;
let lastStartIso = '';

function toRestSubWindow(w: SubWindowSnapshot): RestSubWindow {
  if (w.startMs !== lastStart) {
    lastStart = w.startMs;
    lastStartIso = isoTime(w.startMs);
  }
  const out: RestSubWindow = {
    start_time: lastStartIso,
    seconds: w.seconds,
    partial: w.open,
    count: w.count,
    sum: w.sum,
    min: w.min,
    max: w.max,
    error_count: w.errors,
    centroids: centroidsBase64(w.centroids),
  };
  // Added after the literal, not spread into it: a spread builds a slower object,
  // which ten thousand sub-windows in one body feel (when serialised too).
  const exemplars = restExemplars(w);
  if (exemplars !== undefined) {
    (out as { exemplars?: RestSubWindow['exemplars'] }).exemplars = exemplars;
  }
  return out;
}

/** A counter's windows as the body writes them (the cumulative one left out). @internal */
export function restCounterWindows(
  series: Extract<SeriesSnapshot, { type: 'counter' }>,
): RestCounterWindow[] {
  const windows: RestCounterWindow[] = [];
  for (const w of series.windows) {
    if (typeof w.windowSeconds !== 'number') continue;
    windows.push({
      window_seconds: w.windowSeconds,
      count: w.count,
      per_second: w.perSecond,
      per_minute: w.perMinute,
    });
  }
  return windows;
}

/**
 * One metric as a plain object literal per type: spreading a shared base builds
 * slower objects, which a body of ten thousand metrics feels. Tags and labels are
 * the series' own frozen objects, serialised as they are.
 */
function toRestMetric(series: SeriesSnapshot, timestamp: string): RestMetric {
  switch (series.type) {
    case 'counter': {
      const windows = restCounterWindows(series);
      return {
        metric_name: series.name,
        component: series.component,
        tags: series.tags,
        labels: series.labels,
        timestamp,
        metric_type: 'counter',
        value: series.total,
        windows,
      };
    }
    case 'gauge':
      return {
        metric_name: series.name,
        component: series.component,
        tags: series.tags,
        labels: series.labels,
        timestamp,
        metric_type: 'gauge',
        value: series.value,
      };
    case 'histogram':
    case 'timer': {
      const c = series.cumulative;
      const windows = restDistributionWindows(series);
      const metric: {
        -readonly [K in keyof RestDistributionMetric]: RestDistributionMetric[K];
      } = {
        metric_name: series.name,
        component: series.component,
        tags: series.tags,
        labels: series.labels,
        timestamp,
        metric_type: series.type,
        value: Number.isFinite(c.mean) ? c.mean : 0,
        unit: series.unit,
        count: c.count,
        sum: c.sum,
        windows,
      };
      if (Number.isFinite(c.min)) metric.min = c.min;
      if (Number.isFinite(c.max)) metric.max = c.max;
      if (series.subWindows !== undefined) {
        metric.sub_windows = series.subWindows.map(toRestSubWindow);
      }
      return metric;
    }
  }
}

/** A finished span as the body writes it. @internal */
export function restSpan(span: StoredSpan): RestSpan {
  return {
    trace_id: span.traceId,
    span_id: span.spanId,
    ...(span.parentSpanId === undefined ? {} : { parent_span_id: span.parentSpanId }),
    name: span.name,
    start_time: isoTime(span.startMs),
    end_time: isoTime(span.endMs),
    duration_ms: span.durationMs,
    status: span.status,
    ...(span.statusMessage === undefined ? {} : { status_message: span.statusMessage }),
    attributes: { ...span.attributes },
    ...(span.component === undefined ? {} : { component: span.component }),
  };
}

/** An alert event as the body writes it. @internal */
export function restAlertEvent(event: AlertHistoryEntry): RestAlertEvent {
  return {
    alert_id: event.alertId,
    rule_id: event.ruleId,
    name: event.name,
    severity: event.severity,
    component: event.component,
    event: event.event,
    at: isoTime(event.at),
    ...finite('value', event.value),
    ...(event.by === undefined ? {} : { by: event.by }),
    ...(event.escalationStep === undefined ? {} : { escalation_step: event.escalationStep }),
  };
}

/**
 * The JSON body of one batch, as the REST exporter sends it: series as `metrics`,
 * spans as `traces`, alert events as `alerts`, each in the order of the batch, every
 * name in snake_case, every time ISO 8601 in UTC, numbers that JSON cannot hold (NaN)
 * left out. Pure: `sentAt` (ms since the epoch) is the only time it reads.
 *
 * @example
 * ```ts
 * import { toRestBatch } from '@prsm/exporters/rest';
 *
 * const body = toRestBatch({ id: 'b-1', items: [{ kind: 'alert', event }] }, Date.now());
 * body.alerts[0]?.alert_id; // event.alertId
 * ```
 */
export function toRestBatch(
  batch: { readonly id: string; readonly items: readonly ExportItem[] },
  sentAt: number,
  source?: RestSource,
): RestBatchBody {
  const metrics: RestMetric[] = [];
  const traces: RestSpan[] = [];
  const alerts: RestAlertEvent[] = [];
  // A batch's series share their snapshot's time: format it once.
  let lastTime = NaN;
  let lastIso = '';
  for (const item of batch.items) {
    switch (item.kind) {
      case 'series':
        if (item.timestamp !== lastTime) {
          lastTime = item.timestamp;
          lastIso = isoTime(item.timestamp);
        }
        metrics.push(toRestMetric(item.series, lastIso));
        break;
      case 'span':
        traces.push(restSpan(item.span));
        break;
      case 'alert':
        alerts.push(restAlertEvent(item.event));
        break;
    }
  }
  return {
    batch_id: batch.id,
    ...(source !== undefined && { source }),
    sent_at: isoTime(sentAt),
    metrics,
    traces,
    alerts,
  };
}

/**
 * One business KPI sample, the spec's `POST /api/v1/monitoring/business-metrics`
 * body (what `BusinessOutcomes.businessMetricBodies()` returns).
 *
 * @example
 * ```ts
 * const mrr: RestBusinessMetric = {
 *   metric_name: 'monthly_recurring_revenue',
 *   value: 125000,
 *   dimension: 'monthly',
 *   target: 150000,
 *   metadata: { currency: 'USD' },
 * };
 * ```
 */
export interface RestBusinessMetric {
  /** The KPI's name. */
  readonly metric_name: string;
  /** Its current value. */
  readonly value: number;
  /** The period it is measured over (`daily`, `monthly`...). */
  readonly dimension?: string;
  /** Its target. */
  readonly target?: number;
  /** Flat metadata, redacted by the monitor's rules before it got here. */
  readonly metadata?: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * The batch form of `POST /api/v1/monitoring/business-metrics` the REST exporter
 * sends: `batch_id` is the same on every retry (and in `x-prsm-batch-id`), and the
 * server stores a batch id once.
 *
 * @example
 * ```ts
 * const body = JSON.parse(text) as RestBusinessMetricsBody;
 * for (const m of body.metrics) console.log(m.metric_name, m.value);
 * ```
 */
export interface RestBusinessMetricsBody {
  /** The batch's id, kept across retries. */
  readonly batch_id: string;
  /** Who sent it (absent when the exporter is not attached to a monitor). */
  readonly source?: RestSource;
  /** When this attempt was made, ISO 8601 in UTC. */
  readonly sent_at: string;
  /** The samples, oldest first (1 to 1000). */
  readonly metrics: readonly RestBusinessMetric[];
}

/**
 * The business-metrics body of one batch. Pure: `sentAt` is the only time it reads.
 *
 * @example
 * ```ts
 * const body = toRestBusinessMetrics({ id: 'b-1', items: [{ metric_name: 'mrr', value: 1 }] }, Date.now());
 * ```
 */
export function toRestBusinessMetrics(
  batch: { readonly id: string; readonly items: readonly RestBusinessMetric[] },
  sentAt: number,
  source?: RestSource,
): RestBusinessMetricsBody {
  return {
    batch_id: batch.id,
    ...(source !== undefined && { source }),
    sent_at: isoTime(sentAt),
    metrics: batch.items,
  };
}
