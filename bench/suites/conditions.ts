/**
 * Conditions: time to parse (tokenize, parse, type-check, compile) the spec's alert
 * conditions and a long one, against the 50 µs target, and time to evaluate each
 * against a source of constant values.
 */
import { parseCondition, type SignalSource } from '@prsm/core';
import { fixed, heading, median, nowNs, paragraph, quickGc, table } from '../lib/report.js';

const TARGET_US = 50;
const BATCH = 2_000;
const RUNS = 21;
const WARMUP = 3;

const CONDITIONS = [
  'error_rate > 0.05',
  'db_connections > 0.80 * max_connections',
  'recommendation_accuracy < 0.75',
  'p99(api.latency[5m]) > 500ms',
  'quantile(0.999, api.latency[15m]) > 2s and rate(orders.failed[5m]) > 2 or not cpu_usage < 80%',
  '(p95(checkout.duration[5m]) - p50(checkout.duration[5m])) / p50(checkout.duration[5m]) > 3 ' +
    'and count(checkout.duration[5m]) >= 100 and (error_rate > 5% or memory_usage > 0.9)',
] as const;

const source: SignalSource = {
  signal: () => 0.5,
  quantile: () => 120,
  aggregate: () => 10,
};

/** Median over RUNS batches of the time per call, in nanoseconds. */
function perCall(fn: () => unknown): number[] {
  for (let i = 0; i < WARMUP * BATCH; i++) fn();
  const ns: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    quickGc();
    const t0 = nowNs();
    for (let i = 0; i < BATCH; i++) fn();
    ns.push((nowNs() - t0) / BATCH);
  }
  return ns;
}

export function run(): Promise<void> {
  heading('Conditions');
  paragraph(
    `Per call: median (and worst) of ${RUNS} batches of ${BATCH.toLocaleString('en-US')} ` +
      `calls after ${WARMUP} warm-up batches, gc() before each batch. Parse = tokenize, ` +
      'parse, type-check and compile to closures. Evaluate = one `evaluate()` against a ' +
      `source of constants. Target: parse ≤ ${TARGET_US} µs.`,
  );
  let worst = 0;
  const rows = CONDITIONS.map((text) => {
    const parse = perCall(() => parseCondition(text));
    const condition = parseCondition(text);
    const evaluate = perCall(() => condition.evaluate(source, 'api_gateway', 300));
    worst = Math.max(worst, median(parse) / 1000);
    return [
      `\`${text.length > 60 ? `${text.slice(0, 57)}...` : text}\` (${text.length} chars)`,
      fixed(median(parse) / 1000, 2),
      fixed(Math.max(...parse) / 1000, 2),
      fixed(median(evaluate), 0),
    ];
  });
  console.log(
    table(['Condition', 'parse median µs', 'parse worst µs', 'evaluate median ns'], rows),
  );
  console.log();
  paragraph(
    `Slowest median parse: ${fixed(worst, 2)} µs (target ${TARGET_US} µs): ` +
      `${worst <= TARGET_US ? 'target met' : 'target MISSED'}.`,
  );
  return Promise.resolve();
}
