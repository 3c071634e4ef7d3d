/**
 * The second half of the demo: a recommendation service instrumented with
 * `@monitorPerformance` (nested calls across `await`, some failures), spans kept by
 * the monitor's minimal tracer provider, and the slowest call followed from its
 * exemplar to its trace. The alerting part of the demo degrades its model server.
 */
import { trace } from '@opentelemetry/api';
import type { Monitor } from '@prsm/core';
import { monitorPerformance } from '@prsm/decorators';
import { setTimeout as sleep } from 'node:timers/promises';

class ModelTimeout extends Error {
  override name = 'ModelTimeout';
}

class PreferenceStore {
  @monitorPerformance('recommendation', 'user_preference_lookup', { slowThresholdMs: 20 })
  async lookup(userId: string): Promise<string[]> {
    trace.getActiveSpan()?.setAttributes({ cache_hit: userId.endsWith('7'), user_id: userId });
    await sleep(userId.endsWith('7') ? 1 : 4);
    return ['books', 'music'];
  }
}

/** A healthy model server times out on one call in 13. */
export const HEALTHY_TIMEOUT_EVERY = 13;

class ModelServer {
  #calls = 0;
  /** Every `timeoutEvery`-th call times out. */
  timeoutEvery = HEALTHY_TIMEOUT_EVERY;

  @monitorPerformance('recommendation', 'recommendation_model_inference', {
    attributes: ([, candidates]) => ({
      model_version: 'v2.1',
      candidate_count: Number(candidates),
    }),
  })
  async infer(interests: readonly string[], candidates: number): Promise<string[]> {
    // Every ninth call is slow, every thirteenth (when healthy) times out. The call's
    // number is taken before awaiting: concurrent calls would all see the last one.
    const call = ++this.#calls;
    await sleep(call % 9 === 0 ? 30 : 6);
    if (call % this.timeoutEvery === 0)
      throw new ModelTimeout(`inference over ${candidates} candidates timed out`);
    return interests.flatMap((i) => [`${i}-1`, `${i}-2`]);
  }
}

export class RecommendationService {
  readonly #preferences = new PreferenceStore();
  readonly #model = new ModelServer();

  /** Makes the model server time out on one call in `every` ({@link HEALTHY_TIMEOUT_EVERY} when healthy). */
  setModelTimeouts(every: number): void {
    this.#model.timeoutEvery = every;
  }

  @monitorPerformance('recommendation', 'generate_recommendations')
  async generate(userId: string): Promise<string[]> {
    const interests = await this.#preferences.lookup(userId);
    const ranked = await this.#model.infer(interests, 150);
    return this.#rank(ranked);
  }

  @monitorPerformance('recommendation', 'result_ranking_and_filtering')
  #rank(items: string[]): string[] {
    return items.sort().slice(0, 20);
  }
}

/** Runs `calls` decorated requests, prints their metrics and the slowest one's trace. */
export async function runDecoratedService(monitor: Monitor, calls: number): Promise<void> {
  const service = new RecommendationService();
  let failures = 0;
  for (let started = 0; started < calls; started += 16) {
    const batch = Array.from({ length: Math.min(16, calls - started) }, (_, i) =>
      service.generate(`user_${started + i}`).catch(() => {
        failures++;
      }),
    );
    await Promise.all(batch);
  }

  const operations = [
    'generate_recommendations',
    'user_preference_lookup',
    'recommendation_model_inference',
    'result_ranking_and_filtering',
  ];
  const rows = operations.map((operation) => {
    const query = { component: 'recommendation', tags: { operation }, windowSeconds: 60 };
    const [p50, p99] = monitor.getPercentiles('operation.duration', [0.5, 0.99], query);
    const calls = monitor.getRates('operation.calls', query)?.count ?? 0;
    const durations = monitor.getRates('operation.duration', query);
    return {
      operation,
      calls,
      'p50 ms': p50!.toFixed(2),
      'p99 ms': p99!.toFixed(2),
      'error rate': `${((durations?.errorRate ?? 0) * 100).toFixed(1)}%`,
    };
  });
  console.log(
    `\n@monitorPerformance: ${calls} requests (${failures} failed) through nested decorated calls\n`,
  );
  console.table(rows);

  // Follow the slowest request to its trace through the exemplar of its p99.
  const series = monitor
    .snapshot()
    .series.find(
      (s) => s.name === 'operation.duration' && s.tags['operation'] === 'generate_recommendations',
    );
  const slowest = series?.type === 'timer' ? series.windows[0]?.exemplars[0] : undefined;
  if (slowest === undefined) {
    console.log('\nno exemplar recorded (is tracing on?)');
    return;
  }
  console.log(
    `\nThe slowest generate_recommendations call (${slowest.value.toFixed(1)} ms), from its exemplar: GET /traces/${slowest.traceId}\n`,
  );
  console.log(JSON.stringify(monitor.getTrace(slowest.traceId), null, 2));
}
