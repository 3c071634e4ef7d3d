import { afterEach, describe, expect, it } from 'vitest';
import { readComponentSpecific } from '../analytics/component-specific.js';
import { snapshotSource } from '../analytics/source.js';
import { ManualClock } from '../clock/clock.js';
import type { ExportItem } from '../export/items.js';
import type { Exporter } from '../export/pipeline.js';
import { Monitor } from '../monitor.js';
import { efficiencyTrend } from './efficiency.js';
import type { JobProbes } from './jobs.js';
import { MonitoringComponent } from './names.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30);
let monitor: Monitor | undefined;

afterEach(async () => {
  await monitor?.shutdown();
  monitor = undefined;
});

/** The process's CPU time and memory, scripted by the test (the real ones are noise). */
function probes(): JobProbes & { cpu: number; rss: number } {
  const p = {
    cpu: 0,
    rss: 2e9,
    cpuMicros: () => p.cpu,
    rssBytes: () => p.rss,
  };
  return p;
}

function setup(efficiency: Record<string, unknown> = {}): {
  m: Monitor;
  clock: ManualClock;
  p: ReturnType<typeof probes>;
} {
  const clock = new ManualClock(T0);
  const p = probes();
  const m = new Monitor({
    clock,
    alerting: { evaluationIntervalSeconds: 0 },
    costs: { computePerHour: 3.6, efficiency: { probes: p, periodSeconds: 60, ...efficiency } },
  });
  monitor = m;
  return { m, clock, p };
}

/** Records `n` operations of `component` (one timer). */
function work(m: Monitor, component: string, n: number): void {
  const timer = m.timer('handle', { component });
  for (let i = 0; i < n; i++) timer.record(5);
}

describe('efficiencyTrend (pure)', () => {
  it('classifies rising, falling and flat series, and noise as stable', () => {
    const x = [0, 1, 2, 3, 4, 5, 6, 7];
    expect(efficiencyTrend(x, [10, 11, 12, 13, 14, 15, 16, 17]).trend).toBe('increasing');
    expect(efficiencyTrend(x, [17, 16, 15, 14, 13, 12, 11, 10]).trend).toBe('decreasing');
    expect(efficiencyTrend(x, [10, 10, 10, 10, 10, 10, 10, 10]).trend).toBe('stable');
    // Noise around 100 (±3%): no significant slope.
    expect(efficiencyTrend(x, [100, 103, 97, 101, 99, 102, 98, 100]).trend).toBe('stable');
    // Significant but too small to matter (2% over the window): stable.
    const tiny = x.map((i) => 100 + i * 0.3);
    expect(efficiencyTrend(x, tiny).trend).toBe('stable');
    expect(efficiencyTrend(x, tiny, { minRelativeChange: 0.01 }).trend).toBe('increasing');
    // Too few values (NaN skipped): stable.
    expect(efficiencyTrend(x, [1, 2, 3, NaN, NaN, NaN, NaN, NaN]).trend).toBe('stable');
  });
});

