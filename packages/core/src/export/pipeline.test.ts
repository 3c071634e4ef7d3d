/**
 * The export pipeline against a real HTTP receiver on 127.0.0.1, through the small
 * fetch-based exporter of ./test-support.ts.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { DiagnosticCode, Diagnostics } from '../diagnostics/diagnostics.js';
import { type Exporter, ExportPipeline } from './pipeline.js';
import { httpExporter, type Receiver, receiver } from './test-support.js';

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);
const noWait = (): Promise<void> => Promise.resolve();

describe('ExportPipeline against a real HTTP receiver', () => {
  it('batches in order, each batch with its own id, and counts what it exported', async () => {
    const r = await receiver();
    const pipeline = new ExportPipeline(
      httpExporter(r.url),
      { exportIntervalMs: 0, maxBatchItems: 3 },
      new Diagnostics(),
    );
    pipeline.enqueue(range(7));
    await pipeline.forceFlush(5000);
    expect(r.items).toEqual(range(7));
    expect(r.ids).toHaveLength(3);
    expect(new Set(r.ids).size).toBe(3);
    expect(pipeline.stats()).toMatchObject({
      enqueued: 7,
      exported: 7,
      batches: 3,
      retries: 0,
      queued: 0,
      inFlight: 0,
    });
    await pipeline.shutdown(1000);
  });

  it('bounds the queue in items and bytes, dropping (and counting) what does not fit', async () => {
    const diagnostics = new Diagnostics();
    const never: Exporter<number> = {
      export: () => new Promise(() => {}),
      shutdown: () => Promise.resolve(),
    };
    const byItems = new ExportPipeline(
      never,
      { exportIntervalMs: 0, maxBatchItems: 100, maxQueueItems: 5 },
      diagnostics,
    );
    byItems.enqueue(range(8));
    expect(byItems.stats()).toMatchObject({ enqueued: 5, queued: 5, dropped: { queueFull: 3 } });
    const byBytes = new ExportPipeline(
      never,
      { exportIntervalMs: 0, maxBatchItems: 100, maxQueueBytes: 1000, sizeOf: () => 300 },
      diagnostics,
    );
    byBytes.enqueue(range(5));
    expect(byBytes.stats()).toMatchObject({
      enqueued: 3,
      queuedBytes: 900,
      dropped: { queueFull: 2 },
    });
    expect(diagnostics.count(DiagnosticCode.EXPORT_DROPPED)).toBe(5);
    await byItems.shutdown(0);
    await byBytes.shutdown(0);
  });

  it('retries a 503 after its Retry-After with the same batch id, and gives up a 400 at once', async () => {
    const r = await receiver((n) =>
      n === 0 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 },
    );
    const waits: number[] = [];
    const pipeline = new ExportPipeline(
      httpExporter(r.url),
      { exportIntervalMs: 0, sleep: (ms) => (waits.push(ms), Promise.resolve()) },
      new Diagnostics(),
    );
    pipeline.enqueue([1, 2]);
    await pipeline.forceFlush(5000);
    expect(waits).toEqual([2000]);
    expect(r.ids).toHaveLength(2);
    expect(r.ids[0]).toBe(r.ids[1]);
    expect(r.items).toEqual([1, 2]);
    r.behave(() => ({ status: 400 }));
    pipeline.enqueue([3]);
    await pipeline.forceFlush(5000);
    expect(pipeline.stats()).toMatchObject({ exported: 2, retries: 1, dropped: { failed: 1 } });
    await pipeline.shutdown(1000);
  });

  it('backs off exponentially with full jitter, capped, for maxAttempts', async () => {
    const r = await receiver(() => ({ status: 500 }));
    const waits: number[] = [];
    const pipeline = new ExportPipeline(
      httpExporter(r.url),
      {
        exportIntervalMs: 0,
        maxAttempts: 6,
        initialBackoffMs: 100,
        maxBackoffMs: 1000,
        random: () => 0.5,
        sleep: (ms) => (waits.push(ms), Promise.resolve()),
      },
      new Diagnostics(),
    );
    pipeline.enqueue([1]);
    await pipeline.forceFlush(5000);
    expect(waits).toEqual([50, 100, 200, 400, 500]);
    expect(r.ids).toHaveLength(6);
    expect(pipeline.stats().dropped.failed).toBe(1);
    await pipeline.shutdown(1000);
  });

  it('aborts an attempt that stalls past the timeout and retries; the receiver keeps the batch once', async () => {
    const r = await receiver((n) => (n === 0 ? { status: 200, delayMs: 400 } : { status: 200 }));
    const pipeline = new ExportPipeline(
      httpExporter(r.url),
      { exportIntervalMs: 0, timeoutMs: 100, sleep: noWait },
      new Diagnostics(),
    );
    pipeline.enqueue([7]);
    await pipeline.forceFlush(5000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // the stalled answer comes too
    expect(r.ids).toHaveLength(2);
    expect(r.ids[0]).toBe(r.ids[1]);
    expect(r.items).toEqual([7]);
    expect(pipeline.stats()).toMatchObject({ exported: 1, retries: 1 });
    await pipeline.shutdown(1000);
  });

  it('a receiver down for 30 s of clock time: every item arrives exactly once when it is back', async () => {
    const first = await receiver();
    const port = first.port;
    await first.close();
    const clock = new ManualClock(0);
    let back: Receiver | undefined;
    const pipeline = new ExportPipeline(
      httpExporter(`http://127.0.0.1:${port}/ingest`),
      {
        exportIntervalMs: 0,
        maxBatchItems: 10,
        maxAttempts: 20,
        initialBackoffMs: 1000,
        maxBackoffMs: 8000,
        random: () => 1,
        sleep: async (ms) => {
          clock.advance(ms);
          if (back === undefined && clock.now() >= 30_000) back = await receiver(undefined, port);
        },
      },
      new Diagnostics(),
    );
    pipeline.enqueue(range(25));
    await pipeline.forceFlush(10_000);
    expect(back).toBeDefined();
    expect((back!.items as number[]).sort((a, b) => a - b)).toEqual(range(25));
    expect(pipeline.stats()).toMatchObject({
      exported: 25,
      dropped: { queueFull: 0, failed: 0, shutdown: 0 },
    });
    expect(clock.now()).toBeGreaterThanOrEqual(30_000);
    await pipeline.shutdown(1000);
  });

  it('keeps at most maxConcurrency batches in flight', async () => {
    const r = await receiver(() => ({ status: 200, delayMs: 30 }));
    const pipeline = new ExportPipeline(
      httpExporter(r.url),
      { exportIntervalMs: 0, maxBatchItems: 1, maxConcurrency: 2 },
      new Diagnostics(),
    );
    pipeline.enqueue(range(8));
    await pipeline.forceFlush(5000);
    expect((r.items as number[]).sort((a, b) => a - b)).toEqual(range(8));
    expect(r.maxConcurrent).toBe(2);
    await pipeline.shutdown(1000);
  });

  it('shutdown keeps its deadline against a receiver that never answers, counts every item it could not send, and shuts the exporter down', async () => {
    const r = await receiver(() => 'hang');
    const diagnostics = new Diagnostics();
    const exporter = httpExporter(r.url);
    const pipeline = new ExportPipeline(
      exporter,
      { exportIntervalMs: 0, maxBatchItems: 2, maxConcurrency: 1, timeoutMs: 60_000 },
      diagnostics,
    );
    pipeline.enqueue(range(5));
    await pipeline.shutdown(200);
    expect(exporter.shutdowns).toBe(1);
    const stats = pipeline.stats();
    expect(stats.exported).toBe(0);
    // 3 still queued at the deadline, and the aborted batch of 2: all counted.
    expect(stats.dropped).toEqual({ queueFull: 0, failed: 0, shutdown: 5 });
    pipeline.enqueue([9]);
    expect(pipeline.stats().dropped.shutdown).toBe(6);
    expect(diagnostics.count(DiagnosticCode.EXPORT_DROPPED)).toBeGreaterThan(0);
  });

  it('sends on its interval', async () => {
    const r = await receiver();
    const pipeline = new ExportPipeline(
      httpExporter(r.url),
      { exportIntervalMs: 50 },
      new Diagnostics(),
    );
    pipeline.enqueue([1, 2, 3]);
    for (let i = 0; i < 100 && r.items.length < 3; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.items).toEqual([1, 2, 3]);
    await pipeline.shutdown(1000);
  });

  it('rejects bad options with the option named', () => {
    const d = new Diagnostics();
    const ok: Exporter<number> = {
      export: () => Promise.resolve({ ok: true }),
      shutdown: () => Promise.resolve(),
    };
    expect(() => new ExportPipeline(ok, { maxBatchItems: 0 }, d)).toThrow(
      /maxBatchItems must be a finite number > 0/,
    );
    expect(() => new ExportPipeline(ok, { maxQueueItems: 1.5 }, d)).toThrow(
      /maxQueueItems must be an integer/,
    );
    expect(() => new ExportPipeline(ok, { timeoutMs: -1 }, d)).toThrow(/timeoutMs/);
    // @ts-expect-error -- not an exporter
    expect(() => new ExportPipeline({}, {}, d)).toThrow(
      /an exporter must have export\(\) and shutdown\(\)/,
    );
  });
});
