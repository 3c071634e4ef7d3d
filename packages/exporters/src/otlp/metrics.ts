/**
 * The OTLP metric exporter: the `series` items of a batch mapped to OpenTelemetry's
 * `ResourceMetrics` (counters as monotonic cumulative sums, gauges as gauges,
 * histograms and timers as cumulative exponential histograms plus their quantiles as
 * gauges) and sent by the OpenTelemetry OTLP/HTTP metric exporter. Imports the
 * OpenTelemetry API, SDK metric types, resources and exporter packages, and
 * `@prsm/core` types.
 */
import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type GaugeMetricData,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import type {
  ExportBatch,
  ExporterHost,
  ExportItem,
  Exporter,
  ExportResult,
  HistogramSnapshot,
  SeriesSnapshot,
} from '@prsm/core';

import { exponentialFromCentroids } from './exponential.js';
import {
  checkHttpOptions,
  checkResource,
  createMetricSender,
  optionError,
  sendWith,
  type OtelResourceMetrics,
  type OtlpHttpOptions,
} from './http.js';

/**
 * Options of {@link otlpMetricExporter}: the connection ({@link OtlpHttpOptions}) and
 * the resource. Every option is checked: a mistake throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: OtlpMetricExporterOptions = {
 *   url: 'http://otel-collector:4318/v1/metrics',
 *   protocol: 'protobuf',
 * };
 * ```
 */
export interface OtlpMetricExporterOptions extends OtlpHttpOptions {
  /**
   * The resource attributes sent with every request. Default: the adopting monitor's
   * `resource` (`service.name` and its `resourceAttributes`, given through
   * `attach`); without a monitor, `service.name: 'unknown_service:node'`.
   */
  readonly resource?: Readonly<Record<string, string | number | boolean>>;
  /** The largest number of buckets of each side of an exponential histogram. Default 160, OpenTelemetry's. */
  readonly maxBuckets?: number;
}

/** The instrumentation scope of everything the exporters send. @internal */
export const PRSM_SCOPE = { name: '@prsm/core' } as const;

const FACTORY = 'otlpMetricExporter';
const DEFAULT_RESOURCE = Object.freeze({ 'service.name': 'unknown_service:node' });
/** Series whose start is remembered, at most; beyond, it is estimated at each export. */
const MAX_REMEMBERED_STARTS = 100_000;

