/**
 * Decorator overhead: nanoseconds per call of a method decorated with
 * `@monitorPerformance`, against the bare method and against the wrappers a user
 * would write by hand around prom-client, OpenTelemetry metrics and OpenTelemetry
 * tracing, in one process.
 *
 * The method is `add(a, b) { return a + b + this.k }`, so the numbers are the cost of
 * instrumentation. Every case has its own loop function (its own call site), runs
 * WARMUP_ROUNDS untimed loops, then SAMPLES timed loops; rounds run every case once in
 * an order rotated each round, with a gc() before each timed loop. A case's `before`
 * sets the process-wide state it needs (global monitor, tracer provider) outside the
 * timed loop.
 */
import { context, type Context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Monitor, setGlobalMonitor } from '@prsm/core';
import { monitorPerformance } from '@prsm/decorators';
import { Registry, Summary } from 'prom-client';
import { fixed, heading, nearestRank, nowNs, paragraph, quickGc, table } from '../lib/report.js';

const SYNC_OPS = 200_000;
const ASYNC_OPS = 50_000;
const SPAN_OPS = 50_000;
const SAMPLES = 15;
const WARMUP_ROUNDS = 3;

type Group = 'sync' | 'async' | 'span';

interface Case {
  readonly label: string;
  readonly group: Group;
  /** The row others in its group are compared with. */
  readonly anchor?: true;
  readonly ops: number;
  readonly before?: () => void;
  readonly loop: (ops: number) => number | Promise<number>;
  /** Calls the case's instrument says it saw, after the run (a liveness check). */
  readonly count: () => Promise<number>;
}

/** Keeps every loop's result alive. */
let sink = 0;

