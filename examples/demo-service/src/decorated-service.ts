/**
 * The recommendation engine of the demo service, instrumented with
 * `@monitorPerformance` (nested calls across `await`, some failures, span attributes)
 * and `@recordBusinessOutcome`: a preference lookup, a model server (the dependency
 * that degrades during the demo's incident) and a ranking step.
 */
import { trace } from '@opentelemetry/api';
import { recordBusinessOutcome } from '@prsm/business-outcomes';
import { MonitoringComponent } from '@prsm/core';
import { monitorPerformance } from '@prsm/decorators';
import { setTimeout as sleep } from 'node:timers/promises';

/** The model server did not answer in time. */
export class ModelTimeout extends Error {
  override name = 'ModelTimeout';
}

class PreferenceStore {
  @monitorPerformance(MonitoringComponent.RECOMMENDATION, 'user_preference_lookup', {
    slowThresholdMs: 20,
  })
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

  @monitorPerformance(MonitoringComponent.RECOMMENDATION, 'recommendation_model_scoring', {
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

/** Recommendations for a user: preferences, model inference, ranking. */
export class RecommendationService {
  readonly #preferences = new PreferenceStore();
  readonly #model = new ModelServer();

  /** Makes the model server time out on one call in `every` ({@link HEALTHY_TIMEOUT_EVERY} when healthy). */
  setModelTimeouts(every: number): void {
    this.#model.timeoutEvery = every;
  }

  @recordBusinessOutcome('recommendation_generated')
  @monitorPerformance(MonitoringComponent.RECOMMENDATION, 'generate_recommendations')
  async generate(userId: string): Promise<string[]> {
    const interests = await this.#preferences.lookup(userId);
    const ranked = await this.#model.infer(interests, 150);
    return this.#rank(ranked);
  }

  @monitorPerformance(MonitoringComponent.RECOMMENDATION, 'result_ranking_and_filtering', {
    attributes: ([items]) => ({
      final_count: Math.min(20, (items as readonly string[]).length),
      diversity_score: 0.85,
    }),
  })
  #rank(items: string[]): string[] {
    return items.sort().slice(0, 20);
  }
}
