/**
 * An `AuditSink` that keeps the audit log in a local sink (the chain's source of
 * truth for `head()`, `read()` and `verify()`) and ships every stored record, as
 * sealed, to a PRSM monitoring server's `POST /api/v1/monitoring/audit` through an
 * export pipeline (bounded queue, batches in order, retries, a batch id kept across
 * retries). Imports `@prsm/core` and the REST transport.
 */
import {
  type AuditRecord,
  type AuditSink,
  type AuditSinkContext,
  type AuditSinkStats,
  type ChainAnchor,
  Diagnostics,
  type ExportBatch,
  ExportPipeline,
  type ExportPipelineOptions,
  type ExportPipelineStats,
  MemoryAuditSink,
} from '@prsm/core';

import { optionError, RawJson, type RestConnectionOptions, restTransport } from './transport.js';

/**
 * The path the audit sink POSTs to, under the configured `url`.
 *
 * @example
 * ```ts
 * app.post(REST_AUDIT_PATH, handleAudit); // '/api/v1/monitoring/audit'
 * ```
 */
export const REST_AUDIT_PATH = '/api/v1/monitoring/audit';

/**
 * The body {@link restAuditSink} POSTs: the records of one source's chain, as the
 * local sink sealed them (spec fields plus `seq`, `prev_hash`, `hash`), in `seq`
 * order. The server recomputes each hash and refuses a record that does not match.
 *
 * @example
 * ```ts
 * const body = JSON.parse(text) as RestAuditBatchBody;
 * console.log(body.source, body.entries.length, body.entries[0]?.seq);
 * ```
 */
export interface RestAuditBatchBody {
  /** The batch's id, kept across retries. */
  readonly batch_id: string;
  /** The chain the records belong to (one per audit log). */
  readonly source: string;
  /** When this attempt was made, ISO 8601 in UTC. */
  readonly sent_at: string;
  /** The records, in `seq` order. */
  readonly entries: readonly AuditRecord[];
}

/**
 * Options of {@link restAuditSink}: the connection, the chain's name on the server,
 * the local sink and the pipeline. A bad value throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: RestAuditSinkOptions = {
 *   url: 'https://monitoring.prsm.example',
 *   apiKey: process.env.PRSM_AUDIT_KEY,
 *   source: 'checkout-eu-1',
 *   local: new JsonlFileSink({ path: '/var/log/checkout/audit.jsonl' }),
 * };
 * ```
 */
export interface RestAuditSinkOptions extends RestConnectionOptions {
  /**
   * The chain's name on the server: one per audit log (a service instance with its
   * own local file). Two logs sending under one name conflict (409). Default
   * `'default'`.
   */
  readonly source?: string;
  /**
   * Where the log is kept locally: the chain continues from its `head()`, and
   * `monitor.audit.verify()` reads it. Default a bounded `MemoryAuditSink`.
   */
  readonly local?: AuditSink;
  /** How often queued records leave (ms). Default 5000; 0: only when a batch fills or on flush. */
  readonly exportIntervalMs?: number;
  /**
   * The queue and retries. Batches are sent one at a time (`maxConcurrency` 1) so the
   * server receives the chain in order.
   */
  readonly pipeline?: Omit<
    ExportPipelineOptions<string>,
    'exportIntervalMs' | 'sizeOf' | 'maxConcurrency'
  >;
  /** How long `flush()` and `close()` wait for the server (ms). Default 10 000. */
  readonly flushTimeoutMs?: number;
}

/** Diagnostics that go to the audit log's once the sink is attached. */
class ForwardingDiagnostics extends Diagnostics {
  target: Diagnostics | undefined;

  override report(
    code: Parameters<Diagnostics['report']>[0],
    message: string,
    context?: Record<string, unknown>,
  ): void {
    if (this.target === undefined) super.report(code, message, context);
    else this.target.report(code, message, context);
  }

  override error(
    code: Parameters<Diagnostics['error']>[0],
    error: unknown,
    context?: Record<string, unknown>,
  ): void {
    if (this.target === undefined) super.error(code, error, context);
    else this.target.error(code, error, context);
  }
}

