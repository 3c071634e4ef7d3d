/**
 * runtime/: what runs on each call of a decorated function (timing, metrics, spans,
 * thenable and iterator observation), and the bookkeeping decorators share. May import
 * @prsm/core, @opentelemetry/api and ../options, ../version; never the decorators.
 */
import { type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import { VERSION } from '../version.js';

/** The instrumentation scope name of every span this package starts. */
export const TRACER_NAME = '@prsm/decorators';

/** The API's proxy provider (the global one), by duck type: another copy of the API may own it. */
interface DelegatingProvider {
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

let cachedProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;
let proxy: DelegatingProvider | undefined;

/**
 * The tracer of the global provider, or undefined while none is registered (the
 * API's tracer would only start no-op spans: nothing to record, nothing to
 * propagate, so no span is started at all).
 *
 * `trace.getTracer()` on every call would cost a map lookup with a string key in the
 * SDK; a tracer fetched once would outlive `trace.disable()` and a new registration.
 * The API keeps one proxy provider object until `disable()`, so its identity tells
 * when to look again, and its delegate tells whether a provider is registered.
 */
export function currentTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider !== cachedProvider) {
    cachedProvider = provider;
    cachedTracer = undefined;
    proxy = undefined;
    if (typeof (provider as Partial<DelegatingProvider>).getDelegateTracer === 'function') {
      proxy = provider as unknown as DelegatingProvider;
    } else {
      cachedTracer = provider.getTracer(TRACER_NAME, VERSION);
    }
  }
  if (cachedTracer === undefined && proxy !== undefined) {
    cachedTracer = proxy.getDelegateTracer(TRACER_NAME, VERSION);
  }
  return cachedTracer;
}
