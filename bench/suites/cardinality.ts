/**
 * Cardinality: 100,000 distinct tag sets recorded into one histogram with the default
 * cap of 2000 series per metric. Heap (heapUsed + arrayBuffers, after full GCs) at
 * checkpoints must stay flat once the cap is reached; the snapshot must hold 2000
 * series plus one overflow series.
 */
import { DiagnosticCode, ManualClock, Monitor, OVERFLOW_TAG } from '@prsm/core';
import { lognormalValues } from '../lib/random.js';
import { bytes, fixed, fullGc, heading, nowNs, paragraph, retained, table } from '../lib/report.js';

const TAG_SETS = 100_000;
const CHECKPOINTS = [2_000, 10_000, 50_000, 100_000] as const;
const NAME = 'card';
const T0 = 1_700_000_040_000;

export function run(): Promise<void> {
  heading('Cardinality');
  const values = lognormalValues(TAG_SETS, 17);
  const monitor = new Monitor({ clock: new ManualClock(T0) });
  const histogram = monitor.histogram(NAME);
  fullGc();
  const base = retained();
  const rows: string[][] = [];
  let done = 0;
  let recordNs = 0;
  for (const checkpoint of CHECKPOINTS) {
    const t0 = nowNs();
    for (; done < checkpoint; done++) {
      histogram.record(values[done]!, { user: `u${done}`, route: '/x' });
    }
    const elapsed = nowNs() - t0;
    recordNs += elapsed;
    fullGc();
    const heap = retained() - base;
    rows.push([
      checkpoint.toLocaleString('en-US'),
      bytes(heap),
      bytes(heap / Math.min(checkpoint, 2000)),
    ]);
  }
  const snapshot = monitor.snapshot();
  const series = snapshot.series.filter((s) => s.name === NAME);
  const overflow = series.filter((s) => s.overflow);
  const overflowCount = overflow.reduce(
    (a, s) => a + (s.type === 'histogram' ? s.cumulative.count : 0),
    0,
  );
  const selfMetric = snapshot.series.find((s) => s.name === 'prsm.series.overflow');
  const selfTotal = selfMetric?.type === 'counter' ? selfMetric.total : Number.NaN;

  paragraph(
    `One histogram, ${TAG_SETS.toLocaleString('en-US')} distinct tag sets ` +
      '`{user: u<i>, route: "/x"}`, one value each, default `maxSeriesPerMetric` 2000. Heap = ' +
      'growth of heapUsed + arrayBuffers after full GCs over the empty monitor. ' +
      `Mean cost of a record with a new tag set: ${fixed(recordNs / TAG_SETS, 0)} ns.`,
  );
  console.log(table(['Tag sets recorded', 'heap growth', 'per stored series'], rows));
  console.log();
  const first = CHECKPOINTS.indexOf(10_000);
  paragraph(
    `Snapshot: ${series.length} series of \`${NAME}\` (${series.length - overflow.length} tagged + ` +
      `${overflow.length} overflow series tagged \`${OVERFLOW_TAG}=true\` holding ` +
      `${overflowCount.toLocaleString('en-US')} values); ` +
      `diagnostics ${DiagnosticCode.SERIES_OVERFLOW} = ` +
      `${monitor.diagnostics.count(DiagnosticCode.SERIES_OVERFLOW).toLocaleString('en-US')}, ` +
      `self-metric prsm.series.overflow = ${selfTotal.toLocaleString('en-US')}. ` +
      `Heap from 10k to 100k tag sets: ${rows[first]![1]} → ${rows[rows.length - 1]![1]}.`,
  );
  return Promise.resolve();
}
