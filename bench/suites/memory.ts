/**
 * Memory per histogram series with every window full: SERIES series in one Monitor
 * (default windows 60/300/900 s, 60 s sub-windows: a ring of 16 slots), each fed
 * PER_SUB lognormal values in every sub-window, the clock moved 60 s between
 * sub-windows. Measured as the growth of heapUsed + arrayBuffers after full GCs (typed
 * array storage lives outside the JS heap) over a baseline taken before any series
 * existed, divided by the number of series.
 *
 * The series' own estimate, `HistogramSeries.retainedBytes()`, is internal and not
 * reachable through the Monitor; a lone HistogramSeries built from the package sources
 * and fed the same way gives it, with a breakdown.
 */
import { ManualClock, Monitor } from '@prsm/core';
import { Diagnostics } from '../../packages/core/src/diagnostics/diagnostics.js';
import { HistogramSeries } from '../../packages/core/src/metrics/histogram-series.js';
import { SlotTicker } from '../../packages/core/src/metrics/ticker.js';
import { scaleFor } from '../../packages/core/src/sketch/centroids.js';
import { lognormalValues } from '../lib/random.js';
import { bytes, fixed, fullGc, heading, nowNs, paragraph, retained, table } from '../lib/report.js';

const SERIES = 200;
const PER_SUB = 20_000;
/** 16 ring slots closed plus the open sub-window. */
const RING = 16;
const FIRST_LAP = RING + 1;
const SECOND_LAP = RING;
const SUB_MS = 60_000;
const T0 = 1_700_000_040_000;
const POOL = 1 << 20;
const MASK = POOL - 1;
const TARGET = 32 * 1024;

const pool = lognormalValues(POOL, 11);
let cursor = 0;

function feed(record: (v: number) => void): void {
  let j = cursor;
  for (let k = 0; k < PER_SUB; k++) {
    record(pool[j]!);
    j = (j + 1) & MASK;
  }
  cursor = (cursor + 7919) & MASK;
}

interface Breakdown {
  retainedBytes: number;
  buffer: number;
  active: number;
  ring: number;
  ringStats: number;
  cumulative: number;
  centroids: string;
}

/** A lone series built from the sources, fed like the monitor's, for retainedBytes(). */
function loneSeries(subWindows: number): Breakdown {
  const clock = new ManualClock(T0);
  const diagnostics = new Diagnostics();
  const ticker = new SlotTicker(clock, SUB_MS, diagnostics);
  const series = new HistogramSeries(
    ticker,
    {
      name: 'lone',
      type: 'histogram',
      component: 'default',
      tags: {},
      labels: {},
      overflow: false,
      unit: '',
      description: '',
    },
    { drop: () => {} },
    scaleFor(200),
    RING,
  );
  for (let s = 0; s < subWindows; s++) {
    if (s > 0) clock.advance(SUB_MS);
    feed((v) => series.record(v));
  }
  series.flush();
  let ring = 0;
  const lengths: number[] = [];
  // Numbers per ring slot in ringStats; the slot's centroid count is its seventh.
  const stride = series.ringStats.length / series.ring.length;
  for (let i = 0; i < series.ring.length; i++) {
    ring += series.ring[i]?.byteLength ?? 0;
    lengths.push(series.ringStats[i * stride + 6]!);
  }
  ticker.stop();
  return {
    retainedBytes: series.retainedBytes(),
    buffer: series.buffer.byteLength,
    active: series.active.byteLength,
    ring,
    ringStats: series.ringStats.byteLength,
    cumulative: series.cumulative?.byteLength ?? 0,
    centroids:
      `open ${series.activeLength}, ring ${Math.min(...lengths)}..${Math.max(...lengths)}, ` +
      `cumulative ${series.cumulativeLength}`,
  };
}

export function run(): Promise<void> {
  heading('Memory per histogram series');
  const started = nowNs();
  const clock = new ManualClock(T0);
  const monitor = new Monitor({ clock });
  const histogram = monitor.histogram('mem');
  const names = Array.from({ length: SERIES }, (_, i) => ({ series: `s${i}` }));
  fullGc();
  const base = retained();

  const handles = names.map((tags) => histogram.bind(tags));
  fullGc();
  const empty = retained();

  const lap = (subWindows: number, advanceFirst: boolean): void => {
    for (let s = 0; s < subWindows; s++) {
      if (s > 0 || advanceFirst) clock.advance(SUB_MS);
      for (const h of handles) feed((v) => h.record(v));
    }
  };
  lap(FIRST_LAP, false);
  fullGc();
  const full = retained();
  lap(SECOND_LAP, true);
  fullGc();
  const full2 = retained();

  const snapshot = monitor.snapshot();
  const mem = snapshot.series.filter((s) => s.name === 'mem');
  const sample = mem[0];
  const counts =
    sample !== undefined && sample.type === 'histogram'
      ? `${sample.cumulative.count.toLocaleString('en-US')} cumulative, ` +
        sample.windows
          .map((w) => `${w.count.toLocaleString('en-US')} in ${String(w.windowSeconds)} s`)
          .join(', ')
      : 'missing';
  const seconds = (nowNs() - started) / 1e9;

  const perSeries = (after: number): number => (after - base) / SERIES;
  paragraph(
    `${SERIES} series of one histogram in a Monitor with the default windows (60/300/900 s, ` +
      `60 s sub-windows, ring of ${RING} slots) on a ManualClock; ${PER_SUB.toLocaleString('en-US')} ` +
      `lognormal(3, 1) values per series per sub-window. Bytes = growth of heapUsed + arrayBuffers ` +
      `after full GCs over a baseline with the monitor but no series, ÷ ${SERIES}. ` +
      `${mem.length} series in the snapshot; each holds ${counts}. Suite wall time ${fixed(seconds, 1)} s.`,
  );
  console.log(
    table(
      ['State', 'bytes per series', 'target ≤ 32 KiB'],
      [
        ['bound, no value recorded yet', bytes(perSeries(empty)), ''],
        [
          `${FIRST_LAP} sub-windows filled (all ${RING} ring slots + open + cumulative)`,
          bytes(perSeries(full)),
          perSeries(full) <= TARGET ? 'met' : 'MISSED',
        ],
        [
          `${FIRST_LAP + SECOND_LAP} sub-windows filled (ring reused once)`,
          bytes(perSeries(full2)),
          perSeries(full2) <= TARGET ? 'met' : 'MISSED',
        ],
      ],
    ),
  );

  const lone = loneSeries(FIRST_LAP + SECOND_LAP);
  console.log();
  paragraph(
    `\`HistogramSeries.retainedBytes()\` (internal: a lone series built from the package ` +
      `sources and fed the same ${FIRST_LAP + SECOND_LAP} sub-windows): ` +
      `${bytes(lone.retainedBytes)}. Centroids held: ${lone.centroids}.`,
  );
  console.log(
    table(
      ['Part', 'bytes'],
      [
        ['record buffer (256 × Float64)', bytes(lone.buffer)],
        ['open sub-window centroids (Float64)', bytes(lone.active)],
        [`${RING} closed sub-windows (Float32)`, bytes(lone.ring)],
        ['ring statistics (Float64)', bytes(lone.ringStats)],
        ['cumulative centroids (Float32)', bytes(lone.cumulative)],
        ['retainedBytes() total', bytes(lone.retainedBytes)],
        [
          'measured per series minus retainedBytes() (objects, identity, maps)',
          bytes(perSeries(full2) - lone.retainedBytes),
        ],
      ],
    ),
  );
  return Promise.resolve();
}
