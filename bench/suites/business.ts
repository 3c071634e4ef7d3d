/**
 * Business outcomes: nanoseconds per call of a sync method decorated with
 * `@recordBusinessOutcome` against the bare method; milliseconds per `dashboard()`
 * with 100 KPIs holding a year of daily periods each; bytes per HyperLogLog counter.
 *
 * The method is `add(a, b) { return a + b + this.k }`, so the call numbers are the
 * cost of recording. Each call case runs WARMUP_ROUNDS untimed loops, then SAMPLES
 * timed loops in an order rotated each round, with a gc() before each timed loop.
 */
import {
  BusinessOutcomes,
  HyperLogLog,
  recordBusinessOutcome,
  setGlobalBusinessOutcomes,
} from '@prsm/business-outcomes';
import { ManualClock, Monitor } from '@prsm/core';
import {
  bytes,
  fixed,
  fullGc,
  heading,
  nearestRank,
  nowNs,
  paragraph,
  quickGc,
  retained,
  table,
} from '../lib/report.js';

const SYNC_OPS = 200_000;
const SAMPLES = 15;
const WARMUP_ROUNDS = 3;
const DASHBOARD_KPIS = 100;
const DAYS = 366;
const DASHBOARD_CALLS = 200;
const SKETCHES = 200;

interface Case {
  readonly label: string;
  readonly anchor?: true;
  readonly before?: () => void;
  readonly loop: (ops: number) => number;
  /** Calls the case's instrument says it saw, after the run (a liveness check). */
  readonly count: () => number;
}

/** Keeps every loop's result alive. */
let sink = 0;

function callCases(): Case[] {
  const monitor = new Monitor();
  const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 0 });
  const boundMonitor = new Monitor();
  const bound = new BusinessOutcomes({ monitor: boundMonitor, publishIntervalSeconds: 0 });
  const counted = (outcome: string, m: Monitor = monitor): number =>
    m.getRates('business.outcome.count', {
      component: 'business',
      tags: { outcome },
      windowSeconds: 'cumulative',
    })?.count ?? 0;

  class Bare {
    k = 1;
    add(a: number, b: number): number {
      return a + b + this.k;
    }
  }
  class Global {
    k = 1;
    @recordBusinessOutcome('bench_global')
    add(a: number, b: number): number {
      return a + b + this.k;
    }
  }
  class Valued {
    k = 1;
    @recordBusinessOutcome('bench_valued', {
      value: (r: number) => r,
      dimension: ['daily', 'monthly'],
    })
    add(a: number, b: number): number {
      return a + b + this.k;
    }
  }
  class Fixed {
    k = 1;
    @recordBusinessOutcome('bench_fixed', { outcomes: bound })
    add(a: number, b: number): number {
      return a + b + this.k;
    }
  }
  class Unset {
    k = 1;
    @recordBusinessOutcome('bench_unset')
    add(a: number, b: number): number {
      return a + b + this.k;
    }
  }
  const bare = new Bare();
  const global = new Global();
  const valued = new Valued();
  const boundOne = new Fixed();
  const unset = new Unset();
  let bareCalls = 0;
  let unsetCalls = 0;
  const useGlobal = (): void => setGlobalBusinessOutcomes(outcomes);
  return [
    {
      label: 'bare method call',
      anchor: true,
      loop: (ops) => {
        const o = bare;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        bareCalls += ops;
        return s;
      },
      count: () => bareCalls,
    },
    {
      label: '@recordBusinessOutcome, global BusinessOutcomes, daily',
      before: useGlobal,
      loop: (ops) => {
        const o = global;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: () => counted('bench_global'),
    },
    {
      label: '@recordBusinessOutcome, value() hook, daily + monthly',
      before: useGlobal,
      loop: (ops) => {
        const o = valued;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: () => counted('bench_valued'),
    },
    {
      label: '@recordBusinessOutcome, `outcomes` option',
      loop: (ops) => {
        const o = boundOne;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        return s;
      },
      count: () => counted('bench_fixed', boundMonitor),
    },
    {
      label: '@recordBusinessOutcome, no BusinessOutcomes set',
      before: () => setGlobalBusinessOutcomes(undefined),
      loop: (ops) => {
        const o = unset;
        let s = 0;
        for (let i = 0; i < ops; i++) s += o.add(i, 1);
        unsetCalls += ops;
        return s;
      },
      count: () => unsetCalls,
    },
  ];
}

function benchCalls(): { overhead: number } {
  const cases = callCases();
  const samples = cases.map((): number[] => []);
  const rounds = new Map<Case, number>();
  const runOnce = (c: Case, timed: boolean): number => {
    c.before?.();
    if (timed) quickGc();
    const t0 = nowNs();
    sink += c.loop(SYNC_OPS);
    const ns = (nowNs() - t0) / SYNC_OPS;
    rounds.set(c, (rounds.get(c) ?? 0) + 1);
    return ns;
  };
  for (let round = 0; round < WARMUP_ROUNDS; round++) for (const c of cases) runOnce(c, false);
  for (let round = 0; round < SAMPLES; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length;
      samples[index]!.push(runOnce(cases[index]!, true));
    }
  }
  setGlobalBusinessOutcomes(undefined);
  const medians = samples.map((s) => nearestRank(s, 0.5));
  const p90s = samples.map((s) => nearestRank(s, 0.9));
  const anchor = medians[cases.findIndex((c) => c.anchor)]!;
  const rows = cases.map((c, i) => {
    const expected = (rounds.get(c) ?? 0) * SYNC_OPS;
    const seen = c.count();
    const live = seen === expected ? 'yes' : `NO: ${seen} of ${expected}`;
    return [
      c.label,
      fixed(medians[i]!, 1),
      fixed(p90s[i]!, 1),
      c.anchor ? '(baseline)' : `+${fixed(medians[i]! - anchor, 1)} ns`,
      live,
    ];
  });
  paragraph(
    `${SAMPLES} timed samples per case after ${WARMUP_ROUNDS} warm-up rounds; a sample is a loop of ` +
      `${SYNC_OPS.toLocaleString('en-US')} calls of \`add(a, b) { return a + b + this.k }\`.`,
  );
  console.log(
    table(['Case', 'median ns/call', 'p90 ns/call', 'vs bare', 'all calls counted'], rows),
  );
  console.log();
  const global = medians[cases.findIndex((c) => c.label.includes('global BusinessOutcomes'))]!;
  return { overhead: global - anchor };
}