/** Milliseconds since the epoch as OpenTelemetry's `[seconds, nanoseconds]`. @internal */
export function msToHrTime(ms: number): HrTime {
  let seconds = Math.floor(ms / 1000);
  let nanos = Math.round((ms - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}

/** `0.5` → `p50`, `0.999` → `p999` (as the REST exporter's keys). @internal */
export function quantileSuffix(quantile: number): string {
  return `p${String(Number((quantile * 100).toPrecision(12))).replace('.', '')}`;
}

function seriesKey(s: SeriesSnapshot): string {
  return JSON.stringify([s.name, s.component, s.tags, s.labels]);
}

function attributesOf(s: SeriesSnapshot): Attributes {
  return { ...s.labels, ...s.tags, 'prsm.component': s.component };
}

/**
 * When each series began. Histograms and timers say it exactly (their cumulative
 * window covers the series' whole life); a counter's longest window does when the
 * series is younger than it, and else reaches back as far as it can; a gauge's is
 * when the exporter first saw it. The first answer is kept, so a series' start stays
 * the same from export to export, as cumulative data needs. @internal
 */
export class SeriesStarts {
  readonly #starts = new Map<string, number>();

  startOf(s: SeriesSnapshot, timestamp: number): number {
    if (s.type === 'histogram' || s.type === 'timer') {
      return timestamp - s.cumulative.coveredSeconds * 1000;
    }
    const key = seriesKey(s);
    const known = this.#starts.get(key);
    if (known !== undefined) return known;
    let covered = 0;
    if (s.type === 'counter')
      for (const w of s.windows) covered = Math.max(covered, w.coveredSeconds);
    const start = timestamp - covered * 1000;
    if (this.#starts.size < MAX_REMEMBERED_STARTS) this.#starts.set(key, start);
    return start;
  }
}

type MetricBuilder = MetricData & { dataPoints: unknown[] };

/**
 * Maps the `series` items to one OpenTelemetry `ResourceMetrics` (other items are
 * skipped): one metric per name, one data point per item. @internal
 */
export function toResourceMetrics(
  items: readonly ExportItem[],
  resource: Readonly<Record<string, string | number | boolean>>,
  starts: SeriesStarts,
  maxBuckets = 160,
): OtelResourceMetrics {
  const metrics = new Map<string, MetricBuilder>();
  const metric = (key: string, create: () => MetricBuilder): MetricBuilder => {
    let m = metrics.get(key);
    if (m === undefined) {
      m = create();
      metrics.set(key, m);
    }
    return m;
  };
  const descriptor = (name: string, description: string, unit: string) => ({
    name,
    description,
    unit,
    valueType: ValueType.DOUBLE,
  });
  const gauge = (name: string, description: string, unit: string): GaugeMetricData => ({
    descriptor: descriptor(name, description, unit),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: [],
  });
  for (const item of items) {
    if (item.kind !== 'series') continue;
    const s = item.series;
    const startTime = msToHrTime(starts.startOf(s, item.timestamp));
    const endTime = msToHrTime(item.timestamp);
    const attributes = attributesOf(s);
    switch (s.type) {
      case 'counter':
        metric(`sum ${s.name}`, () => ({
          descriptor: descriptor(s.name, s.description, s.unit),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: [],
        })).dataPoints.push({ startTime, endTime, attributes, value: s.total });
        break;
      case 'gauge':
        metric(`gauge ${s.name}`, () => gauge(s.name, s.description, s.unit)).dataPoints.push({
          startTime,
          endTime,
          attributes,
          value: s.value,
        });
        break;
      case 'histogram':
      case 'timer':
        metric(`histogram ${s.name}`, () => ({
          descriptor: descriptor(s.name, s.description, s.unit),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
          dataPoints: [],
        })).dataPoints.push({
          startTime,
          endTime,
          attributes,
          value: exponentialValue(s, maxBuckets),
        });
        quantileGauges(s, (name, description, value) => {
          metric(`gauge ${name}`, () => gauge(name, description, s.unit)).dataPoints.push({
            startTime,
            endTime,
            attributes,
            value,
          });
        });
        break;
    }
  }
  return {
    resource: resourceFromAttributes({ ...resource }),
    scopeMetrics: [{ scope: { ...PRSM_SCOPE }, metrics: [...metrics.values()] }],
  };
}

function exponentialValue(s: HistogramSnapshot, maxBuckets: number) {
  const c = s.cumulative;
  const h = exponentialFromCentroids(c.digest?.toJSON().centroids ?? [], maxBuckets);
  return {
    // Without a digest (a snapshot taken with `digests: false`) there are no buckets:
    // the count is then the statistics' one.
    count: c.digest === undefined ? c.count : h.count,
    sum: c.sum,
    ...(c.count > 0 && Number.isFinite(c.min) ? { min: c.min } : {}),
    ...(c.count > 0 && Number.isFinite(c.max) ? { max: c.max } : {}),
    scale: h.scale,
    zeroCount: h.zeroCount,
    positive: h.positive,
    negative: h.negative,
  };
}

/** The first window's quantiles, as gauges `<name>.p50`, `<name>.p99`... (NaN ones left out). */
function quantileGauges(
  s: HistogramSnapshot,
  emit: (name: string, description: string, value: number) => void,
): void {
  const window = s.windows[0];
  if (window === undefined) return;
  const over =
    window.windowSeconds === 'cumulative'
      ? 'since the series began'
      : `over the last ${window.windowSeconds} s`;
  for (const { quantile, value } of window.quantiles) {
    if (!Number.isFinite(value)) continue;
    emit(
      `${s.name}.${quantileSuffix(quantile)}`,
      `${quantile} quantile of ${s.name} ${over}`,
      value,
    );
  }
}

/**
 * An exporter of a monitor's series to an OTLP/HTTP endpoint (an OpenTelemetry
 * Collector, Grafana Alloy, Prometheus' OTLP receiver...) through the OpenTelemetry
 * OTLP metric exporter, JSON or protobuf. All in cumulative temporality:
 *
 * - counters: monotonic sums of the total since the series began;
 * - gauges: gauges;
 * - histograms and timers: exponential histograms of everything since the series
 *   began (count, sum, min, max exact; buckets from the t-digest's centroids, each
 *   centroid in the bucket of its mean, at the finest scale fitting `maxBuckets`), and
 *   the monitor's `snapshotQuantiles` over its first window as gauges named
 *   `<name>.p50`, `<name>.p90`, `<name>.p95`, `<name>.p99`, `<name>.p999`.
 *
 * Every data point carries the series' labels and tags and `prsm.component`; its
 * time is the snapshot's, its start when the series began (see the README). Other
 * items (spans, alert events) are ignored.
 *
 * One call is one export: the OpenTelemetry exporter itself retries 429, 502, 503 and
 * 504 within `timeoutMillis`; what still fails, and connection errors, are retryable
 * for the monitor's pipeline; any other HTTP status drops the batch. An aborted
 * `signal` resolves at once. It never throws.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { otlpMetricExporter } from '@prsm/exporters/otlp';
 *
 * const monitor = new Monitor({
 *   serviceName: 'checkout',
 *   resourceAttributes: { 'deployment.environment': 'production' },
 *   exporters: [otlpMetricExporter({ url: 'http://otel-collector:4318/v1/metrics' })],
 * });
 * ```
 */
export function otlpMetricExporter(options: OtlpMetricExporterOptions = {}): Exporter<ExportItem> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${FACTORY}: options must be an object`);
  }
  const connection = checkHttpOptions(FACTORY, 'options', options);
  const explicit =
    options.resource === undefined
      ? undefined
      : checkResource(FACTORY, 'options.resource', options.resource);
  const maxBuckets: unknown = options.maxBuckets ?? 160;
  if (typeof maxBuckets !== 'number' || !Number.isInteger(maxBuckets) || maxBuckets < 2) {
    throw optionError(FACTORY, 'options.maxBuckets', 'must be an integer >= 2');
  }
  const sender = createMetricSender(connection);
  const starts = new SeriesStarts();
  let resource: Readonly<Record<string, string | number | boolean>> = explicit ?? DEFAULT_RESOURCE;
  const name = 'otlp-metrics';
  return {
    name,
    attach(host: ExporterHost): void {
      if (explicit === undefined) resource = host.resource;
    },
    async export(batch: ExportBatch<ExportItem>, signal: AbortSignal): Promise<ExportResult> {
      let data: OtelResourceMetrics;
      try {
        if (!batch.items.some((item) => item.kind === 'series')) return { ok: true };
        data = toResourceMetrics(batch.items, resource, starts, maxBuckets);
      } catch (error) {
        // The same batch would fail the same way: no retry.
        return {
          ok: false,
          retryable: false,
          error: `${name}: cannot map batch: ${error instanceof Error ? error.message : 'unknown error'}`,
        };
      }
      return sendWith(name, sender, data, signal);
    },
    async forceFlush(): Promise<void> {
      try {
        await sender.forceFlush();
      } catch {
        // Nothing left to do: the pipeline has its results already.
      }
    },
    async shutdown(): Promise<void> {
      try {
        await sender.shutdown();
      } catch {
        // Shutting down never fails the host.
      }
    },
  };
}
