/**
 * Child process of faults.test.ts (run with --expose-gc, to read the heap after a
 * full collection): a Monitor exporting finished spans through `restExporter` to a
 * real HTTP receiver on 127.0.0.1 that is down for the first 30 s of (manual) clock
 * time, then answers in turn 503, a stall past the timeout (after reading the body,
 * so the batch is stored and its retry is a duplicate), a dropped connection, and
 * 200. The receiver drops duplicate batch ids as a server does. Prints one JSON line
 * with what was sent, what arrived, the pipeline's counts, the heap and any unhandled
 * rejection or exception.
 *
 * argv[2]: 'faults' (everything fits the queue) or 'overflow' (the receiver stays
 * down while more spans finish than the queue holds).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { trace } from '@opentelemetry/api';
import { ManualClock, Monitor } from '@prsm/core';
import type { RestBatchBody } from './body.js';
import { restExporter } from './exporter.js';

const mode = process.argv[2] === 'overflow' ? 'overflow' : 'faults';
const problems: string[] = [];
process.on('unhandledRejection', (reason) =>
  problems.push(`unhandledRejection: ${String(reason)}`),
);
process.on('uncaughtException', (error) => problems.push(`uncaughtException: ${error.message}`));

const gc = (globalThis as { gc?: () => void }).gc;
function heapMiB(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

// The harness keeps no memory per span (the heap check is about the exporter): each
// span carries its index, counted in a preallocated array; batch ids are few.
const MAX_SPANS = 2000;
const seenBatches = new Set<string>();
const arrivals = new Uint8Array(MAX_SPANS); // times each span index was stored
let requests = 0;
const behaviours = ['503', 'stall', 'drop', 'ok', 'ok'] as const;

function handle(request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const behaviour = mode === 'overflow' ? 'ok' : behaviours[requests % behaviours.length]!;
    requests++;
    if (behaviour === '503') {
      response.writeHead(503, { 'retry-after': '2' }).end();
      return;
    }
    if (behaviour === 'drop') {
      request.socket.destroy();
      return;
    }
    const body = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as RestBatchBody;
    if (!seenBatches.has(body.batch_id)) {
      seenBatches.add(body.batch_id);
      for (const span of body.traces) {
        const i = Number(span.attributes['i']);
        arrivals[i] = Math.min(255, arrivals[i]! + 1);
      }
    }
    // A stall: stored, but answered only after the exporter gave the attempt up.
    if (behaviour === 'stall') setTimeout(() => response.destroy(), 300);
    else response.writeHead(200).end('{}');
  });
}

async function listen(port: number): Promise<Server> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

const probe = await listen(0);
const port = (probe.address() as AddressInfo).port;
await new Promise<void>((resolve) => probe.close(() => resolve()));

const clock = new ManualClock(Date.UTC(2024, 0, 15, 14));
let receiver: Server | undefined;
let bringingUp: Promise<void> | undefined;
// The pipeline's waits move the manual clock; the receiver comes up at 30 s (faults)
// or when the test says so (overflow).
let upAt = mode === 'faults' ? clock.now() + 30_000 : Infinity;
async function sleep(ms: number): Promise<void> {
  clock.advance(ms);
  if (receiver === undefined && clock.now() >= upAt) {
    bringingUp ??= listen(port).then((server) => {
      receiver = server;
    });
    await bringingUp;
  }
  await new Promise((resolve) => setImmediate(resolve));
}

const maxQueueItems = mode === 'overflow' ? 100 : 10_000;
const monitor = new Monitor({
  clock,
  tracing: true,
  traceStore: { maxTraces: 50 },
  exportIntervalSeconds: 3600,
  shutdownTimeoutSeconds: 30,
  alerting: { evaluationIntervalSeconds: 0 },
  exporters: [restExporter({ url: `http://127.0.0.1:${port}`, now: () => clock.now() })],
  exportPipeline: {
    maxBatchItems: 20,
    maxQueueItems,
    timeoutMs: 100,
    maxAttempts: 60,
    maxConcurrency: 2,
    initialBackoffMs: 1000,
    maxBackoffMs: 8000,
    random: () => 0.5,
    sleep,
  },
});

const tracer = trace.getTracer('faults');
let sent = 0;
function finishSpans(n: number): void {
  for (let i = 0; i < n; i++) {
    tracer.startActiveSpan(`op${i % 7}`, (span) => {
      span.setAttribute('i', sent++);
      span.end();
    });
  }
}

let heapAfterWarmup = 0;
const rounds = mode === 'faults' ? 40 : 1;
for (let round = 0; round < rounds; round++) {
  finishSpans(mode === 'faults' ? 50 : 300);
  if (mode === 'overflow') upAt = clock.now(); // back once everything was recorded
  await monitor.forceFlush(30);
  if (round === 4) heapAfterWarmup = heapMiB();
}
await monitor.shutdown();
const heapAtEnd = heapMiB();
await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));

const stats = monitor.exportStats()[0]!;
let duplicates = 0;
let arrived = 0;
for (let i = 0; i < sent; i++) {
  if (arrivals[i]! > 0) arrived++;
  if (arrivals[i]! > 1) duplicates++;
}
console.log(
  JSON.stringify({
    mode,
    sent,
    arrived,
    duplicates,
    requests,
    clockSeconds: (clock.now() - Date.UTC(2024, 0, 15, 14)) / 1000,
    dropped: stats.dropped,
    retries: stats.retries,
    heapAfterWarmup,
    heapAtEnd,
    problems,
  }),
);
