import { type Clock, systemClock } from './clock/clock.js';
import {
  DiagnosticCode,
  type DiagnosticCodeValue,
  type DiagnosticLogger,
  Diagnostics,
} from './diagnostics/diagnostics.js';
import {
  DEFAULT_COMPRESSION,
  quantilesOfParts,
  type QuantileMemo,
  quantileMemoRow,
  type Scale,
  scaleFor,
} from './sketch/centroids.js';
import { TDigest, validateCompression } from './sketch/tdigest.js';
import type { BoundCounter } from './metrics/counter-series.js';
import { CounterSeries } from './metrics/counter-series.js';
import type { BoundGauge } from './metrics/gauge-series.js';
import { GaugeSeries } from './metrics/gauge-series.js';
import { HistogramSeries, type HistogramWindowRead } from './metrics/histogram-series.js';
import { type AnySeries, type FamilyContext, MetricFamily } from './metrics/family.js';
import {
  type BoundTimer,
  type Counter,
  type Gauge,
  type Histogram,
  NOOP_BOUND,
  noopInstrument,
  type StopTimer,
  type Timer,
} from './metrics/instruments.js';
import type {
  DistributionReading,
  DistributionSnapshot,
  HistogramSnapshot,
  MonitorSnapshot,
  SeriesSnapshot,
  SeriesVisitor,
  SlicedVisitOptions,
  SnapshotOptions,
  SubWindowSnapshot,
  VisitOptions,
  WindowRates,
  WindowStats,
} from './metrics/snapshot.js';
import { SlotTicker } from './metrics/ticker.js';
import { context, trace } from '@opentelemetry/api';
import {
  AsyncLocalStorageContextManager,
  MinimalTracerProvider,
} from './tracing/minimal-provider.js';
import { PrsmSpanProcessor } from './tracing/span-processor.js';
import { type TraceRecord, toTraceRecord } from './tracing/trace-record.js';
import { TraceStore, type TraceStoreOptions } from './tracing/trace-store.js';
import { AlertEngine, type AlertInstruments } from './alerting/engine.js';
import {
  AnalyticsEngine,
  type AnalyticsOptions,
  type AnalyticsQuery,
} from './analytics/analytics.js';
import { anomalyScore } from './analytics/anomaly.js';
import { spansOf } from './analytics/bottlenecks.js';
import { MinuteHistory, type MinuteHistoryOptions } from './analytics/history.js';
import { familiesSource } from './analytics/source.js';
import type { AnalyticsInsights, AnalyticsReport } from './analytics/types.js';
import { DatabaseMonitor, type DatabaseMonitorOptions } from './health/database.js';
import { AuditLog, type AuditLogOptions } from './security/audit.js';
import type { SecurityContext } from './security/context.js';
import { SecurityMonitor, type SecurityMonitorOptions } from './security/events.js';
import { createRedactor, type RedactionOptions, type Redactor } from './security/redaction.js';
import { JsonlFileSink } from './security/sinks.js';
import { withComponentSpecific } from './analytics/component-specific.js';
import type { CacheTracker, CacheTrackerOptions } from './components/caches.js';
import { type ComponentHelpers, createComponentHelpers } from './components/components.js';
import type { CostOptions, CostTracker } from './components/costs.js';
import type { JobTracker, JobTrackerOptions } from './components/jobs.js';
import type { MarketplaceMonitor } from './components/marketplace.js';
import type { ComponentName } from './components/names.js';
import type { RecommendationMonitor } from './components/recommendation.js';
import {
  type ClusterAggregation,
  clusterAggregation,
  type ClusterOptions,
} from './cluster/cluster.js';
import { HealthReporter } from './health/health.js';
import { readRecentPerformance, RecentSlotCache } from './health/recent.js';
import { ResourceSampler, type ResourceSamplerOptions } from './health/resources.js';
import { TaskRegistry, type TaskRegistryOptions } from './health/tasks.js';
import type { HealthContext, HealthRecorder, HealthReport } from './health/types.js';
import type { AlertHistoryEntry, AlertingOptions } from './alerting/types.js';
import { type ExportItem, exportItemSize } from './export/items.js';
import {
  type Exporter,
  type ExporterHost,
  type ExportNeeds,
  ExportPipeline,
  type ExportPipelineOptions,
  type ExportPipelineStats,
} from './export/pipeline.js';
import {
  copyTags,
  type InstrumentOptions,
  isArray,
  isValidName,
  type Labels,
  type MetricInput,
  type MetricType,
  type Tags,
} from './metrics/types.js';

/**
 * Records other than series, spans and alert events that a component offers the
 * exporters (business metrics, for one: `BusinessOutcomes` adds a source of kind
 * `business_metrics`). An exporter that knows `kind` pulls them through its
 * {@link MonitorExporterHost} after every export collection (each export interval,
 * `forceFlush()` and shutdown). `collect` must be cheap and should not throw (a
 * throw is reported to diagnostics and counts as no records).
 *
 * @example
 * ```ts
 * const stop = monitor.addExportSource({
 *   kind: 'business_metrics',
 *   collect: () => outcomes.businessMetricBodies(),
 * });
 * ```
 */
export interface ExportSource {
  /** What the records are, for the exporters that know it: `business_metrics`... */
  readonly kind: string;
  /** The records as of now. */
  collect(): readonly unknown[];
}

/**
 * What a {@link Monitor} hands the exporters it adopts (`attach`): the
 * {@link ExporterHost} fields, its diagnostics, and the hook to pull the records of
 * {@link ExportSource}s at each export collection.
 *
 * @example
 * ```ts
 * const exporter: Exporter<ExportItem> = {
 *   attach(host: ExporterHost & Partial<MonitorExporterHost>) {
 *     host.onCollect?.(() => send(host.collect?.('business_metrics') ?? []));
 *   },
 *   async export() {
 *     return { ok: true };
 *   },
 *   async shutdown() {},
 * };
 * ```
 */
export interface MonitorExporterHost extends ExporterHost {
  /** Where an exporter reports its own drops and failures. */
  readonly diagnostics: Diagnostics;
  /**
   * Calls `listener` after every export collection (`final` for the last one, at
   * shutdown, before the exporters are shut down). Returns a function that removes it.
   */
  onCollect(listener: (final: boolean) => void): () => void;
  /** The records of every source of `kind` now, in the order the sources were added. */
  collect(kind: string): unknown[];
}

/**
 * Options for {@link Monitor}. Every option is checked at construction: a bad value
 * throws a `TypeError` naming the option.
 *
 * @example
 * ```ts
 * const monitor = new Monitor({
 *   defaultComponent: 'marketplace',
 *   windows: [60, 300, 900],
 *   subWindowSeconds: 60,
 *   maxSeriesPerMetric: 2000,
 *   logger: console,
 * });
 * ```
 */
export interface MonitorOptions {
  /** Where time comes from; default the system clock. Use {@link ManualClock} in tests. */
  readonly clock?: Clock;
  /** Where the SDK's own warnings go; silent by default. */
  readonly logger?: DiagnosticLogger;
  /** The component of metrics recorded without one. Default `'default'`. */
  readonly defaultComponent?: ComponentName;
  /**
   * The service's name, for exporters (OpenTelemetry's `service.name` resource
   * attribute). Default: the `OTEL_SERVICE_NAME` environment variable, else
   * `'unknown_service:node'` (OpenTelemetry's default).
   */
  readonly serviceName?: string;
  /**
   * Further resource attributes for exporters (`deployment.environment`,
   * `service.version`...): keys and string values of at most 255 characters, finite
   * numbers, booleans. `service.name` comes from `serviceName`.
   */
  readonly resourceAttributes?: Readonly<Record<string, string | number | boolean>>;
  /**
   * The sliding windows (seconds) every histogram, timer and counter keeps, each a
   * multiple of `subWindowSeconds`. Default `[60, 300, 900]`.
   */
  readonly windows?: readonly number[];
  /**
   * The length of one ring sub-window (seconds). Windows move in steps of it, and a
   * window of W seconds spans between W and W + one sub-window. Default 60.
   */
  readonly subWindowSeconds?: number;
  /** The t-digest compression (accuracy against memory). Default 200. */
  readonly compression?: number;
  /** Series kept per metric name before tag sets go to the overflow series. Default 2000. */
  readonly maxSeriesPerMetric?: number;
  /** Metric names kept; records of further names are dropped and counted. Default 1000. */
  readonly maxMetrics?: number;
  /**
   * The quantiles every histogram and timer window carries in a snapshot, computed
   * at full accuracy. Default `[0.5, 0.9, 0.95, 0.99, 0.999]`.
   */
  readonly snapshotQuantiles?: readonly number[];
  /**
   * Registers a minimal OpenTelemetry tracer provider (always sampling, spans kept in
   * the monitor's trace store) and an AsyncLocalStorage context manager, for services
   * that have not set up the OpenTelemetry SDK. Services that have should leave this
   * off and add `monitor.spanProcessor` to their SDK instead. Default false.
   */
  readonly tracing?: boolean;
  /** Limits of the trace store (traces, spans per trace, age). */
  readonly traceStore?: TraceStoreOptions;
  /** The alert engine: evaluation interval, notification channels, routing, grouping, escalation. */
  readonly alerting?: AlertingOptions;
  /**
   * Where series, finished spans and alert events go: each exporter gets its own
   * {@link ExportPipeline} (queue, batches, retries), so a slow one delays no other.
   */
  readonly exporters?: readonly Exporter<ExportItem>[];
  /**
   * How often every series is snapshotted for the exporters (seconds). Default 60. The
   * interval's snapshot is taken in slices (1,000 series, or 5 ms), the event loop let
   * run between them, so that many series do not hold the service's requests for the
   * whole of it; `forceFlush()` and `shutdown()` take theirs in one go.
   */
  readonly exportIntervalSeconds?: number;
  /** The pipelines' limits (batch size, queue bounds, timeout, retries, concurrency). */
  readonly exportPipeline?: Omit<ExportPipelineOptions<ExportItem>, 'exportIntervalMs' | 'sizeOf'>;
  /** How long `shutdown()` gives the exporters to deliver what is queued (seconds). Default 10. */
  readonly shutdownTimeoutSeconds?: number;
  /**
   * On SIGTERM or SIGINT, `shutdown()` (delivering what is queued within the
   * deadline), then let the process end as it would have without this listener: the
   * signal is raised again when no other listener handles it. Default false.
   */
  readonly handleSignals?: boolean;
  /** System health: resource sampling, background tasks, database timing, `health()`. */
  readonly health?: HealthOptions;
  /** The analytics engine: its per-minute history, windows and thresholds. */
  readonly analytics?: AnalyticsMonitorOptions;
  /** Security events and threat detection (`monitor.security`). */
  readonly security?: SecurityOptions;
  /** The tamper-evident audit log (`monitor.audit`). */
  readonly audit?: AuditOptions;
  /**
   * What is masked before it is stored or exported (audit metadata; see
   * `createRedactor`); `false`: nothing. Default the default rules.
   */
  readonly redaction?: RedactionOptions | false;
  /**
   * Aggregation across `node:cluster` workers (see `clusterAggregation`): each worker
   * sends its deltas to the primary, whose monitor then reports the whole fleet; a
   * worker sends its last deltas on `shutdown()`. Default: off.
   */
  readonly cluster?: ClusterOptions;
  /** Cache effectiveness limits and miss penalties (`monitor.caches`). */
  readonly caches?: CacheTrackerOptions;
  /** Long-job tracking: ETA smoothing, stall rule, GPU sampling, limits (`monitor.jobs`). */
  readonly jobs?: JobTrackerOptions;
  /** Unit prices for the cost analytics (`monitor.costs`). */
  readonly costs?: CostOptions;
}

