/**
 * export/: the export pipeline between the monitor and its exporters. Items (series
 * snapshots, spans, alert events...) wait in a bounded queue; batches leave on an
 * interval or when a batch fills, each with an id that stays the same across its
 * retries, so a receiver can drop a duplicate. A failed batch is retried with
 * exponential backoff and full jitter, or after the receiver's `Retry-After`, within
 * a per-request timeout and a number of attempts; a limited number of batches are in
 * flight at once. Nothing here throws into the caller; every drop is counted.
 */
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';
import { settleWithin } from '../clock/deadline.js';

/**
 * One batch handed to an exporter. `id` is the same for every attempt at the same
 * batch: receivers use it to drop duplicates of a retried batch.
 *
 * @example
 * ```ts
 * const exporter: Exporter<string> = {
 *   async export(batch) {
 *     await fetch(url, { method: 'POST', headers: { 'Idempotency-Key': batch.id }, body: JSON.stringify(batch.items) });
 *     return { ok: true };
 *   },
 *   async shutdown() {},
 * };
 * ```
 */
export interface ExportBatch<T> {
  /** Unique per batch, kept across retries. */
  readonly id: string;
  /** The items, oldest first. */
  readonly items: readonly T[];
  /** 1 for the first attempt, 2 for the first retry... */
  readonly attempt: number;
}

/**
 * What an exporter reports for one attempt. `retryable: false` (a 400, say) drops the
 * batch at once; `retryAfterMs` (from a `Retry-After` header) sets the next wait.
 *
 * @example
 * ```ts
 * if (response.status === 429) {
 *   return { ok: false, retryable: true, retryAfterMs: Number(response.headers.get('retry-after')) * 1000 };
 * }
 * ```
 */
export interface ExportResult {
  /** Whether the receiver took the batch. */
  readonly ok: boolean;
  /** For a failure: whether another attempt may succeed. Default true. */
  readonly retryable?: boolean;
  /** For a failure: how long the receiver asked to wait. */
  readonly retryAfterMs?: number;
  /** For a failure: why, for logs. */
  readonly error?: string;
}

/**
 * An exporter: sends one batch per call. It should honour `signal` (aborted when the
 * attempt times out or the pipeline shuts down); a throw or rejection counts as a
 * retryable failure.
 *
 * @example
 * ```ts
 * const consoleExporter: Exporter<unknown> = {
 *   async export(batch) {
 *     console.log(batch.id, batch.items.length);
 *     return { ok: true };
 *   },
 *   async shutdown() {},
 * };
 * ```
 */
export interface Exporter<T> {
  /** A name for metrics and logs. */
  readonly name?: string;
  /** Sends one batch. */
  export(batch: ExportBatch<T>, signal: AbortSignal): Promise<ExportResult>;
  /** Called by `forceFlush()` after the queue is delivered. */
  forceFlush?(): Promise<void>;
  /** Releases resources; called once by the pipeline's `shutdown()`. */
  shutdown(): Promise<void>;
  /**
   * Called once by the `Monitor` that adopts the exporter (`new Monitor({ exporters })`),
   * before any batch, with what the exporter may need to know about its source: the
   * service's resource attributes, for instance. A throw here is reported and ignored.
   */
  attach?(host: ExporterHost): void;
  /**
   * What the exporter reads from the series snapshots a `Monitor` hands it, so that
   * the monitor computes nothing no exporter reads. Default: every window's quantiles
   * and digests, no sub-windows.
   */
  readonly needs?: ExportNeeds;
}

/**
 * What an exporter reads from each series snapshot (see {@link Exporter.needs}); the
 * monitor takes the union over its exporters.
 *
 * @example
 * ```ts
 * // Sends each closed sub-window's digest, never the windows' quantiles.
 * const needs: ExportNeeds = { windowQuantiles: false, digests: false, subWindows: true };
 * ```
 */
export interface ExportNeeds {
  /**
   * Each configured window (quantiles of histograms and timers, rates of counters)
   * and the cumulative quantiles. Default true.
   */
  readonly windowQuantiles?: boolean;
  /** The merged digest of each window and of the cumulative distribution. Default true. */
  readonly digests?: boolean;
  /**
   * Each histogram's sub-windows closed since the previous export, and at shutdown the
   * open one too: every sub-window exactly once, for receivers that store mergeable
   * digests per minute. Default false.
   */
  readonly subWindows?: boolean;
}

/**
 * What a {@link Monitor} tells an exporter it adopts (see {@link Exporter.attach}).
 *
 * @example
 * ```ts
 * const exporter: Exporter<ExportItem> = {
 *   attach(host) {
 *     console.log('exporting for', host.resource['service.name']);
 *   },
 *   async export() {
 *     return { ok: true };
 *   },
 *   async shutdown() {},
 * };
 * ```
 */
