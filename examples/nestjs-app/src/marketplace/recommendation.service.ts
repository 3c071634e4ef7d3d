/**
 * Recommendations: candidates from the catalog, scored by a (very small) model. Both
 * steps are decorated, so a request's trace shows where its time went.
 */
import { Injectable } from '@nestjs/common';
import { MonitoringComponent } from '@prsm/core';
import { monitorPerformance } from '@prsm/decorators';
import { setTimeout as sleep } from 'node:timers/promises';
import { CatalogRepository, type Product } from './catalog.repository.js';

/** A recommended product with its score. */
export interface Recommendation {
  readonly productId: string;
  readonly name: string;
  readonly score: number;
}

/** Ranks the products a user has not bought yet. */
@Injectable()
export class RecommendationService {
  constructor(private readonly catalog: CatalogRepository) {}

  /** The user's `limit` best recommendations, best first. */
  @monitorPerformance(MonitoringComponent.RECOMMENDATION, 'generate_recommendations', {
    slowThresholdMs: 250,
  })
  async generate(userId: string, limit: number): Promise<Recommendation[]> {
    const { candidates, categories } = await this.catalog.findCandidates(userId);
    const scored = await this.score(candidates, categories);
    return scored.slice(0, limit);
  }

  /** The model: same-category products first, cheaper ones before dearer ones. */
  @monitorPerformance(MonitoringComponent.RECOMMENDATION, 'recommendation_model_inference', {
    attributes: ([candidates]) => ({ candidate_count: (candidates as Product[]).length }),
  })
  async score(candidates: Product[], categories: ReadonlySet<string>): Promise<Recommendation[]> {
    await sleep(3);
    return candidates
      .map((p) => ({
        productId: p.id,
        name: p.name,
        score:
          Math.round(((categories.has(p.category) ? 0.6 : 0.1) + 1000 / p.priceCents) * 1e3) / 1e3,
      }))
      .sort((a, b) => b.score - a.score);
  }
}
