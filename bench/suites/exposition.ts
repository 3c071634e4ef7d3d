/**
 * Exposition and encoding: a Prometheus scrape of 10,000 series, ours against prom-client's
 * `register.metrics()` on the same series in the same process, against the 50 ms
 * target (issue 5). Ours is the whole scrape path of `prometheusHandler`:
 * `prometheusScrape`, which reads every series through `monitor.visitSeries` (the
 * exposed window's quantiles at full accuracy, over the mixture of its sub-windows) and
 * writes the text as it reads, building no snapshot; the older path (a snapshot, then
 * `toPrometheusText`, what a source without `visitSeries` gets) is timed beside it. The timers' samples are spread over six
 * sub-windows, and before every timed scrape each timer records one more sample (not
 * timed; its flush is), so nothing is read from a state the previous scrape left
 * behind. prom-client holds the
 * same series with the same semantics: sliding-window Summaries (maxAgeSeconds 300,
 * ageBuckets 5: a 5-minute window, like ours) for the timers, Counters, Gauges.
 * Also the REST exporter's side (issue 5's other target, ≤ 50 ms): the same 10,000
 * series snapshotted as `restExporter`'s `needs` ask (no window quantiles, no
 * digests; each histogram's sub-window closed since the previous minute's export, with
 * its centroids), cut into the bodies the exporter sends (the export pipeline's default
 * of 512 series per batch, each written by `encodeRestBatch` as UTF-8 JSON) and, for
 * comparison, as one body of all of them, and by the exporter's former path
 * (`toRestBatch`'s objects, `JSON.stringify`, UTF-8). The exporter then gzips each body
 * off the main thread (zlib's thread pool): timed apart.
 */
import { type ExportItem, ManualClock, Monitor } from '@prsm/core';
import {
  prometheusScrape,
  prometheusScrapeInSlices,
  toPrometheusText,
} from '@prsm/exporters/prometheus';
import { encodeRestBatch, restExporter, toRestBatch } from '@prsm/exporters/rest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Counter, Gauge, Registry, Summary } from 'prom-client';
import { Rng } from '../lib/random.js';
import { fixed, heading, median, paragraph, quickGc, table } from '../lib/report.js';

const TARGET_MS = 50;
/** The export pipeline's default `maxBatchItems`: the series per REST body. */
const EXPORT_BATCH_ITEMS = 512;
const gzipAsync = promisify(gzip);
const RUNS = 15;
const WARMUP = 3;
/** Per component: 60 timer tag sets, 25 counter tag sets, 15 gauge tag sets. */
const COMPONENTS = 100;
/** One sample a second per timer series, over six sub-windows. */
const SAMPLES_PER_MINUTE = 60;
const SAMPLES_PER_TIMER = 6 * SAMPLES_PER_MINUTE;

function time(fn: () => unknown, before: () => void = () => {}): number[] {
  for (let i = 0; i < WARMUP; i++) {
    before();
    fn();
  }
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    before();
    quickGc();
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return ms;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    quickGc();
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** Counts and levels for the counters and gauges of the scenarios after the first. */
const PLAIN_COUNTS = Array.from({ length: COMPONENTS * 25 }, (_, i) => i % 25);
const PLAIN_LEVELS = Array.from({ length: COMPONENTS * 15 }, (_, i) => i % 15);

/** A table row: the label, the median and the worst of `values` (ms). */
function medianRow(label: string, values: readonly number[]): string[] {
  return [label, fixed(median(values), 1), fixed(Math.max(...values), 1)];
}

/**
 * Each run of `fn` (after `before`), timed whole, and the longest stretch in it without
 * a turn of the event loop (a `setImmediate` chain beside it).
 */
async function timeSliced(
  fn: () => Promise<unknown>,
  before: () => void,
): Promise<{ ms: number[]; longest: number[] }> {
  const ms: number[] = [];
  const longest: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    before();
    quickGc();
    const turns = watchTurns();
    const t0 = performance.now();
    await fn();
    const elapsed = performance.now() - t0;
    const stretch = turns.stop();
    if (i < WARMUP) continue;
    ms.push(elapsed);
    longest.push(stretch);
  }
  return { ms, longest };
}

