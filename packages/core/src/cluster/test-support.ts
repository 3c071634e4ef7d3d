/**
 * Shared by the cluster tests and their worker process: the values worker `i` records
 * (deterministic, so the test knows the exact fleet percentiles), and the start time.
 */
export const START_MS = Date.UTC(2026, 0, 1, 12, 0, 0);
export const VALUES_PER_WORKER = 50_000;

/** Lognormal latencies, a different median per worker (so averaging p99s is wrong). */
export function workerValues(index: number, n = VALUES_PER_WORKER): Float64Array {
  let seed = (index + 1) * 2654435761;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  const median = 10 * (index + 1) ** 2;
  for (let i = 0; i < n; i++) {
    const u1 = random() || 1e-12;
    const u2 = random();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    out[i] = median * Math.exp(0.6 * z);
  }
  return out;
}

/** The nearest-rank quantile of values (sorted in place). */
export function exactQuantile(values: Float64Array, q: number): number {
  values.sort();
  return values[Math.max(0, Math.ceil(q * values.length) - 1)]!;
}
