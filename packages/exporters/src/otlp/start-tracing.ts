/**
 * `startTracing`: the OpenTelemetry Node tracer provider registered with the
 * monitor's span processor (spans into `monitor.traces`) and a batch span processor
 * over the OTLP trace exporter (spans to a collector), under the monitor's resource.
 * Imports the OpenTelemetry API, the Node trace SDK, resources and exporters, and
 * `@prsm/core` types.
 */
import {
  type Context,
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  trace,
} from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type ReadableSpan,
  type Sampler,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import type { Monitor } from '@prsm/core';

import { checkHttpOptions, createTraceSender, optionError, type OtlpHttpOptions } from './http.js';

/**
 * Options of {@link startTracing}. Every option is checked: a mistake throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: StartTracingOptions = {
 *   monitor,
 *   otlp: { url: 'http://otel-collector:4318/v1/traces', protocol: 'protobuf' },
 *   sampler: new TraceIdRatioBasedSampler(0.1),
 * };
 * ```
 */
export interface StartTracingOptions {
  /** The monitor whose `spanProcessor` gets every span and whose `resource` they carry. */
  readonly monitor: Pick<Monitor, 'resource' | 'spanProcessor'>;
  /** The OTLP trace endpoint (its `url` is the full `.../v1/traces` URL). */
  readonly otlp: OtlpHttpOptions;
  /** Replaces the resource's `service.name`. Default: the monitor's. */
  readonly serviceName?: string;
  /** Which traces to record. Default: OpenTelemetry's (`OTEL_TRACES_SAMPLER`, else parent-based always-on). */
  readonly sampler?: Sampler;
}

/**
 * What {@link startTracing} started.
 *
 * @example
 * ```ts
 * const tracing: Tracing = startTracing({ monitor, otlp: { url } });
 * process.on('SIGTERM', () => void tracing.shutdown());
 * ```
 */
export interface Tracing {
  /** The registered provider. */
  readonly provider: NodeTracerProvider;
  /** Sends the spans the batch processor holds. Never rejects. */
  forceFlush(): Promise<void>;
  /**
   * Sends what is held, shuts the provider down and unregisters the globals it
   * registered (tracer provider, context manager, propagator). The monitor's span
   * processor stays the monitor's: `monitor.shutdown()` stops it. Idempotent; never
   * rejects.
   */
  shutdown(): Promise<void>;
}

const FACTORY = 'startTracing';

/** Whether a global tracer provider is registered (the API's proxy then has a delegate). */
function tracerProviderRegistered(): boolean {
  const global: unknown = trace.getTracerProvider();
  const proxy = global as { getDelegateTracer?: (name: string) => unknown };
  return typeof proxy.getDelegateTracer === 'function'
    ? proxy.getDelegateTracer(FACTORY) !== undefined
    : true;
}

/** Whether `provider` is the global tracer provider's delegate. */
function isRegistered(provider: NodeTracerProvider): boolean {
  const global: unknown = trace.getTracerProvider();
  const proxy = global as { getDelegate?: () => unknown };
  return typeof proxy.getDelegate === 'function' && proxy.getDelegate() === provider;
}

/** Whether a global context manager is registered: the no-op one keeps no context. */
function contextManagerRegistered(): boolean {
  const key = createContextKey('prsm.startTracing.probe');
  const marked: Context = ROOT_CONTEXT.setValue(key, true);
  return context.with(marked, () => context.active().getValue(key) === true);
}

/**
 * Starts OpenTelemetry tracing for a monitored service: registers a
 * `NodeTracerProvider` (with an AsyncLocalStorage context manager and the W3C
 * propagators, unless some are registered already) whose spans go to the monitor's
 * span processor (so `monitor.traces` and `monitor.getTrace()` see them) and, through
 * a `BatchSpanProcessor`, to the OTLP trace exporter, with the monitor's resource.
 * Call it before the code that creates spans; `shutdown()` before the process ends.
 *
 * Do not combine it with `new Monitor({ tracing: true })`: that registers the
 * monitor's own minimal provider, which would keep every span from reaching this
 * one, so `startTracing` throws a `TypeError` when any global tracer provider is
 * already registered. Nor add {@link otlpTraceExporter} to the same monitor: spans
 * would go out twice.
 *
 * @example
 * ```ts
 * import { trace } from '@opentelemetry/api';
 * import { Monitor } from '@prsm/core';
 * import { startTracing } from '@prsm/exporters/otlp';
 *
 * const monitor = new Monitor({ serviceName: 'checkout' });
 * const tracing = startTracing({
 *   monitor,
 *   otlp: { url: 'http://otel-collector:4318/v1/traces', headers: { 'x-api-key': key } },
 * });
 * await trace.getTracer('checkout').startActiveSpan('charge', async (span) => {
 *   // ...
 *   span.end();
 * });
 * await tracing.shutdown();
 * ```
 */