/**
 * The suite's 10,000 series in `monitor`: per component 60 timer, 25 counter (counted
 * up to `counts`) and 15 gauge (set to `levels`) tag sets. Returns the timers' bound
 * series, for the samples.
 */
function addSeries(
  monitor: Monitor,
  counts: readonly number[],
  levels: readonly number[],
): { record(ms: number): void }[] {
  const timers: { record(ms: number): void }[] = [];
  for (let c = 0; c < COMPONENTS; c++) {
    const component = `svc${c}`;
    const timer = monitor.timer('http.duration', { component, description: 'request duration' });
    for (let r = 0; r < 60; r++) timers.push(timer.bind({ route: `/r${r}` }));
    const orders = monitor.counter('orders', { component, description: 'orders' });
    for (let s = 0; s < 25; s++) orders.bind({ status: `s${s}` }).inc(counts[c * 25 + s]);
    const pool = monitor.gauge('pool.connections', { component, description: 'connections' });
    for (let p = 0; p < 15; p++) pool.bind({ pool: `p${p}` }).set(levels[c * 15 + p]!);
  }
  return timers;
}

export async function run(): Promise<void> {
  heading('Exposition');
  const rng = new Rng(23);
  // The same values for both libraries, drawn once.
  const TIMERS = COMPONENTS * 60;
  const counts = Array.from({ length: COMPONENTS * 25 }, () => Math.floor(rng.uniform() * 100));
  const levels = Array.from({ length: COMPONENTS * 15 }, () => Math.floor(rng.uniform() * 50));
  const samples = new Float64Array(6 * TIMERS * SAMPLES_PER_MINUTE);
  for (let i = 0; i < samples.length; i++) samples[i] = 5 + 500 * rng.uniform() ** 3;

  // Ours first, with only our series in the heap; prom-client's after ours are
  // released (each library's scrape allocates, and a collector that also has the
  // other's millions of objects to trace would charge it for them).
  const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 0));
  const monitor = new Monitor({ clock, maxSeriesPerMetric: 10_000 });
  const timers = addSeries(monitor, counts, levels);
  // The timers' samples over six sub-windows (five closed, one open) of the 300 s window.
  let k = 0;
  for (let minute = 0; minute < 6; minute++) {
    for (let t = 0; t < TIMERS; t++) {
      for (let i = 0; i < SAMPLES_PER_MINUTE; i++) timers[t]!.record(samples[k++]!);
    }
    if (minute < 5) clock.advance(60_000);
  }
  const oneMore = (): void => {
    for (const t of timers) t.record(5 + 500 * rng.uniform() ** 3);
  };
  let series = 0;
  let bytes = 0;
  // (Counted from a snapshot of the 60 s window only: the 900 s window's first read is
  // timed below, before any snapshot has read it.)
  for (const s of monitor.snapshot({ windows: [60] }).series) {
    if (s.component.startsWith('svc')) series++;
  }
  const scrape = { windows: [300], digests: false, cumulativeQuantiles: false } as const;
  // Timed up to the bytes the handler sends: prometheusScrape writes UTF-8 as it goes;
  // a string (the snapshot path's, prom-client's) is encoded once, as the handler would.
  const ours = time(() => {
    bytes = prometheusScrape(monitor, { windowSeconds: 300 }).length;
  }, oneMore);
  // The handler's path: the same, a slice of series at a time with the event loop
  // running between slices (1000 series a slice here: the ManualClock does not move, so
  // the 5 ms time limit of a slice never ends one).
  const sliced = await timeSliced(
    () => prometheusScrapeInSlices(monitor, { windowSeconds: 300 }),
    oneMore,
  );
  const viaSnapshot = time(() => {
    Buffer.from(toPrometheusText(monitor.snapshot(scrape), { windowSeconds: 300 }));
  }, oneMore);
  let restBytes = 0;
  let restOneBytes = 0;
  // What the monitor snapshots for restExporter: the last minute's closed sub-window.
  const restSnapshot = {
    windows: [],
    digests: false,
    cumulativeQuantiles: false,
    subWindows: { since: clock.now() - 60_000 },
  } as const;
  /** The snapshot as the pipeline cuts it: batches of `size` series items. */
  const restBatches = (size: number): { id: string; items: ExportItem[] }[] => {
    const snapshot = monitor.snapshot(restSnapshot);
    const batches = [];
    for (let i = 0; i < snapshot.series.length; i += size) {
      const items = snapshot.series.slice(i, i + size).map((series) => ({
        kind: 'series' as const,
        timestamp: snapshot.timestamp,
        series,
      }));
      batches.push({ id: `bench-${i}`, items });
    }
    return batches;
  };
  // What restExporter does with that snapshot: the pipeline cuts it into batches of
  // its default maxBatchItems (512), and each batch becomes one body, written by
  // encodeRestBatch as the UTF-8 bytes the gzip takes (the gzip is timed apart).
  let restBodies: Uint8Array[] = [];
  const rest = time(() => {
    restBodies = restBatches(EXPORT_BATCH_ITEMS).map((batch) =>
      encodeRestBatch(batch, clock.now()),
    );
    restBytes = restBodies.reduce((sum, body) => sum + body.length, 0);
  }, oneMore);
  // For comparison: what the exporter did before encodeRestBatch (the body's objects by
  // toRestBatch, JSON.stringify, then the UTF-8 bytes the gzip would make of the text).
  let restObjectBytes = 0;
  const restObjects = time(() => {
    restObjectBytes = 0;
    for (const batch of restBatches(EXPORT_BATCH_ITEMS)) {
      restObjectBytes += Buffer.from(JSON.stringify(toRestBatch(batch, clock.now()))).length;
    }
  }, oneMore);
  // And the same series as one body of 10,000 items (what the pipeline would send
  // with maxBatchItems raised that far).
  const restOneBody = time(() => {
    restOneBytes = encodeRestBatch(restBatches(Infinity)[0]!, clock.now()).length;
  }, oneMore);
  let gzipped = 0;
  const restGzip = await timeAsync(async () => {
    gzipped = 0;
    for (const body of restBodies) gzipped += (await gzipAsync(body)).length;
  });
  const snapshotOnce = monitor.snapshot(scrape);
  const snapshotOnly = time(() => monitor.snapshot(scrape), oneMore);
  const render = time(() => toPrometheusText(snapshotOnce, { windowSeconds: 300 }));
  const oursText = bytes;
  // A series' quantiles are searched for from its previous read's answers. A window's
  // first read starts from those of the nearest window read before (here the 300 s
  // one's); a series' very first read has none and sweeps every part from the top. One
  // run, of the 900 s window (the same six sub-windows here).
  oneMore();
  quickGc();
  const t0 = performance.now();
  prometheusScrape(monitor, { windowSeconds: 900 });
  const firstRead = performance.now() - t0;
  // Scraped once a minute: before each scrape a minute of samples (60 per timer) and a
  // sub-window closed, so the window's oldest minute is gone and the answers moved.
  const minuteLater = time(
    () => {
      prometheusScrape(monitor, { windowSeconds: 300 });
    },
    () => {
      clock.advance(60_000);
      for (const t of timers) {
        for (let i = 0; i < SAMPLES_PER_MINUTE; i++) t.record(5 + 500 * rng.uniform() ** 3);
      }
    },
  );

  await monitor.shutdown();
  timers.length = 0;

  const registry = new Registry();
  const summary = new Summary({
    name: 'http_duration_seconds',
    help: 'request duration',
    labelNames: ['component', 'route'],
    percentiles: [0.5, 0.9, 0.95, 0.99, 0.999],
    maxAgeSeconds: 300,
    ageBuckets: 5,
    registers: [registry],
  });
  const counter = new Counter({
    name: 'orders_total',
    help: 'orders',
    labelNames: ['component', 'status'],
    registers: [registry],
  });
  const gauge = new Gauge({
    name: 'pool_connections',
    help: 'connections',
    labelNames: ['component', 'pool'],
    registers: [registry],
  });
  const observed: { observe(seconds: number): void }[] = [];
  for (let c = 0; c < COMPONENTS; c++) {
    const component = `svc${c}`;
    for (let r = 0; r < 60; r++) observed.push(summary.labels({ component, route: `/r${r}` }));
    for (let s = 0; s < 25; s++) {
      counter.labels({ component, status: `s${s}` }).inc(counts[c * 25 + s]);
    }
    for (let p = 0; p < 15; p++)
      gauge.labels({ component, pool: `p${p}` }).set(levels[c * 15 + p]!);
  }
  k = 0;
  for (let minute = 0; minute < 6; minute++) {
    for (let t = 0; t < TIMERS; t++) {
      for (let i = 0; i < SAMPLES_PER_MINUTE; i++) observed[t]!.observe(samples[k++]! / 1000);
    }
  }
  let theirText = '';
  const theirs = await timeAsync(async () => {
    theirText = await registry.metrics();
    Buffer.from(theirText);
  });
  paragraph(
    `${series.toLocaleString('en-US')} series (${COMPONENTS} components × 60 timer, 25 counter, ` +
      `15 gauge tag sets; ${SAMPLES_PER_TIMER} samples per timer series over six one-minute ` +
      "sub-windows, one more before each scrape; each series' quantiles are searched for " +
      "from its previous scrape's answers, so a window's first read and a scrape a " +
      'minute later are shown apart), the same in a ' +
      'prom-client Registry (Summary with maxAgeSeconds 300 and ageBuckets 5, Counter, ' +
      `Gauge). Each scrape timed up to the bytes the handler sends (ours writes UTF-8 as it ` +
      "goes; a string is encoded once, prom-client's too). " +
      `Median of ${RUNS} scrapes after ${WARMUP} warm-up ones, gc() before each. ` +
      'The handler scrapes in slices (prometheusScrapeInSlices): the same work with the ' +
      'event loop let run between slices, timed whole, and its longest slice; the target ' +
      'is checked on the scrape in one go. ' +
      'Each library is timed with only its own series in the heap (ours first, then ' +
      "prom-client's once ours are released), from the same values. " +
      `Target: ≤ ${TARGET_MS} ms for ours, and faster than prom-client.`,
  );
  const ratio = median(theirs) / median(ours);
  console.log(
    table(
      ['Scrape', 'median ms', 'worst ms', 'bytes', 'prom-client ÷ ours'],
      [
        [
          'ours: prometheusScrape of the 300 s window (visitSeries, in one go)',
          fixed(median(ours), 1),
          fixed(Math.max(...ours), 1),
          String(oursText),
          fixed(ratio, 2),
        ],
        [
          "ours: prometheusScrapeInSlices, the same (the handler's path: 1000 series a slice)",
          fixed(median(sliced.ms), 1),
          fixed(Math.max(...sliced.ms), 1),
          '',
          '',
        ],
        [
          `  longest stretch of it without a turn of the event loop`,
          fixed(median(sliced.longest), 1),
          fixed(Math.max(...sliced.longest), 1),
          '',
          '',
        ],
        [
          'ours: snapshot of the 300 s window + toPrometheusText (a source without visitSeries)',
          fixed(median(viaSnapshot), 1),
          fixed(Math.max(...viaSnapshot), 1),
          '',
          '',
        ],
        [
          'ours: prometheusScrape a minute later (a minute of samples, a sub-window closed)',
          fixed(median(minuteLater), 1),
          fixed(Math.max(...minuteLater), 1),
          '',
          '',
        ],
        [
          "ours: a window's first read, from the 300 s window's answers (900 s; one run)",
          fixed(firstRead, 1),
          fixed(firstRead, 1),
          '',
          '',
        ],
        [
          'ours: toPrometheusText of one snapshot (render only)',
          fixed(median(render), 1),
          fixed(Math.max(...render), 1),
          '',
          '',
        ],
        [
          'ours: snapshot of the 300 s window alone',
          fixed(median(snapshotOnly), 1),
          fixed(Math.max(...snapshotOnly), 1),
          '',
          '',
        ],
        [
          `ours, REST: snapshot (restExporter needs) + encodeRestBatch per ${EXPORT_BATCH_ITEMS}-series body`,
          fixed(median(rest), 1),
          fixed(Math.max(...rest), 1),
          String(restBytes),
          '',
        ],
        [
          'ours, REST: the same as one 10,000-series body',
          fixed(median(restOneBody), 1),
          fixed(Math.max(...restOneBody), 1),
          String(restOneBytes),
          '',
        ],
        [
          '  (before encodeRestBatch: toRestBatch + JSON.stringify + UTF-8, per body)',
          fixed(median(restObjects), 1),
          fixed(Math.max(...restObjects), 1),
          String(restObjectBytes),
          '',
        ],
        [
          'ours, REST: gzip of those bodies (async, zlib thread pool)',
          fixed(median(restGzip), 1),
          fixed(Math.max(...restGzip), 1),
          String(gzipped),
          '',
        ],
        [
          'prom-client 15: register.metrics()',
          fixed(median(theirs), 1),
          fixed(Math.max(...theirs), 1),
          String(Buffer.byteLength(theirText)),
          '',
        ],
      ],
    ),
  );
  console.log();
  paragraph(
    `Ours ${fixed(median(ours), 1)} ms (target ${TARGET_MS} ms): ` +
      `${median(ours) <= TARGET_MS ? 'target met' : 'target MISSED'}; a minute later ` +
      `${fixed(median(minuteLater), 1)} ms: ` +
      `${median(minuteLater) <= TARGET_MS ? 'target met' : 'target MISSED'}; ` +
      `prom-client ${fixed(median(theirs), 1)} ms: ` +
      `${ratio > 1 ? `ours ${fixed(ratio, 2)}× faster` : 'prom-client is faster'}. ` +
      `REST encode ${fixed(median(rest), 1)} ms (target ${TARGET_MS} ms): ` +
      `${median(rest) <= TARGET_MS ? 'target met' : 'target MISSED'}.`,
  );
  await busyService();
  await restCollection();
}