export interface ExporterHost {
  /**
   * The service's resource attributes, OpenTelemetry style: `service.name` always,
   * plus the monitor's `resourceAttributes`.
   */
  readonly resource: Readonly<Record<string, string | number | boolean>>;
}

/**
 * Options of an {@link ExportPipeline}. Every option is checked: a bad value throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: ExportPipelineOptions<string> = {
 *   exportIntervalMs: 10_000,
 *   maxBatchItems: 512,
 *   maxQueueItems: 10_000,
 *   maxQueueBytes: 16 * 1024 * 1024,
 *   sizeOf: (item) => item.length,
 * };
 * ```
 */
export interface ExportPipelineOptions<T> {
  /** How often a batch leaves even when not full (ms). Default 10 000; 0: only when full or flushed. */
  readonly exportIntervalMs?: number;
  /** Items per batch. Default 512. */
  readonly maxBatchItems?: number;
  /** Items waiting at most; beyond, new items are dropped (counted). Default 10 000. */
  readonly maxQueueItems?: number;
  /** Bytes waiting at most (by `sizeOf`); beyond, new items are dropped. Default 16 MiB. */
  readonly maxQueueBytes?: number;
  /** The size of an item in bytes, for `maxQueueBytes`. Default 256 for every item. */
  readonly sizeOf?: (item: T) => number;
  /** Per-attempt timeout (ms). Default 10 000. */
  readonly timeoutMs?: number;
  /** Batches in flight at once. Default 2. */
  readonly maxConcurrency?: number;
  /** Attempts per batch, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Upper bound of the first backoff (ms), doubling per retry, full jitter. Default 1000. */
  readonly initialBackoffMs?: number;
  /** Largest backoff (and largest honoured `Retry-After`) (ms). Default 60 000. */
  readonly maxBackoffMs?: number;
  /** How to wait (tests inject one that moves a ManualClock). Default an unref'd timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

/**
 * Counters of one pipeline, since it started.
 *
 * @example
 * ```ts
 * const { dropped } = pipeline.stats();
 * if (dropped.queueFull > 0) console.warn('export queue overflowed');
 * ```
 */
export interface ExportPipelineStats {
  /** Items accepted into the queue. */
  readonly enqueued: number;
  /** Items the exporter took. */
  readonly exported: number;
  /** Items dropped, by reason. */
  readonly dropped: {
    /** The queue was full (items or bytes). */
    readonly queueFull: number;
    /** Their batch failed for good (not retryable, or out of attempts). */
    readonly failed: number;
    /** Still queued or in flight when shutdown's deadline passed, or enqueued after shutdown. */
    readonly shutdown: number;
  };
  /** Batches sent (first attempts). */
  readonly batches: number;
  /** Retries made. */
  readonly retries: number;
  /** Items waiting now. */
  readonly queued: number;
  /** Bytes waiting now. */
  readonly queuedBytes: number;
  /** Batches in flight now. */
  readonly inFlight: number;
}

interface Pending<T> {
  readonly item: T;
  readonly bytes: number;
}

function positive(value: unknown, name: string, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0)
  ) {
    throw new TypeError(
      `${name} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  return value;
}

function integer(value: unknown, name: string, fallback: number): number {
  const n = positive(value, name, fallback);
  if (!Number.isInteger(n)) throw new TypeError(`${name} must be an integer, got ${n}`);
  return n;
}

const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * A bounded queue in front of one exporter, with batching, retries and a deadline on
 * flush and shutdown. Drop policy: when the queue is full (in items or bytes), the
 * new item is dropped (what waited longest goes first), counted in
 * `stats().dropped.queueFull` and as `PRSM_EXPORT_DROPPED`.
 *
 * @example
 * ```ts
 * const pipeline = new ExportPipeline(restExporter, { exportIntervalMs: 5000 }, monitor.diagnostics);
 * pipeline.enqueue(items);
 * await pipeline.forceFlush(10_000); // everything queued is delivered, or the deadline passed
 * await pipeline.shutdown(10_000);
 * ```
 */
export class ExportPipeline<T> {
  readonly #exporter: Exporter<T>;
  readonly #diagnostics: Diagnostics;
  readonly #intervalMs: number;
  readonly #maxBatchItems: number;
  readonly #maxQueueItems: number;
  readonly #maxQueueBytes: number;
  readonly #sizeOf: (item: T) => number;
  readonly #timeoutMs: number;
  readonly #maxConcurrency: number;
  readonly #maxAttempts: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #queue: Pending<T>[] = [];
  #queueStart = 0;
  #queuedBytes = 0;
  #inFlight = 0;
  readonly #running = new Set<Promise<void>>();
  readonly #aborts = new Set<AbortController>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #shutdown: Promise<void> | undefined;
  #enqueued = 0;
  #exported = 0;
  #droppedFull = 0;
  #droppedFailed = 0;
  #droppedShutdown = 0;
  #batches = 0;
  #retries = 0;

  constructor(
    exporter: Exporter<T>,
    options: ExportPipelineOptions<T> = {},
    diagnostics: Diagnostics,
  ) {
    if (
      exporter === null ||
      typeof exporter !== 'object' ||
      typeof exporter.export !== 'function' ||
      typeof exporter.shutdown !== 'function'
    ) {
      throw new TypeError('an exporter must have export() and shutdown()');
    }
    this.#exporter = exporter;
    this.#diagnostics = diagnostics;
    this.#intervalMs = positive(options.exportIntervalMs, 'exportIntervalMs', 10_000, true);
    this.#maxBatchItems = integer(options.maxBatchItems, 'maxBatchItems', 512);
    this.#maxQueueItems = integer(options.maxQueueItems, 'maxQueueItems', 10_000);
    this.#maxQueueBytes = positive(options.maxQueueBytes, 'maxQueueBytes', 16 * 1024 * 1024);
    if (options.sizeOf !== undefined && typeof options.sizeOf !== 'function') {
      throw new TypeError('sizeOf must be a function');
    }
    this.#sizeOf = options.sizeOf ?? ((): number => 256);
    this.#timeoutMs = positive(options.timeoutMs, 'timeoutMs', 10_000);
    this.#maxConcurrency = integer(options.maxConcurrency, 'maxConcurrency', 2);
    this.#maxAttempts = integer(options.maxAttempts, 'maxAttempts', 5);
    this.#initialBackoffMs = positive(options.initialBackoffMs, 'initialBackoffMs', 1000);
    this.#maxBackoffMs = positive(options.maxBackoffMs, 'maxBackoffMs', 60_000);
    this.#sleep = options.sleep ?? realSleep;
    this.#random = options.random ?? Math.random;
    if (this.#intervalMs > 0) {
      this.#timer = setInterval(() => this.#pump(true), this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** The exporter's name, for logs. */
  get name(): string {
    return this.#exporter.name ?? 'exporter';
  }

  /**
   * Queues items. Never throws: an item that does not fit (or arrives after shutdown)
   * is dropped and counted. A full batch leaves at once.
   */
  enqueue(items: readonly T[]): void {
    for (const item of items) {
      if (this.#closed) {
        this.#drop('shutdown', 1, 'the pipeline has shut down');
        continue;
      }
      let bytes: number;
      try {
        bytes = Math.max(0, Number(this.#sizeOf(item)) || 0);
      } catch {
        bytes = 256;
      }
      if (
        this.#queue.length - this.#queueStart >= this.#maxQueueItems ||
        this.#queuedBytes + bytes > this.#maxQueueBytes
      ) {
        this.#drop('queueFull', 1, 'the export queue is full');
        continue;
      }
      this.#queue.push({ item, bytes });
      this.#queuedBytes += bytes;
      this.#enqueued++;
    }
    if (this.#queue.length - this.#queueStart >= this.#maxBatchItems) this.#pump(false);
  }

  /**
   * Sends everything queued now and waits until it is delivered, dropped, or
   * `deadlineMs` passed (then what is left stays queued). Never rejects.
   */
  async forceFlush(deadlineMs = 30_000): Promise<void> {
    const until = performance.now() + deadlineMs;
    while (performance.now() < until) {
      this.#pump(true);
      if (this.#running.size === 0 && this.#queue.length === this.#queueStart) break;
      await settleWithin(Promise.race([...this.#running]), until);
    }
    try {
      await settleWithin(this.#exporter.forceFlush?.() ?? Promise.resolve(), until);
    } catch (error) {
      this.#diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `${this.name}: forceFlush failed: ${error instanceof Error ? error.message : 'unknown'}`,
      );
    }
  }

  /**
   * Delivers what is queued within `deadlineMs`, then aborts what is still in flight,
   * drops what is left (counted), and shuts the exporter down. Idempotent; never
   * rejects.
   */
  shutdown(deadlineMs = 30_000): Promise<void> {
    this.#shutdown ??= (async () => {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      await this.forceFlush(deadlineMs);
      this.#closed = true;
      for (const abort of this.#aborts) abort.abort();
      const left = this.#queue.length - this.#queueStart;
      if (left > 0) this.#drop('shutdown', left, 'the shutdown deadline passed');
      this.#queue.length = 0;
      this.#queueStart = 0;
      this.#queuedBytes = 0;
      await settleWithin(Promise.all([...this.#running]), performance.now() + 1000);
      try {
        await settleWithin(this.#exporter.shutdown(), performance.now() + 1000);
      } catch (error) {
        this.#diagnostics.report(
          DiagnosticCode.INTERNAL_ERROR,
          `${this.name}: shutdown failed: ${error instanceof Error ? error.message : 'unknown'}`,
        );
      }
    })();
    return this.#shutdown;
  }

  /** Sends what is queued now (in full batches and one partial), without waiting. */
  sendNow(): void {
    this.#pump(true);
  }

  /** Counters since the start. */
  stats(): ExportPipelineStats {
    return {
      enqueued: this.#enqueued,
      exported: this.#exported,
      dropped: {
        queueFull: this.#droppedFull,
        failed: this.#droppedFailed,
        shutdown: this.#droppedShutdown,
      },
      batches: this.#batches,
      retries: this.#retries,
      queued: this.#queue.length - this.#queueStart,
      queuedBytes: this.#queuedBytes,
      inFlight: this.#inFlight,
    };
  }

  /** Starts batches while there is room: full ones, or (`partial`) any. */
  #pump(partial: boolean): void {
    while (!this.#closed && this.#inFlight < this.#maxConcurrency) {
      const queued = this.#queue.length - this.#queueStart;
      if (queued === 0 || (!partial && queued < this.#maxBatchItems)) return;
      const n = Math.min(queued, this.#maxBatchItems);
      const taken = this.#queue.slice(this.#queueStart, this.#queueStart + n);
      this.#queueStart += n;
      for (const p of taken) this.#queuedBytes -= p.bytes;
      if (this.#queueStart > 1024 && this.#queueStart * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#queueStart);
        this.#queueStart = 0;
      }
      this.#inFlight++;
      this.#batches++;
      const run = this.#send(
        globalThis.crypto.randomUUID(),
        taken.map((p) => p.item),
      ).finally(() => {
        this.#inFlight--;
        this.#running.delete(run);
        this.#pump(false);
      });
      this.#running.add(run);
    }
  }

  /** One batch through its attempts. Never rejects. */
  async #send(id: string, items: readonly T[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.#attempt({ id, items, attempt });
      if (result.ok) {
        this.#exported += items.length;
        return;
      }
      if (this.#closed) {
        this.#drop('shutdown', items.length, `batch ${id} was cut short by shutdown`);
        return;
      }
      if (result.retryable === false || attempt >= this.#maxAttempts) {
        this.#drop(
          'failed',
          items.length,
          `batch ${id} (${items.length} items) failed after ${attempt} attempt(s): ${result.error ?? 'no reason given'}`,
        );
        return;
      }
      const ceiling = Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** (attempt - 1));
      const wait =
        result.retryAfterMs !== undefined && result.retryAfterMs >= 0
          ? Math.min(result.retryAfterMs, this.#maxBackoffMs)
          : this.#random() * ceiling;
      this.#retries++;
      await this.#sleep(wait);
      if (this.#closed) {
        this.#drop('shutdown', items.length, `batch ${id} was waiting to retry at shutdown`);
        return;
      }
    }
  }

  /** One attempt, bounded by the timeout; a throw is a retryable failure. */
  async #attempt(batch: ExportBatch<T>): Promise<ExportResult> {
    const abort = new AbortController();
    this.#aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    timer.unref();
    try {
      const timeout = new Promise<ExportResult>((resolve) => {
        abort.signal.addEventListener('abort', () => {
          resolve({
            ok: false,
            retryable: true,
            error: `timed out or aborted after ${this.#timeoutMs} ms`,
          });
        });
      });
      return await Promise.race([this.#exporter.export(batch, abort.signal), timeout]);
    } catch (error) {
      return {
        ok: false,
        retryable: true,
        error: error instanceof Error ? error.message : 'threw',
      };
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(abort);
    }
  }

  #drop(reason: 'queueFull' | 'failed' | 'shutdown', n: number, message: string): void {
    if (reason === 'queueFull') this.#droppedFull += n;
    else if (reason === 'failed') this.#droppedFailed += n;
    else this.#droppedShutdown += n;
    this.#diagnostics.report(
      DiagnosticCode.EXPORT_DROPPED,
      `${this.name}: ${n} item(s) dropped: ${message}`,
    );
  }
}