/**
 * The security options of a {@link Monitor}: the detector's thresholds and whether
 * the monitor creates its two default alert rules on the `security` component
 * (`security.incidents > 0`, high; `security.incidents.critical > 0`, critical).
 *
 * @example
 * ```ts
 * new Monitor({ security: { detection: { bruteForceUser: { threshold: 10, windowSeconds: 600 } } } });
 * ```
 */
export interface SecurityOptions extends SecurityMonitorOptions {
  /**
   * Create the default alert rules on the `security` component, with the first
   * incident (and evaluate them then). Default true.
   */
  readonly defaultAlertRules?: boolean;
}

/**
 * The audit options of a {@link Monitor}: the sink (a bounded in-memory one by
 * default; `file` for the append-only JSONL file), retention per compliance tag,
 * redaction of metadata.
 *
 * @example
 * ```ts
 * new Monitor({ audit: { file: '/var/log/checkout/audit.jsonl', retentionDays: { SOC2: 365 } } });
 * ```
 */
export interface AuditOptions extends Omit<AuditLogOptions, 'onRecord' | 'redaction'> {
  /** Shorthand for `sink: new JsonlFileSink({ path: file })`. */
  readonly file?: string;
}

/**
 * The analytics options of a {@link Monitor}. Every option is checked: a bad value
 * throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * new Monitor({ analytics: { history: { minutes: 1440, hours: 168 }, engine: { utcOffsetMinutes: 60 } } });
 * ```
 */
export interface AnalyticsMonitorOptions {
  /**
   * Sample the per-minute history on an unref'd timer, a second past each minute.
   * Default: true with the system clock, false with any other (tests call
   * `monitor.history.tick(clock.now())`).
   */
  readonly sampleEveryMinute?: boolean;
  /** Limits of the history (minutes, hours, components, gauges kept). */
  readonly history?: MinuteHistoryOptions;
  /** Windows and thresholds of the engine. */
  readonly engine?: AnalyticsOptions;
}

/**
 * The health options of a {@link Monitor}. Every option is checked: a bad value throws
 * a `TypeError` naming it.
 *
 * @example
 * ```ts
 * const monitor = new Monitor({
 *   health: { resources: { intervalSeconds: 15, diskPaths: ['/', '/var/lib/data'] }, windowSeconds: 300 },
 * });
 * ```
 */
export interface HealthOptions {
  /**
   * Sample CPU, memory, disk, network, event loop and GC on an unref'd interval into
   * gauges of the `system` component (`cpu_usage`, `memory_usage`, `disk_usage`...;
   * see {@link ResourceSampler}). `true`: the defaults. Default: true with the system
   * clock, false with any other clock (tests drive time themselves).
   */
  readonly resources?: boolean | ResourceSamplerOptions;
  /**
   * The window `health()` reads recent performance over (one of the monitor's
   * windows). Default 300 when configured, else the first window.
   */
  readonly windowSeconds?: number;
  /** Limits of `monitor.tasks`. */
  readonly tasks?: TaskRegistryOptions;
  /** Limits and thresholds of `monitor.database`. */
  readonly database?: DatabaseMonitorOptions;
}

/**
 * Which series a read is about, and over which window.
 *
 * @example
 * ```ts
 * const query: SeriesQuery = { component: 'api_gateway', tags: { route: '/x' }, windowSeconds: 300 };
 * ```
 */
export interface SeriesQuery {
  /** Default: the monitor's `defaultComponent`. */
  readonly component?: ComponentName;
  /** Default: no tags. */
  readonly tags?: Tags;
  /**
   * Seconds, at most the longest configured window (rounded up to whole
   * sub-windows), or `'cumulative'`. Default: the first configured window.
   */
  readonly windowSeconds?: number | 'cumulative';
}

/**
 * The recording surface shared by {@link Monitor} and the no-op monitor that
 * {@link getGlobalMonitor} returns when none is set: what decorators and middleware
 * call.
 *
 * @example
 * ```ts
 * function instrumentQueue(monitor: MonitorApi): void {
 *   monitor.gauge('queue.depth').set(queue.length);
 * }
 * ```
 */
export interface MonitorApi {
  /** False for the no-op monitor: callers may skip work that only feeds metrics. */
  readonly enabled: boolean;
  recordMetric(metric: MetricInput): void;
  counter(name: string, options?: InstrumentOptions): Counter;
  gauge(name: string, options?: InstrumentOptions): Gauge;
  histogram(name: string, options?: InstrumentOptions): Histogram;
  timer(name: string, options?: InstrumentOptions): Timer;
}

const METRIC_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'timer']);

/** The seconds a window's numbers span: from `startMs` to `now`, never negative. */
function coveredSecondsSince(startMs: number, now: number): number {
  return Math.max(0, (now - startMs) / 1000);
}

/** The snapshot the exporters' `needs` call for (their union; defaults for none). */
function exportSnapshotOptions(exporters: readonly Exporter<ExportItem>[]): SnapshotOptions {
  let windowQuantiles = false;
  let digests = false;
  let subWindows = false;
  for (const exporter of exporters) {
    const needs: unknown = exporter.needs;
    if (needs !== undefined && (needs === null || typeof needs !== 'object')) {
      throw new TypeError('exporters: needs must be an object of booleans');
    }
    const n = (needs ?? {}) as ExportNeeds;
    if (n.windowQuantiles !== false) windowQuantiles = true;
    if (n.digests !== false) digests = true;
    if (n.subWindows === true) subWindows = true;
  }
  return {
    ...(!windowQuantiles && { windows: [] }),
    digests,
    cumulativeQuantiles: windowQuantiles,
    ...(subWindows && { subWindows: { since: -Infinity } }),
  };
}

/** `service.name` plus the `resourceAttributes` option, checked and frozen. */
function resourceOf(
  serviceName: unknown,
  attributes: unknown,
): Readonly<Record<string, string | number | boolean>> {
  const name = serviceName ?? process.env['OTEL_SERVICE_NAME'] ?? 'unknown_service:node';
  if (!isValidName(name)) {
    throw new TypeError('serviceName must be a non-empty string of at most 255 characters');
  }
  const resource: Record<string, string | number | boolean> = {};
  if (attributes !== undefined) {
    if (attributes === null || typeof attributes !== 'object' || isArray(attributes)) {
      throw new TypeError('resourceAttributes must be an object of strings, numbers and booleans');
    }
    for (const [key, value] of Object.entries(attributes)) {
      if (!isValidName(key)) {
        throw new TypeError(
          'resourceAttributes: keys must be non-empty strings of at most 255 characters',
        );
      }
      const ok =
        typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && value.length <= 255);
      if (!ok) {
        throw new TypeError(
          `resourceAttributes.${key} must be a string of at most 255 characters, a finite number or a boolean`,
        );
      }
      resource[key] = value;
    }
  }
  resource['service.name'] = name;
  return Object.freeze(resource);
}
const SELF_COMPONENT = 'prsm';
/** The most series a `visitSeriesInSlices` slice reads by default. */
const DEFAULT_SLICE_SERIES = 1000;
/** The time a `visitSeriesInSlices` slice may take by default (ms). */
const DEFAULT_SLICE_MS = 5;
/** How many series a slice reads between two looks at the clock. */
const SLICE_CHECK_EVERY = 16;
const EMPTY_QUANTILES: DistributionSnapshot['quantiles'] = Object.freeze([]);

/**
 * The in-process aggregator: series of counters, gauges, histograms and timers, with
 * windowed t-digest percentiles, rates and error rates, read in one consistent
 * snapshot by exporters, alerts and health reports.
 *
 * A series is a metric name + component + tags. Bind a handle once
 * (`monitor.timer(name).bind(tags)`) and each record is a buffer write: no key is
 * built, no clock is read. Nothing on the recording path throws: bad values are
 * dropped, counted in `diagnostics` and in the `prsm.records.dropped` self-metric.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 *
 * const monitor = new Monitor({ defaultComponent: 'marketplace' });
 * const search = monitor.timer('marketplace_search').bind({ tier: 'free' });
 *
 * const stop = search.startTimer();
 * // ... the search ...
 * stop();
 *
 * const [p50, p99] = monitor.getPercentiles('marketplace_search', [0.5, 0.99], {
 *   tags: { tier: 'free' },
 *   windowSeconds: 300,
 * });
 * await monitor.shutdown();
 * ```
 */
