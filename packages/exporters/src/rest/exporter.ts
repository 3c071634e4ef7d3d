/**
 * The REST exporter: one JSON POST per export batch to a PRSM monitoring server,
 * gzipped by default, with the batch id as a header for the receiver's dedup. It makes
 * one attempt per call and classifies the outcome; the `ExportPipeline` of
 * `@prsm/core` queues, batches, retries and times out. Business metrics (the records
 * of the monitor's `business_metrics` export source) go through a second pipeline of
 * their own to `POST /business-metrics`. Imports `@prsm/core`, `node:zlib` and the
 * global `fetch`.
 */
import { randomUUID } from 'node:crypto';

import {
  Diagnostics,
  DiagnosticCode,
  type ExportBatch,
  type ExportItem,
  type Exporter,
  type ExporterHost,
  ExportPipeline,
  type ExportPipelineOptions,
  type ExportResult,
  type MonitorExporterHost,
} from '@prsm/core';

import { type RestBusinessMetric, type RestSource, toRestBusinessMetrics } from './body.js';
import { encodeRestBatch } from './encode.js';
import {
  optionError,
  RawJson,
  REST_BATCH_ID_HEADER,
  type RestConnectionOptions,
  restTransport,
} from './transport.js';

export { REST_BATCH_ID_HEADER };

/**
 * The path the REST exporter POSTs to, under the configured `url`.
 *
 * @example
 * ```ts
 * app.post(REST_BATCH_PATH, handleBatch); // '/api/v1/monitoring/batch'
 * ```
 */
export const REST_BATCH_PATH = '/api/v1/monitoring/batch';

/**
 * The path the REST exporter POSTs business metrics to, under the configured `url`
 * (a {@link RestBusinessMetricsBody}).
 *
 * @example
 * ```ts
 * app.post(REST_BUSINESS_METRICS_PATH, handle); // '/api/v1/monitoring/business-metrics'
 * ```
 */
export const REST_BUSINESS_METRICS_PATH = '/api/v1/monitoring/business-metrics';

/**
 * The kind of export source whose records the REST exporter posts as business
 * metrics (what `BusinessOutcomes` adds to its monitor).
 *
 * @example
 * ```ts
 * monitor.addExportSource({ kind: REST_BUSINESS_METRICS_KIND, collect: () => [{ metric_name: 'mrr', value: 1, dimension: 'monthly' }] });
 * ```
 */
export const REST_BUSINESS_METRICS_KIND = 'business_metrics';

/**
 * Options of {@link restExporter}. Every option is checked: a mistake throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: RestExporterOptions = {
 *   url: 'https://monitoring.prsm.example',
 *   apiKey: process.env.PRSM_API_KEY,
 *   headers: { 'x-tenant': 'marketplace' },
 * };
 * ```
 */
export interface RestExporterOptions extends RestConnectionOptions {
  /**
   * Also send every window's quantiles and rates (`windows`), computed at each export.
   * Default false: the server merges the sub-windows' digests (`sub_windows`) itself,
   * across processes, which the quantiles of one process cannot be.
   */
  readonly windowQuantiles?: boolean;
  /**
   * Post the monitor's business metrics (its `business_metrics` export source, which
   * `BusinessOutcomes` adds) to `POST /business-metrics` at each export, each KPI
   * only when its value, target, dimension or metadata changed since the last one
   * sent. Default true.
   */
  readonly businessMetrics?: boolean;
  /**
   * The queue, batching and retries of the business metrics (their own pipeline,
   * with the same defaults as the monitor's); at most 1000 items per batch.
   */
  readonly businessPipeline?: Omit<
    ExportPipelineOptions<RestBusinessMetric>,
    'exportIntervalMs' | 'sizeOf'
  >;
}

const FACTORY = 'restExporter';
/** Business metrics whose last sent form is remembered; past it, everything is resent. */
const MAX_REMEMBERED = 10_000;