/**
 * An {@link AuditSink} with a server copy: {@link RestAuditSinkOptions.local} keeps
 * the log (the chain continues from it and `verify()` reads it), and every record
 * the local sink accepts is also queued, exactly as sealed, for
 * `POST ${url}/api/v1/monitoring/audit` (a {@link RestAuditBatchBody}, gzipped, with
 * the API key; a retried batch keeps its id). Both copies verify on their own: the
 * local one with `monitor.audit.verify()`, the server's with `GET /audit/verify`.
 * A server that is down delays the copy (retries with backoff); a full queue or a
 * batch that fails for good drops records from the server copy only (counted in
 * `pipelineStats()` and reported to diagnostics), which `GET /audit/verify` then
 * reports as `removed`. Never throws after construction.
 *
 * @example
 * ```ts
 * import { JsonlFileSink, Monitor } from '@prsm/core';
 * import { restAuditSink } from '@prsm/exporters/rest';
 *
 * const monitor = new Monitor({
 *   audit: {
 *     sink: restAuditSink({
 *       url: 'https://monitoring.prsm.example',
 *       apiKey: process.env.PRSM_INGEST_KEY,
 *       source: 'checkout-eu-1',
 *       local: new JsonlFileSink({ path: './audit.jsonl' }),
 *     }),
 *   },
 * });
 * ```
 */
export function restAuditSink(options: RestAuditSinkOptions): AuditSink & {
  /** The server copy's pipeline counters (queued, exported, dropped by reason). */
  pipelineStats(): ExportPipelineStats;
} {
  const factory = 'restAuditSink';
  const transport = restTransport(factory, options);
  const source = options.source ?? 'default';
  if (typeof source !== 'string' || source === '' || source.length > 200) {
    throw optionError(factory, 'source', 'must be a non-empty string of at most 200 characters');
  }
  const local: unknown = options.local ?? new MemoryAuditSink();
  if (
    local === null ||
    typeof local !== 'object' ||
    typeof (local as AuditSink).append !== 'function' ||
    typeof (local as AuditSink).head !== 'function' ||
    typeof (local as AuditSink).read !== 'function'
  ) {
    throw optionError(factory, 'local', 'must be an AuditSink');
  }
  const inner = local as AuditSink;
  const flushTimeoutMs = options.flushTimeoutMs ?? 10_000;
  if (typeof flushTimeoutMs !== 'number' || !(flushTimeoutMs >= 0)) {
    throw optionError(factory, 'flushTimeoutMs', 'must be a number of milliseconds >= 0');
  }
  const pipelineOptions: unknown = options.pipeline ?? {};
  if (pipelineOptions === null || typeof pipelineOptions !== 'object') {
    throw optionError(factory, 'pipeline', 'must be an object of pipeline options');
  }
  const maxBatch = (pipelineOptions as { maxBatchItems?: unknown }).maxBatchItems;
  if (maxBatch !== undefined && (typeof maxBatch !== 'number' || maxBatch > 1000)) {
    throw optionError(factory, 'pipeline.maxBatchItems', 'must be at most 1000');
  }
  // Reports go to the log's diagnostics once attached (see attach).
  const forward = new ForwardingDiagnostics();
  let pipeline: ExportPipeline<string>;
  try {
    pipeline = new ExportPipeline<string>(
      {
        name: 'rest.audit',
        export: (batch: ExportBatch<string>, signal: AbortSignal) => {
          // A RestAuditBatchBody: the sealed lines are JSON already, sent as they are.
          const head = JSON.stringify({
            batch_id: batch.id,
            source,
            sent_at: new Date(transport.now()).toISOString(),
          });
          const json = `${head.slice(0, -1)},"entries":[${batch.items.join(',')}]}`;
          return transport.post(REST_AUDIT_PATH, new RawJson(json), batch.id, signal);
        },
        shutdown: () => Promise.resolve(),
      },
      {
        ...(pipelineOptions as RestAuditSinkOptions['pipeline']),
        exportIntervalMs: options.exportIntervalMs ?? 5000,
        maxConcurrency: 1,
        sizeOf: (line) => line.length,
      },
      forward,
    );
  } catch (error) {
    throw optionError(
      factory,
      'pipeline',
      `is invalid: ${error instanceof Error ? error.message : 'unknown'}`,
    );
  }

  return {
    name: `rest(${inner.name})`,
    attach(context: AuditSinkContext): void {
      forward.target = context.diagnostics;
      inner.attach?.(context);
    },
    head(): AuditRecord | undefined {
      return inner.head();
    },
    append(line: string): boolean {
      if (!inner.append(line)) return false;
      pipeline.enqueue([line]);
      return true;
    },
    async flush(): Promise<void> {
      await inner.flush();
      await pipeline.forceFlush(flushTimeoutMs);
    },
    read(): Iterable<string> {
      return inner.read();
    },
    anchor(): ChainAnchor | undefined {
      return inner.anchor?.();
    },
    removeBefore(seq: number): Promise<number> {
      // Local retention only: the server keeps its copy (its own retention applies).
      return inner.removeBefore(seq);
    },
    async close(): Promise<void> {
      await inner.close();
      await pipeline.shutdown(flushTimeoutMs);
    },
    stats(): AuditSinkStats {
      return inner.stats();
    },
    pipelineStats(): ExportPipelineStats {
      return pipeline.stats();
    },
  };
}