describe('monitor.costs.efficiency', () => {
  it('classifies a rising, a falling and a flat component right, in analytics, the report and the exported gauges', () => {
    const { m, clock, p } = setup({ periods: 12 });
    let seed = 11;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let period = 0; period < 12; period++) {
      work(m, MonitoringComponent.API_GATEWAY, 300 + 30 * period); // rising load, same CPU
      work(m, MonitoringComponent.MARKETPLACE, 600 - 30 * period); // falling
      work(m, MonitoringComponent.RECOMMENDATION, 200 + Math.round((rand() - 0.5) * 8)); // flat ±2%
      p.cpu += 30e6; // 30 CPU-seconds a minute (half a core)
      clock.advance(60_000);
      m.costs.efficiency(); // closes the period
    }
    const api = m.costs.efficiency(MonitoringComponent.API_GATEWAY)!;
    expect(api.periods).toBe(12);
    expect(api.latest_requests).toBe(300 + 30 * 11);
    expect(api.requests_per_cpu_second.latest).toBeCloseTo(630 / 30, 9);
    expect(api.requests_per_cpu_second.trend).toBe('increasing');
    expect(api.requests_per_cpu_second.slope_per_period).toBeCloseTo(1, 9); // 30 more / 30 CPU-s
    // 630 requests in 60 s with 2 GB resident: 5.25 requests/s per GB.
    expect(api.requests_per_gb_second.latest).toBeCloseTo(630 / 60 / 2, 9);
    expect(api.requests_per_gb_second.trend).toBe('increasing');
    // $3.60 an hour = $0.06 a minute over 630 requests: $0.0952 per 1,000.
    expect(api.cost_per_1k_requests.latest).toBeCloseTo((0.06 / 630) * 1000, 9);
    expect(api.cost_per_1k_requests.trend).toBe('decreasing');

    const market = m.costs.efficiency(MonitoringComponent.MARKETPLACE)!;
    expect(market.requests_per_cpu_second.trend).toBe('decreasing');
    expect(market.requests_per_gb_second.trend).toBe('decreasing');
    expect(market.cost_per_1k_requests.trend).toBe('increasing');

    const reco = m.costs.efficiency(MonitoringComponent.RECOMMENDATION)!;
    expect(reco.requests_per_cpu_second.trend).toBe('stable');
    expect(reco.requests_per_gb_second.trend).toBe('stable');
    expect(reco.cost_per_1k_requests.trend).toBe('stable');

    // analytics({ component }).component_specific
    const specific = m.analytics({ component: MonitoringComponent.API_GATEWAY }).component_specific;
    expect(specific['efficiency_requests_per_cpu_second']).toBeCloseTo(21, 6);
    expect(specific['efficiency_requests_per_cpu_second_trend']).toBe(1);
    expect(specific['efficiency_cost_per_1k_requests_trend']).toBe(-1);
    expect(
      m.analytics({ component: MonitoringComponent.MARKETPLACE }).component_specific[
        'efficiency_requests_per_cpu_second_trend'
      ],
    ).toBe(-1);
    expect(
      m.analytics({ component: MonitoringComponent.RECOMMENDATION }).component_specific[
        'efficiency_requests_per_gb_second_trend'
      ],
    ).toBe(0);

    // monitor.costs output
    const report = m.costs.report();
    expect(report.efficiency.map((e) => e.component).sort()).toEqual([
      'api_gateway',
      'marketplace',
      'recommendation',
    ]);

    // Exported series (what Prometheus, OTLP and the REST exporter send).
    const series = m.snapshot({ windows: [], digests: false, cumulativeQuantiles: false }).series;
    const gauge = (component: string, name: string, figure?: string): number | undefined => {
      const s = series.find(
        (x) =>
          x.type === 'gauge' &&
          x.component === component &&
          x.name === name &&
          (figure === undefined || x.tags['figure'] === figure),
      );
      return s?.type === 'gauge' ? s.value : undefined;
    };
    expect(gauge('api_gateway', 'efficiency.requests_per_cpu_second')).toBeCloseTo(21, 9);
    expect(gauge('api_gateway', 'efficiency.trend', 'requests_per_cpu_second')).toBe(1);
    expect(gauge('marketplace', 'efficiency.trend', 'requests_per_cpu_second')).toBe(-1);
    expect(gauge('recommendation', 'efficiency.trend', 'requests_per_cpu_second')).toBe(0);
    expect(gauge('marketplace', 'efficiency.cost_per_1k_requests')).toBeCloseTo(
      (0.06 / 270) * 1000,
      9,
    );
  });

  it('sees efficiency fall when the same load takes more CPU and memory, and recover as stable', () => {
    const { m, clock, p } = setup({ periods: 8 });
    for (let period = 0; period < 8; period++) {
      work(m, MonitoringComponent.API_GATEWAY, 600);
      p.cpu += (20 + 4 * period) * 1e6; // 20, 24, 28... CPU-seconds for the same 600 requests
      p.rss += 0.25e9; // a leak: 2 GB → 4 GB
      clock.advance(60_000);
      m.costs.efficiency();
    }
    let e = m.costs.efficiency('api_gateway')!;
    expect(e.requests_per_cpu_second.trend).toBe('decreasing');
    expect(e.requests_per_gb_second.trend).toBe('decreasing');
    expect(e.cost_per_1k_requests.trend).toBe('stable'); // same requests, same price
    // The fix ships: 8 flat periods push the slope out of the window.
    for (let period = 0; period < 8; period++) {
      work(m, MonitoringComponent.API_GATEWAY, 600);
      p.cpu += 20e6;
      clock.advance(60_000);
      m.costs.efficiency();
    }
    e = m.costs.efficiency('api_gateway')!;
    expect(e.requests_per_cpu_second.trend).toBe('stable');
    expect(e.requests_per_cpu_second.latest).toBeCloseTo(30, 9);
  });

  it('skips idle periods and unknown CPU, closes periods only when due, and bounds its components', () => {
    const { m, clock, p } = setup({ maxComponents: 2 });
    work(m, 'a', 10);
    clock.advance(30_000);
    expect(m.costs.efficiency('a')).toBeUndefined(); // not a period yet
    clock.advance(30_000);
    p.cpu += 1e6;
    expect(m.costs.efficiency('a')!.requests_per_cpu_second.latest).toBe(10);
    clock.advance(60_000); // idle: no value, the latest stays
    const idle = m.costs.efficiency('a')!;
    expect(idle.latest_requests).toBe(0);
    expect(idle.requests_per_cpu_second.periods).toBe(1);
    work(m, 'a', 10);
    clock.advance(60_000); // no CPU used: no per-CPU value, the memory one is there
    const noCpu = m.costs.efficiency('a')!;
    expect(noCpu.requests_per_cpu_second.periods).toBe(1);
    expect(noCpu.requests_per_gb_second.periods).toBe(2);
    work(m, 'b', 1);
    work(m, 'c', 1);
    clock.advance(60_000);
    m.costs.efficiency();
    expect(m.costs.efficiency('c')).toBeUndefined();
    expect(m.diagnostics.counts()['PRSM_METRIC_LIMIT']).toBeGreaterThanOrEqual(1);
  });

  it('goes out with each export: a server reading the exported series alone sees the figures and trends', async () => {
    const exported: ExportItem[] = [];
    const exporter: Exporter<ExportItem> = {
      name: 'memory',
      export: (batch) => {
        exported.push(...batch.items);
        return Promise.resolve({ ok: true });
      },
      shutdown: () => Promise.resolve(),
    };
    const clock = new ManualClock(T0);
    const p = probes();
    const m = new Monitor({
      clock,
      alerting: { evaluationIntervalSeconds: 0 },
      exporters: [exporter],
      costs: { computePerHour: 3.6, efficiency: { probes: p, periodSeconds: 60 } },
    });
    monitor = m;
    for (let period = 0; period < 8; period++) {
      work(m, MonitoringComponent.API_GATEWAY, 600);
      p.cpu += (20 + 5 * period) * 1e6; // more CPU for the same work
      clock.advance(60_000);
      await m.forceFlush(1); // the export closes the period (no read needed)
    }
    const names = new Set(
      exported.flatMap((i) =>
        i.kind === 'series' ? [`${i.series.component}/${i.series.name}`] : [],
      ),
    );
    expect(names).toContain('api_gateway/efficiency.requests_per_cpu_second');
    expect(names).toContain('api_gateway/efficiency.trend');
    expect(names).toContain('api_gateway/component_specific.efficiency_requests_per_cpu_second');
    // What a server computes from those series alone (no helpers).
    const reading = snapshotSource(m).read('api_gateway', 300, 'none', clock.now());
    const specific = readComponentSpecific(reading);
    expect(specific['efficiency_requests_per_cpu_second']).toBeCloseTo(600 / 55, 5);
    expect(specific).toMatchObject({
      efficiency_requests_per_cpu_second_trend: -1,
      efficiency_cost_per_1k_requests_trend: 0,
    });
  });

  it('checks its options at construction', () => {
    const clock = new ManualClock(T0);
    expect(() => new Monitor({ clock, costs: { efficiency: { periods: 2 } } })).toThrow(
      /costs\.efficiency\.periods/,
    );
    expect(() => new Monitor({ clock, costs: { efficiency: { periodSeconds: 0 } } })).toThrow(
      TypeError,
    );
    expect(() => new Monitor({ clock, costs: { efficiency: { probes: {} as never } } })).toThrow(
      /efficiency\.probes/,
    );
    const m = new Monitor({ clock });
    monitor = m;
    expect(() => m.costs.configure({ efficiency: {} })).toThrow(/construction/);
  });
});
