/**
 * The spec's "Recommendation Engine": model accuracy, relevance and diversity,
 * inference latency, recommendation cache hit rate, click-through and engagement.
 */
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import type { BoundGauge } from '../metrics/gauge-series.js';
import type { BoundTimer } from '../metrics/instruments.js';
import type { CacheTracker } from './caches.js';
import { type ComponentHost, isFiniteNumber, put, readWindow } from './host.js';
import { MonitoringComponent } from './names.js';

/**
 * Model quality scores, each in 0..1 (from an offline evaluation or online feedback).
 *
 * @example
 * ```ts
 * const q: RecommendationQuality = { accuracy: 0.87, relevance: 0.82, diversity: 0.85 };
 * ```
 */
export interface RecommendationQuality {
  /** Share of correct recommendations. */
  readonly accuracy?: number;
  /** Relevance score. */
  readonly relevance?: number;
  /** Diversity score (the spec's `diversity_score`). */
  readonly diversity?: number;
}

/**
 * One inference: how long it took, whether the recommendation cache answered, how many
 * predictions it made (the cost analytics' volume), whether it failed.
 *
 * @example
 * ```ts
 * const i: RecommendationInference = { latencyMs: 180.2, cacheHit: false, predictions: 20 };
 * ```
 */
export interface RecommendationInference {
  /** Generation time, ms. */
  readonly latencyMs: number;
  /** Whether the recommendation cache answered (absent: no cache involved). */
  readonly cacheHit?: boolean;
  /** Predictions made. Default 1. */
  readonly predictions?: number;
  /** Whether it failed. */
  readonly error?: boolean;
}

/**
 * What users did with recommendations shown.
 *
 * @example
 * ```ts
 * const i: RecommendationInteraction = { impressions: 20, clicks: 3, engagements: 1 };
 * ```
 */
export interface RecommendationInteraction {
  /** Recommendations shown. */
  readonly impressions?: number;
  /** Recommendations clicked. */
  readonly clicks?: number;
  /** Deeper engagements (a save, a purchase, a follow...). */
  readonly engagements?: number;
}

interface Handles {
  readonly accuracy: BoundGauge;
  readonly relevance: BoundGauge;
  readonly diversity: BoundGauge;
  readonly inference: BoundTimer;
  readonly predictions: BoundCounter;
  readonly impressions: BoundCounter;
  readonly clicks: BoundCounter;
  readonly engagements: BoundCounter;
  readonly clickRate: BoundGauge;
  readonly engagementRate: BoundGauge;
}

/**
 * The recommendation engine: `monitor.recommendation`. Records into the
 * `recommendation` component the gauges `recommendation_accuracy`,
 * `recommendation_relevance`, `recommendation_diversity` (so the spec's alert
 * `recommendation_accuracy < 0.75` reads them), the timer
 * `recommendation_model_inference`, the counter `ml.predictions` (read by
 * `monitor.costs`), the recommendation cache through `monitor.caches` (cache
 * `recommendation`), the counters `recommendation.impressions`, `.clicks`,
 * `.engagements` and the gauges `recommendation_click_rate`,
 * `recommendation_engagement_rate`. Never throws.
 *
 * @example
 * ```ts
 * monitor.recommendation.inference({ latencyMs: 180, cacheHit: false, predictions: 20 });
 * monitor.recommendation.quality({ accuracy: 0.87, relevance: 0.82, diversity: 0.85 });
 * monitor.recommendation.interaction({ impressions: 20, clicks: 3 });
 * monitor.alerts.create({
 *   name: 'Recommendation Model Performance', severity: 'high',
 *   component: MonitoringComponent.RECOMMENDATION, condition: 'recommendation_accuracy < 0.75',
 * });
 * ```
 */
