/**
 * Merge time: 100 of our digests, each of 100,000 lognormal values, merged with
 * `TDigest.mergeAll` and with repeated `merge()` into a fresh digest. Inputs are
 * flushed before timing. Also the accuracy of each merged digest against the exact
 * quantiles of all 10 million values.
 */
import { TDigest } from '@prsm/core';
import { lognormalValues } from '../lib/random.js';
import {
  fixed,
  heading,
  nearestRank,
  nearestRankSorted,
  nowNs,
  paragraph,
  quickGc,
  table,
} from '../lib/report.js';

const DIGESTS = 100;
const PER_DIGEST = 100_000;
const RUNS = 21;
const WARMUP = 5;
const SEED = 13;
const TARGET_MS = 2;
const QS = [0.5, 0.9, 0.99, 0.999] as const;

function time(runs: number, merge: () => TDigest): { ms: number[]; result: TDigest } {
  let result = merge();
  for (let i = 0; i < WARMUP; i++) result = merge();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    quickGc();
    const t0 = nowNs();
    result = merge();
    ms.push((nowNs() - t0) / 1e6);
  }
  return { ms, result };
}

export function run(): Promise<void> {
  heading('Merge time');
  const values = lognormalValues(DIGESTS * PER_DIGEST, SEED);
  const digests: TDigest[] = [];
  for (let d = 0; d < DIGESTS; d++) {
    const digest = new TDigest();
    for (let i = d * PER_DIGEST; i < (d + 1) * PER_DIGEST; i++) digest.add(values[i]!);
    void digest.centroidCount; // flushes the buffer: timing covers merging only
    digests.push(digest);
  }
  const centroids = digests.map((d) => d.centroidCount);

  const cases: { label: string; merge: () => TDigest }[] = [
    { label: 'TDigest.mergeAll(digests)', merge: () => TDigest.mergeAll(digests) },
    {
      label: 'new TDigest() then .merge(d) for each',
      merge: () => {
        const into = new TDigest();
        for (const d of digests) into.merge(d);
        return into;
      },
    },
  ];
  const results = cases.map((c) => ({ ...c, ...time(RUNS, c.merge) }));
  const sorted = values.sort();
  const exact = QS.map((q) => nearestRankSorted(sorted, q));

  paragraph(
    `${DIGESTS} digests (compression 200, ${Math.min(...centroids)}..${Math.max(...centroids)} ` +
      `centroids each), each of ${PER_DIGEST.toLocaleString('en-US')} lognormal(3, 1) values ` +
      `(seed ${SEED}); ${RUNS} timed runs after ${WARMUP} warm-up runs, gc() before each. ` +
      'Error columns: the merged digest against the exact nearest-rank quantiles of all ' +
      `${(DIGESTS * PER_DIGEST).toLocaleString('en-US')} values.`,
  );
  console.log(
    table(
      [
        'Merge',
        'median ms',
        'p90 ms',
        'min ms',
        'target ≤ 2 ms',
        'centroids',
        'p50 err',
        'p90 err',
        'p99 err',
        'p99.9 err',
      ],
      results.map((r) => {
        const median = nearestRank(r.ms, 0.5);
        return [
          r.label,
          fixed(median, 3),
          fixed(nearestRank(r.ms, 0.9), 3),
          fixed(Math.min(...r.ms), 3),
          median <= TARGET_MS ? 'met' : 'MISSED',
          String(r.result.centroidCount),
          ...QS.map(
            (q, k) =>
              `${fixed((100 * Math.abs(r.result.quantile(q) - exact[k]!)) / exact[k]!, 3)}%`,
          ),
        ];
      }),
    ),
  );
  return Promise.resolve();
}
