import { describe, expect, it } from 'vitest';
import { Diagnostics } from '../diagnostics/diagnostics.js';
import {
  anomalyDefaults,
  anomalyScore,
  detectAnomalies,
  findAnomalies,
  scoreAt,
} from './anomaly.js';
import { MinuteHistory } from './history.js';
import { gaussian, rng, T0 } from './test-support.js';

/** Noise around a slow daily swing, with spikes injected at random minutes. */
function noisySeries(
  seed: number,
  n: number,
  spikes: number,
  sign: 1 | -1,
): { values: number[]; injected: Set<number> } {
  const u = rng(seed);
  const g = gaussian(u);
  const values = Array.from(
    { length: n },
    (_, i) => 150 + 30 * Math.sin((2 * Math.PI * i) / 1440) + 5 * g(),
  );
  const injected = new Set<number>();
  while (injected.size < spikes) {
    const i = 60 + Math.floor(u() * (n - 60));
    if (injected.has(i)) continue;
    injected.add(i);
    // 6 to 12 noise sds away.
    values[i] = values[i]! + sign * (30 + u() * 30);
  }
  return { values, injected };
}

function score(found: readonly { index: number }[], injected: Set<number>, n: number) {
  const flagged = new Set(found.map((f) => f.index));
  let hits = 0;
  for (const i of injected) if (flagged.has(i)) hits++;
  const falsePositives = [...flagged].filter((i) => !injected.has(i)).length;
  return { recall: hits / injected.size, fpRate: falsePositives / (n - 60 - injected.size) };
}

describe('robust anomaly detection', () => {
  it('finds ≥ 95% of injected spikes with ≤ 1% false positives, over seeds', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { values, injected } = noisySeries(seed, 3000, 60, 1);
      const found = detectAnomalies(values, { direction: 'up' });
      const { recall, fpRate } = score(found, injected, values.length);
      expect(recall).toBeGreaterThanOrEqual(0.95);
      expect(fpRate).toBeLessThanOrEqual(0.01);
    }
  });

  it('finds drops with direction both, and ignores them with direction up', () => {
    const { values, injected } = noisySeries(7, 3000, 40, -1);
    const both = score(detectAnomalies(values, { direction: 'both' }), injected, values.length);
    expect(both.recall).toBeGreaterThanOrEqual(0.95);
    expect(both.fpRate).toBeLessThanOrEqual(0.01);
    expect(score(detectAnomalies(values, { direction: 'up' }), injected, 3000).recall).toBe(0);
  });

  it('raises ≤ 1% false alarms on pure noise (normal and Poisson counts)', () => {
    for (const seed of [11, 12, 13]) {
      const g = gaussian(rng(seed));
      const noise = Array.from({ length: 3000 }, () => 100 + 10 * g());
      expect(detectAnomalies(noise).length / 2940).toBeLessThanOrEqual(0.01);
      // Counts of about 20 a minute: the Poisson floor keeps them quiet.
      const u = rng(seed + 100);
      const counts = Array.from({ length: 3000 }, () => {
        let k = 0;
        for (let p = Math.exp(-20), s = p, x = u(); x > s;) {
          k++;
          p = (p * 20) / k;
          s += p;
        }
        return k;
      });
      const found = detectAnomalies(counts, anomalyDefaults('throughput'));
      expect(found.length / 2940).toBeLessThanOrEqual(0.01);
    }
  });

  it('scores against median and MAD, with floors for flat baselines', () => {
    const values = [...Array.from({ length: 60 }, (_, i) => 100 + (i % 3)), 130];
    const s = scoreAt(values, 60)!;
    expect(s.baseline).toBe(101);
    expect(s.scale).toBeCloseTo(1.4826, 4);
    expect(s.score).toBeCloseTo(29 / 1.4826, 4);
    const flat = [...Array.from({ length: 60 }, () => 0), 0.03];
    expect(scoreAt(flat, 60, anomalyDefaults('error_rate'))!.score).toBeCloseTo(3, 6);
    expect(scoreAt(flat, 10)).toBeUndefined(); // 10 baseline points < 30
    expect(scoreAt([1, NaN], 1)).toBeUndefined();
  });
});

describe('anomalyScore and findAnomalies over the history', () => {
  function history(): MinuteHistory {
    const h = new MinuteHistory(undefined, new Diagnostics(), { minutes: 240 });
    const g = gaussian(rng(5));
    for (let m = 0; m < 120; m++) {
      h.record('marketplace', T0 + m * 60_000, {
        requests: 600,
        errors: 3,
        latency: 150 + 5 * g(),
        latencyP99: 400 + 10 * g(),
      });
      h.record('system', T0 + m * 60_000, { gauges: { cpu_usage: 0.4 + 0.01 * g() } });
    }
    return h;
  }

  it('scores the latest minute: normal, spiked, and no data', () => {
    const h = history();
    expect(Math.abs(anomalyScore(h, 'latency', 'marketplace')!)).toBeLessThan(4);
    h.record('marketplace', T0 + 120 * 60_000, { requests: 100, errors: 40, latency: 900 });
    expect(anomalyScore(h, 'latency', 'marketplace')!).toBeGreaterThan(20);
    expect(anomalyScore(h, 'error_rate', 'marketplace')!).toBeGreaterThan(20);
    expect(anomalyScore(h, 'throughput', 'marketplace')!).toBeLessThan(-4);
    expect(anomalyScore(h, 'latency', 'nowhere')).toBeUndefined();
    expect(anomalyScore(h, 'no_such_metric', 'marketplace')).toBeUndefined();
  });

  it('reads system gauges for any component, and lists anomalies newest first', () => {
    const h = history();
    h.record('system', T0 + 100 * 60_000, { gauges: { cpu_usage: 0.95 } });
    h.record('marketplace', T0 + 120 * 60_000, { requests: 600, errors: 3, latency: 700 });
    const found = findAnomalies(h, 'marketplace', { minutes: 60 });
    expect(found.map((a) => [a.metric, a.component, (a.timestamp - T0) / 60_000])).toEqual([
      ['latency', 'marketplace', 120],
      ['cpu_usage', 'system', 100],
    ]);
    expect(found[0]!.value).toBe(700);
    expect(found[0]!.baseline).toBeGreaterThan(140);
    expect(found[0]!.score).toBeGreaterThan(4);
    expect(anomalyScore(h, 'cpu_usage', 'marketplace')).toBeDefined();
  });

  it('does not score error rates of minutes with too few requests', () => {
    const h = history();
    h.record('marketplace', T0 + 120 * 60_000, { requests: 5, errors: 5, latency: 150 });
    expect(anomalyScore(h, 'error_rate', 'marketplace')).toBeUndefined();
  });
});
