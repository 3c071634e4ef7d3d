import { ManualClock, Monitor, type MonitorSnapshot, type SeriesSnapshot } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { prometheusScrape } from './handler.js';

/** The handler's body, as text. */
const scrapeText = (...args: Parameters<typeof prometheusScrape>): string =>
  prometheusScrape(...args).toString('utf8');
import {
  escapeLabelValue,
  sanitizeLabelName,
  sanitizeMetricName,
  toPrometheusText,
} from './text.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

const monitors: Monitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function makeMonitor(): { monitor: Monitor; clock: ManualClock } {
  const clock = new ManualClock(T0);
  const monitor = new Monitor({ clock, defaultComponent: 'api_gateway', windows: [60, 300] });
  monitors.push(monitor);
  return { monitor, clock };
}

/** A snapshot with hand-made series, for shapes a monitor will not produce on demand. */
function snapshotOf(series: SeriesSnapshot[]): MonitorSnapshot {
  return { timestamp: T0, windows: [60], series, diagnostics: {} };
}

function gauge(name: string, value: number, more: Partial<SeriesSnapshot> = {}): SeriesSnapshot {
  return {
    type: 'gauge',
    name,
    component: 'c',
    tags: {},
    labels: {},
    overflow: false,
    unit: '',
    description: '',
    value,
    ...more,
  } as SeriesSnapshot;
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

describe('sanitising and escaping', () => {
  it('sanitises metric names to [a-zA-Z_:][a-zA-Z0-9_:]*', () => {
    expect(sanitizeMetricName('http.server.request-duration')).toBe('http_server_request_duration');
    expect(sanitizeMetricName('ns:rule.x')).toBe('ns:rule_x');
    expect(sanitizeMetricName('9lives')).toBe('_9lives');
    expect(sanitizeMetricName('__internal')).toBe('_internal');
    expect(sanitizeMetricName('')).toBe('_');
    expect(sanitizeMetricName('café')).toBe('caf_');
  });

  it('sanitises label names to [a-zA-Z_][a-zA-Z0-9_]* and avoids the reserved __ prefix', () => {
    expect(sanitizeLabelName('prsm.overflow')).toBe('prsm_overflow');
    expect(sanitizeLabelName('a:b')).toBe('a_b');
    expect(sanitizeLabelName('__name__')).toBe('_name__');
    expect(sanitizeLabelName('1st')).toBe('_1st');
  });

  it('escapes backslash, double quote and newline in label values', () => {
    expect(escapeLabelValue('C:\\tmp "x"\nnext')).toBe('C:\\\\tmp \\"x\\"\\nnext');
  });

  it('escapes label values and HELP in the output (HELP quotes only in OpenMetrics)', () => {
    const snap = snapshotOf([
      gauge('g', 1, { tags: { path: 'a"b\\c\nd' }, description: 'say "hi"\\ \nbye' }),
    ]);
    const text = toPrometheusText(snap);
    expect(text).toContain('g{component="c",path="a\\"b\\\\c\\nd"} 1\n');
    expect(text).toContain('# HELP g say "hi"\\\\ \\nbye\n');
    const om = toPrometheusText(snap, { format: 'openmetrics' });
    expect(om).toContain('# HELP g say \\"hi\\"\\\\ \\nbye\n');
  });
});

describe('toPrometheusText, text format 0.0.4', () => {
  it('writes counters with _total, gauges plain, one HELP and TYPE per family', () => {
    const { monitor } = makeMonitor();
    const orders = monitor.counter('orders.created', { description: 'Orders placed' });
    orders.bind({ tier: 'free' }).inc(7);
    orders.bind({ tier: 'pro' }).inc(2);
    monitor.counter('jobs_total').bind().inc(1);
    monitor.gauge('queue.depth').bind().set(3.5);

    const text = toPrometheusText(monitor.snapshot());
    expect(lines(text)).toEqual(
      expect.arrayContaining([
        '# HELP orders_created_total Orders placed',
        '# TYPE orders_created_total counter',
        'orders_created_total{component="api_gateway",tier="free"} 7',
        'orders_created_total{component="api_gateway",tier="pro"} 2',
        '# TYPE jobs_total counter',
        'jobs_total{component="api_gateway"} 1',
        '# TYPE queue_depth gauge',
        'queue_depth{component="api_gateway"} 3.5',
      ]),
    );
    expect(text.match(/^# TYPE orders_created_total /gm)).toHaveLength(1);
    expect(text.match(/^# HELP orders_created_total /gm)).toHaveLength(1);
    expect(text).not.toContain('jobs_total_total');
    expect(text).not.toContain('# EOF');
  });

  it('writes timers as summaries in seconds over the window, with cumulative _sum and _count', () => {
    const { monitor, clock } = makeMonitor();
    const latency = monitor.timer('api.latency_ms').bind({ route: '/users/:id' });
    for (let i = 1; i <= 100; i++) latency.record(i * 10);
    // Three minutes later the 60 s window holds only the new sample; cumulative all.
    clock.advance(180_000);
    latency.record(2000);

    const snap = monitor.snapshot();
    const series = snap.series.find((s) => s.name === 'api.latency_ms');
    if (series?.type !== 'timer') throw new Error('no timer');
    const labels = 'component="api_gateway",route="/users/:id"';
    const text = toPrometheusText(snap);
    expect(text).toContain('# TYPE api_latency_seconds summary\n');
    expect(text).toContain(`api_latency_seconds{${labels},quantile="0.5"} 2\n`);
    expect(text).toContain(`api_latency_seconds_sum{${labels}} ${(50_500 + 2000) / 1000}\n`);
    expect(text).toContain(`api_latency_seconds_count{${labels}} 101\n`);

    // The 300 s window still sees all of it: its quantiles, in seconds.
    const text300 = toPrometheusText(snap, { windowSeconds: 300 });
    for (const { quantile, value } of series.windows[1]!.quantiles) {
      expect(text300).toContain(
        `api_latency_seconds{${labels},quantile="${quantile}"} ${value / 1000}\n`,
      );
    }
    expect(series.windows[1]!.quantiles.find((q) => q.quantile === 0.5)!.value).toBeLessThan(1000);
  });

  it('keeps histograms in their own unit', () => {
    const { monitor } = makeMonitor();
    monitor.histogram('http.response.size', { unit: 'By' }).bind().record(512);
    const text = toPrometheusText(monitor.snapshot());
    expect(text).toContain('http_response_size{component="api_gateway",quantile="0.5"} 512\n');
    expect(text).toContain('http_response_size_sum{component="api_gateway"} 512\n');
  });

  it('leaves out the quantiles of an empty window, keeps _sum and _count', () => {
    const { monitor, clock } = makeMonitor();
    monitor.timer('idle').bind().record(5);
    clock.advance(10 * 60_000); // past every window
    const text = toPrometheusText(monitor.snapshot());
    expect(text).not.toMatch(/NaN/);
    expect(text).not.toContain('quantile=');
    expect(text).toContain('idle_seconds_sum{component="api_gateway"} 0.005\n');
    expect(text).toContain('idle_seconds_count{component="api_gateway"} 1\n');
  });

  it('exposes the overflow series with prsm_overflow="true"', () => {
    const clock = new ManualClock(T0);
    const monitor = new Monitor({ clock, defaultComponent: 'api', maxSeriesPerMetric: 2 });
    monitors.push(monitor);
    const hits = monitor.counter('hits');
    for (const user of ['a', 'b', 'c', 'd']) hits.bind({ user }).inc();
    const text = toPrometheusText(monitor.snapshot());
    expect(text).toMatch(/^hits_total\{component="[^"]*",prsm_overflow="true"\} 2$/m);
  });

  it('renames tags that clash with its own labels and drops empty ones', () => {
    const snap = snapshotOf([
      gauge('g', 1, { tags: { component: 'x', quantile: 'q', le: '1', empty: '' } }),
    ]);
    expect(toPrometheusText(snap)).toContain(
      'g{component="c",exported_component="x",exported_le="1",exported_quantile="q"} 1\n',
    );
  });

  it('disambiguates families whose names sanitise alike, never merging them', () => {
    const summary = {
      ...gauge('x', 0),
      type: 'histogram',
      cumulative: { sum: 4, count: 2 },
      windows: [{ quantiles: [{ quantile: 0.5, value: 2 }], exemplars: [] }],
    } as unknown as SeriesSnapshot;
    const snap = snapshotOf([
      gauge('api_latency', 2),
      gauge('api.latency', 1),
      gauge('x_count', 5),
      summary,
    ]);
    const text = toPrometheusText(snap);
    // Sorted by original name: "api.latency" < "api_latency", "x" < "x_count".
    expect(lines(text)).toEqual(
      expect.arrayContaining([
        'api_latency{component="c"} 1',
        'api_latency_2{component="c"} 2',
        'x{component="c",quantile="0.5"} 2',
        'x_count{component="c"} 2',
        '# TYPE x_count_2 gauge',
        'x_count_2{component="c"} 5',
      ]),
    );
    const types = text.match(/^# TYPE \S+/gm) ?? [];
    expect(types).toHaveLength(4);
    expect(new Set(types).size).toBe(4);
  });

  it('labels each summary with its own quantiles when series of one snapshot ask for different ones', () => {
    const summary = (name: string, qs: [number, number][]): SeriesSnapshot =>
      ({
        ...gauge(name, 0),
        type: 'histogram',
        cumulative: { sum: 4, count: 2 },
        windows: [
          { quantiles: qs.map(([quantile, value]) => ({ quantile, value })), exemplars: [] },
        ],
      }) as unknown as SeriesSnapshot;
    const snap = snapshotOf([
      summary('a', [
        [0.5, 1],
        [0.99, 3],
      ]),
      summary('b', [
        [0.9, 2],
        [0.999, 4],
      ]),
      summary('c', [[0.5, 5]]),
    ]);
    const got = lines(toPrometheusText(snap)).filter((line) => line.includes('quantile='));
    expect(got).toEqual([
      'a{component="c",quantile="0.5"} 1',
      'a{component="c",quantile="0.99"} 3',
      'b{component="c",quantile="0.9"} 2',
      'b{component="c",quantile="0.999"} 4',
      'c{component="c",quantile="0.5"} 5',
    ]);
  });

  it('keeps the first of two series whose labels sanitise alike', () => {
    const snap = snapshotOf([
      gauge('g', 1, { tags: { 'a.b': 'v' } }),
      gauge('g', 2, { tags: { a_b: 'v' } }),
    ]);
    expect(lines(toPrometheusText(snap)).filter((l) => l.startsWith('g{'))).toEqual([
      'g{component="c",a_b="v"} 1',
    ]);
  });

  it('applies the prefix, and refuses a window the snapshot does not have', () => {
    const snap = snapshotOf([gauge('queue.depth', 1)]);
    expect(toPrometheusText(snap, { prefix: 'shop.' })).toContain('shop_queue_depth{');
    expect(() => toPrometheusText(snap, { windowSeconds: 30 })).toThrow(
      /windowSeconds must be one of the snapshot's windows \(60\), got 30/,
    );
  });

  it('writes nothing for an empty snapshot', () => {
    expect(toPrometheusText(snapshotOf([]))).toBe('');
    expect(toPrometheusText(snapshotOf([]), { format: 'openmetrics' })).toBe('# EOF\n');
  });
});

describe('toPrometheusText, OpenMetrics 1.0', () => {
  it('has TYPE, UNIT, HELP in order, counters named without _total, and ends with # EOF', () => {
    const { monitor } = makeMonitor();
    monitor.counter('orders.created').bind().inc(7);
    monitor.timer('api.latency').bind().record(250);
    const text = toPrometheusText(monitor.snapshot(), { format: 'openmetrics' });
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(text).toContain(
      '# TYPE orders_created counter\n# HELP orders_created PRSM Monitor counter orders.created\norders_created_total{component="api_gateway"} 7\n',
    );
    expect(text).toContain(
      '# TYPE api_latency_seconds summary\n# UNIT api_latency_seconds seconds\n# HELP api_latency_seconds ',
    );
  });

  it('puts the slowest traced sample as an exemplar on the companion counter, never on the summary', () => {
    const { monitor } = makeMonitor();
    const latency = monitor.timer('api.latency').bind({ route: '/a' });
    latency.record(120, 'aaaa');
    latency.record(900, TRACE);
    latency.record(1000); // untraced: not an exemplar
    const text = toPrometheusText(monitor.snapshot(), { format: 'openmetrics' });
    const withExemplar = lines(text).filter((line) => line.includes(' # {'));
    expect(withExemplar).toEqual([
      `api_latency_seconds_observations_total{component="api_gateway",route="/a"} 3 # {trace_id="${TRACE}"} 0.9`,
    ]);
    expect(text).toContain('# TYPE api_latency_seconds_observations counter\n');
    // Families are not interleaved: the companion follows the summary's samples.
    const all = lines(text);
    expect(all.indexOf('# TYPE api_latency_seconds_observations counter')).toBeGreaterThan(
      all.findIndex((l) => l.startsWith('api_latency_seconds_count')),
    );
    expect(
      toPrometheusText(monitor.snapshot(), { format: 'openmetrics', exemplars: false }),
    ).not.toContain('_observations');
    // Never in the text format.
    expect(toPrometheusText(monitor.snapshot())).not.toContain('_observations');
  });

  it('writes NaN for the quantiles of an empty window, as OpenMetrics requires', () => {
    const { monitor, clock } = makeMonitor();
    monitor.histogram('size').bind().record(5);
    clock.advance(10 * 60_000);
    const text = toPrometheusText(monitor.snapshot(), { format: 'openmetrics' });
    expect(text).toContain('size{component="api_gateway",quantile="0.5"} NaN\n');
    expect(text).toContain('size_count{component="api_gateway"} 1\n');
  });

  it('writes canonical quantile label values', () => {
    const clock = new ManualClock(T0);
    const monitor = new Monitor({ clock, snapshotQuantiles: [0, 0.5, 0.999, 1] });
    monitors.push(monitor);
    monitor.histogram('h').bind().record(1);
    const text = toPrometheusText(monitor.snapshot(), { format: 'openmetrics' });
    for (const q of ['0.0', '0.5', '0.999', '1.0']) expect(text).toContain(`quantile="${q}"`);
  });
});

describe('prometheusScrape: the handler reads a monitor through visitSeries', () => {
  /** Lines by what precedes the value; values compared to rounding (two reads of a mixture). */
  function expectSameExposition(got: string, want: string): void {
    const split = (text: string): [string, number | string][] =>
      lines(text).map((line) => {
        if (line.startsWith('#')) return [line, ''];
        // An exemplar stays in the key: it is text, compared exactly.
        const [sample, exemplar = ''] = line.split(' # ');
        const at = sample!.lastIndexOf(' ');
        return [`${sample!.slice(0, at)} # ${exemplar}`, Number(sample!.slice(at + 1))];
      });
    const a = split(got);
    const b = split(want);
    expect(a.map(([key]) => key)).toEqual(b.map(([key]) => key));
    a.forEach(([key, value], i) => {
      const other = b[i]![1];
      if (typeof value === 'number' && typeof other === 'number') {
        if (Number.isNaN(value) || Number.isNaN(other)) {
          expect([key, Number.isNaN(value)]).toEqual([key, Number.isNaN(other)]);
        } else {
          const tolerance = 1e-9 * Math.max(1, Math.abs(value), Math.abs(other));
          if (Math.abs(value - other) > tolerance) expect([key, value]).toEqual([key, other]);
        }
      }
    });
  }

  function variedMonitor(): { monitor: Monitor; clock: ManualClock } {
    const clock = new ManualClock(T0);
    const monitor = new Monitor({
      clock,
      defaultComponent: 'api',
      windows: [60, 300],
      maxSeriesPerMetric: 6,
    });
    monitors.push(monitor);
    // Names that sanitise alike, tags that do, reserved and empty tags, an overflow series.
    const a = monitor.gauge('api.latency');
    const b = monitor.gauge('api_latency');
    a.set(1);
    b.set(2);
    const g = monitor.gauge('g');
    g.bind({ 'a.b': 'v' }).set(1);
    g.bind({ a_b: 'v' }).set(2);
    g.bind({ component: 'x', quantile: 'q', le: '1', empty: '' }).set(3);
    g.bind({ quote: 'say "hi"\n' }).set(4);
    const hits = monitor.counter('hits_total', { description: 'Hits' });
    for (let i = 0; i < 9; i++) hits.bind({ user: `u${i}` }).inc(i + 1);
    monitor.gauge('never.set');
    const sizes = monitor.histogram('body.size_bytes', { unit: 'By' });
    const latency = monitor.timer('http.duration', { description: 'Request time' });
    const idle = monitor.timer('idle.duration', { component: 'batch' });
    idle.record(12);
    for (let minute = 0; minute < 3; minute++) {
      for (let i = 0; i < 40; i++) {
        latency
          .bind({ route: `/r${i % 3}` })
          .record(5 + ((i * 37) % 300) + minute, i % 4 === 0 ? TRACE : undefined);
        sizes.record(100 * (i % 7));
      }
      clock.advance(60_000);
    }
    clock.advance(5 * 60_000); // the idle timer's window is empty now, its totals remain
    latency.bind({ route: '/r1' }).record(40);
    return { monitor, clock };
  }

  const snapshotText = (
    monitor: Monitor,
    options: Parameters<typeof toPrometheusText>[1],
  ): string =>
    toPrometheusText(
      monitor.snapshot({
        windows: [options?.windowSeconds ?? 60],
        digests: false,
        cumulativeQuantiles: false,
      }),
      options,
    );

  it('writes what toPrometheusText writes of a snapshot, in both formats, scrape after scrape', () => {
    const { monitor, clock } = variedMonitor();
    const latency = monitor.timer('http.duration');
    for (let round = 0; round < 6; round++) {
      for (const options of [
        { windowSeconds: 300 },
        { windowSeconds: 60, format: 'openmetrics' as const },
        { windowSeconds: 300, prefix: 'shop.', format: 'openmetrics' as const, exemplars: false },
      ]) {
        const scraped = scrapeText(monitor, options);
        expectSameExposition(scraped, snapshotText(monitor, options));
        // A second scrape of the same instant writes the same text.
        expect(scrapeText(monitor, options)).toBe(scraped);
      }
      // Between rounds: some values move, some stay, a sub-window closes now and then.
      latency.bind({ route: `/r${round % 3}` }).record(1000 + round);
      monitor.counter('hits_total').bind({ user: 'u1' }).inc();
      monitor.gauge('g').bind({ a_b: 'v' }).set(round);
      clock.advance(round % 2 === 0 ? 20_000 : 45_000);
    }
    expect(scrapeText(monitor, { windowSeconds: 300 })).toContain(
      'hits_total{component="api",user="u1"} ',
    );
  });

  it('writes each scrape from the values of its moment, whatever the scrape before wrote', () => {
    const { monitor } = makeMonitor();
    const depth = monitor.gauge('queue.depth');
    depth.set(3);
    expect(scrapeText(monitor)).toContain('queue_depth{component="api_gateway"} 3\n');
    depth.set(4);
    expect(scrapeText(monitor)).toContain('queue_depth{component="api_gateway"} 4\n');
    expect(scrapeText(monitor, { prefix: 'x_' })).toContain(
      'x_queue_depth{component="api_gateway"} 4\n',
    );
    expect(scrapeText(monitor)).toContain('queue_depth{component="api_gateway"} 4\n');
  });

  it("labels each series as its own when the series before it change, or another monitor's are scraped between", () => {
    // Each scrape finds a series' labels at its place in the last scrape: a place that
    // now holds another series (one added before it, another monitor's) is labelled anew.
    const { monitor } = makeMonitor();
    const other = makeMonitor().monitor;
    const g = monitor.gauge('g');
    g.bind({ k: 'b' }).set(2);
    g.bind({ k: 'c' }).set(3);
    other.gauge('g').bind({ k: 'z' }).set(9);
    const first = scrapeText(monitor);
    expectSameExposition(first, snapshotText(monitor, {}));
    // A family that sorts first, so every place shifts; and a series inserted in `g`.
    monitor.gauge('a').bind({ k: 'a0' }).set(1);
    g.bind({ k: 'a' }).set(1);
    for (let i = 0; i < 2; i++) {
      const text = scrapeText(monitor);
      expectSameExposition(text, snapshotText(monitor, {}));
      expect(lines(text).filter((l) => !l.startsWith('#'))).toEqual([
        'a{component="api_gateway",k="a0"} 1',
        'g{component="api_gateway",k="b"} 2',
        'g{component="api_gateway",k="c"} 3',
        'g{component="api_gateway",k="a"} 1',
      ]);
      expect(scrapeText(other)).toContain('g{component="api_gateway",k="z"} 9\n');
    }
  });

  it("writes each line's name anew when the place's series, the prefix or the format changed", () => {
    // A live scrape keeps each series' line heads (`name{labels} `) at its place: a
    // counter and a gauge of the same name and labels at the same place of two
    // monitors, and the same monitor scraped with another prefix or format, must not
    // be written with the heads kept from the scrape before.
    const counting = makeMonitor().monitor;
    counting.counter('x').bind({ k: 'v' }).inc(4);
    const gauging = makeMonitor().monitor;
    gauging.gauge('x').bind({ k: 'v' }).set(7);
    const timing = makeMonitor().monitor;
    timing.timer('x').bind({ k: 'v' }).record(1500);
    const samples = (text: string): string[] => lines(text).filter((l) => !l.startsWith('#'));
    for (let round = 0; round < 2; round++) {
      expect(samples(scrapeText(counting))).toEqual(['x_total{component="api_gateway",k="v"} 4']);
      expect(samples(scrapeText(gauging))).toEqual(['x{component="api_gateway",k="v"} 7']);
      expect(samples(scrapeText(gauging, { prefix: 'shop_' }))).toEqual([
        'shop_x{component="api_gateway",k="v"} 7',
      ]);
      const timed = samples(scrapeText(timing, { prefix: 'shop_' }));
      expect(timed.filter((l) => !l.includes('quantile='))).toEqual([
        'shop_x_seconds_sum{component="api_gateway",k="v"} 1.5',
        'shop_x_seconds_count{component="api_gateway",k="v"} 1',
      ]);
      expect(timed).toContain('shop_x_seconds{component="api_gateway",k="v",quantile="0.5"} 1.5');
      const open = samples(scrapeText(counting, { format: 'openmetrics', prefix: 'shop_' }));
      expect(open).toEqual(['shop_x_total{component="api_gateway",k="v"} 4']);
      expectSameExposition(scrapeText(timing), snapshotText(timing, {}));
    }
  });

  it('writes the lines kept from the scrape before only while their values, quantiles and format are the same', () => {
    // A live scrape keeps each series' last lines at its place and writes them again
    // while their numbers are the same. Two monitors whose timers sit at the same place
    // with the same labels and the same values, but other quantiles, and a series whose
    // window empties (a NaN quantile: left out in text, `NaN` in OpenMetrics).
    const median = new Monitor({ clock: new ManualClock(T0), snapshotQuantiles: [0.5] });
    const tail = new Monitor({ clock: new ManualClock(T0), snapshotQuantiles: [0.99] });
    monitors.push(median, tail);
    for (const m of [median, tail]) m.timer('x').bind({ k: 'v' }).record(1500);
    const { monitor, clock } = makeMonitor();
    const idle = monitor.timer('idle');
    idle.record(250);
    const depth = monitor.gauge('depth');
    depth.set(3);
    const samples = (text: string): string[] => lines(text).filter((l) => !l.startsWith('#'));
    for (let round = 0; round < 2; round++) {
      expect(samples(scrapeText(median))[0]).toBe(
        'x_seconds{component="default",k="v",quantile="0.5"} 1.5',
      );
      expect(samples(scrapeText(tail))[0]).toBe(
        'x_seconds{component="default",k="v",quantile="0.99"} 1.5',
      );
    }
    const quantileLines = (options: Parameters<typeof prometheusScrape>[1]): string[] =>
      samples(scrapeText(monitor, options)).filter((l) => l.includes('quantile='));
    // Made, then written again from the kept lines.
    for (let round = 0; round < 2; round++) {
      expect(quantileLines({})).toContain(
        'idle_seconds{component="api_gateway",quantile="0.5"} 0.25',
      );
    }
    clock.advance(120_000); // the 60 s window is empty now
    for (let round = 0; round < 2; round++) {
      expect(quantileLines({})).toEqual([]);
      const open = quantileLines({ format: 'openmetrics' });
      expect(open).toContain('idle_seconds{component="api_gateway",quantile="0.5"} NaN');
      expect(open.every((l) => l.endsWith(' NaN'))).toBe(true);
    }
    idle.record(500);
    expect(quantileLines({})).toContain('idle_seconds{component="api_gateway",quantile="0.5"} 0.5');
    // A gauge written from its kept line, then moved.
    expect(scrapeText(monitor)).toContain('depth{component="api_gateway"} 3\n');
    depth.set(4);
    expect(scrapeText(monitor)).toContain('depth{component="api_gateway"} 4\n');
  });

  it('hands each scrape bytes of its own: a later scrape leaves them as they were', () => {
    const { monitor } = makeMonitor();
    const hits = monitor.counter('hits');
    hits.inc();
    const first = prometheusScrape(monitor);
    const copy = Buffer.from(first);
    hits.inc(41);
    const second = prometheusScrape(monitor, { format: 'openmetrics' });
    expect(first.equals(copy)).toBe(true);
    expect(second.toString('utf8')).toContain('hits_total{component="api_gateway"} 42\n');
  });

  it('keeps the first of two series whose labels sanitise alike, whichever comes first', () => {
    const { monitor } = makeMonitor();
    const g = monitor.gauge('g');
    g.bind({ a_b: 'v' }).set(1);
    g.bind({ 'a.b': 'v' }).set(2);
    const text = scrapeText(monitor);
    expect(lines(text).filter((l) => l.startsWith('g{'))).toEqual([
      'g{component="api_gateway",a_b="v"} 1',
    ]);
    expectSameExposition(text, snapshotText(monitor, {}));
  });

  it('writes UTF-8 and grows its buffer past any size it started with', () => {
    const { monitor } = makeMonitor();
    monitor.gauge('tiny').set(1);
    expect(scrapeText(monitor)).toContain('tiny{component="api_gateway"} 1\n'); // starts small
    const big = new Monitor({ clock: new ManualClock(T0), maxSeriesPerMetric: 5000 });
    monitors.push(big);
    const wide = big.gauge('wide', { description: 'Größe' });
    for (let i = 0; i < 3000; i++) wide.bind({ city: `Zürich ${i} 東京` }).set(i);
    const body = prometheusScrape(big);
    expect(body.length).toBeGreaterThan(64 * 1024);
    const text = body.toString('utf8');
    expect(text).toContain('# HELP wide Größe\n');
    expect(text).toContain('wide{component="default",city="Zürich 2999 東京"} 2999\n');
    expectSameExposition(text, snapshotText(big, {}));
    expect(Buffer.byteLength(text)).toBe(body.length);
  });

  it('writes every value as String() would, whole numbers digit by digit included', () => {
    // Whole numbers below 2^53 are written without a string; the rest through String().
    const values = [
      0,
      -0,
      1,
      9,
      10,
      99,
      100,
      101,
      1000,
      65535,
      123456789,
      1234567890123,
      Number.MAX_SAFE_INTEGER,
      2 ** 53,
      2 ** 60,
      1e21,
      1e300,
      0.5,
      1.25e-7,
      -1,
      -42,
      -0.5,
      NaN,
      Infinity,
      -Infinity,
    ];
    const expected = (v: number): string =>
      Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
    const text = toPrometheusText(
      snapshotOf(values.map((value, i) => gauge('g', value, { tags: { i: String(i) } }))),
    );
    for (const [i, v] of values.entries()) {
      expect(text).toContain(`\ng{component="c",i="${i}"} ${expected(v)}\n`);
    }
    // And a monitor's counters and a timer's _count (the handler's path).
    const { monitor } = makeMonitor();
    const counter = monitor.counter('c');
    counter.bind({ k: 'big' }).inc(Number.MAX_SAFE_INTEGER);
    counter.bind({ k: 'ten' }).inc(10);
    counter.bind({ k: 'half' }).inc(2.5);
    const timer = monitor.timer('t');
    for (let i = 0; i < 1000; i++) timer.record(1);
    const scraped = scrapeText(monitor);
    expect(scraped).toContain(
      `c_total{component="api_gateway",k="big"} ${Number.MAX_SAFE_INTEGER}\n`,
    );
    expect(scraped).toContain('c_total{component="api_gateway",k="ten"} 10\n');
    expect(scraped).toContain('c_total{component="api_gateway",k="half"} 2.5\n');
    expect(scraped).toContain('t_seconds_count{component="api_gateway"} 1000\n');
    expect(scraped).toContain('t_seconds_sum{component="api_gateway"} 1\n');
  });

  it('writes non-ASCII text anywhere in a string, surrogate pairs and lone surrogates as Buffer does', () => {
    const { monitor } = makeMonitor();
    const g = monitor.gauge('g', { description: 'ok ✓ then 😀 and a lone \ud800 end' });
    const cities = ['Zürich', 'ascii first then é', '😀 first', 'lone \udc00 low', 'end é'];
    for (const [i, city] of cities.entries()) g.bind({ city }).set(i);
    const body = prometheusScrape(monitor);
    const text = body.toString('utf8');
    for (const [i, city] of cities.entries()) {
      // A lone surrogate becomes U+FFFD, as Buffer.from would make it.
      const written = Buffer.from(city).toString('utf8');
      expect(text).toContain(`g{component="api_gateway",city="${written}"} ${i}\n`);
    }
    expect(text).toContain(
      `# HELP g ${Buffer.from('ok ✓ then 😀 and a lone \ud800 end').toString('utf8')}\n`,
    );
    expect(Buffer.compare(body, Buffer.from(text))).toBe(0);
  });

  it('scrapes right after a scrape of many more series and before one of many again', () => {
    // What each scrape remembers of the last one (by series' place) is cut back after a
    // small scrape and grown again after: the text stays that of the state scraped.
    const many = (n: number, offset: number): Monitor => {
      const monitor = new Monitor({ clock: new ManualClock(T0), maxSeriesPerMetric: n + 10 });
      monitors.push(monitor);
      const timer = monitor.timer('t');
      for (let i = 0; i < n; i++) timer.record(offset + i, { i: String(i) });
      return monitor;
    };
    const big = many(3000, 1);
    const small = many(3, 5000);
    for (const monitor of [big, small, big, small, many(3000, 7)]) {
      expectSameExposition(scrapeText(monitor), snapshotText(monitor, {}));
    }
  });

  it('reads a source without visitSeries through one snapshot', () => {
    const { monitor } = variedMonitor();
    const calls: unknown[] = [];
    const source = {
      windows: monitor.windows,
      snapshot: (options?: Parameters<Monitor['snapshot']>[0]) => {
        calls.push(options);
        return monitor.snapshot(options);
      },
    };
    const text = scrapeText(source, { windowSeconds: 300 });
    expect(calls).toEqual([{ windows: [300], digests: false, cumulativeQuantiles: false }]);
    expectSameExposition(text, scrapeText(monitor, { windowSeconds: 300 }));
  });
});
