/**
 * What the OTLP exporters and `startTracing` share: the connection options and their
 * checks, the OpenTelemetry HTTP exporters (JSON from the `-otlp-http` packages;
 * protobuf assembled, as the `-otlp-proto` packages do, from the same packages'
 * export delegate and `@opentelemetry/otlp-transformer`'s protobuf serializers), and
 * the translation of their callback results into our `ExportResult`. Imports the
 * OpenTelemetry exporter packages and `@prsm/core` types.
 */
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter,
  OTLPMetricExporterBase,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import {
  MetricsExporterMetricsHelper,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from '@opentelemetry/otlp-transformer';
import type { ExportResult } from '@prsm/core';

/**
 * The wire format of an OTLP/HTTP exporter: `'json'` (OTLP/JSON,
 * `application/json`) or `'protobuf'` (`application/x-protobuf`, what collectors
 * expect by default).
 *
 * @example
 * ```ts
 * const protocol: OtlpProtocol = 'protobuf';
 * ```
 */
export type OtlpProtocol = 'json' | 'protobuf';

/**
 * Where and how an OTLP exporter sends. Every option is checked: a mistake throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * const connection: OtlpHttpOptions = {
 *   url: 'http://otel-collector:4318/v1/metrics',
 *   headers: { authorization: `Bearer ${process.env.OTLP_TOKEN}` },
 *   protocol: 'protobuf',
 *   timeoutMillis: 10_000,
 * };
 * ```
 */
export interface OtlpHttpOptions {
  /**
   * The full signal URL, absolute http(s), as OpenTelemetry's `url` option:
   * `http://collector:4318/v1/metrics` for metrics, `.../v1/traces` for traces.
   * Default: OpenTelemetry's, from `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` or
   * `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318/v1/<signal>`.
   */
  readonly url?: string;
  /** Extra request headers (names to strings); `content-type`, `-length` and `-encoding` are the exporter's own. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * `'json'` or `'protobuf'`. Default `'json'`, as the `-otlp-http` exporters (protobuf
   * goes through `@opentelemetry/otlp-transformer`'s serializer, which its authors
   * mark experimental).
   */
  readonly protocol?: OtlpProtocol;
  /** How long one export may take, the OpenTelemetry exporter's own retries included (ms). Default 10 000. */
  readonly timeoutMillis?: number;
}

/** The checked options. @internal */
export interface CheckedHttpOptions {
  readonly url: string | undefined;
  readonly headers: Record<string, string>;
  readonly protocol: OtlpProtocol;
  readonly timeoutMillis: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const OWN_HEADERS = new Set(['content-type', 'content-length', 'content-encoding']);

/** A `TypeError` naming the factory and the option. @internal */
export function optionError(factory: string, option: string, problem: string): TypeError {
  return new TypeError(`${factory}: ${option} ${problem}`);
}

/** Checks the connection options under `prefix` (`options`, `options.otlp`). @internal */
export function checkHttpOptions(
  factory: string,
  prefix: string,
  options: OtlpHttpOptions,
): CheckedHttpOptions {
  const fail = (option: string, problem: string): TypeError =>
    optionError(factory, `${prefix}.${option}`, problem);
  let url: string | undefined;
  const rawUrl: unknown = options.url;
  if (rawUrl !== undefined) {
    if (typeof rawUrl !== 'string') throw fail('url', 'must be a URL string');
    let parsed: URL;
    try {
      parsed = new URL(rawUrl);
    } catch {
      throw fail('url', 'must be an absolute http:// or https:// URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw fail('url', 'must be an absolute http:// or https:// URL');
    }
    if (parsed.username !== '' || parsed.password !== '') {
      throw fail('url', 'must not contain credentials (use headers)');
    }
    url = parsed.href;
  }
  const rawHeaders: unknown = options.headers ?? {};
  if (rawHeaders === null || typeof rawHeaders !== 'object' || Array.isArray(rawHeaders)) {
    throw fail('headers', 'must be an object of header names to strings');
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(rawHeaders)) {
    if (!TOKEN.test(name)) throw fail(`headers['${name}']`, 'must be a valid HTTP header name');
    if (OWN_HEADERS.has(name.toLowerCase())) {
      throw fail(`headers['${name}']`, 'is set by the exporter');
    }
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw fail(`headers['${name}']`, 'must be a string without CR, LF or NUL');
    }
    headers[name] = value;
  }
  const protocol: unknown = options.protocol ?? 'json';
  if (protocol !== 'json' && protocol !== 'protobuf') {
    throw fail('protocol', "must be 'json' or 'protobuf'");
  }
  const timeoutMillis: unknown = options.timeoutMillis ?? 10_000;
  if (
    typeof timeoutMillis !== 'number' ||
    !Number.isFinite(timeoutMillis) ||
    !(timeoutMillis > 0)
  ) {
    throw fail('timeoutMillis', 'must be a finite number of milliseconds > 0');
  }
  return { url, headers, protocol, timeoutMillis };
}

/**
 * Checks a resource: an object of attribute names to strings, finite numbers or
 * booleans. @internal
 */
export function checkResource(
  factory: string,
  option: string,
  value: unknown,
): Readonly<Record<string, string | number | boolean>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw optionError(factory, option, 'must be an object of attribute names to values');
  }
  const out: Record<string, string | number | boolean> = {};
  for (const [key, v] of Object.entries(value)) {
    if (
      key === '' ||
      !(
        typeof v === 'string' ||
        typeof v === 'boolean' ||
        (typeof v === 'number' && Number.isFinite(v))
      )
    ) {
      throw optionError(
        factory,
        `${option}['${key}']`,
        'must be a string, a finite number or a boolean under a non-empty name',
      );
    }
    out[key] = v;
  }
  return Object.freeze(out);
}