export class Monitor implements MonitorApi {
  readonly enabled = true;
  /** The clock every window and rate is read from. */
  readonly clock: Clock;
  /** Counts of the SDK's own events (drops, overflows, internal errors) by code. */
  readonly diagnostics: Diagnostics;
  /** The configured windows, in seconds, ascending. */
  readonly windows: readonly number[];
  /** The ring sub-window length in seconds. */
  readonly subWindowSeconds: number;
  /** The component of metrics recorded without one. */
  readonly defaultComponent: string;
  /** The t-digest compression. */
  readonly compression: number;
  /** The quantiles each histogram and timer window carries in a snapshot. */
  readonly snapshotQuantiles: readonly number[];
  /**
   * The service's resource attributes: `service.name` (from `serviceName`) and the
   * `resourceAttributes` option, frozen. Exporters receive them through `attach`.
   */
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  readonly #scale: Scale;
  readonly #ticker: SlotTicker;
  readonly #families = new Map<string, MetricFamily>();
  /** The health report's closed sub-window sums (see `RecentSlotCache`). */
  readonly #recentCache = new RecentSlotCache();
  /** Keys other packages add to `analytics({ component }).component_specific`. */
  readonly #specificProviders = new Map<string, () => Readonly<Record<string, number>>>();
  readonly #maxMetrics: number;
  readonly #context: FamilyContext;
  readonly #overflowCounter: MetricFamily;
  readonly #droppedCounter: MetricFamily;
  readonly #dropHandles = new Map<DiagnosticCodeValue, BoundCounter>();
  #shutdown: Promise<void> | undefined;
  #registeredTracing = false;
  /** The SDK's own metric families, not counted against `maxMetrics`. */
  #selfFamilies = 0;
  /** Finished spans grouped by trace, bounded (see {@link TraceStoreOptions}). */
  readonly traces: TraceStore;
  /**
   * The span processor that fills {@link Monitor.traces}: add it to your
   * OpenTelemetry SDK (`new NodeSDK({ spanProcessors: [monitor.spanProcessor] })`).
   */
  readonly spanProcessor: PrsmSpanProcessor;
  /**
   * The alert engine: rules over this monitor's signals, their lifecycle, silences,
   * acknowledgements and notifications (see {@link AlertEngine}).
   */
  readonly alerts: AlertEngine;
  /** Background task heartbeats, runs and queue depths (see {@link TaskRegistry}). */
  readonly tasks: TaskRegistry;
  /** Database statement timing, slow-query log and pool gauges (see {@link DatabaseMonitor}). */
  readonly database: DatabaseMonitor;
  /** The resource sampler, when `health.resources` is on. */
  readonly resources: ResourceSampler | undefined;
  readonly #health: HealthReporter;
  /** The per-minute and per-hour history analytics reads (see {@link MinuteHistory}). */
  readonly history: MinuteHistory;
  readonly #analytics: AnalyticsEngine;
  #historyTimer: ReturnType<typeof setTimeout> | undefined;
  /** Security events, threat detection and incidents (see {@link SecurityMonitor}). */
  readonly security: SecurityMonitor;
  /** The tamper-evident audit log (see {@link AuditLog}). */
  readonly audit: AuditLog;
  /** The compiled redaction rules (undefined with `redaction: false`). */
  readonly redactor: Redactor | undefined;
  /** The cluster aggregation of the `cluster` option (undefined without it). */
  readonly cluster: ClusterAggregation | undefined;
  /** Cache effectiveness per cache: hit rate, latency saved per hit (see {@link CacheTracker}). */
  readonly caches: CacheTracker;
  /** Marketplace operations, one call each (see {@link MarketplaceMonitor}). */
  readonly marketplace: MarketplaceMonitor;
  /** The recommendation engine, one call each (see {@link RecommendationMonitor}). */
  readonly recommendation: RecommendationMonitor;
  /** Long jobs with progress, ETA and stall detection (see {@link JobTracker}). */
  readonly jobs: JobTracker;
  /** Cost analytics from unit prices and measured volumes (see {@link CostTracker}). */
  readonly costs: CostTracker;
  /** The helpers above, and their `component_specific` keys. */
  readonly #components: ComponentHelpers;
  /** While true, new metric families do not count against `maxMetrics` (health's own). */
  #exemptFamilies = false;
  readonly #pipelines: ExportPipeline<ExportItem>[] = [];
  /** What the exporters read from a snapshot (the union of their `needs`). */
  #exportSnapshot: SnapshotOptions = {};
  /** Sub-windows starting before this time went out in an earlier export. */
  #exportedUntil = -Infinity;
  #collectTimer: ReturnType<typeof setInterval> | undefined;
  /** Bumped by every collection: a collection in slices gives up when it moved. */
  #collectGeneration = 0;
  /** Whether a collection in slices is under way. */
  #slicing = false;
  readonly #shutdownTimeoutMs: number;
  readonly #signalHandlers = new Map<NodeJS.Signals, () => void>();
  readonly #exportSources: ExportSource[] = [];
  readonly #collectListeners = new Set<(final: boolean) => void>();