function benchDashboard(): { p50: number; p99: number; kpis: number } {
  const clock = new ManualClock(Date.UTC(2024, 0, 1, 12));
  const monitor = new Monitor({ clock });
  const outcomes = new BusinessOutcomes({
    monitor,
    clock,
    maxKpis: DASHBOARD_KPIS + 10,
    publishIntervalSeconds: 0,
    trend: { periods: 30 },
  });
  for (let k = 0; k < DASHBOARD_KPIS; k++) {
    const aggregation = k % 3 === 0 ? 'sum' : k % 3 === 1 ? 'last' : 'mean';
    outcomes.defineKpi({ name: `kpi_${k}`, aggregation, target: 100 + k });
  }
  for (let day = 0; day < DAYS; day++) {
    for (let k = 0; k < DASHBOARD_KPIS; k++) {
      if (k % 3 === 0) outcomes.recordOutcome(`kpi_${k}`, { value: day + k });
      else outcomes.recordMetric({ metricName: `kpi_${k}`, value: 50 + ((day * 7 + k) % 13) });
    }
    clock.advance(86_400_000);
  }
  const times: number[] = [];
  let kpis = 0;
  for (let i = 0; i < 20; i++) kpis = Object.keys(outcomes.dashboard().kpis).length;
  for (let i = 0; i < DASHBOARD_CALLS; i++) {
    const t0 = nowNs();
    const d = outcomes.dashboard();
    times.push((nowNs() - t0) / 1e6);
    sink += d.generated_at.length;
  }
  return { p50: nearestRank(times, 0.5), p99: nearestRank(times, 0.99), kpis };
}

function benchSketchBytes(): { perSketch: number } {
  fullGc();
  const before = retained();
  const sketches: HyperLogLog[] = [];
  for (let i = 0; i < SKETCHES; i++) {
    const sketch = new HyperLogLog();
    for (let u = 0; u < 20_000; u++) sketch.add(`user_${i}_${u}`);
    sketches.push(sketch);
  }
  fullGc();
  const perSketch = (retained() - before) / SKETCHES;
  sink += sketches.reduce((s, h) => s + h.estimate(), 0) > 0 ? 1 : 0;
  return { perSketch };
}

export function run(): Promise<void> {
  heading('Business outcomes');
  const { overhead } = benchCalls();
  const dashboard = benchDashboard();
  const sketch = benchSketchBytes();
  const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  console.log(
    table(
      ['Measure', 'Result', 'Target', ''],
      [
        [
          '@recordBusinessOutcome sync, over bare (median)',
          `+${fixed(overhead, 1)} ns`,
          '≤ 250 ns',
          verdict(overhead <= 250),
        ],
        [
          `dashboard(), ${dashboard.kpis} KPIs × ${DAYS} daily periods (p50 / p99 of ${DASHBOARD_CALLS})`,
          `${fixed(dashboard.p50, 3)} / ${fixed(dashboard.p99, 3)} ms`,
          '≤ 5 ms',
          verdict(dashboard.p50 <= 5),
        ],
        [
          `HyperLogLog retained per counter (${SKETCHES} counters; registers ${HyperLogLog.BYTES} B)`,
          bytes(sketch.perSketch),
          '≤ 16 KiB',
          verdict(sketch.perSketch <= 16 * 1024),
        ],
      ],
    ),
  );
  console.log();
  if (sink === 0.5) console.log(sink); // never true; keeps the loops' results observable
  return Promise.resolve();
}
