/**
 * The application: the marketplace's controller and providers, the monitoring routes,
 * and the two values the app is configured with (its monitor and its API key).
 */
import { type DynamicModule, Module } from '@nestjs/common';
import type { Monitor } from '@prsm/core';
import { API_KEY, ApiKeyGuard } from './http/api-key.guard.js';
import { RequestSpanInterceptor } from './http/request-span.interceptor.js';
import { CatalogRepository } from './marketplace/catalog.repository.js';
import { InventoryRepository } from './marketplace/inventory.repository.js';
import { OrdersService } from './marketplace/orders.service.js';
import { RecommendationService } from './marketplace/recommendation.service.js';
import { RecommendationsController } from './marketplace/recommendations.controller.js';
import { MONITOR, MonitoringController } from './monitoring/monitoring.controller.js';

/** What {@link AppModule.register} needs. */
export interface AppConfig {
  /** The monitor the decorators record on (also set as the global monitor) and the routes read. */
  readonly monitor: Monitor;
  /** The key clients send in `x-api-key`. */
  readonly apiKey: string;
}

/** The root module, built for one monitor and API key. */
@Module({})
export class AppModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      controllers: [RecommendationsController, MonitoringController],
      providers: [
        { provide: MONITOR, useValue: config.monitor },
        { provide: API_KEY, useValue: config.apiKey },
        ApiKeyGuard,
        RequestSpanInterceptor,
        CatalogRepository,
        InventoryRepository,
        RecommendationService,
        OrdersService,
      ],
    };
  }
}
