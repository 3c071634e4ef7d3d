/**
 * The OTLP trace exporter: the `span` items of a batch (spans as the monitor's trace
 * store keeps them) rebuilt as OpenTelemetry `ReadableSpan`s and sent by the
 * OpenTelemetry OTLP/HTTP trace exporter. Imports the OpenTelemetry API, resources and
 * exporter packages, and `@prsm/core` types.
 */
import {
  type Attributes,
  type AttributeValue,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
} from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type {
  ExportBatch,
  ExporterHost,
  ExportItem,
  Exporter,
  ExportResult,
  StoredSpan,
} from '@prsm/core';

import {
  checkHttpOptions,
  checkResource,
  createTraceSender,
  sendWith,
  type OtelReadableSpan,
  type OtlpHttpOptions,
} from './http.js';
import { msToHrTime, PRSM_SCOPE } from './metrics.js';

/**
 * Options of {@link otlpTraceExporter}: the connection ({@link OtlpHttpOptions}) and the
 * resource. Every option is checked: a mistake throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: OtlpTraceExporterOptions = {
 *   url: 'http://otel-collector:4318/v1/traces',
 *   headers: { 'x-scope-orgid': 'checkout' },
 * };
 * ```
 */
export interface OtlpTraceExporterOptions extends OtlpHttpOptions {
  /**
   * The resource attributes of every span. Default: the adopting monitor's
   * `resource` (given through `attach`); without a monitor,
   * `service.name: 'unknown_service:node'`.
   */
  readonly resource?: Readonly<Record<string, string | number | boolean>>;
}

const FACTORY = 'otlpTraceExporter';
const DEFAULT_RESOURCE = Object.freeze({ 'service.name': 'unknown_service:node' });

type OtelResource = OtelReadableSpan['resource'];

function attributesOf(span: StoredSpan): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(span.attributes)) {
    // Arrays are copied: OpenTelemetry's attribute arrays are mutable.
    out[key] = typeof value === 'object' ? ([...value] as AttributeValue) : value;
  }
  return out;
}

/**
 * A stored span as an OpenTelemetry `ReadableSpan`. The trace store keeps no kind,
 * events, links, trace state or scope: the kind is `INTERNAL`, the lists are empty,
 * the scope is `@prsm/core`, and the span is sampled. `success` becomes the status
 * `UNSET` (the store does not tell it from `OK`), `error` the status `ERROR` with its
 * message. @internal
 */
export function toReadableSpan(span: StoredSpan, resource: OtelResource): OtelReadableSpan {
  const context = { traceId: span.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED };
  return {
    name: span.name,
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    ...(span.parentSpanId === undefined
      ? {}
      : {
          parentSpanContext: {
            traceId: span.traceId,
            spanId: span.parentSpanId,
            traceFlags: TraceFlags.SAMPLED,
          },
        }),
    startTime: msToHrTime(span.startMs),
    endTime: msToHrTime(span.endMs),
    duration: msToHrTime(span.durationMs),
    status:
      span.status === 'error'
        ? {
            code: SpanStatusCode.ERROR,
            ...(span.statusMessage === undefined ? {} : { message: span.statusMessage }),
          }
        : { code: SpanStatusCode.UNSET },
    attributes: attributesOf(span),
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope: { ...PRSM_SCOPE },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/**
 * An exporter of a monitor's finished spans to an OTLP/HTTP endpoint (a collector,
 * Jaeger, Tempo...) through the OpenTelemetry OTLP trace exporter, JSON or protobuf:
 * trace id, span id, parent span id, name, start and end, status and message,
 * attributes, under the monitor's resource and the scope `@prsm/core`. The trace
 * store keeps no kind (sent as `INTERNAL`), events or links. Other items are ignored.
 *
 * Use it when spans reach the monitor some other way than {@link startTracing}
 * (`new Monitor({ tracing: true })`, or your own SDK with `monitor.spanProcessor`):
 * `startTracing` already sends every span over OTLP, and both would send them twice.
 *
 * Results as {@link otlpMetricExporter}'s; it never throws.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { otlpTraceExporter } from '@prsm/exporters/otlp';
 *
 * const monitor = new Monitor({
 *   serviceName: 'checkout',
 *   tracing: true,
 *   exporters: [otlpTraceExporter({ url: 'http://otel-collector:4318/v1/traces' })],
 * });
 * ```
 */
export function otlpTraceExporter(options: OtlpTraceExporterOptions = {}): Exporter<ExportItem> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${FACTORY}: options must be an object`);
  }
  const connection = checkHttpOptions(FACTORY, 'options', options);
  const explicit =
    options.resource === undefined
      ? undefined
      : checkResource(FACTORY, 'options.resource', options.resource);
  const sender = createTraceSender(connection);
  // One resource object for all spans: the serializers group spans by its identity.
  let resource: OtelResource = resourceFromAttributes({ ...(explicit ?? DEFAULT_RESOURCE) });
  const name = 'otlp-traces';
  return {
    name,
    attach(host: ExporterHost): void {
      if (explicit === undefined) resource = resourceFromAttributes({ ...host.resource });
    },
    async export(batch: ExportBatch<ExportItem>, signal: AbortSignal): Promise<ExportResult> {
      let spans: OtelReadableSpan[];
      try {
        spans = [];
        for (const item of batch.items) {
          if (item.kind === 'span') spans.push(toReadableSpan(item.span, resource));
        }
        if (spans.length === 0) return { ok: true };
      } catch (error) {
        return {
          ok: false,
          retryable: false,
          error: `${name}: cannot map batch: ${error instanceof Error ? error.message : 'unknown error'}`,
        };
      }
      return sendWith(name, sender, spans, signal);
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