/** A business metric record from an export source, or undefined when it is not one. */
function businessMetricOf(record: unknown): RestBusinessMetric | undefined {
  if (record === null || typeof record !== 'object') return undefined;
  const r = record as Record<string, unknown>;
  const { metric_name: name, value, dimension, target, metadata } = r;
  if (typeof name !== 'string' || name === '' || typeof value !== 'number') return undefined;
  if (!Number.isFinite(value)) return undefined;
  if (dimension !== undefined && typeof dimension !== 'string') return undefined;
  if (target !== undefined && (typeof target !== 'number' || !Number.isFinite(target))) {
    return undefined;
  }
  if (
    metadata !== undefined &&
    (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
  ) {
    return undefined;
  }
  return {
    metric_name: name,
    value,
    ...(dimension !== undefined && { dimension }),
    ...(target !== undefined && { target }),
    ...(metadata !== undefined && {
      metadata: metadata as Readonly<Record<string, string | number | boolean | null>>,
    }),
  };
}

/**
 * An exporter of metrics, spans and alert events to a PRSM monitoring server over
 * REST: one `POST ${url}/api/v1/monitoring/batch` per batch, the body a
 * {@link RestBatchBody} as JSON (the bytes {@link encodeRestBatch} writes, which are
 * `JSON.stringify` of {@link toRestBatch}'s body), gzipped unless `gzip: false`, with
 * `x-prsm-batch-id` (the same on every retry: the receiver drops a batch it already
 * has) and the API key in `apiKeyHeader`.
 *
 * Business metrics: when a `Monitor` adopts it, the exporter pulls the records of
 * the monitor's `business_metrics` export sources after each export collection
 * (`BusinessOutcomes` adds one: its `businessMetricBodies()`), keeps those that
 * changed since last sent, and posts them through a pipeline of their own (bounded
 * queue, batches, retries, a batch id kept across retries) to
 * `POST ${url}/api/v1/monitoring/business-metrics` as a `RestBusinessMetricsBody` (from `@prsm/exporters/rest`).
 *
 * One call is one attempt: 2xx is success; 408, 429 and 5xx are retryable, after the
 * `Retry-After` (seconds or an HTTP date) when the server sends one; any other status
 * (redirects included: they are not followed, so the key never goes elsewhere) drops
 * the batch; a connection error or an abort (the pipeline's timeout) is retryable.
 * It never throws.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { restExporter } from '@prsm/exporters/rest';
 *
 * const monitor = new Monitor({
 *   exporters: [
 *     restExporter({ url: 'https://monitoring.prsm.example', apiKey: process.env.PRSM_API_KEY }),
 *   ],
 * });
 * ```
 */
export function restExporter(options: RestExporterOptions): Exporter<ExportItem> {
  const transport = restTransport(FACTORY, options);
  const windowQuantiles = options.windowQuantiles ?? false;
  if (typeof windowQuantiles !== 'boolean') {
    throw optionError(FACTORY, 'windowQuantiles', 'must be a boolean');
  }
  const businessMetrics = options.businessMetrics ?? true;
  if (typeof businessMetrics !== 'boolean') {
    throw optionError(FACTORY, 'businessMetrics', 'must be a boolean');
  }
  const businessPipeline: unknown = options.businessPipeline ?? {};
  if (businessPipeline === null || typeof businessPipeline !== 'object') {
    throw optionError(FACTORY, 'businessPipeline', 'must be an object of pipeline options');
  }
  const pipelineOptions = businessPipeline as NonNullable<RestExporterOptions['businessPipeline']>;
  const maxBatch = pipelineOptions.maxBatchItems;
  if (maxBatch !== undefined && (typeof maxBatch !== 'number' || maxBatch > 1000)) {
    throw optionError(FACTORY, 'businessPipeline.maxBatchItems', 'must be at most 1000');
  }
  try {
    // Checked now, not at attach: a bad option is a configuration error.
    void new ExportPipeline(
      { export: () => Promise.resolve({ ok: true }), shutdown: () => Promise.resolve() },
      { ...pipelineOptions, exportIntervalMs: 0 },
      new Diagnostics(),
    ).shutdown(0);
  } catch (error) {
    throw optionError(
      FACTORY,
      'businessPipeline',
      `is invalid: ${error instanceof Error ? error.message : 'unknown'}`,
    );
  }
  let source: RestSource | undefined;
  let business: ExportPipeline<RestBusinessMetric> | undefined;

  const startBusiness = (host: ExporterHost & Partial<MonitorExporterHost>): void => {
    const { onCollect, collect } = host;
    if (!businessMetrics || typeof onCollect !== 'function' || typeof collect !== 'function') {
      return;
    }
    const diagnostics =
      host.diagnostics instanceof Diagnostics ? host.diagnostics : new Diagnostics();
    const pipeline = new ExportPipeline<RestBusinessMetric>(
      {
        name: 'rest.business-metrics',
        export: (batch: ExportBatch<RestBusinessMetric>, signal: AbortSignal) =>
          transport.post(
            REST_BUSINESS_METRICS_PATH,
            toRestBusinessMetrics(batch, transport.now(), source),
            batch.id,
            signal,
          ),
        shutdown: () => Promise.resolve(),
      },
      { ...pipelineOptions, exportIntervalMs: 0 },
      diagnostics,
    );
    business = pipeline;
    const lastSent = new Map<string, string>();
    onCollect(() => {
      const changed: RestBusinessMetric[] = [];
      for (const record of collect(REST_BUSINESS_METRICS_KIND)) {
        const metric = businessMetricOf(record);
        if (metric === undefined) {
          diagnostics.report(
            DiagnosticCode.INVALID_VALUE,
            'rest: a business_metrics record without a metric_name and a finite value was skipped',
          );
          continue;
        }
        const form = JSON.stringify(metric);
        if (lastSent.get(metric.metric_name) === form) continue;
        if (lastSent.size >= MAX_REMEMBERED) lastSent.clear();
        lastSent.set(metric.metric_name, form);
        changed.push(metric);
      }
      if (changed.length === 0) return;
      pipeline.enqueue(changed);
      pipeline.sendNow();
    });
  };

  return {
    name: 'rest',
    needs: { windowQuantiles, digests: false, subWindows: true },
    attach(host: ExporterHost & Partial<MonitorExporterHost>): void {
      source = { instance_id: randomUUID(), resource: { ...host.resource } };
      startBusiness(host);
    },
    export(batch: ExportBatch<ExportItem>, signal: AbortSignal): Promise<ExportResult> {
      let body: RawJson;
      try {
        body = new RawJson(encodeRestBatch(batch, transport.now(), source));
      } catch (error) {
        return Promise.resolve({
          ok: false,
          retryable: false,
          error: `rest: cannot encode batch: ${error instanceof Error ? error.message : 'unknown error'}`,
        });
      }
      return transport.post(REST_BATCH_PATH, body, batch.id, signal);
    },
    async forceFlush(): Promise<void> {
      await business?.forceFlush(10_000);
    },
    async shutdown(): Promise<void> {
      // The monitor's pipeline flushed (forceFlush) before: what is left is dropped, counted.
      await business?.shutdown(500);
    },
  };
}
