/**
 * monitoring/: what the monitor saw, over HTTP. May import @nestjs/* and @prsm/core;
 * never ../marketplace (it reads metrics, not the domain).
 *
 * This file: `GET /monitoring/summary` (latency percentiles and error rate of every
 * decorated operation) and `GET /monitoring/traces/:traceId` (one trace in the spec's
 * shape).
 */
import {
  BadRequestException,
  Controller,
  DefaultValuePipe,
  Get,
  Inject,
  NotFoundException,
  Param,
  ParseIntPipe,
  Query,
} from '@nestjs/common';
import type { Monitor, TraceRecord } from '@prsm/core';

/** The injection token of the application's {@link Monitor}. */
export const MONITOR = Symbol('MONITOR');

/** One decorated operation over the window. Durations in milliseconds. */
export interface OperationSummary {
  readonly component: string;
  readonly operation: string;
  readonly calls: number;
  readonly errors: number;
  readonly error_rate: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly p99_ms: number;
  /** Failed calls by `error.type`, since the operation was first called. */
  readonly errors_by_type: Readonly<Record<string, number>>;
}

/** The body of `GET /monitoring/summary`. */
export interface MonitoringSummary {
  readonly window_seconds: number;
  readonly operations: readonly OperationSummary[];
}

// What @prsm/decorators records for each decorated method.
const DURATION = 'operation.duration';
const ERRORS = 'operation.errors';

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Reads the monitor. Not behind the API key: put it behind your own auth in production. */
@Controller('monitoring')
export class MonitoringController {
  constructor(@Inject(MONITOR) private readonly monitor: Monitor) {}

  /** Every operation's p50/p95/p99 and error rate over `?window=` seconds (default 300). */
  @Get('summary')
  summary(
    @Query('window', new DefaultValuePipe(300), ParseIntPipe) window: number,
  ): MonitoringSummary {
    if (!this.monitor.windows.includes(window)) {
      throw new BadRequestException(`window must be one of ${this.monitor.windows.join(', ')}`);
    }
    const series = this.monitor.snapshot().series;
    const operations: OperationSummary[] = [];
    for (const s of series) {
      if (s.name !== DURATION || s.type !== 'timer') continue;
      const operation = s.tags.operation ?? '';
      const query = { component: s.component, tags: s.tags, windowSeconds: window };
      const [p50 = NaN, p95 = NaN, p99 = NaN] = this.monitor.getPercentiles(
        DURATION,
        [0.5, 0.95, 0.99],
        query,
      );
      const rates = this.monitor.getRates(DURATION, query);
      const errorsByType: Record<string, number> = {};
      for (const e of series) {
        if (e.name !== ERRORS || e.type !== 'counter' || e.component !== s.component) continue;
        const type = e.tags['error.type'];
        if (e.tags.operation === operation && type !== undefined) errorsByType[type] = e.total;
      }
      operations.push({
        component: s.component,
        operation,
        calls: rates?.count ?? 0,
        errors: rates?.errors ?? 0,
        error_rate: round(rates?.errorRate ?? 0),
        p50_ms: round(p50),
        p95_ms: round(p95),
        p99_ms: round(p99),
        errors_by_type: errorsByType,
      });
    }
    operations.sort(
      (a, b) => a.component.localeCompare(b.component) || a.operation.localeCompare(b.operation),
    );
    return { window_seconds: window, operations };
  }

  /** One trace in the spec's shape; 404 once the trace store has let it go. */
  @Get('traces/:traceId')
  trace(@Param('traceId') traceId: string): TraceRecord {
    const record = this.monitor.getTrace(traceId);
    if (record === undefined) throw new NotFoundException(`no trace ${traceId}`);
    return record;
  }
}