  constructor(options: MonitorOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('Monitor options must be an object');
    }
    const clock = options.clock === undefined ? systemClock : options.clock;
    if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function') {
      throw new TypeError('clock must be an object with a now() method returning milliseconds');
    }
    const subWindowSeconds = options.subWindowSeconds ?? 60;
    if (!Number.isFinite(subWindowSeconds) || subWindowSeconds <= 0) {
      throw new TypeError(
        `subWindowSeconds must be a positive number, got ${String(subWindowSeconds)}`,
      );
    }
    const windowsOption: unknown = options.windows ?? [60, 300, 900];
    if (!isArray(windowsOption) || windowsOption.length === 0) {
      throw new TypeError('windows must be a non-empty array of seconds');
    }
    const windows: number[] = [];
    for (const w of windowsOption) {
      if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0) {
        throw new TypeError(`windows must hold positive numbers of seconds, got ${String(w)}`);
      }
      const slots = w / subWindowSeconds;
      if (Math.abs(slots - Math.round(slots)) > 1e-9) {
        throw new TypeError(
          `windows: ${w} is not a multiple of subWindowSeconds (${subWindowSeconds})`,
        );
      }
      windows.push(w);
    }
    const sorted = [...new Set(windows)].sort((a, b) => a - b);
    const maxSlots = Math.round(sorted[sorted.length - 1]! / subWindowSeconds);
    if (maxSlots > 10_000) {
      throw new TypeError(
        `windows: the longest window holds ${maxSlots} sub-windows; at most 10000`,
      );
    }
    const maxSeriesPerMetric = options.maxSeriesPerMetric ?? 2000;
    if (!Number.isInteger(maxSeriesPerMetric) || maxSeriesPerMetric < 1) {
      throw new TypeError(
        `maxSeriesPerMetric must be an integer >= 1, got ${String(maxSeriesPerMetric)}`,
      );
    }
    const maxMetrics = options.maxMetrics ?? 1000;
    if (!Number.isInteger(maxMetrics) || maxMetrics < 1) {
      throw new TypeError(`maxMetrics must be an integer >= 1, got ${String(maxMetrics)}`);
    }
    const defaultComponent = options.defaultComponent ?? 'default';
    if (!isValidName(defaultComponent)) {
      throw new TypeError('defaultComponent must be a non-empty string of at most 255 characters');
    }
    const logger = options.logger;
    if (
      logger !== undefined &&
      (logger === null || typeof logger.warn !== 'function' || typeof logger.error !== 'function')
    ) {
      throw new TypeError('logger must have warn() and error() methods');
    }
    this.compression =
      options.compression === undefined
        ? DEFAULT_COMPRESSION
        : validateCompression(options.compression, 'compression');

    const quantilesOption: unknown = options.snapshotQuantiles ?? [0.5, 0.9, 0.95, 0.99, 0.999];
    if (!isArray(quantilesOption)) {
      throw new TypeError('snapshotQuantiles must be an array of numbers in 0..1');
    }
    const snapshotQuantiles: number[] = [];
    for (const q of quantilesOption) {
      if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
        throw new TypeError(`snapshotQuantiles must hold numbers in 0..1, got ${String(q)}`);
      }
      snapshotQuantiles.push(q);
    }
    this.snapshotQuantiles = Object.freeze(snapshotQuantiles);
    this.#reading.values = new Float64Array(snapshotQuantiles.length);

    this.resource = resourceOf(options.serviceName, options.resourceAttributes);
    this.clock = clock;
    this.diagnostics = new Diagnostics(logger);
    this.windows = Object.freeze(sorted);
    this.subWindowSeconds = subWindowSeconds;
    this.defaultComponent = defaultComponent;
    this.#maxMetrics = maxMetrics;
    this.#scale = scaleFor(this.compression);
    this.#ticker = new SlotTicker(clock, subWindowSeconds * 1000, this.diagnostics);
    this.#context = {
      ticker: this.#ticker,
      scale: this.#scale,
      ringSize: maxSlots + 1,
      maxSeriesPerMetric,
      diagnostics: this.diagnostics,
      onOverflow: (metric) => this.#onOverflow(metric),
      onDrop: (code) => this.#onDrop(code),
    };
    this.#overflowCounter = this.#selfFamily(
      'prsm.series.overflow',
      'Series lookups routed to an overflow series because the metric was at its series cap, by metric',
    );
    this.#droppedCounter = this.#selfFamily(
      'prsm.records.dropped',
      'Values refused by the SDK (NaN, negative increments, bad tags...), by reason',
    );
    const traceStoreOptions: unknown = options.traceStore ?? {};
    if (traceStoreOptions === null || typeof traceStoreOptions !== 'object') {
      throw new TypeError('traceStore must be an object of limits');
    }
    this.traces = new TraceStore(traceStoreOptions, clock, this.diagnostics);
    const exporters: unknown = options.exporters ?? [];
    if (!isArray(exporters)) throw new TypeError('exporters must be an array of exporters');
    const exportIntervalSeconds = options.exportIntervalSeconds ?? 60;
    if (typeof exportIntervalSeconds !== 'number' || !(exportIntervalSeconds > 0)) {
      throw new TypeError('exportIntervalSeconds must be a number of seconds > 0');
    }
    const shutdownTimeoutSeconds = options.shutdownTimeoutSeconds ?? 10;
    if (typeof shutdownTimeoutSeconds !== 'number' || !(shutdownTimeoutSeconds >= 0)) {
      throw new TypeError('shutdownTimeoutSeconds must be a number of seconds >= 0');
    }
    this.#shutdownTimeoutMs = shutdownTimeoutSeconds * 1000;
    exporters.forEach((exporter, i) => {
      try {
        this.#pipelines.push(
          new ExportPipeline(
            exporter as Exporter<ExportItem>,
            { ...options.exportPipeline, exportIntervalMs: 0, sizeOf: exportItemSize },
            this.diagnostics,
          ),
        );
      } catch (error) {
        throw new TypeError(
          `exporters[${i}]: ${error instanceof Error ? error.message : 'invalid'}`,
        );
      }
    });
    this.#exportSnapshot = exportSnapshotOptions(exporters as Exporter<ExportItem>[]);
    for (const [i, exporter] of (exporters as Exporter<ExportItem>[]).entries()) {
      try {
        exporter.attach?.(this.#exporterHost());
      } catch (error) {
        this.diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `exporters[${i}].attach: ${error instanceof Error ? error.message : 'unknown error'}`,
        );
      }
    }
    const exporting = this.#pipelines.length > 0;
    try {
      this.redactor = options.redaction === false ? undefined : createRedactor(options.redaction);
    } catch (error) {
      throw new TypeError(`redaction.${error instanceof Error ? error.message : 'invalid'}`);
    }
    this.spanProcessor = new PrsmSpanProcessor(
      this.traces,
      this.diagnostics,
      exporting ? (span) => this.#export([{ kind: 'span', span }]) : undefined,
      this.redactor,
    );
    if (options.tracing !== undefined && typeof options.tracing !== 'boolean') {
      throw new TypeError('tracing must be a boolean');
    }
    const reader = {
      families: this.#families,
      slotsFor: (windowSeconds: number) => this.#slotsFor(windowSeconds),
      sync: () => this.#ticker.read(),
      // Read lazily: the history is built after the alert engine.
      anomaly: (name: string, component: string) => anomalyScore(this.history, name, component),
    };
    this.alerts = new AlertEngine(
      {
        clock,
        diagnostics: this.diagnostics,
        defaultComponent,
        windows: this.windows,
        reader,
        instruments: this.#alertInstruments(),
        ...(this.redactor !== undefined && { redactor: this.redactor }),
        ...(exporting && {
          onEvent: (event: AlertHistoryEntry) => this.#export([{ kind: 'alert', event }]),
        }),
      },
      options.alerting,
    );
    if (exporting) {
      this.#collectTimer = setInterval(
        () => void this.#collectInSlices(),
        exportIntervalSeconds * 1000,
      );
      this.#collectTimer.unref();
    }
    if (options.handleSignals !== undefined && typeof options.handleSignals !== 'boolean') {
      throw new TypeError('handleSignals must be a boolean');
    }
    const healthOptions: unknown = options.health ?? {};
    if (healthOptions === null || typeof healthOptions !== 'object') {
      throw new TypeError('health must be an object');
    }
    const health = healthOptions as HealthOptions;
    const healthContext: HealthContext = {
      clock,
      diagnostics: this.diagnostics,
      recorder: this.#exemptRecorder(),
    };
    const resources = health.resources ?? clock === systemClock;
    if (typeof resources !== 'boolean' && (resources === null || typeof resources !== 'object')) {
      throw new TypeError('health.resources must be a boolean or an object of options');
    }
    const healthWindow =
      health.windowSeconds ?? (this.windows.includes(300) ? 300 : this.windows[0]!);
    try {
      this.#slotsFor(healthWindow);
      this.tasks = new TaskRegistry(healthContext, health.tasks);
      this.database = new DatabaseMonitor(healthContext, health.database);
      this.resources =
        resources === false
          ? undefined
          : new ResourceSampler(
              {
                ...healthContext,
                // Task staleness and pool counts change without anyone calling us:
                // their gauges are refreshed on each sample, for alert rules.
                onSample: () => {
                  this.tasks.refresh();
                  this.database.samplePools();
                },
              },
              resources === true ? {} : resources,
            );
    } catch (error) {
      throw new TypeError(`health.${error instanceof Error ? error.message : 'invalid'}`);
    }
    this.#health = new HealthReporter({
      clock,
      diagnostics: this.diagnostics,
      sources: {
        recentPerformance: () =>
          readRecentPerformance(reader, healthWindow, clock.now(), {}, this.#recentCache),
        activeAlerts: () => this.alerts.active({ state: 'firing' }),
        activeTraces: () => this.traces.stats().traces,
        configuredAlerts: () => this.alerts.ruleCount(),
      },
      resources: this.resources,
      tasks: this.tasks,
    });
    this.resources?.start();

    const analyticsOptions: unknown = options.analytics ?? {};
    if (analyticsOptions === null || typeof analyticsOptions !== 'object') {
      throw new TypeError('analytics must be an object');
    }
    const analytics = analyticsOptions as AnalyticsMonitorOptions;
    const longest = this.windows[this.windows.length - 1]!;
    const source = familiesSource(reader, longest);
    try {
      this.history = new MinuteHistory(source, this.diagnostics, {
        sampleWindowSeconds: this.windows[0]!,
        ...analytics.history,
      });
      this.#analytics = new AnalyticsEngine(
        {
          clock,
          diagnostics: this.diagnostics,
          // The component helpers' keys ride on the readings into component_specific.
          source: withComponentSpecific(
            source,
            (component, reading) => {
              const own = this.#components.specific(component, reading);
              const read = this.#specificProviders.get(component);
              if (read === undefined) return own;
              let added: Readonly<Record<string, number>> = {};
              try {
                added = read();
              } catch (error) {
                this.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, {
                  where: `component_specific of ${component}`,
                });
              }
              return { ...added, ...own };
            },
            (error) =>
              this.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, {
                where: 'component_specific',
              }),
          ),
          history: this.history,
          traces: () => spansOf(this.traces),
          defaultComponent,
        },
        { windowSeconds: Math.min(900, longest), ...analytics.engine },
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : 'invalid';
      throw new TypeError(message.startsWith('analytics.') ? message : `analytics.${message}`);
    }
    const sample = analytics.sampleEveryMinute ?? clock === systemClock;
    if (typeof sample !== 'boolean') {
      throw new TypeError('analytics.sampleEveryMinute must be a boolean');
    }
    if (sample) this.#scheduleHistory();

    const securityContext: SecurityContext = {
      clock,
      diagnostics: this.diagnostics,
      recorder: this.#exemptRecorder(),
    };
    const securityOptions: unknown = options.security ?? {};
    const auditOptions: unknown = options.audit ?? {};
    if (securityOptions === null || typeof securityOptions !== 'object') {
      throw new TypeError('security must be an object');
    }
    if (auditOptions === null || typeof auditOptions !== 'object') {
      throw new TypeError('audit must be an object');
    }
    const { defaultAlertRules = true, ...detection } = securityOptions as SecurityOptions;
    if (typeof defaultAlertRules !== 'boolean') {
      throw new TypeError('security.defaultAlertRules must be a boolean');
    }
    try {
      this.security = new SecurityMonitor(securityContext, detection);
    } catch (error) {
      throw new TypeError(`security.${error instanceof Error ? error.message : 'invalid'}`);
    }
    const { file, ...audit } = auditOptions as AuditOptions;
    try {
      this.audit = new AuditLog(securityContext, {
        ...audit,
        ...(file !== undefined && { sink: new JsonlFileSink({ path: file }) }),
        redaction: options.redaction ?? {},
      });
    } catch (error) {
      throw new TypeError(`audit.${error instanceof Error ? error.message : 'invalid'}`);
    }
    if (defaultAlertRules) {
      // Created with the first incident (a monitor that never sees one runs no rule
      // and no alert tick for them), then evaluated at once: the alert goes out now,
      // not at the next tick.
      const stop = this.security.onIncident(() => {
        stop();
        try {
          if (this.alerts.get('prsm.security.incident') === undefined) this.#createSecurityRules();
          this.alerts.evaluate();
        } catch (error) {
          this.diagnostics.report(
            DiagnosticCode.INTERNAL_ERROR,
            `security alert rules: ${error instanceof Error ? error.message : 'unknown error'}`,
          );
        }
      });
    }
    this.#components = createComponentHelpers(
      {
        monitor: this,
        readComponent: (component, windowSeconds) =>
          source.read(component, windowSeconds, 'none', clock.now()),
        components: () => source.components(),
        security: this.security,
        audit: this.audit,
        networkBytes: () => {
          const network = this.resources?.latest()?.network;
          return network === undefined ? undefined : network.bytesSent + network.bytesRecv;
        },
      },
      { caches: options.caches, jobs: options.jobs, costs: options.costs },
    );
    this.caches = this.#components.caches;
    this.marketplace = this.#components.marketplace;
    this.recommendation = this.#components.recommendation;
    this.jobs = this.#components.jobs;
    this.costs = this.#components.costs;
    if (options.cluster !== undefined) this.cluster = clusterAggregation(this, options.cluster);
    if (options.handleSignals === true) this.#handleSignals();
    if (options.tracing === true) this.#registerTracing();
  }

  /**
   * Records one measurement in the spec's fields. Never throws: a bad value, tag,
   * name or type is dropped, counted and reported to the diagnostics logger.
   *
   * @example
   * ```ts
   * monitor.recordMetric({
   *   name: 'marketplace.recommendation.generated',
   *   value: 1,
   *   metricType: 'counter',
   *   component: 'recommendation',
   *   tags: { algorithm: 'collaborative_filtering' },
   *   labels: { version: 'v2.1' },
   * });
   * ```
   */
  recordMetric(metric: MetricInput): void {
    try {
      if (metric === null || typeof metric !== 'object') {
        this.#drop(DiagnosticCode.INVALID_NAME, 'recordMetric needs an object');
        return;
      }
      const { name, value, metricType, component = this.defaultComponent } = metric;
      if (!isValidName(name) || !isValidName(component)) {
        this.#drop(DiagnosticCode.INVALID_NAME, `bad metric name or component: ${String(name)}`);
        return;
      }
      if (typeof metricType !== 'string' || !METRIC_TYPES.has(metricType)) {
        this.#drop(
          DiagnosticCode.UNKNOWN_METRIC_TYPE,
          `${name}: unknown metricType ${String(metricType)}`,
        );
        return;
      }
      // Refuse before resolving, so a stream of bad values creates no series.
      if (!this.#valid(name, value, metricType === 'counter')) return;
      const family = this.#family(name, metricType, '', '');
      if (family === undefined) return;
      const series = this.#resolve(family, component, metric.tags, metric.labels);
      if (series === undefined) return;
      if (series instanceof HistogramSeries) {
        if (metric.error === true) series.recordError(value);
        else series.record(value);
      } else if (series instanceof CounterSeries) series.inc(value);
      else series.set(value);
    } catch (error) {
      this.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'recordMetric' });
    }
  }

  /**
   * A counter handle. Never throws: a bad name or a name already used by another type
   * is reported and yields a handle that records nothing.
   *
   * @example
   * ```ts
   * const errors = monitor.counter('payment.errors', { component: 'marketplace' }).bind({ reason: 'declined' });
   * errors.inc();
   * ```
   */
  counter(name: string, options?: InstrumentOptions): Counter {
    const component = this.#component(options);
    const family = this.#family(name, 'counter', options?.unit ?? '', options?.description ?? '');
    if (family === undefined || component === undefined) return noopInstrument(String(name));
    return {
      name,
      bind: (tags, labels) =>
        (this.#resolve(family, component, tags, labels) as CounterSeries | undefined) ?? NOOP_BOUND,
      inc: (value = 1, tags) => {
        // Refuse before resolving, so bad values with new tags create no series.
        if (!this.#valid(family.name, value, true)) return;
        (this.#resolve(family, component, tags, undefined) as CounterSeries | undefined)?.inc(
          value,
        );
      },
    };
  }

  /**
   * A gauge handle.
   *
   * @example
   * ```ts
   * monitor.gauge('db_connections', { component: 'database' }).set(pool.totalCount);
   * ```
   */
  gauge(name: string, options?: InstrumentOptions): Gauge {
    const component = this.#component(options);
    const family = this.#family(name, 'gauge', options?.unit ?? '', options?.description ?? '');
    if (family === undefined || component === undefined) return noopInstrument(String(name));
    return {
      name,
      bind: (tags, labels): BoundGauge =>
        (this.#resolve(family, component, tags, labels) as GaugeSeries | undefined) ?? NOOP_BOUND,
      set: (value, tags) => {
        if (!this.#valid(family.name, value, false)) return;
        (this.#resolve(family, component, tags, undefined) as GaugeSeries | undefined)?.set(value);
      },
    };
  }

  /**
   * A histogram handle: windowed percentiles, counts and rates of any values.
   *
   * @example
   * ```ts
   * monitor.histogram('search.results', { component: 'marketplace' }).record(20);
   * ```
   */
  histogram(name: string, options?: InstrumentOptions): Histogram {
    return this.#distribution(name, 'histogram', options?.unit ?? '', options);
  }

  /**
   * A timer handle: a histogram of milliseconds with error counts, so one series
   * gives an operation's latency percentiles, throughput and error rate.
   *
   * @example
   * ```ts
   * const infer = monitor.timer('model_inference', { component: 'recommendation' }).bind();
   * const stop = infer.startTimer();
   * stop();
   * ```
   */
  timer(name: string, options?: InstrumentOptions): Timer {
    return this.#distribution(name, 'timer', 'ms', options);
  }

  /**
   * Quantiles of a histogram or timer series over a window, in the order asked. NaN
   * for each when the series does not exist or holds no data. Throws a `TypeError`
   * for a quantile outside 0..1 or a window longer than the longest configured one.
   *
   * @example
   * ```ts
   * const [p50, p95, p99] = monitor.getPercentiles('api.latency', [0.5, 0.95, 0.99], {
   *   component: 'api_gateway',
   *   windowSeconds: 300,
   * });
   * ```
   */
  getPercentiles(name: string, quantiles: readonly number[], query: SeriesQuery = {}): number[] {
    if (!isArray(quantiles)) throw new TypeError('quantiles must be an array of numbers in 0..1');
    for (const q of quantiles) {
      if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
        throw new TypeError(`quantiles must be numbers in 0..1, got ${String(q)}`);
      }
    }
    const slots = this.#slotsFor(query.windowSeconds);
    const series = this.#find(name, query);
    if (!(series instanceof HistogramSeries)) return quantiles.map(() => NaN);
    return quantilesOfParts(series.read(slots, true, undefined, true).parts, quantiles);
  }

  /**
   * Throughput and error rate of a series over a window: samples of a histogram or
   * timer, the increase of a counter. `undefined` when the series does not exist (or
   * is a gauge).
   *
   * @example
   * ```ts
   * const r = monitor.getRates('checkout', { component: 'marketplace', windowSeconds: 60 });
   * if (r && r.errorRate > 0.05) console.warn('checkout failing');
   * ```
   */
  getRates(name: string, query: SeriesQuery = {}): WindowRates | undefined {
    const slots = this.#slotsFor(query.windowSeconds);
    const series = this.#find(name, query);
    const windowSeconds = query.windowSeconds ?? this.windows[0]!;
    if (series instanceof HistogramSeries) {
      const read = series.read(slots, false, undefined, true);
      return this.#rates(windowSeconds, read.count, read.errors, read.startMs);
    }
    if (series instanceof CounterSeries) {
      const read = series.read(slots);
      return this.#rates(windowSeconds, read.increase, 0, read.startMs);
    }
    return undefined;
  }

  /**
   * Count, sum, min, max, mean and rates of a histogram or timer series over a window;
   * `undefined` when there is no such histogram or timer series.
   *
   * @example
   * ```ts
   * const s = monitor.getStats('api.latency', { windowSeconds: 900 });
   * console.log(s?.count, s?.mean, s?.max);
   * ```
   */
  getStats(name: string, query: SeriesQuery = {}): WindowStats | undefined {
    const slots = this.#slotsFor(query.windowSeconds);
    const series = this.#find(name, query);
    if (!(series instanceof HistogramSeries)) return undefined;
    return this.#stats(
      query.windowSeconds ?? this.windows[0]!,
      series.read(slots, false, undefined, true),
    );
  }

  /**
   * One consistent read of every series at one instant (the clock is read once and
   * every value recorded so far is counted: a series' buffer is merged first, or read
   * as it is when it holds 16 values or fewer): counters with their total and windowed
   * rates, gauges that were set, histograms and timers with quantiles and a digest per
   * window and for everything since they began. `options` leave out what a reader does not
   * need (see {@link SnapshotOptions}), which is then not computed.
   *
   * @example
   * ```ts
   * for (const s of monitor.snapshot().series) {
   *   if (s.type === 'timer') console.log(s.name, s.windows[0]?.digest?.quantile(0.99));
   * }
   * const scrape = monitor.snapshot({ windows: [300], digests: false, cumulativeQuantiles: false });
   * ```
   */
  snapshot(options: SnapshotOptions = {}): MonitorSnapshot {
    return this.#snapshotSteps(options)(Infinity, Infinity)!;
  }

  /**
   * Checks a snapshot's options and starts it: the returned function adds up to
   * `limit` more series, for up to `ms` milliseconds of the monotonic clock, and returns
   * the snapshot once every series is in it (else undefined). Families are listed when
   * it starts; each one's series are read from its live list.
   */
  #snapshotSteps(
    options: SnapshotOptions,
  ): (limit: number, ms: number) => MonitorSnapshot | undefined {
    const { windows, digests, cumulativeQuantiles, subWindows } = this.#snapshotPlan(options);
    const timestamp = this.clock.now();
    const slotMs = this.subWindowSeconds * 1000;
    const fromSlot = subWindows === undefined ? 0 : Math.ceil(subWindows.since / slotMs - 1e-9);
    const toSlot =
      subWindows?.until === undefined ? Infinity : Math.ceil(subWindows.until / slotMs - 1e-9);
    const series: SeriesSnapshot[] = [];
    const slotsPerWindow = windows.map((w) => Math.round(w / this.subWindowSeconds));
    const next = this.#walk(
      [...this.#families.values()],
      () => {},
      (family, s) => {
        const id = s.identity;
        // Object literals, not spreads of a shared base: a spread builds slower objects.
        if (s instanceof HistogramSeries) {
          const snapshot: HistogramSnapshot = {
            name: id.name,
            component: id.component,
            tags: id.tags,
            labels: id.labels,
            overflow: id.overflow,
            unit: id.unit,
            description: id.description,
            type: family.type as 'histogram' | 'timer',
            cumulative: this.#distributionSnapshot(
              s,
              'cumulative',
              -1,
              timestamp,
              cumulativeQuantiles,
              digests && cumulativeQuantiles,
            ),
            windows: slotsPerWindow.map((slots, i) =>
              this.#distributionSnapshot(s, windows[i]!, slots, timestamp, true, digests),
            ),
          };
          // Added after the literal (not spread into it): every series keeps one shape.
          if (subWindows !== undefined) {
            (snapshot as { subWindows?: readonly SubWindowSnapshot[] }).subWindows = s.subWindows(
              fromSlot,
              subWindows.open === true,
              toSlot,
            );
          }
          series.push(snapshot);
        } else if (s instanceof CounterSeries) {
          series.push({
            name: id.name,
            component: id.component,
            tags: id.tags,
            labels: id.labels,
            overflow: id.overflow,
            unit: id.unit,
            description: id.description,
            type: 'counter',
            total: s.total,
            windows: slotsPerWindow.map((slots, i) => {
              const read = s.read(slots);
              return this.#rates(windows[i]!, read.increase, 0, read.startMs, timestamp);
            }),
          });
        } else if (s.hasValue) {
          series.push({
            name: id.name,
            component: id.component,
            tags: id.tags,
            labels: id.labels,
            overflow: id.overflow,
            unit: id.unit,
            description: id.description,
            type: 'gauge',
            value: s.value,
          });
        }
      },
    );
    return (limit, ms) =>
      next(limit, ms)
        ? { timestamp, windows, series, diagnostics: this.diagnostics.counts() }
        : undefined;
  }

  /**
   * Reads every series as {@link Monitor.snapshot} does (the clock read once, every
   * value recorded so far counted), over one window, and hands each to `visitor` as it
   * is read instead of building a snapshot: counters with their total, gauges that
   * were set, histograms and timers with the window's statistics and
   * `snapshotQuantiles` and their cumulative count and sum. Nothing is kept per series,
   * which makes it the cheap path for an exporter that streams what it reads (the
   * Prometheus handler renders ten thousand series from it). Families come in ascending
   * order of name.
   *
   * @example
   * ```ts
   * let slowest = 0;
   * monitor.visitSeries(
   *   { windowSeconds: 300 },
   *   {
   *     counter() {},
   *     gauge() {},
   *     distribution(_series, reading) {
   *       slowest = Math.max(slowest, reading.values[reading.values.length - 1] ?? 0);
   *     },
   *   },
   * );
   * ```
   */
  visitSeries(options: VisitOptions, visitor: SeriesVisitor): void {
    this.#visit('visitSeries', options, visitor)(Infinity, Infinity);
  }

  /**
   * {@link Monitor.visitSeries}, letting the event loop run (`setImmediate`) between
   * slices: a slice ends after `sliceSeries` series (default 1000) or once `sliceMs`
   * (default 5) went by on the monitor's clock, whichever comes first. A visit of tens
   * of thousands of series, or of series with many samples to merge since the last
   * read, then holds the process a few milliseconds at a time, and requests keep being
   * served while it runs. Each series is read as `visitSeries` reads it, at the time
   * its slice runs (a series read after a sub-window closed sees it closed). Series
   * created while the visit is under way may or may not be handed over; none is handed
   * over twice. Visits may run side by side. A bad option or visitor rejects the
   * promise before any series is read; a visitor that throws rejects it and ends the
   * visit.
   *
   * @example
   * ```ts
   * let lines = 0;
   * await monitor.visitSeriesInSlices(
   *   { windowSeconds: 300, sliceMs: 2 },
   *   {
   *     counter: () => void lines++,
   *     gauge: () => void lines++,
   *     distribution: (_series, reading) => void (lines += reading.quantiles.length + 2),
   *   },
   * );
   * ```
   */
  async visitSeriesInSlices(options: SlicedVisitOptions, visitor: SeriesVisitor): Promise<void> {
    const where = 'visitSeriesInSlices';
    const slice = options?.sliceSeries ?? DEFAULT_SLICE_SERIES;
    if (!Number.isInteger(slice) || slice < 1) {
      throw new TypeError(`${where}: sliceSeries must be a positive integer, got ${String(slice)}`);
    }
    const sliceMs = options?.sliceMs ?? DEFAULT_SLICE_MS;
    if (typeof sliceMs !== 'number' || !(sliceMs > 0)) {
      throw new TypeError(`${where}: sliceMs must be a positive number, got ${String(sliceMs)}`);
    }
    const next = this.#visit(where, options, visitor);
    while (!next(slice, sliceMs)) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /**
   * Checks a visit's options and visitor and starts it: the returned function reads up
   * to `limit` more series, for up to `ms` milliseconds, and tells whether the visit is
   * done. Families are listed when the visit starts; each one's series are read from
   * its live list.
   */
  #visit(
    where: string,
    options: VisitOptions,
    visitor: SeriesVisitor,
  ): (limit: number, ms: number) => boolean {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`${where}: options must be an object`);
    }
    const windowSeconds = options.windowSeconds ?? this.windows[0]!;
    const row = this.windows.indexOf(windowSeconds);
    if (row < 0) {
      throw new TypeError(
        `${where}: windowSeconds must be one of the monitor's windows (${this.windows.join(', ')}), got ${String(windowSeconds)}`,
      );
    }
    if (
      typeof visitor?.counter !== 'function' ||
      typeof visitor.gauge !== 'function' ||
      typeof visitor.distribution !== 'function'
    ) {
      throw new TypeError(`${where}: visitor must have counter, gauge and distribution methods`);
    }
    const timestamp = this.clock.now();
    const families = [...this.#families.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    const slots = Math.round(windowSeconds / this.subWindowSeconds);
    return this.#walk(
      families,
      () => {
        // The reading handed over is shared by every visit: set for this one per slice.
        const reading = this.#reading;
        reading.windowSeconds = windowSeconds;
        reading.quantiles = this.snapshotQuantiles;
      },
      (family, s) => this.#visitOne(family.type, s, visitor, slots, row, timestamp),
    );
  }

  /**
   * A walk over the series of `families` (each one's live list, so series created
   * during it may or may not be met, none twice), resumable: the returned function
   * brings the monitor up to its clock, calls `start`, hands up to `limit` more series to
   * `each`, for up to `ms` milliseconds of the monotonic clock (looked at every
   * {@link SLICE_CHECK_EVERY} series), and tells whether the walk is done.
   */
  #walk(
    families: readonly MetricFamily[],
    start: () => void,
    each: (family: MetricFamily, series: AnySeries) => void,
  ): (limit: number, ms: number) => boolean {
    let f = 0;
    let live: Iterator<AnySeries> | undefined;
    const monotonic = this.#ticker.monotonic;
    return (limit, ms) => {
      const deadline = ms === Infinity ? Infinity : monotonic() + ms;
      this.#ticker.read();
      start();
      let n = 0;
      for (; f < families.length; f++) {
        const family = families[f]!;
        live ??= family.all();
        for (let next = live.next(); next.done !== true; next = live.next()) {
          each(family, next.value);
          if (++n === limit) return false;
          if (n % SLICE_CHECK_EVERY === 0 && deadline !== Infinity && monotonic() >= deadline) {
            return false;
          }
        }
        live = undefined;
      }
      return true;
    };
  }

  /** One series of a visit: read, and handed to the visitor. */
  #visitOne(
    type: MetricType,
    s: AnySeries,
    visitor: SeriesVisitor,
    slots: number,
    row: number,
    timestamp: number,
  ): void {
    const id = s.identity;
    if (s instanceof HistogramSeries) {
      const qs = this.snapshotQuantiles;
      const reading = this.#reading;
      const values = reading.values;
      const read = s.read(slots, true, this.#visitRead, true);
      this.#visitRead = read;
      const found = this.#guidedQuantiles(s, read, row);
      for (let i = 0; i < qs.length; i++) values[i] = found[i]!;
      const count = read.count;
      const empty = count === 0;
      reading.type = type as 'histogram' | 'timer';
      reading.coveredSeconds = coveredSecondsSince(read.startMs, timestamp);
      reading.count = count;
      reading.sum = read.sum;
      reading.min = empty ? NaN : read.min;
      reading.max = empty ? NaN : read.max;
      reading.errors = read.errors;
      reading.exemplar = s.exemplars(slots)[0];
      const total = s.read(-1, false, this.#visitRead, true);
      reading.totalCount = total.count;
      reading.totalSum = total.sum;
      reading.totalErrors = total.errors;
      visitor.distribution(id, reading);
    } else if (s instanceof CounterSeries) {
      visitor.counter(id, s.total);
    } else if (s.hasValue) {
      visitor.gauge(id, s.value);
    }
  }

  /** The reading `visitSeries` overwrites per histogram series. */
  readonly #reading: { -readonly [K in keyof DistributionReading]: DistributionReading[K] } = {
    type: 'histogram',
    windowSeconds: 0,
    coveredSeconds: 0,
    count: 0,
    sum: 0,
    min: NaN,
    max: NaN,
    errors: 0,
    quantiles: [],
    values: new Float64Array(0),
    exemplar: undefined,
    totalCount: 0,
    totalSum: 0,
    totalErrors: 0,
  };

  /** The read `visitSeries` overwrites per histogram series (undefined before the first). */
  #visitRead: HistogramWindowRead | undefined = undefined;

  /** What `#guidedQuantiles` hands the search: overwritten per call. */
  readonly #memo: { -readonly [K in keyof QuantileMemo]: QuantileMemo[K] } = {
    array: new Float64Array(0),
    offset: 0,
    key: NaN,
    open: 0,
  };

  /**
   * The monitor's `snapshotQuantiles` of a read of window `row` (the last row:
   * cumulative), searched for from the series' previous answers for that row, with its
   * memo of the closed sub-windows' ranks (see `guidedQuantiles`); both are allocated
   * by the series' first such read.
   */
  #guidedQuantiles(series: HistogramSeries, read: HistogramWindowRead, row: number): number[] {
    const qs = this.snapshotQuantiles;
    const rows = this.windows.length + 1;
    let hints = series.quantileHints;
    let memo = series.quantileMemo;
    if (hints === null || memo === null) {
      // One allocation for both: a read touches both, side by side.
      const both = new Float64Array(rows * qs.length + rows * quantileMemoRow(qs.length)).fill(NaN);
      hints = both.subarray(0, rows * qs.length);
      memo = both.subarray(rows * qs.length);
      series.quantileHints = hints;
      series.quantileMemo = memo;
    }
    // A window never read before starts from the answers of the nearest one that was
    // (a 900 s window from the 300 s one's): a walk from there, not a sweep of every part.
    const at = row * qs.length;
    if (qs.length > 0 && Number.isNaN(hints[at]!)) {
      for (let d = 1; d < rows; d++) {
        const near = [row - d, row + d].find(
          (r) => r >= 0 && r < rows && !Number.isNaN(hints[r * qs.length]!),
        );
        if (near === undefined) continue;
        hints.copyWithin(at, near * qs.length, (near + 1) * qs.length);
        break;
      }
    }
    const m = this.#memo;
    m.array = memo;
    m.offset = row * quantileMemoRow(qs.length);
    m.key = series.digestVersion;
    m.open = read.open;
    return quantilesOfParts(read.parts, qs, hints, row * qs.length, m);
  }

  #snapshotPlan(options: SnapshotOptions): {
    windows: readonly number[];
    digests: boolean;
    cumulativeQuantiles: boolean;
    subWindows: SnapshotOptions['subWindows'];
  } {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('snapshot options must be an object');
    }
    const { digests = true, cumulativeQuantiles = true, subWindows } = options;
    if (typeof digests !== 'boolean') throw new TypeError('snapshot: digests must be a boolean');
    if (typeof cumulativeQuantiles !== 'boolean') {
      throw new TypeError('snapshot: cumulativeQuantiles must be a boolean');
    }
    if (subWindows !== undefined) {
      if (subWindows === null || typeof subWindows !== 'object') {
        throw new TypeError('snapshot: subWindows must be an object { since, until?, open? }');
      }
      if (typeof subWindows.since !== 'number' || Number.isNaN(subWindows.since)) {
        throw new TypeError('snapshot: subWindows.since must be a time in ms since the epoch');
      }
      if (
        subWindows.until !== undefined &&
        (typeof subWindows.until !== 'number' || Number.isNaN(subWindows.until))
      ) {
        throw new TypeError('snapshot: subWindows.until must be a time in ms since the epoch');
      }
      if (subWindows.open !== undefined && typeof subWindows.open !== 'boolean') {
        throw new TypeError('snapshot: subWindows.open must be a boolean');
      }
    }
    const asked: unknown = options.windows;
    if (asked === undefined) {
      return { windows: this.windows, digests, cumulativeQuantiles, subWindows };
    }
    if (!isArray(asked)) {
      throw new TypeError('snapshot: windows must be an array of the configured windows');
    }
    for (const w of asked) {
      if (typeof w !== 'number' || !this.windows.includes(w)) {
        throw new TypeError(
          `snapshot: windows must hold configured windows (${this.windows.join(', ')}), got ${String(w)}`,
        );
      }
    }
    const windows = this.windows.filter((w) => asked.includes(w));
    return { windows, digests, cumulativeQuantiles, subWindows };
  }

  /**
   * Stops the monitor's timers, exports every series one last time, and lets the
   * exporters deliver what is queued within `shutdownTimeoutSeconds` (what is left is
   * dropped and counted); shuts the alert engine down (see its `shutdown`). Idempotent:
   * every call returns the same promise, which never rejects. Recording still works
   * afterwards (reading the clock on each record). `handleSignals: true` calls it on
   * SIGTERM and SIGINT.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void monitor.shutdown());
   * ```
   */
  shutdown(): Promise<void> {
    this.resources?.stop();
    this.costs.stop();
    if (this.#historyTimer !== undefined) clearTimeout(this.#historyTimer);
    this.#historyTimer = undefined;
    this.#shutdown ??= Promise.resolve().then(async () => {
      for (const [signal, handler] of this.#signalHandlers) process.off(signal, handler);
      this.#signalHandlers.clear();
      if (this.#collectTimer !== undefined) clearInterval(this.#collectTimer);
      this.#collectTimer = undefined;
      // A worker's last deltas go to the primary before anything stops.
      await this.cluster?.stop();
      if (this.#pipelines.length > 0) this.#collect(true);
      const exported = Promise.all(this.#pipelines.map((p) => p.shutdown(this.#shutdownTimeoutMs)));
      this.#ticker.stop();
      if (this.#registeredTracing) {
        trace.disable();
        context.disable();
        this.#registeredTracing = false;
      }
      await this.spanProcessor.shutdown();
      await this.audit.close();
      await this.alerts.shutdown();
      await exported;
    });
    return this.#shutdown;
  }

  /**
   * The spec's `GET /api/v1/monitoring/health` object: the health score (0-100; the
   * formula is `computeHealthScore`'s), system metrics from the resource sampler,
   * recent performance over the health window, firing alerts and the monitoring
   * status. Never throws: a failing source is reported to `diagnostics` and reads as
   * empty.
   *
   * @example
   * ```ts
   * const report = monitor.health();
   * if (report.overall_health_score < 70) console.warn(report.active_alerts);
   * ```
   */
  health(): HealthReport {
    return this.#health.report();
  }

  /**
   * The spec's `GET /api/v1/monitoring/analytics?component=...` object: summary,
   * trends and usage pattern, bottlenecks, recommendations, top operations and
   * component-specific ratios (see {@link AnalyticsEngine}). Trends, anomalies and
   * forecasts read `monitor.history`, sampled once a minute. Never throws.
   *
   * @example
   * ```ts
   * const report = monitor.analytics({ component: 'marketplace' });
   * console.log(report.trends.response_time_trend, report.recommendations);
   * ```
   */
  analytics(query: AnalyticsQuery = {}): AnalyticsReport {
    return this.#analytics.report(query);
  }

  /**
   * Adds numbers to `analytics({ component }).component_specific`, read at each report
   * (the HTTP middleware adds the API-gateway view this way). One reader per component:
   * a later one replaces it. A reader that throws is reported to diagnostics and the
   * report goes on without its keys; the monitor's own keys win a clash. Returns a
   * function that removes the reader.
   *
   * @example
   * ```ts
   * const remove = monitor.addComponentSpecific('checkout', () => ({ carts_open: carts.size }));
   * monitor.analytics({ component: 'checkout' }).component_specific.carts_open;
   * remove();
   * ```
   */
  addComponentSpecific(
    component: ComponentName,
    read: () => Readonly<Record<string, number>>,
  ): () => void {
    if (typeof component !== 'string' || component === '') {
      throw new TypeError('addComponentSpecific: component must be a non-empty string');
    }
    if (typeof read !== 'function') {
      throw new TypeError('addComponentSpecific: read must be a function');
    }
    this.#specificProviders.set(component, read);
    return () => {
      if (this.#specificProviders.get(component) === read) {
        this.#specificProviders.delete(component);
      }
    };
  }

  /**
   * The analytics report's evidence: trend fits, anomalies, capacity forecasts,
   * bottleneck shares and each recommendation's numbers. Never throws.
   *
   * @example
   * ```ts
   * for (const f of monitor.analyticsInsights({ component: 'system' }).capacity) console.log(f.summary);
   * ```
   */
  analyticsInsights(query: AnalyticsQuery = {}): AnalyticsInsights {
    return this.#analytics.insights(query);
  }

  /**
   * The two rules that put threat detections through the alert engine (severity,
   * grouping, inhibition, escalation, channels): any incident in the window (high), a
   * critical one (critical; the default inhibition then mutes the first).
   */
  #createSecurityRules(): void {
    const windowSeconds = this.windows.includes(300) ? 300 : this.windows[this.windows.length - 1]!;
    this.alerts.create({
      id: 'prsm.security.incident',
      name: 'Security incident',
      description:
        'A threat detection rule fired (brute force, credential stuffing, denial burst, role escalation, unusual request rate): see monitor.security.incidents().',
      severity: 'high',
      component: 'security',
      condition: 'security.incidents > 0',
      windowSeconds,
      labels: { source: 'prsm.security' },
    });
    this.alerts.create({
      id: 'prsm.security.critical',
      name: 'Critical security incident',
      description: 'Credential stuffing or a self-granted privileged role.',
      severity: 'critical',
      component: 'security',
      condition: 'security.incidents.critical > 0',
      windowSeconds,
      labels: { source: 'prsm.security' },
    });
  }

  /** Samples the history a second past each whole minute, on an unref'd timer. */
  #scheduleHistory(): void {
    const now = this.clock.now();
    const delay = 60_000 - (now % 60_000) + 1_000;
    this.#historyTimer = setTimeout(() => {
      this.history.tick(this.clock.now()); // never throws
      if (this.#historyTimer !== undefined) this.#scheduleHistory();
    }, delay);
    this.#historyTimer.unref();
  }

  /**
   * A trace in the spec's `GET /traces/{trace_id}` shape, from the spans the trace
   * store holds; `undefined` when it holds none of that trace (never seen, evicted or
   * older than `maxTraceAgeSeconds`).
   *
   * @example
   * ```ts
   * const t = monitor.getTrace('4bf92f3577b34da6a3ce929d0e0e4736');
   * if (t && !t.success) console.log(t.spans.filter((s) => s.status === 'error'));
   * ```
   */
  getTrace(traceId: string): TraceRecord | undefined {
    const spans = this.traces.spans(traceId);
    return spans === undefined || spans.length === 0 ? undefined : toTraceRecord(traceId, spans);
  }

  /**
   * Snapshots every series for the exporters now and waits until everything queued
   * is delivered, dropped, or `timeoutSeconds` (default the shutdown timeout) passed.
   * Never rejects.
   *
   * @example
   * ```ts
   * await monitor.forceFlush(5); // before a serverless function returns
   * ```
   */
  async forceFlush(timeoutSeconds = this.#shutdownTimeoutMs / 1000): Promise<void> {
    if (this.#pipelines.length === 0) return;
    this.#collect();
    await Promise.all(this.#pipelines.map((p) => p.forceFlush(timeoutSeconds * 1000)));
  }

  /**
   * Each exporter's pipeline counters (queued, exported, dropped by reason...), in
   * the order of `exporters`.
   *
   * @example
   * ```ts
   * for (const s of monitor.exportStats()) if (s.dropped.queueFull > 0) console.warn(s.name, 'dropping');
   * ```
   */
  exportStats(): (ExportPipelineStats & { readonly name: string })[] {
    return this.#pipelines.map((p) => ({ name: p.name, ...p.stats() }));
  }

  /**
   * Offers the exporters records other than series, spans and alert events (see
   * {@link ExportSource}); the exporters that know its `kind` pull them at each
   * export collection. Returns a function that removes the source.
   *
   * @example
   * ```ts
   * const remove = monitor.addExportSource({ kind: 'business_metrics', collect: () => bodies() });
   * remove(); // no longer offered
   * ```
   */
  addExportSource(source: ExportSource): () => void {
    if (
      source === null ||
      typeof source !== 'object' ||
      typeof source.kind !== 'string' ||
      typeof source.collect !== 'function'
    ) {
      throw new TypeError('addExportSource: a source needs a string kind and a collect() function');
    }
    this.#exportSources.push(source);
    return () => {
      const i = this.#exportSources.indexOf(source);
      if (i >= 0) this.#exportSources.splice(i, 1);
    };
  }

  /** The host handed to each exporter's `attach`. */
  #exporterHost(): MonitorExporterHost {
    return {
      resource: this.resource,
      diagnostics: this.diagnostics,
      onCollect: (listener) => {
        this.#collectListeners.add(listener);
        return () => this.#collectListeners.delete(listener);
      },
      collect: (kind) => {
        const out: unknown[] = [];
        for (const source of this.#exportSources) {
          if (source.kind !== kind) continue;
          try {
            out.push(...source.collect());
          } catch (error) {
            this.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, {
              where: `export source ${kind}`,
            });
          }
        }
        return out;
      },
    };
  }

  /**
   * Every series, as of now, to every exporter, in one go (`forceFlush`, shutdown). A
   * collection in slices under way is given up: this one sends what it would have.
   */
  #collect(final = false): void {
    this.#collectGeneration++;
    try {
      const plan = this.#collectPlan(final);
      this.#deliver(this.#snapshotSteps(plan.options)(Infinity, Infinity)!, plan.until, final);
    } catch (error) {
      this.#collectFailed(error);
    }
  }

  /**
   * The export interval's collection: {@link Monitor.#collect} in slices of
   * {@link DEFAULT_SLICE_SERIES} series or {@link DEFAULT_SLICE_MS} ms, the event loop let
   * run between them, so that a monitor of many series does not hold the host's
   * requests for a whole snapshot. Sub-windows are read up to the one open when it
   * began: one that closes meanwhile goes out whole with the next collection. Given up
   * (nothing sent, nothing marked sent) when a collection in one go starts meanwhile.
   * One at a time: an interval that finds one under way skips. Never rejects.
   */
  async #collectInSlices(): Promise<void> {
    if (this.#slicing) return;
    this.#slicing = true;
    const generation = ++this.#collectGeneration;
    try {
      const plan = this.#collectPlan(false);
      const step = this.#snapshotSteps(plan.options);
      let snapshot = step(DEFAULT_SLICE_SERIES, DEFAULT_SLICE_MS);
      while (snapshot === undefined) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (generation !== this.#collectGeneration) return;
        snapshot = step(DEFAULT_SLICE_SERIES, DEFAULT_SLICE_MS);
      }
      this.#deliver(snapshot, plan.until, false);
    } catch (error) {
      this.#collectFailed(error);
    } finally {
      this.#slicing = false;
    }
  }

  /**
   * A collection's snapshot options: the exporters' needs, with the sub-windows not
   * sent yet up to the one open now (every one with `final`), and where the next
   * collection starts.
   */
  #collectPlan(final: boolean): { options: SnapshotOptions; until: number } {
    // The helpers' component_specific keys as gauges, for servers reading the export.
    this.#components.publish();
    const options = this.#exportSnapshot;
    if (options.subWindows === undefined) return { options, until: this.#exportedUntil };
    const slotMs = this.subWindowSeconds * 1000;
    const until = final ? Infinity : Math.floor(this.clock.now() / slotMs) * slotMs;
    return {
      options: {
        ...options,
        subWindows: { since: this.#exportedUntil, until, open: final },
      },
      until,
    };
  }

  /** A collection's snapshot to every exporter; `until` is where the next one starts. */
  #deliver(snapshot: MonitorSnapshot, until: number, final: boolean): void {
    // Every closed sub-window goes out once: the next export starts at the open one.
    this.#exportedUntil = until;
    const items: ExportItem[] = snapshot.series.map((series) => ({
      kind: 'series',
      timestamp: snapshot.timestamp,
      series,
    }));
    this.#export(items);
    for (const p of this.#pipelines) p.sendNow();
    for (const listener of this.#collectListeners) {
      try {
        listener(final);
      } catch (error) {
        this.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'onCollect' });
      }
    }
  }

  #collectFailed(error: unknown): void {
    this.diagnostics.report(
      DiagnosticCode.INTERNAL_ERROR,
      `export collection: ${error instanceof Error ? error.message : 'unknown error'}`,
    );
  }

  #export(items: readonly ExportItem[]): void {
    for (const p of this.#pipelines) p.enqueue(items);
  }

  #handleSignals(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const handler = (): void => {
        for (const [s, h] of this.#signalHandlers) process.off(s, h);
        this.#signalHandlers.clear();
        void this.shutdown().finally(() => {
          // As the process would have done without our listener: end by the signal,
          // unless someone else handles it.
          if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
        });
      };
      this.#signalHandlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  #registerTracing(): void {
    const monotonic = this.#ticker.monotonic;
    // Span start times need sub-millisecond resolution, or nested spans started in
    // the same millisecond tie: with the system clock, read the high-resolution one.
    const clock = this.clock;
    const now =
      clock === systemClock
        ? (): number => performance.timeOrigin + performance.now()
        : (): number => clock.now();
    const provider = new MinimalTracerProvider(this.spanProcessor, { now, monotonic });
    if (!trace.setGlobalTracerProvider(provider)) {
      this.diagnostics.report(
        DiagnosticCode.TRACER_PROVIDER_EXISTS,
        'a global tracer provider is already registered: add monitor.spanProcessor to it instead of tracing: true',
      );
      return;
    }
    // An existing context manager (from an SDK) is kept: it propagates just as well.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager());
    this.#registeredTracing = true;
  }

  #distribution(
    name: string,
    type: 'histogram' | 'timer',
    unit: string,
    options: InstrumentOptions | undefined,
  ): Histogram & Timer {
    const component = this.#component(options);
    const family = this.#family(name, type, unit, options?.description ?? '');
    if (family === undefined || component === undefined) return noopInstrument(String(name));
    const resolve = (tags: Tags | undefined, labels?: Labels): BoundTimer =>
      (this.#resolve(family, component, tags, labels) as HistogramSeries | undefined) ?? NOOP_BOUND;
    return {
      name,
      bind: resolve,
      record: (value, tags) => {
        if (this.#valid(family.name, value, false)) resolve(tags).record(value);
      },
      recordError: (value, tags) => {
        if (this.#valid(family.name, value, false)) resolve(tags).recordError(value);
      },
      startTimer: (tags): StopTimer => resolve(tags).startTimer(),
    };
  }

  /** Checks a value of an unbound call before any series is resolved for it. */
  #valid(metric: string, value: unknown, increment: boolean): boolean {
    if (typeof value !== 'number' || value - value !== 0) {
      this.#drop(DiagnosticCode.INVALID_VALUE, `${metric}: dropped a non-finite value`);
      return false;
    }
    if (increment && value < 0) {
      this.#drop(DiagnosticCode.NEGATIVE_INCREMENT, `${metric}: dropped a negative increment`);
      return false;
    }
    return true;
  }

  #component(options: InstrumentOptions | undefined): string | undefined {
    const component = options?.component ?? this.defaultComponent;
    if (isValidName(component)) return component;
    this.#drop(DiagnosticCode.INVALID_NAME, `bad component: ${String(component)}`);
    return undefined;
  }

  #family(
    name: string,
    type: MetricType,
    unit: string,
    description: string,
  ): MetricFamily | undefined {
    let family = this.#families.get(name);
    if (family !== undefined) {
      if (family.type === type) return family;
      this.#drop(DiagnosticCode.TYPE_CONFLICT, `${name} is a ${family.type}, not a ${type}`);
      return undefined;
    }
    if (!isValidName(name)) {
      this.#drop(DiagnosticCode.INVALID_NAME, `bad metric name: ${String(name)}`);
      return undefined;
    }
    if (this.#exemptFamilies) this.#selfFamilies++;
    else if (this.#families.size - this.#selfFamilies >= this.#maxMetrics) {
      this.#drop(DiagnosticCode.METRIC_LIMIT, `${name}: over maxMetrics (${this.#maxMetrics})`);
      return undefined;
    }
    family = new MetricFamily(this.#context, name, type, unit, description);
    this.#families.set(name, family);
    return family;
  }

  /**
   * The recording surface of the health pieces: their metric families are bounded by
   * construction (fixed names; tasks, statements and pools capped), so they do not
   * take the user's `maxMetrics`.
   */
  #exemptRecorder(): HealthRecorder {
    const exempt = <T>(make: () => T): T => {
      this.#exemptFamilies = true;
      try {
        return make();
      } finally {
        this.#exemptFamilies = false;
      }
    };
    return {
      gauge: (name, options) => exempt(() => this.gauge(name, options)),
      counter: (name, options) => exempt(() => this.counter(name, options)),
      timer: (name, options) => exempt(() => this.timer(name, options)),
    };
  }

  #resolve(
    family: MetricFamily,
    component: string,
    tags: unknown,
    labels: unknown,
  ): AnySeries | undefined {
    const cleanLabels = labels === undefined ? undefined : copyTags(labels);
    const series = cleanLabels === null ? null : family.resolve(component, tags, cleanLabels);
    if (series === null) {
      this.#drop(
        DiagnosticCode.INVALID_TAGS,
        `${family.name}: tags and labels must map names to strings`,
      );
      return undefined;
    }
    return series;
  }

  #find(name: string, query: SeriesQuery): AnySeries | undefined {
    const family = this.#families.get(name);
    if (family === undefined) return undefined;
    const series = family.find(query.component ?? this.defaultComponent, query.tags);
    if (series === null) throw new TypeError('tags must map names to strings');
    return series;
  }

  #slotsFor(windowSeconds: number | 'cumulative' | undefined): number {
    if (windowSeconds === 'cumulative') return -1;
    const w = windowSeconds ?? this.windows[0]!;
    const longest = this.windows[this.windows.length - 1]!;
    if (typeof w !== 'number' || !(w > 0) || w > longest) {
      throw new TypeError(
        `windowSeconds must be 'cumulative' or a number of seconds in (0, ${longest}], got ${String(w)}`,
      );
    }
    return Math.ceil(w / this.subWindowSeconds - 1e-9);
  }

  #rates(
    windowSeconds: number | 'cumulative',
    count: number,
    errors: number,
    startMs: number,
    now = this.clock.now(),
  ): WindowRates {
    const coveredSeconds = coveredSecondsSince(startMs, now);
    const perSecond = count / Math.max(0.001, coveredSeconds);
    return {
      windowSeconds,
      coveredSeconds,
      count,
      errors,
      errorRate: count > 0 ? errors / count : 0,
      perSecond,
      perMinute: perSecond * 60,
    };
  }

  #stats(
    windowSeconds: number | 'cumulative',
    read: HistogramWindowRead,
    now = this.clock.now(),
  ): WindowStats {
    const { count, errors } = read;
    const empty = count === 0;
    const coveredSeconds = coveredSecondsSince(read.startMs, now);
    const perSecond = count / Math.max(0.001, coveredSeconds);
    return {
      windowSeconds,
      coveredSeconds,
      count,
      errors,
      errorRate: count > 0 ? errors / count : 0,
      perSecond,
      perMinute: perSecond * 60,
      sum: read.sum,
      min: empty ? NaN : read.min,
      max: empty ? NaN : read.max,
      mean: empty ? NaN : read.sum / count,
    };
  }

  /** One object literal (spreading the stats would build a slower, dictionary-like one). */
  #windowSnapshot(
    windowSeconds: number | 'cumulative',
    read: HistogramWindowRead,
    now: number,
    quantiles: DistributionSnapshot['quantiles'],
    exemplars: DistributionSnapshot['exemplars'],
    digest: TDigest | undefined,
  ): DistributionSnapshot {
    const { count, errors } = read;
    const empty = count === 0;
    const coveredSeconds = coveredSecondsSince(read.startMs, now);
    const perSecond = count / Math.max(0.001, coveredSeconds);
    const snapshot: DistributionSnapshot = {
      windowSeconds,
      coveredSeconds,
      count,
      errors,
      errorRate: count > 0 ? errors / count : 0,
      perSecond,
      perMinute: perSecond * 60,
      sum: read.sum,
      min: empty ? NaN : read.min,
      max: empty ? NaN : read.max,
      mean: empty ? NaN : read.sum / count,
      quantiles,
      exemplars,
    };
    if (digest !== undefined) (snapshot as { digest?: TDigest }).digest = digest;
    return snapshot;
  }

  #distributionSnapshot(
    series: HistogramSeries,
    windowSeconds: number | 'cumulative',
    slots: number,
    now: number,
    withQuantiles: boolean,
    withDigest: boolean,
  ): DistributionSnapshot {
    const read = series.read(slots, withQuantiles || withDigest, undefined, true);
    const exemplars = series.exemplars(slots);
    let quantiles: DistributionSnapshot['quantiles'] = EMPTY_QUANTILES;
    if (withQuantiles) {
      const qs = this.snapshotQuantiles;
      // Each window's answers start the next snapshot's search (cumulative: the last row).
      const windows = this.windows;
      const row = windowSeconds === 'cumulative' ? windows.length : windows.indexOf(windowSeconds);
      const values =
        row < 0 ? quantilesOfParts(read.parts, qs) : this.#guidedQuantiles(series, read, row);
      const list = new Array<{ quantile: number; value: number }>(qs.length);
      for (let i = 0; i < qs.length; i++) list[i] = { quantile: qs[i]!, value: values[i]! };
      quantiles = list;
    }
    let digest: TDigest | undefined;
    if (withDigest) {
      // The digest for export merges the parts (each merge pass is linear in centroids).
      digest = new TDigest({ compression: this.compression });
      for (const p of read.parts) {
        digest.mergeCentroids(p.centroids, p.length, p.total, p.sum, p.min, p.max);
      }
    }
    return this.#windowSnapshot(windowSeconds, read, now, quantiles, exemplars, digest);
  }

  #alertInstruments(): AlertInstruments {
    const transitions = this.#selfFamily(
      'prsm.alerts.transitions',
      'Alert lifecycle transitions, by state reached and severity',
    );
    const notifications = this.#selfFamily(
      'prsm.alerts.notifications',
      'Alert notifications by channel and outcome (delivered, failed, dropped)',
    );
    const evaluations = this.#selfFamily(
      'prsm.alerts.evaluation.duration',
      'Time one alert evaluation tick took',
      'timer',
      'ms',
    );
    // Self-metrics never throw into the engine (a broken clock, say): reported instead.
    const safely = (record: () => void): void => {
      try {
        record();
      } catch (error) {
        this.diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `alert self-metrics: ${error instanceof Error ? error.message : 'unknown error'}`,
        );
      }
    };
    const inc = (family: MetricFamily, tags: Tags): void => {
      safely(() => {
        (family.resolve(SELF_COMPONENT, Object.freeze(tags), undefined) as CounterSeries).inc();
      });
    };
    return {
      transition: (state, severity) => inc(transitions, { state, severity }),
      notification: (channel, outcome) => inc(notifications, { channel, outcome }),
      evaluation: (ms) => {
        safely(() => {
          (evaluations.resolve(SELF_COMPONENT, undefined, undefined) as HistogramSeries).record(ms);
        });
      },
    };
  }

  #selfFamily(
    name: string,
    description: string,
    type: 'counter' | 'timer' = 'counter',
    unit = '',
  ): MetricFamily {
    // Not capped like users' metrics: their tags are metric names (bounded by
    // maxMetrics) and diagnostic codes, and an overflow of their own would recurse.
    const family = new MetricFamily(
      this.#context,
      name,
      type,
      unit,
      description,
      Number.POSITIVE_INFINITY,
    );
    this.#families.set(name, family);
    this.#selfFamilies++;
    return family;
  }

  #onOverflow(metric: string): void {
    this.diagnostics.report(
      DiagnosticCode.SERIES_OVERFLOW,
      `${metric}: more tag sets than maxSeriesPerMetric; recording into the overflow series`,
    );
    (
      this.#overflowCounter.resolve(
        SELF_COMPONENT,
        Object.freeze({ metric }),
        undefined,
      ) as CounterSeries
    ).inc();
  }

  #onDrop(code: DiagnosticCodeValue): void {
    let handle = this.#dropHandles.get(code);
    if (handle === undefined) {
      handle = this.#droppedCounter.resolve(
        SELF_COMPONENT,
        Object.freeze({ reason: code }),
        undefined,
      ) as CounterSeries;
      this.#dropHandles.set(code, handle);
    }
    handle.inc();
  }

  #drop(code: DiagnosticCodeValue, message: string): void {
    this.diagnostics.report(code, message);
    this.#onDrop(code);
  }
}
