/**
 * Checks the body of `POST /orders`. Pipes run before the handler, so a rejected body
 * never reaches the decorated method: no call, no span.
 */
import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import type { OrderRequest } from './orders.service.js';

const MAX_LINES = 20;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Turns a JSON body into an {@link OrderRequest}, or answers 400. */
@Injectable()
export class ParseOrderPipe implements PipeTransform<unknown, OrderRequest> {
  transform(body: unknown): OrderRequest {
    if (!isRecord(body)) throw new BadRequestException('the body must be a JSON object');
    const { userId, items } = body;
    if (typeof userId !== 'string' || userId.length === 0) {
      throw new BadRequestException('userId must be a non-empty string');
    }
    if (!Array.isArray(items) || items.length === 0 || items.length > MAX_LINES) {
      throw new BadRequestException(`items must be an array of 1 to ${MAX_LINES} lines`);
    }
    return {
      userId,
      items: items.map((item: unknown, i) => {
        if (
          !isRecord(item) ||
          typeof item.productId !== 'string' ||
          typeof item.quantity !== 'number' ||
          !Number.isInteger(item.quantity) ||
          item.quantity < 1
        ) {
          throw new BadRequestException(
            `items[${i}] must be { productId: string, quantity: integer >= 1 }`,
          );
        }
        return { productId: item.productId, quantity: item.quantity };
      }),
    };
  }
}
