/**
 * The demo service: a small marketplace backend whose three operations are timed
 * with @prsm/core, then a report of what the monitor saw. Runs on embedded defaults,
 * no external service: `npm run demo`.
 *
 * Each operation does real asynchronous work (timers whose durations follow a
 * lognormal distribution, with a long tail and some failures), 128 calls at a time.
 * The report shows the monitor's p50/p95/p99, throughput and error rate per
 * operation, next to the exact p99 (nearest rank) of the very durations it recorded.
 *
 * Meanwhile an alert rule watches the recommendation component's error rate; at the
 * end an incident makes it fire, and a local webhook receiver prints the signed
 * notifications (firing, acknowledged, resolved).
 */
import { Monitor, type BoundTimer, setGlobalMonitor } from '@prsm/core';
import {
  demoAlerting,
  ERROR_RATE_RULE,
  runAlertingDemo,
  startWebhookReceiver,
  type WebhookReceiver,
} from './alerting.js';
import { startPrometheusServer } from '@prsm/exporters/prometheus';
import { runDecoratedService } from './decorated-service.js';
import { runBusinessDemo } from './business.js';
import { runSecurityDemo } from './security.js';
import { setTimeout as sleep } from 'node:timers/promises';

interface Operation {
  readonly name: string;
  readonly component: string;
  /** Median duration in ms. */
  readonly medianMs: number;
  /** Spread of the lognormal (sigma). */
  readonly sigma: number;
  /** Probability that a call fails. */
  readonly errorRate: number;
}

const OPERATIONS: readonly Operation[] = [
  {
    name: 'marketplace_search',
    component: 'marketplace',
    medianMs: 6,
    sigma: 0.6,
    errorRate: 0.01,
  },
  {
    name: 'recommendation_generation',
    component: 'recommendation',
    medianMs: 12,
    sigma: 0.5,
    errorRate: 0.02,
  },
  { name: 'checkout', component: 'marketplace', medianMs: 9, sigma: 0.8, errorRate: 0.05 },
];
const CALLS = Number(process.env.DEMO_CALLS ?? 12000);
const CONCURRENCY = 128;

// A seeded generator, so every run draws the same workload.
let seed = 20240115;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

class PaymentDeclined extends Error {}

async function call(op: Operation, timer: BoundTimer, exact: number[]): Promise<void> {
  const durationMs = op.medianMs * Math.exp(op.sigma * gaussian());
  const fails = random() < op.errorRate;
  const stop = timer.startTimer();
  try {
    await sleep(durationMs);
    if (fails) throw new PaymentDeclined(`${op.name} failed`);
    exact.push(stop());
  } catch {
    exact.push(stop({ error: true }));
  }
}

function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<void> {
  const receiver = await startWebhookReceiver();
  // tracing: a minimal OpenTelemetry provider whose spans the monitor keeps.
  // subWindowSeconds: 0.5 lets the alert rule read a half-second window (default 60).
  const monitor = new Monitor({
    defaultComponent: 'marketplace',
    tracing: true,
    subWindowSeconds: 0.5,
    alerting: demoAlerting(receiver),
  });
  setGlobalMonitor(monitor); // what the decorators record on
  try {
    await run(monitor, receiver);
  } finally {
    await monitor.shutdown(); // delivers what is in flight, then stops the channels
    await receiver.close();
  }
}

async function run(monitor: Monitor, receiver: WebhookReceiver): Promise<void> {
  const rule = monitor.alerts.create(ERROR_RATE_RULE);
  const timers = OPERATIONS.map((op) =>
    monitor.timer(op.name, { component: op.component }).bind({ region: 'eu-west' }),
  );
  const exact = OPERATIONS.map(() => [] as number[]);

  console.log(
    `PRSM Monitor demo: ${CALLS} calls over ${OPERATIONS.length} operations, ${CONCURRENCY} at a time\n`,
  );
  const began = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) {
        const i = next++ % OPERATIONS.length;
        await call(OPERATIONS[i]!, timers[i]!, exact[i]!);
      }
    }),
  );
  const elapsed = (performance.now() - began) / 1000;

  const rows = OPERATIONS.map((op, i) => {
    const query = { component: op.component, tags: { region: 'eu-west' }, windowSeconds: 60 };
    const [p50, p95, p99] = monitor.getPercentiles(op.name, [0.5, 0.95, 0.99], query);
    const rates = monitor.getRates(op.name, query);
    const sorted = exact[i]!.slice().sort((a, b) => a - b);
    return {
      operation: op.name,
      component: op.component,
      calls: rates?.count ?? 0,
      'p50 ms': p50!.toFixed(2),
      'p95 ms': p95!.toFixed(2),
      'p99 ms': p99!.toFixed(2),
      'exact p99 ms': exactQuantile(sorted, 0.99).toFixed(2),
      'calls/s': rates?.perSecond.toFixed(1) ?? '0',
      'error rate': `${((rates?.errorRate ?? 0) * 100).toFixed(2)}%`,
    };
  });
  console.table(rows);
  console.log(`\nwall time ${elapsed.toFixed(2)} s`);

  await runDecoratedService(monitor, Number(process.env.DEMO_REQUESTS ?? 400));
  await runAlertingDemo(monitor, receiver, rule.id);
  await runPrometheusDemo(monitor);
  runBusinessDemo(monitor, Number(process.env.DEMO_VISITORS ?? 600));
  await runSecurityDemo(monitor);
  await runHealthDemo(monitor);
  console.log("\nthe monitor's own diagnostics:", monitor.diagnostics.counts());
}

/** Samples the machine once more and prints the spec's health object, in brief. */
async function runHealthDemo(monitor: Monitor): Promise<void> {
  console.log('\n--- Health ---\n');
  await monitor.resources?.sample();
  const report = monitor.health();
  const { cpu_usage, memory_usage, disk_usage, network_io } = report.system_metrics;
  console.log(`overall health score: ${report.overall_health_score} / 100`);
  console.log(
    `system: cpu ${cpu_usage}%, memory ${memory_usage}%, disk ${disk_usage}%, ` +
      `network ${network_io.bytes_sent} B sent / ${network_io.bytes_recv} B received`,
  );
  const recent = report.recent_performance;
  console.log(
    `recent: ${recent.total_metrics} measurements (${recent.metrics_per_minute.toFixed(0)}/min), ` +
      `${recent.error_count} errors, mean ${recent.performance_average.toFixed(2)} ms; ` +
      `${report.active_alerts.length} alerts firing, ${report.monitoring_status.active_traces} traces kept`,
  );
}

/** Serves the monitor in Prometheus's format, scrapes it once, prints a few lines. */
async function runPrometheusDemo(monitor: Monitor): Promise<void> {
  console.log('\n--- Prometheus ---\n');
  const server = await startPrometheusServer({ monitor, port: 0 });
  try {
    console.log(
      `scrape endpoint: ${server.url} (text format; OpenMetrics with exemplars on request)`,
    );
    const text = await (await fetch(server.url)).text();
    const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    console.log(`${samples.length} samples in ${text.length} bytes, for example:`);
    for (const line of samples.filter((l) => l.includes('quantile="0.99"')).slice(0, 3)) {
      console.log(`  ${line}`);
    }
  } finally {
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
