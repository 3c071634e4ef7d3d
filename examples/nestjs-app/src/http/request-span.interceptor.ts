/**
 * One span per request, the root of the request's trace: the spans of the decorated
 * controller method and of everything it calls nest under it. Any OpenTelemetry code
 * can open the root (an HTTP instrumentation, a gateway's propagated context); the
 * decorators only join the active context.
 *
 * The response carries the trace id in `x-trace-id` (look it up at
 * `GET /monitoring/traces/:traceId`) and the operation the handler is recorded as in
 * `x-prsm-operation`, read from the metadata @prsm/decorators stores on the method.
 */
import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { MONITOR_PERFORMANCE_METADATA, type MonitorPerformanceMetadata } from '@prsm/decorators';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finalize, type Observable } from 'rxjs';

/** Express sets `route` on the request once a route matched. */
type RoutedRequest = IncomingMessage & { readonly route?: { readonly path?: unknown } };

/** Runs each request's handler inside a `SERVER` span named `METHOD /route/:template`. */
@Injectable()
export class RequestSpanInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(executionContext: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = executionContext.switchToHttp();
    const request = http.getRequest<RoutedRequest>();
    const response = http.getResponse<ServerResponse>();
    const method = request.method ?? 'GET';
    // The route template, never the raw URL: span names must stay low-cardinality.
    const route = typeof request.route?.path === 'string' ? request.route.path : 'unmatched';
    const span = trace.getTracer('@prsm/example-nestjs-app').startSpan(`${method} ${route}`, {
      kind: SpanKind.SERVER,
      attributes: { 'prsm.component': 'http', 'http.request.method': method, 'http.route': route },
    });
    response.setHeader('x-trace-id', span.spanContext().traceId);
    const meta = this.reflector.get<MonitorPerformanceMetadata | undefined>(
      MONITOR_PERFORMANCE_METADATA,
      executionContext.getHandler(),
    );
    if (meta !== undefined) response.setHeader('x-prsm-operation', meta.operation);
    // Nest binds the handler's call to the async context in which `handle()` is
    // called, so calling it inside the span's context is what makes the span active
    // in the handler, across every `await` below it.
    const handled = context.with(trace.setSpan(context.active(), span), () => next.handle());
    // The handler's observable completes (or fails) before Nest writes the response:
    // the trace is whole by the time a client reads it.
    return handled.pipe(finalize(() => span.end()));
  }
}
