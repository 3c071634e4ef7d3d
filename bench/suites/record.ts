/**
 * Record cost: nanoseconds per recorded value, ours against prom-client,
 * OpenTelemetry and the `tdigest` package, in one process on one value stream.
 *
 * Every case has its own loop function (its own call site, so V8 sees one receiver
 * type there, as in an application), runs WARMUP_ROUNDS untimed loops, then SAMPLES
 * timed loops of OPS records each. Rounds run every case once, in an order rotated
 * each round, with a gc() before each timed loop so no case pays for another's garbage.
 */
import { Monitor } from '@prsm/core';
import { AggregationType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { MetricReaderOptions } from '@opentelemetry/sdk-metrics';
import { Histogram as PromHistogram, Registry, Summary } from 'prom-client';
import { Digest as NpmDigest, TDigest as NpmTDigest } from 'tdigest';
import { lognormalValues } from '../lib/random.js';
import { fixed, heading, nearestRank, nowNs, paragraph, quickGc, table } from '../lib/report.js';

const OPS = 200_000;
const SAMPLES = 15;
const WARMUP_ROUNDS = 3;
const VALUES_SEED = 7;
const VALUE_COUNT = 1 << 16;
const MASK = VALUE_COUNT - 1;
/** lognormal(3, 1): median e^3 ≈ 20, p99 ≈ 205: "milliseconds". */
const V = lognormalValues(VALUE_COUNT, VALUES_SEED);
/** OpenTelemetry's default explicit bucket boundaries, also given to prom-client's Histogram. */
const BUCKETS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const TAG_METRIC = 'bench.unbound';

type Baseline = 'bound' | 'tags';

interface Case {
  readonly label: string;
  readonly library: string;
  /** Set on our own rows: which comparison they anchor. */
  readonly anchor?: Baseline;
  /** Set on peer rows: which of our rows is the like-for-like comparison. */
  readonly versus?: Baseline;
  readonly loop: (ops: number, start: number) => void;
  /** Values the case's instrument says it holds, read after the run (a liveness check). */
  readonly count: () => Promise<number>;
}

/** A reader that is attached (so instruments are live) but never exports by itself. */
class PullReader extends MetricReader {
  constructor(options?: MetricReaderOptions) {
    super(options);
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

async function otelCount(reader: MetricReader, name: string): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  let count = 0;
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints) {
        const value = point.value as { count?: number };
        count += value.count ?? 0;
      }
    }
  }
  return count;
}

async function promCount(metric: Summary | PromHistogram): Promise<number> {
  const data = await metric.get();
  return data.values
    .filter((v) => v.metricName?.endsWith('_count') === true)
    .reduce((a, v) => a + v.value, 0);
}

function npmCount(digest: NpmTDigest): number {
  return digest.toArray().reduce((a, c) => a + c.n, 0);
}