/** What the OpenTelemetry exporters have in common. @internal */
export interface OtelSender<T> {
  export(items: T, resultCallback: (result: OtelExportResult) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** `ExportResult` of `@opentelemetry/core`, read from the exporter's signature. @internal */
export type OtelExportResult = Parameters<Parameters<OTLPTraceExporter['export']>[1]>[0];

/** The metrics the OpenTelemetry metric exporter takes. @internal */
export type OtelResourceMetrics = Parameters<OTLPMetricExporter['export']>[0];

/** A span as the OpenTelemetry trace exporter takes it. @internal */
export type OtelReadableSpan = Parameters<OTLPTraceExporter['export']>[0][number];

/** `ExportResultCode.SUCCESS` of `@opentelemetry/core`. */
const SUCCESS = 0;

function legacyConfig(options: CheckedHttpOptions): {
  url?: string;
  headers: Record<string, string>;
  timeoutMillis: number;
} {
  return {
    ...(options.url === undefined ? {} : { url: options.url }),
    headers: { ...options.headers },
    timeoutMillis: options.timeoutMillis,
  };
}

/** The OpenTelemetry metric exporter for the options. @internal */
export function createMetricSender(options: CheckedHttpOptions): OtelSender<OtelResourceMetrics> {
  const config = {
    ...legacyConfig(options),
    temporalityPreference: AggregationTemporalityPreference.CUMULATIVE,
  };
  if (options.protocol === 'json') return new OTLPMetricExporter(config);
  // What @opentelemetry/exporter-metrics-otlp-proto does, from the packages at hand.
  return new OTLPMetricExporterBase(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions(config, 'METRICS', 'v1/metrics', {
        'Content-Type': 'application/x-protobuf',
      }),
      ProtobufMetricsSerializer,
      'otlp_http_metric_exporter',
      MetricsExporterMetricsHelper,
      undefined,
    ),
    config,
  );
}

/** The OpenTelemetry trace exporter for the options. @internal */
export function createTraceSender(options: CheckedHttpOptions): OtelSender<OtelReadableSpan[]> {
  const config = legacyConfig(options);
  if (options.protocol === 'json') return new OTLPTraceExporter(config);
  // What @opentelemetry/exporter-trace-otlp-proto does, from the packages at hand.
  return new OTLPExporterBase<OtelReadableSpan[]>(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', {
        'Content-Type': 'application/x-protobuf',
      }),
      ProtobufTraceSerializer,
      'otlp_http_span_exporter',
      TraceExporterMetricsHelper,
      undefined,
    ),
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause: unknown = error.cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return 'unknown error';
}

/**
 * Our result for an OpenTelemetry exporter's: the HTTP exporter reports a status it
 * will not retry (400, 401, 404...) as an error whose `code` is that status; every
 * other failure (429, 502, 503, 504 after its own retries, a connection error, a
 * timeout, its concurrency limit) may succeed later. @internal
 */
export function toExportResult(name: string, result: OtelExportResult): ExportResult {
  const code: number = result.code;
  if (code === SUCCESS) return { ok: true };
  const error = result.error;
  const status: unknown = error === undefined ? undefined : (error as { code?: unknown }).code;
  if (typeof status === 'number') {
    const data: unknown = (error as { data?: unknown }).data;
    const snippet = typeof data === 'string' ? data.replace(/\s+/g, ' ').trim().slice(0, 200) : '';
    return {
      ok: false,
      retryable: false,
      error: `${name}: HTTP ${status}${snippet === '' ? '' : `: ${snippet}`}`,
    };
  }
  return {
    ok: false,
    retryable: true,
    error: `${name}: ${error === undefined ? 'export failed' : describe(error)}`,
  };
}

/**
 * Hands `data` to the OpenTelemetry exporter and resolves with our result, or at
 * once when `signal` aborts (the request itself then ends by the exporter's
 * `timeoutMillis`: its API has no cancellation). Never rejects. @internal
 */
export function sendWith<T>(
  name: string,
  sender: OtelSender<T>,
  data: T,
  signal: AbortSignal,
): Promise<ExportResult> {
  const aborted: ExportResult = {
    ok: false,
    retryable: true,
    error: `${name}: aborted (timeout or shutdown)`,
  };
  if (signal.aborted) return Promise.resolve(aborted);
  return new Promise<ExportResult>((resolve) => {
    const onAbort = (): void => resolve(aborted);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      sender.export(data, (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(toExportResult(name, result));
      });
    } catch (error) {
      signal.removeEventListener('abort', onAbort);
      resolve({ ok: false, retryable: true, error: `${name}: ${describe(error)}` });
    }
  });
}