/** Samples a minute per timer series in the busy service. */
const BUSY_PER_MINUTE = 1000;
/** Samples per timer series between two scrapes of it (15 s of it). */
const BUSY_PER_SCRAPE = 250;

/**
 * The same 10,000 series in a busy service: every timer series takes 1,000 samples a
 * minute (the digests hold centroids of many samples, not single ones) and 250 more
 * before each scrape (Prometheus' default 15 s interval), which every scrape merges.
 * The monitor's clock runs in real time from a set start (`base + performance.now()`),
 * so a slice of `prometheusScrapeInSlices` ends on its 5 ms time limit as it would in
 * a service.
 */
async function busyService(): Promise<void> {
  const rng = new Rng(29);
  let base = Date.UTC(2024, 0, 15, 14, 0, 2) - performance.now();
  const monitor = new Monitor({
    clock: { now: () => base + performance.now() },
    maxSeriesPerMetric: 10_000,
  });
  const timers = addSeries(monitor, PLAIN_COUNTS, PLAIN_LEVELS);
  const record = (n: number): void => {
    for (const t of timers) for (let i = 0; i < n; i++) t.record(5 + 500 * rng.uniform() ** 3);
  };
  for (let minute = 0; minute < 6; minute++) {
    record(BUSY_PER_MINUTE);
    if (minute < 5) base += 60_000;
  }
  const fifteenSeconds = (): void => record(BUSY_PER_SCRAPE);
  const inOneGo = time(() => prometheusScrape(monitor, { windowSeconds: 300 }), fifteenSeconds);
  const sliced = await timeSliced(
    () => prometheusScrapeInSlices(monitor, { windowSeconds: 300 }),
    fifteenSeconds,
  );
  await monitor.shutdown();
  console.log('\n### Exposition of a busy service\n');
  paragraph(
    `The same ${(COMPONENTS * 100).toLocaleString('en-US')} series, with ${BUSY_PER_MINUTE} ` +
      `samples a minute per timer series over the six sub-windows and ${BUSY_PER_SCRAPE} ` +
      "more before each scrape (15 s of them: Prometheus' default interval), merged by " +
      "the scrape. The monitor's clock runs in real time, so the handler's slices end on " +
      `their 5 ms limit. Median of ${RUNS} scrapes after ${WARMUP} warm-up ones.`,
  );
  console.log(
    table(
      ['Scrape', 'median ms', 'worst ms'],
      [
        medianRow('ours: prometheusScrape (in one go)', inOneGo),
        medianRow("ours: prometheusScrapeInSlices (the handler's path), whole", sliced.ms),
        medianRow('  longest stretch of it without a turn of the event loop', sliced.longest),
      ],
    ),
  );
  console.log();
}

