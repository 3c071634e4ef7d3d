/**
 * The spec's component matrix beyond the marketplace, in the demo: a knowledge
 * distillation job tracked with `monitor.jobs` (its rate rises as its data loader
 * warms up, the case the ETA's ramp fit is for), the recommendation engine's
 * `monitor.recommendation` figures, cache effectiveness from `monitor.caches`, and
 * `monitor.costs` (the spec's cost metrics and the resource efficiency trends), printed
 * from the service's own monitor.
 */
import { type Monitor, MonitoringComponent } from '@prsm/core';

/** The distillation job's id. */
export const JOB_ID = 'distill_recsys_v3';

/** A running demo job: {@link Distillation.done} settles when it has finished. */
export interface Distillation {
  /** Settles once the job has finished (or was stopped). */
  readonly done: Promise<void>;
  /** Stops early (cancels the job). */
  stop(): void;
  /** The ETA read at a quarter, half and three quarters of the run, and when each was read. */
  readonly etas: { readonly share: number; readonly eta: number | null; readonly at: number }[];
}

const TICK_MS = 250;
const STEPS = 12_000;

/**
 * Runs a distillation job for about `seconds`: progress every 250 ms at a rate that
 * rises steadily (a linear ramp), then `finish('success')` with its quality figures and
 * the student's recommendation quality. Never throws (the monitor's calls do not).
 */
export function startDistillation(monitor: Monitor, seconds: number): Distillation {
  const ticks = Math.max(12, Math.floor((seconds * 1000) / TICK_MS));
  // done(k) ∝ k + k² / 20: the rate grows by the same amount at every tick.
  const shape = (k: number): number => k + (k * k) / 20;
  const etas: { share: number; eta: number | null; at: number }[] = [];
  const marks = new Map([
    [Math.round(ticks / 4), 0.25],
    [Math.round(ticks / 2), 0.5],
    [Math.round((ticks * 3) / 4), 0.75],
  ]);
  monitor.jobs.start(JOB_ID, {
    total: STEPS,
    kind: 'multi_teacher',
    component: MonitoringComponent.DISTILLATION,
  });
  let tick = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const timer = setInterval(() => {
    tick++;
    monitor.jobs.progress(JOB_ID, Math.round((STEPS * shape(tick)) / shape(ticks)));
    const share = marks.get(tick);
    if (share !== undefined) {
      etas.push({ share, eta: monitor.jobs.get(JOB_ID)?.etaSeconds ?? null, at: Date.now() });
    }
    if (tick >= ticks) {
      clearInterval(timer);
      monitor.jobs.finish(JOB_ID, 'success', { qualityRetention: 0.96, efficiencyGain: 3.2 });
      // The distilled student now serves recommendations: its offline scores.
      monitor.recommendation.quality({ accuracy: 0.87, relevance: 0.82, diversity: 0.85 });
      resolve();
    }
  }, TICK_MS);
  return {
    done,
    etas,
    stop: () => {
      clearInterval(timer);
      if (monitor.jobs.get(JOB_ID)?.state === 'running') monitor.jobs.finish(JOB_ID, 'cancelled');
      resolve();
    },
  };
}

const usd = (v: number | null, digits = 4): string =>
  v === null ? 'n/a' : `$${v.toFixed(digits)}`;
const fixed = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined ? 'n/a' : v.toFixed(digits);

/** Prints the job, the recommendation engine, the caches, costs and efficiency. */
export function printMatrix(monitor: Monitor, job: Distillation): void {
  console.log(
    '\n--- Component matrix (in the service: monitor.jobs, .recommendation, .caches, .costs) ---\n',
  );
  const s = monitor.jobs.get(JOB_ID);
  if (s === undefined) console.log(`job ${JOB_ID}: not tracked`);
  else {
    const end = s.finishedAt ?? Date.now();
    console.log(
      `job ${JOB_ID} (${s.component}, ${s.kind}): ${s.state} after ${s.elapsedSeconds.toFixed(1)} s, ${s.done}/${s.total ?? '?'} steps, ` +
        `CPU ${fixed(s.cpuUsage)} cores, peak RSS ${(s.peakMemoryRssBytes / 1e6).toFixed(0)} MB, ` +
        `GPU ${s.gpu.available ? `${(s.gpu.utilization * 100).toFixed(0)}%` : `unavailable (${s.gpu.reason})`}`,
    );
    for (const e of job.etas) {
      const actual = (end - e.at) / 1000;
      console.log(
        `  ETA at ${e.share * 100}% of the run: ${e.eta === null ? 'unknown' : `${e.eta.toFixed(1)} s`} (it took ${actual.toFixed(1)} s more)`,
      );
    }
    console.log(
      `  quality retention ${fixed(s.qualityRetention)}, efficiency gain ${fixed(s.efficiencyGain, 1)}x`,
    );
  }
  const distillation = monitor.analytics({
    component: MonitoringComponent.DISTILLATION,
  }).component_specific;
  console.log(
    `distillation component_specific: success rate ${fixed(distillation['job_success_rate'])}, jobs ${distillation['jobs_started'] ?? 0} started, ${distillation['jobs_stalled'] ?? 0} stalled`,
  );
  const reco = monitor.analytics({
    component: MonitoringComponent.RECOMMENDATION,
  }).component_specific;
  console.log(
    `recommendation component_specific: inference p95 ${fixed(reco['inference_latency_p95_ms'], 1)} ms, ` +
      `accuracy ${fixed(reco['recommendation_accuracy'])}, diversity ${fixed(reco['recommendation_diversity'])}, ` +
      `click rate ${fixed(reco['recommendation_click_rate'], 3)}, ${reco['predictions'] ?? 0} predictions`,
  );
  for (const c of monitor.caches.stats()) {
    console.log(
      `cache ${c.component}/${c.cache}: hit rate ${(c.hitRate * 100).toFixed(1)}% of ${c.hits + c.misses}, ` +
        `${Number.isFinite(c.latencySavedPerHitMs) ? c.latencySavedPerHitMs.toFixed(1) : 'n/a'} ms saved per hit`,
    );
  }
  const costs = monitor.costs.report();
  console.log(
    `costs (${costs.currency}): API ${usd(costs.api_cost_per_request, 6)} per request, ` +
      `ML inference ${usd(costs.ml_inference_cost_per_prediction, 6)} per prediction, ` +
      `infrastructure ${usd(costs.infrastructure_cost_per_user, 2)} per user a month, ` +
      `storage ${usd(costs.storage_cost_per_gb_month, 2)} per GB-month, bandwidth ${usd(costs.bandwidth_cost_per_gb, 2)} per GB`,
  );
  for (const e of costs.efficiency) {
    console.log(
      `efficiency ${e.component}: ${fixed(e.requests_per_cpu_second.latest, 1)} requests per CPU-second (${e.requests_per_cpu_second.trend}), ` +
        `${fixed(e.requests_per_gb_second.latest, 1)} requests/s per GB (${e.requests_per_gb_second.trend}), ` +
        `${usd(e.cost_per_1k_requests.latest)} per 1,000 (${e.cost_per_1k_requests.trend}), over ${e.periods} periods`,
    );
  }
}