function makeCases(): Case[] {
  const monitor = new Monitor();
  const boundHistogram = monitor.histogram('bench.bound').bind({ a: 'b' });
  const boundTimer = monitor.timer('bench.timer').bind({ a: 'b' });
  const unbound = monitor.histogram(TAG_METRIC);
  const stats = (name: string, tags: Record<string, string>): Promise<number> =>
    Promise.resolve(
      monitor.getStats(name, { tags, windowSeconds: 'cumulative' })?.count ?? Number.NaN,
    );
  const tags3 = { method: 'GET', route: '/x', status: '200' };

  const registry = new Registry();
  const summary = new Summary({ name: 'bench_summary', help: 'h', registers: [registry] });
  const summaryAged = new Summary({
    name: 'bench_summary_aged',
    help: 'h',
    registers: [registry],
    maxAgeSeconds: 600,
    ageBuckets: 5,
  });
  const promHistogram = new PromHistogram({
    name: 'bench_histogram',
    help: 'h',
    registers: [registry],
    buckets: BUCKETS,
  });

  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('bench');
  const otel0 = meter.createHistogram('otel.h0');
  const otel3 = meter.createHistogram('otel.h3');
  const expReader = new PullReader({
    aggregationSelector: () => ({ type: AggregationType.EXPONENTIAL_HISTOGRAM }),
  });
  const expProvider = new MeterProvider({ readers: [expReader] });
  const otelExp = expProvider.getMeter('bench').createHistogram('otel.exp');

  const npmTDigest = new NpmTDigest();
  const npmDigest = new NpmDigest();

  return [
    {
      label: "histogram('h').bind({a:'b'}).record(v)",
      library: 'ours',
      anchor: 'bound',
      loop: (ops, start) => {
        const h = boundHistogram;
        let j = start;
        for (let i = 0; i < ops; i++) {
          h.record(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => stats('bench.bound', { a: 'b' }),
    },
    {
      label: "timer('t').bind({a:'b'}).record(v)",
      library: 'ours',
      loop: (ops, start) => {
        const h = boundTimer;
        let j = start;
        for (let i = 0; i < ops; i++) {
          h.record(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => stats('bench.timer', { a: 'b' }),
    },
    {
      label: "histogram('h').record(v, {route, method, status})",
      library: 'ours',
      anchor: 'tags',
      loop: (ops, start) => {
        const h = unbound;
        let j = start;
        for (let i = 0; i < ops; i++) {
          h.record(V[j]!, { route: '/x', method: 'GET', status: '200' });
          j = (j + 1) & MASK;
        }
      },
      count: () => stats(TAG_METRIC, tags3),
    },
    {
      label: "recordMetric({name, value, metricType:'histogram', tags: 3})",
      library: 'ours',
      loop: (ops, start) => {
        const m = monitor;
        let j = start;
        for (let i = 0; i < ops; i++) {
          m.recordMetric({
            name: 'bench.recordMetric',
            value: V[j]!,
            metricType: 'histogram',
            tags: { route: '/x', method: 'GET', status: '200' },
          });
          j = (j + 1) & MASK;
        }
      },
      count: () => stats('bench.recordMetric', tags3),
    },
    {
      label: 'Summary.observe(v) (default percentiles, no labels)',
      library: 'prom-client 15',
      versus: 'bound',
      loop: (ops, start) => {
        const s = summary;
        let j = start;
        for (let i = 0; i < ops; i++) {
          s.observe(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => promCount(summary),
    },
    {
      label: 'Summary.observe(v) (maxAgeSeconds 600, ageBuckets 5)',
      library: 'prom-client 15',
      versus: 'bound',
      loop: (ops, start) => {
        const s = summaryAged;
        let j = start;
        for (let i = 0; i < ops; i++) {
          s.observe(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => promCount(summaryAged),
    },
    {
      label: 'Histogram.observe(v) (15 buckets, no labels)',
      library: 'prom-client 15',
      versus: 'bound',
      loop: (ops, start) => {
        const h = promHistogram;
        let j = start;
        for (let i = 0; i < ops; i++) {
          h.observe(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => promCount(promHistogram),
    },
    {
      label: 'Histogram.record(v) (0 attributes)',
      library: 'OTel sdk-metrics 2.12',
      versus: 'bound',
      loop: (ops, start) => {
        const h = otel0;
        let j = start;
        for (let i = 0; i < ops; i++) {
          h.record(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => otelCount(reader, 'otel.h0'),
    },
    {
      label: 'Histogram.record(v, {route, method, status})',
      library: 'OTel sdk-metrics 2.12',
      versus: 'tags',
      loop: (ops, start) => {
        const h = otel3;
        let j = start;
        for (let i = 0; i < ops; i++) {
          h.record(V[j]!, { route: '/x', method: 'GET', status: '200' });
          j = (j + 1) & MASK;
        }
      },
      count: () => otelCount(reader, 'otel.h3'),
    },
    {
      label: 'Histogram.record(v) (exponential aggregation, 0 attributes)',
      library: 'OTel sdk-metrics 2.12',
      versus: 'bound',
      loop: (ops, start) => {
        const h = otelExp;
        let j = start;
        for (let i = 0; i < ops; i++) {
          h.record(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => otelCount(expReader, 'otel.exp'),
    },
    {
      label: 'TDigest.push(v) (defaults)',
      library: 'tdigest 0.1.3',
      versus: 'bound',
      loop: (ops, start) => {
        const d = npmTDigest;
        let j = start;
        for (let i = 0; i < ops; i++) {
          d.push(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => Promise.resolve(npmCount(npmTDigest)),
    },
    {
      label: 'Digest.push(v) (defaults)',
      library: 'tdigest 0.1.3',
      versus: 'bound',
      loop: (ops, start) => {
        const d = npmDigest;
        let j = start;
        for (let i = 0; i < ops; i++) {
          d.push(V[j]!);
          j = (j + 1) & MASK;
        }
      },
      count: () => Promise.resolve(npmCount(npmDigest)),
    },
  ];
}

export async function run(): Promise<void> {
  heading('Record cost');
  const cases = makeCases();
  const samples = cases.map((): number[] => []);
  let offset = 0;
  const started = nowNs();
  for (let round = 0; round < WARMUP_ROUNDS; round++) {
    for (const c of cases) c.loop(OPS, (offset = (offset + 4099) & MASK));
  }
  for (let round = 0; round < SAMPLES; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length;
      const c = cases[index]!;
      offset = (offset + 4099) & MASK;
      quickGc();
      const t0 = nowNs();
      c.loop(OPS, offset);
      const t1 = nowNs();
      samples[index]!.push((t1 - t0) / OPS);
    }
  }
  const seconds = (nowNs() - started) / 1e9;

  const medians = samples.map((s) => nearestRank(s, 0.5));
  const p90s = samples.map((s) => nearestRank(s, 0.9));
  const anchorMedian = (b: Baseline): number => {
    const i = cases.findIndex((c) => c.anchor === b);
    return medians[i]!;
  };
  const expected = (WARMUP_ROUNDS + SAMPLES) * OPS;
  const counts = await Promise.all(cases.map((c) => c.count()));
  const rows = cases.map((c, i) => {
    let ratio = '';
    if (c.versus !== undefined) {
      const r = medians[i]! / anchorMedian(c.versus);
      ratio = `${fixed(r, 1)}× ${c.versus === 'bound' ? 'bound' : '3 tags'}`;
    } else if (c.anchor !== undefined) ratio = '(baseline)';
    const live = counts[i] === expected ? 'yes' : `NO: ${counts[i]}`;
    return [c.library, c.label, fixed(medians[i]!, 1), fixed(p90s[i]!, 1), ratio, live];
  });
  paragraph(
    `${SAMPLES} timed samples per case, each a loop of ${OPS.toLocaleString('en-US')} records ` +
      `after ${WARMUP_ROUNDS} warm-up loops; values cycle through ${VALUE_COUNT} pre-generated ` +
      `lognormal(3, 1) numbers (seed ${VALUES_SEED}). Suite wall time ${fixed(seconds, 1)} s.`,
  );
  console.log(
    table(
      ['Library', 'Operation', 'median ns/op', 'p90 ns/op', 'peer ÷ ours', 'all values counted'],
      rows,
    ),
  );
  const bound = anchorMedian('bound');
  const tags = anchorMedian('tags');
  const slower = cases
    .map((c, i) => ({
      c,
      r: c.versus === undefined ? Infinity : medians[i]! / anchorMedian(c.versus),
    }))
    .filter(({ r }) => r <= 1);
  console.log();
  paragraph(
    `Target: ours ≤ 60 ns/op median (bound histogram: ${fixed(bound, 1)} ns, ` +
      `${bound <= 60 ? 'met' : 'MISSED'}; unbound with 3 tags: ${fixed(tags, 1)} ns) and faster ` +
      `than each peer (${slower.length === 0 ? 'met' : `MISSED against ${slower.map(({ c }) => c.label).join(', ')}`}).`,
  );
}