export class RecommendationMonitor {
  /** The component it records into. */
  readonly component = MonitoringComponent.RECOMMENDATION;
  readonly #host: ComponentHost;
  readonly #caches: CacheTracker;
  readonly #quality: { accuracy: number; relevance: number; diversity: number } = {
    accuracy: NaN,
    relevance: NaN,
    diversity: NaN,
  };
  #inferences = 0;
  #errors = 0;
  #predictions = 0;
  #impressions = 0;
  #clicks = 0;
  #engagements = 0;
  #handles: Handles | undefined;

  /** Made by the Monitor. */
  constructor(host: ComponentHost, caches: CacheTracker) {
    this.#host = host;
    this.#caches = caches;
  }

  /**
   * The model's latest quality scores (each in 0..1; the ones given are updated).
   *
   * @example
   * ```ts
   * monitor.recommendation.quality({ accuracy: 0.87 });
   * ```
   */
  quality(quality: RecommendationQuality): void {
    this.#safely(() => {
      if (quality === null || typeof quality !== 'object') {
        this.#invalid('quality needs an object of scores');
        return;
      }
      for (const key of ['accuracy', 'relevance', 'diversity'] as const) {
        const v: unknown = quality[key];
        if (v === undefined) continue;
        if (!isFiniteNumber(v) || v < 0 || v > 1) {
          this.#invalid(`quality.${key} must be a number in 0..1`);
          continue;
        }
        this.#quality[key] = v;
        this.#h()[key].set(v);
      }
    });
  }

  /**
   * One recommendation generation.
   *
   * @example
   * ```ts
   * monitor.recommendation.inference({ latencyMs: 12, cacheHit: true });
   * ```
   */
  inference(inference: RecommendationInference): void {
    this.#safely(() => {
      if (
        inference === null ||
        typeof inference !== 'object' ||
        !isFiniteNumber(inference.latencyMs) ||
        inference.latencyMs < 0
      ) {
        this.#invalid('inference needs { latencyMs >= 0 }');
        return;
      }
      const predictions = inference.predictions ?? 1;
      if (!isFiniteNumber(predictions) || predictions < 0) {
        this.#invalid('inference.predictions must be a number >= 0');
        return;
      }
      const h = this.#h();
      this.#inferences++;
      if (inference.error === true) {
        this.#errors++;
        h.inference.recordError(inference.latencyMs);
      } else h.inference.record(inference.latencyMs);
      this.#predictions += predictions;
      if (predictions > 0) h.predictions.inc(predictions);
      if (typeof inference.cacheHit === 'boolean') {
        this.#caches.record('recommendation', inference.cacheHit, {
          latencyMs: inference.latencyMs,
          component: this.component,
        });
      }
    });
  }

  /**
   * Impressions, clicks and engagements (counts to add).
   *
   * @example
   * ```ts
   * monitor.recommendation.interaction({ impressions: 10, clicks: 1, engagements: 1 });
   * ```
   */
  interaction(interaction: RecommendationInteraction): void {
    this.#safely(() => {
      if (interaction === null || typeof interaction !== 'object') {
        this.#invalid('interaction needs an object of counts');
        return;
      }
      const { impressions = 0, clicks = 0, engagements = 0 } = interaction;
      for (const v of [impressions, clicks, engagements]) {
        if (!isFiniteNumber(v) || v < 0) {
          this.#invalid('interaction counts must be numbers >= 0');
          return;
        }
      }
      const h = this.#h();
      this.#impressions += impressions;
      this.#clicks += clicks;
      this.#engagements += engagements;
      if (impressions > 0) h.impressions.inc(impressions);
      if (clicks > 0) h.clicks.inc(clicks);
      if (engagements > 0) h.engagements.inc(engagements);
      if (this.#impressions > 0) {
        h.clickRate.set(this.#clicks / this.#impressions);
        h.engagementRate.set(this.#engagements / this.#impressions);
      }
    });
  }

  /**
   * The recommendation engine's `component_specific` keys: `recommendation_accuracy`,
   * `recommendation_relevance`, `recommendation_diversity` (latest), `inferences`,
   * `inference_latency_p50_ms`, `inference_latency_p95_ms`, `inference_latency_p99_ms`
   * (longest window up to 15 minutes), `inference_error_rate`, `predictions`,
   * `recommendation_cache_hit_rate` (with `monitor.caches`), `impressions`,
   * `recommendation_click_rate` (clicks ÷ impressions), `recommendation_engagement_rate`.
   *
   * @example
   * ```ts
   * monitor.recommendation.specific().recommendation_click_rate; // 0.12
   * ```
   */
  specific(): Record<string, number> {
    const out: Record<string, number> = {};
    put(out, 'recommendation_accuracy', this.#quality.accuracy);
    put(out, 'recommendation_relevance', this.#quality.relevance);
    put(out, 'recommendation_diversity', this.#quality.diversity);
    if (this.#inferences > 0) {
      out['inferences'] = this.#inferences;
      out['predictions'] = this.#predictions;
      const [p50, p95, p99] = this.#host.getPercentiles(
        'recommendation_model_inference',
        [0.5, 0.95, 0.99],
        { component: this.component, windowSeconds: readWindow(this.#host.windows) },
      );
      put(out, 'inference_latency_p50_ms', p50 ?? NaN, 3);
      put(out, 'inference_latency_p95_ms', p95 ?? NaN, 3);
      put(out, 'inference_latency_p99_ms', p99 ?? NaN, 3);
      put(out, 'inference_error_rate', this.#errors / this.#inferences);
    }
    if (this.#impressions > 0) {
      out['impressions'] = this.#impressions;
      put(out, 'recommendation_click_rate', this.#clicks / this.#impressions);
      put(out, 'recommendation_engagement_rate', this.#engagements / this.#impressions);
    }
    return out;
  }

  #h(): Handles {
    if (this.#handles !== undefined) return this.#handles;
    const host = this.#host;
    const o = { component: this.component };
    const gauge = (name: string, description: string): BoundGauge =>
      host.gauge(name, { ...o, description }).bind();
    const counter = (name: string, description: string): BoundCounter =>
      host.counter(name, { ...o, description }).bind();
    this.#handles = {
      accuracy: gauge('recommendation_accuracy', 'Recommendation model accuracy (0..1)'),
      relevance: gauge('recommendation_relevance', 'Recommendation relevance score (0..1)'),
      diversity: gauge('recommendation_diversity', 'Recommendation diversity score (0..1)'),
      inference: host
        .timer('recommendation_model_inference', {
          ...o,
          description: 'Recommendation generation time',
        })
        .bind(),
      predictions: counter('ml.predictions', 'Model predictions made'),
      impressions: counter('recommendation.impressions', 'Recommendations shown'),
      clicks: counter('recommendation.clicks', 'Recommendations clicked'),
      engagements: counter('recommendation.engagements', 'Engagements with recommendations'),
      clickRate: gauge('recommendation_click_rate', 'Clicks ÷ impressions since start'),
      engagementRate: gauge(
        'recommendation_engagement_rate',
        'Engagements ÷ impressions since start',
      ),
    };
    return this.#handles;
  }

  #invalid(message: string): void {
    this.#host.diagnostics.report(DiagnosticCode.INVALID_VALUE, `recommendation: ${message}`);
  }

  #safely(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#host.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, {
        where: 'recommendation',
      });
    }
  }
}