/**
 * A `setImmediate` chain beside the caller's work: `stop()` ends it and returns the
 * longest stretch without a turn of the event loop since it started (ms).
 */
function watchTurns(): { stop(): number } {
  let last = performance.now();
  let stretch = 0;
  let running = true;
  const turn = (): void => {
    const now = performance.now();
    stretch = Math.max(stretch, now - last);
    last = now;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  return {
    stop: () => {
      running = false;
      return Math.max(stretch, performance.now() - last);
    },
  };
}

/** Waits until `done()` holds; returns the longest stretch without a turn meanwhile. */
async function longestStretchUntil(done: () => boolean): Promise<number> {
  const turns = watchTurns();
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 1));
  return turns.stop();
}

/**
 * The REST exporter's export of the suite's 10,000 series (with the window quantiles)
 * to a local HTTP receiver: the longest stretch without a turn of the event loop while
 * the export interval's collection (taken in slices) is read, queued, encoded and
 * posted, against the same with `forceFlush()` (its collection in one go). The
 * monitor's clock runs in real time; one sample per timer series before each export.
 */
async function restCollection(): Promise<void> {
  const rng = new Rng(31);
  const received = { bodies: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.bodies++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const monitor = new Monitor({
    maxSeriesPerMetric: 10_000,
    exportIntervalSeconds: 1,
    exporters: [restExporter({ url: `http://127.0.0.1:${port}`, windowQuantiles: true })],
    exportPipeline: { maxQueueItems: 50_000, maxQueueBytes: 1024 * 1024 * 1024 },
  });
  const timers = addSeries(monitor, PLAIN_COUNTS, PLAIN_LEVELS);
  for (const t of timers)
    for (let i = 0; i < SAMPLES_PER_TIMER; i++) t.record(5 + 500 * rng.uniform() ** 3);
  const exported = (): number => monitor.exportStats()[0]!.exported;
  const interval: number[] = [];
  const flush: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const t of timers) t.record(5 + 500 * rng.uniform() ** 3);
    quickGc();
    // The next interval's collection, through to the exporter taking all of it.
    const before = exported();
    const stretch = await longestStretchUntil(
      () => exported() - before >= 10_000 && monitor.exportStats()[0]!.inFlight === 0,
    );
    if (i >= WARMUP) interval.push(stretch);
  }
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const t of timers) t.record(5 + 500 * rng.uniform() ** 3);
    quickGc();
    let done = false;
    const stretch = longestStretchUntil(() => done);
    await monitor.forceFlush(30);
    done = true;
    if (i >= WARMUP) flush.push(await stretch);
  }
  await monitor.shutdown();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  console.log('\n### The REST export of 10,000 series\n');
  paragraph(
    `The suite's ${(COMPONENTS * 100).toLocaleString('en-US')} series (${SAMPLES_PER_TIMER} samples ` +
      'per timer series, one more before each export) exported by `restExporter` ' +
      '(window quantiles on, gzip) to a local HTTP receiver; the monitor on the system clock. ' +
      'The longest stretch without a turn of the event loop from one export to the exporter ' +
      "having taken all of it: the export interval's collection (in slices), and " +
      `\`forceFlush()\`'s (in one go). Median of ${RUNS} exports after ${WARMUP} warm-up ones ` +
      `(${received.bodies} bodies received).`,
  );
  console.log(
    table(
      ['Export', 'longest stretch, median ms', 'worst ms'],
      [
        medianRow("ours: the export interval's collection (in slices)", interval),
        medianRow('ours: forceFlush() (its collection in one go)', flush),
      ],
    ),
  );
  console.log();
}
