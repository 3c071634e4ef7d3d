/**
 * The marketplace's HTTP surface. Both routes stack @monitorPerformance with Nest's
 * decorators, one in each order, to show that Nest finds its metadata either way:
 *
 * - below Nest's (`getRecommendations`): ours is applied first and replaces the
 *   method; Nest's decorators then store their route, guard and status metadata on
 *   our wrapper;
 * - above Nest's (`placeOrder`): Nest stores its metadata on the original method, and
 *   ours, applied last, copies it onto the wrapper that replaces it.
 */
import {
  Body,
  Controller,
  DefaultValuePipe,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseIntPipe,
  Post,
  Query,
  UseFilters,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { MonitoringComponent } from '@prsm/core';
import { monitorPerformance } from '@prsm/decorators';
import { ApiKeyGuard } from '../http/api-key.guard.js';
import { RequestSpanInterceptor } from '../http/request-span.interceptor.js';
import { DomainErrorFilter } from './domain-error.filter.js';
import { OrdersService, type OrderReceipt, type OrderRequest } from './orders.service.js';
import { ParseOrderPipe } from './parse-order.pipe.js';
import { type Recommendation, RecommendationService } from './recommendation.service.js';

/** The body of `GET /recommendations/:userId`. */
export interface RecommendationsResponse {
  readonly userId: string;
  readonly recommendations: readonly Recommendation[];
}

/** `GET /recommendations/:userId` and `POST /orders`, both behind the API key. */
@Controller()
@UseInterceptors(RequestSpanInterceptor)
@UseFilters(DomainErrorFilter)
export class RecommendationsController {
  constructor(
    private readonly recommendations: RecommendationService,
    private readonly orders: OrdersService,
  ) {}

  /** The user's best recommendations (`?limit=`, default 5). */
  @Get('recommendations/:userId')
  @UseGuards(ApiKeyGuard)
  @monitorPerformance(MonitoringComponent.API_GATEWAY, 'get_recommendations')
  async getRecommendations(
    @Param('userId') userId: string,
    @Query('limit', new DefaultValuePipe(5), ParseIntPipe) limit: number,
  ): Promise<RecommendationsResponse> {
    return { userId, recommendations: await this.recommendations.generate(userId, limit) };
  }

  /** Places an order: 202 with a receipt, 404 for an unknown product, 409 when out of stock. */
  @monitorPerformance(MonitoringComponent.API_GATEWAY, 'place_order')
  @Post('orders')
  @HttpCode(HttpStatus.ACCEPTED)
  @UseGuards(ApiKeyGuard)
  placeOrder(@Body(ParseOrderPipe) order: OrderRequest): Promise<OrderReceipt> {
    return this.orders.placeOrder(order);
  }
}