/** Counts ended spans by name: a processor that exports nothing. */
class CountingProcessor implements SpanProcessor {
  readonly ended = new Map<string, number>();
  onStart(_span: Span, _parentContext: Context): void {}
  onEnd(span: ReadableSpan): void {
    this.ended.set(span.name, (this.ended.get(span.name) ?? 0) + 1);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A reader that keeps the instruments live and never exports by itself. */
class PullReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

function makeCases(): { cases: Case[]; close: () => Promise<void> } {
  const monitor = new Monitor();
  const calls = (operation: string): Promise<number> =>
    Promise.resolve(
      monitor.getRates('operation.calls', {
        component: 'bench',
        tags: { operation },
        windowSeconds: 'cumulative',
      })?.count ?? 0,
    );

  const processor = new CountingProcessor();
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  const contextManager = new AsyncLocalStorageContextManager();
  let tracing = false;
  const setTracing = (on: boolean): void => {
    if (on === tracing) return;
    if (on) {
      trace.setGlobalTracerProvider(provider);
      context.setGlobalContextManager(contextManager.enable());
    } else {
      trace.disable();
      context.disable();
    }
    tracing = on;
  };
  const useMonitor = (): void => setGlobalMonitor(monitor);

  class Bare {
    k = 1;
    add(a: number, b: number): number {
      return a + b + this.k;
    }
    async addLater(a: number, b: number): Promise<number> {
      return Promise.resolve(a + b + this.k);
    }
  }
  class MetricsOnly {
    k = 1;
    @monitorPerformance('bench', 'metrics.add', { trace: false })
    add(a: number, b: number): number {
      return a + b + this.k;
    }
    @monitorPerformance('bench', 'metrics.addLater', { trace: false })
    async addLater(a: number, b: number): Promise<number> {
      return Promise.resolve(a + b + this.k);
    }
  }
  class Defaults {
    k = 1;
    @monitorPerformance('bench', 'defaults.add')
    add(a: number, b: number): number {
      return a + b + this.k;
    }
  }
  class Untraced {
    k = 1;
    @monitorPerformance('bench', 'untraced.add')
    add(a: number, b: number): number {
      return a + b + this.k;
    }
  }
  class Traced {
    k = 1;
    @monitorPerformance('bench', 'traced.add')
    add(a: number, b: number): number {
      return a + b + this.k;
    }
  }

  // The undecorated method, called by the hand-written wrappers as a wrapper would.
  const original = (self: { k: number }, a: number, b: number): number => a + b + self.k;

  const registry = new Registry();
  const summary = new Summary({ name: 'bench_add_ms', help: 'h', registers: [registry] });
  class PromWrapped {
    k = 1;
    add(a: number, b: number): number {
      const start = performance.now();
      try {
        return original(this, a, b);
      } finally {
        summary.observe(performance.now() - start);
      }
    }
  }

  const reader = new PullReader();
  const histogram = new MeterProvider({ readers: [reader] })
    .getMeter('bench')
    .createHistogram('bench.add.duration');
  class OtelWrapped {
    k = 1;
    add(a: number, b: number): number {
      const start = performance.now();
      try {
        return original(this, a, b);
      } finally {
        histogram.record(performance.now() - start, {
          component: 'bench',
          operation: 'otel.add',
          outcome: 'ok',
        });
      }
    }
  }

  const tracer = provider.getTracer('bench');
  // The attributes our spans carry, so both span rows record the same span.
  const spanOptions = {
    attributes: { 'prsm.component': 'bench', 'code.function': 'add', 'code.namespace': 'Manual' },
  };
  class SpanWrapped {
    k = 1;
    add(a: number, b: number): number {
      return tracer.startActiveSpan('manual.add', spanOptions, (span) => {
        try {
          return original(this, a, b);
        } finally {
          span.end();
        }
      });
    }
  }

  const bare = new Bare();
  const metricsOnly = new MetricsOnly();
  const defaults = new Defaults();
  const untraced = new Untraced();
  const traced = new Traced();
  const promWrapped = new PromWrapped();
  const otelWrapped = new OtelWrapped();
  const spanWrapped = new SpanWrapped();

  let bareCalls = 0;
  let bareAsyncCalls = 0;
  let noopCalls = 0;

  const close = async (): Promise<void> => {
    setTracing(false);
    setGlobalMonitor(undefined);
    await provider.shutdown();
    await monitor.shutdown();
  };

  const cases: Case[] = [
    {
      label: 'bare method call',
      group: 'sync',
      anchor: true,
      ops: SYNC_OPS,
      loop: (ops) => {
        const o = bare;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        bareCalls += ops;
        return s;
      },
      count: () => Promise.resolve(bareCalls),
    },
    {
      label: '@monitorPerformance, metrics only (trace: false)',
      group: 'sync',
      ops: SYNC_OPS,
      before: useMonitor,
      loop: (ops) => {
        const o = metricsOnly;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: () => calls('metrics.add'),
    },
    {
      label: '@monitorPerformance, no monitor configured (NoopMonitor)',
      group: 'sync',
      ops: SYNC_OPS,
      before: () => setGlobalMonitor(undefined),
      loop: (ops) => {
        const o = defaults;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        noopCalls += ops;
        return s;
      },
      count: () => Promise.resolve(noopCalls),
    },
    {
      label: '@monitorPerformance, default options, no tracer provider registered',
      group: 'sync',
      ops: SYNC_OPS,
      before: () => {
        useMonitor();
        setTracing(false);
      },
      loop: (ops) => {
        const o = untraced;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: () => calls('untraced.add'),
    },
    {
      label: 'hand-written: 2 × performance.now() + prom-client Summary.observe',
      group: 'sync',
      ops: SYNC_OPS,
      loop: (ops) => {
        const o = promWrapped;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: async () => {
        const data = await summary.get();
        return data.values.find((v) => v.metricName === 'bench_add_ms_count')?.value ?? NaN;
      },
    },
    {
      label: 'hand-written: 2 × performance.now() + OTel Histogram.record (3 attributes)',
      group: 'sync',
      ops: SYNC_OPS,
      loop: (ops) => {
        const o = otelWrapped;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: async () => {
        const { resourceMetrics } = await reader.collect();
        let count = 0;
        for (const scope of resourceMetrics.scopeMetrics) {
          for (const metric of scope.metrics) {
            for (const point of metric.dataPoints) {
              count += (point.value as { count?: number }).count ?? 0;
            }
          }
        }
        return count;
      },
    },
    {
      label: 'bare async method, awaited',
      group: 'async',
      anchor: true,
      ops: ASYNC_OPS,
      loop: async (ops) => {
        const o = bare;
        let s = 0;
        for (let i = 0; i < ops; i++) s += await o.addLater(i, 1);
        bareAsyncCalls += ops;
        return s;
      },
      count: () => Promise.resolve(bareAsyncCalls),
    },
    {
      label: '@monitorPerformance async, metrics only (trace: false), awaited',
      group: 'async',
      ops: ASYNC_OPS,
      before: useMonitor,
      loop: async (ops) => {
        const o = metricsOnly;
        let s = 0;
        for (let i = 0; i < ops; i++) s += await o.addLater(i, 1);
        return s;
      },
      count: () => calls('metrics.addLater'),
    },
    {
      label: 'hand-written: tracer.startActiveSpan wrapper (same 3 attributes)',
      group: 'span',
      anchor: true,
      ops: SPAN_OPS,
      before: () => setTracing(true),
      loop: (ops) => {
        const o = spanWrapped;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: () => Promise.resolve(processor.ended.get('manual.add') ?? 0),
    },
    {
      label: '@monitorPerformance, metrics + span (SDK BasicTracerProvider, ALS)',
      group: 'span',
      ops: SPAN_OPS,
      before: () => {
        useMonitor();
        setTracing(true);
      },
      loop: (ops) => {
        const o = traced;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: () => Promise.resolve(processor.ended.get('traced.add') ?? 0),
    },
  ];
  return { cases, close };
}

export async function run(): Promise<void> {
  heading('Decorator overhead');
  const { cases, close } = makeCases();
  const samples = cases.map((): number[] => []);
  const rounds = new Map<Case, number>();
  const started = nowNs();
  const runOnce = async (c: Case, timed: boolean): Promise<number> => {
    c.before?.();
    if (timed) quickGc();
    const t0 = nowNs();
    sink += await c.loop(c.ops);
    const ns = (nowNs() - t0) / c.ops;
    rounds.set(c, (rounds.get(c) ?? 0) + 1);
    return ns;
  };
  for (let round = 0; round < WARMUP_ROUNDS; round++) {
    for (const c of cases) await runOnce(c, false);
  }
  for (let round = 0; round < SAMPLES; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length;
      samples[index]!.push(await runOnce(cases[index]!, true));
    }
  }
  const seconds = (nowNs() - started) / 1e9;

  const medians = samples.map((s) => nearestRank(s, 0.5));
  const p90s = samples.map((s) => nearestRank(s, 0.9));
  const anchorOf = (group: Group): number =>
    medians[cases.findIndex((c) => c.anchor && c.group === group)]!;
  const medianOf = (label: string): number => medians[cases.findIndex((c) => c.label === label)]!;
  const counts = await Promise.all(cases.map((c) => c.count()));
  const rows = cases.map((c, i) => {
    const expected = (rounds.get(c) ?? 0) * c.ops;
    const anchor = anchorOf(c.group);
    const versus = c.anchor
      ? '(baseline)'
      : c.group === 'span'
        ? `${fixed(medians[i]! / anchor, 2)}×`
        : `+${fixed(medians[i]! - anchor, 1)} ns`;
    const live = counts[i] === expected ? 'yes' : `NO: ${counts[i]} of ${expected}`;
    return [c.group, c.label, fixed(medians[i]!, 1), fixed(p90s[i]!, 1), versus, live];
  });
  paragraph(
    `${SAMPLES} timed samples per case after ${WARMUP_ROUNDS} warm-up rounds; a sample is a loop ` +
      `of ${SYNC_OPS.toLocaleString('en-US')} calls (sync), ${ASYNC_OPS.toLocaleString('en-US')} ` +
      `awaited calls (async) or ${SPAN_OPS.toLocaleString('en-US')} calls (spans). ` +
      `The method is \`add(a, b) { return a + b + this.k }\`. Suite wall time ${fixed(seconds, 1)} s.`,
  );
  console.log(
    table(
      ['Group', 'Case', 'median ns/call', 'p90 ns/call', 'vs baseline', 'all calls counted'],
      rows,
    ),
  );

  const bare = anchorOf('sync');
  const metrics = medianOf('@monitorPerformance, metrics only (trace: false)');
  const noop = medianOf('@monitorPerformance, no monitor configured (NoopMonitor)');
  const prom = medianOf('hand-written: 2 × performance.now() + prom-client Summary.observe');
  const otel = medianOf(
    'hand-written: 2 × performance.now() + OTel Histogram.record (3 attributes)',
  );
  const asyncOver =
    medianOf('@monitorPerformance async, metrics only (trace: false), awaited') - anchorOf('async');
  // Span rows vary by ±5% between runs on a shared VM; the ratio of the two rows of
  // each round (measured back to back) is steadier than the ratio of their medians.
  const samplesOf = (label: string): number[] =>
    samples[cases.findIndex((c) => c.label === label)]!;
  const ours = samplesOf('@monitorPerformance, metrics + span (SDK BasicTracerProvider, ALS)');
  const manual = samplesOf('hand-written: tracer.startActiveSpan wrapper (same 3 attributes)');
  const spanRatio = nearestRank(
    ours.map((v, i) => v / manual[i]!),
    0.5,
  );
  const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  console.log();
  paragraph(
    [
      `Targets: metrics only ≤ 200 ns over bare (+${fixed(metrics - bare, 1)} ns, ${verdict(metrics - bare <= 200)}) ` +
        `and faster than both hand-written metric wrappers (${verdict(metrics < prom && metrics < otel)});`,
      `async ≤ 300 ns over bare async (+${fixed(asyncOver, 1)} ns, ${verdict(asyncOver <= 300)});`,
      `with a real tracer ≤ 1.15× the hand-written startActiveSpan wrapper (median of the per-round ratios ${fixed(spanRatio, 2)}×, ${verdict(spanRatio <= 1.15)});`,
      `no monitor ≤ 20 ns over bare (+${fixed(noop - bare, 1)} ns, ${verdict(noop - bare <= 20)}).`,
    ].join(' '),
  );
  if (sink === 0.5) console.log(sink); // never true; keeps the loops' results observable
  await close();
}