export function startTracing(options: StartTracingOptions): Tracing {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${FACTORY}: options must be an object`);
  }
  const monitor: unknown = options.monitor;
  const candidate = monitor as Partial<StartTracingOptions['monitor']> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.spanProcessor?.onEnd !== 'function' ||
    candidate.resource === null ||
    typeof candidate.resource !== 'object'
  ) {
    throw optionError(FACTORY, 'options.monitor', 'must be a Monitor of @prsm/core');
  }
  const otlp: unknown = options.otlp;
  if (otlp === null || typeof otlp !== 'object' || Array.isArray(otlp)) {
    throw optionError(FACTORY, 'options.otlp', 'must be an object ({ url, headers, protocol })');
  }
  const connection = checkHttpOptions(FACTORY, 'options.otlp', otlp);
  const serviceName: unknown = options.serviceName;
  if (
    serviceName !== undefined &&
    (typeof serviceName !== 'string' || serviceName === '' || serviceName.length > 255)
  ) {
    throw optionError(
      FACTORY,
      'options.serviceName',
      'must be a non-empty string of at most 255 characters',
    );
  }
  const sampler: unknown = options.sampler;
  if (
    sampler !== undefined &&
    (sampler === null ||
      typeof sampler !== 'object' ||
      typeof (sampler as Partial<Sampler>).shouldSample !== 'function')
  ) {
    throw optionError(FACTORY, 'options.sampler', 'must be an OpenTelemetry Sampler');
  }
  if (tracerProviderRegistered()) {
    throw new TypeError(
      `${FACTORY}: a global tracer provider is already registered (new Monitor({ tracing: true }) registers one): ` +
        'leave tracing off on the monitor, or call trace.disable() first',
    );
  }

  const { spanProcessor } = candidate as StartTracingOptions['monitor'];
  // The monitor owns its processor: the provider's shutdown must not stop it.
  const toMonitor: SpanProcessor = {
    onStart: (_span: Span, _parent: Context): void => {},
    onEnd: (span: ReadableSpan): void => spanProcessor.onEnd(span),
    forceFlush: () => spanProcessor.forceFlush(),
    shutdown: () => Promise.resolve(),
  };
  const resource = resourceFromAttributes({
    ...candidate.resource,
    ...(serviceName === undefined ? {} : { 'service.name': serviceName }),
  });
  const provider = new NodeTracerProvider({
    resource,
    ...(sampler === undefined ? {} : { sampler: sampler as Sampler }),
    spanProcessors: [toMonitor, new BatchSpanProcessor(createTraceSender(connection))],
  });
  const ownContext = !contextManagerRegistered();
  const ownPropagator = propagation.fields().length === 0;
  provider.register({
    ...(ownContext ? {} : { contextManager: null }),
    ...(ownPropagator ? {} : { propagator: null }),
  });
  if (!isRegistered(provider)) {
    // The API refused it (another @opentelemetry/api version registered first, say).
    void provider.shutdown().catch(() => undefined);
    throw new TypeError(
      `${FACTORY}: could not register the tracer provider (see OpenTelemetry's diag log)`,
    );
  }

  let stopped: Promise<void> | undefined;
  return {
    provider,
    async forceFlush(): Promise<void> {
      try {
        await provider.forceFlush();
      } catch {
        // Export failures are the exporter's to report (OpenTelemetry's diag logger).
      }
    },
    shutdown(): Promise<void> {
      stopped ??= (async () => {
        try {
          await provider.shutdown();
        } catch {
          // As forceFlush.
        }
        if (isRegistered(provider)) trace.disable();
        if (ownContext) context.disable();
        if (ownPropagator) propagation.disable();
      })();
      return stopped;
    },
  };
}
